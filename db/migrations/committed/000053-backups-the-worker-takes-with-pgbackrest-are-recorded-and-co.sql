--! Previous: sha1:ca1dbbeb9151a6115ea17829789d09d82ebb19b1
--! Hash: sha1:d2bbe89aed912d7a24c804fd18be1070b260b4bb
--! Message: Backups the worker takes with pgBackRest are recorded and counted by backup_age

-- Backups the worker takes with pgBackRest are recorded, audited (backup.taken, backup.failed with
-- an alert), and backup_age counts them.
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
  if v_ok and (result ->> 'label' is null or result ->> 'stopped_at' is null) then
    perform compliance_private.raise_error('BADRG', 'a backup that succeeded has a label and a stop time (pgbackrest info)');
  end if;
  -- what pgBackRest said, no more: the label and WAL names carry no personal data
  v_details := jsonb_strip_nulls(jsonb_build_object('tool', 'pgbackrest', 'type', result ->> 'type', 'label', result ->> 'label',
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
  'The worker records a backup pgBackRest took (or failed to take): type (full, diff, incr), label, start and stop, size, repository size and WAL range, from pgbackrest info. Audited as backup.taken, or backup.failed with the error in the personal part and a backup.failed alert through the outbox. Only the worker may call it; the backup_age check trusts these rows. Errors: BADRG.';

revoke all on function compliance.record_backup(jsonb) from public;
grant execute on function compliance.record_backup(jsonb) to compliance_worker;
-- included from fixtures/checks/check_backup_age.sql
-- compliance_private.check_backup_age(context jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.check_backup_age(context jsonb)
 RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_limit interval := (select s.backup_max_age from compliance.compliance_check_settings s);
  v_good compliance.backup_verifications;
  v_last compliance.backup_verifications;
  v_taken timestamptz;
  v_label text;
  v_newest timestamptz;
begin
  threshold := jsonb_build_object('max_age_hours', round(extract(epoch from v_limit) / 3600, 1));
  evidence := 'select verified_at, archive_created_at, ok, file_sha256, last_seal_no from compliance.backup_verifications order by verified_at desc; '
    || 'select details ->> ''stopped_at'', details ->> ''label'' from compliance.audit_logs where action = ''backup.taken'' and details ->> ''written_by'' = ''compliance.record_backup'' order by id desc';
  -- pgBackRest's backups as the worker recorded them (only compliance.record_backup writes these rows)
  select (a.details ->> 'stopped_at')::timestamptz, a.details ->> 'label' into v_taken, v_label
    from compliance.audit_logs a
   where a.action = 'backup.taken' and a.outcome = 'success' and a.details ->> 'written_by' = 'compliance.record_backup'
   order by (a.details ->> 'stopped_at')::timestamptz desc limit 1;
  select * into v_last from compliance.backup_verifications b order by b.verified_at desc, b.id desc limit 1;
  if v_last.id is null and v_taken is null then
    status := 'not_applicable';
    measured := '{}';
    detail := 'no backup is recorded: the worker records pgBackRest''s backups once BACKUP_STANZA is set (pgcomply backup setup), and pgcomply backup verify records a verified dump';
    return next;
    return;
  end if;
  select * into v_good from compliance.backup_verifications b where b.ok order by b.archive_created_at desc, b.id desc limit 1;
  v_newest := greatest(v_good.archive_created_at, v_taken);
  measured := jsonb_build_object('newest_backup', v_newest, 'age_hours', round(extract(epoch from now() - v_newest) / 3600, 1),
    'newest_pgbackrest_backup', v_taken, 'pgbackrest_label', v_label,
    'newest_verified_dump', v_good.archive_created_at, 'file_sha256', v_good.file_sha256, 'last_verification_ok', v_last.ok);
  status := case when v_newest is not null and v_newest >= now() - v_limit then 'pass' else 'fail' end;
  detail := case
    when v_newest is null then format('no backup verified without problems; the last one (%s) had %s', v_last.file_name, jsonb_array_length(v_last.problems))
    when status = 'pass' then format('the newest backup (%s) was made at %s', coalesce(v_label, v_good.file_name), v_newest)
    else format('the newest backup was made at %s, longer ago than %s', v_newest, v_limit) end;
  return next;
end;
$function$;

comment on function compliance_private.check_backup_age(context jsonb) is
  'Compliance check: the newest backup is younger than backup_max_age (SOC 2 A1.2): a pgBackRest backup the worker recorded (compliance.record_backup), or a dump pgcomply backup verify restored and found sound. not_applicable until either is recorded, because backups are invisible from inside PostgreSQL; never a pass without one.';

select compliance_private.record_expected_grants();
