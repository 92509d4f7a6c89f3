--! Previous: sha1:a7ab858d76f7abad6807feabea6b2a4bc678695b
--! Hash: sha1:1ae06971d8dcc26ad4f64d8165f0925bf40fc124
--! Message: breach-register

-- The breach register (GDPR Art. 33/34, HIPAA §164.404-408): each breach with its deadlines
-- computed from discovered_at, the notifications made, every change audited, the subjects it
-- touched (erasure reaches them) seeing the notice in their own export; and the check that
-- flags notifications due within a day or overdue. db/README.md, "Breach register".

create table compliance.breaches (
  id                     bigint      generated always as identity,
  discovered_at          timestamptz not null,
  description            text        not null,
  data_categories        text[]      not null default '{}',
  affected_count         integer     not null default 0,
  risk_assessment        text,
  status                 text        not null default 'open',
  opened_at              timestamptz not null default now(),
  opened_by              text,
  notified_authority_at  timestamptz,
  notified_individuals_at timestamptz,
  notified_hhs_at        timestamptz,
  notified_media_at      timestamptz,
  closed_at              timestamptz,
  closed_by              text,
  updated_at             timestamptz not null default now(),
  constraint breaches_pkey primary key (id),
  constraint breaches_description_given check (length(trim(description)) between 1 and 4000),
  constraint breaches_affected_count_positive check (affected_count >= 0),
  constraint breaches_status_known check (status in ('open', 'contained', 'closed')),
  constraint breaches_closed_when check ((status = 'closed') = (closed_at is not null)),
  constraint breaches_notified_after_discovery check (
    coalesce(notified_authority_at, notified_individuals_at, notified_hhs_at, notified_media_at) is null
    or least(notified_authority_at, notified_individuals_at, notified_hhs_at, notified_media_at) >= discovered_at)
);
comment on table compliance.breaches is
  'The breach register: what happened, when it was discovered (every deadline counts from it: the supervisory authority within 72 hours, GDPR Art. 33; individuals within 60 days, HIPAA §164.404; HHS and the media as well when 500 or more are affected, §164.406-408), the risk assessment, and when each notification was made. Changes go through the breach functions, each audited; compliance.breach_deadlines says what is due.';
comment on column compliance.breaches.id is 'The breach.';
comment on column compliance.breaches.discovered_at is 'When the breach was discovered: the deadlines count from here.';
comment on column compliance.breaches.description is 'What happened (no names: the affected subjects are listed in breach_subjects).';
comment on column compliance.breaches.data_categories is 'Which kinds of data were involved (profile, health_records, …).';
comment on column compliance.breaches.affected_count is 'How many people are affected; 500 or more requires notifying HHS and the media (HIPAA).';
comment on column compliance.breaches.risk_assessment is 'The assessment of the risk to the people affected (GDPR Art. 33(3)(d), HIPAA §164.402).';
comment on column compliance.breaches.status is 'open, contained or closed.';
comment on column compliance.breaches.opened_at is 'When it was entered in the register.';
comment on column compliance.breaches.opened_by is 'The DPO who entered it; emptied when that person is erased.';
comment on column compliance.breaches.notified_authority_at is 'When the supervisory authority was notified.';
comment on column compliance.breaches.notified_individuals_at is 'When the affected individuals were notified.';
comment on column compliance.breaches.notified_hhs_at is 'When HHS was notified.';
comment on column compliance.breaches.notified_media_at is 'When the media were notified.';
comment on column compliance.breaches.closed_at is 'When it was closed.';
comment on column compliance.breaches.closed_by is 'Who closed it; emptied when that person is erased.';
comment on column compliance.breaches.updated_at is 'When it last changed; maintained by trigger.';
comment on sequence compliance.breaches_id_seq is 'Numbers breaches in the order they were registered.';
alter table compliance.breaches enable row level security;
alter table compliance.breaches force row level security;
create trigger _100_set_updated_at before update on compliance.breaches
  for each row execute function compliance_private.tg__set_updated_at();
