--! Previous: sha1:015750a1c307d249e8929ca5f95169519557db2b
--! Hash: sha1:5c20d6a2fabc24a182fff4a1ed19369420b3170e
--! Message: The daily inventory of pgBackRest's backups and its archive check

-- What pgBackRest itself says, every day before the checks: the worker records each backup
-- pgbackrest info lists that it has not recorded yet (record_backup, now one row per label), and the
-- outcome of pgbackrest check (record_archive_check), which wal_archive_lag now also holds.
-- included from fixtures/backups/record_backup.sql
-- compliance.record_backup(result jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.record_backup(result jsonb)
 RETURNS bigint
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_ok boolean;
  v_details jsonb;
  v_id bigint;
begin
  if result is null or jsonb_typeof(result) <> 'object' or result ->> 'type' not in ('full', 'diff', 'incr')
     or jsonb_typeof(result -> 'ok') <> 'boolean' then
    perform compliance_private.raise_error('BADRG', 'result must be {type: full|diff|incr, ok: true|false, label, started_at, stopped_at, size_bytes, repo_size_bytes, wal_start, wal_stop, error}');
  end if;
  v_ok := (result ->> 'ok')::boolean;
  -- the daily inventory (pgbackrest info) records backups taken outside the worker; one already recorded stays one row
  if v_ok then
    select a.id into v_id from compliance.audit_logs a
     where a.action = 'backup.taken' and a.resource_id = result ->> 'label' and a.details ->> 'written_by' = 'compliance.record_backup'
     order by a.id limit 1;
    if v_id is not null then
      return v_id;
    end if;
  end if;
  if v_ok and (result ->> 'label' is null or result ->> 'stopped_at' is null) then
    perform compliance_private.raise_error('BADRG', 'a backup that succeeded has a label and a stop time (pgbackrest info)');
  end if;
  -- what pgBackRest said, no more: the label and WAL names carry no personal data
  v_details := jsonb_strip_nulls(jsonb_build_object('tool', 'pgbackrest', 'type', result ->> 'type', 'label', result ->> 'label',
    'found_by', case when (result ->> 'inventory')::boolean then 'inventory' end,
    'started_at', (result ->> 'started_at')::timestamptz, 'stopped_at', (result ->> 'stopped_at')::timestamptz,
    'size_bytes', (result ->> 'size_bytes')::bigint, 'repo_size_bytes', (result ->> 'repo_size_bytes')::bigint,
    'wal_start', result ->> 'wal_start', 'wal_stop', result ->> 'wal_stop'));
  v_id := compliance_private.append_audit(case when v_ok then 'backup.taken' else 'backup.failed' end, 'soc2', 'backup',
    result ->> 'label', v_details, null,
    case when v_ok then null else jsonb_build_object('error', left(result ->> 'error', 500)) end,
    case when v_ok then 'success' else 'failure' end, case when v_ok then null else 'backup_failed' end);
  if not v_ok then
    perform compliance_private.raise_alert('backup.failed', jsonb_build_object('audit_row_id', v_id, 'type', result ->> 'type'));
  end if;
  return v_id;
end;
$function$;

comment on function compliance.record_backup(result jsonb) is
  'The worker records a backup pgBackRest took (or failed to take): type (full, diff, incr), label, start and stop, size, repository size and WAL range, from pgbackrest info; the daily inventory records a backup taken outside the worker (inventory: true, found_by), and a label already recorded returns its row without writing another. Audited as backup.taken, or backup.failed with the error in the personal part and a backup.failed alert through the outbox. Only the worker may call it; the backup_age check trusts these rows. Errors: BADRG.';

-- included from fixtures/backups/record_archive_check.sql
-- compliance.record_archive_check(ok boolean, error text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.record_archive_check(ok boolean, error text DEFAULT NULL::text)
 RETURNS bigint
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  if ok is null or (not ok and coalesce(error, '') = '') then
    perform compliance_private.raise_error('BADRG', 'say whether pgbackrest check passed, and what it said when it did not');
  end if;
  -- pgBackRest's words name paths, hosts and WAL segments, never a person
  return compliance_private.append_audit('backup.archive_checked', 'soc2', 'backup', null,
    jsonb_strip_nulls(jsonb_build_object('tool', 'pgbackrest', 'error', case when not ok then left(error, 500) end)), null, null,
    case when ok then 'success' else 'failure' end, case when ok then null else 'archive_check_failed' end);
end;
$function$;

comment on function compliance.record_archive_check(ok boolean, error text) is
  'The worker records pgBackRest''s archive check (pgbackrest check: a WAL segment switched, archived and found in the repository), run before the daily compliance checks. Audited as backup.archive_checked; a failure, with pgBackRest''s error, fails wal_archive_lag for two days unless a later check passes. For the worker. Errors: BADRG.';

revoke all on function compliance.record_archive_check(boolean, text) from public;
grant execute on function compliance.record_archive_check(boolean, text) to compliance_worker;
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
  v_check compliance.audit_logs;
begin
  threshold := jsonb_build_object('max_lag_seconds', extract(epoch from v_limit)::int);
  evidence := 'select archived_count, last_archived_wal, last_archived_time, failed_count, last_failed_wal, last_failed_time from pg_stat_archiver; select pg_walfile_name(pg_current_wal_lsn()); '
    || 'select occurred_at, outcome, details ->> ''error'' from compliance.audit_logs where action = ''backup.archive_checked'' and details ->> ''written_by'' = ''compliance.record_archive_check'' order by id desc limit 1';
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
  -- pgBackRest's own archive check, as the worker last ran it (pgbackrest check, before the daily
  -- checks): a segment pg_stat_archiver counts as archived must also be found in the repository
  select * into v_check from compliance.audit_logs a
   where a.action = 'backup.archive_checked' and a.details ->> 'written_by' = 'compliance.record_archive_check'
     and a.occurred_at > now() - interval '2 days'
   order by a.id desc limit 1;
  measured := measured || jsonb_build_object('pgbackrest_check', case when v_check.id is not null
    then jsonb_build_object('at', v_check.occurred_at, 'ok', v_check.outcome = 'success') end);
  status := case when v_failing or v_lag > v_limit or v_check.outcome = 'failure' then 'fail' else 'pass' end;
  detail := case
    when v_check.outcome = 'failure' and not v_failing then format('pgBackRest''s archive check failed at %s: %s', v_check.occurred_at, v_check.details ->> 'error')
    when v_failing then format('archive_command is failing (last failure %s on %s): WAL since %s would be lost with the server',
                               v_archiver.last_failed_time, v_archiver.last_failed_wal, coalesce(v_archiver.last_archived_time::text, 'the start'))
    when status = 'fail' then format('WAL written over the last %s has not reached the archive (%s completed segment(s) waiting), longer than %s', v_lag, v_unarchived, v_limit)
    else format('the archive is %s behind (at most %s allowed; RPO 1 hour)', v_lag, v_limit) end;
  return next;
end;
$function$;

comment on function compliance_private.check_wal_archive_lag(context jsonb) is
  'Compliance check (the seeds'' RPO of 1 hour): continuous WAL archiving keeps up. From pg_stat_archiver: fails while archive_command fails, or when WAL written since the last archived segment is older than wal_archive_max_lag (5 minutes); and from pgBackRest: fails when its archive check (pgbackrest check, which the worker runs before the daily checks, compliance.record_archive_check) last failed within two days; measured lag_seconds bounds what losing the server now would lose (unarchived_bytes of WAL since the archive''s end). not_applicable with archive_mode off (the embedded default) or on a standby.';

select compliance_private.record_expected_grants();
