--! Previous: sha1:aac4b6d1d19fd2fde455725fd6056fc054b1462b
--! Hash: sha1:82d3ab783f61b336cb1788cc7ea1fe96502bb07d
--! Message: One audit chain per shard: seals, the sealer's head and verification take a chain (placement), '' on a single node; on Citus each shard's rows are numbered and sealed on the node that holds it

-- On a single node there is one chain, '', and nothing changes in what the sealer or the verifier
-- do. On a Citus cluster (docs/CITUS.md) compliance.audit_chains() lists one chain per shard.

-- the seal hash's function takes the seal's row type, which must not change under it
drop function if exists compliance_private.audit_seal_hash_of(compliance.audit_seals);
alter table compliance.audit_seals add column if not exists placement text not null default '';
comment on column compliance.audit_seals.placement is
  'The chain the seal belongs to: '''' on a single node; on a Citus cluster the placement key of the shard whose rows it seals (compliance.audit_chains()). Seal numbers and hashes run per chain.';
alter table compliance.audit_seals drop constraint audit_seals_pkey;
alter table compliance.audit_seals add constraint audit_seals_pkey primary key (placement, seal_no);
-- included from fixtures/audit/audit_seal_hash_of.sql
-- compliance_private.audit_seal_hash_of(seal compliance.audit_seals): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.audit_seal_hash_of(seal compliance.audit_seals)
 RETURNS bytea
 LANGUAGE sql
 STABLE
RETURN CASE (seal).layout WHEN 1 THEN compliance_private.audit_seal_hash((seal).previous_hash, (seal).seal_no, (seal).last_xact_id, (seal).last_row_id, (seal).row_count, (seal).row_hashes) WHEN 2 THEN compliance_private.audit_seal_hash_v2((seal).previous_hash, (seal).seal_no, (seal).first_row_id, (seal).last_row_id, (seal).row_count, (seal).row_hashes) ELSE NULL::bytea END;

comment on function compliance_private.audit_seal_hash_of(seal compliance.audit_seals) is
  'Recomputes a stored seal''s hash by its layout.';

revoke execute on function compliance_private.audit_seal_hash_of(compliance.audit_seals) from public;

alter table compliance_private.audit_seal_head add column if not exists placement text not null default '';
comment on column compliance_private.audit_seal_head.placement is
  'The chain this head is the sealer''s state of ('''' on a single node; a shard''s placement key on a Citus cluster).';
alter table compliance_private.audit_seal_head drop constraint audit_seal_head_pkey;
alter table compliance_private.audit_seal_head drop constraint audit_seal_head_singleton;
alter table compliance_private.audit_seal_head drop column singleton;
alter table compliance_private.audit_seal_head add constraint audit_seal_head_pkey primary key (placement);
comment on table compliance_private.audit_seal_head is
  'The sealer''s state, one row per audit chain: the last seal made, its hash, the next row id to seal, and the horizon (pending_row_id, pending_xact_id) an earlier call recorded while older transactions still ran.';

alter table compliance_private.shard_placements add column if not exists chain_no integer;
alter table compliance_private.shard_placements drop constraint if exists shard_placements_chain_no_key;
alter table compliance_private.shard_placements add constraint shard_placements_chain_no_key unique (chain_no);
alter table compliance_private.shard_placements drop constraint if exists shard_placements_chain_no_range;
alter table compliance_private.shard_placements add constraint shard_placements_chain_no_range check (chain_no between 0 and 524287);
comment on column compliance_private.shard_placements.chain_no is
  'The chain''s number, from 0 in hash order: the high bits of its rows'' ids on a Citus cluster (chain_no × 2⁴⁴ + the node''s compliance_private.audit_chain_id_seq), so ids stay unique across chains and rise within one as it moves between nodes.';

-- included from fixtures/audit/audit_log_checks.sql
-- compliance_private.audit_log_checks: the view's current definition (db/CONVENTIONS.md).

create or replace view compliance_private.audit_log_checks as
 SELECT a.xact_id,
    a.id,
    a.tableoid,
    compliance_private.audit_row_hash(a.id, a.occurred_at, a.xact_id, a.action, a.category, a.resource_type, a.resource_id, a.outcome, a.failure_reason, a.details, a.personal_digest) AS row_hash,
        CASE
            WHEN (a.subject_part_digest IS NULL) THEN
            CASE
                WHEN (a.personal_salt IS NULL) THEN
                CASE
                    WHEN (num_nonnulls(a.user_id, a.actor_id, a.ip_address, a.user_agent, a.personal_details) > 0) THEN 'redacted_not_empty'::text
                    ELSE NULL::text
                END
                WHEN (compliance_private.audit_personal_digest(a.personal_salt, a.user_id, a.actor_id, a.ip_address, a.user_agent, a.personal_details) <> a.personal_digest) THEN 'digest_mismatch'::text
                ELSE NULL::text
            END
            WHEN ((a.actor_part_digest IS NULL) OR (sha256((a.subject_part_digest || a.actor_part_digest)) <> a.personal_digest)) THEN 'digest_mismatch'::text
            WHEN ((a.subject_part_salt IS NULL) AND (num_nonnulls(a.user_id, a.personal_details) > 0)) THEN 'redacted_not_empty'::text
            WHEN ((a.actor_part_salt IS NULL) AND (num_nonnulls(a.actor_id, a.ip_address, a.user_agent) > 0)) THEN 'redacted_not_empty'::text
            WHEN ((a.subject_part_salt IS NOT NULL) AND (compliance_private.audit_subject_digest(a.subject_part_salt, a.user_id, a.personal_details) <> a.subject_part_digest)) THEN 'digest_mismatch'::text
            WHEN ((a.actor_part_salt IS NOT NULL) AND (compliance_private.audit_actor_digest(a.actor_part_salt, a.actor_id, a.ip_address, a.user_agent) <> a.actor_part_digest)) THEN 'digest_mismatch'::text
            ELSE NULL::text
        END AS personal_problem,
        CASE
            WHEN (a.subject_part_digest IS NULL) THEN (a.personal_salt IS NULL)
            ELSE (a.subject_part_salt IS NULL)
        END AS subject_redacted,
        CASE
            WHEN (a.subject_part_digest IS NULL) THEN (a.personal_salt IS NULL)
            ELSE (a.actor_part_salt IS NULL)
        END AS actor_redacted,
    a.placement
   FROM compliance.audit_logs a;

comment on view compliance_private.audit_log_checks is
  'Each audit row''s hash (what a seal covers), what is wrong with its personal part (digest_mismatch: a part no longer matches its digest; redacted_not_empty: a redacted part still holds data; NULL: nothing), and which parts are redacted (layout 1: both or neither). The sealer and the verifier read it by id ranges (layout-2 seals) or (xact_id, id) ranges (layout-1 seals) so an index is used.';
comment on column compliance_private.audit_log_checks.xact_id is 'The row''s transaction id (audit_logs.xact_id).';
comment on column compliance_private.audit_log_checks.id is 'The row''s id (audit_logs.id).';
comment on column compliance_private.audit_log_checks.tableoid is 'The partition holding the row.';
comment on column compliance_private.audit_log_checks.row_hash is 'The row''s hash, what a seal covers (db/AUDIT_HASHING.md).';
comment on column compliance_private.audit_log_checks.personal_problem is 'NULL, digest_mismatch or redacted_not_empty.';
comment on column compliance_private.audit_log_checks.subject_redacted is 'Whether the subject part is redacted (layout 1: the whole personal part).';
comment on column compliance_private.audit_log_checks.actor_redacted is 'Whether the actor part is redacted (layout 1: the whole personal part).';
comment on column compliance_private.audit_log_checks.placement is 'The row''s chain: its shard''s placement key on a Citus cluster, '''' on a single node (audit_logs.placement).';

drop function if exists compliance_private.audit_chain_bounds();
-- included from fixtures/audit/audit_chain_bounds.sql
-- compliance_private.audit_chain_bounds(placement text, OUT layout2_from bigint, OUT layout1_end_xact xid8, OUT layout1_end_id bigint, OUT layout2_end bigint): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.audit_chain_bounds(placement text, OUT layout2_from bigint, OUT layout1_end_xact xid8, OUT layout1_end_id bigint, OUT layout2_end bigint)
 RETURNS record
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  -- PL/pgSQL: Citus cannot route an SQL function's parameter to the chain's shard
  select s.first_row_id into layout2_from from compliance.audit_seals s
   where s.placement = audit_chain_bounds.placement and s.layout = 2 order by s.seal_no limit 1;
  if layout2_from is null then
    select h.next_row_id into layout2_from from compliance_private.audit_seal_head h where h.placement = audit_chain_bounds.placement;
    -- a chain the sealer has not begun yet begins at 1, where its first seal will
    layout2_from := coalesce(layout2_from, 1);
  end if;
  select s.last_xact_id, s.last_row_id into layout1_end_xact, layout1_end_id from compliance.audit_seals s
   where s.placement = audit_chain_bounds.placement and s.layout = 1 order by s.seal_no desc limit 1;
  select s.last_row_id into layout2_end from compliance.audit_seals s
   where s.placement = audit_chain_bounds.placement and s.layout = 2 order by s.seal_no desc limit 1;
end;
$function$;

comment on function compliance_private.audit_chain_bounds(placement text, OUT layout2_from bigint, OUT layout1_end_xact xid8, OUT layout1_end_id bigint, OUT layout2_end bigint) is
  'In one chain (placement: a shard''s on a Citus cluster, '''' on a single node), where layout 2 begins (the first layout-2 seal''s first id), where the layout-1 seals end and where the layout-2 seals end.';

