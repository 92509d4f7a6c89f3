--! Previous: sha1:aa944e035e815dd5bc271c8a4231dbf6ac9f47db
--! Hash: sha1:297bca6dae1b3ea026e4ca7b264bcf3a3eaf6746
--! Message: retention-takes-no-clock

-- Retention takes its clock from the database, never from its caller (issue #12, item 2).
--
-- apply_retention(..., now => '2100-01-01') let the worker or the DPO declare every
-- conversation and every audit partition expired. The function no longer has the parameter;
-- it reads compliance_private.retention_now(), which is now() unless the owner froze the clock
-- in compliance_private.clock_override (tests do; setting it is audited). The audit log's
-- period cannot be shortened below HIPAA's six years either, so the DPO cannot reach the same
-- result through the policy table.

create table compliance_private.clock_override (
  singleton boolean     not null default true,
  frozen_at timestamptz not null,
  set_by    text        not null default session_user,
  set_at    timestamptz not null default now(),
  constraint clock_override_pkey primary key (singleton),
  constraint clock_override_one_row check (singleton)
);
comment on table compliance_private.clock_override is
  'At most one row: the instant retention treats as now, for tests that need data to be old. Only the owner can write it (no client role can reach compliance_private); every change is audited (retention.clock_overridden). Empty in production.';
comment on column compliance_private.clock_override.singleton is 'Always true: the table holds one row at most.';
comment on column compliance_private.clock_override.frozen_at is 'The instant retention uses instead of now().';
comment on column compliance_private.clock_override.set_by is 'The database login that set it.';
comment on column compliance_private.clock_override.set_at is 'When it was set.';

create function compliance_private.tg_clock_override__audit() returns trigger
  language plpgsql
  volatile
  security definer
  set search_path to pg_catalog, pg_temp
as $$
begin
  perform compliance_private.append_audit('retention.clock_overridden', 'security', 'clock', 'retention',
    jsonb_build_object('frozen_at', case when tg_op = 'DELETE' then null else new.frozen_at end,
                       'operation', lower(tg_op)));
  return null;
end;
$$;
comment on function compliance_private.tg_clock_override__audit() is
  'AFTER INSERT, UPDATE or DELETE on clock_override: audits every move of the retention clock.';
create trigger _900_audit after insert or update or delete on compliance_private.clock_override
  for each row execute function compliance_private.tg_clock_override__audit();

create function compliance_private.retention_now() returns timestamptz
  language sql
  stable
  parallel safe
return coalesce((select o.frozen_at from compliance_private.clock_override o), now());
comment on function compliance_private.retention_now() is
  'The instant retention counts from: now(), or the owner''s frozen clock (compliance_private.clock_override) in tests.';

alter table compliance.retention_policies
  add constraint retention_policies_audit_log_floor
    check (category <> 'audit_logs' or retention_period >= interval '6 years');
comment on constraint retention_policies_audit_log_floor on compliance.retention_policies is
  'HIPAA §164.316(b)(2)(i): the audit log is kept at least six years, so no policy change can make current audit partitions expire.';

create or replace view compliance.retention_due with (security_invoker = false) as
  select p.category, p.action, p.retention_period, p.counted_from, c.cutoff,
         case p.action
           when 'delete' then (select count(*) from compliance_private.retention_due_ids(p.category, c.cutoff, 2147483647))
           when 'drop_partition' then (select count(*) from compliance_private.expired_audit_partitions(c.cutoff))
         end as due_now,
         case p.action when 'delete' then 'rows' when 'drop_partition' then 'partitions' end as unit
    from compliance.retention_policies p
    cross join lateral (select compliance_private.retention_cutoff(p.category, compliance_private.retention_now()) as cutoff) c
   where p.enabled
   order by p.category;

drop function compliance.apply_retention(text, integer, boolean, timestamptz);

create function compliance.apply_retention(
  category text,
  batch_size integer default 1000,
  dry_run boolean default false
) returns jsonb
  language plpgsql
  volatile
  security definer
  set search_path to pg_catalog, pg_temp
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
  v_cutoff := compliance_private.retention_cutoff(category, compliance_private.retention_now());
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
comment on function compliance.apply_retention(text, integer, boolean) is
  'Applies one category''s retention policy as of compliance_private.retention_now() (the database clock; only the owner can move it, for tests): deletes at most batch_size due rows (conversations take their messages), or drops the expired audit partitions; subjects under legal hold are skipped. dry_run deletes nothing and reports how many rows are due in total. Each call writes one retention.applied audit row with the counts. Returns {category, dry_run, cutoff, deleted, ...}; call again while deleted = batch_size. Errors: RETCT unknown category, BADRG.';
grant execute on function compliance.apply_retention(text, integer, boolean) to compliance_worker, compliance_dpo;
