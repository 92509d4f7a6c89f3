--! Previous: sha1:f15a8db206416111b904b072f4cae55601dcda92
--! Hash: sha1:a007e8865ba68c63ae36b26cbf0763b634113ebb
--! Message: The SIEM feed follows every audit chain: a cursor per chain, events that name their chain, and retention that waits for the feed in each chain

-- On a Citus cluster each shard keeps its own audit chain; the feed followed the chain '' alone,
-- so the other chains' rows never reached the SIEM. The one cursor becomes one per chain, and the
-- feed's own state (started, last acknowledged, last error) a row of its own.
create table compliance_private.siem_feed (
  singleton boolean not null default true,
  started_at timestamptz not null default now(),
  acknowledged_at timestamptz,
  last_error text,
  last_error_at timestamptz,
  constraint siem_feed_pkey primary key (singleton),
  constraint siem_feed_one_row check (singleton),
  constraint siem_feed_last_error_length check (length(last_error) <= 1000)
);
comment on table compliance_private.siem_feed is
  'The SIEM feed, once started: one row, made when a worker with SIEM_SYSLOG_URL first asks for events. From then on retention keeps an audit month until the feed has sent its rows. Not personal data.';
comment on column compliance_private.siem_feed.singleton is 'Always true: there is one feed.';
comment on column compliance_private.siem_feed.started_at is 'When the worker first asked for events.';
comment on column compliance_private.siem_feed.acknowledged_at is 'When a cursor last moved.';
comment on column compliance_private.siem_feed.last_error is 'Why the SIEM could not be reached, last time it could not; cleared by the next acknowledgement.';
comment on column compliance_private.siem_feed.last_error_at is 'When that was.';
alter table compliance_private.siem_feed enable row level security;
alter table compliance_private.siem_feed force row level security;
-- included from fixtures/siem/siem_feed.owner_routines.sql
-- policy owner_routines on compliance_private.siem_feed: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance_private.siem_feed;
create policy owner_routines on compliance_private.siem_feed as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance_private.siem_feed is 'Only the feed''s routines (siem_events, acknowledge_siem, record_siem_failure, siem_lag, check_siem_lag) start the feed and record its errors. No application role reaches the table.';

create table compliance_private.siem_chain_cursors (
  placement text not null,
  seal_no bigint not null,
  seal_position integer not null,
  acknowledged_at timestamptz not null default now(),
  constraint siem_chain_cursors_pkey primary key (placement),
  constraint siem_chain_cursors_position_positive check (seal_no >= 0 and seal_position >= 1)
);
comment on table compliance_private.siem_chain_cursors is
  'Where the SIEM feed stands in each audit chain: the last event the SIEM has (a seal and a position in it). A chain without a row has sent nothing yet, and starts at its first seal. Not personal data.';
