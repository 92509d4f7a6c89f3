--! Previous: sha1:9d3f6db5ec7aabb09cc7b3b3f6e898513c0d3fc9
--! Hash: sha1:ff8b51930a48a135158566e5be33e1bfd2ce354c
--! Message: The personal parts of archived audit rows sit beside the audit rows they came from, in their placement; an erasure looks for a subject's audit rows and archived parts in every placement; a Citus cluster set up over a database in use moves its records to their subjects' placements and its tombstones into every placement

-- On a Citus cluster the archived parts were a reference table: personal data copied to every
-- node, and an erasure that changed it wrote to every node. They now sit in the placement of the
-- audit row they came from, co-located with it. Made anew, since Citus passes a change of a
-- distributed table's columns on to the nodes as the migration's whole text, which it refuses.
create temporary table archived_parts_kept on commit drop as select * from compliance.audit_archived_parts;
drop table compliance.audit_archived_parts;
create table compliance.audit_archived_parts (
  placement text not null default '',
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
  constraint audit_archived_parts_pkey primary key (placement, id)
);
create index audit_archived_parts_actor_id_idx on compliance.audit_archived_parts (actor_id) where actor_id is not null;
create index audit_archived_parts_partition_idx on compliance.audit_archived_parts (partition_name);
create index audit_archived_parts_user_id_idx on compliance.audit_archived_parts (user_id) where user_id is not null;
alter table compliance.audit_archived_parts enable row level security;
alter table compliance.audit_archived_parts force row level security;
-- included from fixtures/archive/audit_archived_parts.owner_routines.sql
-- policy owner_routines on compliance.audit_archived_parts: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance.audit_archived_parts;
create policy owner_routines on compliance.audit_archived_parts as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance.audit_archived_parts is 'Only retention''s drop (which moves the parts here), erasure (which redacts them) and the export (which reads them) reach the rows, all SECURITY DEFINER routines running as the owner. No login role reads or writes the table.';