grant select on compliance.breaches to compliance_dpo, compliance_auditor;

create table compliance.breach_subjects (
  breach_id bigint not null,
  user_id   text   not null,
  constraint breach_subjects_pkey primary key (breach_id, user_id),
  constraint breach_subjects_breach_id_fkey foreign key (breach_id) references compliance.breaches (id) on delete cascade,
  constraint breach_subjects_user_id_fkey foreign key (user_id) references compliance.user_profiles (user_id) on delete cascade
);
comment on table compliance.breach_subjects is
  'Who a breach affected, where known: each sees the breach notice in their own export; erasure removes them (the breach keeps its count).';
comment on column compliance.breach_subjects.breach_id is 'The breach.';
comment on column compliance.breach_subjects.user_id is 'A subject it affected.';
alter table compliance.breach_subjects enable row level security;
alter table compliance.breach_subjects force row level security;
create index breach_subjects_user_id_idx on compliance.breach_subjects (user_id);
grant select on compliance.breach_subjects to compliance_dpo;

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
      'changed_fields', (select coalesce(jsonb_agg(k order by k), '[]') from jsonb_object_keys(changes) k)),
    null, jsonb_strip_nulls(jsonb_build_object('description', breach.description, 'risk_assessment', breach.risk_assessment,
      'note', changes ->> 'note')));
end;
$function$;

comment on function compliance_private.audit_breach(action text, breach compliance.breaches, changes jsonb) is
  'Audits a change of a breach (breach.opened, updated, notified, closed): its id, status, dates, count and categories in details, its free text in the personal part.';

-- included from fixtures/breaches/open_breach.sql
-- compliance.open_breach(discovered_at timestamp with time zone, description text, data_categories text[], affected_count integer, risk_assessment text, affected_user_ids text[]): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.open_breach(discovered_at timestamp with time zone, description text, data_categories text[] DEFAULT '{}'::text[], affected_count integer DEFAULT NULL::integer, risk_assessment text DEFAULT NULL::text, affected_user_ids text[] DEFAULT NULL::text[])
 RETURNS compliance.breaches
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_row compliance.breaches;
  v_unknown text[];
begin
  if discovered_at is null or discovered_at > clock_timestamp() then
    perform compliance_private.raise_error('BADRG', 'discovered_at must be given and not in the future');
  end if;
  if description is null or length(trim(description)) not between 1 and 4000 then
    perform compliance_private.raise_error('BADRG', 'describe the breach (1 to 4000 characters)');
  end if;
  select coalesce(array_agg(u), '{}') into v_unknown from unnest(coalesce(affected_user_ids, '{}')) u
   where not exists (select from compliance.user_profiles p where p.user_id = u);
  if cardinality(v_unknown) > 0 then
    perform compliance_private.raise_error('UNKSJ', format('no subject with user id %s', array_to_string(v_unknown, ', ')),
      'List only subjects who exist; give the others in affected_count.');
  end if;
  insert into compliance.breaches as b (discovered_at, description, data_categories, affected_count, risk_assessment, opened_by)
  values (open_breach.discovered_at, open_breach.description, coalesce(open_breach.data_categories, '{}'),
    greatest(coalesce(open_breach.affected_count, 0), cardinality(coalesce(affected_user_ids, '{}'))),
    open_breach.risk_assessment, compliance.current_actor())
  returning b.* into v_row;
  insert into compliance.breach_subjects (breach_id, user_id)
  select v_row.id, u from unnest(coalesce(affected_user_ids, '{}')) u on conflict do nothing;
  perform compliance_private.audit_breach('breach.opened', v_row);
  return v_row;
end;
$function$;

