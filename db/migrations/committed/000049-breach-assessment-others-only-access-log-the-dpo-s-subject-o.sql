--! Previous: sha1:aea369701ea9db63be07548aa887727fba561cd3
--! Hash: sha1:83551e891afc88ce9a1df9233d630c8b9fc113c2
--! Message: Breach assessment, others-only access log, the DPO's subject overview and access log

-- The pages' people, in the database: a breach is assessed (risk factors, notifiable or not and
-- why: GDPR Art. 33(1) and 33(5)) and a breach judged not notifiable has no deadlines running; the
-- patient may leave their own record reads out of "who accessed my data"; the DPO reads a
-- subject's access log and an overview of what is held about them, each audited.

alter table compliance.breaches
  add column risk_factors text[] not null default '{}',
  add column notifiable boolean,
  add column not_notifiable_reason text,
  add constraint breaches_not_notifiable_explained
    check (notifiable is distinct from false or length(trim(not_notifiable_reason)) between 1 and 4000),
  add constraint breaches_reason_only_when_not_notifiable
    check (notifiable is false or not_notifiable_reason is null);
comment on column compliance.breaches.risk_factors is
  'The DPO''s assessment: what makes the breach risky or not for the people affected (the data was encrypted, the recipient is trusted, special categories were involved, …).';
comment on column compliance.breaches.notifiable is
  'The DPO''s judgement: true when the authority and the individuals must be told; false when the breach is unlikely to result in a risk (GDPR Art. 33(1), HIPAA §164.402(2)), with not_notifiable_reason; null until assessed, when every deadline runs.';
comment on column compliance.breaches.not_notifiable_reason is
  'Why a breach judged not notifiable is unlikely to result in a risk: the documentation GDPR Art. 33(5) requires. Present exactly when notifiable is false.';

