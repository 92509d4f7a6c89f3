--! Previous: sha1:f4ec1f5bff112a2161eea833e348eb2fa88c5e0f
--! Hash: sha1:071ba69dc0ed1443914e1e2a050a930b69ca15c1
--! Message: On a Citus cluster a change to the retention policies or the retention clock is audited once, from the coordinator's copy of the table

-- included from fixtures/citus/on_a_worker.sql
-- compliance_private.on_a_worker(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.on_a_worker()
 RETURNS boolean
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_worker boolean := false;
begin
  if compliance_private.is_distributed() then
    -- by name: the function exists only where Citus is installed
    execute 'select not pg_catalog.citus_is_coordinator()' into v_worker;
  end if;
  return v_worker;
end;
$function$;

comment on function compliance_private.on_a_worker() is
  'Whether this session runs on a Citus worker (false on the coordinator and on a single node). A change to a reference table fires its triggers on every node''s copy; an audit trigger on such a table writes its row from the coordinator''s copy alone, since a worker may not write the distributed audit log from inside its part of the transaction and one change must give one row.';

-- included from fixtures/retention/tg_retention_policies__audit.sql
-- compliance_private.tg_retention_policies__audit(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.tg_retention_policies__audit()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  -- on a Citus cluster this table is copied to every node: the coordinator's copy audits the change
  if compliance_private.on_a_worker() then
    return null;
  end if;
  perform compliance_private.append_audit('retention.policy_changed', 'soc2', 'retention_policy', new.category,
    jsonb_build_object(
      'old', jsonb_build_object('retention_period', old.retention_period, 'action', old.action, 'enabled', old.enabled, 'counted_from', old.counted_from, 'archive_after', old.archive_after),
      'new', jsonb_build_object('retention_period', new.retention_period, 'action', new.action, 'enabled', new.enabled, 'counted_from', new.counted_from, 'archive_after', new.archive_after)));
  return null;
end;
$function$;

comment on function compliance_private.tg_retention_policies__audit() is
  'AFTER UPDATE on retention_policies: audits every policy change with its old and new values (SOC 2 PI1.4).';

-- included from fixtures/retention/tg_clock_override__audit.sql
-- compliance_private.tg_clock_override__audit(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.tg_clock_override__audit()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  -- on a Citus cluster this table is copied to every node: the coordinator's copy audits the change
  if compliance_private.on_a_worker() then
    return null;
  end if;
  perform compliance_private.append_audit('retention.clock_overridden', 'security', 'clock', 'retention',
    jsonb_build_object('frozen_at', case when tg_op = 'DELETE' then null else new.frozen_at end,
                       'operation', lower(tg_op)));
  return null;
end;
$function$;

comment on function compliance_private.tg_clock_override__audit() is
  'AFTER INSERT, UPDATE or DELETE on clock_override: audits every move of the retention clock.';
