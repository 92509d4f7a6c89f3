--! Previous: sha1:001af4e720e37c524a3ba2e456ef17ccfaf0ceea
--! Hash: sha1:cdcf768bd9f36bb38564f13a586967ad8a135c56
--! Message: One list of the checks a health record read can fail; default ACLs read as what they grant

-- One list of the checks a health record read can fail, for both reports of such a failure; the
-- privileges check reads a default ACL as the privileges it grants, so a restored copy of a function
-- granted to PUBLIC is not a missing grant.

-- included from fixtures/health/require_known_failed_check.sql
-- compliance_private.require_known_failed_check(failed_check text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.require_known_failed_check(failed_check text)
 RETURNS void
 LANGUAGE plpgsql
 IMMUTABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  if failed_check is null or failed_check not in ('integrity_code', 'decryption', 'key_unwrap', 'version') then
    perform compliance_private.raise_error('BADRG', format('failed_check %L is unknown', failed_check),
      'Use integrity_code, decryption, key_unwrap or version.');
  end if;
end;
$function$;

comment on function compliance_private.require_known_failed_check(failed_check text) is
  'The checks the server runs on a health record it reads, as a phi.integrity_failure row names them: integrity_code, decryption, key_unwrap, version. BADRG for any other.';

-- included from fixtures/health/report_phi_integrity_failure.sql
-- compliance.report_phi_integrity_failure(record_id uuid, purpose text, failed_check text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.report_phi_integrity_failure(record_id uuid, purpose text, failed_check text)
 RETURNS bigint
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_patient text;
  v_row_id bigint;
begin
  perform compliance_private.require_known_failed_check(failed_check);
  select h.user_id into v_patient from compliance.health_records h where h.id = record_id;
  if not found then
    perform compliance_private.raise_error('PHINF', 'no health record with that id', 'Check the record id.');
  end if;
  if compliance_private.phi_check(v_patient, purpose, 'read', record_id) is not null then
    return null;
  end if;
  v_row_id := compliance_private.log_phi_access('phi.integrity_failure', v_patient, purpose, 'read', array[record_id],
    'failure', failed_check);
  return v_row_id;
end;
$function$;

comment on function compliance.report_phi_integrity_failure(record_id uuid, purpose text, failed_check text) is
  'Records that a health record the caller read failed a check in the server (failed_check: integrity_code, decryption, key_unwrap, or version: not the newest version the audit chain records): a phi.integrity_failure audit row about the patient, so a tampered or misplaced record is on the record and in the daily review. Returns the audit row id (NULL when the caller may not read the record: a phi.denied row instead). Errors: PHINF, BADRG.';

-- included from fixtures/standby/report_standby_integrity_failure.sql
-- compliance.report_standby_integrity_failure(ticket uuid, record_id uuid, failed_check text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.report_standby_integrity_failure(ticket uuid, record_id uuid, failed_check text)
 RETURNS bigint
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_patient text;
begin
  perform compliance_private.require_known_failed_check(failed_check);
  -- only a record the lease let the standby read; the lease may have expired since
  select h.user_id into v_patient
    from compliance_private.standby_read_leases l
    join compliance.health_records h on h.id = report_standby_integrity_failure.record_id and h.id = any (l.record_ids)
   where l.ticket = report_standby_integrity_failure.ticket;
  if not found then
    perform compliance_private.raise_error('RDLSE', 'no export under this ticket read that record');
  end if;
  return compliance_private.log_phi_access('phi.integrity_failure', v_patient, 'patient_request', 'read', array[record_id],
    'failure', failed_check);
end;
$function$;

comment on function compliance.report_standby_integrity_failure(ticket uuid, record_id uuid, failed_check text) is
  'DPO, on the primary: a health record read on a standby under the ticket failed a check in the server (as report_phi_integrity_failure): a phi.integrity_failure audit row about the patient. Errors: BADRG, RDLSE (the record was not in that export).';

-- included from fixtures/checks/current_grants.sql
-- compliance_private.current_grants(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.current_grants()
 RETURNS TABLE(object_name text, grantee text, privilege text)
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  -- every privilege granted on our schemas, relations (with their columns) and functions, by
  -- anyone to anyone other than the owner. A NULL ACL is the built-in default, which pg_restore
  -- leaves where the original's ACL equalled it (a function granted to PUBLIC): read as what it means
  with objects as (
    select n.nspname::text as name, coalesce(n.nspacl, acldefault('n', n.nspowner)) as acl, n.nspowner as owner
      from pg_catalog.pg_namespace n where n.nspname in ('compliance', 'compliance_private')
    union all
    select format('%I.%I', n.nspname, c.relname), coalesce(c.relacl, acldefault((case when c.relkind = 'S' then 's' else 'r' end)::"char", c.relowner)), c.relowner
      from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     where n.nspname in ('compliance', 'compliance_private') and c.relkind in ('r', 'p', 'v', 'm', 'S') and not c.relispartition
    union all
    select format('%I.%I(%I)', n.nspname, c.relname, a.attname), a.attacl, c.relowner
      from pg_catalog.pg_attribute a join pg_catalog.pg_class c on c.oid = a.attrelid
      join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     where n.nspname in ('compliance', 'compliance_private') and a.attacl is not null and not c.relispartition
    union all
    select p.oid::regprocedure::text, coalesce(p.proacl, acldefault('f', p.proowner)), p.proowner
      from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
     where n.nspname in ('compliance', 'compliance_private')
       and not exists (select from pg_catalog.pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
  )
  select o.name, case when x.grantee = 0 then 'PUBLIC' else pg_catalog.pg_get_userbyid(x.grantee)::text end, x.privilege_type::text
    from objects o cross join lateral aclexplode(o.acl) x
   where o.acl is not null and x.grantee <> o.owner;
$function$;

comment on function compliance_private.current_grants() is
  'Every privilege on pgcomply''s schemas, tables, views, sequences, columns and functions held by a role other than the owner, as (object, grantee, privilege), a default ACL read as the privileges it grants: what the privileges check compares with expected_grants.';

revoke all on function compliance_private.require_known_failed_check(text) from public;

select compliance_private.record_expected_grants();
