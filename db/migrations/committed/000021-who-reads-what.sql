--! Previous: sha1:7d672bd840586bffad8fc4bc923acead3c79d050
--! Hash: sha1:87558e8866a88fcc37a887e47b47f164874a578e
--! Message: who-reads-what

-- Who reads what (issue #15, items 3, 5 and 6).
--
-- 3. A DPO's reads of other people's data leave a row each: a subject's consents, the consent
--    records of a period, the request register. (Exports and erasures already did.)
-- 5. The auditor reads the audit log's non-personal columns and digests only; the personal
--    columns come through audit_personal_fields(), for a named reason, audited.
-- 6. The DPO role is taken only for an actor whose roles include dpo: set_request_context
--    refuses (DPORL) a DPO session whose actor lacks it. db/README.md says where the boundary is.

------------------------------------------------------------------------------------------
-- 6. The DPO role goes with a dpo actor
------------------------------------------------------------------------------------------

create or replace function compliance.set_request_context(
  actor text,
  roles text[] default '{}',
  client_ip inet default null,
  user_agent text default null
) returns void
  language plpgsql
  volatile
  set search_path to pg_catalog, pg_temp
as $$
begin
  -- the server switches to compliance_dpo for a token with the dpo role; a context that says
  -- otherwise is a server bug acting with rights its caller does not have
  if current_user = 'compliance_dpo' and not coalesce('dpo' = any (roles), false) then
    perform compliance_private.raise_error('DPORL', 'the DPO role needs an actor whose roles include dpo',
      'Set the request context with roles => ''{dpo}'' for a data protection officer, or act as compliance_app.');
  end if;
  perform set_config('compliance.actor', coalesce(actor, ''), true),
          set_config('compliance.actor_roles', coalesce(array_to_string(roles, ','), ''), true),
          set_config('compliance.client_ip', coalesce(client_ip::text, ''), true),
          set_config('compliance.user_agent', coalesce(left(user_agent, 512), ''), true);
end;
$$;
comment on function compliance.set_request_context(text, text[], inet, text) is
  'Sets who is acting in this transaction (actor, their roles, client IP and user agent); every audit row reads them. As compliance_dpo, the roles must include dpo (DPORL otherwise).';

------------------------------------------------------------------------------------------
-- 3. A DPO's reads are audited
------------------------------------------------------------------------------------------

create function compliance.subject_consents(user_id text) returns jsonb
  language plpgsql
  volatile
  set search_path to pg_catalog, pg_temp
as $$
declare
  v_result jsonb;
begin
  perform compliance_private.require_subject(user_id);
  select jsonb_build_object(
           'current', coalesce((select jsonb_agg(jsonb_build_object('purpose', c.purpose, 'granted', c.granted,
                                  'policy_version', c.policy_version, 'recorded_at', c.recorded_at) order by c.purpose)
                                  from compliance.current_consents c where c.user_id = subject_consents.user_id), '[]'),
           'history', coalesce((select jsonb_agg(jsonb_build_object('id', r.id, 'purpose', r.purpose, 'granted', r.granted,
                                  'policy_version', r.policy_version, 'source', r.source, 'recorded_at', r.recorded_at,
                                  'ip_address', host(r.ip_address), 'user_agent', r.user_agent) order by r.recorded_at, r.id)
                                  from compliance.consent_records r where r.user_id = subject_consents.user_id), '[]'))
    into v_result;
  perform compliance.log_event('subject.consents_read', 'gdpr', 'consent', null,
    jsonb_build_object('procedure', 'subject_consents', 'records', jsonb_array_length(v_result -> 'history')), user_id);
  return v_result;
end;
$$;
comment on function compliance.subject_consents(text) is
  'DPO: a subject''s current consent per purpose and every consent record (GDPR Art. 7(1) evidence), as JSON {current, history}. Audited (subject.consents_read). Errors: UNKSJ, ERASD.';
grant execute on function compliance.subject_consents(text) to compliance_dpo;

drop function compliance.consent_records_between(timestamptz, timestamptz, bigint, integer);
create function compliance.consent_records_between(
  from_time timestamptz, to_time timestamptz, after_id bigint default 0, page_size integer default 1000
) returns setof compliance.consent_records
  language plpgsql
  volatile
  set search_path to pg_catalog, pg_temp
as $$
declare
  v_rows bigint;
begin
  if page_size not between 1 and 10000 then
    perform compliance_private.raise_error('BADRG', 'page_size must be between 1 and 10000');
  end if;
  return query
    select * from compliance.consent_records c
     where c.recorded_at >= from_time and c.recorded_at < to_time and c.id > after_id
     order by c.id
     limit page_size;
  get diagnostics v_rows = row_count;
  perform compliance.log_event('consent.records_read', 'gdpr', 'consent', null,
    jsonb_build_object('procedure', 'consent_records_between', 'from', from_time, 'to', to_time,
                       'after_id', after_id, 'rows', v_rows));
end;
$$;
comment on function compliance.consent_records_between(timestamptz, timestamptz, bigint, integer) is
  'DPO: every consent record of every subject recorded in [from_time, to_time), in id order, page_size (1..10000) at a time after after_id: the all-subject evidence export. Audited (consent.records_read, with the range). Errors: BADRG.';
grant execute on function compliance.consent_records_between(timestamptz, timestamptz, bigint, integer) to compliance_dpo;

create function compliance.open_requests() returns setof compliance.dsr_open_requests
  language plpgsql
  volatile
  set search_path to pg_catalog, pg_temp
as $$
declare
  v_rows bigint;
begin
  return query select * from compliance.dsr_open_requests r order by r.due_at;
  get diagnostics v_rows = row_count;
  perform compliance.log_event('dsr.register_read', 'gdpr', 'dsr_register', null,
    jsonb_build_object('procedure', 'open_requests', 'rows', v_rows));
end;
$$;
comment on function compliance.open_requests() is
  'DPO: the open data subject requests, the soonest due first (the dsr_open_requests view, read and audited as dsr.register_read).';
grant execute on function compliance.open_requests() to compliance_dpo;

------------------------------------------------------------------------------------------
-- 5. The auditor reads no personal column
------------------------------------------------------------------------------------------

revoke select on compliance.audit_logs from compliance_auditor;
grant select (id, occurred_at, xact_id, action, category, resource_type, resource_id, outcome, failure_reason,
              details, personal_digest, subject_part_digest, actor_part_digest, redacted_at)
  on compliance.audit_logs to compliance_auditor;

create function compliance.audit_personal_fields(row_ids bigint[], reason text)
  returns table (id bigint, user_id text, actor_id text, ip_address inet, user_agent text, personal_details jsonb)
  language plpgsql
  volatile
  security definer
  set search_path to pg_catalog, pg_temp
as $$
begin
  if reason is null or length(trim(reason)) < 3 or length(reason) > 1000 then
    perform compliance_private.raise_error('BADRG', 'give the reason for reading personal audit fields (3 to 1000 characters)',
      'Name the investigation or request, for example the ticket it belongs to.');
  end if;
  if cardinality(row_ids) not between 1 and 1000 then
    perform compliance_private.raise_error('BADRG', 'name 1 to 1000 audit rows');
  end if;
  -- the read itself, with who asked and why; the rows it showed are named, their contents are not
  perform compliance_private.append_audit('audit.personal_fields_read', 'security', 'audit_log', null,
    jsonb_build_object('rows', to_jsonb(row_ids)), null, jsonb_build_object('reason', reason));
  return query
    select a.id, a.user_id, a.actor_id, a.ip_address, a.user_agent, a.personal_details
      from compliance.audit_logs a where a.id = any (row_ids) order by a.id;
end;
$$;
comment on function compliance.audit_personal_fields(bigint[], text) is
  'Auditor or DPO: the personal columns of up to 1000 audit rows, for a stated reason; the read is audited (audit.personal_fields_read, with the row ids, the reason in its personal part). The auditor cannot select these columns otherwise.';
revoke execute on function compliance.audit_personal_fields(bigint[], text) from public;
grant execute on function compliance.audit_personal_fields(bigint[], text) to compliance_auditor, compliance_dpo;
