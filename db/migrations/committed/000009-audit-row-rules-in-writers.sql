--! Previous: sha1:e34c3a43594b33b044900ce907650966ec03ef93
--! Hash: sha1:ce52019c075013cf74c3533544572ca3da8256ab
--! Message: audit-row-rules-in-writers

-- Audit row rules where rows are made (issue #8, P1). PostgreSQL parses a table's CHECK
-- expressions again at every INSERT statement run (stringToNode in ExecConstraints), and the
-- row trigger runs one INSERT per audited change: audit_logs_row_valid cost ~25 µs of the
-- ~120 µs an audited write adds on PostgreSQL 17 (perf). No role but the owner may insert
-- into audit_logs, and the owner inserts only through three routines: append_audit, which
-- takes values from callers and now checks each rule with a clear error (BADRG), and the two
-- row triggers, which build every checked value themselves (action from their own arguments,
-- category 'gdpr', outcome 'success', details from jsonb_build_object, a sha256 digest). The
-- redaction rule stays enforced on UPDATE by tg_audit_logs__only_redaction.

alter table compliance.audit_logs drop constraint audit_logs_row_valid;
drop function compliance_private.audit_row_is_valid(text, text, text, text, jsonb, bytea, timestamptz, text, text, inet, text, jsonb, bytea);

create or replace function compliance_private.append_audit(
  action text,
  category text,
  resource_type text default null,
  resource_id text default null,
  details jsonb default '{}',
  user_id text default null,
  personal_details jsonb default null,
  outcome text default 'success',
  failure_reason text default null,
  actor_id text default compliance.current_actor(),
  include_client boolean default true
) returns bigint
  language plpgsql
  volatile
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_salt bytea := uuid_send(gen_random_uuid());
  v_ip inet := case when include_client then compliance.current_client_ip() end;
  v_user_agent text := case when include_client then compliance.current_user_agent() end;
  v_id bigint;
  v_digest bytea;
begin
  if action is null or action !~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$' then
    perform compliance_private.raise_error('BADRG', format('action %L is not dotted lower case', action),
      'Name the event like profile.updated or phi.access.');
  end if;
  if category is null or category not in ('gdpr', 'hipaa', 'soc2', 'security', 'system') then
    perform compliance_private.raise_error('BADRG', format('category %L is unknown', category),
      'Use gdpr, hipaa, soc2, security or system.');
  end if;
  if outcome is null or outcome not in ('success', 'failure') then
    perform compliance_private.raise_error('BADRG', format('outcome %L is unknown', outcome), 'Use success or failure.');
  end if;
  if failure_reason is not null and outcome <> 'failure' then
    perform compliance_private.raise_error('BADRG', 'a failure_reason needs outcome failure');
  end if;
  if details is not null and jsonb_typeof(details) <> 'object' then
    perform compliance_private.raise_error('BADRG', 'details must be a JSON object',
      'Put non-personal details under named keys: {"count": 3}.');
  end if;
  v_digest := compliance_private.audit_personal_digest(v_salt, append_audit.user_id, append_audit.actor_id,
    v_ip, v_user_agent, append_audit.personal_details);
  insert into compliance.audit_logs (action, category, resource_type, resource_id, outcome,
    failure_reason, details, user_id, actor_id, ip_address, user_agent, personal_details,
    personal_salt, personal_digest)
  values (append_audit.action, append_audit.category, append_audit.resource_type,
    append_audit.resource_id, append_audit.outcome, append_audit.failure_reason,
    coalesce(append_audit.details, '{}'), append_audit.user_id, append_audit.actor_id, v_ip,
    v_user_agent, append_audit.personal_details, v_salt, v_digest)
  returning id into v_id;
  return v_id;
end;
$$;
comment on function compliance_private.append_audit(text, text, text, text, jsonb, text, jsonb, text, text, text, boolean) is
  'Writes one audit row for the routines and log_event: checks the row rules (action dotted lower case, a known category and outcome, a failure_reason only with a failure, details a JSON object: BADRG otherwise), fills the actor, client IP and user agent (unless include_client is false) from the request context, salts and digests the personal part. The row triggers write the same columns inline, because a nested call costs every personal write.';

comment on table compliance.audit_logs is
  'Append-only, tamper-evident audit trail (HIPAA §164.312(b), SOC 2 CC6.6/CC7.2, GDPR Art. 5(2)); kept 7 years, dropped a monthly partition at a time. Each row has a non-personal part (covered by the seal hashes) and a personal part (user_id, actor_id, ip_address, user_agent, personal_details) covered only through personal_digest, so erasure can remove the personal part and the chain still verifies. UPDATE, DELETE and TRUNCATE are refused for every role (APPND). No role but the owner may INSERT: rows are written by compliance.log_event (through append_audit, which checks the row rules) and by the row triggers on personal tables. No CHECK constraint: PostgreSQL would parse it again at every audited write.';
