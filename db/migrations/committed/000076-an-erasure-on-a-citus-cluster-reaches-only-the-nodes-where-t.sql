--! Previous: sha1:9b432ee44a2c4b0ba3e22585b590a539b183e2f3
--! Hash: sha1:a7184edf2a0516eeb6ae19a9baccf581eeb75e24
--! Message: An erasure on a Citus cluster reaches only the nodes where the subject has rows: the bulk-operation mark sits in each changed shard, and the erasure looks before it clears who acted

-- the mark of an erasure or a retention batch, one per shard it changes: a trigger on a shard finds
-- it in the co-located shard, on its own node. Rows live only inside their transaction.
-- made anew, not altered: Citus passes some ALTER TABLE forms on to the nodes as the migration's
-- whole text, which it refuses
drop table compliance_private.bulk_operations;
create table compliance_private.bulk_operations (
  placement text not null default '',
  transaction_key text not null,
  kind text not null,
  constraint bulk_operations_pkey primary key (placement, transaction_key, kind),
  constraint bulk_operations_kind_known check (kind in ('erasure', 'retention'))
);
comment on table compliance_private.bulk_operations is
  'Marks the transaction of a running erasure or retention batch (a row lives only inside that transaction), once in each shard it changes. Row audit triggers skip per-row entries there because the routine writes one summary entry, and the append-only trigger permits redaction only inside an erasure. Only the owner can write it, so a client cannot forge the mark.';
comment on column compliance_private.bulk_operations.transaction_key is
  'The transaction as every node of a Citus cluster names it (transaction_key): a trigger on a shard checks it. The transaction id elsewhere.';
comment on column compliance_private.bulk_operations.kind is
  'erasure or retention.';
comment on column compliance_private.bulk_operations.placement is
  'The placement key of the shard the mark covers (placement_of; '''' on a single node): on a Citus cluster the mark sits in that shard, beside the rows whose triggers ask for it.';

drop function if exists compliance_private.in_any_bulk_operation();
drop function if exists compliance_private.in_bulk_operation(text);
drop function if exists compliance_private.begin_bulk_operation(text);
drop function if exists compliance_private.record_completed_dsr(text, text, text);
drop function if exists compliance_private.propagate_request(bigint, text, text);

-- included from fixtures/citus/placement_of_relation.sql
-- compliance_private.placement_of_relation(relation oid): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.placement_of_relation(relation oid)
 RETURNS text
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_name text;
  v_shard bigint;
  v_low integer;
begin
  if not compliance_private.is_distributed() then
    return '';
  end if;
  -- on a node of a Citus cluster a trigger fires on a shard: a table named after its distributed
  -- table and the shard's id, whose hash range names the placement. A name that only looks like
  -- one (a shell table on the coordinator, a reference table's copy) has no range, so no placement.
  select c.relname into v_name from pg_catalog.pg_class c where c.oid = relation;
  v_shard := substring(v_name from '_([0-9]+)$')::bigint;
  if v_shard is null then
    return null;
  end if;
  execute 'select s.shardminvalue::integer
             from pg_catalog.pg_dist_shard s join pg_catalog.pg_class d on d.oid = s.logicalrelid
            where s.shardid = $1 and d.relname || ''_'' || s.shardid = $2
              and d.relnamespace = (select c.relnamespace from pg_catalog.pg_class c where c.oid = $3)'
    into v_low using v_shard, v_name, relation;
  return (select p.placement from compliance_private.shard_placements p where p.hash_min = v_low);
end;
$function$;

comment on function compliance_private.placement_of_relation(relation oid) is
  'The placement key (placement_of) of the shard a trigger fires on, from its name and Citus''s shard metadata on that node: '''' on a single node, NULL for a table that is not a shard of a distributed table. The bulk-operation checks use it to find the erasure''s or retention batch''s mark in the co-located shard, on the same node, without asking another node.';

-- included from fixtures/audit/in_bulk_operation.sql
-- compliance_private.in_bulk_operation(kind text, relation oid): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.in_bulk_operation(kind text, relation oid)
 RETURNS boolean
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_key text;
  v_placement text;
