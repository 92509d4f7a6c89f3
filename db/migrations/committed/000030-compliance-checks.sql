--! Previous: sha1:29e88219057539a14475d8a16940f6c2d609db61
--! Hash: sha1:a7ab858d76f7abad6807feabea6b2a4bc678695b
--! Message: compliance-checks

-- Continuous compliance, first part (issue #19): the worker's heartbeat and the uptime computed
-- from it (SOC 2 A1.2), and compliance checks computed from the real state of the database,
-- stored per run, audited, and alerted through the outbox when they fail. db/README.md,
-- "Compliance checks".

create table compliance.compliance_check_settings (
  singleton            boolean  not null default true,
  uptime_target        numeric  not null default 0.999,
  uptime_window        interval not null default '30 days',
  seal_lag_seconds     integer  not null default 60,
  retention_grace      interval not null default '1 day',
  heartbeat_max_age    interval not null default '3 minutes',
  master_key_max_age   interval not null default '365 days',
  constraint compliance_check_settings_pkey primary key (singleton),
  constraint compliance_check_settings_one_row check (singleton),
  constraint compliance_check_settings_uptime_target_ratio check (uptime_target > 0 and uptime_target <= 1),
  constraint compliance_check_settings_positive check (uptime_window > interval '0' and seal_lag_seconds > 0
    and retention_grace >= interval '0' and heartbeat_max_age > interval '0' and master_key_max_age > interval '0')
);
comment on table compliance.compliance_check_settings is
  'One row: the thresholds the compliance checks measure against. A DPO changes them with UPDATE; each run records the thresholds it used.';
comment on column compliance.compliance_check_settings.singleton is 'Always true: the table has one row.';
comment on column compliance.compliance_check_settings.uptime_target is 'The availability target (SOC 2 A1.2): 0.999 is 99.9%.';
comment on column compliance.compliance_check_settings.uptime_window is 'The window uptime is computed over (30 days).';
comment on column compliance.compliance_check_settings.seal_lag_seconds is 'The oldest unsealed audit row may be at most this old.';
comment on column compliance.compliance_check_settings.retention_grace is 'How long past its retention a row may stay before the backlog check fails.';
comment on column compliance.compliance_check_settings.heartbeat_max_age is 'The worker''s last heartbeat may be at most this old.';
comment on column compliance.compliance_check_settings.master_key_max_age is 'How long the newest PHI master key version may wrap data keys before rotation is due.';
insert into compliance.compliance_check_settings default values;
alter table compliance.compliance_check_settings enable row level security;
alter table compliance.compliance_check_settings force row level security;
grant select on compliance.compliance_check_settings to compliance_dpo, compliance_worker, compliance_auditor;
grant update (uptime_target, uptime_window, seal_lag_seconds, retention_grace, heartbeat_max_age, master_key_max_age)
  on compliance.compliance_check_settings to compliance_dpo;

create table compliance_private.worker_heartbeats (
  beat_at timestamptz not null,
  constraint worker_heartbeats_pkey primary key (beat_at),
  constraint worker_heartbeats_whole_minutes check (beat_at = date_trunc('minute', beat_at))
);
comment on table compliance_private.worker_heartbeats is
  'One row per minute in which a worker was alive (compliance.record_heartbeat, every minute): uptime counts the minutes without one as downtime. Kept for 400 days.';
comment on column compliance_private.worker_heartbeats.beat_at is 'The minute (truncated) a worker beat in.';
alter table compliance_private.worker_heartbeats enable row level security;
alter table compliance_private.worker_heartbeats force row level security;

create table compliance.check_runs (
  id                bigint      generated always as identity,
  started_at        timestamptz not null default now(),
  finished_at       timestamptz,
  trigger           text        not null,
  passed            integer     not null default 0,
  failed            integer     not null default 0,
  not_applicable    integer     not null default 0,
  audit_high_water  bigint      not null,
  constraint check_runs_pkey primary key (id),
  constraint check_runs_trigger_known check (trigger in ('schedule', 'demand'))
);
comment on table compliance.check_runs is
  'Each run of the compliance checks: when, why (the daily schedule or on demand), and how many passed, failed or could not be measured. Audited as compliance.checks_run.';
comment on column compliance.check_runs.id is 'The run.';
comment on column compliance.check_runs.started_at is 'When it started.';
comment on column compliance.check_runs.finished_at is 'When every check had been stored.';
comment on column compliance.check_runs.trigger is 'schedule (the worker, daily 06:00 UTC) or demand.';
comment on column compliance.check_runs.passed is 'Checks that passed.';
comment on column compliance.check_runs.failed is 'Checks that failed (each raised one alert).';
comment on column compliance.check_runs.not_applicable is 'Checks a data store cannot measure, with the reason in the result; never counted as a pass.';
comment on column compliance.check_runs.audit_high_water is 'The newest audit row id when the run began: the next run counts findings after it.';
comment on sequence compliance.check_runs_id_seq is 'Numbers check runs in order.';
alter table compliance.check_runs enable row level security;
alter table compliance.check_runs force row level security;
grant select on compliance.check_runs to compliance_dpo, compliance_auditor, compliance_worker;

create table compliance.check_results (
  run_id        bigint not null,
  check_name    text   not null,
  status        text   not null,
  measured      jsonb  not null default '{}',
  threshold     jsonb  not null default '{}',
  detail        text   not null,
  evidence      text   not null,
  constraint check_results_pkey primary key (run_id, check_name),
  constraint check_results_run_id_fkey foreign key (run_id) references compliance.check_runs (id) on delete cascade,
  constraint check_results_status_known check (status in ('pass', 'fail', 'not_applicable'))
);
comment on table compliance.check_results is
  'One row per check per run: the status (pass, fail, not_applicable), what was measured and against what threshold, a sentence, and the evidence: the SQL that produced the measurement, to run again.';
comment on column compliance.check_results.run_id is 'The run (check_runs.id).';
comment on column compliance.check_results.check_name is 'Which check (compliance_private.check_<name>).';
comment on column compliance.check_results.status is 'pass, fail, or not_applicable (not measurable by a data store; never a pass).';
comment on column compliance.check_results.measured is 'The measured values.';
comment on column compliance.check_results.threshold is 'What they were measured against.';
comment on column compliance.check_results.detail is 'One sentence: what was found, or why it cannot be measured.';
comment on column compliance.check_results.evidence is 'The query whose result is the measurement.';
alter table compliance.check_results enable row level security;
alter table compliance.check_results force row level security;
grant select on compliance.check_results to compliance_dpo, compliance_auditor, compliance_worker;

-- the grants the migrations define; the privileges check compares the catalog with it, so a
-- migration that changes grants records them again (compliance_private.record_expected_grants)
create table compliance_private.expected_grants (
  object_name text not null,
  grantee     text not null,
  privilege   text not null,
  constraint expected_grants_pkey primary key (object_name, grantee, privilege)
);
comment on table compliance_private.expected_grants is
  'The grants on pgcomply''s objects as the migrations left them (record_expected_grants at the end of a migration that changes any). The privileges check fails on any difference.';
comment on column compliance_private.expected_grants.object_name is 'The table, view, sequence, function or schema.';
comment on column compliance_private.expected_grants.grantee is 'The role holding the privilege (PUBLIC for everyone).';
comment on column compliance_private.expected_grants.privilege is 'SELECT, INSERT, UPDATE (with its columns), EXECUTE, USAGE, …';
alter table compliance_private.expected_grants enable row level security;
alter table compliance_private.expected_grants force row level security;

-- included from fixtures/checks/current_grants.sql
-- compliance_private.current_grants(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.current_grants()
 RETURNS TABLE(object_name text, grantee text, privilege text)
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  -- every privilege granted on our schemas, relations (with their columns) and functions, by
  -- anyone to anyone other than the owner
  with objects as (
    select n.nspname::text as name, n.nspacl as acl, n.nspowner as owner
      from pg_catalog.pg_namespace n where n.nspname in ('compliance', 'compliance_private')
    union all
    select format('%I.%I', n.nspname, c.relname), c.relacl, c.relowner
      from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     where n.nspname in ('compliance', 'compliance_private') and c.relkind in ('r', 'p', 'v', 'm', 'S') and not c.relispartition
    union all
    select format('%I.%I(%I)', n.nspname, c.relname, a.attname), a.attacl, c.relowner
      from pg_catalog.pg_attribute a join pg_catalog.pg_class c on c.oid = a.attrelid
      join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     where n.nspname in ('compliance', 'compliance_private') and a.attacl is not null and not c.relispartition
    union all
    select p.oid::regprocedure::text, p.proacl, p.proowner
      from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
     where n.nspname in ('compliance', 'compliance_private')
       and not exists (select from pg_catalog.pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
  )
  select o.name, case when x.grantee = 0 then 'PUBLIC' else pg_catalog.pg_get_userbyid(x.grantee)::text end, x.privilege_type::text
    from objects o cross join lateral aclexplode(o.acl) x
   where o.acl is not null and x.grantee <> o.owner;
$function$;

comment on function compliance_private.current_grants() is
  'Every privilege on pgcomply''s schemas, tables, views, sequences, columns and functions held by a role other than the owner, as (object, grantee, privilege): what the privileges check compares with expected_grants.';

-- included from fixtures/checks/record_expected_grants.sql
-- compliance_private.record_expected_grants(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.record_expected_grants()
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_count integer;
begin
  delete from compliance_private.expected_grants;
  insert into compliance_private.expected_grants (object_name, grantee, privilege)
  select distinct g.object_name, g.grantee, g.privilege from compliance_private.current_grants() g;
  get diagnostics v_count = row_count;
  return v_count;
end;
$function$;

comment on function compliance_private.record_expected_grants() is
  'Records the grants as they are now as the expected set. The last statement of every migration that changes a grant (db/CONVENTIONS.md); never called at run time.';

-- included from fixtures/checks/record_heartbeat.sql
-- compliance.record_heartbeat(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.record_heartbeat()
 RETURNS timestamp with time zone
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_minute timestamptz := date_trunc('minute', now());
begin
  insert into compliance_private.worker_heartbeats (beat_at) values (v_minute)
    on conflict on constraint worker_heartbeats_pkey do nothing;
  delete from compliance_private.worker_heartbeats h where h.beat_at < now() - interval '400 days';
  return v_minute;
end;
$function$;

comment on function compliance.record_heartbeat() is
  'The worker says it is alive (every minute, job heartbeat): records the current minute. Uptime counts minutes without a beat as down. Worker role only.';

-- included from fixtures/checks/uptime.sql
-- compliance.uptime(window_length interval, at timestamp with time zone): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.uptime(window_length interval DEFAULT '30 days'::interval, at timestamp with time zone DEFAULT now())
 RETURNS TABLE(ratio numeric, minutes_up bigint, minutes_counted bigint, counted_from timestamp with time zone, counted_to timestamp with time zone)
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_first timestamptz;
begin
  -- whole minutes before the current one (which may not have beaten yet), from the window's
  -- start or the first beat ever, whichever is later
  counted_to := date_trunc('minute', at);
  select min(h.beat_at) into v_first from compliance_private.worker_heartbeats h;
  counted_from := greatest(date_trunc('minute', at - window_length), v_first);
  if v_first is null or counted_from >= counted_to then
    ratio := 1; minutes_up := 0; minutes_counted := 0;
    return next;
    return;
  end if;
  minutes_counted := (extract(epoch from counted_to - counted_from) / 60)::bigint;
  select count(*) into minutes_up from compliance_private.worker_heartbeats h
   where h.beat_at >= counted_from and h.beat_at < counted_to;
  ratio := round(minutes_up::numeric / minutes_counted, 6);
  return next;
end;
$function$;

comment on function compliance.uptime(window_length interval, at timestamp with time zone) is
  'Uptime over the window ending at at (30 days by default): the share of whole minutes, from the window''s start or the first heartbeat, whichever is later, in which the worker beat. A gap is downtime. /metrics exports it as pgcomply_sla_uptime_ratio.';

-- included from fixtures/checks/check_audit_chain.sql
-- compliance_private.check_audit_chain(context jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.check_audit_chain(context jsonb)
 RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_result record;
begin
  select * into v_result from compliance.verify_audit_log();
  status := case when v_result.ok then 'pass' else 'fail' end;
  measured := jsonb_build_object('seals_checked', v_result.seals_checked, 'rows_checked', v_result.rows_checked,
    'unsealed_rows', v_result.unsealed_rows, 'problems', jsonb_array_length(v_result.problems),
    'first_problems', (select coalesce(jsonb_agg(p), '[]') from (select p from jsonb_array_elements(v_result.problems) p limit 5) x));
  threshold := jsonb_build_object('problems', 0);
  detail := case when v_result.ok then format('%s seals and %s rows verify', v_result.seals_checked, v_result.rows_checked)
                 else format('%s problem(s) in the audit chain', jsonb_array_length(v_result.problems)) end;
  evidence := 'select * from compliance.verify_audit_log()';
  return next;
end;
$function$;

comment on function compliance_private.check_audit_chain(context jsonb) is
  'Compliance check: the audit log''s hash chain verifies (compliance.verify_audit_log).';

-- included from fixtures/checks/check_seal_lag.sql
-- compliance_private.check_seal_lag(context jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.check_seal_lag(context jsonb)
 RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_limit integer := (select s.seal_lag_seconds from compliance.compliance_check_settings s);
  v_sealed bigint := coalesce((select s.last_row_id from compliance.audit_seals s where s.layout = 2 order by s.seal_no desc limit 1), 0);
  v_oldest timestamptz;
begin
  select min(a.occurred_at) into v_oldest from compliance.audit_logs a where a.id > v_sealed;
  status := case when v_oldest is null or v_oldest >= now() - make_interval(secs => v_limit) then 'pass' else 'fail' end;
  measured := jsonb_build_object('oldest_unsealed_seconds', coalesce(round(extract(epoch from now() - v_oldest)), 0));
  threshold := jsonb_build_object('max_seconds', v_limit);
  detail := case when v_oldest is null then 'every audit row is sealed'
                 else format('the oldest unsealed audit row is %s s old', round(extract(epoch from now() - v_oldest))) end;
  evidence := 'select min(occurred_at) from compliance.audit_logs where id > (select last_row_id from compliance.audit_seals where layout = 2 order by seal_no desc limit 1)';
  return next;
end;
$function$;

comment on function compliance_private.check_seal_lag(context jsonb) is
  'Compliance check: the oldest audit row not yet sealed is younger than seal_lag_seconds (the worker seals every second).';

-- included from fixtures/checks/check_retention_backlog.sql
-- compliance_private.check_retention_backlog(context jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.check_retention_backlog(context jsonb)
 RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_grace interval := (select s.retention_grace from compliance.compliance_check_settings s);
  v_now timestamptz := compliance_private.retention_now();
  v_policy record;
  v_overdue bigint;
  v_counts jsonb := '{}';
begin
  -- rows past their retention by more than the grace: what the daily job should have deleted
  for v_policy in select p.category from compliance.retention_policies p where p.enabled and p.action = 'delete' order by p.category loop
    select count(*) into v_overdue
      from compliance_private.retention_due_ids(v_policy.category,
             compliance_private.retention_cutoff(v_policy.category, v_now) - v_grace, 100000);
    v_counts := v_counts || jsonb_build_object(v_policy.category, v_overdue);
  end loop;
  status := case when (select coalesce(sum(value::bigint), 0) from jsonb_each_text(v_counts)) = 0 then 'pass' else 'fail' end;
  measured := jsonb_build_object('overdue_rows', v_counts);
  threshold := jsonb_build_object('grace', v_grace::text, 'max_overdue_rows', 0);
  detail := case when status = 'pass' then 'no row is kept past its retention period beyond the grace'
                 else format('rows past retention by more than %s: %s', v_grace, v_counts) end;
  evidence := format('select count(*) from compliance_private.retention_due_ids(<category>, compliance_private.retention_cutoff(<category>, now()) - %L, 100000)', v_grace);
  return next;
end;
$function$;

comment on function compliance_private.check_retention_backlog(context jsonb) is
  'Compliance check: per category deleted row by row, no row is past its retention period by more than retention_grace (subjects under legal hold excepted, as retention skips them).';

-- included from fixtures/checks/check_overdue_requests.sql
-- compliance_private.check_overdue_requests(context jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.check_overdue_requests(context jsonb)
 RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_overdue bigint;
begin
  select count(*) into v_overdue from compliance.dsr_open_requests r where r.overdue;
  status := case when v_overdue = 0 then 'pass' else 'fail' end;
  measured := jsonb_build_object('overdue_requests', v_overdue);
  threshold := jsonb_build_object('max_overdue', 0);
  detail := format('%s data subject request(s) past their deadline', v_overdue);
  evidence := 'select count(*) from compliance.dsr_open_requests where overdue';
  return next;
end;
$function$;

comment on function compliance_private.check_overdue_requests(context jsonb) is
  'Compliance check: no data subject request is past its deadline (GDPR Art. 12(3)).';

-- included from fixtures/checks/check_emergency_reviews.sql
-- compliance_private.check_emergency_reviews(context jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.check_emergency_reviews(context jsonb)
 RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_overdue bigint;
begin
  select count(*) into v_overdue from compliance.access_grants g
   where g.kind = 'emergency' and g.reviewed_at is null and g.review_due_at < now();
  status := case when v_overdue = 0 then 'pass' else 'fail' end;
  measured := jsonb_build_object('overdue_reviews', v_overdue);
  threshold := jsonb_build_object('max_overdue', 0);
  detail := format('%s emergency access review(s) overdue', v_overdue);
  evidence := 'select count(*) from compliance.access_grants where kind = ''emergency'' and reviewed_at is null and review_due_at < now()';
  return next;
end;
$function$;

comment on function compliance_private.check_emergency_reviews(context jsonb) is
  'Compliance check: no emergency (break-glass) access is past its review deadline.';

-- included from fixtures/checks/check_phi_findings.sql
-- compliance_private.check_phi_findings(context jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.check_phi_findings(context jsonb)
 RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_since bigint := coalesce((context ->> 'since_audit_id')::bigint, 0);
  v_integrity bigint;
  v_unusual bigint;
begin
  select count(*) filter (where a.action = 'phi.integrity_failure'), count(*) filter (where a.action = 'phi.unusual_access')
    into v_integrity, v_unusual
    from compliance.audit_logs a
   where a.id > v_since and a.action in ('phi.integrity_failure', 'phi.unusual_access');
  status := case when v_integrity + v_unusual = 0 then 'pass' else 'fail' end;
  measured := jsonb_build_object('integrity_failures', v_integrity, 'unusual_access_findings', v_unusual, 'since_audit_id', v_since);
  threshold := jsonb_build_object('max_findings', 0);
  detail := format('%s integrity failure(s) and %s unusual-access finding(s) since audit row %s', v_integrity, v_unusual, v_since);
  evidence := format('select action, count(*) from compliance.audit_logs where id > %s and action in (''phi.integrity_failure'', ''phi.unusual_access'') group by action', v_since);
  return next;
end;
$function$;

comment on function compliance_private.check_phi_findings(context jsonb) is
  'Compliance check: no PHI integrity failure and no unusual-access finding since the last run (context since_audit_id).';

-- included from fixtures/checks/check_row_level_security.sql
-- compliance_private.check_row_level_security(context jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.check_row_level_security(context jsonb)
 RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_missing text[];
begin
  select coalesce(array_agg(format('%I.%I', n.nspname, c.relname) order by n.nspname, c.relname), '{}') into v_missing
    from pg_catalog.pg_class c
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
   where n.nspname in ('compliance', 'compliance_private') and c.relkind in ('r', 'p') and not c.relispartition
     and exists (select from pg_catalog.pg_attribute a where a.attrelid = c.oid and a.attname = 'user_id' and not a.attisdropped)
     and not (c.relrowsecurity and c.relforcerowsecurity);
  status := case when cardinality(v_missing) = 0 then 'pass' else 'fail' end;
  measured := jsonb_build_object('tables_without_forced_rls', to_jsonb(v_missing));
  threshold := jsonb_build_object('tables_without_forced_rls', '[]'::jsonb);
  detail := case when cardinality(v_missing) = 0 then 'row-level security is enabled and forced on every table with a user_id'
                 else 'row-level security is not enabled and forced on ' || array_to_string(v_missing, ', ') end;
  evidence := 'select relname, relrowsecurity, relforcerowsecurity from pg_class c join pg_namespace n on n.oid = c.relnamespace join pg_attribute a on a.attrelid = c.oid and a.attname = ''user_id'' where n.nspname in (''compliance'', ''compliance_private'') and c.relkind in (''r'', ''p'') and not c.relispartition';
  return next;
end;
$function$;

comment on function compliance_private.check_row_level_security(context jsonb) is
  'Compliance check: every table of ours with a user_id column has row-level security enabled and forced, found from the catalog, so a new table without it fails.';

-- included from fixtures/checks/check_privileges.sql
-- compliance_private.check_privileges(context jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.check_privileges(context jsonb)
 RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_added jsonb;
  v_removed jsonb;
  v_logins jsonb;
  v_bypass jsonb;
begin
  select coalesce(jsonb_agg(format('%s: %s to %s', x.privilege, x.object_name, x.grantee) order by x.object_name, x.grantee, x.privilege), '[]')
    into v_added
    from (select * from compliance_private.current_grants() except select * from compliance_private.expected_grants) x;
  select coalesce(jsonb_agg(format('%s: %s to %s', x.privilege, x.object_name, x.grantee) order by x.object_name, x.grantee, x.privilege), '[]')
    into v_removed
    from (select * from compliance_private.expected_grants except select * from compliance_private.current_grants()) x;
  -- logins that may act as one of our group roles, other than pgcomply's own three
  select coalesce(jsonb_agg(format('%s in %s', m.rolname, g.rolname) order by m.rolname, g.rolname), '[]') into v_logins
    from pg_catalog.pg_auth_members am
    join pg_catalog.pg_roles g on g.oid = am.roleid
    join pg_catalog.pg_roles m on m.oid = am.member
   where g.rolname in ('compliance_owner', 'compliance_app', 'compliance_dpo', 'compliance_worker', 'compliance_staff', 'compliance_approver')
     and m.rolcanlogin and not m.rolsuper
     and (m.rolname, g.rolname) not in (('pgcomply_migrator', 'compliance_owner'), ('pgcomply_server', 'compliance_app'),
          ('pgcomply_server', 'compliance_dpo'), ('pgcomply_server', 'compliance_staff'), ('pgcomply_server', 'compliance_approver'),
          ('pgcomply_worker', 'compliance_worker'));
  -- a role that skips row-level security, short of a superuser (who skips everything)
  select coalesce(jsonb_agg(r.rolname order by r.rolname), '[]') into v_bypass
    from pg_catalog.pg_roles r where r.rolbypassrls and not r.rolsuper;
  status := case when v_added = '[]' and v_removed = '[]' and v_logins = '[]' and v_bypass = '[]' then 'pass' else 'fail' end;
  measured := jsonb_build_object('unexpected_grants', v_added, 'missing_grants', v_removed,
    'unexpected_members', v_logins, 'bypassrls_roles', v_bypass);
  threshold := jsonb_build_object('unexpected_grants', '[]'::jsonb, 'missing_grants', '[]'::jsonb, 'unexpected_members', '[]'::jsonb, 'bypassrls_roles', '[]'::jsonb);
  detail := case when status = 'pass' then 'grants are as the migrations left them; no other login acts as a pgcomply role; no role bypasses row-level security'
                 else format('%s unexpected grant(s), %s missing, %s unexpected member(s) of pgcomply roles, %s role(s) with BYPASSRLS',
                             jsonb_array_length(v_added), jsonb_array_length(v_removed), jsonb_array_length(v_logins), jsonb_array_length(v_bypass)) end;
  evidence := 'select * from compliance_private.current_grants() except select * from compliance_private.expected_grants; select rolname from pg_roles where rolbypassrls and not rolsuper';
  return next;
end;
$function$;

comment on function compliance_private.check_privileges(context jsonb) is
  'Compliance check: the grants on pgcomply''s objects equal the set the migrations recorded (expected_grants), no login other than pgcomply_migrator, pgcomply_server and pgcomply_worker may act as a role that reaches personal data (the auditor role is meant for people), and no role but a superuser has BYPASSRLS.';

-- included from fixtures/checks/check_password_encryption.sql
-- compliance_private.check_password_encryption(context jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.check_password_encryption(context jsonb)
 RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  status := case when current_setting('password_encryption') = 'scram-sha-256' then 'pass' else 'fail' end;
  measured := jsonb_build_object('password_encryption', current_setting('password_encryption'));
  threshold := jsonb_build_object('password_encryption', 'scram-sha-256');
  detail := format('password_encryption is %s', current_setting('password_encryption'));
  evidence := 'show password_encryption';
  return next;
end;
$function$;

comment on function compliance_private.check_password_encryption(context jsonb) is
  'Compliance check: password_encryption is scram-sha-256, so no new password is stored as MD5.';

-- included from fixtures/checks/check_client_tls.sql
-- compliance_private.check_client_tls(context jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.check_client_tls(context jsonb)
 RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_plain bigint;
begin
  threshold := jsonb_build_object('plain_connections', 0);
  evidence := 'select count(*) from pg_stat_activity a join pg_stat_ssl s using (pid) where a.datname = current_database() and a.backend_type = ''client backend'' and not s.ssl';
  if not coalesce((context ->> 'require_tls')::boolean, false) then
    status := 'not_applicable';
    measured := '{}';
    detail := 'REQUIRE_TLS is not set: connections without TLS are allowed by configuration';
    return next;
    return;
  end if;
  select count(*) into v_plain from pg_catalog.pg_stat_activity a join pg_catalog.pg_stat_ssl s on s.pid = a.pid
   where a.datname = current_database() and a.backend_type = 'client backend' and not s.ssl;
  status := case when v_plain = 0 then 'pass' else 'fail' end;
  measured := jsonb_build_object('plain_connections', v_plain);
  detail := format('%s client connection(s) without TLS', v_plain);
  return next;
end;
$function$;

comment on function compliance_private.check_client_tls(context jsonb) is
  'Compliance check: with REQUIRE_TLS (context require_tls), no client connection to this database is without TLS (pg_stat_ssl); without it, not_applicable.';

-- included from fixtures/checks/check_master_key_age.sql
-- compliance_private.check_master_key_age(context jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.check_master_key_age(context jsonb)
 RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_limit interval := (select s.master_key_max_age from compliance.compliance_check_settings s);
  v_version integer;
  v_since timestamptz;
begin
  select max(k.kek_version) into v_version from compliance_private.subject_keys k;
  threshold := jsonb_build_object('max_age_days', extract(day from v_limit));
  evidence := 'select kek_version, min(coalesce(rewrapped_at, created_at)) from compliance_private.subject_keys group by kek_version';
  if v_version is null then
    status := 'not_applicable';
    measured := '{}';
    detail := 'no health record is stored yet, so no master key wraps anything';
    return next;
    return;
  end if;
  select min(coalesce(k.rewrapped_at, k.created_at)) into v_since from compliance_private.subject_keys k where k.kek_version = v_version;
  status := case when v_since >= now() - v_limit then 'pass' else 'fail' end;
  measured := jsonb_build_object('kek_version', v_version, 'in_use_since', v_since, 'age_days', extract(day from now() - v_since));
  detail := format('master key version %s has wrapped data keys since %s', v_version, v_since);
  return next;
end;
$function$;

comment on function compliance_private.check_master_key_age(context jsonb) is
  'Compliance check: the newest PHI master key version has wrapped data keys for less than master_key_max_age (rotate with npm run phi-keys -- rotate); not_applicable before the first health record.';

-- included from fixtures/checks/check_backup_age.sql
-- compliance_private.check_backup_age(context jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.check_backup_age(context jsonb)
 RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  status := 'not_applicable';
  measured := '{}';
  threshold := '{}';
  detail := 'no backup verification is recorded in the database yet (the operator CLI will record them): backups are not visible from inside PostgreSQL';
  evidence := 'none: backups live outside the database';
  return next;
end;
$function$;

comment on function compliance_private.check_backup_age(context jsonb) is
  'Compliance check: the age of the last verified backup. pgcomply cannot see backups until the operator CLI records their verification, so this is not_applicable, never a pass.';

-- included from fixtures/checks/check_worker_heartbeat.sql
-- compliance_private.check_worker_heartbeat(context jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.check_worker_heartbeat(context jsonb)
 RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_limit interval := (select s.heartbeat_max_age from compliance.compliance_check_settings s);
  v_last timestamptz;
begin
  select max(h.beat_at) into v_last from compliance_private.worker_heartbeats h;
  -- a beat is the minute it fell in: it is at most a minute older than it looks
  status := case when v_last is not null and v_last + interval '1 minute' >= now() - v_limit then 'pass' else 'fail' end;
  measured := jsonb_build_object('last_heartbeat', v_last);
  threshold := jsonb_build_object('max_age_seconds', extract(epoch from v_limit));
  detail := case when v_last is null then 'the worker has never beaten' else format('the worker last beat at %s', v_last) end;
  evidence := 'select max(beat_at) from compliance_private.worker_heartbeats';
  return next;
end;
$function$;

comment on function compliance_private.check_worker_heartbeat(context jsonb) is
  'Compliance check: the worker beat within heartbeat_max_age (it records a heartbeat every minute).';

-- included from fixtures/checks/check_uptime.sql
-- compliance_private.check_uptime(context jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.check_uptime(context jsonb)
 RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_settings compliance.compliance_check_settings;
  v_uptime record;
begin
  select * into strict v_settings from compliance.compliance_check_settings;
  select * into v_uptime from compliance.uptime(v_settings.uptime_window, now());
  threshold := jsonb_build_object('target_ratio', v_settings.uptime_target);
  measured := jsonb_build_object('ratio', v_uptime.ratio, 'minutes_up', v_uptime.minutes_up, 'minutes_counted', v_uptime.minutes_counted);
  evidence := format('select * from compliance.uptime(%L)', v_settings.uptime_window);
  if v_uptime.minutes_counted = 0 then
    status := 'not_applicable';
    detail := 'no heartbeat yet: uptime cannot be measured';
  else
    status := case when v_uptime.ratio >= v_settings.uptime_target then 'pass' else 'fail' end;
    detail := format('uptime %s%% over %s minutes', round(v_uptime.ratio * 100, 3), v_uptime.minutes_counted);
  end if;
  return next;
end;
$function$;

comment on function compliance_private.check_uptime(context jsonb) is
  'Compliance check: uptime over uptime_window, computed from the worker''s heartbeats (a minute without one is down), reaches uptime_target (SOC 2 A1.2).';

-- included from fixtures/checks/check_outside_the_database.sql
-- compliance_private.check_outside_the_database(context jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.check_outside_the_database(context jsonb)
 RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select 'not_applicable'::text, '{}'::jsonb, '{}'::jsonb,
         'TLS certificates of other services and vulnerability scans are outside what a data store can see: check them with the tools that can'::text,
         'none'::text;
$function$;

comment on function compliance_private.check_outside_the_database(context jsonb) is
  'Compliance check that says what it cannot measure: certificates of other services and vulnerability scans. Always not_applicable, never a pass.';

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
                                'phi_findings', 'row_level_security', 'privileges', 'password_encryption', 'client_tls',
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

-- included from fixtures/checks/alert_counts.sql
-- compliance.alert_counts(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.alert_counts()
 RETURNS TABLE(topic text, state text, alerts bigint)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select a.topic, a.state, count(*) from compliance.alert_outbox a group by a.topic, a.state order by a.topic, a.state;
$function$;

comment on function compliance.alert_counts() is
  'How many alerts the outbox holds by topic and delivery state (pending, delivered, failed), and nothing about whom they name: what /metrics exports as pgcomply_alerts.';

-- included from fixtures/access/compliance_check_settings.owner_routines.sql
-- policy owner_routines on compliance.compliance_check_settings: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance.compliance_check_settings;
create policy owner_routines on compliance.compliance_check_settings as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance.compliance_check_settings is 'The compliance-check routines (SECURITY DEFINER, running as the owner) reach every row.';

-- included from fixtures/access/compliance_check_settings.review_roles.sql
-- policy review_roles on compliance.compliance_check_settings: its current definition (db/CONVENTIONS.md).

drop policy if exists review_roles on compliance.compliance_check_settings;
create policy review_roles on compliance.compliance_check_settings as permissive for all to compliance_dpo, compliance_worker, compliance_auditor
  using (true)
  with check (true);
comment on policy review_roles on compliance.compliance_check_settings is 'The one settings row is visible to the DPO, worker and auditor; the grants decide that only the DPO may change it.';

-- included from fixtures/access/worker_heartbeats.owner_routines.sql
-- policy owner_routines on compliance_private.worker_heartbeats: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance_private.worker_heartbeats;
create policy owner_routines on compliance_private.worker_heartbeats as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance_private.worker_heartbeats is 'The compliance-check routines (SECURITY DEFINER, running as the owner) reach every row.';

-- included from fixtures/access/check_runs.owner_routines.sql
-- policy owner_routines on compliance.check_runs: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance.check_runs;
create policy owner_routines on compliance.check_runs as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance.check_runs is 'The compliance-check routines (SECURITY DEFINER, running as the owner) reach every row.';

-- included from fixtures/access/check_runs.readers.sql
-- policy readers on compliance.check_runs: its current definition (db/CONVENTIONS.md).

drop policy if exists readers on compliance.check_runs;
create policy readers on compliance.check_runs as permissive for select to compliance_dpo, compliance_auditor, compliance_worker
  using (true);
comment on policy readers on compliance.check_runs is 'Check runs and results are evidence: the DPO, auditors and the worker read them all; only run_compliance_checks writes.';

-- included from fixtures/access/check_results.owner_routines.sql
-- policy owner_routines on compliance.check_results: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance.check_results;
create policy owner_routines on compliance.check_results as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance.check_results is 'The compliance-check routines (SECURITY DEFINER, running as the owner) reach every row.';

-- included from fixtures/access/check_results.readers.sql
-- policy readers on compliance.check_results: its current definition (db/CONVENTIONS.md).

drop policy if exists readers on compliance.check_results;
create policy readers on compliance.check_results as permissive for select to compliance_dpo, compliance_auditor, compliance_worker
  using (true);
comment on policy readers on compliance.check_results is 'Check runs and results are evidence: the DPO, auditors and the worker read them all; only run_compliance_checks writes.';

-- included from fixtures/access/expected_grants.owner_routines.sql
-- policy owner_routines on compliance_private.expected_grants: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance_private.expected_grants;
create policy owner_routines on compliance_private.expected_grants as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance_private.expected_grants is 'The compliance-check routines (SECURITY DEFINER, running as the owner) reach every row.';

revoke all on function compliance.record_heartbeat(), compliance.uptime(interval, timestamptz),
  compliance.run_compliance_checks(text, boolean) from public;
grant execute on function compliance.record_heartbeat() to compliance_worker;
revoke all on function compliance.alert_counts() from public;
grant execute on function compliance.alert_counts() to compliance_app, compliance_dpo, compliance_auditor;
grant execute on function compliance.uptime(interval, timestamptz) to compliance_worker, compliance_dpo, compliance_auditor, compliance_app;
grant execute on function compliance.run_compliance_checks(text, boolean) to compliance_worker, compliance_dpo;

-- last: the grants as this migration leaves them
select compliance_private.record_expected_grants();
