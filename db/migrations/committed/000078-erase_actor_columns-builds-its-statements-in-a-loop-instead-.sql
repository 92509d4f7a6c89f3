--! Previous: sha1:bd3ff01fa3370a40d71ce5753c19a541a1661a03
--! Hash: sha1:11ee956639856b3125149775dc6eb75c06fdb257
--! Message: erase_actor_columns builds its statements in a loop instead of two queries, which cost an erasure half a millisecond on a single node

-- included from fixtures/subject-rights/erase_actor_columns.sql
-- compliance_private.erase_actor_columns(relation regclass, actor text, columns text[]): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.erase_actor_columns(relation regclass, actor text, VARIADIC columns text[])
 RETURNS bigint
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_named text := '';
  v_cleared text := '';
  v_column text;
  v_key text;
  v_value text;
  v_found boolean;
  v_count bigint := 0;
  v_changed bigint;
begin
  -- built in a loop, not by a query: an erasure calls this for fourteen tables
  foreach v_column in array columns loop
    v_named := v_named || case when v_named = '' then '' else ', ' end || format('t.%I', v_column);
    v_cleared := v_cleared || case when v_cleared = '' then '' else ', ' end || format('%1$I = nullif(t.%1$I, $1)', v_column);
  end loop;
  v_named := format('$1 in (%s)', v_named);
  if not compliance_private.is_distributed() then
    execute format('update %s t set %s where %s', relation, v_cleared, v_named) using actor;
    get diagnostics v_count = row_count;
    return v_count;
  end if;
  -- on a Citus cluster: look first, then change only where the erased person acted, one shard at
  -- a time by the distribution column, so the erasure's transaction reaches no other node
  execute 'select pg_catalog.column_to_column_name(d.logicalrelid, d.partkey) from pg_catalog.pg_dist_partition d
            where d.logicalrelid = $1 and d.partmethod = ''h'''
    into v_key using relation;
  if v_key is null then
    -- a reference table: a copy on every node, read here on the coordinator
    execute format('select exists (select 1 from %s t where %s)', relation, v_named) into v_found using actor;
    if v_found then
      execute format('update %s t set %s where %s', relation, v_cleared, v_named) using actor;
      get diagnostics v_count = row_count;
    end if;
    return v_count;
  end if;
  for v_value in execute format('select distinct t.%I::text from %s t where %s', v_key, relation, v_named) using actor loop
    -- the shard's triggers find the erasure's mark on their own node
    perform compliance_private.begin_bulk_operation('erasure',
      array[case when v_key = 'placement' then v_value else compliance_private.placement_of(v_value) end]);
    execute format('update %s t set %s where t.%I = $2 and %s', relation, v_cleared, v_key, v_named) using actor, v_value;
    get diagnostics v_changed = row_count;
    v_count := v_count + v_changed;
  end loop;
  return v_count;
end;
$function$;

comment on function compliance_private.erase_actor_columns(relation regclass, actor text, columns text[]) is
  'Part of an erasure: clears the erased person from the columns of relation that name who acted (who recorded, granted, handled…), where the row is about someone else, and returns how many rows changed. On a Citus cluster it reads first and changes only the shards (by the distribution column) and reference tables where the person appears, marking the erasure in each such shard, so an erasure of someone who acted nowhere else changes nothing outside their own node.';