revoke execute on function compliance_private.audit_chain_bounds(text) from public;
-- included from fixtures/audit/audit_log_checks_between.sql
-- compliance_private.audit_log_checks_between(from_xact xid8, from_id bigint, to_xact xid8, to_id bigint, below_id bigint): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.audit_log_checks_between(from_xact xid8, from_id bigint, to_xact xid8, to_id bigint, below_id bigint)
 RETURNS SETOF compliance_private.audit_log_checks
 LANGUAGE sql
 STABLE
BEGIN ATOMIC
 SELECT c.xact_id,
     c.id,
     c.tableoid,
     c.row_hash,
     c.personal_problem,
     c.subject_redacted,
     c.actor_redacted,
     c.placement
    FROM compliance_private.audit_log_checks c
   WHERE ((c.xact_id = audit_log_checks_between.from_xact) AND (c.id > audit_log_checks_between.from_id) AND (c.id <=
         CASE
             WHEN (audit_log_checks_between.from_xact = audit_log_checks_between.to_xact) THEN audit_log_checks_between.to_id
             ELSE '9223372036854775807'::bigint
         END) AND (c.id < audit_log_checks_between.below_id))
 UNION ALL
  SELECT c.xact_id,
     c.id,
     c.tableoid,
     c.row_hash,
     c.personal_problem,
     c.subject_redacted,
     c.actor_redacted,
     c.placement
    FROM compliance_private.audit_log_checks c
   WHERE ((c.xact_id > audit_log_checks_between.from_xact) AND (c.xact_id < audit_log_checks_between.to_xact) AND (c.id < audit_log_checks_between.below_id))
 UNION ALL
  SELECT c.xact_id,
     c.id,
     c.tableoid,
     c.row_hash,
     c.personal_problem,
     c.subject_redacted,
     c.actor_redacted,
     c.placement
    FROM compliance_private.audit_log_checks c
   WHERE ((audit_log_checks_between.from_xact < audit_log_checks_between.to_xact) AND (c.xact_id = audit_log_checks_between.to_xact) AND (c.id <= audit_log_checks_between.to_id) AND (c.id < audit_log_checks_between.below_id));
END;

comment on function compliance_private.audit_log_checks_between(from_xact xid8, from_id bigint, to_xact xid8, to_id bigint, below_id bigint) is
  'Layout-1 seals: the audit_log_checks rows after (from_xact, from_id) up to and including (to_xact, to_id) in (xact_id, id) order and with an id below below_id (where layout 2 begins), read with index bounds that end where the range ends.';

-- included from fixtures/audit/audit_seal_rows.sql
-- compliance_private.audit_seal_rows(seal compliance.audit_seals, from_xact xid8, from_id bigint, layout2_from bigint): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.audit_seal_rows(seal compliance.audit_seals, from_xact xid8, from_id bigint, layout2_from bigint)
 RETURNS SETOF compliance_private.audit_log_checks
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  -- PL/pgSQL, not an SQL-standard body: such a body depends on the view it reads, and Citus
  -- refuses to distribute the audit log while a function that takes a seal and returns the view's
  -- rows closes that circle
  if (audit_seal_rows.seal).layout = 1 then
    return query
      select b.* from compliance_private.audit_log_checks_between(audit_seal_rows.from_xact, audit_seal_rows.from_id,
        (audit_seal_rows.seal).last_xact_id, (audit_seal_rows.seal).last_row_id, audit_seal_rows.layout2_from) b;
  else
    return query
      select c.* from compliance_private.audit_log_checks c
       where c.placement = (audit_seal_rows.seal).placement
         and c.id >= (audit_seal_rows.seal).first_row_id and c.id <= (audit_seal_rows.seal).last_row_id;
  end if;
end;
$function$;

comment on function compliance_private.audit_seal_rows(seal compliance.audit_seals, from_xact xid8, from_id bigint, layout2_from bigint) is
  'The rows present in a seal''s range: layout 1 after (from_xact, from_id), the previous seal''s end, and below layout2_from; layout 2 its id range, in the seal''s chain (placement).';

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
    select * into strict v_head from compliance_private.audit_seal_head h where h.placement = '' for update;
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
     where s.placement = '' and s.layout = 2 and s.first_row_id <= v_last_id and s.last_row_id >= v_last_id;
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
    -- the single node's chain: retention does not drop a Citus cluster's partitions per shard yet
    select * into strict v_bounds from compliance_private.audit_chain_bounds('');
    select * into strict v_kept from compliance_private.audit_first_kept(v_relid, v_bounds.layout2_from);
    select * into v_last_removed from compliance.audit_seals s
     where s.placement = '' and case when s.layout = 1 then v_kept.v1_id is null or (s.last_xact_id, s.last_row_id) < (v_kept.v1_xact, v_kept.v1_id)
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
        delete from compliance.audit_seals s where s.placement = '' and s.seal_no <= v_last_removed.seal_no;
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

-- included from fixtures/audit/audit_row_sealed.sql
-- compliance_private.audit_row_sealed(placement text, row_id bigint): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.audit_row_sealed(placement text, row_id bigint)
 RETURNS boolean
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  -- PL/pgSQL: Citus cannot route an SQL function's parameter to the chain's shard
  return exists (select from compliance.audit_seals s
                  where s.placement = audit_row_sealed.placement and s.layout = 2
                    and s.first_row_id <= audit_row_sealed.row_id and s.last_row_id >= audit_row_sealed.row_id);
end;
$function$;

comment on function compliance_private.audit_row_sealed(placement text, row_id bigint) is
  'Whether a layout-2 seal of the chain placement covers the row id: how verify_audit_log counts an accounting record that sits in another chain than the one it verifies (on a Citus cluster, an erasure''s record in its actor''s shard).';

