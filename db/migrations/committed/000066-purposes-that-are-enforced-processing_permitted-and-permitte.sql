--! Previous: sha1:b2433aef3bf0e28db29121b95a0f57362034f6a8
--! Hash: sha1:ee7eaa543502706184ba5de0a6ff96ae19dd1919
--! Message: Purposes that are enforced: processing_permitted and permitted_subjects answer from consent, objections and restrictions

-- Purposes that are enforced: compliance.processing_permitted and permitted_subjects answer from
-- each activity's legal bases, the subject's consent, objections (Art. 21) and restrictions
-- (Art. 18), which take effect in the transaction that records them.

alter table compliance.dsr_requests add column if not exists processing_activity text;
comment on column compliance.dsr_requests.processing_activity is 'For an objection: the processing activity objected to (compliance.processing_activities; NULL: every activity on legitimate interest or public task).';
grant select (processing_activity) on compliance.dsr_requests to compliance_app, compliance_dpo;
-- a request is closed by compliance.complete_dsr, which puts an objection or a restriction in force
revoke update (status, completed_at, handled_by) on compliance.dsr_requests from compliance_dpo;

create table if not exists compliance.processing_limits (
  id bigint generated always as identity,
  user_id text not null,
  kind text not null,
  activity text,
  request_id bigint,
  started_at timestamptz not null default now(),
  lifted_at timestamptz,
  lift_reason text,
  constraint processing_limits_pkey primary key (id),
  constraint processing_limits_user_id_fkey foreign key (user_id) references compliance.user_profiles (user_id) on delete cascade,
  constraint processing_limits_request_id_fkey foreign key (request_id) references compliance.dsr_requests (id) on delete set null,
  constraint processing_limits_kind_known check (kind in ('objection', 'restriction')),
  constraint processing_limits_restriction_whole check (kind = 'objection' or activity is null),
  constraint processing_limits_lift_reason_length check (length(lift_reason) <= 1000),
  constraint processing_limits_lifted_after_start check (lifted_at is null or lifted_at >= started_at)
);
create index if not exists processing_limits_in_force_idx on compliance.processing_limits (user_id, kind) where lifted_at is null;
create index if not exists processing_limits_user_id_idx on compliance.processing_limits (user_id);
create index if not exists processing_limits_request_id_idx on compliance.processing_limits (request_id);
comment on table compliance.processing_limits is
  'Objections (GDPR Art. 21) and restrictions (Art. 18) of a subject, in force until lifted. An objection names its activity by key, without a foreign key, so that it outlives the activity''s removal and applies again if the activity comes back. Erased with the subject.';
comment on column compliance.processing_limits.id is 'The objection or restriction.';
comment on column compliance.processing_limits.user_id is 'Personal: the subject.';
comment on column compliance.processing_limits.kind is 'objection (to one activity, or to all on legitimate interest when activity is NULL) or restriction (of all processing).';
comment on column compliance.processing_limits.activity is 'For an objection: the activity objected to.';
comment on column compliance.processing_limits.request_id is 'The data subject request it came from.';
comment on column compliance.processing_limits.started_at is 'When it took effect.';
comment on column compliance.processing_limits.lifted_at is 'When it was lifted (the subject withdrew an objection, or the DPO lifted it); NULL while in force.';
comment on column compliance.processing_limits.lift_reason is 'Personal: why it was lifted.';
alter table compliance.processing_limits enable row level security;
alter table compliance.processing_limits force row level security;
-- included from fixtures/processing/processing_limits.owner_routines.sql
-- policy owner_routines on compliance.processing_limits: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance.processing_limits;
create policy owner_routines on compliance.processing_limits as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance.processing_limits is 'Objections and restrictions are recorded and lifted only by the routines (object_to_processing, restrict_processing, complete_dsr, lift_processing_limit), which audit each, and deleted by erasure.';

-- included from fixtures/processing/processing_limits.subject_own_rows.sql
-- policy subject_own_rows on compliance.processing_limits: its current definition (db/CONVENTIONS.md).

