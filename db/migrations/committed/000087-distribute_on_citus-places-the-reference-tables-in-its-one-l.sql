--! Previous: sha1:2b871dfe9abc68bee54d65a6dfd5b8e4e14b742d
--! Hash: sha1:830e086c6655e3431b550ffdd1b92afca755eeac
--! Message: distribute_on_citus places the reference tables in its one loop for first and later calls, before the tables by subject and placement, instead of a first-call loop beside its twin

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
    -- and what an erasure leaves behind, and its mark, so that it writes on the subject's node alone
    'compliance_private.erased_subjects', 'compliance.erased_consent_proofs', 'compliance_private.bulk_operations',
    -- and the personal parts of archived audit rows, beside the audit rows they came from
    'compliance.audit_archived_parts'];
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
  -- the first call places the tables; every later one only what a migration added
  v_first constant boolean := not compliance_private.is_distributed();
begin
  if not exists (select from pg_catalog.pg_extension e where e.extname = 'citus') then
    perform compliance_private.raise_error('CITUS', 'the citus extension is not installed in this database',
      'Load citus (shared_preload_libraries), run create extension citus and add the workers first (docs/CITUS.md).');
  end if;
  -- foreign keys and distribution in one transaction: Citus must not run shard commands in parallel
  set local citus.multi_shard_modify_mode = 'sequential';
  -- the audit and refusal triggers run on the shards, on the node that holds the subject
  set local citus.enable_unsafe_triggers = on;
  if v_first then

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

  end if;

  -- what follows again after every migration (setup calls this each time): a migration may
  -- have added a table. Everything but the subjects' tables and those by placement is small, read
  -- where the subject's rows are (tombstones, purposes, policies, settings, the root chain): a
  -- reference table, copied to every node, placed first, since the triggers on the shards that a
  -- database in use fills read them there. A table that refers to one not placed yet waits for
  -- the next round.
  while v_progress loop
    v_progress := false;
    v_left := null;
    for v_table in select c.oid::regclass::text from pg_catalog.pg_class c
                    where c.relnamespace in ('compliance'::regnamespace, 'compliance_private'::regnamespace)
                      and c.relkind in ('r', 'p') and not c.relispartition
                      and c.oid::regclass::text <> all (v_by_subject || v_by_placement)
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

  if v_first then
    -- a database in use has rows, and placing a table copies them into its shards, whose triggers
    -- call pgcomply's helpers by name on the workers: first every routine that needs no table
    -- placed below (the rest follow at the end)
    for v_definition in select p.oid::regprocedure::text from pg_catalog.pg_proc p
                         where p.pronamespace in ('compliance'::regnamespace, 'compliance_private'::regnamespace)
                           and not exists (select from pg_catalog.pg_depend d
                                            where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e') loop
      begin
        execute format('select pg_catalog.create_distributed_function(%L::regprocedure)', v_definition);
      exception when others then
        -- it needs a table (or a view of one) placed below: it follows at the end
        null;
      end;
    end loop;

    -- and the rows a table holds are copied into its shards with its triggers off: they were
    -- checked and audited when they were written, and the triggers' tables are not placed yet
    foreach v_table in array v_by_subject || v_by_placement loop
      execute format('alter table %s disable trigger user', v_table);
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

    -- rows written before the cluster all hold the placement ''. The records that outlive a
    -- subject's rows move to the subject's placement, where erasure and export look for them. A
    -- tombstone, whose subject is known only by its digest, goes into every placement, where the
    -- triggers that refuse an erased id look (as replay_erasures does). The audit log and its
    -- archived parts stay where they are, chained in the chain '': erasure looks for a subject's
    -- audit rows in every placement. Triggers are off for this: no row's content changes.
    perform pg_catalog.set_config('session_replication_role', 'replica', true);
    update compliance.dsr_requests r set placement = compliance_private.placement_of(r.user_id)
     where r.user_id is not null and r.placement is distinct from compliance_private.placement_of(r.user_id);
    update compliance.access_grants g set placement = compliance_private.placement_of(g.user_id)
     where g.user_id is not null and g.placement is distinct from compliance_private.placement_of(g.user_id);
    update compliance.propagation_tasks t set placement = compliance_private.placement_of(t.user_id)
     where t.user_id is not null and t.placement is distinct from compliance_private.placement_of(t.user_id);
    insert into compliance_private.erased_subjects (placement, subject_digest, erased_at)
    select p.placement, e.subject_digest, e.erased_at
      from compliance_private.erased_subjects e cross join compliance_private.shard_placements p
     where e.placement = '' and p.placement <> ''
    on conflict do nothing;
    perform pg_catalog.set_config('session_replication_role', 'origin', true);
  end if;

  -- the tables distributed by placement: on the first call all of them; on a later one, a table a
  -- migration made anew to sit in the subjects' placements (the bulk-operation marks, which live
  -- only inside a transaction, so no rows move), whose key already holds the placement. One placed
  -- before as a reference table goes back to a local table first; one Citus took in as a local
  -- table of its own (a key to a reference table does that) is distributed as it is.
  for v_table in select t.name from unnest(v_by_placement) with ordinality t(name, n)
                  where not exists (select from pg_catalog.pg_dist_partition d
                                     where d.logicalrelid = t.name::regclass and d.partmethod = 'h')
                  order by t.n loop
    if exists (select from pg_catalog.pg_dist_partition d where d.logicalrelid = v_table::regclass and d.repmodel = 't') then
      execute format('select pg_catalog.undistribute_table(%L)', v_table);
    end if;
    execute format('select pg_catalog.create_distributed_table(%L, %L, colocate_with => %L)', v_table, 'placement', 'compliance.user_profiles');
  end loop;

  if v_first then
    -- from now on each shard's rows are numbered on the node that holds it, where its chain is
    -- sealed (after the copy above: the rows already sealed keep their numbers), from a sequence of
    -- that node's past every id there is so far
    select coalesce(max(a.id), 0) into v_above from compliance.audit_logs a;
    perform compliance_private.ensure_chain_sequences(v_above);
    create trigger _001_number_on_node before insert on compliance.audit_logs
      for each row execute function compliance_private.tg_audit_logs__number_on_node();
    foreach v_table in array v_by_subject || v_by_placement loop
      execute format('alter table %s enable trigger user', v_table);
    end loop;

  end if;

  -- the foreign keys taken off above come back, now that every table is placed
  for v_key in select * from jsonb_to_recordset(v_foreign_keys) as k(relation text, name text, definition text, referenced text) loop
    v_definition := v_key.definition;
    -- between two tables distributed by the subject, the key goes through the subject (a key that
    -- names it already, like a message's in its own conversation, stands as it is)
    if v_key.relation = any (v_by_subject) and v_key.referenced = any (v_by_subject) and v_definition !~ '^FOREIGN KEY \([^)]*\muser_id\M' then
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
