--! Previous: sha1:11ee956639856b3125149775dc6eb75c06fdb257
--! Hash: sha1:f4ec1f5bff112a2161eea833e348eb2fa88c5e0f
--! Message: Retention drops an expired audit month in every chain: on a Citus cluster each shard's chain gets its seals removed and its own drop record, so every chain still verifies

drop function if exists compliance_private.audit_first_kept(regclass, bigint);

-- included from fixtures/audit/audit_first_kept.sql
-- compliance_private.audit_first_kept(dropping regclass, layout2_from bigint, placement text, OUT v1_xact xid8, OUT v1_id bigint, OUT v2_id bigint): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.audit_first_kept(dropping regclass, layout2_from bigint, placement text, OUT v1_xact xid8, OUT v1_id bigint, OUT v2_id bigint)
 RETURNS record
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_partition regclass;
  v_row record;
begin
  -- partition by partition, each with its own index, so the partition being dropped is never read
  for v_partition in
    select i.inhrelid::regclass from pg_inherits i
     where i.inhparent = 'compliance.audit_logs'::regclass and i.inhrelid <> dropping
  loop
    execute format('select a.xact_id, a.id from %s a where a.placement = $2 and a.id < $1 order by a.xact_id, a.id limit 1', v_partition)
      into v_row using layout2_from, placement;
    if v_row.id is not null and (v1_id is null or (v_row.xact_id, v_row.id) < (v1_xact, v1_id)) then
      v1_xact := v_row.xact_id;
      v1_id := v_row.id;
    end if;
    execute format('select min(a.id) as id from %s a where a.placement = $2 and a.id >= $1', v_partition) into v_row using layout2_from, placement;
    if v_row.id is not null and (v2_id is null or v_row.id < v2_id) then
      v2_id := v_row.id;
    end if;
  end loop;
end;
$function$;