comment on column compliance_private.siem_chain_cursors.placement is 'The chain: '''' on a single node, a shard''s placement key on a Citus cluster (compliance.audit_chains).';
comment on column compliance_private.siem_chain_cursors.seal_no is 'The seal of the chain''s last acknowledged event.';
comment on column compliance_private.siem_chain_cursors.seal_position is 'Its position in that seal (1 is the seal''s first row).';
comment on column compliance_private.siem_chain_cursors.acknowledged_at is 'When the cursor last moved.';
alter table compliance_private.siem_chain_cursors enable row level security;
alter table compliance_private.siem_chain_cursors force row level security;
-- included from fixtures/siem/siem_chain_cursors.owner_routines.sql
-- policy owner_routines on compliance_private.siem_chain_cursors: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance_private.siem_chain_cursors;
create policy owner_routines on compliance_private.siem_chain_cursors as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance_private.siem_chain_cursors is 'Only the feed''s routines (siem_events, acknowledge_siem, siem_lag) and retention, which keeps a month the feed has not sent, read and move the cursors. No application role reaches the table.';

-- a feed that was running keeps its place, which was in the chain '' (row by row: on a Citus
-- cluster an INSERT … SELECT from a table of Citus's is a COPY, which row-level security refuses)
do $$
declare
  v_cursor record;
begin
  for v_cursor in select c.* from compliance_private.siem_cursor c loop
    insert into compliance_private.siem_feed (started_at, acknowledged_at, last_error, last_error_at)
    values (coalesce(v_cursor.acknowledged_at, now()), v_cursor.acknowledged_at, v_cursor.last_error, v_cursor.last_error_at);
    if v_cursor.seal_position > 0 then
      insert into compliance_private.siem_chain_cursors (placement, seal_no, seal_position, acknowledged_at)
      values ('', v_cursor.seal_no, v_cursor.seal_position, coalesce(v_cursor.acknowledged_at, now()));
    end if;
  end loop;
end;
$$;
drop table compliance_private.siem_cursor;

-- the events name their chain, and an acknowledgement names the chain it moves
drop function compliance.siem_events(integer);
drop function compliance.acknowledge_siem(bigint, integer);
-- included from fixtures/siem/siem_events.sql
-- compliance.siem_events(max_rows integer): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.siem_events(max_rows integer DEFAULT 500)
 RETURNS TABLE(chain text, seal_no bigint, seal_position integer, seal_rows integer, seal_hash text, id bigint, row_hash text, occurred_at timestamp with time zone, action text, category text, outcome text, failure_reason text, resource_type text, resource_id text, details jsonb, actor text)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_chain record;
  v_waiting text[] := '{}';
  v_since timestamptz[] := '{}';
  v_next timestamptz;
  v_left integer := max_rows;
  v_sent integer;
begin
  if max_rows is null or max_rows not between 1 and 10000 then
    perform compliance_private.raise_error('BADRG', 'max_rows must be 1 to 10000');
  end if;
  -- the feed starts at the first seal there is when it is first asked
  if not exists (select 1 from compliance_private.siem_feed) then
    insert into compliance_private.siem_feed (started_at) values (now())
    on conflict on constraint siem_feed_pkey do nothing;
  end if;
  -- each chain (one per shard on a Citus cluster) by the age of its oldest seal the SIEM does not
  -- have, so a quiet chain never waits behind a busy one; one query per chain, each routed to
  -- the chain's shard
  for v_chain in
    select c.placement, coalesce(k.seal_no, 0) as seal_no, coalesce(k.seal_position, 0) as seal_position
      from compliance.audit_chains() c(placement)
      left join compliance_private.siem_chain_cursors k on k.placement = c.placement
  loop
    select s.sealed_at into v_next from compliance.audit_seals s
     where s.placement = v_chain.placement and s.seal_no >= v_chain.seal_no
       and (s.seal_no, s.row_count) > (v_chain.seal_no, v_chain.seal_position)
     order by s.seal_no limit 1;
    if found then
      v_waiting := v_waiting || v_chain.placement;
      v_since := v_since || v_next;
    end if;
  end loop;

  -- sealed rows only, each chain in its order: an event carries its chain and seal, and the order
  -- never changes after the fact (row ids commit out of order; seals do not)
  for v_chain in
    select w.placement, coalesce(k.seal_no, 0) as seal_no, coalesce(k.seal_position, 0) as seal_position
      from unnest(v_waiting, v_since) w(placement, since)
      left join compliance_private.siem_chain_cursors k on k.placement = w.placement
     order by w.since, w.placement
  loop
    return query
      select v_chain.placement, s.seal_no, u.ord::integer, s.row_count, encode(s.seal_hash, 'hex'), a.id,
             encode(substring(s.row_hashes from ((u.ord - 1) * 32 + 1)::integer for 32), 'hex'),
             a.occurred_at, a.action, a.category, a.outcome, a.failure_reason, a.resource_type, a.resource_id, a.details,
             -- who acted on someone else's data (staff, a DPO); never the subject's own id, which
             -- erasure must reach and a SIEM keeps out of its reach
             case when a.actor_id is distinct from a.user_id then a.actor_id end
        from compliance.audit_seals s
        cross join lateral unnest(s.row_ids) with ordinality u(row_id, ord)
        join compliance.audit_logs a on a.placement = s.placement and a.id = u.row_id
       where s.placement = v_chain.placement
         and s.seal_no >= v_chain.seal_no
         and (s.seal_no, u.ord) > (v_chain.seal_no, v_chain.seal_position::bigint)
       order by s.seal_no, u.ord
       limit v_left;
    get diagnostics v_sent = row_count;
    v_left := v_left - v_sent;
    exit when v_left <= 0;
  end loop;
end;
$function$;

comment on function compliance.siem_events(max_rows integer) is
  'The SIEM feed''s next events after its cursors: sealed audit rows (PHI access included), each chain in its order and after its own cursor, the chain whose oldest unsent seal is oldest first. Each event names its chain and carries its row hash, its seal, the seal''s row count and hash, so the SIEM can check it has every row of each seal. An event carries the row''s non-personal part and, where someone acted on another''s data, that actor; never the subject''s id. Worker role only. Errors: BADRG.';

-- included from fixtures/siem/acknowledge_siem.sql
-- compliance.acknowledge_siem(seal_no bigint, seal_position integer, chain text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.acknowledge_siem(seal_no bigint, seal_position integer, chain text DEFAULT ''::text)
 RETURNS void
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  if seal_no is null or seal_position is null or seal_position < 1 or chain is null
     or not exists (select 1 from compliance.audit_seals s
                     where s.placement = acknowledge_siem.chain and s.seal_no = acknowledge_siem.seal_no
                       and s.row_count >= acknowledge_siem.seal_position) then
    perform compliance_private.raise_error('BADRG', 'acknowledge an event the feed sent: its chain, seal_no and seal_position');
  end if;
  if not exists (select 1 from compliance_private.siem_feed) then
    perform compliance_private.raise_error('BADRG', 'the SIEM feed has not started: ask compliance.siem_events first');
  end if;
  -- never backwards: a late acknowledgement of an earlier batch changes nothing
  insert into compliance_private.siem_chain_cursors as c (placement, seal_no, seal_position, acknowledged_at)
  values (acknowledge_siem.chain, acknowledge_siem.seal_no, acknowledge_siem.seal_position, now())
  on conflict on constraint siem_chain_cursors_pkey do update
     set seal_no = excluded.seal_no, seal_position = excluded.seal_position, acknowledged_at = excluded.acknowledged_at
   where (c.seal_no, c.seal_position) < (excluded.seal_no, excluded.seal_position);
  update compliance_private.siem_feed f set acknowledged_at = now(), last_error = null;
end;
$function$;

comment on function compliance.acknowledge_siem(seal_no bigint, seal_position integer, chain text) is
  'The worker moves one chain''s SIEM cursor past an event the SIEM has (the connection stayed open a while after the event was written); the feed resumes that chain after it on any restart. chain is the event''s chain ('''' on a single node). Never moves backwards. Worker role only. Errors: BADRG.';

