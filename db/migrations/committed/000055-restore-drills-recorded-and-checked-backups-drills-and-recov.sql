--! Previous: sha1:6b357dc527091104a866412b0213c5e0dbd46902
--! Hash: sha1:015750a1c307d249e8929ca5f95169519557db2b
--! Message: Restore drills recorded and checked; backups, drills and recovery points in the monthly report and evidence

-- Restore drills: pgcomply backup drill and the worker's weekly drill restore the newest backup (or a
-- point in time) with pgBackRest into a scratch cluster, replay the erasure journal, verify the chain,
-- the anchors, row-level security and privileges, and record it here (compliance.record_restore_drill,
-- backup.drill). The restore_drill check holds the newest drill against its age and the recovery time
-- objective; the monthly report and the evidence populations show backups, drills and recovery points.

alter table compliance.compliance_check_settings
  add column restore_drill_max_age interval not null default '8 days',
  add column recovery_time_objective interval not null default '4 hours',
  add constraint compliance_check_settings_restore_drill_max_age_positive check (restore_drill_max_age > interval '0'),
  add constraint compliance_check_settings_recovery_time_objective_positive check (recovery_time_objective > interval '0');
comment on column compliance.compliance_check_settings.restore_drill_max_age is
  'The restore_drill check fails when the newest drill is older (default 8 days: the worker drills weekly, on Sundays after the full backup).';
comment on column compliance.compliance_check_settings.recovery_time_objective is
  'The recovery time objective (the seeds'': 4 hours): the restore_drill check fails when the newest drill, restore through verification, took longer.';