drop policy if exists subject_own_rows on compliance.processing_limits;
create policy subject_own_rows on compliance.processing_limits as permissive for select to compliance_app
  using ((user_id = ( SELECT compliance.current_subject() AS current_subject)));
comment on policy subject_own_rows on compliance.processing_limits is 'A subject sees its own objections and restrictions.';

-- included from fixtures/processing/processing_limits.dpo_every_subject.sql
-- policy dpo_every_subject on compliance.processing_limits: its current definition (db/CONVENTIONS.md).

drop policy if exists dpo_every_subject on compliance.processing_limits;
create policy dpo_every_subject on compliance.processing_limits as permissive for select to compliance_dpo
  using (true);
comment on policy dpo_every_subject on compliance.processing_limits is 'The DPO sees every objection and restriction; changes go through the routines.';

grant select on compliance.processing_limits to compliance_app, compliance_dpo;

-- included from fixtures/processing/require_activity.sql
-- compliance_private.require_activity(activity text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.require_activity(activity text)
 RETURNS void
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  if not exists (select from compliance.processing_activities a where a.activity = require_activity.activity) then
    perform compliance_private.raise_error('PRACT', format('no processing activity %L', coalesce(activity, 'NULL')),
      'See compliance.processing_record() for the activities; the DPO records one with compliance.record_processing_activity.');
  end if;
end;
$function$;

comment on function compliance_private.require_activity(activity text) is
  'Raises PRACT unless the processing activity exists.';

-- included from fixtures/processing/permitted_subjects_of.sql
-- compliance_private.permitted_subjects_of(activity text, only_subject text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.permitted_subjects_of(activity text, only_subject text DEFAULT NULL::text)
 RETURNS SETOF text
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select s.user_id
    from compliance.user_profiles s
   where (only_subject is null or s.user_id = only_subject)
     -- no purpose, no legal basis: nothing is permitted
     and exists (select from compliance.processing_activity_purposes p where p.activity = permitted_subjects_of.activity)
     -- a restriction stops every basis (Art. 18)
     and not exists (select from compliance.processing_limits l
                      where l.user_id = s.user_id and l.kind = 'restriction' and l.lifted_at is null)
     and not exists (
       select from compliance.processing_activity_purposes p
        where p.activity = permitted_subjects_of.activity
          and (p.legal_basis is null
               -- consent: the subject's consent in force for the consent purpose (Art. 6(1)(a), 7(3))
               or (p.legal_basis = 'consent'
                   and not coalesce((select c.granted from compliance.consent_records c
                                      where c.user_id = s.user_id and c.purpose = p.consent_purpose
                                      order by c.recorded_at desc, c.id desc limit 1), false))
               -- an objection stops legitimate interest and public task (Art. 21(1)), and direct
               -- marketing whatever its basis (Art. 21(3))
               or ((p.legal_basis in ('legitimate_interest', 'public_task') or p.direct_marketing)
                   and exists (select from compliance.processing_limits l
                                where l.user_id = s.user_id and l.kind = 'objection' and l.lifted_at is null
                                  and (l.activity = p.activity or l.activity is null)))));
$function$;

comment on function compliance_private.permitted_subjects_of(activity text, only_subject text) is
  'The one definition of who an activity may process (only_subject: just that one): the activity has purposes, each with a legal basis; consent: the subject''s current consent for its consent purpose; legitimate interest, public task and direct marketing: no objection in force (to this activity or to all); and no restriction in force. compliance.processing_permitted and permitted_subjects both read it.';

-- included from fixtures/processing/processing_permitted.sql
-- compliance.processing_permitted(user_id text, activity text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.processing_permitted(user_id text, activity text)
 RETURNS boolean
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  perform compliance_private.require_activity(activity);
  if compliance_private.acting_for_one_subject() and user_id is distinct from compliance.current_subject() then
    perform compliance_private.raise_error('OTHSJ', 'the app role may ask only about the subject it acts for');
  end if;
  return exists (select from compliance_private.permitted_subjects_of(activity, user_id));
end;
$function$;

comment on function compliance.processing_permitted(user_id text, activity text) is
  'Whether the activity may process the subject now, from its legal bases (compliance_private.permitted_subjects_of): consent in force, no objection, no restriction. False for an unknown or erased subject. Call it before each processing; one index probe per purpose. The app may ask about its own subject only (OTHSJ). Errors: PRACT unknown activity, OTHSJ.';

-- included from fixtures/processing/permitted_subjects.sql
-- compliance.permitted_subjects(activity text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.permitted_subjects(activity text)
 RETURNS TABLE(user_id text)
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  perform compliance_private.require_activity(activity);
  return query select s from compliance_private.permitted_subjects_of(activity) s order by 1;
end;
$function$;

comment on function compliance.permitted_subjects(activity text) is
  'The subjects the activity may process now, e.g. a mailing list: select user_id from compliance.permitted_subjects(''marketing''). A withdrawal, objection or restriction takes effect in the transaction that records it. The DPO and the worker may call it; grant execute to your own application''s role to let it build lists (it returns user ids only). Errors: PRACT unknown activity.';

-- included from fixtures/processing/start_processing_limit.sql
-- compliance_private.start_processing_limit(user_id text, kind text, activity text, request_id bigint): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.start_processing_limit(user_id text, kind text, activity text, request_id bigint)
 RETURNS bigint
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_id bigint;
begin
  -- one in force at a time: a second objection to the same activity changes nothing
  select l.id into v_id from compliance.processing_limits l
   where l.user_id = start_processing_limit.user_id and l.kind = start_processing_limit.kind
     and l.activity is not distinct from start_processing_limit.activity and l.lifted_at is null;
  if v_id is not null then
    return v_id;
  end if;
  insert into compliance.processing_limits (user_id, kind, activity, request_id)
  values (start_processing_limit.user_id, start_processing_limit.kind, start_processing_limit.activity, start_processing_limit.request_id)
  returning id into v_id;
  perform compliance_private.append_audit(case kind when 'objection' then 'processing.objected' else 'processing.restricted' end, 'gdpr',
    'processing_limit', v_id::text, jsonb_build_object('activity', activity, 'request_id', request_id), user_id);
  return v_id;
end;
$function$;

comment on function compliance_private.start_processing_limit(user_id text, kind text, activity text, request_id bigint) is
  'Puts an objection (to one activity, or to all when activity is NULL) or a restriction of all processing in force for a subject, in the caller''s transaction, audited as processing.objected or processing.restricted; returns the one already in force if there is one.';

-- included from fixtures/processing/complete_restriction.sql
-- compliance_private.complete_restriction(request compliance.dsr_requests): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.complete_restriction(request compliance.dsr_requests)
 RETURNS compliance.dsr_requests
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_request compliance.dsr_requests;
begin
  perform compliance_private.start_processing_limit(request.user_id, 'restriction', null, request.id);
  update compliance.dsr_requests r
     set status = 'completed', completed_at = now(), handled_by = coalesce(r.handled_by, compliance.current_actor())
   where r.id = request.id
  returning r.* into v_request;
  return v_request;
end;
$function$;

comment on function compliance_private.complete_restriction(request compliance.dsr_requests) is
  'Puts a restriction request in force: the restriction of all processing, and the request completed.';

-- included from fixtures/processing/object_to_processing.sql
-- compliance.object_to_processing(user_id text, activity text, notes text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.object_to_processing(user_id text, activity text, notes text DEFAULT NULL::text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_marketing boolean;
  v_objectable boolean;
  v_request compliance.dsr_requests;
  v_limit bigint;
begin
  perform compliance_private.require_activity(activity);
  if compliance_private.acting_for_one_subject() and user_id is distinct from compliance.current_subject() then
    perform compliance_private.raise_error('OTHSJ', 'a subject may object only for itself');
  end if;
  perform compliance_private.require_subject(user_id);
  select bool_or(p.direct_marketing), bool_or(p.direct_marketing or p.legal_basis in ('legitimate_interest', 'public_task'))
    into v_marketing, v_objectable
    from compliance.processing_activity_purposes p where p.activity = object_to_processing.activity;
  if not coalesce(v_objectable, false) then
    perform compliance_private.raise_error('PRNOB', format('activity %s rests on no legitimate interest or public task and is no direct marketing: there is nothing to object to', activity),
      'Where it rests on consent, withdraw the consent; where on a contract or a legal obligation, a restriction or an erasure request applies (GDPR Art. 18, 17).');
  end if;
  perform compliance_private.lock_subject(user_id);
  if v_marketing or not compliance_private.acting_for_one_subject() then
    -- direct marketing stops on the objection alone (Art. 21(3)); a DPO records one decided already
    insert into compliance.dsr_requests (user_id, kind, notes, status, completed_at, handled_by, processing_activity)
    values (object_to_processing.user_id, 'objection', left(object_to_processing.notes, 2000), 'completed', now(),
            compliance_private.handler_for(object_to_processing.user_id), object_to_processing.activity)
    returning * into v_request;
    v_limit := compliance_private.start_processing_limit(user_id, 'objection', activity, v_request.id);
    return jsonb_build_object('request_id', v_request.id, 'in_effect', true, 'limit_id', v_limit);
  end if;
  -- legitimate interest may override (Art. 21(1)): the DPO decides, and completing the request puts it in force
  insert into compliance.dsr_requests (user_id, kind, notes, status, processing_activity)
  values (object_to_processing.user_id, 'objection', left(object_to_processing.notes, 2000), 'received', object_to_processing.activity)
  returning * into v_request;
  return jsonb_build_object('request_id', v_request.id, 'in_effect', false, 'due_at', v_request.due_at);
end;
$function$;

comment on function compliance.object_to_processing(user_id text, activity text, notes text) is
  'The subject objects to an activity (GDPR Art. 21). To direct marketing it takes effect at once and for good (Art. 21(3)). To legitimate interest or public task it registers an objection request that takes effect when the DPO completes it (compliance.complete_dsr), unless the DPO records it, which takes effect at once. processing_permitted and permitted_subjects change in the same transaction. Returns the request id and whether the objection is in effect. Audited (processing.objected). The app acts for its own subject only. Errors: PRACT, PRNOB nothing to object to (consent: withdraw it), OTHSJ, UNKSJ, ERASD.';

-- included from fixtures/processing/restrict_processing.sql
-- compliance.restrict_processing(user_id text, reason text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.restrict_processing(user_id text, reason text)
 RETURNS compliance.dsr_requests
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_request compliance.dsr_requests;
begin
  if nullif(trim(reason), '') is null or length(reason) > 2000 then
    perform compliance_private.raise_error('BADRG', 'say why processing is restricted (1 to 2000 characters): the subject contests accuracy, objected, or needs the data kept (Art. 18(1))');
  end if;
  perform compliance_private.require_subject(user_id);
  perform compliance_private.lock_subject(user_id);
  insert into compliance.dsr_requests (user_id, kind, notes, status, handled_by)
  values (restrict_processing.user_id, 'restriction', trim(reason), 'in_progress', compliance.current_actor())
  returning * into v_request;
  return compliance_private.complete_restriction(v_request);
end;
$function$;

comment on function compliance.restrict_processing(user_id text, reason text) is
  'DPO: restricts all processing of the subject now (GDPR Art. 18): processing_permitted is false and the subject leaves every permitted_subjects list in this transaction, and every system that receives restrictions is told (compliance.propagation_tasks). Registers the request, which completes when every system confirmed. Lift it with compliance.lift_processing_limit, after telling the subject (Art. 18(3)). Audited (processing.restricted). Errors: BADRG without a reason, UNKSJ, ERASD.';

-- included from fixtures/processing/lift_processing_limit.sql
-- compliance.lift_processing_limit(limit_id bigint, reason text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.lift_processing_limit(limit_id bigint, reason text)
 RETURNS compliance.processing_limits
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_limit compliance.processing_limits;
begin
  if nullif(trim(reason), '') is null or length(reason) > 1000 then
    perform compliance_private.raise_error('BADRG', 'say why it is lifted (1 to 1000 characters)');
  end if;
  select * into v_limit from compliance.processing_limits l where l.id = limit_id and l.lifted_at is null for update;
  -- a subject withdraws its own objection; a restriction is the controller's to lift (Art. 18(3))
  if not found or (compliance_private.acting_for_one_subject()
                   and (v_limit.user_id is distinct from compliance.current_subject() or v_limit.kind <> 'objection')) then
    perform compliance_private.raise_error('PRLIM', format('no objection or restriction %s in force that you may lift', coalesce(limit_id::text, 'NULL')));
  end if;
  update compliance.processing_limits l set lifted_at = now(), lift_reason = trim(reason) where l.id = v_limit.id returning l.* into v_limit;
  perform compliance_private.append_audit('processing.limit_lifted', 'gdpr', 'processing_limit', v_limit.id::text,
    jsonb_build_object('kind', v_limit.kind, 'activity', v_limit.activity), v_limit.user_id, jsonb_build_object('reason', v_limit.lift_reason));
  return v_limit;
end;
$function$;

comment on function compliance.lift_processing_limit(limit_id bigint, reason text) is
  'Ends an objection or restriction: the DPO lifts either (a restriction after telling the subject, Art. 18(3)); a subject may withdraw its own objection. Audited (processing.limit_lifted; the reason is the subject''s part, erased with it). Errors: PRLIM none in force that the caller may lift, BADRG without a reason.';

-- included from fixtures/processing/subject_has_rows_in.sql
-- compliance_private.subject_has_rows_in(user_id text, relation regclass): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.subject_has_rows_in(user_id text, relation regclass)
 RETURNS boolean
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_found boolean;
  v_predicate text;
begin
  if exists (select from compliance.personal_tables p where p.relation = subject_has_rows_in.relation) then
    select s.subject_rows into v_predicate from compliance.personal_table_sql(relation) s
     where compliance_private.subject_fits(s.subject_type, subject_has_rows_in.user_id);
    if v_predicate is null then
      return false;
    end if;
  elsif exists (select from pg_catalog.pg_attribute a where a.attrelid = relation and a.attname = 'user_id' and not a.attisdropped) then
    v_predicate := 't.user_id = $1';
  else
    return false;
  end if;
  execute format('select exists (select from %s t where %s)', relation, v_predicate) into v_found using user_id;
  return v_found;
end;
$function$;

comment on function compliance_private.subject_has_rows_in(user_id text, relation regclass) is
  'Whether the subject has a row in the table (pgcomply''s own, by user_id, or a registered one, by its subject column): the privacy center shows the activities that use the subject''s data.';

-- included from fixtures/processing/subject_processing.sql
-- compliance.subject_processing(user_id text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.subject_processing(user_id text)
 RETURNS TABLE(activity text, name text, description text, purposes jsonb, permitted boolean, objection text, objection_limit_id bigint, restricted boolean)
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_restricted boolean;
begin
  if compliance_private.acting_for_one_subject() and user_id is distinct from compliance.current_subject() then
    perform compliance_private.raise_error('OTHSJ', 'a subject sees only its own processing');
  end if;
  perform compliance_private.require_subject(user_id);
  v_restricted := exists (select from compliance.processing_limits l where l.user_id = subject_processing.user_id and l.kind = 'restriction' and l.lifted_at is null);
  return query
    select a.activity, a.name, a.description,
           coalesce((select jsonb_agg(jsonb_build_object('purpose', p.purpose, 'legal_basis', p.legal_basis, 'direct_marketing', p.direct_marketing) order by p.purpose)
                       from compliance.processing_activity_purposes p where p.activity = a.activity), '[]'),
           exists (select from compliance_private.permitted_subjects_of(a.activity, subject_processing.user_id)),
           case when l.id is not null then 'in_effect'
                when exists (select from compliance.dsr_requests r where r.user_id = subject_processing.user_id and r.kind = 'objection'
                               and r.processing_activity = a.activity and r.completed_at is null) then 'pending'
                when exists (select from compliance.processing_activity_purposes p where p.activity = a.activity
                               and (p.direct_marketing or p.legal_basis in ('legitimate_interest', 'public_task'))) then 'available'
                else 'not_applicable' end,
           l.id, v_restricted
      from compliance.processing_activities a
      left join compliance.processing_limits l
        on l.user_id = subject_processing.user_id and l.kind = 'objection' and l.activity = a.activity and l.lifted_at is null
     where exists (select from compliance.processing_activity_tables t where t.activity = a.activity
                     and compliance_private.subject_has_rows_in(subject_processing.user_id, t.relation))
     order by a.name;
end;
$function$;

comment on function compliance.subject_processing(user_id text) is
  'For the privacy center (GDPR Art. 13, 15(1)(a)-(c), 21(4)): each processing activity that uses the subject''s data now, with its purposes and legal bases, whether it may process the subject, and where the subject may object: objection available, pending (the DPO decides), in_effect (with the limit to withdraw it), or not_applicable (consent: withdraw it instead; contract or law). restricted: all processing is restricted. The app sees its own subject only. Errors: OTHSJ, UNKSJ.';

-- included from fixtures/subject-rights/complete_dsr.sql
-- compliance.complete_dsr(request_id bigint, status text, notes text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.complete_dsr(request_id bigint, status text DEFAULT 'completed'::text, notes text DEFAULT NULL::text)
 RETURNS compliance.dsr_requests
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_request compliance.dsr_requests;
begin
  if status not in ('completed', 'rejected') then
    perform compliance_private.raise_error('BADRG', 'status must be completed or rejected');
  end if;
  select * into v_request from compliance.dsr_requests r where r.id = request_id and r.completed_at is null for update;
  if not found then
    perform compliance_private.raise_error('NODSR', format('no open request %s', request_id),
      'See compliance.dsr_open_requests for the open requests.');
  end if;
  if complete_dsr.notes is not null then
    update compliance.dsr_requests r set notes = complete_dsr.notes where r.id = v_request.id returning r.* into v_request;
  end if;
  -- an objection or a restriction takes effect as the DPO completes it, in this transaction
  if status = 'completed' and v_request.user_id is not null then
    if v_request.kind = 'objection' then
      perform compliance_private.start_processing_limit(v_request.user_id, 'objection', v_request.processing_activity, v_request.id);
    elsif v_request.kind = 'restriction' then
      return compliance_private.complete_restriction(v_request);
    end if;
  end if;
  update compliance.dsr_requests r
     set status = complete_dsr.status, completed_at = now(), handled_by = compliance.current_actor()
   where r.id = v_request.id
  returning r.* into v_request;
  return v_request;
end;
$function$;

comment on function compliance.complete_dsr(request_id bigint, status text, notes text) is
  'Closes an open request as completed or rejected, recording who handled it. Completing an objection puts it in force for its activity (or for every activity on legitimate interest when it names none); completing a restriction restricts all processing of the subject (compliance.processing_permitted, permitted_subjects), audited. Errors: NODSR, BADRG.';

-- included from fixtures/subject-rights/erase_subject_core.sql
-- compliance_private.erase_subject_core(user_id text, reason text, confirm boolean, requested_by text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.erase_subject_core(user_id text, reason text, confirm boolean, requested_by text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
 SET plan_cache_mode TO 'force_generic_plan'
 SET jit TO 'off'
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

  -- the duty to review a break-glass access outlives the patient's data (HIPAA
  -- §164.308(a)(1)(ii)(D)): an emergency grant not reviewed yet stays, without the patient
  update compliance.access_grants g set user_id = null
   where g.user_id = erase_subject_core.user_id and g.kind = 'emergency' and g.reviewed_at is null;
  get diagnostics v_count = row_count;
  v_counts := v_counts || jsonb_build_object('emergency_reviews_kept', v_count);

  -- proof of consent (GDPR Art. 7(1)) outlives the person, pseudonymised under the tombstone's
  -- digest, for the defence of legal claims (Art. 17(3)(e)), unless the DPO turned it off: no id,
  -- no IP address, no user agent
  if coalesce((select s.keep_consent_proof from compliance.erasure_settings s), true) then
    insert into compliance.erased_consent_proofs (subject_digest, purpose, granted, policy_version, source, recorded_at, given_at)
    select compliance_private.subject_digest(erase_subject_core.user_id), c.purpose, c.granted, c.policy_version, c.source, c.recorded_at, c.given_at
      from compliance.consent_records c where c.user_id = erase_subject_core.user_id order by c.recorded_at, c.id;
    get diagnostics v_count = row_count;
    v_counts := v_counts || jsonb_build_object('consent_proofs_kept', v_count);
  end if;

  -- your registered tables first: their rows may reference the profile (FKBLK when an
  -- unregistered table's foreign key would block, and nothing is changed)
  v_counts := v_counts || jsonb_build_object('registered_tables', compliance_private.erase_registered_rows(user_id));
  update compliance.personal_tables t set registered_by = null where t.registered_by = erase_subject_core.user_id;
  update compliance.not_personal_columns n set marked_by = null where n.marked_by = erase_subject_core.user_id;

  -- children before the profile so each count is exact
  foreach v_table in array array['health_records', 'access_grants', 'breach_subjects', 'messages', 'conversations', 'consent_records', 'sessions',
                                 'user_preferences', 'legal_holds', 'processing_limits'] loop
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
  update compliance.breaches b
     set opened_by = nullif(b.opened_by, erase_subject_core.user_id), closed_by = nullif(b.closed_by, erase_subject_core.user_id)
   where erase_subject_core.user_id in (b.opened_by, b.closed_by);
  update compliance.alert_outbox a
     set user_id = nullif(a.user_id, erase_subject_core.user_id), actor_id = nullif(a.actor_id, erase_subject_core.user_id)
   where erase_subject_core.user_id in (a.user_id, a.actor_id);
  get diagnostics v_count = row_count;
  v_counts := v_counts || jsonb_build_object('alerts_anonymised', v_count);

  -- reviews, packages and reports keep what was decided and produced, never by or about whom
  update compliance.access_review_items i
     set actor_id = nullif(i.actor_id, erase_subject_core.user_id), granted_by = nullif(i.granted_by, erase_subject_core.user_id),
         decided_by = nullif(i.decided_by, erase_subject_core.user_id)
   where erase_subject_core.user_id in (i.actor_id, i.granted_by, i.decided_by);
  get diagnostics v_count = row_count;
  v_counts := v_counts || jsonb_build_object('access_review_items_anonymised', v_count);
  update compliance.access_review_campaigns c set opened_by = null where c.opened_by = erase_subject_core.user_id;
  update compliance.evidence_packages p set generated_by = null where p.generated_by = erase_subject_core.user_id;
  update compliance.reports r set generated_by = null where r.generated_by = erase_subject_core.user_id;
  update compliance.backup_verifications b set verified_by = null where b.verified_by = erase_subject_core.user_id;

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
  'The erasure transaction; see compliance.erase_subject. Its statements run on generic plans (plan_cache_mode), without JIT compilation (a generic plan''s row estimates over a million subjects passed jit_above_cost, and compiling took longer than the erasure): a custom plan over every audit partition costs more to make than to run, and made a connection''s first five erasures twice as slow as the rest.';

-- included from fixtures/subject-rights/subject_document.sql
-- compliance_private.subject_document(user_id text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.subject_document(user_id text)
 RETURNS json
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  -- json_agg over a row (C row-to-JSON) rather than jsonb_build_object per row: the export is
  -- dominated by per-value formatting
  return (select json_build_object(
    'subject_id', p.user_id,
    'generated_at', now(),
    'profile', (select row_to_json(x) from (select p.user_id, p.username, p.email, p.full_name, p.metadata,
                                                  p.created_at, p.updated_at) x),
    'preferences', (select to_jsonb(pr) - 'user_id' from compliance.user_preferences pr where pr.user_id = p.user_id),
    'consents', coalesce((
      select json_agg(x order by x.purpose, x.recorded_at, x.id)
        from (select c.id, c.purpose, c.granted, c.policy_version, c.source, c.recorded_at,
                     host(c.ip_address) as ip_address, c.user_agent
                from compliance.consent_records c where c.user_id = p.user_id) x), '[]'),
    'conversations', coalesce((
      select json_agg(x order by x.created_at, x.conversation_id)
        from (select cv.conversation_id, cv.title, cv.created_at, cv.last_message_at, cv.archived, cv.metadata,
                     coalesce(m.messages, '[]') as messages
                from compliance.conversations cv
                left join (select m.conversation_id,
                                  json_agg((m.id, m.role, m.content, m.created_at)::compliance_private.exported_message
                                           order by m.id) as messages
                             from compliance.messages m
                            where m.user_id = p.user_id
                            group by m.conversation_id) m on m.conversation_id = cv.conversation_id
               where cv.user_id = p.user_id) x), '[]'),
    'sessions', coalesce((
      select json_agg(x order by x.created_at, x.id)
        from (select s.id, s.created_at, s.last_activity_at, s.ended_at, host(s.ip_address) as ip_address, s.user_agent
                from compliance.sessions s where s.user_id = p.user_id) x), '[]'),
    'audit_trail', coalesce((
      select json_agg(x order by x.occurred_at, x.id)
        from (select a.id, a.occurred_at, a.action, a.category, a.resource_type, a.resource_id, a.outcome,
                     a.failure_reason, a.details, a.actor_id, host(a.ip_address) as ip_address, a.user_agent,
                     a.personal_details
                from compliance.audit_logs a where a.user_id = p.user_id or a.actor_id = p.user_id) x), '[]'),
    'breach_notices', coalesce((
      select json_agg(x order by x.discovered_at, x.id)
        from (select b.id, b.discovered_at, b.description, b.data_categories, b.status, b.notified_individuals_at
                from compliance.breaches b join compliance.breach_subjects bs on bs.breach_id = b.id
               where bs.user_id = p.user_id) x), '[]'),
    'registered_tables', compliance_private.registered_rows_of(p.user_id),
    'dsr_requests', coalesce((
      select json_agg(x order by x.id)
        from (select r.id, r.kind, r.status, r.received_at, r.due_at, r.completed_at, r.processing_activity
                from compliance.dsr_requests r where r.user_id = p.user_id) x), '[]'),
    'objections_and_restrictions', coalesce((
      select json_agg(x order by x.id)
        from (select l.id, l.kind, l.activity, l.request_id, l.started_at, l.lifted_at, l.lift_reason
                from compliance.processing_limits l where l.user_id = p.user_id) x), '[]'))
  from compliance.user_profiles p
  where p.user_id = subject_document.user_id);
end;
$function$;

comment on function compliance_private.subject_document(user_id text) is
  'Everything held about one subject as one JSON document (sections: profile, preferences, consents, conversations with messages, sessions, audit_trail, breach_notices, registered_tables: your own registered tables by name, dsr_requests, objections_and_restrictions). NULL for an unknown subject.';

revoke all on function compliance.processing_permitted(text, text) from public;
revoke all on function compliance.permitted_subjects(text) from public;
revoke all on function compliance.object_to_processing(text, text, text) from public;
revoke all on function compliance.restrict_processing(text, text) from public;
revoke all on function compliance.lift_processing_limit(bigint, text) from public;
revoke all on function compliance.subject_processing(text) from public;
grant execute on function compliance.processing_permitted(text, text) to compliance_app, compliance_dpo, compliance_worker;
grant execute on function compliance.permitted_subjects(text) to compliance_dpo, compliance_worker;
grant execute on function compliance.object_to_processing(text, text, text) to compliance_app, compliance_dpo;
grant execute on function compliance.restrict_processing(text, text) to compliance_dpo;
grant execute on function compliance.lift_processing_limit(bigint, text) to compliance_app, compliance_dpo;
grant execute on function compliance.subject_processing(text) to compliance_app, compliance_dpo;
revoke all on function compliance_private.require_activity(text) from public;
revoke all on function compliance_private.permitted_subjects_of(text, text) from public;
revoke all on function compliance_private.start_processing_limit(text, text, text, bigint) from public;
revoke all on function compliance_private.complete_restriction(compliance.dsr_requests) from public;
revoke all on function compliance_private.subject_has_rows_in(text, regclass) from public;

select compliance_private.record_expected_grants();
