--! Previous: sha1:a067aaf6a3d15ec28496e3b0c4b6ef400b330bbf
--! Hash: sha1:aac4b6d1d19fd2fde455725fd6056fc054b1462b
--! Message: Ready for Citus: the request context set with SET LOCAL, policies without sub-selects, audit triggers that read their transition tables first, a placement key on the records that outlive a subject, and distribute_on_citus

-- On a single node nothing changes in what anyone sees: placement is '' everywhere, and the
-- routines take the same paths. On a Citus coordinator, setup calls
-- compliance_private.distribute_on_citus() (README, "On Citus").

create table if not exists compliance_private.shard_placements (
  hash_min integer not null,
  hash_max integer not null,
  placement text not null,
  constraint shard_placements_pkey primary key (hash_min),
  constraint shard_placements_placement_key unique (placement),
  constraint shard_placements_range_ordered check (hash_min <= hash_max),
  constraint shard_placements_placement_inside check (hashtext(placement) between hash_min and hash_max)
);
comment on table compliance_private.shard_placements is
  'On a Citus cluster, one row per shard of the subjects'' tables: its hash range and a placement key, a short text that hashes into it. Tables distributed by placement put a row in the shard of the subject it concerns without keeping the subject''s id in the distribution column. Empty on a single node. Written once, by distribute_on_citus.';
comment on column compliance_private.shard_placements.hash_min is 'The lowest hashtext value of the shard''s range (Citus''s shardminvalue).';
comment on column compliance_private.shard_placements.hash_max is 'The highest (shardmaxvalue).';
comment on column compliance_private.shard_placements.placement is 'The placement key: hashtext(placement) lies in the range. '''' for the range that holds hashtext(''''), which every row had before distribution.';
alter table compliance_private.shard_placements enable row level security;
alter table compliance_private.shard_placements force row level security;
-- included from fixtures/citus/shard_placements.owner_routines.sql
-- policy owner_routines on compliance_private.shard_placements: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance_private.shard_placements;
create policy owner_routines on compliance_private.shard_placements as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance_private.shard_placements is 'distribute_on_citus writes the placement keys; the routines that write the audit log and the DSR register (SECURITY DEFINER, running as the owner) read them through placement_of.';

alter table compliance.audit_logs add column if not exists placement text not null default '';
comment on column compliance.audit_logs.placement is
  'On a Citus cluster, the placement key of the shard this row sits in (compliance_private.placement_of): its subject''s, or for a system event its actor''s. The log is distributed by it, and each shard keeps its own chain. '''' on a single node. Not hashed: it says where a row is kept, not what happened.';
alter table compliance.dsr_requests add column if not exists placement text not null default '';
comment on column compliance.dsr_requests.placement is
  'On a Citus cluster, the placement key of the subject''s shard, so the request sits on the node that holds the subject''s data and stays there after erasure clears user_id. '''' on a single node.';
alter table compliance.access_grants add column if not exists placement text not null default '';
comment on column compliance.access_grants.placement is
  'On a Citus cluster, the placement key of the patient''s shard (see dsr_requests.placement). '''' on a single node.';
alter table compliance.propagation_tasks add column if not exists placement text not null default '';
comment on column compliance.propagation_tasks.placement is
  'On a Citus cluster, the placement key of the subject''s shard (see dsr_requests.placement). '''' on a single node.';

alter table compliance_private.bulk_operations add column if not exists transaction_key text;
comment on column compliance_private.bulk_operations.transaction_key is
  'The transaction as every node of a Citus cluster names it (transaction_key): a trigger on a shard checks it. The transaction id elsewhere.';

