--! Previous: sha1:e2d7f262526b6b0425948a92d091002ddb3d7149
--! Hash: sha1:a1edd27d37810c4c70b1fdfda7ccd4f4a4adf10f
--! Message: retention

-- Retention as policy data, applied in bounded batches; audit partitions dropped whole.

create table compliance.retention_policies (
  category         text        not null,
  retention_period interval,
  counted_from     text,
  legal_basis      text        not null,
  action           text        not null,
  enabled          boolean     not null default true,
  updated_at       timestamptz not null default now(),
  constraint retention_policies_pkey primary key (category),
  constraint retention_policies_action_known check (action in ('delete', 'drop_partition', 'until_erasure')),
  constraint retention_policies_period_positive check (retention_period is null or retention_period > interval '0'),
  constraint retention_policies_period_when_timed check ((action = 'until_erasure') = (retention_period is null))
);
comment on table compliance.retention_policies is
  'One row per data category (the table name): how long it is kept, counted from which column, why, and what happens then (delete rows in batches, drop whole audit partitions, or keep until erasure). A DBA changes a period with one UPDATE, which is audited (retention.policy_changed).';
comment on column compliance.retention_policies.category is 'The table the policy governs.';
comment on column compliance.retention_policies.retention_period is 'How long rows are kept; NULL for until_erasure.';
comment on column compliance.retention_policies.counted_from is 'The timestamp column the period counts from.';
comment on column compliance.retention_policies.legal_basis is 'Why this period (the regulation that requires or limits it).';
comment on column compliance.retention_policies.action is 'delete (batched row deletion), drop_partition (whole monthly audit partitions) or until_erasure (kept until the subject is erased).';
comment on column compliance.retention_policies.enabled is 'false pauses enforcement of this category.';
comment on column compliance.retention_policies.updated_at is 'When the policy last changed; maintained by trigger.';

insert into compliance.retention_policies (category, retention_period, counted_from, legal_basis, action) values
  ('audit_logs',       interval '7 years',  'occurred_at',      'HIPAA §164.316(b)(2)(i) (six years; seven kept), SOC 2 CC6.6, GDPR Art. 5(2)', 'drop_partition'),
  ('consent_records',  interval '7 years',  'recorded_at',      'GDPR Art. 7(1) proof of consent; the record in force is always kept',          'delete'),
  ('conversations',    interval '90 days',  'last_message_at',  'GDPR Art. 5(1)(e) storage limitation; messages go with their conversation',   'delete'),
  ('sessions',         interval '90 days',  'last_activity_at', 'GDPR Art. 5(1)(e) storage limitation',                                         'delete'),
  ('dsr_requests',     interval '7 years',  'received_at',      'GDPR Art. 5(2) accountability for handled requests',                          'delete'),
  ('user_profiles',    null,                null,               'GDPR Art. 17: kept until the subject is erased',                              'until_erasure'),
  ('user_preferences', null,                null,               'GDPR Art. 17: kept until the subject is erased',                              'until_erasure');

create trigger _100_set_updated_at before update on compliance.retention_policies
  for each row execute function compliance_private.tg__set_updated_at();

create function compliance_private.tg_retention_policies__audit() returns trigger
  language plpgsql
  volatile
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  perform compliance_private.append_audit('retention.policy_changed', 'soc2', 'retention_policy', new.category,
    jsonb_build_object(
      'old', jsonb_build_object('retention_period', old.retention_period, 'action', old.action, 'enabled', old.enabled, 'counted_from', old.counted_from),
      'new', jsonb_build_object('retention_period', new.retention_period, 'action', new.action, 'enabled', new.enabled, 'counted_from', new.counted_from)));
  return null;
end;
$$;
comment on function compliance_private.tg_retention_policies__audit() is
  'AFTER UPDATE on retention_policies: audits every policy change with its old and new values (SOC 2 PI1.4).';
create trigger _900_audit after update on compliance.retention_policies
  for each row execute function compliance_private.tg_retention_policies__audit();

grant select on compliance.retention_policies to compliance_dpo, compliance_worker, compliance_auditor;
grant update (retention_period, legal_basis, enabled) on compliance.retention_policies to compliance_dpo;

------------------------------------------------------------------------------------------
-- What is due
------------------------------------------------------------------------------------------

create function compliance_private.retention_cutoff(category text, as_of timestamptz) returns timestamptz
  language plpgsql
  stable
as $$
declare
  v_policy compliance.retention_policies;
begin
  select * into v_policy from compliance.retention_policies p where p.category = retention_cutoff.category;
  if not found then
    perform compliance_private.raise_error('RETCT',
      format('no retention policy for category %s; known: %s', coalesce(category, 'NULL'),
        (select string_agg(p.category, ', ' order by p.category) from compliance.retention_policies p)));
  end if;
  if v_policy.action = 'until_erasure' then
    return null;
  end if;
  return as_of - v_policy.retention_period;
end;
$$;
comment on function compliance_private.retention_cutoff(text, timestamptz) is
  'Rows counted from before this instant are due under the category''s policy (NULL for until_erasure). Errors: RETCT.';

