--! Previous: sha1:26be6430bd3999522ee9e6a06086aae6ae5e32a7
--! Hash: sha1:30540265a2b0b52a5cd0287d39101555b7cfe2c0
--! Message: grant-changes-audited

-- Grant changes into the audit chain (issue #20: "changes of role membership and grants, from the
-- audit log and the catalog"): record_expected_grants, the last statement of every migration that
-- grants or revokes, now audits what changed; the role_memberships population lists the current
-- memberships and the period's recorded grant changes.

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
  insert into compliance_private.expected_grants (object_name, grantee, privilege)
  select distinct g.object_name, g.grantee, g.privilege from compliance_private.current_grants() g;
  get diagnostics v_count = row_count;
  if v_changes is not null then
    perform compliance_private.append_audit('security.grants_recorded', 'security', 'grants', null,
      jsonb_build_object('expected_grants', v_count, 'changes', v_changes));
  end if;
  return v_count;
end;
$function$;

comment on function compliance_private.record_expected_grants() is
  'Records the grants as they are now as the expected set, and each grant added or removed since the last time in one security.grants_recorded audit row (the role_memberships evidence population lists them). The last statement of every migration that changes a grant (db/CONVENTIONS.md); never called at run time.';

update compliance.evidence_populations
   set description = 'A login and a pgcomply role it may act as, now (from the catalog), and every grant added or removed in the period (from the security.grants_recorded audit rows migrations write).',
       query = 'select ''membership'' as kind, m.rolname::text as grantee, g.rolname::text as role_or_object, null::text as privilege, null::timestamptz as changed_at, m.rolcanlogin as can_login from pg_catalog.pg_auth_members am join pg_catalog.pg_roles g on g.oid = am.roleid join pg_catalog.pg_roles m on m.oid = am.member where g.rolname like ''compliance\_%'' and $1 <= $2 union all select ''grant_'' || (c ->> ''change''), c ->> ''grantee'', c ->> ''object'', c ->> ''privilege'', a.occurred_at, null from compliance.audit_logs a cross join lateral jsonb_array_elements(a.details -> ''changes'') c where a.action = ''security.grants_recorded'' and a.occurred_at >= $1 and a.occurred_at < $2 order by 1, 2, 3, 4'
 where name = 'role_memberships';
