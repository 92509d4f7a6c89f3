--! Previous: sha1:f4927cec46ae33aa3db55407d9bfe1bc9c6ca3cb
--! Hash: sha1:a067aaf6a3d15ec28496e3b0c4b6ef400b330bbf
--! Message: The cold archive: a sealed month's non-personal columns, digests and seals go to a signed bundle; its personal parts stay where erasure and the export reach them

-- A month older than archive_after (90 days) is written to an archive bundle in object storage
-- or a directory by the worker or pgcomply archive, read back and verified there, and recorded
-- with record_audit_archive. Retention may then drop its partition, with a sealed drop record
-- naming the bundle; the rows' personal parts move to audit_archived_parts first.

alter table compliance.retention_policies add column if not exists archive_after interval;
alter table compliance.retention_policies drop constraint if exists retention_policies_archive_before_retention;
alter table compliance.retention_policies add constraint retention_policies_archive_before_retention
  check (archive_after is null or (action = 'drop_partition' and archive_after > interval '0' and archive_after < retention_period));
comment on column compliance.retention_policies.archive_after is
  'audit_logs only: how old a month must be before the worker writes it to the cold archive (ARCHIVE_TO) and retention may drop its partition, once archived and verified. NULL: never archived.';
-- the new column's first value is part of installing it, not a policy change by anyone: unaudited
alter table compliance.retention_policies disable trigger _900_audit;
update compliance.retention_policies set archive_after = interval '90 days' where category = 'audit_logs' and archive_after is null;
alter table compliance.retention_policies enable trigger _900_audit;
grant update (archive_after) on compliance.retention_policies to compliance_dpo;
-- included from fixtures/retention/tg_retention_policies__audit.sql
-- compliance_private.tg_retention_policies__audit(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.tg_retention_policies__audit()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  perform compliance_private.append_audit('retention.policy_changed', 'soc2', 'retention_policy', new.category,
    jsonb_build_object(
      'old', jsonb_build_object('retention_period', old.retention_period, 'action', old.action, 'enabled', old.enabled, 'counted_from', old.counted_from, 'archive_after', old.archive_after),
      'new', jsonb_build_object('retention_period', new.retention_period, 'action', new.action, 'enabled', new.enabled, 'counted_from', new.counted_from, 'archive_after', new.archive_after)));
  return null;
end;
$function$;

comment on function compliance_private.tg_retention_policies__audit() is
  'AFTER UPDATE on retention_policies: audits every policy change with its old and new values (SOC 2 PI1.4).';

create table if not exists compliance.audit_archives (
  partition_name text not null,
  range_start timestamptz not null,
  range_end timestamptz not null,
  first_row_id bigint,
  last_row_id bigint,
  row_count bigint not null,
  rows_digest bytea not null,
  bundle_uri text not null,
  bundle_sha256 bytea not null,
  key_fingerprint text not null,
  archived_at timestamptz not null default now(),
  dropped_at timestamptz,
  constraint audit_archives_pkey primary key (partition_name),
  constraint audit_archives_digests_sha256 check (octet_length(rows_digest) = 32 and octet_length(bundle_sha256) = 32),
  constraint audit_archives_range_ordered check (range_start < range_end),
  constraint audit_archives_uri_length check (length(bundle_uri) between 1 and 1000)
);
comment on table compliance.audit_archives is
  'One row per audit month written to the cold archive: the bundle''s place and SHA-256, and the digest of the rows it holds, which record_audit_archive checked against the partition. Not personal data.';
comment on column compliance.audit_archives.partition_name is 'The monthly partition of compliance.audit_logs (audit_logs_yYYYYmMM).';
comment on column compliance.audit_archives.range_start is 'The first instant of the month.';
comment on column compliance.audit_archives.range_end is 'The first instant after it.';
comment on column compliance.audit_archives.first_row_id is 'The lowest row id in the month.';
comment on column compliance.audit_archives.last_row_id is 'The highest.';
comment on column compliance.audit_archives.row_count is 'How many rows the bundle holds.';
comment on column compliance.audit_archives.rows_digest is 'SHA-256 of the rows'' hashes in id order (compliance_private.audit_partition_digest).';
comment on column compliance.audit_archives.bundle_uri is 'Where the bundle is: a file path or s3://bucket/key.';
comment on column compliance.audit_archives.bundle_sha256 is 'SHA-256 of the bundle''s bytes as stored.';
comment on column compliance.audit_archives.key_fingerprint is 'The Ed25519 key that signed the bundle''s manifest: the anchor key.';
comment on column compliance.audit_archives.archived_at is 'When the bundle was written and verified from where it is kept.';
comment on column compliance.audit_archives.dropped_at is 'When retention dropped the month''s partition (NULL: still in the database).';
alter table compliance.audit_archives enable row level security;
alter table compliance.audit_archives force row level security;
-- included from fixtures/archive/audit_archives.owner_routines.sql
-- policy owner_routines on compliance.audit_archives: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance.audit_archives;
create policy owner_routines on compliance.audit_archives as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance.audit_archives is 'compliance.record_audit_archive and retention''s drop (SECURITY DEFINER, running as the owner) reach every row.';

-- included from fixtures/archive/audit_archives.readers.sql
-- policy readers on compliance.audit_archives: its current definition (db/CONVENTIONS.md).

drop policy if exists readers on compliance.audit_archives;
create policy readers on compliance.audit_archives as permissive for select to compliance_dpo, compliance_auditor, compliance_worker
  using (true);
comment on policy readers on compliance.audit_archives is 'The DPO, auditors and the worker read every archive record; only compliance.record_audit_archive writes one, and retention marks it dropped.';

grant select on compliance.audit_archives to compliance_dpo, compliance_auditor, compliance_worker;

create table if not exists compliance.audit_archived_parts (
  id bigint not null,
  occurred_at timestamptz not null,
  partition_name text not null,
  action text not null,
  resource_type text,
  outcome text not null,
  user_id text,
  actor_id text,
  ip_address inet,
  user_agent text,
  personal_details jsonb,
  personal_salt bytea,
  subject_part_salt bytea,
  actor_part_salt bytea,
  personal_digest bytea not null,
  subject_part_digest bytea,
  actor_part_digest bytea,
  redacted_at timestamptz,
  constraint audit_archived_parts_pkey primary key (id),
  constraint audit_archived_parts_of_archive foreign key (partition_name) references compliance.audit_archives (partition_name)
);
create index if not exists audit_archived_parts_user_id_idx on compliance.audit_archived_parts (user_id) where user_id is not null;
create index if not exists audit_archived_parts_actor_id_idx on compliance.audit_archived_parts (actor_id) where actor_id is not null;
create index if not exists audit_archived_parts_partition_idx on compliance.audit_archived_parts (partition_name);
comment on table compliance.audit_archived_parts is
  'The personal parts of audit rows whose month retention dropped after archiving it: the subject''s and the actor''s, with their salts and digests, and enough of the row (time, action, outcome) for the subject''s export. The bundle holds the rest and only the digests, so erasure, which redacts here, reaches every copy of a person''s data. Personal data.';
comment on column compliance.audit_archived_parts.id is 'The audit row''s id, as in the bundle.';
comment on column compliance.audit_archived_parts.occurred_at is 'When the row was written.';
comment on column compliance.audit_archived_parts.partition_name is 'The archived month (compliance.audit_archives) whose bundle holds the row.';
comment on column compliance.audit_archived_parts.action is 'The row''s action.';
comment on column compliance.audit_archived_parts.resource_type is 'The row''s resource type.';
comment on column compliance.audit_archived_parts.outcome is 'The row''s outcome.';
comment on column compliance.audit_archived_parts.user_id is 'The subject (the subject''s part); NULL once erased.';
comment on column compliance.audit_archived_parts.actor_id is 'Who acted (the actor''s part); NULL once erased.';
comment on column compliance.audit_archived_parts.ip_address is 'The actor''s address (the actor''s part).';
comment on column compliance.audit_archived_parts.user_agent is 'The actor''s user agent (the actor''s part).';
comment on column compliance.audit_archived_parts.personal_details is 'Personal details of the row (the subject''s part).';
comment on column compliance.audit_archived_parts.personal_salt is 'Layout 1''s one salt (db/AUDIT_HASHING.md); NULL once redacted.';
comment on column compliance.audit_archived_parts.subject_part_salt is 'The subject part''s salt; NULL once redacted.';
comment on column compliance.audit_archived_parts.actor_part_salt is 'The actor part''s salt; NULL once redacted.';
comment on column compliance.audit_archived_parts.personal_digest is 'The digest the row hash covers, as in the bundle.';
comment on column compliance.audit_archived_parts.subject_part_digest is 'The subject part''s digest, as in the bundle.';
comment on column compliance.audit_archived_parts.actor_part_digest is 'The actor part''s digest, as in the bundle.';
comment on column compliance.audit_archived_parts.redacted_at is 'When erasure last redacted a part.';
alter table compliance.audit_archived_parts enable row level security;
alter table compliance.audit_archived_parts force row level security;
-- included from fixtures/archive/audit_archived_parts.owner_routines.sql
-- policy owner_routines on compliance.audit_archived_parts: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance.audit_archived_parts;
create policy owner_routines on compliance.audit_archived_parts as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance.audit_archived_parts is 'Only retention''s drop (which moves the parts here), erasure (which redacts them) and the export (which reads them) reach the rows, all SECURITY DEFINER routines running as the owner. No login role reads or writes the table.';

-- included from fixtures/archive/audit_partition_digest.sql
-- compliance_private.audit_partition_digest(partition regclass): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.audit_partition_digest(partition regclass)
 RETURNS TABLE(row_count bigint, first_row_id bigint, last_row_id bigint, rows_digest bytea)
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  -- the row hashes in id order: what an archive bundle's rows must hash to, recomputed from the
  -- rows themselves (redaction leaves them unchanged; an edit or an insert changes them)
  return query execute format($q$
    select count(*), min(a.id), max(a.id),
           sha256(coalesce(string_agg(compliance_private.audit_row_hash(a.id, a.occurred_at, a.xact_id, a.action, a.category,
                    a.resource_type, a.resource_id, a.outcome, a.failure_reason, a.details, a.personal_digest), ''::bytea order by a.id), ''::bytea))
      from %s a$q$, partition);
end;
$function$;

comment on function compliance_private.audit_partition_digest(partition regclass) is
  'One audit partition''s row count, first and last id, and rows_digest: SHA-256 of its row hashes concatenated in id order (db/AUDIT_HASHING.md, "Cold archive"). record_audit_archive compares an archive bundle''s claim with it, and the drop of an archived partition compares it again.';

-- included from fixtures/archive/archivable_audit_partitions.sql
-- compliance.archivable_audit_partitions(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.archivable_audit_partitions()
 RETURNS TABLE(partition_name text, range_start timestamp with time zone, range_end timestamp with time zone)
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_policy compliance.retention_policies;
  v_next_row_id bigint := (select h.next_row_id from compliance_private.audit_seal_head h);
  v_partition record;
  v_unsealed boolean;
begin
  select * into strict v_policy from compliance.retention_policies p where p.category = 'audit_logs';
  if v_policy.archive_after is null then
    return;
  end if;
  for v_partition in
    select e.partition_name, e.range_end
      from compliance_private.expired_audit_partitions(compliance_private.retention_now() - v_policy.archive_after) e
     where not exists (select from compliance.audit_archives r where r.partition_name = e.partition_name)
  loop
    -- a month with rows the sealer has not reached yet waits: its bundle must carry every seal
    execute format('select exists (select from compliance.%I a where a.id >= $1)', v_partition.partition_name)
      into v_unsealed using v_next_row_id;
    continue when v_unsealed;
    partition_name := v_partition.partition_name;
    range_end := v_partition.range_end;
    range_start := (regexp_match(pg_get_expr((select c.relpartbound from pg_class c
                     where c.oid = format('compliance.%I', v_partition.partition_name)::regclass), format('compliance.%I', v_partition.partition_name)::regclass),
                     'FROM \(''([^'']+)''\)'))[1]::timestamptz;
    return next;
  end loop;
end;
$function$;

comment on function compliance.archivable_audit_partitions() is
  'The monthly audit partitions ready for the cold archive: their whole range older than the audit_logs policy''s archive_after (90 days), every row sealed, no archive recorded yet. Oldest first. Worker role.';

-- included from fixtures/archive/require_archivable.sql
-- compliance_private.require_archivable(partition_name text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.require_archivable(partition_name text)
 RETURNS TABLE(range_start timestamp with time zone, range_end timestamp with time zone)
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  return query select p.range_start, p.range_end from compliance.archivable_audit_partitions() p where p.partition_name = require_archivable.partition_name;
  if not found then
    perform compliance_private.raise_error('ARCHV', format('audit partition %s is not ready for the archive (younger than archive_after, not wholly sealed, archived already, or unknown)',
      coalesce(partition_name, 'NULL')));
  end if;
end;
$function$;

comment on function compliance_private.require_archivable(partition_name text) is
  'The month''s range when compliance.archivable_audit_partitions lists it; ARCHV otherwise. What the archive''s routines check before they read or record a month.';

-- included from fixtures/archive/audit_archive_rows.sql
-- compliance.audit_archive_rows(partition_name text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.audit_archive_rows(partition_name text)
 RETURNS TABLE(id bigint, occurred_at timestamp with time zone, occurred_at_micros bigint, xact_id bigint, action text, category text,
               resource_type text, resource_id text, outcome text, failure_reason text, details text,
               personal_digest text, subject_part_digest text, actor_part_digest text)
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  perform compliance_private.require_archivable(partition_name);
  -- the columns the row hash covers and the digests of the personal parts: never a personal
  -- part itself, which stays where erasure reaches it (db/AUDIT_HASHING.md, "Cold archive")
  return query execute format($q$
    select a.id, a.occurred_at, (extract(epoch from a.occurred_at) * 1000000)::bigint, a.xact_id::text::bigint, a.action, a.category,
           a.resource_type, a.resource_id, a.outcome, a.failure_reason, a.details::text,
           encode(a.personal_digest, 'hex'), encode(a.subject_part_digest, 'hex'), encode(a.actor_part_digest, 'hex')
      from compliance.%I a order by a.id$q$, partition_name);
end;
$function$;

comment on function compliance.audit_archive_rows(partition_name text) is
  'An archivable audit partition''s rows as an archive bundle holds them: the non-personal columns the row hash covers, details as jsonb''s canonical text, the personal parts'' digests and never the parts. Worker role. Errors: ARCHV.';

-- included from fixtures/archive/audit_archive_seals.sql
-- compliance.audit_archive_seals(partition_name text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.audit_archive_seals(partition_name text)
 RETURNS TABLE(seal_no bigint, layout smallint, previous_hash text, seal_hash text, first_row_id bigint, last_row_id bigint,
               last_xact_id bigint, row_count integer, row_ids bigint[], row_hashes text, rows_elsewhere bigint[])
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_bounds record;
begin
  perform compliance_private.require_archivable(partition_name);
  execute format('select min(a.id) as low, max(a.id) as high from compliance.%I a', partition_name) into v_bounds;
  -- every seal listing one of the month's rows, and the ids it lists that are not the month's
  -- (rows of the months either side, or rows retention dropped before)
  return query execute format($q$
    select s.seal_no, s.layout, encode(s.previous_hash, 'hex'), encode(s.seal_hash, 'hex'), s.first_row_id, s.last_row_id,
           s.last_xact_id::text::bigint, s.row_count, s.row_ids, encode(s.row_hashes, 'hex'),
           array(select u.x from unnest(s.row_ids) u(x) where not exists (select from compliance.%1$I a where a.id = u.x) order by u.x)
      from compliance.audit_seals s
     where s.last_row_id >= $1 and (s.layout = 1 or s.first_row_id <= $2)
       and exists (select from unnest(s.row_ids) u(x) join compliance.%1$I a on a.id = u.x)
     order by s.seal_no$q$, partition_name) using v_bounds.low, v_bounds.high;
end;
$function$;

comment on function compliance.audit_archive_seals(partition_name text) is
  'The seals that list an archivable audit partition''s rows, as an archive bundle holds them, each with the ids it lists that belong to another month (rows_elsewhere). Worker role. Errors: ARCHV.';

-- included from fixtures/archive/record_audit_archive.sql
-- compliance.record_audit_archive(partition_name text, bundle_uri text, bundle_sha256 text, rows_digest text, row_count bigint, key_fingerprint text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.record_audit_archive(partition_name text, bundle_uri text, bundle_sha256 text, rows_digest text, row_count bigint, key_fingerprint text)
 RETURNS compliance.audit_archives
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_month record;
  v_now record;
  v_key text := (select s.anchor_key_fingerprint from compliance.compliance_check_settings s);
  v_archive compliance.audit_archives;
begin
  if bundle_uri is null or length(bundle_uri) not between 1 and 1000 or bundle_sha256 is null or bundle_sha256 !~ '^[0-9a-f]{64}$'
     or rows_digest is null or rows_digest !~ '^[0-9a-f]{64}$' or row_count is null or key_fingerprint is null then
    perform compliance_private.raise_error('BADRG', 'an archive names its bundle (1 to 1000 characters), the bundle''s SHA-256 and its rows'' digest (64 hex digits each), its row count and the signing key''s fingerprint');
  end if;
  -- the key must be the one the anchors are signed with: a bundle signed by any other key is not
  -- one an auditor can check against the anchors
  if v_key is distinct from key_fingerprint then
    perform compliance_private.raise_error('ARCHV', format('the bundle is signed by key %s, the anchors by %s (compliance.set_anchor_key)',
      left(key_fingerprint, 16), coalesce(left(v_key, 16), 'none set')));
  end if;
  select * into strict v_month from compliance_private.require_archivable(partition_name);
  -- what the bundle claims, against the rows themselves: the worker cannot record a bundle that
  -- leaves out, adds or changes a row
  select * into strict v_now from compliance_private.audit_partition_digest(format('compliance.%I', partition_name)::regclass);
  if v_now.row_count <> record_audit_archive.row_count or v_now.rows_digest <> decode(record_audit_archive.rows_digest, 'hex') then
    perform compliance_private.raise_error('ARCHV', format('the bundle''s rows (%s, digest %s) are not the partition''s (%s, digest %s)',
      row_count, left(rows_digest, 16), v_now.row_count, left(encode(v_now.rows_digest, 'hex'), 16)));
  end if;
  insert into compliance.audit_archives (partition_name, range_start, range_end, first_row_id, last_row_id, row_count, rows_digest,
                                         bundle_uri, bundle_sha256, key_fingerprint)
  values (partition_name, v_month.range_start, v_month.range_end, v_now.first_row_id, v_now.last_row_id, v_now.row_count, v_now.rows_digest,
          bundle_uri, decode(bundle_sha256, 'hex'), key_fingerprint)
  returning * into v_archive;
  perform compliance_private.append_audit('audit.archived', 'soc2', 'audit_partition', partition_name,
    jsonb_build_object('bundle_uri', bundle_uri, 'bundle_sha256', bundle_sha256, 'rows', v_now.row_count,
      'rows_digest', rows_digest, 'first_row_id', v_now.first_row_id, 'last_row_id', v_now.last_row_id, 'key_fingerprint', key_fingerprint));
  return v_archive;
end;
$function$;

comment on function compliance.record_audit_archive(partition_name text, bundle_uri text, bundle_sha256 text, rows_digest text, row_count bigint, key_fingerprint text) is
  'The worker (or pgcomply archive) records a month''s archive bundle once it has read the bundle back from its destination and verified it: the database recomputes the month''s rows digest and refuses a bundle whose rows differ, or one signed by a key other than the anchors''. Audited (audit.archived, sealed like every row). From then on retention may drop the partition after archive_after. Worker role. Errors: BADRG, ARCHV.';

-- included from fixtures/archive/check_audit_archive.sql
-- compliance_private.check_audit_archive(context jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.check_audit_archive(context jsonb)
 RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  -- the worker archives on day 2 of each month: a month past archive_after waits up to a month more
  v_grace constant interval := interval '35 days';
  v_after interval := (select p.archive_after from compliance.retention_policies p where p.category = 'audit_logs');
  v_archives bigint := (select count(*) from compliance.audit_archives);
  v_overdue record;
begin
  evidence := 'select partition_name, bundle_uri, archived_at, dropped_at from compliance.audit_archives; '
    || 'select * from compliance_private.expired_audit_partitions(now() - (archive_after + interval ''35 days'')) '
    || 'where partition_name not in (select partition_name from compliance.audit_archives)';
  threshold := jsonb_build_object('archive_after', v_after, 'grace', v_grace);
  if v_after is null or v_archives = 0 then
    status := 'not_applicable';
    measured := jsonb_build_object('archives', v_archives, 'archive_after', v_after);
    detail := case when v_after is null then 'the audit_logs policy has no archive_after: audit months stay in the database until their retention ends'
      else 'no audit month has been archived yet: the worker''s ARCHIVE_TO is unset (months stay in the database until their retention ends), or the archive job has never succeeded (see the worker''s log)' end;
    return next;
    return;
  end if;
  -- once archiving has begun, every month past archive_after and the grace must have its bundle
  select count(*) as months, min(e.partition_name) as oldest, min(e.range_end) as oldest_end into v_overdue
    from compliance_private.expired_audit_partitions(compliance_private.retention_now() - (v_after + v_grace)) e
   where not exists (select from compliance.audit_archives r where r.partition_name = e.partition_name);
  measured := jsonb_build_object('archives', v_archives, 'months_overdue', v_overdue.months, 'oldest_overdue', v_overdue.oldest,
    'last_archived_at', (select max(r.archived_at) from compliance.audit_archives r));
  if v_overdue.months > 0 then
    status := 'fail';
    detail := format('%s audit month(s) ended over %s ago and are not archived, the oldest %s: the archive job is failing (see the worker''s log)',
      v_overdue.months, compliance_private.describe_interval(v_after + v_grace), v_overdue.oldest);
  else
    status := 'pass';
    -- what this measures is the record of each archive, made once its bundle verified from the
    -- store; that the bundles are still there is pgcomply verify --archive's to say
    detail := format('every audit month that ended over %s ago has a recorded archive (%s bundles, each verified from its store when written; pgcomply verify --archive checks they are still there)',
      compliance_private.describe_interval(v_after + v_grace), v_archives);
  end if;
  return next;
end;
$function$;

comment on function compliance_private.check_audit_archive(context jsonb) is
  'Compliance check: once the cold archive has begun, every audit month that ended more than archive_after plus 35 days ago has a recorded archive (compliance.audit_archives), made once its bundle verified from the store; whether the bundles are still there is for pgcomply verify --archive. Not applicable before the first archive, or when the audit_logs policy has no archive_after.';

revoke all on function compliance_private.check_audit_archive(jsonb) from public;
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
                                'master_key_age', 'backup_age', 'anchors', 'worker_heartbeat', 'uptime', 'outside_the_database', 'privileged_mfa', 'wal_archive_lag', 'restore_drill', 'data_map', 'processing_record', 'dsr_propagation', 'database_audit', 'siem_lag', 'audit_archive'] loop
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

revoke all on function compliance.archivable_audit_partitions() from public;
revoke all on function compliance.audit_archive_rows(text) from public;
revoke all on function compliance.audit_archive_seals(text) from public;
revoke all on function compliance.record_audit_archive(text, text, text, text, bigint, text) from public;
revoke all on function compliance_private.audit_partition_digest(regclass) from public;
revoke all on function compliance_private.require_archivable(text) from public;
grant execute on function compliance.archivable_audit_partitions() to compliance_worker;
grant execute on function compliance.audit_archive_rows(text) to compliance_worker;
grant execute on function compliance.audit_archive_seals(text) to compliance_worker;
grant execute on function compliance.record_audit_archive(text, text, text, text, bigint, text) to compliance_worker;

drop function if exists compliance_private.drop_expired_audit_partitions(timestamptz, boolean);
-- included from fixtures/retention/drop_expired_audit_partitions.sql
-- compliance_private.drop_expired_audit_partitions(cutoff timestamp with time zone, archive_cutoff timestamp with time zone, dry_run boolean): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.drop_expired_audit_partitions(cutoff timestamp with time zone, archive_cutoff timestamp with time zone, dry_run boolean)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_partition record;
  v_relid regclass;
  v_head compliance_private.audit_seal_head;
  v_bounds record;
  v_kept record;
  v_last_removed compliance.audit_seals;
  v_kept_rows jsonb;
  v_dropped jsonb := '[]';
  v_unsealed boolean;
  v_rows bigint;
  v_held bigint;
  v_drop_started timestamptz;
  v_archive compliance.audit_archives;
  v_digest record;
  v_parts bigint;
  v_parts_deleted bigint := 0;
  v_last_id bigint;
  v_last_seal bigint;
  v_last_seal_rows integer;
begin
  -- past retention, or archived, verified and past archive_after
  for v_partition in
    select e.* from compliance_private.expired_audit_partitions(greatest(cutoff, coalesce(archive_cutoff, cutoff))) e
     where e.range_end <= cutoff
        or exists (select from compliance.audit_archives r where r.partition_name = e.partition_name)
     order by e.range_end
  loop
    select * into strict v_head from compliance_private.audit_seal_head for update;
    v_relid := format('compliance.%I', v_partition.partition_name)::regclass;
    execute format('select exists (select from %s a where a.id >= $1)', v_relid) into v_unsealed using v_head.next_row_id;
    if v_unsealed then
      raise warning 'audit partition % holds unsealed rows; not dropped (run compliance.seal_audit_log())', v_partition.partition_name;
      continue;
    end if;
    execute format('select count(*) from %s', v_relid) into v_rows;
    -- a subject under legal hold keeps every audit row about them or by them: the month waits
    -- for the hold's release (holding it back keeps the chain whole)
    execute format($q$select count(*) from %s a
                        where a.user_id in (select h.user_id from compliance.legal_holds h where h.released_at is null)
                           or a.actor_id in (select h.user_id from compliance.legal_holds h where h.released_at is null)$q$, v_relid)
      into v_held;
    if v_held > 0 then
      raise warning 'audit partition % holds % rows of subjects under legal hold; kept until the holds are released',
        v_partition.partition_name, v_held;
      if not dry_run then
        perform compliance_private.append_audit('audit.partition_kept', 'system', 'audit_partition', v_partition.partition_name,
          jsonb_build_object('rows', v_rows, 'held_rows', v_held, 'range_end', v_partition.range_end, 'reason', 'legal hold'));
      end if;
      v_dropped := v_dropped || jsonb_build_object('partition', v_partition.partition_name, 'rows', 0, 'kept_for_legal_hold', v_held);
      continue;
    end if;

    -- a SIEM feed, once started, must have passed the month's rows: they leave the database here
    execute format('select max(a.id) from %s a', v_relid) into v_last_id;
    select s.seal_no, s.row_count into v_last_seal, v_last_seal_rows from compliance.audit_seals s
     where s.layout = 2 and s.first_row_id <= v_last_id and s.last_row_id >= v_last_id;
    if v_last_seal is not null
       and exists (select from compliance_private.siem_cursor c where (c.seal_no, c.seal_position) < (v_last_seal, v_last_seal_rows)) then
      raise warning 'audit partition % holds rows the SIEM feed has not sent yet; kept until it has', v_partition.partition_name;
      if not dry_run then
        perform compliance_private.append_audit('audit.partition_kept', 'system', 'audit_partition', v_partition.partition_name,
          jsonb_build_object('rows', v_rows, 'range_end', v_partition.range_end, 'reason', 'SIEM feed behind', 'last_seal', v_last_seal));
      end if;
      continue;
    end if;

    select * into v_archive from compliance.audit_archives r where r.partition_name = v_partition.partition_name;
    if v_archive.partition_name is not null then
      -- the rows must still be the ones the bundle holds (a row inserted or changed since is in no bundle)
      select * into strict v_digest from compliance_private.audit_partition_digest(v_relid);
      if v_digest.row_count <> v_archive.row_count or v_digest.rows_digest <> v_archive.rows_digest then
        raise warning 'audit partition % no longer matches its archive bundle %; not dropped', v_partition.partition_name, v_archive.bundle_uri;
        if not dry_run then
          perform compliance_private.append_audit('audit.partition_kept', 'system', 'audit_partition', v_partition.partition_name,
            jsonb_build_object('rows', v_rows, 'range_end', v_partition.range_end, 'reason', 'rows differ from the archive bundle',
              'bundle_uri', v_archive.bundle_uri, 'bundle_sha256', encode(v_archive.bundle_sha256, 'hex')));
        end if;
        continue;
      end if;
    end if;

    -- the seals all of whose rows go with this partition (or went before): those before the
    -- first row that stays, in chain order
    select * into strict v_bounds from compliance_private.audit_chain_bounds();
    select * into strict v_kept from compliance_private.audit_first_kept(v_relid, v_bounds.layout2_from);
    select * into v_last_removed from compliance.audit_seals s
     where case when s.layout = 1 then v_kept.v1_id is null or (s.last_xact_id, s.last_row_id) < (v_kept.v1_xact, v_kept.v1_id)
                else v_kept.v1_id is null and (v_kept.v2_id is null or s.last_row_id < v_kept.v2_id) end
     order by s.seal_no desc limit 1;
    -- this partition's rows that kept seals still list: verification must know they went
    execute format($q$
      select coalesce(jsonb_agg(a.id order by a.id), '[]') from %s a
       where case when a.id >= $1 then $2 is null or $2 = 1 or a.id > $4
                  else $2 is null or ($2 = 1 and (a.xact_id, a.id) > ($3, $4)) end$q$, v_relid)
      into v_kept_rows
      using v_bounds.layout2_from, v_last_removed.layout, v_last_removed.last_xact_id, v_last_removed.last_row_id;

    v_drop_started := clock_timestamp();
    if not dry_run then
      -- the only step that locks writers out (ACCESS EXCLUSIVE on the parent), and it is brief
      v_parts := 0;
      if v_archive.partition_name is not null and v_partition.range_end > cutoff then
        -- the personal parts stay in PostgreSQL, where erasure and the export reach them; the
        -- bundle holds only their digests (db/AUDIT_HASHING.md, "Cold archive")
        execute format($q$
          insert into compliance.audit_archived_parts (id, occurred_at, partition_name, action, resource_type, outcome,
                 user_id, actor_id, ip_address, user_agent, personal_details, personal_salt, subject_part_salt, actor_part_salt,
                 personal_digest, subject_part_digest, actor_part_digest, redacted_at)
          select a.id, a.occurred_at, $1, a.action, a.resource_type, a.outcome,
                 a.user_id, a.actor_id, a.ip_address, a.user_agent, a.personal_details, a.personal_salt, a.subject_part_salt, a.actor_part_salt,
                 a.personal_digest, a.subject_part_digest, a.actor_part_digest, a.redacted_at
            from %s a
           where num_nonnulls(a.user_id, a.actor_id, a.ip_address, a.user_agent, a.personal_details) > 0$q$, v_relid)
          using v_partition.partition_name;
        get diagnostics v_parts = row_count;
      end if;
      execute format('drop table %s', v_relid);
      if v_archive.partition_name is not null then
        update compliance.audit_archives r set dropped_at = now() where r.partition_name = v_partition.partition_name;
      end if;
      if v_last_removed.seal_no is not null then
        perform compliance_private.begin_bulk_operation('retention');
        delete from compliance.audit_seals s where s.seal_no <= v_last_removed.seal_no;
        perform compliance_private.end_bulk_operation();
      end if;
      perform compliance_private.append_audit('audit.partition_dropped', 'system', 'audit_partition',
        v_partition.partition_name,
        jsonb_build_object('rows', v_rows, 'range_end', v_partition.range_end,
          'seals_removed_through', v_last_removed.seal_no,
          'seal_hash', encode(v_last_removed.seal_hash, 'hex'),
          'seal_end', jsonb_build_object('xact_id', v_last_removed.last_xact_id, 'row_id', v_last_removed.last_row_id),
          'dropped_rows_in_kept_seals', v_kept_rows)
        || case when v_archive.partition_name is null then '{}'::jsonb
                else jsonb_build_object('archive', jsonb_build_object('bundle_uri', v_archive.bundle_uri,
                       'bundle_sha256', encode(v_archive.bundle_sha256, 'hex'), 'personal_parts_kept', v_parts)) end);
    end if;
    v_dropped := v_dropped || (jsonb_build_object('partition', v_partition.partition_name, 'rows', v_rows,
      'seals_removed_through', v_last_removed.seal_no, 'rows_in_kept_seals', jsonb_array_length(v_kept_rows),
      'drop_ms', round((extract(epoch from clock_timestamp() - v_drop_started) * 1000)::numeric, 3))
      || case when v_archive.partition_name is null then '{}'::jsonb else jsonb_build_object('archive', v_archive.bundle_uri) end);
  end loop;
  -- archived months past retention: their personal parts go too (the bundle's object lock ends then)
  if not dry_run then
    delete from compliance.audit_archived_parts p
     where p.partition_name in (select r.partition_name from compliance.audit_archives r where r.range_end <= cutoff);
    get diagnostics v_parts_deleted = row_count;
    if v_parts_deleted > 0 then
      v_dropped := v_dropped || jsonb_build_object('archived_personal_parts_deleted', v_parts_deleted);
    end if;
  end if;
  return v_dropped;
end;
$function$;

comment on function compliance_private.drop_expired_audit_partitions(cutoff timestamp with time zone, archive_cutoff timestamp with time zone, dry_run boolean) is
  'Drops whole audit partitions older than cutoff, and archived ones (compliance.audit_archives) older than archive_cutoff whose rows still match their bundle (a month whose rows a started SIEM feed has not sent yet waits), moving an archived month''s personal parts to compliance.audit_archived_parts first, once every row in them is sealed, removes the seals all of whose rows are gone, and audits each drop (audit.partition_dropped) with the archive bundle and its SHA-256 where there is one, the last seal removed, its hash and end, and the ids of dropped rows that kept seals still list: the records verification accepts for a chain that no longer starts at seal 1.';

revoke all on function compliance_private.drop_expired_audit_partitions(timestamptz, timestamptz, boolean) from public;
-- included from fixtures/retention/apply_retention.sql
-- compliance.apply_retention(category text, batch_size integer, dry_run boolean): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.apply_retention(category text, batch_size integer DEFAULT 1000, dry_run boolean DEFAULT false)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_policy compliance.retention_policies;
  v_cutoff timestamptz;
  v_ids text[];
  v_deleted bigint := 0;
  v_messages bigint := 0;
  v_proofs bigint := 0;
  v_result jsonb;
  v_table compliance.personal_tables;
  v_sql record;
begin
  if batch_size not between 1 and 100000 then
    perform compliance_private.raise_error('BADRG', 'batch_size must be between 1 and 100000');
  end if;
  v_cutoff := compliance_private.retention_cutoff(category, compliance_private.retention_now());
  select * into strict v_policy from compliance.retention_policies p where p.category = apply_retention.category;

  if not v_policy.enabled or v_policy.action = 'until_erasure' then
    v_result := jsonb_build_object('category', category, 'dry_run', dry_run, 'skipped',
      case when v_policy.enabled then 'kept until erasure' else 'policy disabled' end, 'deleted', 0);
  elsif v_policy.action = 'drop_partition' then
    v_result := jsonb_build_object('category', category, 'dry_run', dry_run, 'cutoff', v_cutoff,
      'partitions', compliance_private.drop_expired_audit_partitions(v_cutoff,
        compliance_private.retention_now() - v_policy.archive_after, dry_run));
    v_result := v_result || jsonb_build_object('deleted', (select coalesce(sum((p ->> 'rows')::bigint), 0)
                                                          from jsonb_array_elements(v_result -> 'partitions') p));
  else
    if dry_run then
      select count(*) into v_deleted from compliance_private.retention_due_ids(category, v_cutoff, 2147483647);
    else
      perform compliance_private.begin_bulk_operation('retention');
      select array_agg(d.id) into v_ids from compliance_private.retention_due_ids(category, v_cutoff, batch_size) d;
      v_ids := coalesce(v_ids, '{}');
      -- A hold being placed on one of these subjects holds its profile FOR NO KEY UPDATE
      -- (tg_legal_holds__lock_subject): wait for it, and keep new holds out until this batch
      -- commits. Each DELETE then checks holds again, in its own snapshot, after the wait.
      perform from compliance.user_profiles p
       where p.user_id in (select s.user_id from compliance_private.retention_row_subjects(category, v_ids) s)
       order by p.user_id
         for share;
      -- each DELETE checks again that its row is still due: a writer that was holding the row
      -- (a new message moves last_message_at) commits first, and the row then stays
      case category
        when 'conversations' then
          with gone as (
            delete from compliance.conversations c where c.conversation_id = any (v_ids::uuid[])
               and c.last_message_at < v_cutoff
               and not exists (select from compliance.legal_holds h where h.user_id = c.user_id and h.released_at is null)
            returning c.conversation_id
          )
          -- the messages go with their conversation (ON DELETE CASCADE, at the statement's end);
          -- this count reads them from the statement's snapshot
          select (select count(*) from gone),
                 (select count(*) from compliance.messages m where m.conversation_id in (select g.conversation_id from gone g))
            into v_deleted, v_messages;
        when 'sessions' then
          delete from compliance.sessions s where s.id = any (v_ids::uuid[])
             and s.last_activity_at < v_cutoff
             and not exists (select from compliance.legal_holds h where h.user_id = s.user_id and h.released_at is null);
          get diagnostics v_deleted = row_count;
        when 'consent_records' then
          delete from compliance.consent_records c where c.id = any (v_ids::bigint[])
             and c.recorded_at < v_cutoff
             and not exists (select from compliance.legal_holds h where h.user_id = c.user_id and h.released_at is null);
          get diagnostics v_deleted = row_count;
        when 'dsr_requests' then
          delete from compliance.dsr_requests r where r.id = any (v_ids::bigint[])
             and r.received_at < v_cutoff and r.completed_at is not null
             and not exists (select from compliance.legal_holds h where h.user_id = r.user_id and h.released_at is null);
          get diagnostics v_deleted = row_count;
        else
          -- one of your registered tables (retention_due_ids refused any other category)
          select * into strict v_table from compliance.personal_tables t where t.relation::text = category;
          v_sql := compliance.personal_table_sql(v_table.relation);
          execute format('delete from %s r where %s and r.%I < $2 and not exists (select from compliance.legal_holds h where h.user_id = %s and h.released_at is null)',
            category, v_sql.key_in_ids, v_table.retention_from, v_sql.subject_of_row) using v_ids, v_cutoff;
          get diagnostics v_deleted = row_count;
      end case;
      perform compliance_private.end_bulk_operation();
    end if;
    v_result := jsonb_build_object('category', category, 'dry_run', dry_run, 'cutoff', v_cutoff,
      'deleted', v_deleted, 'batch_size', batch_size);
    if category = 'conversations' and not dry_run then
      v_result := v_result || jsonb_build_object('messages_deleted', v_messages);
    end if;
    if category = 'consent_records' and not dry_run then
      -- the proofs erasure kept expire with the consent records they stand for
      delete from compliance.erased_consent_proofs p where p.recorded_at < v_cutoff;
      get diagnostics v_proofs = row_count;
      v_result := v_result || jsonb_build_object('erased_consent_proofs_deleted', v_proofs);
    end if;
  end if;

  perform compliance_private.append_audit('retention.applied', 'system', 'retention_policy', category, v_result);
  return v_result;
end;
$function$;

comment on function compliance.apply_retention(category text, batch_size integer, dry_run boolean) is
  'Applies one category''s retention policy as of compliance_private.retention_now() (the database clock; only the owner can move it, for tests): deletes at most batch_size due rows, each checked again as it is deleted (conversations take their messages; consent records take the expired proofs erasure kept, erased_consent_proofs), or drops the expired audit partitions (and the archived ones past archive_after) and removes the seals of their rows; your registered tables are categories by name (schema.table), their rows deleted by their retention_from column; subjects under legal hold are skipped, and an audit month holding a held subject''s rows is kept. dry_run deletes nothing and reports how many rows are due in total. Each call writes one retention.applied audit row with the counts. Returns {category, dry_run, cutoff, deleted, ...}; call again while deleted = batch_size. Errors: RETCT unknown category, BADRG.';

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
    -- rows whose month went to the cold archive: their personal parts stayed here; the rest of
    -- each row is in the bundle named
    'archived_audit_trail', coalesce((
      select json_agg(x order by x.occurred_at, x.id)
        from (select a.id, a.occurred_at, a.action, a.resource_type, a.outcome, a.actor_id, host(a.ip_address) as ip_address,
                     a.user_agent, a.personal_details, r.bundle_uri as archived_in
                from compliance.audit_archived_parts a join compliance.audit_archives r on r.partition_name = a.partition_name
               where a.user_id = p.user_id or a.actor_id = p.user_id) x), '[]'),
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
                from compliance.processing_limits l where l.user_id = p.user_id) x), '[]'),
    'recipients_told', coalesce((
      select json_agg(x order by x.id)
        from (select t.id, s.name as system, s.kind as system_kind, s.country, t.kind as request, t.request_id, t.state,
                     t.created_at, t.confirmed_at
                from compliance.propagation_tasks t join compliance.processing_systems s on s.system = t.system
               where t.user_id = p.user_id) x), '[]'))
  from compliance.user_profiles p
  where p.user_id = subject_document.user_id);
end;
$function$;

comment on function compliance_private.subject_document(user_id text) is
  'Everything held about one subject as one JSON document (sections: profile, preferences, consents, conversations with messages, sessions, audit_trail, archived_audit_trail: rows of months in the cold archive, with the bundle each is in, breach_notices, registered_tables: your own registered tables by name, dsr_requests, objections_and_restrictions, recipients_told: the systems each request was sent to, GDPR Art. 19). NULL for an unknown subject.';

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
      'archived_audit_trail', (select count(*) from compliance.audit_archived_parts a where a.user_id = p.user_id),
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
  'DPO: what is held about a subject, as counts per section of their export (profile, preferences, consents, conversations, messages, health records, sessions, audit rows, audit rows of months in the cold archive, breach notices), with every request they made (GDPR Art. 12-22) and every legal hold, released ones too. Counts only: the contents come with export_subject. Audited as subject.viewed. Errors: UNKSJ, ERASD.';

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
  v_archived_redacted bigint;
  v_subject_rows jsonb;
  v_actor_rows jsonb;
  v_request_id bigint;
  v_tasks integer;
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
  -- every other system is asked to erase too (Art. 17(2), 19); the tasks keep the id until each
  -- confirms. What older tasks still waited for is superseded, and their answers go with the subject.
  update compliance.propagation_tasks t
     set state = case when t.state in ('pending', 'awaiting_confirmation', 'failed') then 'cancelled' else t.state end,
         confirmation_note = case when t.state in ('pending', 'awaiting_confirmation', 'failed') then 'superseded by the subject''s erasure' else t.confirmation_note end,
         user_id = null, response = null
   where t.user_id = erase_subject_core.user_id;
  get diagnostics v_count = row_count;
  v_counts := v_counts || jsonb_build_object('propagation_tasks_anonymised', v_count);
  update compliance.propagation_tasks t set confirmed_by = null where t.confirmed_by = erase_subject_core.user_id;
  v_tasks := compliance_private.propagate_request(v_request_id, user_id, 'erasure');
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

  -- the same parts of rows whose month is in the cold archive; a row left with no personal part
  -- goes, since the bundle holds the rest of it and its digests
  update compliance.audit_archived_parts a
     set user_id = case when a.user_id = erase_subject_core.user_id or a.subject_part_digest is null then null else a.user_id end,
         personal_details = case when a.user_id = erase_subject_core.user_id or a.subject_part_digest is null then null else a.personal_details end,
         subject_part_salt = case when a.user_id = erase_subject_core.user_id then null else a.subject_part_salt end,
         actor_id = case when a.actor_id = erase_subject_core.user_id or a.subject_part_digest is null then null else a.actor_id end,
         ip_address = case when a.actor_id = erase_subject_core.user_id or a.subject_part_digest is null then null else a.ip_address end,
         user_agent = case when a.actor_id = erase_subject_core.user_id or a.subject_part_digest is null then null else a.user_agent end,
         actor_part_salt = case when a.actor_id = erase_subject_core.user_id then null else a.actor_part_salt end,
         personal_salt = null,
         redacted_at = now()
   where a.user_id = erase_subject_core.user_id or a.actor_id = erase_subject_core.user_id;
  get diagnostics v_archived_redacted = row_count;
  delete from compliance.audit_archived_parts a
   where a.redacted_at = now() and num_nonnulls(a.user_id, a.actor_id, a.ip_address, a.user_agent, a.personal_details) = 0;

  insert into compliance_private.erased_subjects (subject_digest) values (compliance_private.subject_digest(user_id));
  perform compliance_private.end_bulk_operation();

  -- counts, never identity: no subject, and no actor or client when the subject asked
  perform compliance_private.append_audit('subject.erased', 'gdpr', 'dsr_request', v_request_id::text,
    -- the rows it redacted, so verification can tell these redactions from any other
    jsonb_build_object('deleted', v_counts, 'audit_rows_redacted', v_redacted, 'requested_by', requested_by,
                       'redacted_subject_rows', v_subject_rows, 'redacted_actor_rows', v_actor_rows,
                       'archived_audit_rows_redacted', v_archived_redacted),
    null, jsonb_build_object('reason', reason), 'success', null,
    case when requested_by = 'subject' then null else compliance.current_actor() end,
    requested_by <> 'subject');

  return jsonb_build_object('erased', true, 'erased_at', now(), 'dsr_request_id', v_request_id,
    'deleted', v_counts, 'audit_rows_redacted', v_redacted,
    'other_systems', (select coalesce(jsonb_agg(jsonb_build_object('system', t.system, 'name', s.name, 'task_id', t.id, 'state', t.state) order by t.system), '[]')
                        from compliance.propagation_tasks t join compliance.processing_systems s on s.system = t.system
                       where t.request_id = v_request_id));
end;
$function$;

comment on function compliance_private.erase_subject_core(user_id text, reason text, confirm boolean, requested_by text) is
  'The erasure transaction; see compliance.erase_subject. Its statements run on generic plans (plan_cache_mode), without JIT compilation (a generic plan''s row estimates over a million subjects passed jit_above_cost, and compiling took longer than the erasure): a custom plan over every audit partition costs more to make than to run, and made a connection''s first five erasures twice as slow as the rest.';

select compliance_private.record_expected_grants();