begin
  -- the setting is only a hint that keeps ordinary writes free of a lookup; anyone can set
  -- it, so the owner-only table is the proof
  if current_setting('compliance_private.bulk_operation', true) is distinct from kind then
    return false;
  end if;
  -- the mark in the shard co-located with the one the trigger fires on: on a Citus cluster the
  -- same node, so the lookup asks no other node
  v_placement := compliance_private.placement_of_relation(relation);
  if v_placement is null then
    return false;
  end if;
  v_key := compliance_private.transaction_key();
  return exists (select 1 from compliance_private.bulk_operations b
                  where b.placement = v_placement and b.transaction_key = v_key and b.kind = in_bulk_operation.kind);
end;
$function$;

comment on function compliance_private.in_bulk_operation(kind text, relation oid) is
  'Whether the current transaction is an erasure or retention batch that marked the shard of relation (the table a trigger fires on, tg_relid): the session setting compliance_private.bulk_operation names it and bulk_operations (writable only by the owner) proves it, by the placement of relation''s shard (placement_of_relation) and the transaction''s key (transaction_key), which every node of a Citus cluster knows.';

-- included from fixtures/audit/in_any_bulk_operation.sql
-- compliance_private.in_any_bulk_operation(relation oid): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.in_any_bulk_operation(relation oid)
 RETURNS boolean
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_kind text := current_setting('compliance_private.bulk_operation', true);
begin
  -- nested, not AND-ed: an expression that calls PL/pgSQL costs ~20 µs even unevaluated
  if v_kind in ('erasure', 'retention') then
    return compliance_private.in_bulk_operation(v_kind, relation);
  end if;
  return false;
end;
$function$;

comment on function compliance_private.in_any_bulk_operation(relation oid) is
  'Whether the current transaction is an erasure or a retention batch that marked the shard of relation (a trigger passes tg_relid); without the hint setting it answers without a lookup, so the row audit trigger can ask on every write.';

-- included from fixtures/audit/begin_bulk_operation.sql
-- compliance_private.begin_bulk_operation(kind text, placements text[]): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.begin_bulk_operation(kind text, placements text[] DEFAULT NULL::text[])
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_distributed boolean := compliance_private.is_distributed();
  v_placements text[] := coalesce(placements,
    case when v_distributed then (select array_agg(p.placement order by p.placement) from compliance_private.shard_placements p) end,
    array['']);
  v_first text := v_placements[1];
  v_key text := compliance_private.transaction_key();
  v_placement text;
begin
  if v_distributed and v_key not like 'citus:%' then
    -- no statement of this transaction has reached a worker yet, so the workers know no number
    -- for it: a read in the first placement's shard gives it one
    perform 1 from compliance_private.bulk_operations b where b.placement = v_first limit 1;
    v_key := compliance_private.transaction_key();
    if v_key not like 'citus:%' then
      perform compliance_private.raise_error('CITUS', 'this transaction has no number that the workers know, so a bulk operation cannot be marked on them');
    end if;
  end if;
  -- one mark in each shard the operation changes, so a trigger there finds it on its own node
  foreach v_placement in array v_placements loop
    insert into compliance_private.bulk_operations (placement, transaction_key, kind)
    values (v_placement, v_key, kind) on conflict do nothing;
  end loop;
  -- SET LOCAL: on a Citus cluster it reaches the triggers on the shards
  execute format('set local compliance_private.bulk_operation = %L', kind);
  -- only end_bulk_operation reads this, to take down each mark where it was put
  perform set_config('compliance_private.bulk_operation_placements',
    (select array_agg(distinct m.placement order by m.placement)
       from unnest(coalesce(nullif(current_setting('compliance_private.bulk_operation_placements', true), '')::text[], '{}') || v_placements) m(placement))::text,
    true);
end;
$function$;

