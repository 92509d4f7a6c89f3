--! Previous: sha1:71c1ca9580f50b2e5685624eb1ae5b46dc446b2b
--! Hash: sha1:29e88219057539a14475d8a16940f6c2d609db61
--! Message: workforce-access-grants

-- Workforce access to PHI (HIPAA §164.308(a)(4), §164.312(a)(2)(ii)): access grants approved by
-- someone else, break-glass emergency access that is alerted and reviewed afterwards, checked by
-- the health-record functions against the database clock at the moment of access; and the
-- transactional alert outbox the worker delivers. db/README.md, "Workforce access".

-- the approver role (db/roles.sql) calls the grant functions and nothing else
grant usage on schema compliance to compliance_approver;
grant execute on function compliance.set_request_context(text, text[], inet, text) to compliance_approver;

create table compliance.access_grant_settings (
  singleton              boolean  not null default true,
  assignment_days        integer  not null default 30,
  assignment_days_max    integer  not null default 30,
  emergency_hours        numeric  not null default 4,
  emergency_review_hours integer  not null default 72,
  constraint access_grant_settings_pkey primary key (singleton),
  constraint access_grant_settings_one_row check (singleton),
  constraint access_grant_settings_days_bounded check (assignment_days between 1 and assignment_days_max and assignment_days_max between 1 and 366),
  -- HIPAA break-glass: hours, never longer than four
  constraint access_grant_settings_emergency_at_most_four_hours check (emergency_hours > 0 and emergency_hours <= 4),
  constraint access_grant_settings_review_window check (emergency_review_hours between 1 and 720)
);
comment on table compliance.access_grant_settings is
  'One row: how long grants last and how soon an emergency access must be reviewed. A DPO changes it with UPDATE.';
comment on column compliance.access_grant_settings.singleton is 'Always true: the table has one row.';
comment on column compliance.access_grant_settings.assignment_days is 'How long an approved assignment grant lasts when the approver names no duration.';
comment on column compliance.access_grant_settings.assignment_days_max is 'The longest an assignment grant may last; a longer request is refused (BADRG).';
comment on column compliance.access_grant_settings.emergency_hours is 'How long a break-glass grant lasts: at most 4 hours.';
comment on column compliance.access_grant_settings.emergency_review_hours is 'Within how many hours an approver other than the grantee must review an emergency access.';
insert into compliance.access_grant_settings default values;
alter table compliance.access_grant_settings enable row level security;
alter table compliance.access_grant_settings force row level security;
grant select on compliance.access_grant_settings to compliance_dpo, compliance_approver, compliance_auditor;
grant update (assignment_days, assignment_days_max, emergency_hours, emergency_review_hours) on compliance.access_grant_settings to compliance_dpo;

create table compliance.access_grants (
  id             bigint      generated always as identity,
  grantee        text,
  user_id        text        not null,
  scope          text        not null,
  purpose        text        not null,
  reason         text        not null,
  kind           text        not null,
  requested_at   timestamptz not null default now(),
  requested_by   text,
  approved_by    text,
  approved_at    timestamptz,
  denied_by      text,
  denied_at      timestamptz,
  starts_at      timestamptz,
  expires_at     timestamptz,
  revoked_by     text,
  revoked_at     timestamptz,
  review_due_at  timestamptz,
  reviewed_by    text,
  reviewed_at    timestamptz,
  review_outcome text,
  review_note    text,
  constraint access_grants_pkey primary key (id),
  constraint access_grants_user_id_fkey foreign key (user_id) references compliance.user_profiles (user_id) on delete cascade,
  constraint access_grants_scope_known check (scope in ('phi.read', 'phi.write')),
  constraint access_grants_purpose_known check (purpose in ('treatment', 'payment', 'operations', 'emergency')),
  constraint access_grants_kind_known check (kind in ('assignment', 'emergency')),
  constraint access_grants_reason_given check (length(reason) between 1 and 2000 and (kind <> 'emergency' or length(trim(reason)) >= 20)),
  constraint access_grants_not_approved_by_grantee check (approved_by is null or grantee is null or approved_by <> grantee),
  constraint access_grants_not_reviewed_by_grantee check (reviewed_by is null or grantee is null or reviewed_by <> grantee),
  constraint access_grants_one_decision check (approved_at is null or denied_at is null),
  constraint access_grants_period_ordered check (expires_at is null or expires_at > starts_at),
  constraint access_grants_emergency_at_most_four_hours check (kind <> 'emergency' or (starts_at is not null and expires_at <= starts_at + interval '4 hours' and purpose = 'emergency' and approved_at is null)),
  constraint access_grants_review_outcome_known check (review_outcome is null or review_outcome in ('appropriate', 'inappropriate')),
  constraint access_grants_review_complete check ((reviewed_at is null) = (review_outcome is null))
);
comment on table compliance.access_grants is
  'Who in the workforce may reach which patient''s health records, for what purpose and until when. An assignment grant is requested (request_access) and active only once an approver other than the grantee approves it, for a bounded time; an emergency grant (break_glass) is active at once for at most 4 hours, alerted, and reviewed afterwards by an approver other than the grantee. The health-record functions check for an active grant at the moment of access; expiry needs no job. Rows change only through the grant functions, each audited.';
comment on column compliance.access_grants.id is 'The grant; access rows under it carry its id.';
comment on column compliance.access_grants.grantee is 'The workforce member (actor id) the grant is for; emptied when that person is erased.';
comment on column compliance.access_grants.user_id is 'The patient; the grant goes with the profile.';
comment on column compliance.access_grants.scope is 'phi.read (read records) or phi.write (create, update, delete them).';
comment on column compliance.access_grants.purpose is 'The purpose of use the grant is for (treatment, payment, operations; emergency for break-glass); an access for another purpose is refused.';
comment on column compliance.access_grants.reason is 'Why access is needed; at least 20 characters for an emergency.';
comment on column compliance.access_grants.kind is 'assignment (approved) or emergency (break-glass).';
comment on column compliance.access_grants.requested_at is 'When it was requested or created.';
comment on column compliance.access_grants.requested_by is 'Who asked: the grantee, or the approver who created it.';
comment on column compliance.access_grants.approved_by is 'The approver who approved it (never the grantee).';
comment on column compliance.access_grants.approved_at is 'When it was approved; an assignment grant is active only after this.';
comment on column compliance.access_grants.denied_by is 'The approver who denied the request.';
comment on column compliance.access_grants.denied_at is 'When the request was denied.';
comment on column compliance.access_grants.starts_at is 'When access begins (on approval, or at once for an emergency).';
comment on column compliance.access_grants.expires_at is 'When access ends, checked against the database clock at each access.';
comment on column compliance.access_grants.revoked_by is 'Who revoked it.';
comment on column compliance.access_grants.revoked_at is 'When it was revoked: no access from then on.';
comment on column compliance.access_grants.review_due_at is 'For an emergency: by when an approver must review it.';
comment on column compliance.access_grants.reviewed_by is 'The approver who reviewed the emergency access (never the grantee).';
comment on column compliance.access_grants.reviewed_at is 'When it was reviewed.';
comment on column compliance.access_grants.review_outcome is 'appropriate or inappropriate (which raises an alert).';
comment on column compliance.access_grants.review_note is 'The reviewer''s note.';
comment on sequence compliance.access_grants_id_seq is 'Numbers access grants in the order they were requested.';
alter table compliance.access_grants enable row level security;
alter table compliance.access_grants force row level security;
create index access_grants_grantee_idx on compliance.access_grants (grantee, user_id) where revoked_at is null;
create index access_grants_user_id_idx on compliance.access_grants (user_id);
create index access_grants_open_review_idx on compliance.access_grants (review_due_at) where kind = 'emergency' and reviewed_at is null;
create index access_grants_pending_idx on compliance.access_grants (requested_at) where approved_at is null and denied_at is null and kind = 'assignment';