-- included from fixtures/backups/record_restore_drill.sql
-- compliance.record_restore_drill(result jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.record_restore_drill(result jsonb)
 RETURNS bigint
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_ok boolean;
  v_started timestamptz;
  v_finished timestamptz;
  v_seal_no bigint;
  v_live_hash bytea;
  v_problems jsonb;
  v_details jsonb;
  v_id bigint;
begin
  if result is null or jsonb_typeof(result) <> 'object' or jsonb_typeof(result -> 'ok') <> 'boolean'
     or jsonb_typeof(result -> 'problems') <> 'array' or result ->> 'started_at' is null or result ->> 'finished_at' is null then
    perform compliance_private.raise_error('BADRG', 'result must be {ok: true|false, started_at, finished_at, target, label, restored_seal_no, restored_seal_hash, rows_checked, erasures, problems: [...]}');
  end if;
  v_ok := (result ->> 'ok')::boolean;
  v_started := (result ->> 'started_at')::timestamptz;
  v_finished := (result ->> 'finished_at')::timestamptz;
  -- the recovery time is the span the drill reports, never a figure it states: a drill that has
  -- not ended yet, or ended before it began, is no measurement
  if v_finished < v_started or v_finished > clock_timestamp() + interval '1 minute' then
    perform compliance_private.raise_error('BADRG', format('a drill from %s to %s is not a span of time that has passed', v_started, v_finished));
  end if;
  v_problems := result -> 'problems';
  if v_ok and (jsonb_array_length(v_problems) > 0 or result ->> 'label' is null) then
    perform compliance_private.raise_error('BADRG', 'a drill that passed restored a named backup and found no problem');
  end if;
  -- a drill that passed restored a copy of this chain: its newest seal is one this database made
  if v_ok and result ->> 'restored_seal_no' is not null then
    v_seal_no := (result ->> 'restored_seal_no')::bigint;
    select s.seal_hash into v_live_hash from compliance.audit_seals s where s.seal_no = v_seal_no;
    if v_seal_no > coalesce((select max(s.seal_no) from compliance.audit_seals s), 0)
       or (v_live_hash is not null and encode(v_live_hash, 'hex') is distinct from result ->> 'restored_seal_hash') then
      perform compliance_private.raise_error('DRLSL', format('the restored chain''s seal %s (%s) is not this database''s', v_seal_no, result ->> 'restored_seal_hash'));
    end if;
  end if;
  -- what the drill measured; labels, WAL names, file names and digests name no one
  v_details := jsonb_strip_nulls(jsonb_build_object('tool', 'pgbackrest', 'label', result ->> 'label',
    'target', coalesce(result ->> 'target', 'newest'), 'started_at', v_started, 'finished_at', v_finished,
    'rto_seconds', round(extract(epoch from v_finished - v_started)::numeric, 1),
    'restored_seal_no', v_seal_no, 'restored_seal_hash', case when v_seal_no is not null then result ->> 'restored_seal_hash' end,
    'rows_checked', (result ->> 'rows_checked')::bigint, 'erasures', result -> 'erasures',
    'problems', (select coalesce(jsonb_agg(jsonb_build_object('kind', left(p ->> 'kind', 60), 'detail', left(p ->> 'detail', 500), 'file', left(p ->> 'file', 500))), '[]')
                   from (select p from jsonb_array_elements(v_problems) p limit 20) x)));
  v_id := compliance_private.append_audit('backup.drill', 'soc2', 'backup', result ->> 'label', v_details, null, null,
    case when v_ok then 'success' else 'failure' end, case when v_ok then null else 'drill_failed' end);
  if not v_ok then
    perform compliance_private.raise_alert('backup.drill_failed', jsonb_build_object('audit_row_id', v_id, 'problems', jsonb_array_length(v_problems)));
  end if;
  return v_id;
end;
$function$;

comment on function compliance.record_restore_drill(result jsonb) is
  'The worker (weekly) and pgcomply backup drill record a restore drill: the newest backup or a point in time restored with pgBackRest into a scratch cluster, the erasure journal replayed, the audit chain and anchors verified, row-level security and privileges checked. The recovery time (rto_seconds) is computed here from started_at and finished_at. A drill that passed must name its backup and a newest seal this database holds with the same hash (DRLSL otherwise). Audited as backup.drill (failure: drill_failed, and a backup.drill_failed alert through the outbox); the restore_drill check trusts only these rows. For the worker. Errors: BADRG, DRLSL.';

revoke all on function compliance.record_restore_drill(jsonb) from public;
grant execute on function compliance.record_restore_drill(jsonb) to compliance_worker;

-- included from fixtures/checks/check_restore_drill.sql
-- compliance_private.check_restore_drill(context jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.check_restore_drill(context jsonb)
 RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_settings compliance.compliance_check_settings;
  v_drill compliance.audit_logs;
  v_rto interval;
begin
  select * into v_settings from compliance.compliance_check_settings;
  threshold := jsonb_build_object('max_age_days', round(extract(epoch from v_settings.restore_drill_max_age) / 86400, 1),
    'rto_hours', round(extract(epoch from v_settings.recovery_time_objective) / 3600, 2));
  evidence := 'select occurred_at, outcome, details ->> ''label'', details ->> ''rto_seconds'', details -> ''problems'' from compliance.audit_logs where action = ''backup.drill'' and details ->> ''written_by'' = ''compliance.record_restore_drill'' order by id desc';
  -- only compliance.record_restore_drill writes these rows (log_event refuses backup.*)
  select * into v_drill from compliance.audit_logs a
   where a.action = 'backup.drill' and a.details ->> 'written_by' = 'compliance.record_restore_drill'
   order by a.id desc limit 1;
  if v_drill.id is null then
    status := 'not_applicable';
    measured := '{}';
    detail := 'no restore drill is recorded: the worker drills weekly once BACKUP_STANZA is set (pgcomply backup setup), and pgcomply backup drill runs one on demand; a database without pgBackRest (the embedded default) has nothing to restore';
    return next;
    return;
  end if;
  v_rto := make_interval(secs => (v_drill.details ->> 'rto_seconds')::float8);
  measured := jsonb_build_object('last_drill_at', v_drill.occurred_at, 'age_days', round(extract(epoch from now() - v_drill.occurred_at)::numeric / 86400, 2),
    'outcome', v_drill.outcome, 'label', v_drill.details ->> 'label', 'target', v_drill.details ->> 'target',
    'rto_seconds', (v_drill.details ->> 'rto_seconds')::numeric, 'problems', jsonb_array_length(coalesce(v_drill.details -> 'problems', '[]')),
    'audit_row_id', v_drill.id);
  status := case when v_drill.outcome = 'success' and v_drill.occurred_at >= now() - v_settings.restore_drill_max_age
                      and v_rto <= v_settings.recovery_time_objective then 'pass' else 'fail' end;
  detail := case
    when v_drill.outcome <> 'success' then format('the last restore drill (%s) failed: %s', v_drill.occurred_at,
      coalesce((select string_agg(p ->> 'detail', '; ') from jsonb_array_elements(v_drill.details -> 'problems') p), 'no detail'))
    when v_rto > v_settings.recovery_time_objective then format('the last restore drill took %s, longer than the recovery time objective of %s', v_rto, v_settings.recovery_time_objective)
    when status = 'fail' then format('the last restore drill was on %s, longer ago than %s', v_drill.occurred_at, v_settings.restore_drill_max_age)
    else format('backup %s restored, verified and checked in %s on %s (objective %s)', v_drill.details ->> 'label', v_rto, v_drill.occurred_at, v_settings.recovery_time_objective) end;
  return next;
end;
$function$;

comment on function compliance_private.check_restore_drill(context jsonb) is
  'Compliance check (the seeds'' RTO of 4 hours, SOC 2 A1.3): the newest restore drill compliance.record_restore_drill recorded passed, is younger than restore_drill_max_age (8 days: the worker drills weekly) and took no longer than recovery_time_objective (4 hours), restore through verification. not_applicable until a drill is recorded (the embedded default has no pgBackRest); never a pass without one.';

revoke all on function compliance_private.check_restore_drill(jsonb) from public;
-- included from fixtures/checks/run_compliance_checks.sql
-- compliance.run_compliance_checks(trigger text, require_tls boolean, full_verification boolean): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.run_compliance_checks(trigger text DEFAULT 'demand'::text, require_tls boolean DEFAULT false, full_verification boolean DEFAULT false)
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
  v_context := jsonb_build_object('since_audit_id', coalesce(v_since, 0), 'require_tls', coalesce(require_tls, false),
    'full_verification', coalesce(full_verification, false));
  foreach v_name in array array['audit_chain', 'seal_lag', 'retention_backlog', 'overdue_requests', 'emergency_reviews',
                                'phi_findings', 'breach_deadlines', 'access_review', 'row_level_security', 'privileges', 'password_encryption', 'client_tls',
                                'master_key_age', 'backup_age', 'anchors', 'worker_heartbeat', 'uptime', 'outside_the_database', 'privileged_mfa', 'wal_archive_lag', 'restore_drill'] loop
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

comment on function compliance.run_compliance_checks(trigger text, require_tls boolean, full_verification boolean) is
  'Runs every compliance check (compliance_private.check_*) now, stores a run and its results, raises one compliance.check_failed alert per failing check in the outbox, and audits the run (compliance.checks_run, with the results'' hash). require_tls: whether the deployment requires TLS (REQUIRE_TLS), for the client_tls check; full_verification: verify the whole audit chain rather than from the last checkpoint. Returns the results. The worker runs it daily at 06:00 UTC; a DPO on demand.';

-- included from fixtures/reports/monthly_report_content.sql
-- compliance_private.monthly_report_content(period_from timestamp with time zone, period_to timestamp with time zone): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.monthly_report_content(period_from timestamp with time zone, period_to timestamp with time zone)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  -- every figure is {value, population}: the evidence population (compliance.evidence_populations)
  -- over the same period holds the rows it was counted from
  with requests as (
    select r.* from compliance.dsr_requests r where r.received_at >= period_from and r.received_at < period_to
  ), audit as (
    select a.action, a.resource_id, a.outcome, a.details, a.occurred_at from compliance.audit_logs a
     where a.occurred_at >= period_from and a.occurred_at < period_to
       and a.action in ('subject.erased', 'retention.applied', 'phi.read', 'phi.created', 'phi.updated', 'phi.deleted',
                        'phi.denied', 'phi.integrity_failure', 'phi.unusual_access')
  ), consent as (
    select c.purpose, date_trunc('week', c.recorded_at, 'UTC') as week, c.granted from compliance.consent_records c
     where c.recorded_at >= period_from and c.recorded_at < period_to
  ), checks as (
    select c.check_name, c.status from compliance.check_runs r join compliance.check_results c on c.run_id = r.id
     where r.started_at >= period_from and r.started_at < period_to
  ), emergencies as (
    select g.* from compliance.access_grants g where g.kind = 'emergency' and g.requested_at >= period_from and g.requested_at < period_to
  ), campaigns as (
    select s.* from compliance.access_review_campaign_status s where s.opened_at >= period_from and s.opened_at < period_to
  ), breaches as (
    select b.* from compliance.breaches b where b.discovered_at >= period_from and b.discovered_at < period_to
  )
  select jsonb_build_object(
    'period', jsonb_build_object('from', period_from, 'to', period_to),
    'gdpr', jsonb_build_object(
      'requests_received', jsonb_build_object('value', (select count(*) from requests), 'population', 'dsr_requests'),
      'requests_completed', jsonb_build_object('value', (select count(*) from requests r where r.completed_at is not null), 'population', 'dsr_requests'),
      'requests_overdue', jsonb_build_object('value', (select count(*) from requests r
          where r.completed_at > r.due_at or (r.completed_at is null and r.due_at < least(now(), period_to))), 'population', 'dsr_requests'),
      'median_days_to_complete', jsonb_build_object('value', (select round(percentile_cont(0.5) within group
          (order by extract(epoch from r.completed_at - r.received_at) / 86400)::numeric, 1) from requests r where r.completed_at is not null),
        'population', 'dsr_requests'),
      'erasures', jsonb_build_object('value', (select count(*) from audit a where a.action = 'subject.erased'), 'population', 'erasures'),
      'consent_trend', jsonb_build_object('population', 'consent_changes', 'weeks', coalesce((
        select jsonb_agg(jsonb_build_object('purpose', c.purpose, 'week', c.week, 'granted', c.granted_count, 'withdrawn', c.withdrawn_count)
                         order by c.purpose, c.week)
          from (select c.purpose, c.week, count(*) filter (where c.granted) as granted_count, count(*) filter (where not c.granted) as withdrawn_count
                  from consent c group by c.purpose, c.week) c), '[]'))),
    'retention', jsonb_build_object('population', 'retention_runs', 'deleted_per_category', coalesce((
      select jsonb_agg(jsonb_build_object('category', d.category, 'deleted', d.deleted) order by d.category)
        from (select a.resource_id as category, sum((a.details ->> 'deleted')::bigint) as deleted from audit a
               where a.action = 'retention.applied' and jsonb_typeof(a.details -> 'deleted') = 'number'
                 and coalesce(a.details ->> 'dry_run', 'false') = 'false'
               group by a.resource_id) d), '[]')),
    'soc2', jsonb_build_object(
      'check_pass_rates', jsonb_build_object('population', 'verification_results', 'checks', coalesce((
        select jsonb_agg(jsonb_build_object('check', c.check_name, 'runs', c.runs, 'passed', c.passed, 'failed', c.failed,
                 'not_applicable', c.not_applicable, 'pass_rate', case when c.runs > c.not_applicable then round(c.passed::numeric / (c.runs - c.not_applicable), 4) end)
                 order by c.check_name)
          from (select c.check_name, count(*) as runs, count(*) filter (where c.status = 'pass') as passed,
                       count(*) filter (where c.status = 'fail') as failed, count(*) filter (where c.status = 'not_applicable') as not_applicable
                  from checks c group by c.check_name) c), '[]')),
      -- no minute counted is no measurement, not 100%
      'uptime', (select jsonb_build_object('value', case when u.minutes_counted > 0 then u.ratio end, 'minutes_up', u.minutes_up, 'minutes_counted', u.minutes_counted, 'population', 'worker_heartbeats')
                   from compliance.uptime(least(period_to, now()) - period_from, least(period_to, now())) u),
      'access_reviews', jsonb_build_object('population', 'access_reviews',
        'campaigns', (select count(*) from campaigns), 'completed', (select count(*) from campaigns c where c.completed_at is not null),
        'overdue', (select count(*) from campaigns c where c.overdue),
        'items', (select coalesce(sum(c.items), 0) from campaigns c), 'decided', (select coalesce(sum(c.decided), 0) from campaigns c),
        'revoked', (select coalesce(sum(c.revoked), 0) from campaigns c)),
      'evidence_packages', jsonb_build_object('value', (select count(*) from compliance.evidence_packages p
          where p.generated_at >= period_from and p.generated_at < period_to), 'population', 'evidence_packages'),
      -- the seeds' mfa_enabled_users, counted from what tokens proved over the 90 days before the
      -- period's end: not_applicable (a null value with the reason) until tokens carry amr
      'mfa_enabled_users', (select case when count(*) filter (where jsonb_array_length(a.details -> 'authentication' -> 'amr') > 0) = 0
                                     then jsonb_build_object('value', null, 'not_applicable', 'no privileged request in the 90 days carried amr or acr claims', 'population', 'privileged_actions')
                                     else jsonb_build_object('value', count(distinct a.actor_id) filter (where (a.details -> 'authentication' ->> 'mfa')::boolean),
                                       'privileged_users', count(distinct a.actor_id), 'population', 'privileged_actions') end
                              from compliance.audit_logs a
                             where a.details ? 'authentication' and a.occurred_at >= period_to - interval '90 days' and a.occurred_at < period_to)),
    'hipaa', jsonb_build_object(
      'phi_accesses', jsonb_build_object('value', (select count(*) from audit a where a.action in ('phi.read', 'phi.created', 'phi.updated', 'phi.deleted')), 'population', 'phi_accesses'),
      'phi_refused', jsonb_build_object('value', (select count(*) from audit a where a.action = 'phi.denied'), 'population', 'phi_accesses'),
      'integrity_failures', jsonb_build_object('value', (select count(*) from audit a where a.action = 'phi.integrity_failure'), 'population', 'phi_accesses'),
      'unusual_access_findings', jsonb_build_object('value', (select count(*) from audit a where a.action = 'phi.unusual_access'), 'population', 'phi_unusual_access'),
      'emergency_access', jsonb_build_object('population', 'access_grants', 'value', (select count(*) from emergencies),
        'reviewed', (select count(*) from emergencies g where g.reviewed_at is not null),
        'inappropriate', (select count(*) from emergencies g where g.review_outcome = 'inappropriate'),
        'review_overdue', (select count(*) from emergencies g where g.reviewed_at is null and g.review_due_at < now()))),
    'audit_chain', jsonb_build_object('population', 'verification_results',
      'latest_verification', (select jsonb_build_object('status', c.status, 'detail', c.detail, 'at', r.started_at)
                                from compliance.check_runs r join compliance.check_results c on c.run_id = r.id and c.check_name = 'audit_chain'
                               where r.started_at < period_to order by r.id desc limit 1),
      'newest_seal', (select jsonb_build_object('seal_no', s.seal_no, 'seal_hash', encode(s.seal_hash, 'hex'), 'sealed_at', s.sealed_at, 'last_row_id', s.last_row_id)
                        from compliance.audit_seals s where s.sealed_at < period_to order by s.seal_no desc limit 1),
      -- an anchor written outside the database, as compliance.record_anchor recorded it; null when none was
      'last_anchor', (select jsonb_build_object('anchored_at', a.occurred_at, 'seal_no', (a.details ->> 'seal_no')::bigint, 'seal_hash', a.details ->> 'seal_hash',
                                                'key_id', a.details ->> 'key_id', 'destination', a.details ->> 'destination')
                        from compliance.audit_logs a where a.action = 'audit.anchored' and a.outcome = 'success' and a.occurred_at < period_to
                       order by a.id desc limit 1)),
    -- the TLS versions the client_tls check saw on the database's connections, with how many of
    -- the month's check runs saw each ("none": a connection without TLS)
    'tls', jsonb_build_object('population', 'verification_results',
      'database_versions_seen', coalesce((
        select jsonb_object_agg(v.version, v.runs order by v.version)
          from (select k as version, count(*) as runs
                  from compliance.check_runs r
                  join compliance.check_results c on c.run_id = r.id and c.check_name = 'client_tls'
                  cross join lateral jsonb_object_keys(coalesce(c.measured -> 'versions', '{}')) k
                 where r.started_at >= period_from and r.started_at < period_to
                 group by k) v), '{}')),
    -- recovery: the backups the worker recorded, the restore drills and their recovery time, and the
    -- recovery point wal_archive_lag measured; a figure with nothing measured is null with the reason
    'recovery', (select jsonb_build_object(
        'backups', jsonb_build_object('population', 'backups',
          'value', count(*) filter (where a.action = 'backup.taken' and a.details ->> 'written_by' = 'compliance.record_backup'),
          'full', count(*) filter (where a.action = 'backup.taken' and a.details ->> 'written_by' = 'compliance.record_backup' and a.details ->> 'type' = 'full'),
          'failed', count(*) filter (where a.action = 'backup.failed' and a.details ->> 'written_by' = 'compliance.record_backup')),
        'restore_drills', jsonb_build_object('population', 'restore_drills',
          'value', count(*) filter (where a.action = 'backup.drill' and a.details ->> 'written_by' = 'compliance.record_restore_drill'),
          'passed', count(*) filter (where a.action = 'backup.drill' and a.details ->> 'written_by' = 'compliance.record_restore_drill' and a.outcome = 'success'),
          'max_rto_seconds', max((a.details ->> 'rto_seconds')::numeric) filter (where a.action = 'backup.drill' and a.details ->> 'written_by' = 'compliance.record_restore_drill' and a.outcome = 'success'),
          'rto_objective_seconds', (select extract(epoch from s.recovery_time_objective)::int from compliance.compliance_check_settings s)),
        'recovery_point', (select case when count(*) = 0
                                 then jsonb_build_object('value', null, 'not_applicable', 'no wal_archive_lag check measured continuous archiving in the period', 'population', 'recovery_points')
                                 else jsonb_build_object('population', 'recovery_points', 'runs', count(*), 'failed_runs', count(*) filter (where c.status = 'fail'),
                                   'value', max((c.measured ->> 'lag_seconds')::numeric),
                                   'threshold_seconds', (select extract(epoch from s.wal_archive_max_lag)::int from compliance.compliance_check_settings s), 'rpo_seconds', 3600) end
                             from compliance.check_runs r join compliance.check_results c on c.run_id = r.id and c.check_name = 'wal_archive_lag'
                            where r.started_at >= period_from and r.started_at < period_to and c.status <> 'not_applicable'))
      from compliance.audit_logs a
     where a.occurred_at >= period_from and a.occurred_at < period_to and a.action in ('backup.taken', 'backup.failed', 'backup.drill')),
    'breaches', jsonb_build_object('population', 'breaches', 'value', (select count(*) from breaches),
      'items', coalesce((select jsonb_agg(jsonb_build_object('id', b.id, 'discovered_at', b.discovered_at, 'status', b.status,
                 'affected_count', b.affected_count, 'notified_authority_at', b.notified_authority_at,
                 'notified_individuals_at', b.notified_individuals_at, 'closed_at', b.closed_at) order by b.id) from breaches b), '[]')));
$function$;

comment on function compliance_private.monthly_report_content(period_from timestamp with time zone, period_to timestamp with time zone) is
  'Computes the monthly report''s content for [period_from, period_to) from the data: GDPR (requests received, completed, overdue, median days to complete, erasures, consent grants and withdrawals per purpose and week), retention deletions per category, SOC 2 (check pass rates, uptime, access reviews, evidence packages, the users whose privileged requests proved multi-factor authentication over 90 days), HIPAA (PHI accesses and refusals, integrity failures, unusual-access findings, emergency access and its reviews), the audit chain''s latest verification, newest seal and last anchor written outside the database, the TLS versions seen on database connections (client_tls runs), recovery (backups taken and failed, restore drills with their largest recovery time against the objective, the largest recovery point wal_archive_lag measured), and breaches. Each figure names the evidence population it was counted from. No names.';

insert into compliance.evidence_populations (name, controls, description, query) values
  ('backups', '{SOC 2 A1.2}',
   'A backup the worker took with pgBackRest in the period, or one that failed, as compliance.record_backup recorded it: type, label, start and stop, size, WAL range.',
   'select a.id as audit_row_id, a.occurred_at, a.action, a.outcome, a.details ->> ''type'' as type, a.details ->> ''label'' as label, a.details ->> ''started_at'' as started_at, a.details ->> ''stopped_at'' as stopped_at, (a.details ->> ''size_bytes'')::bigint as size_bytes, a.details ->> ''wal_start'' as wal_start, a.details ->> ''wal_stop'' as wal_stop from compliance.audit_logs a where a.action in (''backup.taken'', ''backup.failed'') and a.details ->> ''written_by'' = ''compliance.record_backup'' and a.occurred_at >= $1 and a.occurred_at < $2 order by a.id'),
  ('restore_drills', '{SOC 2 A1.3}',
   'A restore drill in the period, as compliance.record_restore_drill recorded it: the backup or point in time restored, the recovery time, the newest seal of the restored chain, the rows verified, the erasures replayed and the problems found.',
   'select a.id as audit_row_id, a.occurred_at, a.outcome, a.details ->> ''label'' as label, a.details ->> ''target'' as target, (a.details ->> ''rto_seconds'')::numeric as rto_seconds, (a.details ->> ''restored_seal_no'')::bigint as restored_seal_no, (a.details ->> ''rows_checked'')::bigint as rows_checked, a.details -> ''erasures'' as erasures, a.details -> ''problems'' as problems from compliance.audit_logs a where a.action = ''backup.drill'' and a.details ->> ''written_by'' = ''compliance.record_restore_drill'' and a.occurred_at >= $1 and a.occurred_at < $2 order by a.id'),
  ('recovery_points', '{SOC 2 A1.2}',
   'A wal_archive_lag measurement in the period: how far continuous WAL archiving was behind (the most a lost server would lose), whether archive_command was failing, against the threshold.',
   'select r.id as run_id, r.started_at, c.status, (c.measured ->> ''lag_seconds'')::numeric as lag_seconds, (c.measured ->> ''archive_failing'')::boolean as archive_failing, (c.measured ->> ''unarchived_bytes'')::bigint as unarchived_bytes, c.threshold from compliance.check_runs r join compliance.check_results c on c.run_id = r.id and c.check_name = ''wal_archive_lag'' where r.started_at >= $1 and r.started_at < $2 order by r.id');

select compliance_private.record_expected_grants();
