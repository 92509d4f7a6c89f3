--! Previous: sha1:297bca6dae1b3ea026e4ca7b264bcf3a3eaf6746
--! Hash: sha1:5c17c30e77e17b803367d569676a486f18805319
--! Message: app-role-answers-only-for-its-subject

-- The app role learns nothing about subjects it does not act for (issue #12, items 4 and 5).
--
-- compliance_app runs every API request for one authenticated subject, whose id is the
-- request context's actor. Acting for user:alice, it could ask is_under_legal_hold('user:bob')
-- (is Bob in litigation?), is_erased / refuse_erased('user:bob') (did Bob exercise erasure?),
-- subject_digest(any id) (the tombstone hash of a guessed id), and write audit rows about Bob
-- with log_event(subject_id => 'user:bob'), which then appear in Bob's Art. 15 export.
--
-- A SECURITY DEFINER function runs as its owner, so current_user does not say who called it;
-- the session's role setting does. The server enters the app role with SET LOCAL ROLE (its
-- login is NOINHERIT), so inside any function current_setting('role') is compliance_app for
-- the whole request. The DPO, the worker and a DBA keep their answers.

create or replace function compliance_private.acting_for_one_subject() returns boolean
  language sql
  stable
  parallel safe
return current_setting('role') = 'compliance_app' or current_user = 'compliance_app';
comment on function compliance_private.acting_for_one_subject() is
  'Whether the caller is the app role (entered with SET ROLE compliance_app, so this holds inside SECURITY DEFINER functions too), which may learn about and act for the request context''s subject only.';

create or replace function compliance_private.refuse_erased(user_id text) returns void
  language plpgsql
  volatile
  security definer
  set search_path to pg_catalog, pg_temp
as $$
begin
  if compliance_private.acting_for_one_subject() and user_id is distinct from compliance.current_subject() then
    -- no answer about another subject: the caller goes on to UNKSJ or a row-level security refusal,
    -- exactly as for an id that never existed
    return;
  end if;
  if compliance_private.is_erased(user_id) then
    perform compliance_private.raise_error('ERASD',
      'this subject was erased; no data can be stored for it',
      'If the person registers again, a DPO calls compliance.reregister_subject(user_id, reason) first.');
  end if;
end;
$$;
comment on function compliance_private.refuse_erased(text) is
  'Raises ERASD when the user id has a tombstone. The app role gets an answer only about the subject it acts for; for any other id it returns quietly.';

create or replace function compliance.log_event(
  action text,
  category text,
  resource_type text default null,
  resource_id text default null,
  details jsonb default '{}',
  subject_id text default null,
  personal_details jsonb default null,
  outcome text default 'success',
  failure_reason text default null
) returns bigint
  language plpgsql
  volatile
  security definer
  set search_path to pg_catalog, pg_temp
as $$
begin
  if subject_id is not null and compliance_private.acting_for_one_subject()
     and subject_id is distinct from compliance.current_subject() then
    perform compliance_private.raise_error('OTHSJ',
      'the app role may log events only about the subject it acts for',
      'Leave subject_id empty or set it to the request''s own subject; events about other subjects are written by the DPO or the worker.');
  end if;
  if subject_id is not null then
    -- holds the subject against a concurrent erasure until this transaction ends, so an
    -- event about a subject cannot outlive that subject's erasure
    perform from compliance.user_profiles p where p.user_id = log_event.subject_id for key share;
    if not found then
      perform compliance_private.refuse_erased(subject_id);
    end if;
  end if;
  return compliance_private.append_audit(log_event.action, log_event.category,
    log_event.resource_type, log_event.resource_id, log_event.details, log_event.subject_id,
    log_event.personal_details, log_event.outcome, log_event.failure_reason);
end;
$$;
comment on function compliance.log_event(text, text, text, text, jsonb, text, jsonb, text, text) is
  'Appends an application event to the audit log (PHI access with the patient id in personal_details, logins, exports). details must not hold personal data: it survives erasure; put identifying values in subject_id and personal_details. The actor, client IP and user agent come from the request context. The app role may name only its own subject (OTHSJ). Returns the new row id. Errors: ERASD for an erased subject, OTHSJ, BADRG.';

-- only the owner's routines ask about tombstones and holds of arbitrary ids
revoke execute on function compliance_private.is_erased(text) from compliance_app;
revoke execute on function compliance_private.subject_digest(text) from compliance_app, compliance_dpo;
revoke execute on function compliance.is_under_legal_hold(text) from compliance_app;