create function compliance_private.retention_due_ids(category text, cutoff timestamptz, max_rows integer)
  returns table (id text)
  language plpgsql
  stable
as $$
begin
  -- subjects under an active legal hold keep everything
  case category
    when 'conversations' then
      return query select c.conversation_id::text from compliance.conversations c
        where c.last_message_at < cutoff
          and not exists (select from compliance.legal_holds h where h.user_id = c.user_id and h.released_at is null)
        order by c.last_message_at limit max_rows;
    when 'sessions' then
      return query select s.id::text from compliance.sessions s
        where s.last_activity_at < cutoff
          and not exists (select from compliance.legal_holds h where h.user_id = s.user_id and h.released_at is null)
        order by s.last_activity_at limit max_rows;
    when 'consent_records' then
      -- the record in force (latest per subject and purpose) is proof of a current consent: kept
      return query select c.id::text from compliance.consent_records c
        where c.recorded_at < cutoff
          and exists (select from compliance.consent_records n
                       where n.user_id = c.user_id and n.purpose = c.purpose
                         and (n.recorded_at, n.id) > (c.recorded_at, c.id))
          and not exists (select from compliance.legal_holds h where h.user_id = c.user_id and h.released_at is null)
        order by c.recorded_at limit max_rows;
    when 'dsr_requests' then
      return query select r.id::text from compliance.dsr_requests r
        where r.received_at < cutoff and r.completed_at is not null
          and not exists (select from compliance.legal_holds h where h.user_id = r.user_id and h.released_at is null)
        order by r.received_at limit max_rows;
    else
      perform compliance_private.raise_error('RETCT', format('category %s is not deleted row by row', category));
  end case;
end;
$$;
comment on function compliance_private.retention_due_ids(text, timestamptz, integer) is
  'Keys of the rows of a row-deleted category that are due (older than cutoff, not under legal hold), oldest first, at most max_rows.';

create function compliance_private.expired_audit_partitions(cutoff timestamptz)
  returns table (partition_name text, range_end timestamptz)
  language sql
  stable