-- included from fixtures/breaches/audit_breach.sql
-- compliance_private.audit_breach(action text, breach compliance.breaches, changes jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.audit_breach(action text, breach compliance.breaches, changes jsonb DEFAULT '{}'::jsonb)
 RETURNS bigint
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  -- the register's facts, never a name: the description and assessment are free text, so they
  -- go in the personal part
  return compliance_private.append_audit(action, 'gdpr', 'breach', breach.id::text,
    jsonb_build_object('breach_id', breach.id, 'status', breach.status, 'discovered_at', breach.discovered_at,
      'affected_count', breach.affected_count, 'data_categories', to_jsonb(breach.data_categories),
      'notified_authority_at', breach.notified_authority_at, 'notified_individuals_at', breach.notified_individuals_at,
      'notified_hhs_at', breach.notified_hhs_at, 'notified_media_at', breach.notified_media_at,
      'notifiable', breach.notifiable,
      'changed_fields', (select coalesce(jsonb_agg(k order by k), '[]') from jsonb_object_keys(changes) k)),
    null, jsonb_strip_nulls(jsonb_build_object('description', breach.description, 'risk_assessment', breach.risk_assessment,
      'risk_factors', to_jsonb(breach.risk_factors), 'not_notifiable_reason', breach.not_notifiable_reason,
      'note', changes ->> 'note')));
end;
$function$;

comment on function compliance_private.audit_breach(action text, breach compliance.breaches, changes jsonb) is
  'Audits a change of a breach (breach.opened, updated, notified, closed): its id, status, dates, count, categories and whether it is notifiable in details; its free text (description, assessment, risk factors, the reason it is not notifiable, the note) in the personal part.';

-- included from fixtures/breaches/update_breach.sql
-- compliance.update_breach(breach_id bigint, changes jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.update_breach(breach_id bigint, changes jsonb)
 RETURNS compliance.breaches
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_row compliance.breaches;
  v_unknown text;
  v_notifiable boolean;
  v_reason text;
begin
  if changes is null or jsonb_typeof(changes) <> 'object' or changes = '{}' then
    perform compliance_private.raise_error('BADFL', 'changes must be a JSON object with at least one field');
  end if;
  select k into v_unknown from jsonb_object_keys(changes) k
   where k not in ('description', 'data_categories', 'affected_count', 'risk_assessment', 'risk_factors', 'notifiable',
                   'not_notifiable_reason', 'status', 'add_affected_user_ids', 'note') limit 1;
  if found then
    perform compliance_private.raise_error('BADFL', format('unknown field %s', v_unknown),
      'Use description, data_categories, affected_count, risk_assessment, risk_factors, notifiable, not_notifiable_reason, status (open or contained), add_affected_user_ids, note.');
  end if;
  if changes ? 'notifiable' and jsonb_typeof(changes -> 'notifiable') not in ('boolean', 'null') then
    perform compliance_private.raise_error('BADRG', 'notifiable must be true, false or null (not assessed yet)');
  end if;
  if changes ? 'risk_factors' and (jsonb_typeof(changes -> 'risk_factors') <> 'array'
      or exists (select from jsonb_array_elements(changes -> 'risk_factors') f
                  where jsonb_typeof(f) <> 'string' or length(trim(f #>> '{}')) not between 1 and 200)) then
    perform compliance_private.raise_error('BADRG', 'risk_factors must be a list of short texts (1 to 200 characters each)');
  end if;
  if changes ->> 'status' = 'closed' then
    perform compliance_private.raise_error('BADRG', 'close a breach with compliance.close_breach');
  end if;
  select * into v_row from compliance.breaches b where b.id = breach_id for no key update;
  if not found then
    perform compliance_private.raise_error('NOTER', format('no breach %s', breach_id), 'See compliance.breach_deadlines().');
  end if;
  if v_row.status = 'closed' then
    perform compliance_private.raise_error('BADRG', format('breach %s is closed', breach_id));
  end if;
  v_notifiable := case when changes ? 'notifiable' then (changes ->> 'notifiable')::boolean else v_row.notifiable end;
  -- a reason belongs to a breach judged not notifiable, and goes when it is judged otherwise
  v_reason := case when v_notifiable is false
                   then coalesce(nullif(trim(changes ->> 'not_notifiable_reason'), ''), v_row.not_notifiable_reason) end;
  if v_notifiable is false and v_reason is null then
    perform compliance_private.raise_error('BRNNR', 'a breach judged not notifiable needs the reason (not_notifiable_reason)',
      'GDPR Art. 33(5): document why the breach is unlikely to result in a risk to the people affected.');
  end if;
  if changes ? 'add_affected_user_ids' then
    if exists (select from jsonb_array_elements_text(changes -> 'add_affected_user_ids') u
                where not exists (select from compliance.user_profiles p where p.user_id = u)) then
      perform compliance_private.raise_error('UNKSJ', 'add_affected_user_ids names a subject who does not exist');
    end if;
    insert into compliance.breach_subjects (breach_id, user_id)
    select v_row.id, u from jsonb_array_elements_text(changes -> 'add_affected_user_ids') u on conflict do nothing;
  end if;
  update compliance.breaches b
     set description = coalesce(changes ->> 'description', b.description),
         data_categories = coalesce((select array_agg(c) from jsonb_array_elements_text(changes -> 'data_categories') c), b.data_categories),
         affected_count = greatest(coalesce((changes ->> 'affected_count')::integer, b.affected_count),
                                   (select count(*) from compliance.breach_subjects s where s.breach_id = b.id)::integer),
         risk_assessment = coalesce(changes ->> 'risk_assessment', b.risk_assessment),
         risk_factors = case when changes ? 'risk_factors'
                             then array(select trim(f) from jsonb_array_elements_text(changes -> 'risk_factors') f) else b.risk_factors end,
         notifiable = v_notifiable,
         not_notifiable_reason = v_reason,
         status = coalesce(changes ->> 'status', b.status)
   where b.id = v_row.id
  returning b.* into v_row;
  perform compliance_private.audit_breach('breach.updated', v_row, changes);
  return v_row;
end;
$function$;

comment on function compliance.update_breach(breach_id bigint, changes jsonb) is
  'The DPO updates an open breach: description, data_categories, affected_count, risk_assessment, the assessment (risk_factors; notifiable: true, false, or null for not assessed yet; not_notifiable_reason, required when notifiable is false, GDPR Art. 33(5) documentation), status (open or contained), add_affected_user_ids, and a note for the audit row. A breach judged not notifiable has no notification deadlines (breach_deadlines says not_required). Audited as breach.updated with the fields changed. Errors: BADFL (an unknown field), NOTER (no such breach), BADRG (closed, a malformed assessment), BRNNR (judged not notifiable without a reason), UNKSJ.';

-- included from fixtures/breaches/breach_deadlines.sql
-- compliance.breach_deadlines(at timestamp with time zone): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.breach_deadlines(at timestamp with time zone DEFAULT now())
 RETURNS TABLE(breach_id bigint, status text, discovered_at timestamp with time zone, affected_count integer, authority_due_at timestamp with time zone, authority text, authority_hours_left numeric, individuals_due_at timestamp with time zone, individuals text, individuals_hours_left numeric, hhs_and_media_required boolean, hhs text, media text, hhs_due_at timestamp with time zone)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  -- each notification: notified, overdue, due_within_24h or pending, as at the instant given
  with d as (
    select b.*, b.discovered_at + interval '72 hours' as authority_due, b.discovered_at + interval '60 days' as individuals_due,
           -- HHS: with the individuals when 500 or more are affected (§164.408(b)); otherwise in the
           -- yearly log, within 60 days after the end of the calendar year of discovery (§164.408(c))
           case when b.affected_count >= 500 then b.discovered_at + interval '60 days'
                else (date_trunc('year', b.discovered_at at time zone 'UTC') + interval '1 year' + interval '60 days') at time zone 'UTC' end as hhs_due
      from compliance.breaches b
  )
  select d.id, d.status, d.discovered_at, d.affected_count,
         d.authority_due,
         case when d.notified_authority_at is not null then 'notified' when d.notifiable is false then 'not_required' when d.authority_due <= at then 'overdue'
              when d.authority_due <= at + interval '24 hours' then 'due_within_24h' else 'pending' end,
         round(extract(epoch from d.authority_due - at) / 3600, 1),
         d.individuals_due,
         case when d.notified_individuals_at is not null then 'notified' when d.notifiable is false then 'not_required' when d.individuals_due <= at then 'overdue'
              when d.individuals_due <= at + interval '24 hours' then 'due_within_24h' else 'pending' end,
         round(extract(epoch from d.individuals_due - at) / 3600, 1),
         d.affected_count >= 500,
         case when d.notified_hhs_at is not null then 'notified' when d.notifiable is false then 'not_required' when d.hhs_due <= at then 'overdue'
              when d.hhs_due <= at + interval '24 hours' then 'due_within_24h' else 'pending' end,
         case when d.notified_media_at is not null then 'notified' when d.affected_count < 500 or d.notifiable is false then 'not_required'
              when d.individuals_due <= at then 'overdue' else 'pending' end,
         d.hhs_due
    from d
   order by least(case when d.notified_authority_at is null and d.notifiable is distinct from false then d.authority_due end,
                  case when d.notified_individuals_at is null and d.notifiable is distinct from false then d.individuals_due end) nulls last, d.id;
$function$;

comment on function compliance.breach_deadlines(at timestamp with time zone) is
  'Every breach with its deadlines as at the instant given (now by default): the supervisory authority 72 hours after discovery (GDPR Art. 33), individuals 60 days after (HIPAA §164.404; GDPR Art. 34 "without undue delay"), HHS and the media within the same 60 days when 500 or more are affected (HIPAA §164.406-408(b)), HHS alone in the yearly log when fewer are, within 60 days after the end of the calendar year of discovery (§164.408(c), hhs_due_at); each notified, overdue, due_within_24h or pending, with the hours left, or not_required when the DPO judged the breach not notifiable (breaches.notifiable false, with the reason: GDPR Art. 33(1), HIPAA §164.402(2)). Most urgent first.';

drop function compliance.phi_access_log(bigint, integer);
-- included from fixtures/health/access_log_entries.sql
-- compliance_private.access_log_entries(subject text, others_only boolean, before_id bigint, page_size integer): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.access_log_entries(subject text, others_only boolean, before_id bigint, page_size integer)
 RETURNS TABLE(id bigint, occurred_at timestamp with time zone, action text, actor_id text, actor_role text, purpose text, record_ids jsonb, outcome text, failure_reason text, grant_id bigint, emergency boolean)
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  if page_size is null or page_size not between 1 and 500 then
    perform compliance_private.raise_error('BADRG', 'page_size must be between 1 and 500');
  end if;
  -- the actor's network address and user agent are the actor's personal data, not the patient's
  return query
    select a.id, a.occurred_at, a.action, a.actor_id,
           coalesce(a.details ->> 'actor_role',
                    case when a.actor_id is null or a.actor_id like 'pgcomply\_%' then 'system'
                         when a.actor_id = subject then 'patient' else 'dpo' end),
           a.details ->> 'purpose', coalesce(a.details -> 'record_ids', '[]'::jsonb), a.outcome, a.failure_reason,
           (a.details ->> 'grant_id')::bigint, coalesce(a.details ->> 'grant_kind' = 'emergency', false)
      from compliance.audit_logs a
     where a.user_id = subject
       and a.action <> 'phi.unusual_access'
       -- the subject's own reads of their records are theirs to see, unless they ask for others' access only
       and (case when coalesce(others_only, false) then a.actor_id is distinct from subject
                 else a.action like 'phi.%' or a.actor_id is distinct from subject end)
       and (access_log_entries.before_id is null or a.id < access_log_entries.before_id)
     order by a.id desc
     limit page_size;
end;
$function$;

comment on function compliance_private.access_log_entries(subject text, others_only boolean, before_id bigint, page_size integer) is
  'The access log of one subject, newest first, a page at a time: every access to their health records and every refused attempt (phi.*, the subject''s own reads only unless others_only), and every action someone else took about them. phi_access_log (the subject) and subject_access_log (the DPO) call it; the caller checks who may read it. Errors: BADRG.';

-- included from fixtures/health/phi_access_log.sql
-- compliance.phi_access_log(before_id bigint, page_size integer, others_only boolean): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.phi_access_log(before_id bigint DEFAULT NULL::bigint, page_size integer DEFAULT 50, others_only boolean DEFAULT false)
 RETURNS TABLE(id bigint, occurred_at timestamp with time zone, action text, actor_id text, actor_role text, purpose text, record_ids jsonb, outcome text, failure_reason text, grant_id bigint, emergency boolean)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select * from compliance_private.access_log_entries(compliance_private.require_context_subject(), others_only, before_id, page_size);
$function$;

comment on function compliance.phi_access_log(before_id bigint, page_size integer, others_only boolean) is
  '"Who accessed my data" for the request''s subject, newest first, a page at a time (before_id: the last id of the previous page): every access to their health records and every refused attempt (phi.*), and every action someone else (the DPO, the system) took about them: when, who, in which role, for what purpose, which records, the outcome, and the access grant with whether it was an emergency (break-glass) access. others_only leaves out the subject''s own reads of their records. Errors: NOCTX without a request context, BADRG.';

-- included from fixtures/health/subject_access_log.sql
-- compliance.subject_access_log(user_id text, before_id bigint, page_size integer, others_only boolean): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.subject_access_log(user_id text, before_id bigint DEFAULT NULL::bigint, page_size integer DEFAULT 50, others_only boolean DEFAULT false)
 RETURNS TABLE(id bigint, occurred_at timestamp with time zone, action text, actor_id text, actor_role text, purpose text, record_ids jsonb, outcome text, failure_reason text, grant_id bigint, emergency boolean)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_rows bigint;
begin
  perform compliance_private.require_subject(user_id);
  return query select * from compliance_private.access_log_entries(user_id, others_only, before_id, page_size);
  get diagnostics v_rows = row_count;
  perform compliance_private.append_audit('subject.access_log_read', 'gdpr', 'audit_log', null,
    jsonb_build_object('procedure', 'subject_access_log', 'rows', v_rows), subject_access_log.user_id);
end;
$function$;

comment on function compliance.subject_access_log(user_id text, before_id bigint, page_size integer, others_only boolean) is
  'DPO: a subject''s access log as they see it in their privacy center (compliance.phi_access_log), newest first, a page at a time. Audited as subject.access_log_read with the number of rows. Errors: DPORL (the request context is not a DPO''s), UNKSJ, ERASD, BADRG.';

-- included from fixtures/console/subject_overview.sql
-- compliance.subject_overview(user_id text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.subject_overview(user_id text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_result jsonb;
begin
  perform compliance_private.require_subject(user_id);
  -- counts, never contents: the DPO opens the contents through export_subject, which is a
  -- request of its own
  select jsonb_build_object(
    'user_id', p.user_id,
    'created_at', p.created_at,
    'sections', jsonb_build_object(
      'profile', 1,
      'preferences', (select count(*) from compliance.user_preferences pr, jsonb_object_keys(pr.preferences) k where pr.user_id = p.user_id),
      'consents', (select count(*) from compliance.consent_records c where c.user_id = p.user_id),
      'conversations', (select count(*) from compliance.conversations cv where cv.user_id = p.user_id),
      'messages', (select count(*) from compliance.messages m where m.user_id = p.user_id),
      'health_records', (select count(*) from compliance.health_records h where h.user_id = p.user_id),
      'sessions', (select count(*) from compliance.sessions s where s.user_id = p.user_id),
      'audit_trail', (select count(*) from compliance.audit_logs a where a.user_id = p.user_id),
      'breach_notices', (select count(*) from compliance.breach_subjects bs where bs.user_id = p.user_id)),
    'requests', coalesce((select jsonb_agg(jsonb_build_object('id', r.id, 'kind', r.kind, 'status', r.status, 'received_at', r.received_at,
                            'due_at', r.due_at, 'completed_at', r.completed_at, 'handled_by', r.handled_by, 'notes', r.notes) order by r.id desc)
                            from compliance.dsr_requests r where r.user_id = p.user_id), '[]'),
    'holds', coalesce((select jsonb_agg(jsonb_build_object('id', h.id, 'reason', h.reason, 'placed_at', h.placed_at, 'placed_by', h.placed_by,
                         'released_at', h.released_at, 'released_by', h.released_by) order by h.id desc)
                         from compliance.legal_holds h where h.user_id = p.user_id), '[]'))
    into v_result
    from compliance.user_profiles p where p.user_id = subject_overview.user_id;
  perform compliance_private.append_audit('subject.viewed', 'gdpr', 'user_profiles', null,
    jsonb_build_object('procedure', 'subject_overview'), subject_overview.user_id);
  return v_result;
end;
$function$;

comment on function compliance.subject_overview(user_id text) is
  'DPO: what is held about a subject, as counts per section of their export (profile, preferences, consents, conversations, messages, health records, sessions, audit rows, breach notices), with every request they made (GDPR Art. 12-22) and every legal hold, released ones too. Counts only: the contents come with export_subject. Audited as subject.viewed. Errors: UNKSJ, ERASD.';

revoke all on function compliance_private.access_log_entries(text, boolean, bigint, integer) from public;
revoke all on function compliance.phi_access_log(bigint, integer, boolean) from public;
grant execute on function compliance.phi_access_log(bigint, integer, boolean) to compliance_app;
revoke all on function compliance.subject_access_log(text, bigint, integer, boolean) from public;
grant execute on function compliance.subject_access_log(text, bigint, integer, boolean) to compliance_dpo;
revoke all on function compliance.subject_overview(text) from public;
grant execute on function compliance.subject_overview(text) to compliance_dpo;
select compliance_private.record_expected_grants();