comment on function compliance_private.audit_first_kept(dropping regclass, layout2_from bigint, placement text, OUT v1_xact xid8, OUT v1_id bigint, OUT v2_id bigint) is
  'The first audit row of one chain (placement: '''' on a single node, a shard''s on a Citus cluster), in seal order, outside the partition being dropped: in layout 1 by (xact_id, id) below layout2_from, in layout 2 by id.';

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
  v_chain text;
  v_chain_rows bigint;
  v_unsealed_chain text;
  v_chains jsonb;
  v_plan record;
  v_kept_total bigint;
begin
  -- past retention, or archived, verified and past archive_after
  for v_partition in
    select e.* from compliance_private.expired_audit_partitions(greatest(cutoff, coalesce(archive_cutoff, cutoff))) e
     where e.range_end <= cutoff
        or exists (select from compliance.audit_archives r where r.partition_name = e.partition_name)
     order by e.range_end
  loop
    v_relid := format('compliance.%I', v_partition.partition_name)::regclass;
    -- every chain's rows in the month sealed (one chain on a single node, one per shard on a
    -- Citus cluster), each chain's sealer held off until the month is gone
    v_unsealed_chain := null;
    for v_chain in select c.placement from compliance.audit_chains() c(placement) loop
      select * into v_head from compliance_private.audit_seal_head h where h.placement = v_chain for update;
      execute format('select exists (select 1 from %s a where a.placement = $2 and a.id >= $1)', v_relid)
        into v_unsealed using coalesce(v_head.next_row_id, 1), v_chain;
      if v_unsealed then
        v_unsealed_chain := v_chain;
        exit;
      end if;
    end loop;
    if v_unsealed_chain is not null then
      raise warning 'audit partition % holds unsealed rows (chain %); not dropped (run compliance.seal_audit_log())',
        v_partition.partition_name, quote_literal(v_unsealed_chain);
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
    -- (the feed follows the chain '' alone, which on a Citus cluster is one shard's)
    execute format('select max(a.id) from %s a where a.placement = $1', v_relid) into v_last_id using '';
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

    -- per chain, before the month goes: the seals all of whose rows go with this partition (or
    -- went before), those before the chain's first row that stays; and this partition's rows
    -- that the chain's kept seals still list, which verification must know went
    v_chains := '[]';
    v_kept_total := 0;
    for v_chain in select c.placement from compliance.audit_chains() c(placement) loop
      execute format('select count(*) from %s a where a.placement = $1', v_relid) into v_chain_rows using v_chain;
      select * into strict v_bounds from compliance_private.audit_chain_bounds(v_chain);
      select * into strict v_kept from compliance_private.audit_first_kept(v_relid, v_bounds.layout2_from, v_chain);
      select * into v_last_removed from compliance.audit_seals s
       where s.placement = v_chain
         and case when s.layout = 1 then v_kept.v1_id is null or (s.last_xact_id, s.last_row_id) < (v_kept.v1_xact, v_kept.v1_id)
                  else v_kept.v1_id is null and (v_kept.v2_id is null or s.last_row_id < v_kept.v2_id) end
       order by s.seal_no desc limit 1;
      execute format($q$
        select coalesce(jsonb_agg(a.id order by a.id), '[]') from %s a
         where a.placement = $5
           and case when a.id >= $1 then $2 is null or $2 = 1 or a.id > $4
                    else $2 is null or ($2 = 1 and (a.xact_id, a.id) > ($3, $4)) end$q$, v_relid)
        into v_kept_rows
        using v_bounds.layout2_from, v_last_removed.layout, v_last_removed.last_xact_id, v_last_removed.last_row_id, v_chain;
      -- a chain on a cluster with nothing in the month and no seal to remove has nothing to record
      continue when v_chain <> '' and v_chain_rows = 0 and v_last_removed.seal_no is null;
      v_kept_total := v_kept_total + jsonb_array_length(v_kept_rows);
      v_chains := v_chains || jsonb_build_object('placement', v_chain, 'rows', v_chain_rows,
        'seals_removed_through', v_last_removed.seal_no, 'seal_hash', encode(v_last_removed.seal_hash, 'hex'),
        'seal_end', jsonb_build_object('xact_id', v_last_removed.last_xact_id, 'row_id', v_last_removed.last_row_id),
        'dropped_rows_in_kept_seals', v_kept_rows);
    end loop;

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
      -- each chain's own drop record, in that chain: verification reads a chain's start there
      for v_plan in select * from jsonb_to_recordset(v_chains) as c(placement text, rows bigint, seals_removed_through bigint,
                                                                    seal_hash text, seal_end jsonb, dropped_rows_in_kept_seals jsonb) loop
        if v_plan.seals_removed_through is not null then
          perform compliance_private.begin_bulk_operation('retention', array[v_plan.placement]);
          delete from compliance.audit_seals s where s.placement = v_plan.placement and s.seal_no <= v_plan.seals_removed_through;
          perform compliance_private.end_bulk_operation();
        end if;
        perform compliance_private.append_audit('audit.partition_dropped', 'system', 'audit_partition',
          v_partition.partition_name,
          jsonb_build_object('rows', v_plan.rows, 'range_end', v_partition.range_end,
            'seals_removed_through', v_plan.seals_removed_through,
            'seal_hash', v_plan.seal_hash,
            'seal_end', v_plan.seal_end,
            'dropped_rows_in_kept_seals', v_plan.dropped_rows_in_kept_seals)
          || case when v_archive.partition_name is null then '{}'::jsonb
                  else jsonb_build_object('archive', jsonb_build_object('bundle_uri', v_archive.bundle_uri,
                         'bundle_sha256', encode(v_archive.bundle_sha256, 'hex'), 'personal_parts_kept', v_parts)) end,
          placement => v_plan.placement);
      end loop;
    end if;
    v_dropped := v_dropped || (jsonb_build_object('partition', v_partition.partition_name, 'rows', v_rows,
      -- the first chain's (the only one on a single node); every chain's under chains
      'seals_removed_through', (v_chains -> 0 ->> 'seals_removed_through')::bigint, 'rows_in_kept_seals', v_kept_total,
      'chains', (select coalesce(jsonb_agg(jsonb_build_object('placement', c ->> 'placement', 'rows', (c ->> 'rows')::bigint,
                                                              'seals_removed_through', (c ->> 'seals_removed_through')::bigint)), '[]')
                   from jsonb_array_elements(v_chains) c),
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
  'Drops whole audit partitions older than cutoff, and archived ones (compliance.audit_archives) older than archive_cutoff whose rows still match their bundle (a month whose rows a started SIEM feed has not sent yet waits), moving an archived month''s personal parts to compliance.audit_archived_parts first, once every row in them is sealed, and then, chain by chain (one on a single node, one per shard on a Citus cluster), removes the seals all of whose rows are gone and audits the drop in that chain (audit.partition_dropped, with the chain''s rows) with the archive bundle and its SHA-256 where there is one, the last seal removed, its hash and end, and the ids of dropped rows that kept seals still list: the records verification accepts for a chain that no longer starts at seal 1.';
