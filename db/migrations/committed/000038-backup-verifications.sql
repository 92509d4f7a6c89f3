--! Previous: sha1:8e89388ed7b383e0b5e4d15ce631c1067d12cbed
--! Hash: sha1:1821009079fd41c20856f281724a7f8223fc4c4b
--! Message: backup-verifications

-- Backup verification (issue #21): pgcomply backup verify restores a pg_dump archive into a
-- scratch database, verifies its chain, row-level security and grants, and records the result
-- here, which makes the backup-age check measurable.

create table compliance.backup_verifications (
  id                 bigint      generated always as identity,
  verified_at        timestamptz not null default now(),
  verified_by        text        default compliance.current_actor(),
  file_name          text        not null,
  file_sha256        text        not null,
  file_bytes         bigint      not null,
  archive_created_at timestamptz not null,
  last_seal_no       bigint,
  last_seal_hash     text,
  rows_checked       bigint      not null,
  ok                 boolean     not null,
  problems           jsonb       not null,
  constraint backup_verifications_pkey primary key (id),
  constraint backup_verifications_sha256_hex check (file_sha256 ~ '^[0-9a-f]{64}$'),
  constraint backup_verifications_seal_hash_hex check (last_seal_hash ~ '^[0-9a-f]{64}$'),
  constraint backup_verifications_file_bytes_positive check (file_bytes > 0),
  constraint backup_verifications_problems_array check (jsonb_typeof(problems) = 'array'),
  constraint backup_verifications_ok_means_no_problem check (ok = (jsonb_array_length(problems) = 0))
);
comment on table compliance.backup_verifications is
  'Every backup pgcomply backup verify restored into a scratch database and checked, with what it found. The backup-age check reads the newest sound one. Written only through compliance.record_backup_verification.';
comment on column compliance.backup_verifications.id is 'The verification.';
comment on column compliance.backup_verifications.verified_at is 'When the check ran.';
comment on column compliance.backup_verifications.verified_by is 'Who ran it (the CLI''s --actor, else the database login); emptied when that person is erased.';
comment on column compliance.backup_verifications.file_name is 'The archive''s file name as given to the CLI.';
comment on column compliance.backup_verifications.file_sha256 is 'SHA-256 (hex) of the archive''s bytes: which file was verified.';
comment on column compliance.backup_verifications.file_bytes is 'The archive''s size in bytes.';
comment on column compliance.backup_verifications.archive_created_at is 'When pg_dump made the archive (its header): the backup''s age is counted from here.';
comment on column compliance.backup_verifications.last_seal_no is 'The newest audit seal the backup holds (null when it holds none).';
comment on column compliance.backup_verifications.last_seal_hash is 'That seal''s hash (hex): an anchor log can place the backup in the chain.';
comment on column compliance.backup_verifications.rows_checked is 'Audit rows the independent verifier checked in the restored copy.';
comment on column compliance.backup_verifications.ok is 'True when nothing was found: the chain verifies, and row-level security and grants match the live database.';
comment on column compliance.backup_verifications.problems is 'What was found, [{kind, detail, ...}]: audit chain problems as verify_audit_log names them, missing_rls, grant_missing, grant_extra, restore_failed.';
comment on sequence compliance.backup_verifications_id_seq is 'Numbers backup verifications in order.';
alter table compliance.backup_verifications enable row level security;
alter table compliance.backup_verifications force row level security;
-- included from fixtures/access/backup_verifications.owner_routines.sql
-- policy owner_routines on compliance.backup_verifications: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance.backup_verifications;
create policy owner_routines on compliance.backup_verifications as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance.backup_verifications is 'compliance.record_backup_verification and erasure (SECURITY DEFINER, running as the owner) reach every row.';

-- included from fixtures/access/backup_verifications.readers.sql
-- policy readers on compliance.backup_verifications: its current definition (db/CONVENTIONS.md).

drop policy if exists readers on compliance.backup_verifications;
create policy readers on compliance.backup_verifications as permissive for select to compliance_dpo, compliance_auditor
  using (true);
comment on policy readers on compliance.backup_verifications is 'The DPO and auditors read every backup verification; only compliance.record_backup_verification writes.';

grant select on compliance.backup_verifications to compliance_dpo, compliance_auditor;

alter table compliance.compliance_check_settings add column backup_max_age interval not null default '26 hours',
  add constraint compliance_check_settings_backup_max_age_positive check (backup_max_age > interval '0');
comment on column compliance.compliance_check_settings.backup_max_age is 'How old the newest backup verified by pgcomply backup verify may be (a daily backup with two hours to spare).';

-- included from fixtures/backups/record_backup_verification.sql
-- compliance.record_backup_verification(...): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.record_backup_verification(file_name text, file_sha256 text, file_bytes bigint,
  archive_created_at timestamp with time zone, last_seal_no bigint, last_seal_hash text, rows_checked bigint, problems jsonb)
 RETURNS bigint
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_id bigint;
  v_ok boolean;
begin
  if file_name is null or btrim(file_name) = '' or file_sha256 is null or file_sha256 !~ '^[0-9a-f]{64}$'
     or file_bytes is null or file_bytes <= 0 or archive_created_at is null or rows_checked is null or rows_checked < 0
     or problems is null or jsonb_typeof(problems) <> 'array' then
    perform compliance_private.raise_error('BADRG', 'a backup verification needs the file''s name, SHA-256 (hex), size and creation time, the rows checked and the problems (an array)');
  end if;
  if archive_created_at > now() + interval '5 minutes' then
    perform compliance_private.raise_error('BADRG', format('the backup says it was made at %s, which is in the future', archive_created_at));
  end if;
  v_ok := jsonb_array_length(problems) = 0;
  insert into compliance.backup_verifications (file_name, file_sha256, file_bytes, archive_created_at, last_seal_no, last_seal_hash,
    rows_checked, ok, problems)
  values (record_backup_verification.file_name, record_backup_verification.file_sha256, record_backup_verification.file_bytes,
    record_backup_verification.archive_created_at, record_backup_verification.last_seal_no, record_backup_verification.last_seal_hash,
    record_backup_verification.rows_checked, v_ok, record_backup_verification.problems)
  returning id into v_id;
  perform compliance_private.append_audit('backup.verified', 'soc2', 'backup_verification', v_id::text,
    jsonb_build_object('file_sha256', record_backup_verification.file_sha256, 'archive_created_at', record_backup_verification.archive_created_at,
      'last_seal_no', record_backup_verification.last_seal_no, 'ok', v_ok, 'problems', jsonb_array_length(record_backup_verification.problems)),
    outcome => case when v_ok then 'success' else 'failure' end,
    failure_reason => case when v_ok then null else 'the restored backup had problems' end);
  return v_id;
end;
$function$;

comment on function compliance.record_backup_verification(text, text, bigint, timestamp with time zone, bigint, text, bigint, jsonb) is
  'Records that a backup was restored into a scratch database and checked (pgcomply backup verify): the archive''s name, SHA-256, size and creation time, the newest seal it holds, the rows its audit chain verified and every problem found (chain, row-level security, grants). Audited as backup.verified (failure when problems were found). Only the owner and superusers may call it: the application logins cannot make a backup look verified.';

revoke all on function compliance.record_backup_verification(text, text, bigint, timestamp with time zone, bigint, text, bigint, jsonb) from public;
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
begin
  threshold := jsonb_build_object('max_age_hours', round(extract(epoch from v_limit) / 3600, 1));
  evidence := 'select verified_at, archive_created_at, ok, file_sha256, last_seal_no from compliance.backup_verifications order by verified_at desc';
  select * into v_last from compliance.backup_verifications b order by b.verified_at desc, b.id desc limit 1;
  if v_last.id is null then
    status := 'not_applicable';
    measured := '{}';
    detail := 'no backup verification is recorded: backups are not visible from inside PostgreSQL until pgcomply backup verify restores one';
    return next;
    return;
  end if;
  select * into v_good from compliance.backup_verifications b where b.ok order by b.archive_created_at desc, b.id desc limit 1;
  measured := jsonb_build_object('newest_verified_backup', v_good.archive_created_at, 'age_hours', round(extract(epoch from now() - v_good.archive_created_at) / 3600, 1),
    'file_sha256', v_good.file_sha256, 'last_verification_ok', v_last.ok);
  status := case when v_good.id is not null and v_good.archive_created_at >= now() - v_limit then 'pass' else 'fail' end;
  detail := case
    when v_good.id is null then format('no backup verified without problems; the last one (%s) had %s', v_last.file_name, jsonb_array_length(v_last.problems))
    when status = 'pass' then format('the newest backup restored and verified was made at %s', v_good.archive_created_at)
    else format('the newest backup restored and verified was made at %s, longer ago than %s', v_good.archive_created_at, v_limit) end;
  return next;
end;
$function$;

comment on function compliance_private.check_backup_age(context jsonb) is
  'Compliance check: the newest backup that pgcomply backup verify restored and found sound was made less than backup_max_age ago (SOC 2 A1.2). not_applicable until a first verification is recorded, because backups are invisible from inside PostgreSQL; never a pass without one.';

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
  'The erasure transaction; see compliance.erase_subject.';

select compliance_private.record_expected_grants();
