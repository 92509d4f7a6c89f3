--! Previous: sha1:4ace2061e77de1bee939c6a2c7e6474b9fe03736
--! Hash: sha1:1be2f9b3b189b18dc43a66bcb971ff6770b382e4
--! Message: erasure-waits-for-writers

-- Erasure waits for the subject's own writers instead of deadlocking with them (issue #13, item 6).
--
-- erase_subject_core locked the profile FOR UPDATE. A writer holding one of the subject's
-- conversations (FOR NO KEY UPDATE) that then added a message needed a KEY SHARE lock on
-- the profile for its foreign-key check, while the erasure waited for the conversation:
-- a deadlock, and PostgreSQL chose the erasure as its victim (40P01), so the subject was not
-- erased. FOR NO KEY UPDATE still excludes a second erasure and any profile update, and lets
-- the writer's key-share check through: the writer commits, the erasure then deletes the
-- conversation, and its messages, the new one included, go with it. Only this lock changes.

create or replace function compliance_private.erase_subject_core(user_id text, reason text, confirm boolean, requested_by text)
  returns jsonb
  language plpgsql
  volatile
  set search_path to pg_catalog, pg_temp
as $$
declare
  v_counts jsonb := '{}';
  v_count bigint;
  v_redacted bigint;
  v_request_id bigint;
  v_table text;
begin
  if confirm is not true then
    perform compliance_private.raise_error('CONFM', 'erasure needs confirm => true',
      'Erasure deletes every personal row of the subject and cannot be undone; call again with confirm => true.');
  end if;
  if reason is null or length(trim(reason)) = 0 or length(reason) > 1000 then
    perform compliance_private.raise_error('BADRG', 'give a reason (1 to 1000 characters) for the erasure');
  end if;

  -- the subject lock first, then the row lock: profile creation takes the same order. The
  -- row lock excludes other erasures and profile updates but not the key-share locks that a
  -- writer's foreign-key checks take, so a writer already holding one of the subject's rows
  -- can finish (its rows go with the profile's cascade) instead of deadlocking with us.
  perform compliance_private.lock_subject(user_id);
  perform from compliance.user_profiles p where p.user_id = erase_subject_core.user_id for no key update;
  if not found then
    perform compliance_private.refuse_erased(user_id);
    perform compliance_private.raise_error('UNKSJ', 'no subject with that user id', 'Check the user id.');
  end if;
  if compliance.is_under_legal_hold(user_id) then
    perform compliance_private.raise_error('LHOLD', 'subject is under legal hold; erasure is refused',
      'GDPR Art. 17(3)(e): a DPO releases the hold with compliance.release_legal_hold(user_id) when the matter allows.');
  end if;

  perform compliance_private.begin_bulk_operation('erasure');

  -- children before the profile so each count is exact
  foreach v_table in array array['messages', 'conversations', 'consent_records', 'sessions',
                                 'user_preferences', 'legal_holds'] loop
    execute format('delete from compliance.%I t where t.user_id = $1', v_table) using user_id;
    get diagnostics v_count = row_count;
    v_counts := v_counts || jsonb_build_object(v_table, v_count);
  end loop;

  delete from compliance.user_profiles p where p.user_id = erase_subject_core.user_id;
  get diagnostics v_count = row_count;
  v_counts := v_counts || jsonb_build_object('user_profiles', v_count);

  -- the register keeps each request's kind and dates, never who asked
  v_request_id := compliance_private.record_completed_dsr(null, 'erasure', compliance_private.handler_for(user_id));
  update compliance.dsr_requests r
     set user_id = case when r.user_id = erase_subject_core.user_id then null else r.user_id end,
         notes = case when r.user_id = erase_subject_core.user_id then null else r.notes end,
         handled_by = case when r.handled_by = erase_subject_core.user_id then null else r.handled_by end
   where r.user_id = erase_subject_core.user_id or r.handled_by = erase_subject_core.user_id;
  get diagnostics v_count = row_count;
  v_counts := v_counts || jsonb_build_object('dsr_requests_anonymised', v_count);

  update compliance.audit_logs a
     set user_id = null, actor_id = null, ip_address = null, user_agent = null,
         personal_details = null, personal_salt = null, redacted_at = now()
   where (a.user_id = erase_subject_core.user_id or a.actor_id = erase_subject_core.user_id)
     and a.redacted_at is null;
  get diagnostics v_redacted = row_count;

  insert into compliance_private.erased_subjects (subject_digest) values (compliance_private.subject_digest(user_id));
  perform compliance_private.end_bulk_operation();

  -- counts, never identity: no subject, and no actor or client when the subject asked
  perform compliance_private.append_audit('subject.erased', 'gdpr', 'dsr_request', v_request_id::text,
    jsonb_build_object('deleted', v_counts, 'audit_rows_redacted', v_redacted, 'requested_by', requested_by),
    null, jsonb_build_object('reason', reason), 'success', null,
    case when requested_by = 'subject' then null else compliance.current_actor() end,
    requested_by <> 'subject');

  return jsonb_build_object('erased', true, 'erased_at', now(), 'dsr_request_id', v_request_id,
    'deleted', v_counts, 'audit_rows_redacted', v_redacted);
end;
$$;