as $$
  select c.relname::text, b.range_end
    from pg_inherits i
    join pg_class c on c.oid = i.inhrelid
    cross join lateral (
      select (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz as range_end
    ) b
   where i.inhparent = 'compliance.audit_logs'::regclass
     and c.relname <> 'audit_logs_default'
     and b.range_end <= cutoff
   order by b.range_end;
$$;
comment on function compliance_private.expired_audit_partitions(timestamptz) is
  'Monthly audit partitions whose whole range ends on or before cutoff.';

create view compliance.retention_due with (security_invoker = false) as
  select p.category, p.action, p.retention_period, p.counted_from, c.cutoff,
         case p.action
           when 'delete' then (select count(*) from compliance_private.retention_due_ids(p.category, c.cutoff, 2147483647))
           when 'drop_partition' then (select count(*) from compliance_private.expired_audit_partitions(c.cutoff))
         end as due_now,
         case p.action when 'delete' then 'rows' when 'drop_partition' then 'partitions' end as unit
    from compliance.retention_policies p
    cross join lateral (select compliance_private.retention_cutoff(p.category, now()) as cutoff) c
   where p.enabled
   order by p.category;
comment on view compliance.retention_due is
  'What retention would remove now, per category: rows for delete policies (subjects under legal hold excluded), whole monthly partitions for the audit log.';
grant select on compliance.retention_due to compliance_dpo, compliance_worker, compliance_auditor;

------------------------------------------------------------------------------------------
-- Applying it
------------------------------------------------------------------------------------------

create function compliance_private.drop_expired_audit_partitions(cutoff timestamptz, dry_run boolean)
  returns jsonb
  language plpgsql
  volatile
as $$
declare
  v_partition record;
  v_head compliance_private.audit_seal_head;
  v_dropped jsonb := '[]';
  v_unsealed boolean;
  v_rows bigint;
  v_last record;
  v_anchor compliance.audit_seals;
  v_drop_started timestamptz;
begin
  for v_partition in select * from compliance_private.expired_audit_partitions(cutoff) loop
    select * into strict v_head from compliance_private.audit_seal_head for update;
    execute format('select exists (select from compliance.%I a where (a.xact_id, a.id) > ($1, $2))', v_partition.partition_name)
      into v_unsealed using v_head.last_xact_id, v_head.last_row_id;
    if v_unsealed then
      raise warning 'audit partition % holds unsealed rows; not dropped (run compliance.seal_audit_log())', v_partition.partition_name;
      continue;
    end if;
    execute format('select count(*) from compliance.%I', v_partition.partition_name) into v_rows;
    execute format('select a.xact_id, a.id from compliance.%I a order by a.xact_id desc, a.id desc limit 1', v_partition.partition_name)
      into v_last;
    v_anchor := null;
    if v_last.id is not null then
      -- the seal holding the partition's last row: verification restarts after it
      select * into v_anchor from compliance.audit_seals s
       where (s.last_xact_id, s.last_row_id) >= (v_last.xact_id, v_last.id)
       order by s.seal_no limit 1;
    end if;
    v_drop_started := clock_timestamp();
    if not dry_run then
      -- the only step that locks writers out (ACCESS EXCLUSIVE on the parent), and it is brief
      execute format('drop table compliance.%I', v_partition.partition_name);
      if v_anchor.seal_no is not null and v_anchor.seal_no > v_head.anchor_seal_no then
        update compliance_private.audit_seal_head
           set anchor_seal_no = v_anchor.seal_no, anchor_hash = v_anchor.seal_hash;
      end if;
      perform compliance_private.append_audit('audit.partition_dropped', 'system', 'audit_partition',
        v_partition.partition_name,
        jsonb_build_object('rows', v_rows, 'range_end', v_partition.range_end,
          'last_seal_removed', v_anchor.seal_no, 'last_seal_hash', encode(v_anchor.seal_hash, 'hex')));
    end if;
    v_dropped := v_dropped || jsonb_build_object('partition', v_partition.partition_name, 'rows', v_rows,
      'last_seal_removed', v_anchor.seal_no,
      'drop_ms', round((extract(epoch from clock_timestamp() - v_drop_started) * 1000)::numeric, 3));
  end loop;
  return v_dropped;
end;
$$;
comment on function compliance_private.drop_expired_audit_partitions(timestamptz, boolean) is
  'Drops whole audit partitions older than cutoff once every row in them is sealed, moves the verification anchor to the last seal they touched and audits each drop with that seal''s hash.';

create function compliance.apply_retention(
  category text,
  batch_size integer default 1000,
  dry_run boolean default false,
  now timestamptz default now()
) returns jsonb
  language plpgsql
  volatile
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_policy compliance.retention_policies;
  v_cutoff timestamptz;
  v_ids text[];
  v_deleted bigint := 0;
  v_messages bigint := 0;
  v_result jsonb;
begin
  if batch_size not between 1 and 100000 then
    perform compliance_private.raise_error('BADRG', 'batch_size must be between 1 and 100000');
  end if;
  v_cutoff := compliance_private.retention_cutoff(category, apply_retention.now);
  select * into strict v_policy from compliance.retention_policies p where p.category = apply_retention.category;

  if not v_policy.enabled or v_policy.action = 'until_erasure' then
    v_result := jsonb_build_object('category', category, 'dry_run', dry_run, 'skipped',
      case when v_policy.enabled then 'kept until erasure' else 'policy disabled' end, 'deleted', 0);
  elsif v_policy.action = 'drop_partition' then
    v_result := jsonb_build_object('category', category, 'dry_run', dry_run, 'cutoff', v_cutoff,
      'partitions', compliance_private.drop_expired_audit_partitions(v_cutoff, dry_run));
    v_result := v_result || jsonb_build_object('deleted', (select coalesce(sum((p ->> 'rows')::bigint), 0)
                                                          from jsonb_array_elements(v_result -> 'partitions') p));
  else
    if dry_run then
      select count(*) into v_deleted from compliance_private.retention_due_ids(category, v_cutoff, 2147483647);
    else
      perform compliance_private.begin_bulk_operation('retention');
      select array_agg(d.id) into v_ids from compliance_private.retention_due_ids(category, v_cutoff, batch_size) d;
      v_ids := coalesce(v_ids, '{}');
      case category
        when 'conversations' then
          select count(*) into v_messages from compliance.messages m where m.conversation_id = any (v_ids::uuid[]);
          delete from compliance.conversations c where c.conversation_id = any (v_ids::uuid[]);
        when 'sessions' then
          delete from compliance.sessions s where s.id = any (v_ids::uuid[]);
        when 'consent_records' then
          delete from compliance.consent_records c where c.id = any (v_ids::bigint[]);
        when 'dsr_requests' then
          delete from compliance.dsr_requests r where r.id = any (v_ids::bigint[]);
      end case;
      get diagnostics v_deleted = row_count;
      perform compliance_private.end_bulk_operation();
    end if;
    v_result := jsonb_build_object('category', category, 'dry_run', dry_run, 'cutoff', v_cutoff,
      'deleted', v_deleted, 'batch_size', batch_size);
    if category = 'conversations' and not dry_run then
      v_result := v_result || jsonb_build_object('messages_deleted', v_messages);
    end if;
  end if;

  perform compliance_private.append_audit('retention.applied', 'system', 'retention_policy', category, v_result);
  return v_result;
end;
$$;
comment on function compliance.apply_retention(text, integer, boolean, timestamptz) is
  'Applies one category''s retention policy as of now (a parameter, so it can be tested without waiting): deletes at most batch_size due rows (conversations take their messages), or drops the expired audit partitions; subjects under legal hold are skipped. dry_run deletes nothing and reports how many rows are due in total. Each call writes one retention.applied audit row with the counts. Returns {category, dry_run, cutoff, deleted, ...}; call again while deleted = batch_size. Errors: RETCT unknown category, BADRG.';
grant execute on function compliance.apply_retention(text, integer, boolean, timestamptz) to compliance_worker, compliance_dpo;