-- included from fixtures/siem/record_siem_failure.sql
-- compliance.record_siem_failure(error text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.record_siem_failure(error text)
 RETURNS void
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  update compliance_private.siem_feed f set last_error = left(coalesce(error, 'no error given'), 1000), last_error_at = now();
$function$;

comment on function compliance.record_siem_failure(error text) is
  'The worker records why the SIEM could not be reached; siem_lag and the siem_lag check show it. Worker role only.';

-- included from fixtures/siem/siem_lag.sql
-- compliance.siem_lag(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.siem_lag()
 RETURNS TABLE(feeding boolean, lag_seconds numeric, oldest_unsent_at timestamp with time zone, acknowledged_at timestamp with time zone, last_error text, last_error_at timestamp with time zone)
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_feed compliance_private.siem_feed;
  v_chain record;
  v_oldest timestamptz;
  v_last_seal bigint;
begin
  select * into v_feed from compliance_private.siem_feed;
  feeding := found;
  if feeding then
    -- the oldest sealed row the SIEM does not have yet, over every chain: how far behind the feed
    -- is (its next ten seals per chain are enough to find it)
    for v_chain in
      select c.placement, coalesce(k.seal_no, 0) as seal_no, coalesce(k.seal_position, 0) as seal_position
        from compliance.audit_chains() c(placement)
        left join compliance_private.siem_chain_cursors k on k.placement = c.placement
    loop
      select min(n.seal_no) + 10 into v_last_seal from compliance.audit_seals n
       where n.placement = v_chain.placement and n.seal_no >= v_chain.seal_no
         and (n.seal_no, n.row_count::bigint) > (v_chain.seal_no, v_chain.seal_position::bigint);
      continue when v_last_seal is null;
      select min(a.occurred_at) into v_oldest
        from compliance.audit_seals s
        cross join lateral unnest(s.row_ids) with ordinality u(row_id, ord)
        join compliance.audit_logs a on a.placement = s.placement and a.id = u.row_id
       where s.placement = v_chain.placement
         and s.seal_no >= v_chain.seal_no and (s.seal_no, u.ord) > (v_chain.seal_no, v_chain.seal_position::bigint)
         and s.seal_no <= v_last_seal;
      if v_oldest < oldest_unsent_at or oldest_unsent_at is null then
        oldest_unsent_at := v_oldest;
      end if;
    end loop;
    lag_seconds := coalesce(round(extract(epoch from now() - oldest_unsent_at)::numeric, 3), 0);
    acknowledged_at := v_feed.acknowledged_at;
    last_error := v_feed.last_error;
    last_error_at := v_feed.last_error_at;
  end if;
  return next;
end;
$function$;

comment on function compliance.siem_lag() is
  'How far the SIEM feed is behind: the age of the oldest sealed audit row, over every chain, it has not delivered (0 when it has them all), when it last acknowledged, and its last error. feeding is false until a worker with SIEM_SYSLOG_URL has started the feed. /metrics exports it as pgcomply_siem_lag_seconds.';

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
  'Drops whole audit partitions older than cutoff, and archived ones (compliance.audit_archives) older than archive_cutoff whose rows still match their bundle (a month with rows, in any chain, that a started SIEM feed has not sent yet waits), moving an archived month''s personal parts to compliance.audit_archived_parts first, once every row in them is sealed, and then, chain by chain (one on a single node, one per shard on a Citus cluster), removes the seals all of whose rows are gone and audits the drop in that chain (audit.partition_dropped, with the chain''s rows) with the archive bundle and its SHA-256 where there is one, the last seal removed, its hash and end, and the ids of dropped rows that kept seals still list: the records verification accepts for a chain that no longer starts at seal 1.';

revoke all on function compliance.siem_events(integer) from public;
revoke all on function compliance.acknowledge_siem(bigint, integer, text) from public;
grant execute on function compliance.siem_events(integer) to compliance_worker;
grant execute on function compliance.acknowledge_siem(bigint, integer, text) to compliance_worker;

-- the grants are recorded in one statement of rows, which a Citus cluster takes
-- included from fixtures/checks/record_expected_grants.sql
-- compliance_private.record_expected_grants(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.record_expected_grants()
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_count integer;
  v_rows text;
  v_changes jsonb;
begin
  -- what this migration changed, into the audit chain: the grant-change population reads it
  with now_granted as (select distinct g.object_name, g.grantee, g.privilege from compliance_private.current_grants() g),
  changes as (
    select 'added' as change, n.* from now_granted n
     where not exists (select from compliance_private.expected_grants e where (e.object_name, e.grantee, e.privilege) = (n.object_name, n.grantee, n.privilege))
    union all
    select 'removed', e.* from compliance_private.expected_grants e
     where not exists (select from now_granted n where (e.object_name, e.grantee, e.privilege) = (n.object_name, n.grantee, n.privilege)))
  select jsonb_agg(jsonb_build_object('change', c.change, 'object', c.object_name, 'grantee', c.grantee, 'privilege', c.privilege)
                   order by c.object_name, c.grantee, c.privilege, c.change)
    into v_changes from changes c;
  delete from compliance_private.expected_grants;
  -- one statement of rows, not INSERT … SELECT: on a Citus cluster that is a COPY into the
  -- reference table, which row-level security refuses
  select count(*), string_agg(format('(%L, %L, %L)', g.object_name, g.grantee, g.privilege), ', ')
    into v_count, v_rows
    from (select distinct c.object_name, c.grantee, c.privilege from compliance_private.current_grants() c) g;
  if v_count > 0 then
    execute 'insert into compliance_private.expected_grants (object_name, grantee, privilege) values ' || v_rows;
  end if;
  if v_changes is not null then
    perform compliance_private.append_audit('security.grants_recorded', 'security', 'grants', null,
      jsonb_build_object('expected_grants', v_count, 'changes', v_changes));
  end if;
  return v_count;
end;
$function$;

comment on function compliance_private.record_expected_grants() is
  'Records the grants as they are now as the expected set, and each grant added or removed since the last time in one security.grants_recorded audit row (the role_memberships evidence population lists them). The last statement of every migration that changes a grant (db/CONVENTIONS.md); never called at run time.';

select compliance_private.record_expected_grants();