revoke execute on function compliance_private.audit_row_sealed(text, bigint) from public;
drop function if exists compliance_private.audit_claims_contradicted(bigint, bigint, bigint);
-- included from fixtures/audit/audit_claims_contradicted.sql
-- compliance_private.audit_claims_contradicted(layout2_from bigint, layout2_end bigint, marker bigint, placement text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.audit_claims_contradicted(layout2_from bigint, layout2_end bigint, marker bigint, placement text)
 RETURNS TABLE(record_id bigint, row_id bigint, detail text)
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
#variable_conflict use_column
declare
  v_accounting jsonb;
  v_listed bigint[];
  v_present bigint[];
  v_redacted_at jsonb;
  v_first_seal bigint;
begin
  -- in steps, each a plain read: on a Citus cluster a query joining the records with the rows
  -- and seals they name cannot be planned. First the sealed accounting records verification
  -- trusts (the same selection as verify_audit_log)
  select jsonb_agg(jsonb_build_object('id', a.id, 'action', a.action, 'occurred_at', a.occurred_at,
                                      'resource_id', a.resource_id, 'details', a.details))
    into v_accounting
    from compliance.audit_logs a
   where a.placement = audit_claims_contradicted.placement
     and a.action in ('audit.partition_dropped', 'subject.erased') and a.outcome = 'success'
     and a.id between layout2_from and layout2_end
     and (a.id < coalesce(marker, 0) or compliance_private.written_by_its_routine(a.action, a.details));
  if v_accounting is null then
    return;
  end if;
  -- the rows they name, and which of those are still there and when they were redacted
  select array_agg(distinct e.id::bigint) into v_listed
    from jsonb_array_elements(v_accounting) r
   cross join lateral (select jsonb_array_elements_text(coalesce(r -> 'details' -> 'dropped_rows_in_kept_seals', '[]'))
                       union all select jsonb_array_elements_text(coalesce(r -> 'details' -> 'redacted_subject_rows', '[]'))
                       union all select jsonb_array_elements_text(coalesce(r -> 'details' -> 'redacted_actor_rows', '[]'))) e(id);
  select array_agg(a.id), jsonb_object_agg(a.id, a.redacted_at) into v_present, v_redacted_at
    from compliance.audit_logs a where a.id = any (coalesce(v_listed, '{}'));
  select min(s.seal_no) into v_first_seal from compliance.audit_seals s where s.placement = audit_claims_contradicted.placement;

  return query
  with accounting as (
    select (r ->> 'id')::bigint as id, r ->> 'action' as action, (r ->> 'occurred_at')::timestamptz as occurred_at,
           r ->> 'resource_id' as resource_id, r -> 'details' as details
      from jsonb_array_elements(v_accounting) r
  ), drop_rows as (
    select c.id as record_id, e.id::bigint as row_id from accounting c
     cross join jsonb_array_elements_text(coalesce(c.details -> 'dropped_rows_in_kept_seals', '[]')) e(id)
     where c.action = 'audit.partition_dropped'
  ), erased_rows as (
    -- each row's newest listing erasure: a row can lose its subject part to one erasure and its
    -- actor part to a later one, which then set redacted_at
    select distinct on (x.row_id) x.row_id, x.record_id, x.occurred_at
      from (select e.id::bigint as row_id, c.id as record_id, c.occurred_at from accounting c
             cross join lateral (select jsonb_array_elements_text(coalesce(c.details -> 'redacted_subject_rows', '[]'))
                                 union all
                                 select jsonb_array_elements_text(coalesce(c.details -> 'redacted_actor_rows', '[]'))) e(id)
             where c.action = 'subject.erased' and c.id >= coalesce(marker, 0)) x
     order by x.row_id, x.record_id desc
  )
  select c.id, null::bigint, format('the drop record says partition %s was dropped, and it is still there', c.resource_id)
    from accounting c
   where c.action = 'audit.partition_dropped'
     and exists (select from pg_inherits i join pg_class r on r.oid = i.inhrelid
                  where i.inhparent = 'compliance.audit_logs'::regclass and r.relname = c.resource_id)
  union all
  select d.record_id, d.row_id, 'the drop record lists this row as dropped, and it was written after the drop'
    from drop_rows d where d.row_id >= d.record_id
  union all
  select d.record_id, d.row_id, 'the drop record lists this row as dropped, and it is still there'
    from drop_rows d where d.row_id < d.record_id and d.row_id = any (coalesce(v_present, '{}'))
  union all
  select c.id, null::bigint, format('the drop record says seals up to %s were removed, and seal %s is still there',
                                    c.details ->> 'seals_removed_through', v_first_seal)
    from accounting c
   where c.action = 'audit.partition_dropped' and v_first_seal <= (c.details ->> 'seals_removed_through')::bigint
  union all
  select e.record_id, e.row_id, 'the erasure record lists this row as redacted by it, and the row was not redacted when it was written'
    from erased_rows e
   -- a listed row not redacted at all is unredacted_row already
   where (v_redacted_at ->> e.row_id::text)::timestamptz <> e.occurred_at
  order by 1, 2 nulls first, 3;
end;
$function$;

comment on function compliance_private.audit_claims_contradicted(layout2_from bigint, layout2_end bigint, marker bigint, placement text) is
  'What the sealed accounting records of one chain (placement) claim and the database contradicts (verify_audit_log reports each as contradicted_claim): a drop record whose partition is still attached, whose dropped rows are still there or were written after it, or whose removed seals are still there; an erasure record (since migration 000041) listing a row redacted at another moment than the erasure''s (redacted_at differs from the record''s occurred_at; one not redacted at all is verify_audit_log''s unredacted_row). What it cannot see: which subject a redacted part was about (its salt is gone by design).';

revoke execute on function compliance_private.audit_claims_contradicted(bigint, bigint, bigint, text) from public;
-- included from fixtures/citus/require_chain_here.sql
-- compliance_private.require_chain_here(placement text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.require_chain_here(placement text)
 RETURNS void
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_here boolean;
begin
  if not compliance_private.is_distributed() then
    return;
  end if;
  execute $q$
    select exists (select from pg_catalog.pg_dist_placement p
                    where p.shardid = pg_catalog.get_shard_id_for_distribution_column('compliance.audit_logs', $1)
                      and p.groupid = (select g.groupid from pg_catalog.pg_dist_local_group g))$q$
    into v_here using placement;
  if not v_here then
    perform compliance_private.raise_error('CITUS', format('the audit chain %L is sealed on the node that holds its shard, not here', placement),
      'Call compliance.seal_audit_log(…, placement) on the coordinator outside a transaction block: Citus runs it on that node.');
  end if;
end;
$function$;

comment on function compliance_private.require_chain_here(placement text) is
  'On a Citus cluster, refuses (CITUS) unless this node holds the shard of the audit chain named by placement: the sealer''s horizon reads this node''s sequence and transactions, which order only the rows written here. Nothing on a single node.';

revoke execute on function compliance_private.require_chain_here(text) from public;
-- included from fixtures/citus/ensure_chain_sequences.sql
-- compliance_private.ensure_chain_sequences(above bigint): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.ensure_chain_sequences(above bigint)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_command text;
  v_failed text;
begin
  -- Citus does not bring a sequence of its own to the workers: every node, the coordinator too
  foreach v_command in array array[
      'create sequence if not exists compliance_private.audit_chain_id_seq as bigint minvalue 1 maxvalue 17592186044415',
      'alter sequence compliance_private.audit_chain_id_seq owner to compliance_owner',
      format($q$select setval('compliance_private.audit_chain_id_seq',
                              greatest(%s, coalesce(pg_sequence_last_value('compliance_private.audit_chain_id_seq'), 1)))$q$, above)] loop
    execute v_command;
    execute format('select string_agg(w.nodename || '':'' || w.nodeport || '' '' || w.result, ''; '') from pg_catalog.run_command_on_workers(%L) w where not w.success',
                   v_command) into v_failed;
    if v_failed is not null then
      perform compliance_private.raise_error('CITUS', format('a worker refused the audit chains'' sequence: %s', v_failed));
    end if;
  end loop;
end;
$function$;

comment on function compliance_private.ensure_chain_sequences(above bigint) is
  'On a Citus cluster: makes compliance_private.audit_chain_id_seq on every node (Citus does not copy a sequence of its own) and moves it past above. A row of chain n takes the id n × 2⁴⁴ + that sequence''s next value on the node that holds the chain, so ids are unique across chains and rise within one; moving a chain moves the target''s sequence past the source''s first (compliance.move_shard).';

revoke execute on function compliance_private.ensure_chain_sequences(bigint) from public;
-- included from fixtures/citus/audit_chain_id_base.sql
-- compliance_private.audit_chain_id_base(placement text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.audit_chain_id_base(placement text)
 RETURNS bigint
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  -- PL/pgSQL: Citus cannot route an SQL function's parameter
  return (select p.chain_no::bigint * 17592186044416 from compliance_private.shard_placements p
           where p.placement = audit_chain_id_base.placement);
end;
$function$;

comment on function compliance_private.audit_chain_id_base(placement text) is
  'On a Citus cluster, the first id of a chain''s rows: its chain_no × 2⁴⁴. A row''s id is this plus the next value of compliance_private.audit_chain_id_seq on the node that holds the chain (tg_audit_logs__number_on_node), and the sealer reads its horizon the same way. NULL where the chain is unknown, and on a single node.';

revoke execute on function compliance_private.audit_chain_id_base(text) from public;
-- included from fixtures/citus/tg_audit_logs__number_on_node.sql
-- compliance_private.tg_audit_logs__number_on_node(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.tg_audit_logs__number_on_node()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  -- the transaction id before the row id (db/AUDIT_HASHING.md), both of the node that holds the
  -- shard: the coordinator fills in its own for a row it sends, which order nothing here. The
  -- chain's number in the high bits keeps ids unique across the chains that share the sequence.
  new.xact_id := pg_current_xact_id();
  new.id := compliance_private.audit_chain_id_base(new.placement) + nextval('compliance_private.audit_chain_id_seq');
  return new;
end;
$function$;

comment on function compliance_private.tg_audit_logs__number_on_node() is
  'BEFORE INSERT row trigger on a Citus cluster''s audit log shards (distribute_on_citus attaches it): gives each row the transaction id of the node that holds its shard and the id chain_no × 2⁴⁴ + that node''s compliance_private.audit_chain_id_seq, so the shard''s chain is sealed in the order its own node made (compliance.seal_audit_log runs there).';

revoke execute on function compliance_private.tg_audit_logs__number_on_node() from public;
-- included from fixtures/audit/audit_chains.sql
-- compliance.audit_chains(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.audit_chains()
 RETURNS SETOF text
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select ''::text where not compliance_private.is_distributed()
  union all
  select p.placement from compliance_private.shard_placements p
  order by 1;
$function$;

comment on function compliance.audit_chains() is
  'The audit log''s chains, each sealed and verified on its own: '''' on a single node; on a Citus cluster one per shard, named by its placement key (compliance.seal_audit_log and verify_audit_log take it).';

revoke execute on function compliance.audit_chains() from public;
grant execute on function compliance.audit_chains() to compliance_worker, compliance_auditor, compliance_dpo;

drop function if exists compliance.seal_audit_log(integer, integer);
-- included from fixtures/audit/seal_audit_log.sql
-- compliance.seal_audit_log(max_rows_per_seal integer, max_seals integer, placement text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.seal_audit_log(max_rows_per_seal integer DEFAULT 10000, max_seals integer DEFAULT 100, placement text DEFAULT ''::text)
 RETURNS integer
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_seen bigint;
  v_head compliance_private.audit_seal_head;
  v_own xid8;
  v_limit bigint;
  v_seals integer := 0;
  v_count integer;
  v_ids bigint[];
  v_hashes bytea;
  v_last bigint;
  v_hash bytea;
  v_base bigint;
begin
  if max_rows_per_seal not between 1 and 1000000 or max_seals < 1 then
    perform compliance_private.raise_error('BADRG', 'max_rows_per_seal must be 1..1000000 and max_seals at least 1');
  end if;
  -- on a Citus cluster every chain, '' too, has its place; on a single node only '' is a chain
  v_base := compliance_private.audit_chain_id_base(seal_audit_log.placement);
  if placement is null or (placement <> '' and v_base is null) then
    perform compliance_private.raise_error('BADRG', format('no audit chain %L', placement),
      'compliance.audit_chains() lists them: '''' on a single node, one per shard on a Citus cluster.');
  end if;
  -- the horizon below reads this node's sequence and transactions: on a Citus cluster only the
  -- node that holds the chain's shard may seal it (the call goes there by itself, outside a
  -- transaction block)
  perform compliance_private.require_chain_here(placement);
  -- every id handed out so far; each was taken by a transaction that already had its id (on a
  -- Citus cluster: this chain's, from this node's sequence; compliance_private.tg_audit_logs__number_on_node)
  if v_base is not null then
    v_seen := v_base + coalesce(pg_sequence_last_value('compliance_private.audit_chain_id_seq'), 0);
  else
    select case when s.is_called then s.last_value else s.last_value - 1 end into v_seen
      from compliance_private.audit_logs_id_seq s;
  end if;
  -- serializes sealers only: writers never touch this row. Locking it gives us a transaction
  -- id newer than that of every transaction holding an id up to v_seen.
  insert into compliance_private.audit_seal_head (placement, next_row_id) values (seal_audit_log.placement, 1)
    on conflict on constraint audit_seal_head_pkey do nothing;
  select * into strict v_head from compliance_private.audit_seal_head h where h.placement = seal_audit_log.placement for update;
  v_own := pg_current_xact_id();

  if not compliance_private.older_transaction_running(v_own) then
    v_limit := v_seen;              -- nothing older than us is running: every id seen is final
    v_head.pending_row_id := null;
    v_head.pending_xact_id := null;
  elsif v_head.pending_xact_id <= v_own and not compliance_private.older_transaction_running(v_head.pending_xact_id) then
    v_limit := v_head.pending_row_id;  -- an earlier run's horizon has come of age
    v_head.pending_row_id := v_seen;
    v_head.pending_xact_id := v_own;
  else
    v_limit := v_head.next_row_id - 1;
    if v_head.pending_xact_id is null or v_head.pending_xact_id > v_own then
      -- none yet, or recorded on another cluster before a restore
      v_head.pending_row_id := v_seen;
      v_head.pending_xact_id := v_own;
    end if;
  end if;

  while v_seals < max_seals and v_head.next_row_id <= v_limit loop
    select count(*)::integer, array_agg(b.id order by b.id), string_agg(b.row_hash, ''::bytea order by b.id)
      into v_count, v_ids, v_hashes
      from (select c.id, c.row_hash
              from compliance_private.audit_log_checks c
             where c.placement = seal_audit_log.placement and c.id >= v_head.next_row_id and c.id <= v_limit
             order by c.id
             limit max_rows_per_seal) b;
    if v_count = 0 then
      -- only ids of rolled-back rows so far: the next seal's range starts here and covers them,
      -- so every id belongs to exactly one seal's range and the ranges stay contiguous
      exit;
    end if;
    -- a full seal ends at its last row; the last one covers the range up to the limit
    v_last := case when v_count = max_rows_per_seal then v_ids[v_count] else v_limit end;
    v_head.last_seal_no := v_head.last_seal_no + 1;
    v_hash := compliance_private.audit_seal_hash_v2(v_head.last_hash, v_head.last_seal_no,
                v_head.next_row_id, v_last, v_count, v_hashes);
    insert into compliance.audit_seals (placement, seal_no, layout, first_row_id, last_row_id, row_count, row_ids,
                                        row_hashes, previous_hash, seal_hash)
    values (seal_audit_log.placement, v_head.last_seal_no, 2, v_head.next_row_id, v_last, v_count, v_ids, v_hashes,
            v_head.last_hash, v_hash);
    v_head.next_row_id := v_last + 1;
    v_head.last_hash := v_hash;
    v_seals := v_seals + 1;
  end loop;

  update compliance_private.audit_seal_head
     set last_seal_no = v_head.last_seal_no, last_hash = v_head.last_hash, next_row_id = v_head.next_row_id,
         pending_row_id = v_head.pending_row_id, pending_xact_id = v_head.pending_xact_id
   where audit_seal_head.placement = seal_audit_log.placement;
  return v_seals;
end;
$function$;

comment on function compliance.seal_audit_log(max_rows_per_seal integer, max_seals integer, placement text) is
  'Seals audit rows in id order into new audit_seals (at most max_rows_per_seal rows each, at most max_seals per call): every id handed out before the call once no older transaction is still running, otherwise up to the horizon an earlier call recorded. Takes no lock that a writer waits for; concurrent sealers wait for each other. Ids of rolled-back rows stay inside the range of the next seal that has rows, so the ranges are contiguous. Survives a restore onto another cluster (db/AUDIT_HASHING.md). Returns the number of seals made. The worker runs it every few seconds, for each chain (compliance.audit_chains(): '''' on a single node, one per shard on a Citus cluster, where a call outside a transaction block runs on the shard''s node).';

revoke execute on function compliance.seal_audit_log(integer, integer, text) from public;
grant execute on function compliance.seal_audit_log(integer, integer, text) to compliance_worker, compliance_dpo;

drop function if exists compliance.verify_audit_log(bigint, bytea);
-- included from fixtures/audit/verify_audit_log.sql
-- compliance.verify_audit_log(from_seal bigint, from_hash bytea, placement text, OUT ok boolean, OUT seals_checked bigint, OUT rows_checked bigint, OUT unsealed_rows bigint, OUT problems jsonb, OUT incremental boolean, OUT last_seal_no bigint, OUT last_seal_hash bytea, OUT notes jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.verify_audit_log(from_seal bigint DEFAULT NULL::bigint, from_hash bytea DEFAULT NULL::bytea, placement text DEFAULT ''::text, OUT ok boolean, OUT seals_checked bigint, OUT rows_checked bigint, OUT unsealed_rows bigint, OUT problems jsonb, OUT incremental boolean, OUT last_seal_no bigint, OUT last_seal_hash bytea, OUT notes jsonb)
 RETURNS record
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_bounds record;
  v_first compliance.audit_seals;
  v_seal compliance.audit_seals;
  v_start record;
  v_expected_no bigint;
  v_previous_hash bytea;
  v_from_xact xid8 := '0'::xid8;
  v_from_id bigint := 0;
  v_start_xact xid8 := '0'::xid8;  -- where the layout-1 seals begin
  v_start_id bigint := 0;
  v_next_id bigint;
  v_dropped jsonb;   -- {id: true}: sealed rows a sealed drop record removed
  v_expected jsonb;  -- {id: 'a' | 's' | 'as'}: the parts sealed erasures redacted
  v_redacted jsonb := '{}';  -- {id: 'a' | 's' | 'as' | '1'}: the parts found redacted ('1': a layout-1 row)
  v_found jsonb;
  v_problem record;
  v_count integer;
  v_hashes bytea;
  v_bad boolean;
  v_head compliance_private.audit_seal_head;
  v_checkpoint compliance.audit_seals;
  v_range_from bigint := 0;  -- incremental: the first row id the checked seals cover
  v_pending jsonb;   -- {id: 'a' | 's' | 'as'}: the parts erasures not sealed yet redacted
  v_gaps jsonb;      -- [{from, to, seal_no}]: ranges the sealer left out before migration 000041
  v_gap jsonb;
  v_marker bigint;   -- the first row written with reserved actions (migration 000041)
begin
  seals_checked := 0;
  rows_checked := 0;
  problems := '[]';
  notes := '[]';
  select * into strict v_bounds from compliance_private.audit_chain_bounds(verify_audit_log.placement);
  -- from a checkpoint (a seal verified before, whose hash the caller kept anchored): only what
  -- was sealed after it. A checkpoint that is gone or not layout 2 means a full verification.
  if from_seal is not null then
    select * into v_checkpoint from compliance.audit_seals s
     where s.placement = verify_audit_log.placement and s.seal_no = from_seal and s.layout = 2;
  end if;
  incremental := v_checkpoint.seal_no is not null and from_hash is not null;

  -- records written since migration 000041 count only from the routine that does the work
  select min(u.id) into v_marker from compliance.audit_logs u where u.action = 'audit.sealer_gaps_recorded';
  -- what sealed records account for: only rows inside the layout-2 seals count, and of the
  -- upgrade records only the first (a later one would be a forgery). On a Citus cluster a record
  -- about this chain's rows may sit in another chain (an erasure's, in its actor's shard): it counts
  -- once sealed there
  with accounting as (
    select a.id, a.action, a.details from compliance.audit_logs a
     where a.action in ('audit.partition_dropped', 'subject.erased', 'audit.layout_upgraded')
       and a.outcome = 'success'
       and case when a.placement = verify_audit_log.placement then a.id >= v_bounds.layout2_from and a.id <= v_bounds.layout2_end
                else compliance_private.audit_row_sealed(a.placement, a.id) end
       and (a.id < coalesce(v_marker, 0) or a.action = 'audit.layout_upgraded' or compliance_private.written_by_its_routine(a.action, a.details))
       and (a.action <> 'audit.layout_upgraded'
            or a.id = (select min(u.id) from compliance.audit_logs u where u.action = 'audit.layout_upgraded'))
  ), parts as (
    select e.id, 's' as part from accounting c cross join jsonb_array_elements_text(c.details -> 'redacted_subject_rows') e(id)
    union all
    select e.id, 'a' from accounting c cross join jsonb_array_elements_text(c.details -> 'redacted_actor_rows') e(id)
  )
  select coalesce((select jsonb_object_agg(p.id, p.parts)
                     from (select x.id, string_agg(distinct x.part, '' order by x.part) as parts from parts x group by x.id) p), '{}'),
         coalesce((select jsonb_object_agg(e.id, true)
                     from accounting c cross join jsonb_array_elements_text(c.details -> 'dropped_rows_in_kept_seals') e(id)), '{}')
    into v_expected, v_dropped;

  -- what those records claim and the database contradicts: a claim that cannot be true. From a
  -- checkpoint, only the records sealed since: the older ones were checked by the run that made it
  for v_problem in select * from compliance_private.audit_claims_contradicted(
      case when incremental then v_checkpoint.last_row_id + 1 else v_bounds.layout2_from end, v_bounds.layout2_end, v_marker,
      verify_audit_log.placement) loop
    problems := problems || (jsonb_build_object('kind', 'contradicted_claim', 'seal_no', null)
      || jsonb_strip_nulls(jsonb_build_object('row_id', v_problem.row_id))
      || jsonb_build_object('record_id', v_problem.record_id, 'detail', v_problem.detail));
  end loop;

  -- erasures written but not sealed yet: their redactions are pending, not findings; they
  -- excuse a redaction and never accuse a row (once sealed they count like any other)
  select coalesce(jsonb_object_agg(p.id, p.parts), '{}') into v_pending
    from (select x.id, string_agg(distinct x.part, '' order by x.part) as parts
            from (select e.id, 's' as part from compliance.audit_logs a
                    cross join jsonb_array_elements_text(a.details -> 'redacted_subject_rows') e(id)
                   where a.action = 'subject.erased' and a.outcome = 'success'
                     and case when a.placement = verify_audit_log.placement then a.id > coalesce(v_bounds.layout2_end, v_bounds.layout2_from - 1)
                              else not compliance_private.audit_row_sealed(a.placement, a.id) end
                     and compliance_private.written_by_its_routine(a.action, a.details)
                  union all
                  select e.id, 'a' from compliance.audit_logs a
                    cross join jsonb_array_elements_text(a.details -> 'redacted_actor_rows') e(id)
                   where a.action = 'subject.erased' and a.outcome = 'success'
                     and case when a.placement = verify_audit_log.placement then a.id > coalesce(v_bounds.layout2_end, v_bounds.layout2_from - 1)
                              else not compliance_private.audit_row_sealed(a.placement, a.id) end
                     and compliance_private.written_by_its_routine(a.action, a.details)) x
           group by x.id) p;

  -- id ranges no seal covered: before migration 000041 the sealer skipped ids of rolled-back rows
  -- when they were all it found. Only the record that migration wrote counts (the action is
  -- reserved: no login role can write it), and only for the seals it names.
  -- (the single node's chain: a Citus cluster's other chains began after)
  if verify_audit_log.placement = '' then
    select coalesce(a.details -> 'gaps', '[]') into v_gaps from compliance.audit_logs a
     where a.id = (select min(u.id) from compliance.audit_logs u where u.action = 'audit.sealer_gaps_recorded');
  end if;
  v_gaps := coalesce(v_gaps, '[]');

  -- where the chain starts: at seal 1, or where a sealed drop record says it removed seals
  select * into v_first from compliance.audit_seals s where s.placement = verify_audit_log.placement order by s.seal_no limit 1;
  v_previous_hash := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
  v_expected_no := 1;
  if incremental then
    -- the checkpoint's own row must still hash as it did when it was verified
    if v_checkpoint.seal_hash <> from_hash then
      problems := problems || jsonb_build_object('kind', 'altered_seal', 'seal_no', v_checkpoint.seal_no,
        'detail', 'the seal''s hash differs from the one recorded when it was last verified');
    end if;
    v_expected_no := v_checkpoint.seal_no + 1;
    v_previous_hash := from_hash;
    v_next_id := v_checkpoint.last_row_id + 1;
    v_range_from := v_next_id;
  elsif v_first.seal_no > 1 then
    v_expected_no := v_first.seal_no;
    v_previous_hash := v_first.previous_hash;
    select (a.details -> 'seal_end' ->> 'xact_id')::xid8 as xact_id, (a.details -> 'seal_end' ->> 'row_id')::bigint as row_id
      into v_start
      from compliance.audit_logs a
     where a.placement = verify_audit_log.placement
       and a.action = 'audit.partition_dropped' and a.id >= v_bounds.layout2_from and a.id <= v_bounds.layout2_end
       and (a.id < coalesce(v_marker, 0) or compliance_private.written_by_its_routine(a.action, a.details))
       and (a.details ->> 'seals_removed_through')::bigint = v_first.seal_no - 1
       and a.details ->> 'seal_hash' = encode(v_first.previous_hash, 'hex')
     order by a.id limit 1;
    if not found then
      problems := problems || jsonb_build_object('kind', 'unaccounted_gap', 'seal_no', v_first.seal_no,
        'detail', format('the chain starts at seal %s, and no sealed audit.partition_dropped row says seals up to %s were removed with that hash',
                         v_first.seal_no, v_first.seal_no - 1));
    elsif v_first.layout = 1 then
      v_from_xact := v_start.xact_id;
      v_from_id := v_start.row_id;
      v_start_xact := v_start.xact_id;
      v_start_id := v_start.row_id;
    end if;
  end if;

  for v_seal in select * from compliance.audit_seals s
                 where s.placement = verify_audit_log.placement and (s.seal_no >= v_expected_no or not incremental)
                 order by s.seal_no loop
    seals_checked := seals_checked + 1;
    if v_seal.seal_no <> v_expected_no then
      problems := problems || jsonb_build_object('kind', 'missing_seal', 'seal_no', v_expected_no,
        'detail', format('seals %s to %s are missing', v_expected_no, v_seal.seal_no - 1));
    end if;
    if v_seal.previous_hash <> v_previous_hash then
      problems := problems || jsonb_build_object('kind', 'broken_chain', 'seal_no', v_seal.seal_no,
        'detail', 'previous_hash does not match the hash of the seal before it');
    end if;
    if compliance_private.audit_seal_hash_of(v_seal) is distinct from v_seal.seal_hash then
      problems := problems || jsonb_build_object('kind', 'altered_seal', 'seal_no', v_seal.seal_no,
        'detail', 'the seal''s contents do not match its seal_hash');
    end if;
    v_gap := null;
    if v_seal.layout = 2 and v_seal.first_row_id > coalesce(v_next_id, v_bounds.layout2_from) then
      select g into v_gap from jsonb_array_elements(v_gaps) g
       where (g ->> 'seal_no')::bigint = v_seal.seal_no
         and (g ->> 'from')::bigint = coalesce(v_next_id, v_bounds.layout2_from)
         and (g ->> 'to')::bigint = v_seal.first_row_id - 1;
    end if;
    if v_gap is not null then
      notes := notes || jsonb_build_object('kind', 'unsealed_id_range', 'seal_no', v_seal.seal_no,
        'from', v_gap -> 'from', 'to', v_gap -> 'to',
        'detail', 'ids no seal covers: before migration 000041 the sealer skipped ids of rolled-back rows');
      -- the range held no row when it was skipped; a row there now was put there since
      for v_problem in
        select a.id from compliance.audit_logs a
         where a.placement = verify_audit_log.placement and a.id between (v_gap ->> 'from')::bigint and (v_gap ->> 'to')::bigint
      loop
        problems := problems || jsonb_build_object('kind', 'forged_row', 'seal_no', v_seal.seal_no, 'row_id', v_problem.id,
          'detail', 'the row lies in an id range that no seal covers');
      end loop;
    elsif v_seal.layout = 2 and v_seal.first_row_id <> coalesce(v_next_id, v_bounds.layout2_from) then
      problems := problems || jsonb_build_object('kind', 'broken_chain', 'seal_no', v_seal.seal_no,
        'detail', format('the seal covers ids from %s, the seal before it ended at %s', v_seal.first_row_id,
                         coalesce(v_next_id, v_bounds.layout2_from) - 1));
    end if;

    -- recompute the seal's row hashes in order; only a mismatch needs the row-by-row
    -- comparison, which names what differs
    select count(*)::integer,
           coalesce(string_agg(r.row_hash, ''::bytea order by case when v_seal.layout = 1 then r.xact_id end, r.id), ''::bytea),
           coalesce(bool_or(r.personal_problem is not null), false),
           jsonb_object_agg(r.id, case when r.subject_redacted and r.actor_redacted and v_seal.layout = 1 then '1'
                                       else case when r.actor_redacted then 'a' else '' end
                                            || case when r.subject_redacted then 's' else '' end end)
             filter (where r.subject_redacted or r.actor_redacted)
      into v_count, v_hashes, v_bad, v_found
      from compliance_private.audit_seal_rows(v_seal, v_from_xact, v_from_id, v_bounds.layout2_from) r;
    rows_checked := rows_checked + v_count;
    v_redacted := v_redacted || coalesce(v_found, '{}');

    if v_count <> v_seal.row_count or v_hashes <> v_seal.row_hashes or v_bad then
      for v_problem in
        with sealed as (
          select u.id, u.ord, substring(v_seal.row_hashes from (u.ord::integer - 1) * 32 + 1 for 32) as row_hash
            from unnest(v_seal.row_ids) with ordinality as u(id, ord)
        ), present as (
          select c.id, c.xact_id, c.row_hash, c.personal_problem
            from compliance_private.audit_seal_rows(v_seal, v_from_xact, v_from_id, v_bounds.layout2_from) c
        ), matched as (
          -- positions among the rows both sides hold, so a deleted or forged row does not
          -- make every row after it look moved
          select s.id, row_number() over (order by s.ord) as sealed_ord,
                 row_number() over (order by case when v_seal.layout = 1 then p.xact_id end, p.id) as present_ord
            from sealed s join present p on p.id = s.id
        )
        select coalesce(s.id, p.id) as id,
               case when p.id is null then case when v_dropped ? s.id::text then null else 'deleted_row' end
                    when s.id is null then 'forged_row'
                    when p.row_hash <> s.row_hash then 'altered_row'
                    when m.sealed_ord <> m.present_ord then 'reordered_row'
                    else p.personal_problem
               end as kind
          from sealed s
          full join present p on p.id = s.id
          left join matched m on m.id = s.id
      loop
        continue when v_problem.kind is null;
        problems := problems || jsonb_build_object('kind', v_problem.kind, 'seal_no', v_seal.seal_no,
          'row_id', v_problem.id, 'detail', compliance_private.audit_problem_detail(v_problem.kind));
      end loop;
    end if;

    v_expected_no := v_seal.seal_no + 1;
    v_previous_hash := v_seal.seal_hash;
    if v_seal.layout = 1 then
      v_from_xact := v_seal.last_xact_id;
      v_from_id := v_seal.last_row_id;
    else
      v_next_id := v_seal.last_row_id + 1;
    end if;
  end loop;

  -- the head only adds an alarm: newest seals that went missing
  select * into v_head from compliance_private.audit_seal_head h where h.placement = verify_audit_log.placement;
  if v_head.last_seal_no >= v_expected_no then
    problems := problems || jsonb_build_object('kind', 'missing_seal', 'seal_no', v_expected_no,
      'detail', format('the chain ends at seal %s but seal %s was made', v_expected_no - 1, v_head.last_seal_no));
  elsif v_head.last_seal_no = v_expected_no - 1 and v_head.last_hash <> v_previous_hash then
    problems := problems || jsonb_build_object('kind', 'broken_chain', 'seal_no', v_head.last_seal_no,
      'detail', 'the newest seal''s hash differs from the one recorded when it was made');
  end if;

  -- rows below layout 2 that no layout-1 seal covers: every such row was sealed when layout 2
  -- began, so one is a forgery (or a row of a removed seal that retention did not drop); a full
  -- verification's question, as it reads the oldest rows
  for v_problem in
    select a.id from compliance.audit_logs a
     where not incremental and a.placement = verify_audit_log.placement and a.id < v_bounds.layout2_from
       and not coalesce((a.xact_id, a.id) > (v_start_xact, v_start_id)
                        and (a.xact_id, a.id) <= (v_bounds.layout1_end_xact, v_bounds.layout1_end_id), false)
  loop
    problems := problems || jsonb_build_object('kind', 'forged_row', 'seal_no', null, 'row_id', v_problem.id,
      'detail', 'the row lies before the layout-2 seals and in no layout-1 seal');
  end loop;

  -- rows not sealed yet: only their personal parts can be checked
  select count(*), jsonb_object_agg(c.id, case when c.actor_redacted then 'a' else '' end
                                          || case when c.subject_redacted then 's' else '' end)
                     filter (where c.subject_redacted or c.actor_redacted)
    into unsealed_rows, v_found
    from compliance_private.audit_log_checks c
   where c.placement = verify_audit_log.placement and c.id >= coalesce(v_next_id, v_bounds.layout2_from);
  v_redacted := v_redacted || coalesce(v_found, '{}');
  rows_checked := rows_checked + unsealed_rows;
  for v_problem in
    select c.id, c.personal_problem from compliance_private.audit_log_checks c
     where c.placement = verify_audit_log.placement and c.id >= coalesce(v_next_id, v_bounds.layout2_from)
       and c.personal_problem is not null
  loop
    problems := problems || jsonb_build_object('kind', v_problem.personal_problem, 'seal_no', null,
      'row_id', v_problem.id, 'detail', compliance_private.audit_problem_detail(v_problem.personal_problem));
  end loop;

  -- every redacted part must be one a sealed erasure lists, and every part it lists redacted
  for v_problem in
    select k.id::bigint as id,
           case when f.parts = '1' then case when e.parts is null then 'unaccounted_redaction' end
                when compliance_private.audit_parts_missing(e.parts, f.parts)
                  then case when compliance_private.audit_parts_missing(coalesce(e.parts, '') || coalesce(v_pending ->> k.id, ''), f.parts)
                            then 'unaccounted_redaction' else 'pending_redaction' end
                when compliance_private.audit_parts_missing(f.parts, e.parts) then 'unredacted_row'
           end as kind
      from (select jsonb_object_keys(v_redacted) as id union select jsonb_object_keys(v_expected)) k
      cross join lateral (select v_redacted ->> k.id as parts) f
      cross join lateral (select v_expected ->> k.id as parts) e
     where (f.parts is not null
            or exists (select from compliance.audit_logs a where a.placement = verify_audit_log.placement and a.id = k.id::bigint))
       -- incremental: only the rows the checked seals and the unsealed tail hold
       and k.id::bigint >= v_range_from
     order by 1
  loop
    continue when v_problem.kind is null;
    if v_problem.kind = 'pending_redaction' then
      notes := notes || jsonb_build_object('kind', 'pending_redaction', 'seal_no', null, 'row_id', v_problem.id,
        'detail', 'redacted by an erasure whose record is not sealed yet; it counts once the worker seals it');
      continue;
    end if;
    problems := problems || jsonb_build_object('kind', v_problem.kind, 'seal_no', null, 'row_id', v_problem.id,
      'detail', compliance_private.audit_problem_detail(v_problem.kind));
  end loop;

  ok := jsonb_array_length(problems) = 0;
  last_seal_no := v_expected_no - 1;
  last_seal_hash := v_previous_hash;
end;
$function$;

comment on function compliance.verify_audit_log(from_seal bigint, from_hash bytea, placement text, OUT ok boolean, OUT seals_checked bigint, OUT rows_checked bigint, OUT unsealed_rows bigint, OUT problems jsonb, OUT incremental boolean, OUT last_seal_no bigint, OUT last_seal_hash bytea, OUT notes jsonb) is
  'Recomputes the whole seal chain of one chain (placement: '''' on a single node, a shard''s placement key on a Citus cluster; compliance.audit_chains() lists them), every row hash and every personal digest, from the chain''s own records only; or, given a checkpoint (from_seal and the from_hash it had when verified), only the seals after it and the rows they and the unsealed tail hold, so the cost follows the rows added since (redactions of older rows, the claims of older accounting records and layout-1 rows are then left to a full run). Returns ok, how many seals and rows it checked, how many rows are not sealed yet (their personal parts are checked, their presence is not proven), and problems: a JSON array of {kind, seal_no, row_id, detail}. kind: deleted_row, forged_row, altered_row, reordered_row, digest_mismatch, redacted_not_empty, unaccounted_redaction, unredacted_row, altered_seal, broken_chain, missing_seal, unaccounted_gap, contradicted_claim (a sealed drop or erasure record claims what the database shows is not so; it also names record_id); whether it ran incrementally; the last seal it verified with its hash, the next checkpoint; and notes, which do not fail it: pending_redaction (an erasure not sealed yet redacted the row) and unsealed_id_range (ids the sealer skipped before migration 000041, listed by the record that migration wrote; a row found there is forged_row). db/AUDIT_HASHING.md says what it proves and what it cannot see.';

revoke execute on function compliance.verify_audit_log(bigint, bytea, text) from public;
grant execute on function compliance.verify_audit_log(bigint, bytea, text) to compliance_auditor, compliance_dpo, compliance_worker;

-- included from fixtures/citus/move_shard.sql
-- compliance.move_shard(placement text, to_host text, to_port integer): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE PROCEDURE compliance.move_shard(IN placement text, IN to_host text, IN to_port integer)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $procedure$
declare
  v_shard bigint;
  v_from record;
  v_to_group integer;
  v_source bigint;
begin
  if not compliance_private.is_distributed() or not exists (select from compliance_private.shard_placements p where p.placement = move_shard.placement) then
    perform compliance_private.raise_error('CITUS', format('no shard of a Citus cluster has the placement key %L', placement),
      'compliance.audit_chains() lists them.');
  end if;
  execute $q$select pg_catalog.get_shard_id_for_distribution_column('compliance.audit_logs', $1)$q$ into v_shard using placement;
  execute $q$select n.nodename, n.nodeport, n.groupid from pg_catalog.pg_dist_placement pl join pg_catalog.pg_dist_node n on n.groupid = pl.groupid
              where pl.shardid = $1$q$ into v_from using v_shard;
  execute $q$select n.groupid from pg_catalog.pg_dist_node n where n.nodename = $1 and n.nodeport = $2 and n.noderole = 'primary'$q$
    into v_to_group using to_host, to_port;
  if v_to_group is null then
    perform compliance_private.raise_error('CITUS', format('%s:%s is not a node of this cluster', to_host, to_port), 'Add it with citus_add_node first.');
  end if;
  if v_to_group = v_from.groupid then
    return;
  end if;
  -- first the target's sequence past anything the source hands out until the move is done, with
  -- room for 2³² more rows there meanwhile: the chain's ids go on rising on its new node
  perform compliance_private.ensure_chain_sequences(0);
  execute $q$select max(w.result::bigint) from pg_catalog.run_command_on_workers(
              $c$select coalesce(pg_sequence_last_value('compliance_private.audit_chain_id_seq'), 0)
                 where (select g.groupid from pg_catalog.pg_dist_local_group g) = $c$ || $1) w where w.success and w.result <> ''$q$
    into v_source using v_from.groupid;
  execute format($q$select pg_catalog.run_command_on_workers(
                   'select setval(''compliance_private.audit_chain_id_seq'', greatest(%s, coalesce(pg_sequence_last_value(''compliance_private.audit_chain_id_seq''), 1)))
                     where (select g.groupid from pg_catalog.pg_dist_local_group g) = %s')$q$,
                 coalesce(v_source, 0) + 4294967296, v_to_group);
  -- Citus moves the shard with every shard co-located with it: the subjects' rows, the audit rows,
  -- the seals and the sealer's head of this chain
  execute $q$select pg_catalog.citus_move_shard_placement($1, $2, $3, $4, $5, shard_transfer_mode => 'block_writes')$q$
    using v_shard, v_from.nodename, v_from.nodeport, to_host, to_port;
  perform compliance_private.append_audit('audit.shard_moved', 'system', 'audit_chain', nullif(placement, ''),
    jsonb_build_object('placement', placement, 'shard', v_shard, 'from', format('%s:%s', v_from.nodename, v_from.nodeport),
                       'to', format('%s:%s', to_host, to_port), 'sequence_from', coalesce(v_source, 0) + 4294967296));
end;
$procedure$;

comment on procedure compliance.move_shard(placement text, to_host text, to_port integer) is
  'Moves a Citus shard, and every shard co-located with it (a hash range''s subjects, their audit rows, that chain''s seals and sealer''s head), to another node with citus_move_shard_placement (block_writes), its audit chain intact: first the target''s audit_chain_id_seq goes past the source''s, so the chain''s new rows sort after its sealed ones. Audited as audit.shard_moved. Run it as a superuser on the coordinator; moving shards by other means breaks the chains'' order (docs/CITUS.md). Errors: CITUS.';

revoke execute on procedure compliance.move_shard(text, text, integer) from public;
-- included from fixtures/citus/distribute_on_citus.sql
-- compliance_private.distribute_on_citus(shard_count integer): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE PROCEDURE compliance_private.distribute_on_citus(IN shard_count integer DEFAULT 32)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $procedure$
declare
  -- a subject's rows, by the subject: one node holds them all
  v_by_subject constant text[] := array['compliance.user_profiles', 'compliance.user_preferences', 'compliance.consent_records',
    'compliance.conversations', 'compliance.messages', 'compliance.sessions', 'compliance.legal_holds',
    'compliance_private.subject_keys', 'compliance.health_records', 'compliance.breach_subjects', 'compliance.processing_limits'];
  -- records that outlive the subject's rows (erasure clears their user_id, and Citus cannot change a
  -- distribution column): by the placement of the subject's shard, so they sit on the same node;
  -- and each shard's audit chain, its seals and its sealer's head, beside the rows they seal
  v_by_placement constant text[] := array['compliance.audit_logs', 'compliance.dsr_requests', 'compliance.access_grants',
    'compliance.propagation_tasks', 'compliance.audit_seals', 'compliance_private.audit_seal_head',
    -- and what an erasure leaves behind, so that it writes on the subject's node alone
    'compliance_private.erased_subjects', 'compliance.erased_consent_proofs'];
  v_foreign_keys jsonb := '[]';
  v_key record;
  v_table text;
  v_column text;
  v_definition text;
  v_progress boolean := true;
  v_left text;
  v_refused text[] := '{}';
  v_try integer;
  v_placement text;
  v_shard record;
  v_above bigint;
begin
  if not exists (select from pg_catalog.pg_extension e where e.extname = 'citus') then
    perform compliance_private.raise_error('CITUS', 'the citus extension is not installed in this database',
      'Load citus (shared_preload_libraries), run create extension citus and add the workers first (docs/CITUS.md).');
  end if;
  -- foreign keys and distribution in one transaction: Citus must not run shard commands in parallel
  set local citus.multi_shard_modify_mode = 'sequential';
  -- the audit and refusal triggers run on the shards, on the node that holds the subject
  set local citus.enable_unsafe_triggers = on;
  if not compliance_private.is_distributed() then

    -- every foreign key goes first and comes back last, with the subject in it where both ends are
    -- distributed (Citus joins co-located rows only on the distribution column)
    select coalesce(jsonb_agg(jsonb_build_object('relation', c.conrelid::regclass::text, 'name', c.conname,
                                                 'definition', pg_catalog.pg_get_constraintdef(c.oid),
                                                 'referenced', c.confrelid::regclass::text)), '[]')
      into v_foreign_keys
      from pg_catalog.pg_constraint c
     where c.contype = 'f' and c.connamespace in ('compliance'::regnamespace, 'compliance_private'::regnamespace);
    for v_key in select * from jsonb_to_recordset(v_foreign_keys) as k(relation text, name text, definition text, referenced text) loop
      execute format('alter table %s drop constraint %I', v_key.relation, v_key.name);
    end loop;

    -- a unique key on a distributed table holds only with the distribution column in it
    foreach v_table in array v_by_subject || v_by_placement loop
      v_column := case when v_table = any (v_by_subject) then 'user_id' else 'placement' end;
      for v_key in select c.conname, pg_catalog.pg_get_constraintdef(c.oid) as definition
                     from pg_catalog.pg_constraint c
                    where c.conrelid = v_table::regclass and c.contype in ('p', 'u')
                      and not (select a.attnum from pg_catalog.pg_attribute a
                                where a.attrelid = v_table::regclass and a.attname = v_column) = any (c.conkey) loop
        execute format('alter table %s drop constraint %I', v_table, v_key.conname);
        execute format('alter table %s add constraint %I %s', v_table, v_key.conname,
                       regexp_replace(v_key.definition, '^(PRIMARY KEY|UNIQUE) \(', format('\1 (%I, ', v_column)));
      end loop;
    end loop;
    -- one active hold per subject: already by subject, so the partial unique index stands

    -- Citus sends a shard every column of an INSERT, with the coordinator's defaults filled in, and
    -- the shard checks the role's INSERT on each: a role with INSERT on some columns of a subject's
    -- table gets it on the columns with a default too, and a trigger gives them their defaults on the
    -- shard, so the role still cannot choose when a consent was recorded
    for v_key in select c.oid::regclass::text as relation,
                        array_agg(a.attname::text order by a.attnum) as columns,
                        string_agg(format('%L, %L', a.attname,
                                          coalesce(pg_catalog.pg_get_expr(d.adbin, d.adrelid),
                                                   format('nextval(%L::regclass)', pg_catalog.pg_get_serial_sequence(c.oid::regclass::text, a.attname)))),
                                   ', ' order by a.attnum) as arguments
                   from pg_catalog.pg_class c
                   join pg_catalog.pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
                   left join pg_catalog.pg_attrdef d on d.adrelid = c.oid and d.adnum = a.attnum
                  where c.oid::regclass::text = any (v_by_subject || v_by_placement)
                    and (d.oid is not null or a.attidentity <> '')
                    and exists (select from pg_catalog.pg_attribute o, aclexplode(o.attacl) x
                                 where o.attrelid = c.oid and x.privilege_type = 'INSERT')
                    and not exists (select from aclexplode(a.attacl) x where x.privilege_type = 'INSERT')
                  group by c.oid loop
      for v_table in select distinct x.grantee::regrole::text
                       from pg_catalog.pg_attribute o, aclexplode(o.attacl) x
                      where o.attrelid = v_key.relation::regclass and x.privilege_type = 'INSERT' loop
        execute format('grant insert (%s) on %s to %I', (select string_agg(quote_ident(c), ', ') from unnest(v_key.columns) c),
                       v_key.relation, v_table);
      end loop;
      execute format('create trigger _001_column_defaults before insert on %s for each row execute function compliance_private.tg__column_defaults(%s)',
                     v_key.relation, v_key.arguments);
    end loop;

    execute format('select pg_catalog.create_distributed_table(%L, %L, shard_count => %s)', 'compliance.user_profiles', 'user_id', shard_count);

    -- the placement keys: for each shard of the subjects' tables, a short text that hashes into its
    -- range. The range that holds hashtext('') keeps '', which every row had on a single node, so a
    -- log distributed later keeps its rows in one shard whose chain goes on.
    for v_shard in select s.shardminvalue::integer as low, s.shardmaxvalue::integer as high,
                          (row_number() over (order by s.shardminvalue::integer) - 1)::integer as chain_no
                     from pg_catalog.pg_dist_shard s where s.logicalrelid = 'compliance.user_profiles'::regclass
                    order by 1 loop
      -- '', then shard-0, shard-1, … until one hashes into the range
      v_placement := '';
      v_try := 0;
      while hashtext(v_placement) not between v_shard.low and v_shard.high loop
        v_placement := 'shard-' || v_try;
        v_try := v_try + 1;
      end loop;
      insert into compliance_private.shard_placements (hash_min, hash_max, placement, chain_no)
      values (v_shard.low, v_shard.high, v_placement, v_shard.chain_no);
    end loop;

    foreach v_table in array v_by_subject loop
      continue when v_table = 'compliance.user_profiles';
      execute format('select pg_catalog.create_distributed_table(%L, %L, colocate_with => %L)', v_table, 'user_id', 'compliance.user_profiles');
    end loop;
    foreach v_table in array v_by_placement loop
      execute format('select pg_catalog.create_distributed_table(%L, %L, colocate_with => %L)', v_table, 'placement', 'compliance.user_profiles');
    end loop;
    -- from now on each shard's rows are numbered on the node that holds it, where its chain is
    -- sealed (after the copy above: the rows already sealed keep their numbers), from a sequence of
    -- that node's past every id there is so far
    select coalesce(max(a.id), 0) into v_above from compliance.audit_logs a;
    perform compliance_private.ensure_chain_sequences(v_above);
    create trigger _001_number_on_node before insert on compliance.audit_logs
      for each row execute function compliance_private.tg_audit_logs__number_on_node();

  end if;

  -- what follows again after every migration (setup calls this each time): a migration may
  -- have replaced a routine, or added one
  -- everything else is small, read where the subject's rows are (tombstones, purposes, policies,
  -- settings, the root chain): a reference table, copied to every node, also one a later migration
  -- added. A table that refers to one not placed yet waits for the next round.
  while v_progress loop
    v_progress := false;
    v_left := null;
    for v_table in select c.oid::regclass::text from pg_catalog.pg_class c
                    where c.relnamespace in ('compliance'::regnamespace, 'compliance_private'::regnamespace)
                      and c.relkind in ('r', 'p') and not c.relispartition
                      and not exists (select from pg_catalog.pg_dist_partition d where d.logicalrelid = c.oid)
                    order by 1 loop
      begin
        execute format('select pg_catalog.create_reference_table(%L)', v_table);
        v_progress := true;
      exception when others then
        v_left := format('%s: %s', v_table, sqlerrm);
      end;
    end loop;
  end loop;
  -- a round that placed nothing ends the loop: a table it could not place stays local
  if v_left is not null then
    perform compliance_private.raise_error('CITUS', format('a table could not be placed on the cluster: %s', v_left));
  end if;

  -- the foreign keys taken off above come back, now that every table is placed
  for v_key in select * from jsonb_to_recordset(v_foreign_keys) as k(relation text, name text, definition text, referenced text) loop
    v_definition := v_key.definition;
    -- between two tables distributed by the subject, the key goes through the subject
    if v_key.relation = any (v_by_subject) and v_key.referenced = any (v_by_subject) and v_definition !~ '^FOREIGN KEY \(user_id' then
      v_definition := regexp_replace(regexp_replace(v_definition, '^FOREIGN KEY \(', 'FOREIGN KEY (user_id, '),
                                     'REFERENCES ([a-z_.]+)\(', 'REFERENCES \1(user_id, ');
    end if;
    begin
      execute format('alter table %s add constraint %I %s', v_key.relation, v_key.name, v_definition);
    exception when others then
      -- a key Citus cannot hold (between tables distributed differently, or one that sets the
      -- distribution column NULL): the routines that write both tables keep it
      v_refused := v_refused || format('%s.%s (%s)', v_key.relation, v_key.name, sqlerrm);
    end;
  end loop;

  if cardinality(v_refused) > 0 then
    raise notice 'foreign keys Citus cannot hold, kept by the routines that write both tables: %', array_to_string(v_refused, '; ');
  end if;

  -- a generic plan leaves parameters Citus cannot route by: where a routine pins one for the cost of
  -- planning over a single node's partitions (db/CONVENTIONS.md, "Plans"), the cluster plans afresh
  for v_definition in select p.oid::regprocedure::text from pg_catalog.pg_proc p
                       where p.pronamespace in ('compliance'::regnamespace, 'compliance_private'::regnamespace)
                         and exists (select from unnest(p.proconfig) c where c like 'plan_cache_mode=%') loop
    execute format('alter function %s reset plan_cache_mode', v_definition);
  end loop;
  -- a chain is sealed on the node that holds it: a call of the sealer outside a transaction block
  -- goes there by its placement
  perform pg_catalog.create_distributed_function('compliance.seal_audit_log(integer,integer,text)'::regprocedure,
    'placement', colocate_with => 'compliance.audit_logs');
  -- every routine on every node, so a trigger on a shard finds the helpers it calls by name
  -- (hstore's come with the extension)
  for v_definition in select p.oid::regprocedure::text from pg_catalog.pg_proc p
                       where p.pronamespace in ('compliance'::regnamespace, 'compliance_private'::regnamespace)
                         and not exists (select from pg_catalog.pg_depend d
                                          where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
                         and not exists (select from pg_catalog.pg_dist_object o
                                          where o.classid = 'pg_proc'::regclass and o.objid = p.oid) loop
    execute format('select pg_catalog.create_distributed_function(%L::regprocedure)', v_definition);
  end loop;

  -- on every node, for every session of this database: a request context set with SET LOCAL
  -- reaches the shards' sessions (row-level security and the audit triggers read it there), and a
  -- trigger on a shard may write the co-located audit shard and read the reference tables
  foreach v_definition in array array[
      format('alter database %I set citus.propagate_set_commands = %L', current_database(), 'local'),
      format('alter database %I set citus.allow_nested_distributed_execution = %L', current_database(), 'on'),
      format('alter database %I set citus.enable_unsafe_triggers = %L', current_database(), 'on'),
      -- one connection per node in a transaction: an erasure writes a subject's shard and the
      -- reference tables in one transaction, which Citus allows only so
      format('alter database %I set citus.multi_shard_modify_mode = %L', current_database(), 'sequential')] loop
    -- Citus passes ALTER DATABASE … SET on to the workers
    execute v_definition;
  end loop;
end;
$procedure$;

comment on procedure compliance_private.distribute_on_citus(shard_count integer) is
  'Spreads pgcomply over a Citus cluster, once: a subject''s tables by user_id, co-located, so one node holds a subject; the audit log, DSR requests, access grants and propagation tasks by the placement key of the subject''s shard (placement_of); every other table as a reference table on each node. Foreign keys come back where Citus can hold them (a notice names the rest). Every node''s sessions of the database then propagate SET LOCAL, so the request context reaches the shards. Run by setup as a superuser on the coordinator after every migration, once create extension citus is done and the workers are added (CITUS otherwise); the placing happens once, and each later call only brings new or replaced routines to every node and sets their plans. Then call compliance_private.record_expected_grants(), in a transaction of its own, so the privileges check knows the grants it added (setup does both).';

select compliance_private.record_expected_grants();