comment on table compliance.audit_archived_parts is 'The personal parts of audit rows whose month retention dropped after archiving it: the subject''s and the actor''s, with their salts and digests, and enough of the row (time, action, outcome) for the subject''s export. The bundle holds the rest and only the digests, so erasure, which redacts here, reaches every copy of a person''s data. Personal data.';
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
comment on column compliance.audit_archived_parts.placement is
  'The placement of the audit row the parts came from ('''' on a single node): on a Citus cluster they sit in that row''s shard, on the node of its subject (or, for a system event, its actor).';
-- parts archived on a cluster before this migration go to their subject's placement (or their
-- actor's); on a single node that is ''
insert into compliance.audit_archived_parts
select compliance_private.placement_of(coalesce(k.user_id, k.actor_id)), k.id, k.occurred_at, k.partition_name, k.action, k.resource_type, k.outcome,
       k.user_id, k.actor_id, k.ip_address, k.user_agent, k.personal_details, k.personal_salt, k.subject_part_salt, k.actor_part_salt,
       k.personal_digest, k.subject_part_digest, k.actor_part_digest, k.redacted_at
  from archived_parts_kept k;

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
  v_rows_per_chain jsonb;
  v_unsealed_chain text;
  v_behind_chain text;
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
    -- the month's rows per chain, in one read: each chain's drop record names its own
    execute format('select coalesce(jsonb_object_agg(c.placement, c.n), ''{}''), coalesce(sum(c.n), 0)
                      from (select a.placement, count(*) as n from %s a group by a.placement) c', v_relid)
      into v_rows_per_chain, v_rows;
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

    -- a SIEM feed, once started, must have passed the month's rows in every chain: they leave the
    -- database here
    v_behind_chain := null;
    if exists (select 1 from compliance_private.siem_feed) then
      for v_chain in select k from jsonb_object_keys(v_rows_per_chain) k order by 1 loop
        execute format('select max(a.id) from %s a where a.placement = $1', v_relid) into v_last_id using v_chain;
        select s.seal_no, s.row_count into v_last_seal, v_last_seal_rows from compliance.audit_seals s
         where s.placement = v_chain and s.layout = 2 and s.first_row_id <= v_last_id and s.last_row_id >= v_last_id;
        if v_last_seal is not null
           and not exists (select 1 from compliance_private.siem_chain_cursors c
                            where c.placement = v_chain and (c.seal_no, c.seal_position) >= (v_last_seal, v_last_seal_rows)) then
          v_behind_chain := v_chain;
          exit;
        end if;
      end loop;
    end if;
    if v_behind_chain is not null then
      raise warning 'audit partition % holds rows the SIEM feed has not sent yet (chain %); kept until it has', v_partition.partition_name, v_behind_chain;
      if not dry_run then
        perform compliance_private.append_audit('audit.partition_kept', 'system', 'audit_partition', v_partition.partition_name,
          jsonb_build_object('rows', v_rows, 'range_end', v_partition.range_end, 'reason', 'SIEM feed behind', 'chain', v_behind_chain,
            'last_seal', v_last_seal));
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
      v_chain_rows := coalesce((v_rows_per_chain ->> v_chain)::bigint, 0);
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
          insert into compliance.audit_archived_parts (placement, id, occurred_at, partition_name, action, resource_type, outcome,
                 user_id, actor_id, ip_address, user_agent, personal_details, personal_salt, subject_part_salt, actor_part_salt,
                 personal_digest, subject_part_digest, actor_part_digest, redacted_at)
          select a.placement, a.id, a.occurred_at, $1, a.action, a.resource_type, a.outcome,
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
  'Drops whole audit partitions older than cutoff, and archived ones (compliance.audit_archives) older than archive_cutoff whose rows still match their bundle (a month with rows, in any chain, that a started SIEM feed has not sent yet waits), moving an archived month''s personal parts to compliance.audit_archived_parts first, once every row in them is sealed, and then, chain by chain (one on a single node, one per shard on a Citus cluster), removes the seals all of whose rows are gone and audits the drop in that chain (audit.partition_dropped, with the chain''s rows) with the archive bundle and its SHA-256 where there is one, the last seal removed, its hash and end, and the ids of dropped rows that kept seals still list: the records verification accepts for a chain that no longer starts at seal 1.';

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
  v_archived_count bigint;
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
  -- Rows about the subject sit in their placement, those written before a Citus cluster was set
  -- up in the placement ''; where they acted, anywhere: the placements are read first.
  v_redacted := 0;
  v_subject_rows := '[]';
  v_actor_rows := '[]';
  select array_agg(distinct a.placement) into v_acted from compliance.audit_logs a
   where a.user_id = erase_subject_core.user_id or a.actor_id = erase_subject_core.user_id;
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

  -- the same parts of rows whose month is in the cold archive, where they sit beside the audit
  -- rows they came from (read first, as above); a row left with no personal part goes, since the
  -- bundle holds the rest of it and its digests
  v_archived_redacted := 0;
  select array_agg(distinct a.placement) into v_acted from compliance.audit_archived_parts a
   where a.user_id = erase_subject_core.user_id or a.actor_id = erase_subject_core.user_id;
  for v_acted_in in select distinct p from unnest(coalesce(v_acted, '{}')) p loop
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
     where a.placement = v_acted_in and (a.user_id = erase_subject_core.user_id or a.actor_id = erase_subject_core.user_id);
    get diagnostics v_archived_count = row_count;
    v_archived_redacted := v_archived_redacted + v_archived_count;
    delete from compliance.audit_archived_parts a
     where a.placement = v_acted_in and a.redacted_at = now()
       and num_nonnulls(a.user_id, a.actor_id, a.ip_address, a.user_agent, a.personal_details) = 0;
  end loop;

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
  -- before as a reference table goes back to a local table first.
  for v_table in select t.name from unnest(v_by_placement) with ordinality t(name, n)
                  where not exists (select from pg_catalog.pg_dist_partition d
                                     where d.logicalrelid = t.name::regclass and d.partmethod = 'h')
                  order by t.n loop
    if exists (select from pg_catalog.pg_dist_partition d where d.logicalrelid = v_table::regclass) then
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

-- last, and on its own: on a Citus cluster a key to a reference table makes this table one of
-- Citus's, and Citus would pass each later statement on as the migration's whole text, which it
-- refuses (distribute_on_citus places the table by placement)
do $$
begin
  alter table compliance.audit_archived_parts
    add constraint audit_archived_parts_of_archive foreign key (partition_name) references compliance.audit_archives (partition_name);
end;
$$;