comment on function compliance_private.begin_bulk_operation(kind text, placements text[]) is
  'Marks the current transaction as an erasure or retention batch (see bulk_operations) in the shards of the given placement keys (every shard when NULL; the one placement '''' on a single node). Called again, it marks more shards: an erasure marks each shard it finds the subject acted in before it changes rows there.';

-- included from fixtures/audit/end_bulk_operation.sql
-- compliance_private.end_bulk_operation(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.end_bulk_operation()
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_key text := compliance_private.transaction_key();
  v_placement text;
begin
  -- shard by shard, by the distribution column: a delete by the key alone would reach every node
  foreach v_placement in array coalesce(nullif(current_setting('compliance_private.bulk_operation_placements', true), '')::text[], '{}') loop
    delete from compliance_private.bulk_operations b where b.placement = v_placement and b.transaction_key = v_key;
  end loop;
  set local compliance_private.bulk_operation = '';
  perform set_config('compliance_private.bulk_operation_placements', '', true);
end;
$function$;

comment on function compliance_private.end_bulk_operation() is
  'Ends the mark of begin_bulk_operation, in each shard it was put in, before the transaction writes its own summary audit row.';

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
  if compliance_private.in_any_bulk_operation(tg_relid) then
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
  if compliance_private.in_any_bulk_operation(tg_relid) then
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
  if compliance_private.in_any_bulk_operation(tg_relid) then
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

-- included from fixtures/audit/tg_audit_logs__refuse_change.sql
-- compliance_private.tg_audit_logs__refuse_change(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.tg_audit_logs__refuse_change()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  -- the seals, or on a Citus node one of their shards (named after the table and the shard id)
  v_seals boolean := tg_table_schema = 'compliance' and tg_table_name ~ '^audit_seals(_[0-9]+)?$';
begin
  if tg_op = 'UPDATE' and not v_seals
     and compliance_private.in_bulk_operation('erasure', tg_relid) then
    return null;  -- each changed row is then checked by tg_audit_logs__only_redaction
  end if;
  if tg_op = 'DELETE' and v_seals
     and compliance_private.in_bulk_operation('retention', tg_relid) then
    return null;  -- drop_expired_audit_partitions removes the seals of the rows it dropped
  end if;
  perform compliance_private.raise_error('APPND',
    format('%s on %s is refused: the audit log is append-only', tg_op, tg_table_name),
    'Audit rows are never changed or removed. Erasure redacts personal fields through compliance.erase_subject; retention drops audit partitions through compliance.apply_retention.');
  return null;
end;
$function$;

comment on function compliance_private.tg_audit_logs__refuse_change() is
  'BEFORE UPDATE/DELETE/TRUNCATE statement trigger on audit_logs, its partitions and audit_seals: refuses every change (APPND) for every role, the owner included, except an UPDATE of audit rows inside an erasure (tg_audit_logs__only_redaction then checks each row) and a DELETE of seals inside audit retention.';

-- included from fixtures/consent/tg_consent_records__append_only.sql
-- compliance_private.tg_consent_records__append_only(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.tg_consent_records__append_only()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  if tg_op = 'DELETE' and (
       compliance_private.in_any_bulk_operation(tg_relid)
       -- the cascade of a profile deletion: the subject is going away entirely
       or not exists (select from compliance.user_profiles p where p.user_id = old.user_id)) then
    return old;
  end if;
  perform compliance_private.raise_error('APPND',
    format('%s on consent_records is refused: consent history is append-only', tg_op),
    'Record a withdrawal with compliance.record_consent(user_id, purpose, false, policy_version) instead.');
  return null;
end;
$function$;

comment on function compliance_private.tg_consent_records__append_only() is
  'BEFORE UPDATE/DELETE/TRUNCATE on consent_records: the history is append-only for every role, the owner included (APPND). Only erasure, retention and the cascade of a deleted profile remove rows.';

-- included from fixtures/registered/tg_personal_table_audit.sql
-- compliance.tg_personal_table_audit(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.tg_personal_table_audit()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_table compliance.personal_tables;
  v_sql record;
  v_name text;
  v_actor text := compliance.current_actor();
  v_ip inet := compliance.current_client_ip();
  v_user_agent text := compliance.current_user_agent();
  v_actor_salt bytea := uuid_send(gen_random_uuid());
  v_actor_digest bytea;
  v_authentication jsonb := case when compliance_private.current_authentication() is null then '{}'
                                 else jsonb_build_object('authentication', compliance_private.current_authentication()) end;
  v_personal text[];
  v_changed text;
begin
  if compliance_private.in_any_bulk_operation(tg_relid) then
    return null;  -- erasure and retention write one summary row with counts per table
  end if;
  select * into v_table from compliance.personal_tables p where p.relation = tg_relid;
  if not found then
    return null;
  end if;
  v_sql := compliance.personal_table_sql(tg_relid);
  v_name := tg_relid::regclass::text;
  v_actor_digest := compliance_private.audit_actor_digest(v_actor_salt, v_actor, v_ip, v_user_agent);
  select coalesce(array_agg(k), '{}') into v_personal from jsonb_object_keys(v_table.personal_columns) k;
  -- once per statement and set-based, as pgcomply's own tables are audited
  if tg_op in ('INSERT', 'DELETE') then
    execute format($q$
      insert into compliance.audit_logs (action, category, resource_type, resource_id, details, user_id,
        actor_id, ip_address, user_agent, subject_part_salt, subject_part_digest, actor_part_salt,
        actor_part_digest, personal_digest)
      select $8, 'gdpr', $1, x.resource_id, jsonb_build_object('table', $1) || $7, x.subject, $2, $3, $4, x.salt, x.digest, $5, $6,
             sha256(x.digest || $6)
        from (select y.*, compliance_private.audit_subject_digest(y.salt, y.subject, null) as digest
                from (select %s as resource_id, %s as subject, uuid_send(gen_random_uuid()) as salt from %I r) y) x$q$,
      v_sql.key_of_row, v_sql.subject_of_row, case when tg_op = 'INSERT' then 'new_rows' else 'old_rows' end)
    using v_name, v_actor, v_ip, v_user_agent, v_actor_salt, v_actor_digest, v_authentication,
          case when tg_op = 'INSERT' then 'personal_row.created' else 'personal_row.deleted' end;
  else
    -- the changed columns' names in details; the old and new values of the personal ones in the
    -- personal part, which erasure redacts (Art. 16)
    select string_agg(format('case when o.%1$I is distinct from r.%1$I then %1$L end', a.attname), ', ' order by a.attnum)
      into v_changed
      from pg_catalog.pg_attribute a where a.attrelid = tg_relid and a.attnum > 0 and not a.attisdropped;
    execute format($q$
      insert into compliance.audit_logs (action, category, resource_type, resource_id, details, user_id,
        actor_id, ip_address, user_agent, personal_details, subject_part_salt, subject_part_digest, actor_part_salt,
        actor_part_digest, personal_digest)
      select 'personal_row.updated', 'gdpr', $1, x.resource_id,
             jsonb_build_object('table', $1, 'changed_fields', to_jsonb(x.changed)) || $7, x.subject, $2, $3, $4, x.personal,
             x.salt, x.digest, $5, $6, sha256(x.digest || $6)
        from (select y.*, compliance_private.audit_subject_digest(y.salt, y.subject, y.personal) as digest
                from (select z.*, case when z.changed && $8 then jsonb_build_object(
                               'old', (select jsonb_object_agg(e.key, e.value) from jsonb_each(z.old_row) e where e.key = any (z.changed) and e.key = any ($8)),
                               'new', (select jsonb_object_agg(e.key, e.value) from jsonb_each(z.new_row) e where e.key = any (z.changed) and e.key = any ($8))) end as personal
                        from (select %s as resource_id, %s as subject, uuid_send(gen_random_uuid()) as salt,
                                     array_remove(array[%s], null) as changed, to_jsonb(o) as old_row, to_jsonb(r) as new_row
                                from new_rows r join old_rows o on %s) z
                       where cardinality(z.changed) > 0) y) x$q$,
      v_sql.key_of_row, v_sql.subject_of_row, v_changed,
      (select string_agg(format('o.%1$I is not distinct from r.%1$I', k), ' and ') from unnest(v_table.key_columns) k))
    using v_name, v_actor, v_ip, v_user_agent, v_actor_salt, v_actor_digest, v_authentication, v_personal;
  end if;
  return null;
end;
$function$;

comment on function compliance.tg_personal_table_audit() is
  'AFTER INSERT, UPDATE and DELETE statement trigger that compliance.register_personal_table attaches to a registered table: one audit row per row written (personal_row.created, personal_row.updated, personal_row.deleted), naming the table and the row''s primary key, with the subject from the subject column (or through its foreign key) and the actor from the request context. An update lists the changed columns; the old and new values of the personal ones go into the row''s personal part, which erasure redacts. Set-based, like the triggers on pgcomply''s own tables. Callable only as a trigger.';

-- included from fixtures/subject-rights/record_completed_dsr.sql
-- compliance_private.record_completed_dsr(user_id text, kind text, handled_by text, placement text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.record_completed_dsr(user_id text, kind text, handled_by text, placement text DEFAULT NULL::text)
 RETURNS bigint
 LANGUAGE sql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  insert into compliance.dsr_requests (user_id, placement, kind, status, completed_at, handled_by)
    values (user_id, coalesce(placement, compliance_private.placement_of(user_id)), kind, 'completed', now(), handled_by)
  returning id;
$function$;

comment on function compliance_private.record_completed_dsr(user_id text, kind text, handled_by text, placement text) is
  'Registers a request answered on the spot (an export or an erasure); handled_by is self-service when the subject served itself. placement puts the record in a subject''s shard on a Citus cluster when it names no subject (an erasure''s); by default, the shard of user_id.';

-- included from fixtures/processing/propagate_request.sql
-- compliance_private.propagate_request(request_id bigint, user_id text, kind text, placement text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.propagate_request(request_id bigint, user_id text, kind text, placement text DEFAULT NULL::text)
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_systems text[];
  v_asked text[];
  -- a variable, not a call in the statements: Citus routes by a value it can see
  v_placement text := coalesce(placement, compliance_private.placement_of(user_id));
begin
  -- pgcomply does not know which of the subject's records each system holds, so every system
  -- that receives this kind of request is asked; one that holds nothing says so. A system asked
  -- already and not done yet is not asked again for the same kind.
  -- the systems asked already, first: on a Citus cluster the tasks sit in the subject's shard and
  -- the systems on every node, and Citus takes no sub-select between the two
  select coalesce(array_agg(t.system), '{}') into v_asked
    from compliance.propagation_tasks t
   where t.placement = v_placement
     and t.user_id = propagate_request.user_id and t.kind = propagate_request.kind
     and t.state in ('pending', 'awaiting_confirmation', 'failed');
  with created as (
    insert into compliance.propagation_tasks (request_id, system, kind, user_id, placement, due_at, state)
    select propagate_request.request_id, s.system, propagate_request.kind, propagate_request.user_id,
           v_placement, now() + s.confirm_within,
           case when s.connector = 'manual' then 'awaiting_confirmation' else 'pending' end
      from compliance.processing_systems s
     where s.connector <> 'none' and propagate_request.kind = any (s.request_kinds)
       and not s.system = any (v_asked)
    returning system)
  select coalesce(array_agg(c.system order by c.system), '{}') into v_systems from created c;
  if cardinality(v_systems) = 0 then
    return 0;
  end if;
  update compliance.dsr_requests r set status = 'in_progress', completed_at = null
   where r.placement = v_placement and r.id = propagate_request.request_id;
  -- an erased subject is named nowhere new: the tasks carry the id until each system confirms
  perform compliance_private.append_audit('propagation.requested', 'gdpr', 'dsr_request', request_id::text,
    jsonb_build_object('kind', kind, 'systems', to_jsonb(v_systems)), case when kind <> 'erasure' then user_id end,
    placement => v_placement);
  return cardinality(v_systems);
end;
$function$;

comment on function compliance_private.propagate_request(request_id bigint, user_id text, kind text, placement text) is
  'Creates, in the request''s transaction, one propagation task per system that receives this kind of request (GDPR Art. 19, 28(3)(e)): the worker delivers webhook and SCIM tasks, a manual system waits for the DPO. The request stays in progress until every task is confirmed (compliance_private.settle_request). Audited (propagation.requested). Returns how many tasks it created. The tasks, the request''s update and the audit row go in the shard of placement (by default the subject''s): an erasure names its subject''s, since it keeps no id on the request.';

-- included from fixtures/subject-rights/erase_actor_columns.sql
-- compliance_private.erase_actor_columns(relation regclass, actor text, columns text[]): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.erase_actor_columns(relation regclass, actor text, VARIADIC columns text[])
 RETURNS bigint
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_named text := format('$1 in (%s)', (select string_agg(format('t.%I', c), ', ') from unnest(columns) c));
  v_cleared text := (select string_agg(format('%1$I = nullif(t.%1$I, $1)', c), ', ') from unnest(columns) c);
  v_key text;
  v_value text;
  v_found boolean;
  v_count bigint := 0;
  v_changed bigint;
begin
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
  v_placement text;
  v_acted_in text;
  v_acted text[];
  v_rows record;
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
  -- on a Citus cluster everything this erasure writes stays on the subject's node: the tombstone,
  -- the kept consent proofs and its own record go in the subject's shard ('' on a single node)
  v_placement := compliance_private.placement_of(erase_subject_core.user_id);
  perform compliance_private.begin_bulk_operation('erasure', array[v_placement]);

  -- the duty to review a break-glass access outlives the patient's data (HIPAA
  -- §164.308(a)(1)(ii)(D)): an emergency grant not reviewed yet stays, without the patient
  update compliance.access_grants g set user_id = null
   where g.placement = v_placement and g.user_id = erase_subject_core.user_id and g.kind = 'emergency' and g.reviewed_at is null;
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
      insert into compliance.erased_consent_proofs (placement, subject_digest, purpose, granted, policy_version, source, recorded_at, given_at)
      values (v_placement, v_digest, v_consent.purpose, v_consent.granted, v_consent.policy_version, v_consent.source, v_consent.recorded_at,
              v_consent.given_at);
      v_count := v_count + 1;
    end loop;
    v_counts := v_counts || jsonb_build_object('consent_proofs_kept', v_count);
  end if;

  -- your registered tables first: their rows may reference the profile (FKBLK when an
  -- unregistered table's foreign key would block, and nothing is changed)
  v_counts := v_counts || jsonb_build_object('registered_tables', compliance_private.erase_registered_rows(user_id));
  perform compliance_private.erase_actor_columns('compliance.personal_tables', user_id, 'registered_by');
  perform compliance_private.erase_actor_columns('compliance.not_personal_columns', user_id, 'marked_by');

  -- children before the profile so each count is exact
  foreach v_table in array array['health_records', 'access_grants', 'breach_subjects', 'messages', 'conversations', 'consent_records', 'sessions',
                                 'user_preferences', 'legal_holds', 'processing_limits'] loop
    -- access grants sit in the subject's placement (placement_of); the rest by the subject
    execute format('delete from compliance.%I t where t.user_id = $1%s', v_table,
                   case when v_table = 'access_grants' then ' and t.placement = $2' else '' end) using user_id, v_placement;
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
  v_request_id := compliance_private.record_completed_dsr(null, 'erasure', compliance_private.handler_for(user_id), v_placement);
  -- every other system is asked to erase too (Art. 17(2), 19); the tasks keep the id until each
  -- confirms. What older tasks still waited for is superseded, and their answers go with the subject.
  update compliance.propagation_tasks t
     set state = case when t.state in ('pending', 'awaiting_confirmation', 'failed') then 'cancelled' else t.state end,
         confirmation_note = case when t.state in ('pending', 'awaiting_confirmation', 'failed') then 'superseded by the subject''s erasure' else t.confirmation_note end,
         user_id = null, response = null
   where t.placement = v_placement and t.user_id = erase_subject_core.user_id;
  get diagnostics v_count = row_count;
  v_counts := v_counts || jsonb_build_object('propagation_tasks_anonymised', v_count);
  perform compliance_private.erase_actor_columns('compliance.propagation_tasks', user_id, 'confirmed_by');
  v_tasks := compliance_private.propagate_request(v_request_id, user_id, 'erasure', v_placement);
  -- the subject's own requests, in their placement; then those they handled for others
  update compliance.dsr_requests r
     set user_id = null, notes = null, handled_by = nullif(r.handled_by, erase_subject_core.user_id)
   where r.placement = v_placement and r.user_id = erase_subject_core.user_id;
  get diagnostics v_count = row_count;
  v_counts := v_counts || jsonb_build_object('dsr_requests_anonymised',
    v_count + compliance_private.erase_actor_columns('compliance.dsr_requests', user_id, 'handled_by'));

  -- other patients' records keep their content, never who recorded them
  v_counts := v_counts || jsonb_build_object('health_records_anonymised',
    compliance_private.erase_actor_columns('compliance.health_records', user_id, 'recorded_by'));

  -- other patients' grants keep their dates and terms, never who held, asked for or decided them
  v_counts := v_counts || jsonb_build_object('access_grants_anonymised',
    compliance_private.erase_actor_columns('compliance.access_grants', user_id,
      'grantee', 'requested_by', 'approved_by', 'denied_by', 'revoked_by', 'reviewed_by'));
  perform compliance_private.erase_actor_columns('compliance.breaches', user_id, 'opened_by', 'closed_by');
  v_counts := v_counts || jsonb_build_object('alerts_anonymised',
    compliance_private.erase_actor_columns('compliance.alert_outbox', user_id, 'user_id', 'actor_id'));

  -- reviews, packages and reports keep what was decided and produced, never by or about whom
  v_counts := v_counts || jsonb_build_object('access_review_items_anonymised',
    compliance_private.erase_actor_columns('compliance.access_review_items', user_id, 'actor_id', 'granted_by', 'decided_by'));
  perform compliance_private.erase_actor_columns('compliance.access_review_campaigns', user_id, 'opened_by');
  perform compliance_private.erase_actor_columns('compliance.evidence_packages', user_id, 'generated_by');
  perform compliance_private.erase_actor_columns('compliance.reports', user_id, 'generated_by');
  perform compliance_private.erase_actor_columns('compliance.backup_verifications', user_id, 'verified_by');

  -- holds on other subjects keep their dates and reasons, never who placed or released them
  v_counts := v_counts || jsonb_build_object('legal_holds_anonymised',
    compliance_private.erase_actor_columns('compliance.legal_holds', user_id, 'placed_by', 'released_by'));

  -- the subject's part of rows about them, the actor's part of rows where they acted: a DPO who
  -- handled the subject stays on record. Layout-1 rows have one personal part and lose it whole.
  -- Rows about the subject sit in their placement; where they acted, in the placements read first.
  v_redacted := 0;
  v_subject_rows := '[]';
  v_actor_rows := '[]';
  select array_agg(distinct a.placement) into v_acted from compliance.audit_logs a where a.actor_id = erase_subject_core.user_id;
  for v_acted_in in select distinct p from unnest(array[v_placement] || coalesce(v_acted, '{}')) p loop
    perform compliance_private.begin_bulk_operation('erasure', array[v_acted_in]);
    with targets as (
      select a.id, a.occurred_at, a.user_id = erase_subject_core.user_id as subject,
             coalesce(a.actor_id = erase_subject_core.user_id, false) as actor, a.subject_part_digest is null as layout1
        from compliance.audit_logs a
       where a.placement = v_acted_in and (a.user_id = erase_subject_core.user_id or a.actor_id = erase_subject_core.user_id)
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
       where a.placement = v_acted_in and a.id = t.id and a.occurred_at = t.occurred_at
      returning a.id, t.subject, t.actor
    )
    select count(*) as redacted, coalesce(jsonb_agg(r.id order by r.id) filter (where r.subject), '[]') as subject_rows,
           coalesce(jsonb_agg(r.id order by r.id) filter (where r.actor), '[]') as actor_rows
      into v_rows
      from redacted r;
    v_redacted := v_redacted + v_rows.redacted;
    v_subject_rows := v_subject_rows || v_rows.subject_rows;
    v_actor_rows := v_actor_rows || v_rows.actor_rows;
  end loop;

  -- the same parts of rows whose month is in the cold archive; a row left with no personal part
  -- goes, since the bundle holds the rest of it and its digests
  -- (looked for first: on a Citus cluster a change to this reference table reaches every node)
  v_archived_redacted := 0;
  if exists (select 1 from compliance.audit_archived_parts a
              where a.user_id = erase_subject_core.user_id or a.actor_id = erase_subject_core.user_id) then
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
  end if;

  insert into compliance_private.erased_subjects (placement, subject_digest) values (v_placement, v_digest);
  perform compliance_private.end_bulk_operation();

  -- counts, never identity: no subject, and no actor or client when the subject asked
  perform compliance_private.append_audit('subject.erased', 'gdpr', 'dsr_request', v_request_id::text,
    -- the rows it redacted, so verification can tell these redactions from any other
    jsonb_build_object('deleted', v_counts, 'audit_rows_redacted', v_redacted, 'requested_by', requested_by,
                       'redacted_subject_rows', v_subject_rows, 'redacted_actor_rows', v_actor_rows,
                       'archived_audit_rows_redacted', v_archived_redacted),
    null, jsonb_build_object('reason', reason), 'success', null,
    case when requested_by = 'subject' then null else compliance.current_actor() end,
    requested_by <> 'subject', v_placement);

  return jsonb_build_object('erased', true, 'erased_at', now(), 'dsr_request_id', v_request_id,
    'deleted', v_counts, 'audit_rows_redacted', v_redacted,
    'other_systems', (select coalesce(jsonb_agg(jsonb_build_object('system', t.system, 'name', s.name, 'task_id', t.id, 'state', t.state) order by t.system), '[]')
                        from compliance.propagation_tasks t join compliance.processing_systems s on s.system = t.system
                       where t.placement = v_placement and t.request_id = v_request_id));
end;
$function$;

comment on function compliance_private.erase_subject_core(user_id text, reason text, confirm boolean, requested_by text) is
  'The erasure transaction; see compliance.erase_subject. Its statements run on generic plans (plan_cache_mode), without JIT compilation (a generic plan''s row estimates over a million subjects passed jit_above_cost, and compiling took longer than the erasure): a custom plan over every audit partition costs more to make than to run, and made a connection''s first five erasures twice as slow as the rest.';

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
    'compliance_private.erased_subjects', 'compliance.erased_consent_proofs', 'compliance_private.bulk_operations'];
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

  -- a table a later migration made anew to sit in the subjects' placements (the bulk-operation
  -- marks, which live only inside a transaction, so no rows move): its key already holds the
  -- placement. One placed before as a reference table goes back to a local table first.
  for v_table in select t.name from unnest(v_by_placement) t(name)
                  where not exists (select from pg_catalog.pg_dist_partition d
                                     where d.logicalrelid = t.name::regclass and d.partmethod = 'h') loop
    if exists (select from pg_catalog.pg_dist_partition d where d.logicalrelid = v_table::regclass) then
      execute format('select pg_catalog.undistribute_table(%L)', v_table);
    end if;
    execute format('select pg_catalog.create_distributed_table(%L, %L, colocate_with => %L)', v_table, 'placement', 'compliance.user_profiles');
  end loop;

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