comment on function compliance.open_breach(discovered_at timestamp with time zone, description text, data_categories text[], affected_count integer, risk_assessment text, affected_user_ids text[]) is
  'The DPO registers a breach discovered at discovered_at (the deadlines count from it), with the data categories, the number affected (at least the subjects listed in affected_user_ids, who will see the notice in their export) and the risk assessment. Audited as breach.opened. Errors: BADRG, UNKSJ.';

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
begin
  if changes is null or jsonb_typeof(changes) <> 'object' or changes = '{}' then
    perform compliance_private.raise_error('BADFL', 'changes must be a JSON object with at least one field');
  end if;
  select k into v_unknown from jsonb_object_keys(changes) k
   where k not in ('description', 'data_categories', 'affected_count', 'risk_assessment', 'status', 'add_affected_user_ids', 'note') limit 1;
  if found then
    perform compliance_private.raise_error('BADFL', format('unknown field %s', v_unknown),
      'Use description, data_categories, affected_count, risk_assessment, status (open or contained), add_affected_user_ids, note.');
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
         status = coalesce(changes ->> 'status', b.status)
   where b.id = v_row.id
  returning b.* into v_row;
  perform compliance_private.audit_breach('breach.updated', v_row, changes);
  return v_row;
end;
$function$;

comment on function compliance.update_breach(breach_id bigint, changes jsonb) is
  'The DPO updates an open breach: description, data_categories, affected_count, risk_assessment, status (open or contained), add_affected_user_ids, and a note for the audit row. Audited as breach.updated with the fields changed. Errors: BADFL (an unknown field), NOTER (no such breach), BADRG (closed), UNKSJ.';

-- included from fixtures/breaches/record_breach_notification.sql
-- compliance.record_breach_notification(breach_id bigint, recipient text, notified_at timestamp with time zone): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.record_breach_notification(breach_id bigint, recipient text, notified_at timestamp with time zone DEFAULT now())
 RETURNS compliance.breaches
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_row compliance.breaches;
begin
  if recipient is null or recipient not in ('authority', 'individuals', 'hhs', 'media') then
    perform compliance_private.raise_error('BADRG', format('recipient %L is unknown', recipient), 'Use authority, individuals, hhs or media.');
  end if;
  select * into v_row from compliance.breaches b where b.id = breach_id for no key update;
  if not found then
    perform compliance_private.raise_error('NOTER', format('no breach %s', breach_id), 'See compliance.breach_deadlines().');
  end if;
  if notified_at is null or notified_at < v_row.discovered_at or notified_at > clock_timestamp() then
    perform compliance_private.raise_error('BADRG', 'notified_at must lie between the discovery and now');
  end if;
  update compliance.breaches b
     set notified_authority_at = case when recipient = 'authority' then notified_at else b.notified_authority_at end,
         notified_individuals_at = case when recipient = 'individuals' then notified_at else b.notified_individuals_at end,
         notified_hhs_at = case when recipient = 'hhs' then notified_at else b.notified_hhs_at end,
         notified_media_at = case when recipient = 'media' then notified_at else b.notified_media_at end
   where b.id = v_row.id
  returning b.* into v_row;
  perform compliance_private.audit_breach('breach.notified', v_row, jsonb_build_object('notified_' || recipient, notified_at));
  return v_row;
end;
$function$;

comment on function compliance.record_breach_notification(breach_id bigint, recipient text, notified_at timestamp with time zone) is
  'Records that the authority, the individuals, HHS or the media were notified of a breach, at notified_at (now by default; not before the discovery, not in the future). Audited as breach.notified. Errors: BADRG, NOTER.';

