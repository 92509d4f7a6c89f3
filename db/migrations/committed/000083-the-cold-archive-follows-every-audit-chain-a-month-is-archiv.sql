--! Previous: sha1:a007e8865ba68c63ae36b26cbf0763b634113ebb
--! Hash: sha1:9d3f6db5ec7aabb09cc7b3b3f6e898513c0d3fc9
--! Message: The cold archive follows every audit chain: a month is archivable once each chain has sealed its rows, and its bundle's seals name their chain

-- On a Citus cluster each shard keeps its own chain. A month waited only for the chain '' to seal
-- it, and its bundle took its seals by row id alone, which mixes the chains' seal numbers.
drop function compliance.audit_archive_seals(text);
-- included from fixtures/archive/audit_archive_seals.sql
-- compliance.audit_archive_seals(partition_name text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.audit_archive_seals(partition_name text)
 RETURNS TABLE(chain text, seal_no bigint, layout smallint, previous_hash text, seal_hash text, first_row_id bigint, last_row_id bigint,
               last_xact_id bigint, row_count integer, row_ids bigint[], row_hashes text, rows_elsewhere bigint[])
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_chain text;
  v_bounds record;
begin
  perform compliance_private.require_archivable(partition_name);
  -- chain by chain (one per shard on a Citus cluster), each query within the chain's shard
  for v_chain in select c.placement from compliance.audit_chains() c(placement) loop
    execute format('select min(a.id) as low, max(a.id) as high from compliance.%I a where a.placement = $1', partition_name)
      into v_bounds using v_chain;
    continue when v_bounds.low is null;
    -- every seal listing one of the month's rows, and the ids it lists that are not the month's
    -- (rows of the months either side, or rows retention dropped before)
    return query execute format($q$
      select s.placement, s.seal_no, s.layout, encode(s.previous_hash, 'hex'), encode(s.seal_hash, 'hex'), s.first_row_id, s.last_row_id,
             s.last_xact_id::text::bigint, s.row_count, s.row_ids, encode(s.row_hashes, 'hex'),
             array(select u.x from unnest(s.row_ids) u(x)
                    where not exists (select 1 from compliance.%1$I a where a.placement = $3 and a.id = u.x) order by u.x)
        from compliance.audit_seals s
       where s.placement = $3 and s.last_row_id >= $1 and (s.layout = 1 or s.first_row_id <= $2)
         and exists (select 1 from unnest(s.row_ids) u(x) join compliance.%1$I a on a.placement = $3 and a.id = u.x)
       order by s.seal_no$q$, partition_name) using v_bounds.low, v_bounds.high, v_chain;
  end loop;
end;
$function$;

comment on function compliance.audit_archive_seals(partition_name text) is
  'The seals that list an archivable audit partition''s rows, as an archive bundle holds them, chain by chain (one on a single node, one per shard on a Citus cluster), each with the ids it lists that belong to another month (rows_elsewhere). Worker role. Errors: ARCHV.';

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
  v_partition record;
  v_chain record;
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
    -- a month with rows the sealer has not reached yet, in any chain (one per shard on a Citus
    -- cluster), waits: its bundle must carry every seal
    v_unsealed := false;
    for v_chain in select c.placement, coalesce(h.next_row_id, 1) as next_row_id
                     from compliance.audit_chains() c(placement)
                     left join compliance_private.audit_seal_head h on h.placement = c.placement loop
      execute format('select exists (select 1 from compliance.%I a where a.placement = $2 and a.id >= $1)', v_partition.partition_name)
        into v_unsealed using v_chain.next_row_id, v_chain.placement;
      exit when v_unsealed;
    end loop;
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
  'The monthly audit partitions ready for the cold archive: their whole range older than the audit_logs policy''s archive_after (90 days), every row sealed in every chain, no archive recorded yet. Oldest first. Worker role.';

revoke all on function compliance.audit_archive_seals(text) from public;
grant execute on function compliance.audit_archive_seals(text) to compliance_worker;

select compliance_private.record_expected_grants();
