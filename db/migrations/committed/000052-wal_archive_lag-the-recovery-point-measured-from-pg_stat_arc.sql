--! Previous: sha1:fe623a796fd5a064464373a2ede05c3e971d002b
--! Hash: sha1:ca1dbbeb9151a6115ea17829789d09d82ebb19b1
--! Message: wal_archive_lag: the recovery point measured from pg_stat_archiver

-- The recovery point, measured: wal_archive_lag reads pg_stat_archiver and fails while
-- archive_command fails or completed WAL waits longer than wal_archive_max_lag (5 minutes).

alter table compliance.compliance_check_settings
  add column wal_archive_max_lag interval not null default '5 minutes',
  add constraint compliance_check_settings_wal_archive_max_lag_positive check (wal_archive_max_lag > interval '0');
comment on column compliance.compliance_check_settings.wal_archive_max_lag is
  'How long a completed WAL segment may wait for the archive before wal_archive_lag fails: the recovery point''s bound, well inside the seeds'' RPO of 1 hour.';

-- included from fixtures/checks/check_wal_archive_lag.sql
-- compliance_private.check_wal_archive_lag(context jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.check_wal_archive_lag(context jsonb)
 RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_limit interval := (select s.wal_archive_max_lag from compliance.compliance_check_settings s);
  v_archiver pg_catalog.pg_stat_archiver;
  v_per_log bigint := 4294967296 / (select setting::bigint from pg_catalog.pg_settings where name = 'wal_segment_size');
  v_segment_size bigint := (select setting::bigint from pg_catalog.pg_settings where name = 'wal_segment_size');
  v_current text;
  v_unarchived bigint;
  v_archived_end bigint;
  v_at_risk numeric;
  v_failing boolean;
  v_lag interval;
begin
  threshold := jsonb_build_object('max_lag_seconds', extract(epoch from v_limit)::int);
  evidence := 'select archived_count, last_archived_wal, last_archived_time, failed_count, last_failed_wal, last_failed_time from pg_stat_archiver; select pg_walfile_name(pg_current_wal_lsn())';
  if current_setting('archive_mode') = 'off' or pg_catalog.pg_is_in_recovery() then
    status := 'not_applicable';
    measured := jsonb_build_object('archive_mode', current_setting('archive_mode'));
    detail := 'archive_mode is off (the embedded default): no WAL is archived, so there is no recovery point to measure; pgcomply backup setup configures pgBackRest (README, "Backups")';
    return next;
    return;
  end if;
  select * into v_archiver from pg_catalog.pg_stat_archiver;
  v_current := pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn());
  -- completed segments not yet archived: the one being written is not due
  v_unarchived := greatest(0,
    (('x' || substr(v_current, 9, 8))::bit(32)::bigint * v_per_log + ('x' || substr(v_current, 17, 8))::bit(32)::bigint)
    - coalesce(('x' || substr(v_archiver.last_archived_wal, 9, 8))::bit(32)::bigint * v_per_log
               + ('x' || substr(v_archiver.last_archived_wal, 17, 8))::bit(32)::bigint, -1) - 1);
  -- WAL written after the end of the last archived segment: what losing the server now would lose
  v_archived_end := case when v_archiver.last_archived_wal is null then 0
    else ((('x' || substr(v_archiver.last_archived_wal, 9, 8))::bit(32)::bigint * v_per_log
           + ('x' || substr(v_archiver.last_archived_wal, 17, 8))::bit(32)::bigint) + 1) * v_segment_size end;
  v_at_risk := greatest(0, pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(),
    format('%s/%s', to_hex(v_archived_end >> 32), to_hex(v_archived_end & 4294967295))::pg_lsn));
  v_failing := v_archiver.last_failed_time is not null
               and v_archiver.last_failed_time > coalesce(v_archiver.last_archived_time, '-infinity');
  -- what a loss of the server now would lose: WAL written since the last segment that reached the archive
  v_lag := case when v_failing or v_at_risk > 0
                then now() - coalesce(v_archiver.last_archived_time, pg_catalog.pg_postmaster_start_time())
                else interval '0' end;
  measured := jsonb_build_object('lag_seconds', round(extract(epoch from v_lag), 1), 'unarchived_segments', v_unarchived,
    'unarchived_bytes', v_at_risk,
    'archive_failing', v_failing, 'last_archived_wal', v_archiver.last_archived_wal, 'last_archived_time', v_archiver.last_archived_time,
    'last_failed_wal', v_archiver.last_failed_wal, 'last_failed_time', v_archiver.last_failed_time, 'failed_count', v_archiver.failed_count);
  status := case when v_failing or v_lag > v_limit then 'fail' else 'pass' end;
  detail := case
    when v_failing then format('archive_command is failing (last failure %s on %s): WAL since %s would be lost with the server',
                               v_archiver.last_failed_time, v_archiver.last_failed_wal, coalesce(v_archiver.last_archived_time::text, 'the start'))
    when status = 'fail' then format('WAL written over the last %s has not reached the archive (%s completed segment(s) waiting), longer than %s', v_lag, v_unarchived, v_limit)
    else format('the archive is %s behind (at most %s allowed; RPO 1 hour)', v_lag, v_limit) end;
  return next;
end;
$function$;

comment on function compliance_private.check_wal_archive_lag(context jsonb) is
  'Compliance check (the seeds'' RPO of 1 hour): continuous WAL archiving keeps up. From pg_stat_archiver: fails while archive_command fails, or when WAL written since the last archived segment is older than wal_archive_max_lag (5 minutes); measured lag_seconds bounds what losing the server now would lose (unarchived_bytes of WAL since the archive''s end). not_applicable with archive_mode off (the embedded default) or on a standby.';

revoke all on function compliance_private.check_wal_archive_lag(jsonb) from public;
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
                                'master_key_age', 'backup_age', 'anchors', 'worker_heartbeat', 'uptime', 'outside_the_database', 'privileged_mfa', 'wal_archive_lag'] loop
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