-- included from fixtures/breaches/close_breach.sql
-- compliance.close_breach(breach_id bigint, note text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.close_breach(breach_id bigint, note text DEFAULT NULL::text)
 RETURNS compliance.breaches
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_row compliance.breaches;
begin
  update compliance.breaches b
     set status = 'closed', closed_at = now(), closed_by = compliance.current_actor()
   where b.id = breach_id and b.status <> 'closed'
  returning b.* into v_row;
  if not found then
    perform compliance_private.raise_error('NOTER', format('no open breach %s', breach_id), 'See compliance.breach_deadlines().');
  end if;
  perform compliance_private.audit_breach('breach.closed', v_row, jsonb_build_object('note', note));
  return v_row;
end;
$function$;

comment on function compliance.close_breach(breach_id bigint, note text) is
  'The DPO closes a breach, with a note for the audit row. Notifications still missing stay visible in breach_deadlines. Audited as breach.closed. Errors: NOTER.';

-- included from fixtures/breaches/breach_deadlines.sql
-- compliance.breach_deadlines(at timestamp with time zone): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.breach_deadlines(at timestamp with time zone DEFAULT now())
 RETURNS TABLE(breach_id bigint, status text, discovered_at timestamp with time zone, affected_count integer, authority_due_at timestamp with time zone, authority text, authority_hours_left numeric, individuals_due_at timestamp with time zone, individuals text, individuals_hours_left numeric, hhs_and_media_required boolean, hhs text, media text)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  -- each notification: notified, overdue, due_within_24h or pending, as at the instant given
  with d as (
    select b.*, b.discovered_at + interval '72 hours' as authority_due, b.discovered_at + interval '60 days' as individuals_due
      from compliance.breaches b
  )
  select d.id, d.status, d.discovered_at, d.affected_count,
         d.authority_due,
         case when d.notified_authority_at is not null then 'notified' when d.authority_due <= at then 'overdue'
              when d.authority_due <= at + interval '24 hours' then 'due_within_24h' else 'pending' end,
         round(extract(epoch from d.authority_due - at) / 3600, 1),
         d.individuals_due,
         case when d.notified_individuals_at is not null then 'notified' when d.individuals_due <= at then 'overdue'
              when d.individuals_due <= at + interval '24 hours' then 'due_within_24h' else 'pending' end,
         round(extract(epoch from d.individuals_due - at) / 3600, 1),
         d.affected_count >= 500,
         case when d.affected_count < 500 then 'not_required' when d.notified_hhs_at is not null then 'notified'
              when d.individuals_due <= at then 'overdue' else 'pending' end,
         case when d.affected_count < 500 then 'not_required' when d.notified_media_at is not null then 'notified'
              when d.individuals_due <= at then 'overdue' else 'pending' end
    from d
   order by least(case when d.notified_authority_at is null then d.authority_due end,
                  case when d.notified_individuals_at is null then d.individuals_due end) nulls last, d.id;
$function$;

comment on function compliance.breach_deadlines(at timestamp with time zone) is
  'Every breach with its deadlines as at the instant given (now by default): the supervisory authority 72 hours after discovery (GDPR Art. 33), individuals 60 days after (HIPAA §164.404; GDPR Art. 34 "without undue delay"), HHS and the media too when 500 or more are affected (HIPAA §164.406-408, within the same 60 days); each notified, overdue, due_within_24h or pending, with the hours left. Most urgent first.';

-- included from fixtures/checks/check_breach_deadlines.sql
-- compliance_private.check_breach_deadlines(context jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.check_breach_deadlines(context jsonb)
 RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_due jsonb;
begin
  select coalesce(jsonb_agg(jsonb_build_object('breach_id', d.breach_id, 'authority', d.authority, 'individuals', d.individuals,
                                               'hhs', d.hhs, 'media', d.media) order by d.breach_id), '[]')
    into v_due
    from compliance.breach_deadlines(now()) d
   where d.authority in ('overdue', 'due_within_24h') or d.individuals in ('overdue', 'due_within_24h')
      or d.hhs = 'overdue' or d.media = 'overdue';
  status := case when v_due = '[]' then 'pass' else 'fail' end;
  measured := jsonb_build_object('breaches_due', v_due);
  threshold := jsonb_build_object('due_within_hours', 24, 'breaches_due', '[]'::jsonb);
  detail := case when v_due = '[]' then 'no breach notification is overdue or due within 24 hours'
                 else format('%s breach(es) with a notification overdue or due within 24 hours', jsonb_array_length(v_due)) end;
  evidence := 'select * from compliance.breach_deadlines(now()) where authority in (''overdue'', ''due_within_24h'') or individuals in (''overdue'', ''due_within_24h'')';
  return next;
end;
$function$;

comment on function compliance_private.check_breach_deadlines(context jsonb) is
  'Compliance check: no breach notification (authority, individuals, HHS, media) is overdue or due within 24 hours without having been made.';

-- included from fixtures/checks/run_compliance_checks.sql
-- compliance.run_compliance_checks(trigger text, require_tls boolean): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.run_compliance_checks(trigger text DEFAULT 'demand'::text, require_tls boolean DEFAULT false)
 RETURNS SETOF compliance.check_results
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_run compliance.check_runs;
  v_since bigint;
  v_context jsonb;
  v_name text;
  v_result record;
  v_row compliance.check_results;
begin
  if trigger is null or trigger not in ('schedule', 'demand') then
    perform compliance_private.raise_error('BADRG', format('trigger %L is unknown', trigger), 'Use schedule or demand.');
  end if;
  -- findings are counted from where the last run began
  select r.audit_high_water into v_since from compliance.check_runs r order by r.id desc limit 1;
  insert into compliance.check_runs as r (trigger, audit_high_water)
  values (run_compliance_checks.trigger, coalesce((select max(a.id) from compliance.audit_logs a), 0))
  returning r.* into v_run;
  v_context := jsonb_build_object('since_audit_id', coalesce(v_since, 0), 'require_tls', coalesce(require_tls, false));
  foreach v_name in array array['audit_chain', 'seal_lag', 'retention_backlog', 'overdue_requests', 'emergency_reviews',
                                'phi_findings', 'breach_deadlines', 'row_level_security', 'privileges', 'password_encryption', 'client_tls',
                                'master_key_age', 'backup_age', 'worker_heartbeat', 'uptime', 'outside_the_database'] loop
    execute format('select * from compliance_private.check_%s($1)', v_name) into v_result using v_context;
    insert into compliance.check_results as c (run_id, check_name, status, measured, threshold, detail, evidence)
    values (v_run.id, v_name, v_result.status, v_result.measured, v_result.threshold, v_result.detail, v_result.evidence)
    returning c.* into v_row;
    -- one alert per failing check per run, in this transaction
    if v_row.status = 'fail' then
      perform compliance_private.raise_alert('compliance.check_failed',
        jsonb_build_object('run_id', v_run.id, 'check', v_name, 'measured', v_row.measured, 'threshold', v_row.threshold));
    end if;
    return next v_row;
  end loop;
  update compliance.check_runs r
     set finished_at = clock_timestamp(),
         passed = (select count(*) from compliance.check_results c where c.run_id = v_run.id and c.status = 'pass'),
         failed = (select count(*) from compliance.check_results c where c.run_id = v_run.id and c.status = 'fail'),
         not_applicable = (select count(*) from compliance.check_results c where c.run_id = v_run.id and c.status = 'not_applicable')
   where r.id = v_run.id
  returning r.* into v_run;
  perform compliance_private.append_audit('compliance.checks_run', 'soc2', 'check_run', v_run.id::text,
    jsonb_build_object('trigger', v_run.trigger, 'passed', v_run.passed, 'failed', v_run.failed,
      'not_applicable', v_run.not_applicable,
      'failed_checks', (select coalesce(jsonb_agg(c.check_name order by c.check_name), '[]') from compliance.check_results c
                         where c.run_id = v_run.id and c.status = 'fail'),
      -- the results themselves are anchored in the chain by their hash
      'results_sha256', encode(sha256(convert_to((select jsonb_agg(to_jsonb(c) order by c.check_name)::text
                                                  from compliance.check_results c where c.run_id = v_run.id), 'UTF8')), 'hex')));
end;
$function$;

comment on function compliance.run_compliance_checks(trigger text, require_tls boolean) is
  'Runs every compliance check (compliance_private.check_*) now, stores a run and its results, raises one compliance.check_failed alert per failing check in the outbox, and audits the run (compliance.checks_run, with the results'' hash). require_tls: whether the deployment requires TLS (REQUIRE_TLS), for the client_tls check. Returns the results. The worker runs it daily at 06:00 UTC; a DPO on demand.';

-- included from fixtures/access/breaches.owner_routines.sql
-- policy owner_routines on compliance.breaches: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance.breaches;
create policy owner_routines on compliance.breaches as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance.breaches is 'The breach functions, erasure and the export (SECURITY DEFINER, running as the owner) reach every row.';

-- included from fixtures/access/breaches.readers.sql
-- policy readers on compliance.breaches: its current definition (db/CONVENTIONS.md).

drop policy if exists readers on compliance.breaches;
create policy readers on compliance.breaches as permissive for select to compliance_dpo, compliance_auditor
  using (true);
comment on policy readers on compliance.breaches is 'The DPO and auditors read the whole register; only the breach functions change it.';

-- included from fixtures/access/breach_subjects.owner_routines.sql
-- policy owner_routines on compliance.breach_subjects: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance.breach_subjects;
create policy owner_routines on compliance.breach_subjects as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance.breach_subjects is 'The breach functions, erasure and the export (SECURITY DEFINER, running as the owner) reach every row.';

-- included from fixtures/access/breach_subjects.dpo_every_subject.sql
-- policy dpo_every_subject on compliance.breach_subjects: its current definition (db/CONVENTIONS.md).

drop policy if exists dpo_every_subject on compliance.breach_subjects;
create policy dpo_every_subject on compliance.breach_subjects as permissive for select to compliance_dpo
  using (true);
comment on policy dpo_every_subject on compliance.breach_subjects is 'The DPO sees who every breach affected; changes go through the breach functions.';

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
    'dsr_requests', coalesce((
      select json_agg(x order by x.id)
        from (select r.id, r.kind, r.status, r.received_at, r.due_at, r.completed_at
                from compliance.dsr_requests r where r.user_id = p.user_id) x), '[]'))
  from compliance.user_profiles p
  where p.user_id = subject_document.user_id);