-- alerts leave through this table, written in the transaction that raises them; the worker
-- delivers them (worker/tasks/deliver-alerts.ts), so none is sent for a rolled-back change and
-- none is lost while the worker is down
create table compliance.alert_outbox (
  id              bigint      generated always as identity,
  topic           text        not null,
  payload         jsonb       not null default '{}',
  user_id         text,
  actor_id        text,
  created_at      timestamptz not null default now(),
  state           text        not null default 'pending',
  attempts        integer     not null default 0,
  next_attempt_at timestamptz not null default now(),
  last_attempt_at timestamptz,
  last_error      text,
  delivered_at    timestamptz,
  delivered_via   text,
  constraint alert_outbox_pkey primary key (id),
  constraint alert_outbox_topic_format check (topic ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$'),
  constraint alert_outbox_payload_object check (jsonb_typeof(payload) = 'object'),
  constraint alert_outbox_state_known check (state in ('pending', 'delivered', 'failed')),
  constraint alert_outbox_delivered_when check ((state = 'delivered') = (delivered_at is not null)),
  constraint alert_outbox_delivered_via_known check (delivered_via is null or delivered_via in ('webhook', 'log'))
);
comment on table compliance.alert_outbox is
  'The transactional outbox of alerts (emergency access, an inappropriate review, later compliance checks): a row is written in the transaction that raises the alert; the worker delivers it to ALERT_WEBHOOK_URL (HMAC-signed) or, without one, to its log, retrying with backoff, and records each attempt and the final state here.';
comment on column compliance.alert_outbox.id is 'The alert; the webhook body carries it, so a receiver can drop a repeat.';
comment on column compliance.alert_outbox.topic is 'What happened, dotted lower case (phi.emergency_access, phi.emergency_review_inappropriate).';
comment on column compliance.alert_outbox.payload is 'The alert''s facts, never a name: grant ids, times, counts.';
comment on column compliance.alert_outbox.user_id is 'The patient the alert is about, if any; emptied on their erasure.';
comment on column compliance.alert_outbox.actor_id is 'The workforce member the alert is about, if any; emptied on their erasure.';
comment on column compliance.alert_outbox.created_at is 'When the alert was raised (its transaction''s time).';
comment on column compliance.alert_outbox.state is 'pending (to deliver), delivered, or failed (gave up after the last attempt; also logged).';
comment on column compliance.alert_outbox.attempts is 'Delivery attempts so far.';
comment on column compliance.alert_outbox.next_attempt_at is 'When the next attempt is due; a claimed alert is leased until then, so one whose worker died is tried again.';
comment on column compliance.alert_outbox.last_attempt_at is 'When delivery was last tried.';
comment on column compliance.alert_outbox.last_error is 'Why the last attempt failed.';
comment on column compliance.alert_outbox.delivered_at is 'When it was delivered.';
comment on column compliance.alert_outbox.delivered_via is 'webhook, or log when no webhook is configured.';
comment on sequence compliance.alert_outbox_id_seq is 'Numbers alerts in the order they were raised.';
alter table compliance.alert_outbox enable row level security;
alter table compliance.alert_outbox force row level security;
create index alert_outbox_due_idx on compliance.alert_outbox (next_attempt_at) where state = 'pending';
grant select on compliance.alert_outbox to compliance_dpo;
-- the auditor sees that alerts went out, not whom they named
grant select (id, topic, payload, created_at, state, attempts, next_attempt_at, last_attempt_at, last_error, delivered_at, delivered_via)
  on compliance.alert_outbox to compliance_auditor;

-- included from fixtures/context/set_request_context.sql
-- compliance.set_request_context(actor text, roles text[], client_ip inet, user_agent text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.set_request_context(actor text, roles text[] DEFAULT '{}'::text[], client_ip inet DEFAULT NULL::inet, user_agent text DEFAULT NULL::text)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  -- the server switches to compliance_dpo, compliance_staff or compliance_approver only for a
  -- token with the dpo, staff or approver role; a context that says otherwise is a server bug acting with rights its caller does
  -- not have. Raised here, not through compliance_private, which the staff role cannot reach.
  if current_user in ('compliance_dpo', 'compliance_staff', 'compliance_approver')
     and not coalesce(substr(current_user, 12) = any (roles), false) then
    raise exception 'the % role needs an actor whose roles include %', current_user, substr(current_user, 12)
      using errcode = 'DPORL',
            hint = format('Set the request context with roles => ''{%s}'', or act for a subject as compliance_app.', substr(current_user, 12));
  end if;
  perform set_config('compliance.actor', coalesce(actor, ''), true),
          set_config('compliance.actor_roles', coalesce(array_to_string(roles, ','), ''), true),
          set_config('compliance.client_ip', coalesce(client_ip::text, ''), true),
          set_config('compliance.user_agent', coalesce(left(user_agent, 512), ''), true);
end;
$function$;

comment on function compliance.set_request_context(actor text, roles text[], client_ip inet, user_agent text) is
  'Sets who is acting in this transaction (actor, their roles, client IP and user agent); every audit row reads them. As compliance_dpo, compliance_staff or compliance_approver, the roles must include dpo, staff or approver (DPORL otherwise).';

-- included from fixtures/health/phi_caller_role.sql
-- compliance_private.phi_caller_role(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.phi_caller_role()
 RETURNS text
 LANGUAGE sql
 STABLE PARALLEL SAFE
RETURN CASE current_setting('role'::text) WHEN 'compliance_app'::text THEN 'patient'::text WHEN 'compliance_dpo'::text THEN 'dpo'::text WHEN 'compliance_staff'::text THEN 'staff'::text WHEN 'compliance_auditor'::text THEN 'auditor'::text WHEN 'compliance_approver'::text THEN 'approver'::text ELSE 'other'::text END;

comment on function compliance_private.phi_caller_role() is
  'The role a PHI function''s caller acts in, read from SET ROLE (so it holds inside SECURITY DEFINER functions): patient (compliance_app, acting for its own subject), dpo, staff, auditor, approver, or other (a session that chose none of them, such as a DBA''s login).';

-- included from fixtures/workforce/raise_alert.sql
-- compliance_private.raise_alert(topic text, payload jsonb, user_id text, actor_id text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.raise_alert(topic text, payload jsonb, user_id text DEFAULT NULL::text, actor_id text DEFAULT NULL::text)
 RETURNS bigint
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_id bigint;
begin
  -- the payload outlives erasure: who it is about goes in user_id and actor_id
  perform compliance_private.refuse_personal_outside(payload, null, user_id, actor_id);
  insert into compliance.alert_outbox (topic, payload, user_id, actor_id)
  values (raise_alert.topic, raise_alert.payload, raise_alert.user_id, raise_alert.actor_id)
  returning id into v_id;
  return v_id;
end;
$function$;

comment on function compliance_private.raise_alert(topic text, payload jsonb, user_id text, actor_id text) is
  'Puts an alert in compliance.alert_outbox in the caller''s transaction (nothing is sent for a change that rolls back); the worker''s delivery loop finds it within seconds. The payload must not name anyone (PERSD): the patient and the actor go in their own columns, which erasure empties.';

-- included from fixtures/workforce/staff_refusal.sql
-- compliance_private.staff_refusal(patient text, intent text, purpose text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.staff_refusal(patient text, intent text, purpose text)
 RETURNS text
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_scope text := case when intent in ('read', 'search') then 'phi.read' else 'phi.write' end;
  v_now timestamptz := clock_timestamp();
  v_grant compliance.access_grants;
begin
  -- a row is NULL only when every field is: ask for the id
  if (compliance_private.active_access_grant(patient, intent, purpose)).id is not null then
    return null;
  end if;
  -- why not: the grant that came closest, in the order a reader would check
  select g.* into v_grant from compliance.access_grants g
   where g.grantee = compliance.current_actor() and g.user_id = staff_refusal.patient
   order by (g.scope = v_scope and g.purpose = staff_refusal.purpose) desc, g.requested_at desc
   limit 1;
  return case
    when not found then 'no_active_grant'
    when v_grant.revoked_at is not null and v_grant.revoked_at <= v_now then 'grant_revoked'
    when v_grant.denied_at is not null then 'grant_denied'
    when v_grant.kind = 'assignment' and v_grant.approved_at is null then 'grant_not_approved'
    when v_grant.expires_at <= v_now then 'grant_expired'
    when v_grant.starts_at > v_now then 'grant_not_started'
    when v_grant.scope <> v_scope then 'grant_scope'
    when v_grant.purpose <> staff_refusal.purpose then 'grant_purpose'
    else 'no_active_grant'
  end;
end;
$function$;

comment on function compliance_private.staff_refusal(patient text, intent text, purpose text) is
  'Why the acting workforce member may not do intent (read, search, create, update, delete) on the patient''s records for purpose: NULL when an active grant allows it, else no_active_grant, grant_revoked, grant_denied, grant_not_approved, grant_expired, grant_not_started, grant_scope or grant_purpose, from their nearest grant.';

-- included from fixtures/workforce/active_access_grant.sql
-- compliance_private.active_access_grant(patient text, intent text, purpose text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.active_access_grant(patient text, intent text, purpose text)
 RETURNS compliance.access_grants
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  -- the database clock at this moment, not the transaction's start: a grant that expires
  -- while a long transaction runs stops there
  select g.* from compliance.access_grants g
   where g.grantee = compliance.current_actor()
     and g.user_id = active_access_grant.patient
     and g.scope = case when active_access_grant.intent in ('read', 'search') then 'phi.read' else 'phi.write' end
     and g.purpose = active_access_grant.purpose
     and (g.kind = 'emergency' or g.approved_at is not null)
     and g.denied_at is null
     and g.starts_at <= clock_timestamp() and clock_timestamp() < g.expires_at
     and (g.revoked_at is null or g.revoked_at > clock_timestamp())
   order by g.kind = 'emergency', g.id desc
   limit 1;
$function$;

comment on function compliance_private.active_access_grant(patient text, intent text, purpose text) is
  'The grant under which the acting workforce member may do intent on the patient''s records for purpose right now (started, not expired, not revoked, approved or emergency, scope and purpose matching), an assignment before an emergency; NULL when there is none.';

-- included from fixtures/health/phi_check.sql
-- compliance_private.phi_check(patient text, purpose text, intent text, record_id uuid): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.phi_check(patient text, purpose text, intent text, record_id uuid DEFAULT NULL::uuid)
 RETURNS text
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_role text := compliance_private.phi_caller_role();
  v_reason text;
  v_known boolean;
begin
  if purpose is null or purpose not in ('treatment', 'payment', 'operations', 'emergency', 'patient_request') then
    perform compliance_private.raise_error('BADRG', format('purpose of use %L is unknown', purpose),
      'Use treatment, payment, operations, emergency or patient_request (HIPAA purposes of use).');
  end if;
  if intent not in ('read', 'create', 'update', 'delete') then
    perform compliance_private.raise_error('BADRG', format('intent %L is unknown', intent), 'Use read, create, update or delete.');
  end if;
  -- holds the patient against a concurrent erasure until this transaction ends: no access row
  -- may outlive the patient's erasure
  perform from compliance.user_profiles p where p.user_id = phi_check.patient for key share;
  v_known := found;

  v_reason := case
    when not v_known then 'unknown_patient'
    when exists (select from compliance.health_records h where h.id = record_id and h.user_id <> patient)
      then 'not_this_patients_record'
    when v_role = 'patient' then
      case when patient is distinct from compliance.current_subject() then 'not_the_patient'
           when purpose <> 'patient_request' then 'patient_purpose_is_patient_request' end
    when v_role = 'dpo' then
      -- the DPO sees records only while fulfilling an access or portability request, which this
      -- same transaction registered (export_subject)
      case when intent <> 'read' then 'dpo_reads_only'
           when purpose <> 'patient_request' then 'dpo_purpose_is_patient_request'
           when not exists (select from compliance.dsr_requests r
                             where r.user_id = patient and r.kind in ('access', 'portability')
                               and r.xmin = pg_current_xact_id()::xid) then 'no_access_request_in_this_transaction' end
    -- workforce access needs a grant active at this moment (compliance.access_grants)
    when v_role = 'staff' then compliance_private.staff_refusal(patient, intent, purpose)
    else 'role_not_permitted'
  end;
  -- one row per refusal and transaction: the server asks phi_access and calls the data function
  -- in one round trip, and both refuse alike
  if v_reason is not null and not exists (
       select from compliance.audit_logs a
        where a.xact_id = pg_current_xact_id() and a.action = 'phi.denied'
          and a.user_id is not distinct from (case when v_known then patient end)
          and a.failure_reason = v_reason and a.details ->> 'intent' = intent
          and a.details ->> 'purpose' = purpose
          and a.details -> 'record_ids' = to_jsonb(case when record_id is null then '{}'::uuid[] else array[record_id] end)) then
    perform compliance_private.log_phi_access('phi.denied', case when v_known then patient end, purpose, intent,
      case when record_id is null then '{}'::uuid[] else array[record_id] end, 'failure', v_reason);
  end if;
  return v_reason;
end;
$function$;

comment on function compliance_private.phi_check(patient text, purpose text, intent text, record_id uuid) is
  'The access decision of every PHI function: NULL when the caller may (a patient their own records for patient_request; a DPO reading inside the transaction that registered the patient''s access or portability request; staff only under an access grant active at that moment, whose scope and purpose match), else the reason, after writing a phi.denied audit row (one per refusal and transaction). Never raises for a refusal, so the refusal''s row survives when the caller commits; raises BADRG for an unknown purpose or intent. Locks the patient''s profile against erasure (FOR KEY SHARE).';

-- included from fixtures/health/log_phi_access.sql
-- compliance_private.log_phi_access(action text, patient text, purpose text, intent text, record_ids uuid[], outcome text, failure_reason text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.log_phi_access(action text, patient text, purpose text, intent text, record_ids uuid[], outcome text DEFAULT 'success'::text, failure_reason text DEFAULT NULL::text)
 RETURNS bigint
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_role text := compliance_private.phi_caller_role();
  v_grant compliance.access_grants;
begin
  -- an access under a grant names it, so an emergency access shows as one
  if v_role = 'staff' and outcome = 'success' then
    v_grant := compliance_private.active_access_grant(patient, intent, purpose);
  end if;
  -- PL/pgSQL, not an SQL function: its plan is kept across calls, and every PHI access calls it
  return compliance_private.append_audit(action, 'hipaa', 'health_record',
    case when cardinality(record_ids) = 1 then record_ids[1]::text end,
    jsonb_strip_nulls(jsonb_build_object('purpose', purpose, 'intent', intent, 'actor_role', v_role,
                       'record_ids', to_jsonb(coalesce(record_ids, '{}'::uuid[])),
                       'grant_id', v_grant.id, 'grant_kind', v_grant.kind)),
    patient, null, outcome, failure_reason);
end;
$function$;

comment on function compliance_private.log_phi_access(action text, patient text, purpose text, intent text, record_ids uuid[], outcome text, failure_reason text) is
  'Writes one PHI access row (category hipaa): the patient as the row''s subject; the actor, IP and user agent from the request context; details with the purpose of use, the intent, the actor''s role, the record ids and, for workforce access, the grant''s id and kind; the outcome and failure reason.';

-- included from fixtures/workforce/audit_access_grant.sql
-- compliance_private.audit_access_grant(action text, grant_row compliance.access_grants, note text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.audit_access_grant(action text, grant_row compliance.access_grants, note text DEFAULT NULL::text)
 RETURNS bigint
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  -- about the patient, so it shows in their access log; who it is for and the free text are
  -- personal, and erasure reaches them there
  return compliance_private.append_audit(action, 'hipaa', 'access_grant', grant_row.id::text,
    jsonb_build_object('grant_id', grant_row.id, 'grant_kind', grant_row.kind, 'scope', grant_row.scope,
      'purpose', grant_row.purpose, 'starts_at', grant_row.starts_at, 'expires_at', grant_row.expires_at,
      'review_due_at', grant_row.review_due_at, 'review_outcome', grant_row.review_outcome,
      'actor_role', compliance_private.phi_caller_role()),
    grant_row.user_id,
    jsonb_strip_nulls(jsonb_build_object('grantee', grant_row.grantee, 'reason', grant_row.reason, 'note', note)));
end;
$function$;

comment on function compliance_private.audit_access_grant(action text, grant_row compliance.access_grants, note text) is
  'Audits a change of an access grant (access.requested, granted, approved, denied, revoked, emergency, reviewed): the patient as the row''s subject, the grant''s id, kind, scope, purpose and times in details, the grantee, reason and note in the personal part.';

-- included from fixtures/workforce/check_grant_request.sql
-- compliance_private.check_grant_request(patient text, scope text, purpose text, reason text, kind text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.check_grant_request(patient text, scope text, purpose text, reason text, kind text)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  if scope is null or scope not in ('phi.read', 'phi.write') then
    perform compliance_private.raise_error('BADRG', format('scope %L is unknown', scope), 'Use phi.read or phi.write.');
  end if;
  if purpose is null or purpose not in ('treatment', 'payment', 'operations', 'emergency') or (purpose = 'emergency') <> (kind = 'emergency') then
    perform compliance_private.raise_error('BADRG', format('purpose of use %L does not fit a grant of kind %s', purpose, kind),
      'Use treatment, payment or operations; emergency is for break_glass.');
  end if;
  if reason is null or length(trim(reason)) < (case when kind = 'emergency' then 20 else 1 end) or length(reason) > 2000 then
    perform compliance_private.raise_error('GRRSN',
      format('give a reason of %s to 2000 characters', case when kind = 'emergency' then 20 else 1 end),
      'Say why access is needed; an emergency needs at least 20 characters an approver can review.');
  end if;
  -- the patient must exist, and is held against erasure until this transaction ends
  perform compliance_private.require_subject(patient);
  perform from compliance.user_profiles p where p.user_id = check_grant_request.patient for key share;
end;
$function$;

comment on function compliance_private.check_grant_request(patient text, scope text, purpose text, reason text, kind text) is
  'The checks every new grant passes: a known scope and a purpose that fits the kind (BADRG), a reason (GRRSN: at least 20 characters for an emergency), a patient who exists (UNKSJ, ERASD), held against erasure until the transaction ends.';

-- included from fixtures/workforce/grant_duration.sql
-- compliance_private.grant_duration(days integer): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.grant_duration(days integer)
 RETURNS interval
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_settings compliance.access_grant_settings;
begin
  select * into strict v_settings from compliance.access_grant_settings;
  if days is not null and days not between 1 and v_settings.assignment_days_max then
    perform compliance_private.raise_error('BADRG', format('days must be between 1 and %s', v_settings.assignment_days_max),
      'A DPO changes the maximum in compliance.access_grant_settings.');
  end if;
  return make_interval(days => coalesce(days, v_settings.assignment_days));
end;
$function$;

comment on function compliance_private.grant_duration(days integer) is
  'How long an assignment grant lasts: days, or the configured default; more than the configured maximum is BADRG.';

-- included from fixtures/workforce/request_access.sql
-- compliance.request_access(patient text, scope text, purpose text, reason text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.request_access(patient text, scope text, purpose text, reason text)
 RETURNS compliance.access_grants
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_row compliance.access_grants;
begin
  perform compliance_private.require_context_subject();
  perform compliance_private.check_grant_request(patient, scope, purpose, reason, 'assignment');
  insert into compliance.access_grants as g (grantee, user_id, scope, purpose, reason, kind, requested_by)
  values (compliance.current_actor(), patient, request_access.scope, request_access.purpose, request_access.reason,
          'assignment', compliance.current_actor())
  returning g.* into v_row;
  perform compliance_private.audit_access_grant('access.requested', v_row);
  return v_row;
end;
$function$;

comment on function compliance.request_access(patient text, scope text, purpose text, reason text) is
  'A workforce member asks for access to a patient''s health records (scope phi.read or phi.write, purpose treatment, payment or operations, a reason). It grants nothing until an approver other than them approves it (approve_access_request). Audited as access.requested. Errors: BADRG, GRRSN, UNKSJ, ERASD.';

-- included from fixtures/workforce/grant_access.sql
-- compliance.grant_access(grantee text, patient text, scope text, purpose text, reason text, days integer): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.grant_access(grantee text, patient text, scope text, purpose text, reason text, days integer DEFAULT NULL::integer)
 RETURNS compliance.access_grants
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_row compliance.access_grants;
begin
  perform compliance_private.require_context_subject();
  if grantee is null or length(grantee) not between 1 and 256 then
    perform compliance_private.raise_error('BADRG', 'name the workforce member (grantee)');
  end if;
  if grantee = compliance.current_actor() then
    perform compliance_private.raise_error('GRSLF', 'an approver cannot grant access to themself',
      'Ask another approver.');
  end if;
  perform compliance_private.check_grant_request(patient, scope, purpose, reason, 'assignment');
  insert into compliance.access_grants as g (grantee, user_id, scope, purpose, reason, kind, requested_by,
    approved_by, approved_at, starts_at, expires_at)
  values (grant_access.grantee, patient, grant_access.scope, grant_access.purpose, grant_access.reason, 'assignment',
    compliance.current_actor(), compliance.current_actor(), now(), now(), now() + compliance_private.grant_duration(days))
  returning g.* into v_row;
  perform compliance_private.audit_access_grant('access.granted', v_row);
  return v_row;
end;
$function$;

comment on function compliance.grant_access(grantee text, patient text, scope text, purpose text, reason text, days integer) is
  'An approver gives a workforce member (grantee, never themself: GRSLF) access to a patient''s health records at once, for days (default and maximum from access_grant_settings). Audited as access.granted. Errors: GRSLF, BADRG, GRRSN, UNKSJ, ERASD.';

-- included from fixtures/workforce/break_glass.sql
-- compliance.break_glass(patient text, reason text, scope text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.break_glass(patient text, reason text, scope text DEFAULT 'phi.read'::text)
 RETURNS compliance.access_grants
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_settings compliance.access_grant_settings;
  v_row compliance.access_grants;
begin
  perform compliance_private.require_context_subject();
  perform compliance_private.check_grant_request(patient, scope, 'emergency', reason, 'emergency');
  -- one emergency per workforce member and patient at a time: a second call waits for the
  -- first, then finds it
  perform pg_advisory_xact_lock(hashtextextended('pgcomply.break_glass:' || compliance.current_actor() || ':' || patient, 0));
  select g.* into v_row from compliance.access_grants g
   where g.grantee = compliance.current_actor() and g.user_id = break_glass.patient and g.kind = 'emergency'
     and g.scope = break_glass.scope and g.revoked_at is null and clock_timestamp() < g.expires_at
   order by g.id desc limit 1;
  if found then
    -- the hours never stack
    return v_row;
  end if;
  select * into strict v_settings from compliance.access_grant_settings;
  insert into compliance.access_grants as g (grantee, user_id, scope, purpose, reason, kind, requested_by,
    starts_at, expires_at, review_due_at)
  values (compliance.current_actor(), patient, break_glass.scope, 'emergency', break_glass.reason, 'emergency',
    compliance.current_actor(), now(), now() + make_interval(secs => v_settings.emergency_hours * 3600),
    now() + make_interval(hours => v_settings.emergency_review_hours))
  returning g.* into v_row;
  perform compliance_private.audit_access_grant('access.emergency', v_row);
  perform compliance_private.raise_alert('phi.emergency_access',
    jsonb_build_object('grant_id', v_row.id, 'scope', v_row.scope, 'starts_at', v_row.starts_at,
                       'expires_at', v_row.expires_at, 'review_due_at', v_row.review_due_at),
    v_row.user_id, v_row.grantee);
  return v_row;
end;
$function$;

comment on function compliance.break_glass(patient text, reason text, scope text) is
  'Emergency access (HIPAA §164.312(a)(2)(ii) break-the-glass): the acting workforce member gets the patient''s records at once, for purpose emergency, for the configured hours (at most 4). An alert goes out (alert_outbox, in this transaction) and an approver other than them must review it (review_emergency_access) by review_due_at. Called again while one is active, it returns that grant: the hours never stack. Audited as access.emergency. Errors: GRRSN (a reason of at least 20 characters), BADRG, UNKSJ, ERASD.';

-- included from fixtures/workforce/my_access_grants.sql
-- compliance.my_access_grants(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.my_access_grants()
 RETURNS SETOF compliance.access_grants
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select g.* from compliance.access_grants g
   where g.grantee = compliance_private.require_context_subject()
   order by g.requested_at desc, g.id desc;
$function$;

comment on function compliance.my_access_grants() is
  'The acting workforce member''s grants and requests, newest first, whatever their state. Errors: NOCTX without a request context.';

-- included from fixtures/workforce/pending_access_requests.sql
-- compliance.pending_access_requests(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.pending_access_requests()
 RETURNS SETOF compliance.access_grants
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select g.* from compliance.access_grants g
   where g.kind = 'assignment' and g.approved_at is null and g.denied_at is null and g.revoked_at is null
   order by g.requested_at, g.id;
$function$;

comment on function compliance.pending_access_requests() is
  'Access requests waiting for an approver, oldest first.';

-- included from fixtures/workforce/grant_for_decision.sql
-- compliance_private.grant_for_decision(grant_id bigint, wanted text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.grant_for_decision(grant_id bigint, wanted text)
 RETURNS compliance.access_grants
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_row compliance.access_grants;
begin
  perform compliance_private.require_context_subject();
  select g.* into v_row from compliance.access_grants g where g.id = grant_id for no key update;
  if not found then
    perform compliance_private.raise_error('GRNOT', format('no access grant %s', coalesce(grant_id::text, 'NULL')), 'Check the grant id.');
  end if;
  -- the one deciding is never the one the grant is for, whatever roles they hold
  if wanted in ('pending', 'emergency_unreviewed') and v_row.grantee = compliance.current_actor() then
    perform compliance_private.raise_error('GRSLF',
      case when wanted = 'pending' then 'nobody approves or denies their own access request' else 'nobody reviews their own emergency access' end,
      'Another approver decides.');
  end if;
  if wanted = 'pending' and (v_row.kind <> 'assignment' or v_row.approved_at is not null or v_row.denied_at is not null or v_row.revoked_at is not null) then
    perform compliance_private.raise_error('GRSTA', format('access grant %s is not a pending request', grant_id),
      'See compliance.pending_access_requests().');
  elsif wanted = 'emergency_unreviewed' and (v_row.kind <> 'emergency' or v_row.reviewed_at is not null) then
    perform compliance_private.raise_error('GRSTA', format('access grant %s is not an emergency access awaiting review', grant_id),
      'See compliance.emergency_review_queue().');
  elsif wanted = 'revocable' and (v_row.revoked_at is not null or v_row.denied_at is not null or v_row.expires_at <= clock_timestamp()) then
    perform compliance_private.raise_error('GRSTA', format('access grant %s is not active or pending: nothing to revoke', grant_id));
  end if;
  return v_row;
end;
$function$;

comment on function compliance_private.grant_for_decision(grant_id bigint, wanted text) is
  'Locks a grant for a decision and checks it is in the state the decision needs (wanted: pending, emergency_unreviewed, revocable): GRNOT if there is no such grant, GRSTA if it is in another state, GRSLF if the one deciding is its grantee.';

-- included from fixtures/workforce/approve_access_request.sql
-- compliance.approve_access_request(grant_id bigint, days integer): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.approve_access_request(grant_id bigint, days integer DEFAULT NULL::integer)
 RETURNS compliance.access_grants
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_row compliance.access_grants := compliance_private.grant_for_decision(grant_id, 'pending');
begin
  update compliance.access_grants g
     set approved_by = compliance.current_actor(), approved_at = now(), starts_at = now(),
         expires_at = now() + compliance_private.grant_duration(days)
   where g.id = v_row.id
  returning g.* into v_row;
  perform compliance_private.audit_access_grant('access.approved', v_row);
  return v_row;
end;
$function$;

comment on function compliance.approve_access_request(grant_id bigint, days integer) is
  'An approver approves a pending request: access starts now and lasts days (default and maximum from access_grant_settings). Audited as access.approved. Errors: GRSLF (the request is the approver''s own), GRNOT, GRSTA (not pending), BADRG.';

-- included from fixtures/workforce/deny_access_request.sql
-- compliance.deny_access_request(grant_id bigint, note text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.deny_access_request(grant_id bigint, note text DEFAULT NULL::text)
 RETURNS compliance.access_grants
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_row compliance.access_grants := compliance_private.grant_for_decision(grant_id, 'pending');
begin
  update compliance.access_grants g
     set denied_by = compliance.current_actor(), denied_at = now()
   where g.id = v_row.id
  returning g.* into v_row;
  perform compliance_private.audit_access_grant('access.denied', v_row, note);
  return v_row;
end;
$function$;

comment on function compliance.deny_access_request(grant_id bigint, note text) is
  'An approver denies a pending request, with an optional note (audited in the personal part). Audited as access.denied. Errors: GRSLF, GRNOT, GRSTA.';

-- included from fixtures/workforce/revoke_access_grant.sql
-- compliance.revoke_access_grant(grant_id bigint, note text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.revoke_access_grant(grant_id bigint, note text DEFAULT NULL::text)
 RETURNS compliance.access_grants
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_row compliance.access_grants := compliance_private.grant_for_decision(grant_id, 'revocable');
begin
  update compliance.access_grants g
     set revoked_by = compliance.current_actor(), revoked_at = clock_timestamp()
   where g.id = v_row.id
  returning g.* into v_row;
  perform compliance_private.audit_access_grant('access.revoked', v_row, note);
  return v_row;
end;
$function$;

comment on function compliance.revoke_access_grant(grant_id bigint, note text) is
  'An approver or the DPO ends a grant (active or pending) now: the next access under it is refused (grant_revoked). Audited as access.revoked. Errors: GRNOT, GRSTA (already revoked, denied or expired).';

-- included from fixtures/workforce/emergency_review_queue.sql
-- compliance.emergency_review_queue(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.emergency_review_queue()
 RETURNS TABLE(grant_id bigint, grantee text, patient text, scope text, reason text, starts_at timestamp with time zone, expires_at timestamp with time zone, review_due_at timestamp with time zone, days_left numeric, overdue boolean, overdue_total bigint)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select g.id, g.grantee, g.user_id, g.scope, g.reason, g.starts_at, g.expires_at, g.review_due_at,
         round(extract(epoch from g.review_due_at - now()) / 86400, 1),
         g.review_due_at < now(),
         count(*) filter (where g.review_due_at < now()) over ()
    from compliance.access_grants g
   where g.kind = 'emergency' and g.reviewed_at is null
   order by g.review_due_at, g.id;
$function$;

comment on function compliance.emergency_review_queue() is
  'Emergency accesses no one has reviewed yet, most urgent first: the days left until the review is due (negative once overdue), whether it is overdue, and how many are overdue in all.';

-- included from fixtures/workforce/review_emergency_access.sql
-- compliance.review_emergency_access(grant_id bigint, outcome text, note text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.review_emergency_access(grant_id bigint, outcome text, note text DEFAULT NULL::text)
 RETURNS compliance.access_grants
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_row compliance.access_grants;
begin
  if outcome is null or outcome not in ('appropriate', 'inappropriate') then
    perform compliance_private.raise_error('BADRG', format('outcome %L is unknown', outcome), 'Use appropriate or inappropriate.');
  end if;
  v_row := compliance_private.grant_for_decision(grant_id, 'emergency_unreviewed');
  update compliance.access_grants g
     set reviewed_by = compliance.current_actor(), reviewed_at = now(), review_outcome = outcome, review_note = note,
         -- an inappropriate access ends now if it still runs
         revoked_at = case when outcome = 'inappropriate' and g.revoked_at is null and g.expires_at > clock_timestamp() then clock_timestamp() else g.revoked_at end,
         revoked_by = case when outcome = 'inappropriate' and g.revoked_at is null and g.expires_at > clock_timestamp() then compliance.current_actor() else g.revoked_by end
   where g.id = v_row.id
  returning g.* into v_row;
  perform compliance_private.audit_access_grant('access.reviewed', v_row, note);
  if outcome = 'inappropriate' then
    perform compliance_private.raise_alert('phi.emergency_review_inappropriate',
      jsonb_build_object('grant_id', v_row.id, 'reviewed_at', v_row.reviewed_at, 'starts_at', v_row.starts_at,
                         'expires_at', v_row.expires_at),
      v_row.user_id, v_row.grantee);
  end if;
  return v_row;
end;
$function$;

comment on function compliance.review_emergency_access(grant_id bigint, outcome text, note text) is
  'An approver other than the grantee reviews an emergency access after the fact: appropriate, or inappropriate (which ends it if it still runs and raises an alert). Audited as access.reviewed. Errors: GRSLF (their own), GRNOT, GRSTA (not an unreviewed emergency), BADRG.';

-- included from fixtures/workforce/claim_alerts.sql
-- compliance.claim_alerts(lease_seconds integer, max_rows integer): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.claim_alerts(lease_seconds integer DEFAULT 60, max_rows integer DEFAULT 20)
 RETURNS TABLE(id bigint, topic text, payload jsonb, user_id text, actor_id text, created_at timestamp with time zone, attempts integer)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  if lease_seconds is null or lease_seconds not between 1 and 3600 or max_rows is null or max_rows not between 1 and 1000 then
    perform compliance_private.raise_error('BADRG', 'lease_seconds must be 1 to 3600 and max_rows 1 to 1000');
  end if;
  -- a claim is a lease: the attempt is counted and the alert is not due again until the lease
  -- ends, so a worker that dies mid-delivery leaves it to the next one
  return query
    update compliance.alert_outbox a
       set attempts = a.attempts + 1, last_attempt_at = now(), next_attempt_at = now() + make_interval(secs => lease_seconds)
     where a.id in (select d.id from compliance.alert_outbox d
                     where d.state = 'pending' and d.next_attempt_at <= now()
                     order by d.next_attempt_at, d.id
                     limit max_rows
                       for update skip locked)
    returning a.id, a.topic, a.payload, a.user_id, a.actor_id, a.created_at, a.attempts;
end;
$function$;

comment on function compliance.claim_alerts(lease_seconds integer, max_rows integer) is
  'The worker takes up to max_rows due alerts for delivery, leasing each for lease_seconds (an alert whose worker dies is due again when the lease ends) and counting the attempt. Commit the claim before delivering. Worker role only. Errors: BADRG.';

-- included from fixtures/workforce/record_alert_delivery.sql
-- compliance.record_alert_delivery(alert_id bigint, outcome text, error text, retry_in_seconds integer): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.record_alert_delivery(alert_id bigint, outcome text, error text DEFAULT NULL::text, retry_in_seconds integer DEFAULT NULL::integer)
 RETURNS compliance.alert_outbox
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_row compliance.alert_outbox;
begin
  if outcome is null or outcome not in ('webhook', 'log', 'retry', 'failed') then
    perform compliance_private.raise_error('BADRG', format('outcome %L is unknown', outcome), 'Use webhook, log, retry or failed.');
  end if;
  if outcome = 'retry' and (retry_in_seconds is null or retry_in_seconds not between 1 and 86400) then
    perform compliance_private.raise_error('BADRG', 'a retry needs retry_in_seconds between 1 and 86400');
  end if;
  update compliance.alert_outbox a
     set state = case outcome when 'retry' then 'pending' when 'failed' then 'failed' else 'delivered' end,
         delivered_at = case when outcome in ('webhook', 'log') then now() end,
         delivered_via = case when outcome in ('webhook', 'log') then outcome end,
         next_attempt_at = case when outcome = 'retry' then now() + make_interval(secs => retry_in_seconds) else a.next_attempt_at end,
         last_error = left(error, 1000)
   where a.id = alert_id and a.state = 'pending'
  returning a.* into v_row;
  if not found then
    perform compliance_private.raise_error('GRNOT', format('no pending alert %s', coalesce(alert_id::text, 'NULL')));
  end if;
  return v_row;
end;
$function$;

comment on function compliance.record_alert_delivery(alert_id bigint, outcome text, error text, retry_in_seconds integer) is
  'The worker records what became of an attempt: delivered by webhook or to the log, retry (after retry_in_seconds, with the error), or failed for good (with the error). Worker role only. Errors: BADRG, GRNOT (not pending).';

drop function compliance.phi_access_log(bigint, integer);
-- included from fixtures/health/phi_access_log.sql
-- compliance.phi_access_log(before_id bigint, page_size integer): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.phi_access_log(before_id bigint DEFAULT NULL::bigint, page_size integer DEFAULT 50)
 RETURNS TABLE(id bigint, occurred_at timestamp with time zone, action text, actor_id text, actor_role text, purpose text, record_ids jsonb, outcome text, failure_reason text, grant_id bigint, emergency boolean)
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_subject text := compliance_private.require_context_subject();
begin
  if page_size is null or page_size not between 1 and 500 then
    perform compliance_private.raise_error('BADRG', 'page_size must be between 1 and 500');
  end if;
  -- the actor's network address and user agent are the actor's personal data, not the patient's
  return query
    select a.id, a.occurred_at, a.action, a.actor_id,
           coalesce(a.details ->> 'actor_role',
                    case when a.actor_id is null or a.actor_id like 'pgcomply\_%' then 'system'
                         when a.actor_id = v_subject then 'patient' else 'dpo' end),
           a.details ->> 'purpose', coalesce(a.details -> 'record_ids', '[]'::jsonb), a.outcome, a.failure_reason,
           (a.details ->> 'grant_id')::bigint, coalesce(a.details ->> 'grant_kind' = 'emergency', false)
      from compliance.audit_logs a
     where a.user_id = v_subject
       and a.action <> 'phi.unusual_access'
       and (a.action like 'phi.%' or a.actor_id is distinct from v_subject)
       and (phi_access_log.before_id is null or a.id < phi_access_log.before_id)
     order by a.id desc
     limit page_size;
end;
$function$;

comment on function compliance.phi_access_log(before_id bigint, page_size integer) is
  '"Who accessed my data" for the request''s subject, newest first, a page at a time (before_id: the last id of the previous page): every access to their health records and every refused attempt (phi.*), and every action someone else (the DPO, the system) took about them: when, who, in which role, for what purpose, which records, the outcome, and the access grant with whether it was an emergency (break-glass) access. Errors: NOCTX without a request context, BADRG.';

drop function compliance.phi_audit_events(text, timestamptz, bigint, integer);
-- included from fixtures/health/phi_audit_events.sql
-- compliance.phi_audit_events(patient text, since timestamp with time zone, after_id bigint, max_rows integer): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.phi_audit_events(patient text DEFAULT NULL::text, since timestamp with time zone DEFAULT NULL::timestamp with time zone, after_id bigint DEFAULT 0, max_rows integer DEFAULT 200)
 RETURNS TABLE(id bigint, occurred_at timestamp with time zone, action text, outcome text, failure_reason text, user_id text, actor_id text, actor_role text, purpose text, intent text, record_ids jsonb, ip_address text, user_agent text, grant_id bigint, grant_kind text)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_count bigint;
  v_known boolean := false;
begin
  if max_rows is null or max_rows not between 1 and 1000 then
    perform compliance_private.raise_error('BADRG', 'max_rows must be between 1 and 1000');
  end if;
  if patient is not null then
    perform from compliance.user_profiles p where p.user_id = phi_audit_events.patient for key share;
    v_known := found;
  end if;
  return query
    select a.id, a.occurred_at, a.action, a.outcome, a.failure_reason, a.user_id, a.actor_id,
           a.details ->> 'actor_role', a.details ->> 'purpose', a.details ->> 'intent',
           coalesce(a.details -> 'record_ids', '[]'::jsonb), host(a.ip_address), a.user_agent,
           (a.details ->> 'grant_id')::bigint, a.details ->> 'grant_kind'
      from compliance.audit_logs a
     where a.action in ('phi.read', 'phi.created', 'phi.updated', 'phi.deleted', 'phi.denied', 'phi.integrity_failure')
       and (phi_audit_events.patient is null or a.user_id = phi_audit_events.patient)
       and (phi_audit_events.since is null or a.occurred_at >= phi_audit_events.since)
       and a.id > coalesce(phi_audit_events.after_id, 0)
     order by a.id
     limit max_rows;
  get diagnostics v_count = row_count;
  -- reading who accessed a patient's records is itself an access to personal data; an unknown
  -- or erased patient is not named
  perform compliance_private.append_audit('audit.phi_events_read', 'hipaa', 'audit_log', null,
    jsonb_build_object('rows', v_count, 'since', since, 'after_id', after_id, 'one_patient', patient is not null),
    case when v_known then patient end);
end;
$function$;

comment on function compliance.phi_audit_events(patient text, since timestamp with time zone, after_id bigint, max_rows integer) is
  'The PHI access log (phi.read, created, updated, deleted, denied, integrity_failure), oldest first from after_id, for one patient or all, since a time: who, in which role, from which address, for what purpose, which records, under which access grant, the outcome. The server turns it into FHIR AuditEvent resources. For the DPO and the auditor; each call is audited (audit.phi_events_read). Errors: BADRG.';

-- included from fixtures/access/access_grants.owner_routines.sql
-- policy owner_routines on compliance.access_grants: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance.access_grants;
create policy owner_routines on compliance.access_grants as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance.access_grants is 'Grants change and are read only through the grant functions (SECURITY DEFINER, running as the owner).';

-- included from fixtures/access/access_grant_settings.owner_routines.sql
-- policy owner_routines on compliance.access_grant_settings: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance.access_grant_settings;
create policy owner_routines on compliance.access_grant_settings as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance.access_grant_settings is 'The grant functions (SECURITY DEFINER) read the settings.';

-- included from fixtures/access/access_grant_settings.review_roles.sql
-- policy review_roles on compliance.access_grant_settings: its current definition (db/CONVENTIONS.md).

drop policy if exists review_roles on compliance.access_grant_settings;
create policy review_roles on compliance.access_grant_settings as permissive for all to compliance_dpo, compliance_approver, compliance_auditor
  using (true)
  with check (true);
comment on policy review_roles on compliance.access_grant_settings is 'The one settings row is visible to the DPO, approvers and auditors; the grants decide that only the DPO may change it.';

-- included from fixtures/access/alert_outbox.owner_routines.sql
-- policy owner_routines on compliance.alert_outbox: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance.alert_outbox;
create policy owner_routines on compliance.alert_outbox as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance.alert_outbox is 'Alerts are written by raise_alert and delivered through claim_alerts and record_alert_delivery (SECURITY DEFINER, running as the owner).';

-- included from fixtures/access/alert_outbox.readers.sql
-- policy readers on compliance.alert_outbox: its current definition (db/CONVENTIONS.md).

drop policy if exists readers on compliance.alert_outbox;
create policy readers on compliance.alert_outbox as permissive for select to compliance_dpo, compliance_auditor
  using (true);
comment on policy readers on compliance.alert_outbox is 'The DPO and auditors see every alert and its delivery (evidence that alerts went out).';

-- included from fixtures/subject-rights/erase_subject_core.sql
-- compliance_private.erase_subject_core(user_id text, reason text, confirm boolean, requested_by text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.erase_subject_core(user_id text, reason text, confirm boolean, requested_by text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_counts jsonb := '{}';
  v_count bigint;
  v_redacted bigint;
  v_subject_rows jsonb;
  v_actor_rows jsonb;
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
  foreach v_table in array array['health_records', 'access_grants', 'messages', 'conversations', 'consent_records', 'sessions',
                                 'user_preferences', 'legal_holds'] loop
    execute format('delete from compliance.%I t where t.user_id = $1', v_table) using user_id;
    get diagnostics v_count = row_count;
    v_counts := v_counts || jsonb_build_object(v_table, v_count);
  end loop;
  -- crypto-shredding: without the wrapped data key, the patient's ciphertext that WAL, replicas
  -- or a later restore may still hold cannot be decrypted with the live database's keys
  delete from compliance_private.subject_keys k where k.user_id = erase_subject_core.user_id;
  get diagnostics v_count = row_count;
  v_counts := v_counts || jsonb_build_object('subject_keys', v_count);

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

  -- other patients' records keep their content, never who recorded them
  update compliance.health_records h set recorded_by = null where h.recorded_by = erase_subject_core.user_id;
  get diagnostics v_count = row_count;
  v_counts := v_counts || jsonb_build_object('health_records_anonymised', v_count);

  -- other patients' grants keep their dates and terms, never who held, asked for or decided them
  update compliance.access_grants g
     set grantee = nullif(g.grantee, erase_subject_core.user_id),
         requested_by = nullif(g.requested_by, erase_subject_core.user_id),
         approved_by = nullif(g.approved_by, erase_subject_core.user_id),
         denied_by = nullif(g.denied_by, erase_subject_core.user_id),
         revoked_by = nullif(g.revoked_by, erase_subject_core.user_id),
         reviewed_by = nullif(g.reviewed_by, erase_subject_core.user_id)
   where erase_subject_core.user_id in (g.grantee, g.requested_by, g.approved_by, g.denied_by, g.revoked_by, g.reviewed_by);
  get diagnostics v_count = row_count;
  v_counts := v_counts || jsonb_build_object('access_grants_anonymised', v_count);
  update compliance.alert_outbox a
     set user_id = nullif(a.user_id, erase_subject_core.user_id), actor_id = nullif(a.actor_id, erase_subject_core.user_id)
   where erase_subject_core.user_id in (a.user_id, a.actor_id);
  get diagnostics v_count = row_count;
  v_counts := v_counts || jsonb_build_object('alerts_anonymised', v_count);

  -- holds on other subjects keep their dates and reasons, never who placed or released them
  update compliance.legal_holds h
     set placed_by = case when h.placed_by = erase_subject_core.user_id then null else h.placed_by end,
         released_by = case when h.released_by = erase_subject_core.user_id then null else h.released_by end
   where h.placed_by = erase_subject_core.user_id or h.released_by = erase_subject_core.user_id;
  get diagnostics v_count = row_count;
  v_counts := v_counts || jsonb_build_object('legal_holds_anonymised', v_count);

  -- the subject's part of rows about them, the actor's part of rows where they acted: a DPO who
  -- handled the subject stays on record. Layout-1 rows have one personal part and lose it whole.
  with targets as (
    select a.id, a.occurred_at, a.user_id = erase_subject_core.user_id as subject,
           coalesce(a.actor_id = erase_subject_core.user_id, false) as actor, a.subject_part_digest is null as layout1
      from compliance.audit_logs a
     where a.user_id = erase_subject_core.user_id or a.actor_id = erase_subject_core.user_id
  ), redacted as (
    update compliance.audit_logs a
       set user_id = case when t.subject or t.layout1 then null else a.user_id end,
           personal_details = case when t.subject or t.layout1 then null else a.personal_details end,
           subject_part_salt = case when t.subject then null else a.subject_part_salt end,
           actor_id = case when t.actor or t.layout1 then null else a.actor_id end,
           ip_address = case when t.actor or t.layout1 then null else a.ip_address end,
           user_agent = case when t.actor or t.layout1 then null else a.user_agent end,
           actor_part_salt = case when t.actor then null else a.actor_part_salt end,
           personal_salt = null,
           redacted_at = now()
      from targets t
     where a.id = t.id and a.occurred_at = t.occurred_at
    returning a.id, t.subject, t.actor
  )
  select count(*), coalesce(jsonb_agg(r.id order by r.id) filter (where r.subject), '[]'),
         coalesce(jsonb_agg(r.id order by r.id) filter (where r.actor), '[]')
    into v_redacted, v_subject_rows, v_actor_rows
    from redacted r;

  insert into compliance_private.erased_subjects (subject_digest) values (compliance_private.subject_digest(user_id));
  perform compliance_private.end_bulk_operation();

  -- counts, never identity: no subject, and no actor or client when the subject asked
  perform compliance_private.append_audit('subject.erased', 'gdpr', 'dsr_request', v_request_id::text,
    -- the rows it redacted, so verification can tell these redactions from any other
    jsonb_build_object('deleted', v_counts, 'audit_rows_redacted', v_redacted, 'requested_by', requested_by,
                       'redacted_subject_rows', v_subject_rows, 'redacted_actor_rows', v_actor_rows),
    null, jsonb_build_object('reason', reason), 'success', null,
    case when requested_by = 'subject' then null else compliance.current_actor() end,
    requested_by <> 'subject');

  return jsonb_build_object('erased', true, 'erased_at', now(), 'dsr_request_id', v_request_id,
    'deleted', v_counts, 'audit_rows_redacted', v_redacted);
end;
$function$;

comment on function compliance_private.erase_subject_core(user_id text, reason text, confirm boolean, requested_by text) is
  'The erasure transaction; see compliance.erase_subject.';

revoke all on function compliance.request_access(text, text, text, text), compliance.grant_access(text, text, text, text, text, integer),
  compliance.break_glass(text, text, text), compliance.my_access_grants(), compliance.pending_access_requests(),
  compliance.approve_access_request(bigint, integer), compliance.deny_access_request(bigint, text),
  compliance.revoke_access_grant(bigint, text), compliance.emergency_review_queue(),
  compliance.review_emergency_access(bigint, text, text), compliance.claim_alerts(integer, integer),
  compliance.record_alert_delivery(bigint, text, text, integer), compliance.phi_access_log(bigint, integer),
  compliance.phi_audit_events(text, timestamptz, bigint, integer)
  from public;
grant execute on function compliance.request_access(text, text, text, text), compliance.break_glass(text, text, text),
  compliance.my_access_grants() to compliance_staff;
grant execute on function compliance.grant_access(text, text, text, text, text, integer), compliance.pending_access_requests(),
  compliance.approve_access_request(bigint, integer), compliance.deny_access_request(bigint, text),
  compliance.revoke_access_grant(bigint, text), compliance.emergency_review_queue(),
  compliance.review_emergency_access(bigint, text, text) to compliance_approver;
grant execute on function compliance.revoke_access_grant(bigint, text), compliance.emergency_review_queue() to compliance_dpo;
grant execute on function compliance.claim_alerts(integer, integer), compliance.record_alert_delivery(bigint, text, text, integer) to compliance_worker;
grant execute on function compliance.phi_access_log(bigint, integer) to compliance_app;
grant execute on function compliance.phi_audit_events(text, timestamptz, bigint, integer) to compliance_dpo, compliance_auditor;
