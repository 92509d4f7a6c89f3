--! Previous: sha1:d2c92c42cd33d2449adeefb75e052a29e3adbb8b
--! Hash: sha1:f92c1fc2c9dce66fa0feb37a2c432403163d3460
--! Message: readable-by-newcomers

-- What a newcomer meets (issue #14): a procedure that reads a conversation's messages, an
-- idle-logoff message that states the timeout in force, and a comment on every view column and
-- sequence, so \d+ explains each of them.

------------------------------------------------------------------------------------------
-- Reading a conversation
------------------------------------------------------------------------------------------

create function compliance.conversation_messages(conversation_id uuid, after_id bigint default 0, page_size integer default 100)
  returns table (id bigint, role text, content text, created_at timestamptz)
  language plpgsql
  stable
  set search_path to pg_catalog, pg_temp
as $$
begin
  if page_size not between 1 and 1000 or after_id is null or after_id < 0 then
    perform compliance_private.raise_error('BADRG', 'page_size must be 1..1000 and after_id at least 0',
      'Page with after_id: the id of the last message of the previous page.');
  end if;
  -- row-level security decides whose conversations the caller sees
  if not exists (select from compliance.conversations c where c.conversation_id = conversation_messages.conversation_id) then
    perform compliance_private.raise_error('NOCNV', format('no conversation %s', conversation_id),
      'The conversation does not exist or belongs to someone else.');
  end if;
  return query
    select m.id, m.role, m.content, m.created_at
      from compliance.messages m
     where m.conversation_id = conversation_messages.conversation_id and m.id > after_id
     order by m.id
     limit page_size;
end;
$$;
comment on function compliance.conversation_messages(uuid, bigint, integer) is
  'The messages of one conversation in the order they were added, page_size (1..1000) at a time after the message id after_id. Row-level security limits the app to its subject''s conversations. Errors: NOCNV when the caller cannot see the conversation, BADRG for a bad page.';
grant execute on function compliance.conversation_messages(uuid, bigint, integer) to compliance_app, compliance_dpo;

------------------------------------------------------------------------------------------
-- The idle logoff says which timeout ended the session
------------------------------------------------------------------------------------------

create or replace function compliance.touch_session(user_id text, session_id uuid, idle_timeout interval default interval '15 minutes')
  returns compliance.sessions
  language plpgsql
  volatile
  set search_path to pg_catalog, pg_temp
as $$
declare
  v_row compliance.sessions;
begin
  perform compliance_private.require_subject(user_id);
  select * into v_row from compliance.sessions s
   where s.id = session_id and s.user_id = touch_session.user_id for no key update;
  if not found then
    -- parallel first requests of one session: one inserts, the others find its row
    insert into compliance.sessions (id, user_id, ip_address, user_agent)
      values (session_id, touch_session.user_id, compliance.current_client_ip(), compliance.current_user_agent())
      on conflict on constraint sessions_pkey do nothing
    returning * into v_row;
    if found then
      return v_row;
    end if;
    select * into v_row from compliance.sessions s
     where s.id = session_id and s.user_id = touch_session.user_id for no key update;
    if not found then
      perform compliance_private.raise_error('SESXP', 'this session belongs to someone else', 'Sign in again.');
    end if;
  end if;
  if v_row.ended_at is not null then
    perform compliance_private.raise_error('SESXP', 'this session has ended', 'Sign in again.');
  end if;
  if v_row.last_activity_at < now() - idle_timeout then
    perform compliance_private.raise_error('SESXP',
      format('session expired after %s of inactivity', compliance_private.describe_interval(idle_timeout)),
      'Sign in again (HIPAA automatic logoff).');
  end if;
  update compliance.sessions s set last_activity_at = now() where s.id = session_id
    returning * into v_row;
  return v_row;
end;
$$;

create function compliance_private.describe_interval(value interval) returns text
  language sql
  immutable
  return case
    when value < interval '1 minute' then format('%s seconds', extract(epoch from value)::bigint)
    when value < interval '1 hour' and extract(second from value) = 0 then
      format('%s minute%s', extract(epoch from value)::bigint / 60, case when extract(epoch from value)::bigint = 60 then '' else 's' end)
    else value::text
  end;
comment on function compliance_private.describe_interval(interval) is
  'An interval in words for messages: 45 seconds, 1 minute, 15 minutes; longer ones in PostgreSQL''s own form.';
grant execute on function compliance_private.describe_interval(interval) to compliance_app, compliance_dpo;

------------------------------------------------------------------------------------------
-- Comments on every view column and sequence
------------------------------------------------------------------------------------------

comment on column compliance.dsr_open_requests.id is 'The request''s id (dsr_requests.id).';
comment on column compliance.dsr_open_requests.user_id is 'The data subject who asked.';
comment on column compliance.dsr_open_requests.kind is 'access, portability, rectification, erasure, restriction or objection.';
comment on column compliance.dsr_open_requests.status is 'received or in_progress (open requests only).';
comment on column compliance.dsr_open_requests.received_at is 'When the request arrived; the one-month deadline counts from it.';
comment on column compliance.dsr_open_requests.due_at is 'When the answer is due (GDPR Art. 12(3): one month, extendable).';
comment on column compliance.dsr_open_requests.overdue is 'Whether due_at has passed.';
comment on column compliance.dsr_open_requests.days_left is 'Whole days until due_at (0 once due or overdue).';

comment on column compliance.current_consents.user_id is 'The data subject.';
comment on column compliance.current_consents.purpose is 'The purpose consented to or refused (consent_purposes.purpose).';
comment on column compliance.current_consents.granted is 'The subject''s latest decision for the purpose: true granted, false withdrawn.';
comment on column compliance.current_consents.policy_version is 'The policy version the latest decision was made under.';
comment on column compliance.current_consents.recorded_at is 'When the latest decision was recorded.';
comment on column compliance.current_consents.consent_record_id is 'The consent_records row holding the latest decision.';

comment on column compliance.retention_due.category is 'The retention category (retention_policies.category).';
comment on column compliance.retention_due.action is 'What retention does: delete, drop_partition or until_erasure.';
comment on column compliance.retention_due.retention_period is 'How long the category is kept.';
comment on column compliance.retention_due.counted_from is 'The column the period counts from.';
comment on column compliance.retention_due.cutoff is 'Rows older than this are due (retention''s clock minus the period).';
comment on column compliance.retention_due.due_now is 'How many rows (or audit partitions) would go now; subjects under legal hold excluded.';
comment on column compliance.retention_due.unit is 'What due_now counts: rows or partitions.';

comment on column compliance_private.audit_log_checks.xact_id is 'The row''s transaction id (audit_logs.xact_id).';
comment on column compliance_private.audit_log_checks.id is 'The row''s id (audit_logs.id).';
comment on column compliance_private.audit_log_checks.tableoid is 'The partition holding the row.';
comment on column compliance_private.audit_log_checks.row_hash is 'The row''s hash, what a seal covers (db/AUDIT_HASHING.md).';
comment on column compliance_private.audit_log_checks.personal_problem is 'NULL, digest_mismatch or redacted_not_empty.';
comment on column compliance_private.audit_log_checks.subject_redacted is 'Whether the subject part is redacted (layout 1: the whole personal part).';
comment on column compliance_private.audit_log_checks.actor_redacted is 'Whether the actor part is redacted (layout 1: the whole personal part).';

comment on sequence compliance.consent_records_id_seq is 'Identifiers of consent_records rows.';
comment on sequence compliance.messages_id_seq is 'Identifiers of messages rows.';
comment on sequence compliance.legal_holds_id_seq is 'Identifiers of legal_holds rows.';
comment on sequence compliance.dsr_requests_id_seq is 'Identifiers of dsr_requests rows.';