end;
$function$;

comment on function compliance_private.subject_document(user_id text) is
  'Everything held about one subject as one JSON document (sections: profile, preferences, consents, conversations with messages, sessions, audit_trail, breach_notices, dsr_requests). NULL for an unknown subject.';

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
  foreach v_table in array array['health_records', 'access_grants', 'breach_subjects', 'messages', 'conversations', 'consent_records', 'sessions',
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
  update compliance.breaches b
     set opened_by = nullif(b.opened_by, erase_subject_core.user_id), closed_by = nullif(b.closed_by, erase_subject_core.user_id)
   where erase_subject_core.user_id in (b.opened_by, b.closed_by);
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

revoke all on function compliance.open_breach(timestamptz, text, text[], integer, text, text[]),
  compliance.update_breach(bigint, jsonb), compliance.record_breach_notification(bigint, text, timestamptz),
  compliance.close_breach(bigint, text), compliance.breach_deadlines(timestamptz) from public;
grant execute on function compliance.open_breach(timestamptz, text, text[], integer, text, text[]),
  compliance.update_breach(bigint, jsonb), compliance.record_breach_notification(bigint, text, timestamptz),
  compliance.close_breach(bigint, text), compliance.breach_deadlines(timestamptz) to compliance_dpo;
grant execute on function compliance.breach_deadlines(timestamptz) to compliance_auditor;

select compliance_private.record_expected_grants();