-- included from fixtures/citus/placement_of.sql
-- compliance_private.placement_of(subject text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.placement_of(subject text)
 RETURNS text
 LANGUAGE sql
 STABLE PARALLEL SAFE
BEGIN ATOMIC
 SELECT COALESCE(( SELECT p.placement
            FROM compliance_private.shard_placements p
           WHERE (p.hash_min <= hashtext(COALESCE(placement_of.subject, ''::text)))
           ORDER BY p.hash_min DESC
          LIMIT 1), ''::text) AS "coalesce";
END;

comment on function compliance_private.placement_of(subject text) is
  'The placement key of the shard that holds a subject''s rows on a Citus cluster: the representative that hashes into the same range as the subject id (shard_placements). The audit log and the records that outlive a subject''s rows (DSR requests, access grants, propagation tasks) are distributed by it, since erasure must clear their user_id and Citus cannot change a distribution column. Empty on a single node.';

-- included from fixtures/citus/transaction_key.sql
-- compliance_private.transaction_key(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.transaction_key()
 RETURNS text
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_key text;
begin
  -- on a Citus cluster every node's part of one transaction knows the coordinator's number for
  -- it; a node's own transaction id differs from node to node
  if compliance_private.is_distributed() then
    execute 'select t.initiator_node_identifier || '':'' || t.transaction_number from pg_catalog.get_current_transaction_id() t'
      into v_key;
    if v_key is not null and v_key !~ ':0$' then
      return 'citus:' || v_key;
    end if;
  end if;
  return pg_current_xact_id()::text;
end;
$function$;

comment on function compliance_private.transaction_key() is
  'Names the current transaction the same way on every node: on a Citus cluster the distributed transaction''s number (once a statement has reached another node), elsewhere the transaction id. bulk_operations records it, so a trigger on a shard knows the erasure or retention batch it runs in.';

-- included from fixtures/audit/begin_bulk_operation.sql
-- compliance_private.begin_bulk_operation(kind text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.begin_bulk_operation(kind text)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  insert into compliance_private.bulk_operations (xact_id, kind) values (pg_current_xact_id(), kind) on conflict do nothing;
  -- named after the insert: on a Citus cluster it gave the transaction the number every node knows
  update compliance_private.bulk_operations b set transaction_key = compliance_private.transaction_key()
   where b.xact_id = pg_current_xact_id() and b.kind = begin_bulk_operation.kind;
  -- SET LOCAL: on a Citus cluster it reaches the triggers on the shards
  execute format('set local compliance_private.bulk_operation = %L', kind);
end;
$function$;

comment on function compliance_private.begin_bulk_operation(kind text) is
  'Marks the current transaction as an erasure or retention batch (see bulk_operations).';

-- included from fixtures/audit/end_bulk_operation.sql
-- compliance_private.end_bulk_operation(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.end_bulk_operation()
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  delete from compliance_private.bulk_operations b where b.xact_id = pg_current_xact_id();
  set local compliance_private.bulk_operation = '';
end;
$function$;

comment on function compliance_private.end_bulk_operation() is
  'Ends the mark of begin_bulk_operation before the transaction writes its own summary audit row.';

-- included from fixtures/audit/in_bulk_operation.sql
-- compliance_private.in_bulk_operation(kind text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.in_bulk_operation(kind text)
 RETURNS boolean
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_key text;
begin
  -- the setting is only a hint that keeps ordinary writes free of a lookup; anyone can set
  -- it, so the owner-only table is the proof
  if current_setting('compliance_private.bulk_operation', true) is distinct from kind then
    return false;
  end if;
  v_key := compliance_private.transaction_key();
  return exists (select from compliance_private.bulk_operations b
                  where b.transaction_key = v_key and b.kind = in_bulk_operation.kind);
end;
$function$;

comment on function compliance_private.in_bulk_operation(kind text) is
  'Whether the current transaction is an erasure or retention batch: the session setting compliance_private.bulk_operation names it and bulk_operations (writable only by the owner) proves it, by the transaction''s key (transaction_key), which every node of a Citus cluster knows.';

-- included from fixtures/citus/is_distributed.sql
-- compliance_private.is_distributed(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.is_distributed()
 RETURNS boolean
 LANGUAGE sql
 STABLE PARALLEL SAFE
BEGIN ATOMIC
 SELECT (EXISTS ( SELECT
            FROM compliance_private.shard_placements)) AS "exists";
END;

comment on function compliance_private.is_distributed() is
  'Whether pgcomply''s tables are distributed over a Citus cluster (distribute_on_citus has placed them). The routines that must write differently there ask once per statement.';

-- included from fixtures/citus/tg__column_defaults.sql
-- compliance_private.tg__column_defaults(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.tg__column_defaults()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_values jsonb;
begin
  -- TG_ARGV: column, default expression, column, default expression, …; each column takes its
  -- default, whatever the INSERT said (as the owner: a sequence's
  -- next value is not the inserting role's to take)
  execute format('select jsonb_build_object(%s)',
                 (select string_agg(format('%L, %s', tg_argv[i], tg_argv[i + 1]), ', ')
                    from generate_series(0, tg_nargs - 2, 2) as i))
    into v_values;
  return jsonb_populate_record(new, v_values);
end;
$function$;

comment on function compliance_private.tg__column_defaults() is
  'BEFORE INSERT row trigger on a Citus cluster''s shards: gives the columns it names their defaults (created_at, recorded_at, a sequence''s id). Citus sends a shard every column of an INSERT with the coordinator''s defaults filled in, and the shard checks INSERT on each, so the roles that insert some columns of a table need INSERT on these too; this keeps them from choosing the values. distribute_on_citus attaches it.';

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
  -- distribution column): by the placement of the subject's shard, so they sit on the same node
  v_by_placement constant text[] := array['compliance.audit_logs', 'compliance.dsr_requests', 'compliance.access_grants',
    'compliance.propagation_tasks'];
  v_foreign_keys jsonb := '[]';
  v_key record;
  v_table text;
  v_column text;
  v_definition text;
  v_progress boolean := true;
  v_left text;
  v_refused text[] := '{}';
  v_try integer;
  v_shard record;
begin
  if to_regclass('pg_catalog.pg_dist_partition') is null then
    perform compliance_private.raise_error('CITUS', 'the citus extension is not installed in this database',
      'Load citus (shared_preload_libraries), run create extension citus and add the workers first (README, "On Citus").');
  end if;
  if not exists (select from pg_catalog.pg_extension e where e.extname = 'citus') then
    perform compliance_private.raise_error('CITUS', 'the citus extension is not installed in this database',
      'Run create extension citus and add the workers first.');
  end if;
  if not compliance_private.is_distributed() then
    -- foreign keys and distribution in one transaction: Citus must not run shard commands in parallel
    set local citus.multi_shard_modify_mode = 'sequential';
    -- the audit and refusal triggers run on the shards, on the node that holds the subject
    set local citus.enable_unsafe_triggers = on;

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
    for v_shard in select s.shardminvalue::integer as low, s.shardmaxvalue::integer as high
                     from pg_catalog.pg_dist_shard s where s.logicalrelid = 'compliance.user_profiles'::regclass
                    order by 1 loop
      if hashtext('') between v_shard.low and v_shard.high then
        insert into compliance_private.shard_placements (hash_min, hash_max, placement) values (v_shard.low, v_shard.high, '');
        continue;
      end if;
      v_try := 0;
      while hashtext('shard-' || v_try) not between v_shard.low and v_shard.high loop
        v_try := v_try + 1;
      end loop;
      insert into compliance_private.shard_placements (hash_min, hash_max, placement) values (v_shard.low, v_shard.high, 'shard-' || v_try);
    end loop;

    foreach v_table in array v_by_subject loop
      continue when v_table = 'compliance.user_profiles';
      execute format('select pg_catalog.create_distributed_table(%L, %L, colocate_with => %L)', v_table, 'user_id', 'compliance.user_profiles');
    end loop;
    foreach v_table in array v_by_placement loop
      execute format('select pg_catalog.create_distributed_table(%L, %L, colocate_with => %L)', v_table, 'placement', 'compliance.user_profiles');
    end loop;

    -- everything else is small, read where the subject's rows are (tombstones, purposes, policies,
    -- settings): a reference table, copied to every node. A table that refers to one not placed yet
    -- waits for the next round.
    while v_progress loop
      v_progress := false;
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
    if exists (select from pg_catalog.pg_class c
                where c.relnamespace in ('compliance'::regnamespace, 'compliance_private'::regnamespace)
                  and c.relkind in ('r', 'p') and not c.relispartition
                  and not exists (select from pg_catalog.pg_dist_partition d where d.logicalrelid = c.oid)) then
      perform compliance_private.raise_error('CITUS', format('a table could not be placed on the cluster: %s', v_left));
    end if;

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

  end if;

  -- what follows again after every migration (setup calls this each time): a migration may
  -- have replaced a routine, or added one
  -- a generic plan leaves parameters Citus cannot route by: where a routine pins one for the cost of
  -- planning over a single node's partitions (db/CONVENTIONS.md, "Plans"), the cluster plans afresh
  for v_definition in select p.oid::regprocedure::text from pg_catalog.pg_proc p
                       where p.pronamespace in ('compliance'::regnamespace, 'compliance_private'::regnamespace)
                         and exists (select from unnest(p.proconfig) c where c like 'plan_cache_mode=%') loop
    execute format('alter function %s reset plan_cache_mode', v_definition);
  end loop;
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

revoke execute on procedure compliance_private.distribute_on_citus(integer) from public;

-- included from fixtures/context/set_request_context.sql
-- compliance.set_request_context(actor text, roles text[], client_ip inet, user_agent text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.set_request_context(actor text, roles text[] DEFAULT '{}'::text[], client_ip inet DEFAULT NULL::inet, user_agent text DEFAULT NULL::text)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  -- the server switches to compliance_dpo, compliance_staff or compliance_approver only for a
  -- token with the dpo, staff or approver role; a context that says otherwise is a server bug acting with rights its caller does
  -- not have. Raised here, not through compliance_private, which the staff role cannot reach.
  if current_user in ('compliance_dpo', 'compliance_staff', 'compliance_approver')
     and not coalesce(substr(current_user, 12) = any (roles), false) then
    raise exception 'the % role needs an actor whose roles include %', current_user, substr(current_user, 12)
      using errcode = 'DPORL',
            hint = format('Set the request context with roles => ''{%s}'', or act for a subject as compliance_app.', substr(current_user, 12));
  end if;
  -- SET LOCAL rather than set_config: on a Citus cluster only SET LOCAL reaches the shards'
  -- sessions, where row-level security and the audit triggers read the context
  execute format('set local compliance.actor = %L', coalesce(actor, ''));
  execute format('set local compliance.actor_roles = %L', coalesce(array_to_string(roles, ','), ''));
  execute format('set local compliance.client_ip = %L', coalesce(client_ip::text, ''));
  execute format('set local compliance.user_agent = %L', coalesce(left(user_agent, 512), ''));
end;
$function$;

comment on function compliance.set_request_context(actor text, roles text[], client_ip inet, user_agent text) is
  'Sets who is acting in this transaction (actor, their roles, client IP and user agent); every audit row reads them. As compliance_dpo, compliance_staff or compliance_approver, the roles must include dpo, staff or approver (DPORL otherwise).';

-- included from fixtures/context/open_request.sql
-- compliance.open_request(actor text, roles text[], client_ip inet, user_agent text, session_id uuid, idle_timeout interval, username text, email text, full_name text, authentication jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.open_request(actor text, roles text[], client_ip inet, user_agent text, session_id uuid, idle_timeout interval DEFAULT '00:15:00'::interval, username text DEFAULT NULL::text, email text DEFAULT NULL::text, full_name text DEFAULT NULL::text, authentication jsonb DEFAULT NULL::jsonb)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  if authentication is not null and (jsonb_typeof(authentication) <> 'object' or jsonb_typeof(authentication -> 'mfa') <> 'boolean'
                                     or jsonb_typeof(authentication -> 'amr') <> 'array') then
    perform compliance_private.raise_error('BADRG', 'authentication must be {amr: [...], acr, mfa: true|false, auth_time}');
  end if;
  perform compliance.set_request_context(actor, roles, client_ip, user_agent);
  -- every audit row of the request carries it (append_audit, the row triggers)
  execute format('set local compliance.authentication = %L', coalesce(authentication::text, ''));
  -- first sight of a subject creates its profile from the identity provider's claims
  perform compliance.ensure_profile(actor, username, email, full_name);
  perform compliance.touch_session(actor, session_id, idle_timeout);
end;
$function$;

comment on function compliance.open_request(actor text, roles text[], client_ip inet, user_agent text, session_id uuid, idle_timeout interval, username text, email text, full_name text, authentication jsonb) is
  'The first call of an API request transaction, after SET LOCAL ROLE compliance_app: sets the request context (the actor is the authenticated subject), creates the subject''s profile on first sight (ensure_profile) and records activity in its session (touch_session). authentication: what the token proved for a privileged request ({amr, acr, mfa, auth_time}, server/auth/assurance.ts), written into every audit row of the request; NULL for a subject''s own request. Errors: ERASD for an erased subject, SESXP for an idle or closed session.';

-- included from fixtures/consent/consent_records.subject_own_rows.sql
-- policy subject_own_rows on compliance.consent_records: its current definition (db/CONVENTIONS.md).

drop policy if exists subject_own_rows on compliance.consent_records;
create policy subject_own_rows on compliance.consent_records as permissive for all to compliance_app
  using ((user_id = compliance.current_subject()))
  with check ((user_id = compliance.current_subject()));
comment on policy subject_own_rows on compliance.consent_records is 'The API acting for a subject sees and changes only rows whose user_id is the request actor.';

-- included from fixtures/processing/processing_limits.subject_own_rows.sql
-- policy subject_own_rows on compliance.processing_limits: its current definition (db/CONVENTIONS.md).

drop policy if exists subject_own_rows on compliance.processing_limits;
create policy subject_own_rows on compliance.processing_limits as permissive for select to compliance_app
  using ((user_id = compliance.current_subject()));
comment on policy subject_own_rows on compliance.processing_limits is 'A subject sees its own objections and restrictions.';

-- included from fixtures/processing/propagation_tasks.subject_own_rows.sql
-- policy subject_own_rows on compliance.propagation_tasks: its current definition (db/CONVENTIONS.md).

drop policy if exists subject_own_rows on compliance.propagation_tasks;
create policy subject_own_rows on compliance.propagation_tasks as permissive for select to compliance_app
  using ((user_id = compliance.current_subject()));
comment on policy subject_own_rows on compliance.propagation_tasks is 'A subject learns which systems its requests were sent to (GDPR Art. 19).';

-- included from fixtures/subject-rights/conversations.subject_own_rows.sql
-- policy subject_own_rows on compliance.conversations: its current definition (db/CONVENTIONS.md).

drop policy if exists subject_own_rows on compliance.conversations;
create policy subject_own_rows on compliance.conversations as permissive for all to compliance_app
  using ((user_id = compliance.current_subject()))
  with check ((user_id = compliance.current_subject()));
comment on policy subject_own_rows on compliance.conversations is 'The API acting for a subject sees and changes only rows whose user_id is the request actor.';

-- included from fixtures/subject-rights/dsr_requests.subject_own_rows.sql
-- policy subject_own_rows on compliance.dsr_requests: its current definition (db/CONVENTIONS.md).

drop policy if exists subject_own_rows on compliance.dsr_requests;
create policy subject_own_rows on compliance.dsr_requests as permissive for select to compliance_app
  using ((user_id = compliance.current_subject()));
comment on policy subject_own_rows on compliance.dsr_requests is 'A subject sees its own requests.';

-- included from fixtures/subject-rights/legal_holds.subject_own_rows.sql
-- policy subject_own_rows on compliance.legal_holds: its current definition (db/CONVENTIONS.md).

drop policy if exists subject_own_rows on compliance.legal_holds;
create policy subject_own_rows on compliance.legal_holds as permissive for all to compliance_app
  using ((user_id = compliance.current_subject()))
  with check ((user_id = compliance.current_subject()));
comment on policy subject_own_rows on compliance.legal_holds is 'The API acting for a subject sees and changes only rows whose user_id is the request actor.';

-- included from fixtures/subject-rights/messages.subject_own_rows.sql
-- policy subject_own_rows on compliance.messages: its current definition (db/CONVENTIONS.md).

drop policy if exists subject_own_rows on compliance.messages;
create policy subject_own_rows on compliance.messages as permissive for all to compliance_app
  using ((user_id = compliance.current_subject()))
  with check ((user_id = compliance.current_subject()));
comment on policy subject_own_rows on compliance.messages is 'The API acting for a subject sees and changes only rows whose user_id is the request actor.';

-- included from fixtures/subject-rights/sessions.subject_own_rows.sql
-- policy subject_own_rows on compliance.sessions: its current definition (db/CONVENTIONS.md).

drop policy if exists subject_own_rows on compliance.sessions;
create policy subject_own_rows on compliance.sessions as permissive for all to compliance_app
  using ((user_id = compliance.current_subject()))
  with check ((user_id = compliance.current_subject()));
comment on policy subject_own_rows on compliance.sessions is 'The API acting for a subject sees and changes only rows whose user_id is the request actor.';

-- included from fixtures/subject-rights/user_preferences.subject_own_rows.sql
-- policy subject_own_rows on compliance.user_preferences: its current definition (db/CONVENTIONS.md).

drop policy if exists subject_own_rows on compliance.user_preferences;
create policy subject_own_rows on compliance.user_preferences as permissive for all to compliance_app
  using ((user_id = compliance.current_subject()))
  with check ((user_id = compliance.current_subject()));
comment on policy subject_own_rows on compliance.user_preferences is 'The API acting for a subject sees and changes only rows whose user_id is the request actor.';

-- included from fixtures/subject-rights/user_profiles.subject_own_rows.sql
-- policy subject_own_rows on compliance.user_profiles: its current definition (db/CONVENTIONS.md).

drop policy if exists subject_own_rows on compliance.user_profiles;
create policy subject_own_rows on compliance.user_profiles as permissive for all to compliance_app
  using ((user_id = compliance.current_subject()))
  with check ((user_id = compliance.current_subject()));
comment on policy subject_own_rows on compliance.user_profiles is 'The API acting for a subject sees and changes only rows whose user_id is the request actor.';

-- included from fixtures/registered/personal_table_sql.sql
-- compliance.personal_table_sql(relation regclass): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.personal_table_sql(relation regclass)
 RETURNS TABLE(subject_rows text, own_rows text, subject_of_row text, key_of_row text, key_in_ids text, subject_type text)
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_table compliance.personal_tables;
  v_own text;
begin
  select * into strict v_table from compliance.personal_tables p where p.relation = personal_table_sql.relation;
  subject_type := v_table.subject_type;
  -- a predicate on alias t that finds one subject's rows ($1) through an index on the subject
  -- column, and an expression of a transition-table row r that names its subject
  -- own_rows, the same for the request's subject in a policy: compared as text unless the column
  -- is text, since a subject id that is no uuid must find nothing rather than fail the query
  -- a plain call, not a sub-select: Citus refuses sub-selects in a distributed table's policies
  v_own := case when v_table.subject_type = 'text' then 'compliance.current_subject()' end;
  if v_table.subject_via is null then
    subject_rows := format('t.%I = $1::%s', v_table.subject_column, v_table.subject_type);
    own_rows := case when v_own is not null then format('%I = %s', v_table.subject_column, v_own)
                     else format('%I::text = compliance.current_subject()', v_table.subject_column) end;
    subject_of_row := format('r.%I::text', v_table.subject_column);
  else
    subject_rows := format('t.%I in (select v.%I from %s v where v.%I = $1::%s)', v_table.subject_column, v_table.subject_via_key,
      v_table.subject_via, v_table.subject_via_column, v_table.subject_type);
    own_rows := format('%I in (select v.%I from %s v where %s)', v_table.subject_column, v_table.subject_via_key, v_table.subject_via,
      case when v_own is not null then format('v.%I = %s', v_table.subject_via_column, v_own)
           else format('v.%I::text = compliance.current_subject()', v_table.subject_via_column) end);
    subject_of_row := format('(select v.%I::text from %s v where v.%I = r.%I)', v_table.subject_via_column, v_table.subject_via,
      v_table.subject_via_key, v_table.subject_column);
  end if;
  key_of_row := (select string_agg(format('r.%I::text', k), ' || '','' || ' order by o) from unnest(v_table.key_columns) with ordinality u(k, o));
  -- rows of r whose keys are in $1 (text[], as key_of_row gives them): through the key's index
  -- when it has one column
  key_in_ids := case when cardinality(v_table.key_columns) = 1
    then format('r.%I = any ($1::%s[])', v_table.key_columns[1],
                (select pg_catalog.format_type(a.atttypid, a.atttypmod) from pg_catalog.pg_attribute a
                  where a.attrelid = relation and a.attname = v_table.key_columns[1]))
    else format('(%s) = any ($1)', key_of_row) end;
  return next;
end;
$function$;

comment on function compliance.personal_table_sql(relation regclass) is
  'The SQL fragments registration, erasure, export, retention and the audit trigger build their statements from for a registered table: subject_rows, a predicate on alias t for one subject''s rows ($1, cast to the subject column''s type, through the foreign key when the subject is reached through one); own_rows, the subject_own_rows policy''s predicate for the request''s subject; subject_of_row, the subject of a row r as text; key_of_row, its primary key as text; key_in_ids, a predicate on r for the rows whose keys are in $1; subject_type. Metadata only (names of tables and columns, as the catalog shows them), so anyone may ask; raises when the table is not registered.';

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
       where c.id >= (audit_seal_rows.seal).first_row_id and c.id <= (audit_seal_rows.seal).last_row_id;
  end if;
end;
$function$;

comment on function compliance_private.audit_seal_rows(seal compliance.audit_seals, from_xact xid8, from_id bigint, layout2_from bigint) is
  'The rows present in a seal''s range: layout 1 after (from_xact, from_id), the previous seal''s end, and below layout2_from; layout 2 its id range.';

-- included from fixtures/audit/append_audit.sql
-- compliance_private.append_audit(action text, category text, resource_type text, resource_id text, details jsonb, user_id text, personal_details jsonb, outcome text, failure_reason text, actor_id text, include_client boolean): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.append_audit(action text, category text, resource_type text DEFAULT NULL::text, resource_id text DEFAULT NULL::text, details jsonb DEFAULT '{}'::jsonb, user_id text DEFAULT NULL::text, personal_details jsonb DEFAULT NULL::jsonb, outcome text DEFAULT 'success'::text, failure_reason text DEFAULT NULL::text, actor_id text DEFAULT compliance.current_actor(), include_client boolean DEFAULT true)
 RETURNS bigint
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  -- the transaction id before the row id: the sealer relies on it (db/AUDIT_HASHING.md)
  v_xact xid8 := pg_current_xact_id();
  v_ip inet := case when include_client then compliance.current_client_ip() end;
  v_user_agent text := case when include_client then compliance.current_user_agent() end;
  v_authentication jsonb;
  v_subject_salt bytea := uuid_send(gen_random_uuid());
  v_actor_salt bytea := uuid_send(gen_random_uuid());
  v_subject_digest bytea;
  v_actor_digest bytea;
  v_id bigint;
  v_stack text;
begin
  if action is null or action !~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$' then
    perform compliance_private.raise_error('BADRG', format('action %L is not dotted lower case', action),
      'Name the event like profile.updated or phi.access.');
  end if;
  if category is null or category not in ('gdpr', 'hipaa', 'soc2', 'security', 'system') then
    perform compliance_private.raise_error('BADRG', format('category %L is unknown', category),
      'Use gdpr, hipaa, soc2, security or system.');
  end if;
  if outcome is null or outcome not in ('success', 'failure') then
    perform compliance_private.raise_error('BADRG', format('outcome %L is unknown', outcome), 'Use success or failure.');
  end if;
  if failure_reason is not null and outcome <> 'failure' then
    perform compliance_private.raise_error('BADRG', 'a failure_reason needs outcome failure');
  end if;
  if details is not null and jsonb_typeof(details) <> 'object' then
    perform compliance_private.raise_error('BADRG', 'details must be a JSON object',
      'Put non-personal details under named keys: {"count": 3}.');
  end if;
  -- a record verification, a check or a report trusts says which routine wrote it: the nearest
  -- function below this one on the call stack (the caller's PERFORM adds a statement line between;
  -- no login role reaches this function, and log_event refuses these actions)
  if compliance_private.is_reserved_action(append_audit.action) then
    get diagnostics v_stack = pg_context;
    details := coalesce(append_audit.details, '{}') || jsonb_build_object('written_by',
      coalesce(substring(substr(v_stack, strpos(v_stack, E'\n') + 1) from '(?:PL/pgSQL function|SQL function) "?([a-z_]+(?:\.[a-z_]+)?)'), 'unknown'));
  end if;
  -- a privileged request's rows say how its actor signed in (the privileged_mfa check counts
  -- them): only open_request says so, never a caller's details (log_event's would be forged)
  details := coalesce(append_audit.details, '{}') - 'authentication';
  v_authentication := compliance_private.current_authentication();
  if v_authentication is not null then
    details := details || jsonb_build_object('authentication', v_authentication);
  end if;
  -- details and resource_id outlive erasure, so they must not name anyone
  perform compliance_private.refuse_personal_outside(append_audit.details, append_audit.resource_id,
    append_audit.user_id, append_audit.actor_id);
  v_subject_digest := compliance_private.audit_subject_digest(v_subject_salt, append_audit.user_id, append_audit.personal_details);
  v_actor_digest := compliance_private.audit_actor_digest(v_actor_salt, append_audit.actor_id, v_ip, v_user_agent);
  -- a row about a subject sits in their shard on a Citus cluster, a system event in its actor's
  insert into compliance.audit_logs (placement, xact_id, action, category, resource_type, resource_id, outcome,
    failure_reason, details, user_id, actor_id, ip_address, user_agent, personal_details,
    subject_part_salt, subject_part_digest, actor_part_salt, actor_part_digest, personal_digest)
  values (compliance_private.placement_of(coalesce(append_audit.user_id, append_audit.actor_id)), v_xact, append_audit.action, append_audit.category, append_audit.resource_type,
    append_audit.resource_id, append_audit.outcome, append_audit.failure_reason,
    coalesce(append_audit.details, '{}'), append_audit.user_id, append_audit.actor_id, v_ip,
    v_user_agent, append_audit.personal_details, v_subject_salt, v_subject_digest, v_actor_salt,
    v_actor_digest, sha256(v_subject_digest || v_actor_digest))
  returning id into v_id;
  return v_id;
end;
$function$;

comment on function compliance_private.append_audit(action text, category text, resource_type text, resource_id text, details jsonb, user_id text, personal_details jsonb, outcome text, failure_reason text, actor_id text, include_client boolean) is
  'Writes one audit row for the routines and log_event: checks the row rules (action dotted lower case, a known category and outcome, a failure_reason only with a failure, details a JSON object: BADRG otherwise), adds to a reserved action''s details the routine that called it, and to a privileged API request''s rows how its actor signed in (authentication: amr, acr, mfa, auth_time) (written_by, from the call stack: verification trusts a drop or erasure record only from its own routine), fills the actor, client IP and user agent (unless include_client is false) from the request context, salts and digests the personal part. The row triggers write the same columns inline, because a nested call costs every personal write.';

-- included from fixtures/audit/tg__audit_row_change.sql
-- compliance_private.tg__audit_row_change(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.tg__audit_row_change()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  -- TG_ARGV: resource type, key column ('' when the subject is the key), verbs for
  -- insert / update / delete
  v_new compliance_private.hstore;
  v_changed text[];
  v_unchanged text[];
  v_action text;
  v_details jsonb := '{}';
  v_personal jsonb;
  v_subject_salt bytea;
  v_actor_salt bytea;
  v_subject text;
  v_actor text;
  v_ip inet;
  v_user_agent text;
  v_subject_digest bytea;
  v_actor_digest bytea;
begin
  if compliance_private.in_any_bulk_operation() then
    return null;  -- the routine writes one summary entry with counts
  end if;

  -- every step is a single expression (no query): this runs on every personal write. The
  -- triggering write already gave the transaction its id, so the row id comes after it.
  v_new := compliance_private.hstore(new);
  if tg_op = 'INSERT' then
    v_action := tg_argv[0] || '.' || tg_argv[2];
  else
    v_action := tg_argv[0] || '.' || tg_argv[3];
    v_changed := compliance_private.akeys(compliance_private.delete(
                   compliance_private.delete(v_new, compliance_private.hstore(old)), 'updated_at'::text));
    v_unchanged := compliance_private.akeys(compliance_private.delete(v_new, v_changed));
    v_personal := jsonb_build_object('old', to_jsonb(old) - v_unchanged, 'new', to_jsonb(new) - v_unchanged);
    v_details := jsonb_build_object('changed_fields', to_jsonb(v_changed));
  end if;
  -- by the resource type, not the table's name: on a Citus cluster the trigger runs on a shard
  if tg_argv[0] = 'consent' then
    v_action := case when compliance_private.fetchval(v_new, 'granted')::boolean
                     then 'consent.granted' else 'consent.withdrawn' end;
    v_details := jsonb_build_object('purpose', compliance_private.fetchval(v_new, 'purpose'),
                                    'policy_version', compliance_private.fetchval(v_new, 'policy_version'),
                                    'source', compliance_private.fetchval(v_new, 'source'));
  end if;

  -- a privileged request's rows say how its actor signed in (a subject's request sets nothing)
  -- (the setting is read first: a subject's request, the common case, pays no function call)
  if current_setting('compliance.authentication', true) <> '' and compliance_private.current_authentication() is not null then
    v_details := coalesce(v_details, '{}') || jsonb_build_object('authentication', compliance_private.current_authentication());
  end if;
  v_subject_salt := uuid_send(gen_random_uuid());
  v_actor_salt := uuid_send(gen_random_uuid());
  v_subject := compliance_private.fetchval(v_new, 'user_id');
  v_actor := compliance.current_actor();
  v_ip := compliance.current_client_ip();
  v_user_agent := compliance.current_user_agent();
  -- computed as plpgsql expressions: far cheaper than inside the INSERT's plan
  v_subject_digest := compliance_private.audit_subject_digest(v_subject_salt, v_subject, v_personal);
  v_actor_digest := compliance_private.audit_actor_digest(v_actor_salt, v_actor, v_ip, v_user_agent);
  insert into compliance.audit_logs (placement, action, category, resource_type, resource_id, details, user_id,
    actor_id, ip_address, user_agent, personal_details, subject_part_salt, subject_part_digest,
    actor_part_salt, actor_part_digest, personal_digest)
  values (compliance_private.placement_of(coalesce(v_subject, v_actor)), v_action, 'gdpr', tg_argv[0], compliance_private.fetchval(v_new, nullif(tg_argv[1], '')), v_details,
    v_subject, v_actor, v_ip, v_user_agent, v_personal, v_subject_salt, v_subject_digest, v_actor_salt,
    v_actor_digest, sha256(v_subject_digest || v_actor_digest));
  return null;
end;
$function$;

comment on function compliance_private.tg__audit_row_change() is
  'AFTER UPDATE row trigger on every personal table (inserts are audited per statement by tg__audit_inserted_rows): one audit row per update, with the actor from the request context and, for updates, the changed field names (details.changed_fields, shortest name first) and their old and new values (personal part, GDPR Art. 16). Deletes are audited per statement by tg__audit_deleted_rows.';

-- included from fixtures/audit/tg__audit_inserted_rows.sql
-- compliance_private.tg__audit_inserted_rows(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.tg__audit_inserted_rows()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  -- TG_ARGV as tg__audit_row_change: resource type, key column ('' when the subject is the key), verbs
  v_actor text := compliance.current_actor();
  v_ip inet := compliance.current_client_ip();
  v_user_agent text := compliance.current_user_agent();
  -- one actor, one salt for the statement's rows: the actor part is the same in each, and an
  -- erasure of the actor redacts all of them together
  v_actor_salt bytea := uuid_send(gen_random_uuid());
  v_actor_digest bytea := compliance_private.audit_actor_digest(v_actor_salt, v_actor, v_ip, v_user_agent);
  -- by the resource type, not the table's name: on a Citus cluster the trigger runs on a shard
  v_consent boolean := tg_argv[0] = 'consent';
  -- a privileged request's rows say how its actor signed in (a subject's request sets nothing)
  v_authentication jsonb := case when compliance_private.current_authentication() is null then '{}'
                                 else jsonb_build_object('authentication', compliance_private.current_authentication()) end;
  v_distributed boolean := compliance_private.is_distributed();
  v_new_rows jsonb;
begin
  if compliance_private.in_any_bulk_operation() then
    return null;  -- the routine writes one summary entry with counts
  end if;
  -- once per statement and set-based: a bulk load of a million rows writes its million audit rows
  -- in one INSERT … SELECT instead of a million trigger calls. On a Citus cluster the INSERT into
  -- the distributed log is planned apart from this trigger, where the transition table is not: the
  -- rows are read into JSON first, and each audit row goes to its subject's shard.
  if v_distributed then
    select jsonb_agg(to_jsonb(r)) into v_new_rows from new_rows r;
  end if;
  execute format($q$
    insert into compliance.audit_logs (placement, action, category, resource_type, resource_id, details, user_id,
      actor_id, ip_address, user_agent, subject_part_salt, subject_part_digest, actor_part_salt,
      actor_part_digest, personal_digest)
    select %s, x.action, 'gdpr', $1, x.resource_id, x.details, x.subject, $2, $3, $4, x.salt, x.digest, $5, $6, sha256(x.digest || $6)
      from (select y.*, compliance_private.audit_subject_digest(y.salt, y.subject, null) as digest
              from (select %s as action, %s as resource_id, (%s) || $7 as details, r.user_id::text as subject,
                           uuid_send(gen_random_uuid()) as salt
                      from %s r) y) x$q$,
    case when v_distributed then 'compliance_private.placement_of(x.subject)' else $s$''$s$ end,
    case when v_consent then $s$case when r.granted then 'consent.granted' else 'consent.withdrawn' end$s$
         else quote_literal(tg_argv[0] || '.' || tg_argv[2]) end,
    case when tg_argv[1] = '' then 'null::text' else format('r.%I::text', tg_argv[1]) end,
    case when v_consent then $s$jsonb_build_object('purpose', r.purpose, 'policy_version', r.policy_version, 'source', r.source)$s$
         else $s$'{}'::jsonb$s$ end,
    case when v_distributed then format('jsonb_populate_recordset(null::%s, $8)', tg_relid::regclass) else 'new_rows' end)
  using tg_argv[0], v_actor, v_ip, v_user_agent, v_actor_salt, v_actor_digest, v_authentication, v_new_rows;
  return null;
end;
$function$;

comment on function compliance_private.tg__audit_inserted_rows() is
  'AFTER INSERT statement trigger (transition table new_rows) on every personal table: one audit row per inserted row, with the actor from the request context (consent records: consent.granted or consent.withdrawn with purpose, policy version and source; a privileged request adds how its actor signed in, authentication). Set-based, so a bulk load is audited at the cost of one INSERT … SELECT; the rows of one statement share the actor part''s salt. Same arguments as tg__audit_row_change, which audits updates.';

-- included from fixtures/audit/tg__audit_deleted_rows.sql
-- compliance_private.tg__audit_deleted_rows(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.tg__audit_deleted_rows()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_old_rows jsonb;
begin
  -- once per statement, so an erasure or a retention batch deleting thousands of rows pays
  -- for one check, not one per row
  if compliance_private.in_any_bulk_operation() then
    return null;
  end if;
  -- the deleted rows as JSON first: on a Citus cluster the INSERT into the distributed log is
  -- planned apart from this trigger, where the transition table is not (ordinary deletes are few:
  -- an erasure or a retention batch is audited by its routine instead)
  select jsonb_agg(to_jsonb(o)) into v_old_rows from old_rows o;
  insert into compliance.audit_logs (placement, action, category, resource_type, resource_id, details, user_id,
    actor_id, ip_address, user_agent, subject_part_salt, subject_part_digest, actor_part_salt,
    actor_part_digest, personal_digest)
  select compliance_private.placement_of(y.subject), y.action, 'gdpr', y.resource_type, y.resource_id, '{}', y.subject,
         y.actor, y.ip, y.agent, y.subject_salt, y.subject_digest, y.actor_salt, y.actor_digest,
         sha256(y.subject_digest || y.actor_digest)
    from (select x.*,
                 compliance_private.audit_subject_digest(x.subject_salt, x.subject, null) as subject_digest,
                 compliance_private.audit_actor_digest(x.actor_salt, x.actor, x.ip, x.agent) as actor_digest
            from (select tg_argv[0] || '.' || tg_argv[4] as action, tg_argv[0] as resource_type,
                         o.row ->> nullif(tg_argv[1], '') as resource_id, o.row ->> 'user_id' as subject,
                         uuid_send(gen_random_uuid()) as subject_salt, uuid_send(gen_random_uuid()) as actor_salt,
                         compliance.current_actor() as actor, compliance.current_client_ip() as ip,
                         compliance.current_user_agent() as agent
                    from jsonb_array_elements(v_old_rows) as o(row)) x) y;
  return null;
end;
$function$;

comment on function compliance_private.tg__audit_deleted_rows() is
  'AFTER DELETE statement trigger (transition table old_rows) on every personal table: one audit row per deleted row, with the actor from the request context. Same arguments as tg__audit_row_change.';

-- included from fixtures/tombstones/tg_user_profiles__refuse_erased.sql
-- compliance_private.tg_user_profiles__refuse_erased(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.tg_user_profiles__refuse_erased()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_peppers bytea[];
  v_subject text;
  -- the new ids read once: on a Citus cluster a query that also reads a distributed or reference
  -- table is planned apart from this trigger, where the transition table is not
  v_subjects text[] := array(select n.user_id from new_rows n order by n.user_id);
begin
  -- lock first, then look: a running erasure of one of these ids finishes before the check,
  -- whose fresh snapshot then sees its tombstone
  if cardinality(v_subjects) > 64 then
    perform compliance_private.lock_all_subjects();
  else
    foreach v_subject in array v_subjects loop
      perform compliance_private.lock_subject(v_subject);
    end loop;
  end if;
  if not exists (select from compliance_private.erased_subjects) then
    return null;
  end if;
  v_peppers := compliance_private.session_peppers();
  -- a join, so each new id is digested once (a hash join on the digest)
  if cardinality(v_peppers) <= 2 then
    select n.user_id into v_subject from unnest(v_subjects) as n(user_id)
      join compliance_private.erased_subjects e on e.subject_digest = compliance_private.subject_digest_with(v_peppers, n.user_id)
     limit 1;
  else
    select n.user_id into v_subject from unnest(v_subjects) as n(user_id)
      join compliance_private.erased_subjects e on e.subject_digest = compliance_private.subject_digest(n.user_id)
     limit 1;
  end if;
  if found then
    perform compliance_private.refuse_erased(v_subject);
  end if;
  return null;
end;
$function$;

comment on function compliance_private.tg_user_profiles__refuse_erased() is
  'AFTER INSERT statement trigger on user_profiles (transition table new_rows): no profile can be created for an erased user id (ERASD), even concurrently with its erasure. It locks each new subject (lock_subject), or every subject at once for more than 64, then checks all new ids against the tombstones in one query, so a bulk load of a million profiles works.';

-- included from fixtures/processing/restrict_processing.sql
-- compliance.restrict_processing(user_id text, reason text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.restrict_processing(user_id text, reason text)
 RETURNS compliance.dsr_requests
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_request compliance.dsr_requests;
begin
  if nullif(trim(reason), '') is null or length(reason) > 2000 then
    perform compliance_private.raise_error('BADRG', 'say why processing is restricted (1 to 2000 characters): the subject contests accuracy, objected, or needs the data kept (Art. 18(1))');
  end if;
  perform compliance_private.require_subject(user_id);
  perform compliance_private.lock_subject(user_id);
  insert into compliance.dsr_requests (user_id, placement, kind, notes, status, handled_by)
  values (restrict_processing.user_id, compliance_private.placement_of(restrict_processing.user_id), 'restriction', trim(reason), 'in_progress', compliance.current_actor())
  returning * into v_request;
  return compliance_private.complete_restriction(v_request);
end;
$function$;

comment on function compliance.restrict_processing(user_id text, reason text) is
  'DPO: restricts all processing of the subject now (GDPR Art. 18): processing_permitted is false and the subject leaves every permitted_subjects list in this transaction, and every system that receives restrictions is told (compliance.propagation_tasks). Registers the request, which completes when every system confirmed. Lift it with compliance.lift_processing_limit, after telling the subject (Art. 18(3)). Audited (processing.restricted). Errors: BADRG without a reason, UNKSJ, ERASD.';

-- included from fixtures/processing/propagate_request.sql
-- compliance_private.propagate_request(request_id bigint, user_id text, kind text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.propagate_request(request_id bigint, user_id text, kind text)
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_systems text[];
  v_asked text[];
begin
  -- pgcomply does not know which of the subject's records each system holds, so every system
  -- that receives this kind of request is asked; one that holds nothing says so. A system asked
  -- already and not done yet is not asked again for the same kind.
  -- the systems asked already, first: on a Citus cluster the tasks sit in the subject's shard and
  -- the systems on every node, and Citus takes no sub-select between the two
  select coalesce(array_agg(t.system), '{}') into v_asked
    from compliance.propagation_tasks t
   where t.placement = compliance_private.placement_of(propagate_request.user_id)
     and t.user_id = propagate_request.user_id and t.kind = propagate_request.kind
     and t.state in ('pending', 'awaiting_confirmation', 'failed');
  with created as (
    insert into compliance.propagation_tasks (request_id, system, kind, user_id, placement, due_at, state)
    select propagate_request.request_id, s.system, propagate_request.kind, propagate_request.user_id,
           compliance_private.placement_of(propagate_request.user_id), now() + s.confirm_within,
           case when s.connector = 'manual' then 'awaiting_confirmation' else 'pending' end
      from compliance.processing_systems s
     where s.connector <> 'none' and propagate_request.kind = any (s.request_kinds)
       and not s.system = any (v_asked)
    returning system)
  select coalesce(array_agg(c.system order by c.system), '{}') into v_systems from created c;
  if cardinality(v_systems) = 0 then
    return 0;
  end if;
  update compliance.dsr_requests r set status = 'in_progress', completed_at = null where r.id = propagate_request.request_id;
  -- an erased subject is named nowhere new: the tasks carry the id until each system confirms
  perform compliance_private.append_audit('propagation.requested', 'gdpr', 'dsr_request', request_id::text,
    jsonb_build_object('kind', kind, 'systems', to_jsonb(v_systems)), case when kind <> 'erasure' then user_id end);
  return cardinality(v_systems);
end;
$function$;

comment on function compliance_private.propagate_request(request_id bigint, user_id text, kind text) is
  'Creates, in the request''s transaction, one propagation task per system that receives this kind of request (GDPR Art. 19, 28(3)(e)): the worker delivers webhook and SCIM tasks, a manual system waits for the DPO. The request stays in progress until every task is confirmed (compliance_private.settle_request). Audited (propagation.requested). Returns how many tasks it created.';

-- included from fixtures/processing/object_to_processing.sql
-- compliance.object_to_processing(user_id text, activity text, notes text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.object_to_processing(user_id text, activity text, notes text DEFAULT NULL::text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_marketing boolean;
  v_objectable boolean;
  v_request compliance.dsr_requests;
  v_limit bigint;
begin
  perform compliance_private.require_activity(activity);
  if compliance_private.acting_for_one_subject() and user_id is distinct from compliance.current_subject() then
    perform compliance_private.raise_error('OTHSJ', 'a subject may object only for itself');
  end if;
  perform compliance_private.require_subject(user_id);
  select bool_or(p.direct_marketing), bool_or(p.direct_marketing or p.legal_basis in ('legitimate_interest', 'public_task'))
    into v_marketing, v_objectable
    from compliance.processing_activity_purposes p where p.activity = object_to_processing.activity;
  if not coalesce(v_objectable, false) then
    perform compliance_private.raise_error('PRNOB', format('activity %s rests on no legitimate interest or public task and is no direct marketing: there is nothing to object to', activity),
      'Where it rests on consent, withdraw the consent; where on a contract or a legal obligation, a restriction or an erasure request applies (GDPR Art. 18, 17).');
  end if;
  perform compliance_private.lock_subject(user_id);
  if v_marketing or not compliance_private.acting_for_one_subject() then
    -- direct marketing stops on the objection alone (Art. 21(3)); a DPO records one decided already
    insert into compliance.dsr_requests (user_id, placement, kind, notes, status, completed_at, handled_by, processing_activity)
    values (object_to_processing.user_id, compliance_private.placement_of(object_to_processing.user_id), 'objection', left(object_to_processing.notes, 2000), 'completed', now(),
            compliance_private.handler_for(object_to_processing.user_id), object_to_processing.activity)
    returning * into v_request;
    v_limit := compliance_private.start_processing_limit(user_id, 'objection', activity, v_request.id);
    return jsonb_build_object('request_id', v_request.id, 'in_effect', true, 'limit_id', v_limit);
  end if;
  -- legitimate interest may override (Art. 21(1)): the DPO decides, and completing the request puts it in force
  insert into compliance.dsr_requests (user_id, placement, kind, notes, status, processing_activity)
  values (object_to_processing.user_id, compliance_private.placement_of(object_to_processing.user_id), 'objection', left(object_to_processing.notes, 2000), 'received', object_to_processing.activity)
  returning * into v_request;
  return jsonb_build_object('request_id', v_request.id, 'in_effect', false, 'due_at', v_request.due_at);
end;
$function$;

comment on function compliance.object_to_processing(user_id text, activity text, notes text) is
  'The subject objects to an activity (GDPR Art. 21). To direct marketing it takes effect at once and for good (Art. 21(3)). To legitimate interest or public task it registers an objection request that takes effect when the DPO completes it (compliance.complete_dsr), unless the DPO records it, which takes effect at once. processing_permitted and permitted_subjects change in the same transaction. Returns the request id and whether the objection is in effect. Audited (processing.objected). The app acts for its own subject only. Errors: PRACT, PRNOB nothing to object to (consent: withdraw it), OTHSJ, UNKSJ, ERASD.';

-- included from fixtures/workforce/request_access.sql
-- compliance.request_access(patient text, scope text, purpose text, reason text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.request_access(patient text, scope text, purpose text, reason text)
 RETURNS compliance.access_grants
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_row compliance.access_grants;
begin
  perform compliance_private.require_context_subject();
  perform compliance_private.check_grant_request(patient, scope, purpose, reason, 'assignment');
  insert into compliance.access_grants as g (grantee, user_id, placement, scope, purpose, reason, kind, requested_by)
  values (compliance.current_actor(), patient, compliance_private.placement_of(patient), request_access.scope, request_access.purpose, request_access.reason,
          'assignment', compliance.current_actor())
  returning g.* into v_row;
  perform compliance_private.audit_access_grant('access.requested', v_row);
  return v_row;
end;
$function$;

comment on function compliance.request_access(patient text, scope text, purpose text, reason text) is
  'A workforce member asks for access to a patient''s health records (scope phi.read or phi.write, purpose treatment, payment or operations, a reason). It grants nothing until an approver other than them approves it (approve_access_request). Audited as access.requested. Errors: BADRG, GRRSN, UNKSJ, ERASD.';

-- included from fixtures/workforce/grant_access.sql
-- compliance.grant_access(grantee text, patient text, scope text, purpose text, reason text, days integer): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.grant_access(grantee text, patient text, scope text, purpose text, reason text, days integer DEFAULT NULL::integer)
 RETURNS compliance.access_grants
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_row compliance.access_grants;
begin
  perform compliance_private.require_context_subject();
  if grantee is null or length(grantee) not between 1 and 256 then
    perform compliance_private.raise_error('BADRG', 'name the workforce member (grantee)');
  end if;
  if grantee = compliance.current_actor() then
    perform compliance_private.raise_error('GRSLF', 'an approver cannot grant access to themself',
      'Ask another approver.');
  end if;
  perform compliance_private.check_grant_request(patient, scope, purpose, reason, 'assignment');
  insert into compliance.access_grants as g (grantee, user_id, placement, scope, purpose, reason, kind, requested_by,
    approved_by, approved_at, starts_at, expires_at)
  values (grant_access.grantee, patient, compliance_private.placement_of(patient), grant_access.scope, grant_access.purpose, grant_access.reason, 'assignment',
    compliance.current_actor(), compliance.current_actor(), now(), now(), now() + compliance_private.grant_duration(days))
  returning g.* into v_row;
  perform compliance_private.audit_access_grant('access.granted', v_row);
  return v_row;
end;
$function$;

comment on function compliance.grant_access(grantee text, patient text, scope text, purpose text, reason text, days integer) is
  'An approver gives a workforce member (grantee, never themself: GRSLF) access to a patient''s health records at once, for days (default and maximum from access_grant_settings). Audited as access.granted. Errors: GRSLF, BADRG, GRRSN, UNKSJ, ERASD.';

-- included from fixtures/workforce/break_glass.sql
-- compliance.break_glass(patient text, reason text, scope text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.break_glass(patient text, reason text, scope text DEFAULT 'phi.read'::text)
 RETURNS compliance.access_grants
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_settings compliance.access_grant_settings;
  v_row compliance.access_grants;
begin
  perform compliance_private.require_context_subject();
  perform compliance_private.check_grant_request(patient, scope, 'emergency', reason, 'emergency');
  -- one emergency per workforce member and patient at a time: a second call waits for the
  -- first, then finds it
  perform pg_advisory_xact_lock(hashtextextended('pgcomply.break_glass:' || compliance.current_actor() || ':' || patient, 0));
  select g.* into v_row from compliance.access_grants g
   where g.grantee = compliance.current_actor() and g.user_id = break_glass.patient and g.kind = 'emergency'
     and g.scope = break_glass.scope and g.revoked_at is null and clock_timestamp() < g.expires_at
   order by g.id desc limit 1;
  if found then
    -- the hours never stack
    return v_row;
  end if;
  select * into strict v_settings from compliance.access_grant_settings;
  insert into compliance.access_grants as g (grantee, user_id, placement, scope, purpose, reason, kind, requested_by,
    starts_at, expires_at, review_due_at)
  values (compliance.current_actor(), patient, compliance_private.placement_of(patient), break_glass.scope, 'emergency', break_glass.reason, 'emergency',
    compliance.current_actor(), now(), now() + make_interval(secs => v_settings.emergency_hours * 3600),
    now() + make_interval(hours => v_settings.emergency_review_hours))
  returning g.* into v_row;
  perform compliance_private.audit_access_grant('access.emergency', v_row);
  perform compliance_private.raise_alert('phi.emergency_access',
    jsonb_build_object('grant_id', v_row.id, 'scope', v_row.scope, 'starts_at', v_row.starts_at,
                       'expires_at', v_row.expires_at, 'review_due_at', v_row.review_due_at),
    v_row.user_id, v_row.grantee);
  return v_row;
end;
$function$;

comment on function compliance.break_glass(patient text, reason text, scope text) is
  'Emergency access (HIPAA §164.312(a)(2)(ii) break-the-glass): the acting workforce member gets the patient''s records at once, for purpose emergency, for the configured hours (at most 4). An alert goes out (alert_outbox, in this transaction) and an approver other than them must review it (review_emergency_access) by review_due_at. Called again while one is active, it returns that grant: the hours never stack. Audited as access.emergency. Errors: GRRSN (a reason of at least 20 characters), BADRG, UNKSJ, ERASD.';

-- included from fixtures/subject-rights/record_completed_dsr.sql
-- compliance_private.record_completed_dsr(user_id text, kind text, handled_by text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.record_completed_dsr(user_id text, kind text, handled_by text)
 RETURNS bigint
 LANGUAGE sql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  insert into compliance.dsr_requests (user_id, placement, kind, status, completed_at, handled_by)
    values (user_id, compliance_private.placement_of(user_id), kind, 'completed', now(), handled_by)
  returning id;
$function$;

comment on function compliance_private.record_completed_dsr(user_id text, kind text, handled_by text) is
  'Registers a request answered on the spot (an export or an erasure); handled_by is self-service when the subject served itself.';

-- included from fixtures/subject-rights/register_dsr.sql
-- compliance.register_dsr(user_id text, kind text, notes text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.register_dsr(user_id text, kind text, notes text DEFAULT NULL::text)
 RETURNS compliance.dsr_requests
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_request compliance.dsr_requests;
begin
  perform compliance_private.require_subject(user_id);
  insert into compliance.dsr_requests (user_id, placement, kind, notes, status)
    values (register_dsr.user_id, compliance_private.placement_of(register_dsr.user_id), register_dsr.kind, register_dsr.notes, 'received')
    returning * into v_request;
  return v_request;
end;
$function$;

comment on function compliance.register_dsr(user_id text, kind text, notes text) is
  'Registers a data subject request received now; due_at is one calendar month later. Errors: UNKSJ, ERASD.';

-- included from fixtures/consent/record_consent.sql
-- compliance.record_consent(user_id text, purpose text, granted boolean, policy_version text, source text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.record_consent(user_id text, purpose text, granted boolean, policy_version text, source text DEFAULT 'api'::text)
 RETURNS compliance.consent_records
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_row compliance.consent_records;
begin
  if granted is null then
    perform compliance_private.raise_error('BADRG', 'granted must be true or false');
  end if;
  if not exists (select from compliance.consent_purposes p where p.purpose = record_consent.purpose and p.active) then
    perform compliance_private.raise_error('PURPS',
      format('unknown or inactive consent purpose %s; valid purposes: %s', coalesce(purpose, 'NULL'),
        (select string_agg(p.purpose, ', ' order by p.purpose) from compliance.consent_purposes p where p.active)),
      'A DBA adds purposes to compliance.consent_purposes.');
  end if;
  perform compliance_private.require_subject(user_id);
  -- unnamed: the version the purpose is asked under now, never a placeholder (read first: Citus
  -- takes no sub-select in an INSERT's values)
  if record_consent.policy_version is null then
    select p.policy_version into record_consent.policy_version
      from compliance.consent_purposes p where p.purpose = record_consent.purpose;
  end if;
  insert into compliance.consent_records (user_id, purpose, granted, policy_version, source, ip_address, user_agent)
    values (record_consent.user_id, record_consent.purpose, record_consent.granted, record_consent.policy_version,
            record_consent.source,
            compliance.current_client_ip(), compliance.current_user_agent())
  returning * into v_row;
  return v_row;
end;
$function$;

comment on function compliance.record_consent(user_id text, purpose text, granted boolean, policy_version text, source text) is
  'Records a grant (granted => true) or withdrawal (false) of consent for a purpose, with the privacy notice version (NULL: the version the purpose is asked under now, consent_purposes.policy_version), the source (api, import, dba) and, as evidence, the client IP and user agent of the request context (GDPR Art. 7(1)). Withdrawing is the same call as granting (Art. 7(3)). Audited as consent.granted / consent.withdrawn. Errors: PURPS unknown or inactive purpose, UNKSJ, ERASD.';

-- included from fixtures/subject-rights/is_under_legal_hold.sql
-- compliance.is_under_legal_hold(user_id text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.is_under_legal_hold(user_id text)
 RETURNS boolean
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  -- PL/pgSQL: Citus cannot route an SQL function's parameter to the subject's shard
  return exists (select from compliance.legal_holds h
                  where h.user_id = is_under_legal_hold.user_id and h.released_at is null);
end;
$function$;

comment on function compliance.is_under_legal_hold(user_id text) is
  'Whether the subject has an active legal hold. Readable by every role so retention and erasure can honour holds without reading the hold''s details.';

create type compliance_private.exported_audit_row as (id bigint, occurred_at timestamptz, action text, category text,
  resource_type text, resource_id text, outcome text, failure_reason text, details jsonb, actor_id text, ip_address text,
  user_agent text, personal_details jsonb);
comment on type compliance_private.exported_audit_row is
  'The fields of an audit row in the export document''s audit_trail (compliance_private.subject_document), in their order there.';
-- included from fixtures/subject-rights/subject_document.sql
-- compliance_private.subject_document(user_id text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.subject_document(user_id text)
 RETURNS json
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  -- the records that outlive a subject's rows sit by the placement of the subject's shard on a
  -- Citus cluster ('' on a single node)
  v_placement text := compliance_private.placement_of(subject_document.user_id);
  v_profile json;
  v_preferences jsonb;
  v_consents json;
  v_conversations json;
  v_sessions json;
  v_audit_trail json;
  v_archived_audit_trail json;
  v_breach_notices json;
  v_dsr_requests json;
  v_limits json;
  v_recipients json;
begin
  -- one statement per section, each about this subject alone: on a Citus cluster each then goes
  -- to the subject's node as it is (or, for the rows where the subject acted, to every node), where
  -- one statement correlating them all cannot be planned. json_agg over a row (C row-to-JSON)
  -- rather than jsonb_build_object per row: the export is dominated by per-value formatting
  select row_to_json(x) into v_profile
    from (select p.user_id, p.username, p.email, p.full_name, p.metadata, p.created_at, p.updated_at
            from compliance.user_profiles p where p.user_id = subject_document.user_id) x;
  if v_profile is null then
    return null;
  end if;
  select to_jsonb(pr) - 'user_id' into v_preferences
    from compliance.user_preferences pr where pr.user_id = subject_document.user_id;
  select json_agg(x order by x.purpose, x.recorded_at, x.id) into v_consents
    from (select c.id, c.purpose, c.granted, c.policy_version, c.source, c.recorded_at,
                 host(c.ip_address) as ip_address, c.user_agent
            from compliance.consent_records c where c.user_id = subject_document.user_id) x;
  select json_agg(x order by x.created_at, x.conversation_id) into v_conversations
    from (select cv.conversation_id, cv.title, cv.created_at, cv.last_message_at, cv.archived, cv.metadata,
                 coalesce(m.messages, '[]') as messages
            from compliance.conversations cv
            left join (select m.conversation_id,
                              json_agg((m.id, m.role, m.content, m.created_at)::compliance_private.exported_message
                                       order by m.id) as messages
                         from compliance.messages m
                        where m.user_id = subject_document.user_id
                        group by m.conversation_id) m on m.conversation_id = cv.conversation_id
           where cv.user_id = subject_document.user_id) x;
  select json_agg(x order by x.created_at, x.id) into v_sessions
    from (select s.id, s.created_at, s.last_activity_at, s.ended_at, host(s.ip_address) as ip_address, s.user_agent
            from compliance.sessions s where s.user_id = subject_document.user_id) x;
  -- as a named type: on a Citus cluster the rows come from every node, and an unnamed row
  -- arrives there without its field names
  select json_agg(x.r order by (x.r).occurred_at, (x.r).id) into v_audit_trail
    from (select (a.id, a.occurred_at, a.action, a.category, a.resource_type, a.resource_id, a.outcome,
                  a.failure_reason, a.details, a.actor_id, host(a.ip_address), a.user_agent,
                  a.personal_details)::compliance_private.exported_audit_row as r
            from compliance.audit_logs a
           where a.user_id = subject_document.user_id or a.actor_id = subject_document.user_id) x;
  -- rows whose month went to the cold archive: their personal parts stayed here; the rest of
  -- each row is in the bundle named
  select json_agg(x order by x.occurred_at, x.id) into v_archived_audit_trail
    from (select a.id, a.occurred_at, a.action, a.resource_type, a.outcome, a.actor_id, host(a.ip_address) as ip_address,
                 a.user_agent, a.personal_details, r.bundle_uri as archived_in
            from compliance.audit_archived_parts a join compliance.audit_archives r on r.partition_name = a.partition_name
           where a.user_id = subject_document.user_id or a.actor_id = subject_document.user_id) x;
  select json_agg(x order by x.discovered_at, x.id) into v_breach_notices
    from (select b.id, b.discovered_at, b.description, b.data_categories, b.status, b.notified_individuals_at
            from compliance.breaches b join compliance.breach_subjects bs on bs.breach_id = b.id
           where bs.user_id = subject_document.user_id) x;
  select json_agg(x order by x.id) into v_dsr_requests
    from (select r.id, r.kind, r.status, r.received_at, r.due_at, r.completed_at, r.processing_activity
            from compliance.dsr_requests r
           where r.placement = v_placement and r.user_id = subject_document.user_id) x;
  select json_agg(x order by x.id) into v_limits
    from (select l.id, l.kind, l.activity, l.request_id, l.started_at, l.lifted_at, l.lift_reason
            from compliance.processing_limits l where l.user_id = subject_document.user_id) x;
  select json_agg(x order by x.id) into v_recipients
    from (select t.id, s.name as system, s.kind as system_kind, s.country, t.kind as request, t.request_id, t.state,
                 t.created_at, t.confirmed_at
            from compliance.propagation_tasks t join compliance.processing_systems s on s.system = t.system
           where t.placement = v_placement and t.user_id = subject_document.user_id) x;
  return json_build_object(
    'subject_id', subject_document.user_id,
    'generated_at', now(),
    'profile', v_profile,
    'preferences', v_preferences,
    'consents', coalesce(v_consents, '[]'),
    'conversations', coalesce(v_conversations, '[]'),
    'sessions', coalesce(v_sessions, '[]'),
    'audit_trail', coalesce(v_audit_trail, '[]'),
    'archived_audit_trail', coalesce(v_archived_audit_trail, '[]'),
    'breach_notices', coalesce(v_breach_notices, '[]'),
    'registered_tables', compliance_private.registered_rows_of(subject_document.user_id),
    'dsr_requests', coalesce(v_dsr_requests, '[]'),
    'objections_and_restrictions', coalesce(v_limits, '[]'),
    'recipients_told', coalesce(v_recipients, '[]'));
end;
$function$;

comment on function compliance_private.subject_document(user_id text) is
  'Everything held about one subject as one JSON document (sections: profile, preferences, consents, conversations with messages, sessions, audit_trail, archived_audit_trail: rows of months in the cold archive, with the bundle each is in, breach_notices, registered_tables: your own registered tables by name, dsr_requests, objections_and_restrictions, recipients_told: the systems each request was sent to, GDPR Art. 19). NULL for an unknown subject.';

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
  -- the tombstone, computed here: the pepper is this session's alone, and on a Citus cluster a
  -- statement runs on the subject's node, where the session that runs it has none
  v_digest bytea;
  v_consent record;
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

  v_digest := compliance_private.subject_digest(erase_subject_core.user_id);
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
    -- read, then written one by one: on a Citus cluster the records are on the subject's node and
    -- the proofs on every node, and Citus copies an INSERT … SELECT between them, which
    -- row-level security refuses
    v_count := 0;
    for v_consent in select c.purpose, c.granted, c.policy_version, c.source, c.recorded_at, c.given_at
                       from compliance.consent_records c where c.user_id = erase_subject_core.user_id
                      order by c.recorded_at, c.id loop
      insert into compliance.erased_consent_proofs (subject_digest, purpose, granted, policy_version, source, recorded_at, given_at)
      values (v_digest, v_consent.purpose, v_consent.granted, v_consent.policy_version, v_consent.source, v_consent.recorded_at,
              v_consent.given_at);
      v_count := v_count + 1;
    end loop;
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

  insert into compliance_private.erased_subjects (subject_digest) values (v_digest);
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
