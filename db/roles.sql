-- pgcomply role bootstrap. Cluster-global and idempotent: run by `npm run setup-db`,
-- `npm start`, the test provisioning and docker-compose's setup service, always as a
-- superuser (or a role with CREATEROLE). Never part of a migration, because roles belong
-- to the cluster, not to one database.
--
-- Group roles (NOLOGIN) carry the privileges; login roles are granted them.
--   compliance_owner    owns every object; migrations run as it
--   compliance_app      the API server acting for one subject (row-level security applies)
--   compliance_dpo      the data protection officer: any subject, through documented functions
--   compliance_worker   the job runner: retention, sealing, partition maintenance
--   compliance_auditor  reads the audit log and reports, writes nothing
--   compliance_staff    a workforce member (token role staff): reaches a patient's health
--                       records only through the PHI functions, which ask for an access grant
--   compliance_approver approves access grants and reviews emergency access (token role
--                       approver); sees no health record by that role alone
--   compliance_receiver another system confirming a request it was sent, through the signed
--                       callback: the server takes it after checking the signature, and it may
--                       do nothing but record that confirmation
--   compliance_pgaudit  pgaudit's object-audit role (pgaudit.role): it holds the privileges on
--                       the personal tables so that pgaudit logs each statement on them; no one
--                       is granted it and no one logs in as it
-- Login roles:
--   pgcomply_migrator   runs migrations; its sessions start as compliance_owner
--   pgcomply_server     the API server; NOINHERIT, so each request must SET ROLE to
--                       compliance_app, compliance_dpo, compliance_staff,
--                       compliance_approver, compliance_auditor or compliance_receiver and
--                       holds nothing in between
--   pgcomply_worker     the job runner
-- The password of the login roles comes from the session setting pgcomply.login_password.
do $setup$
declare
  v_password text := nullif(current_setting('pgcomply.login_password', true), '');
  v_role text;
begin
  foreach v_role in array array['compliance_owner', 'compliance_app', 'compliance_dpo',
                                'compliance_worker', 'compliance_auditor', 'compliance_staff',
                                'compliance_approver', 'compliance_receiver', 'compliance_pgaudit'] loop
    if not exists (select from pg_catalog.pg_roles where rolname = v_role) then
      execute format('create role %I nologin', v_role);
    end if;
  end loop;

  if not exists (select from pg_catalog.pg_roles where rolname = 'pgcomply_migrator') then
    create role pgcomply_migrator login;
  end if;
  if not exists (select from pg_catalog.pg_roles where rolname = 'pgcomply_server') then
    create role pgcomply_server login noinherit;
  end if;
  if not exists (select from pg_catalog.pg_roles where rolname = 'pgcomply_worker') then
    create role pgcomply_worker login;
  end if;

  -- the server must never be able to become the owner, and holds nothing until it
  -- chooses the role of the request
  alter role pgcomply_server noinherit nosuperuser nocreatedb nocreaterole nobypassrls;
  alter role pgcomply_worker nosuperuser nocreatedb nocreaterole nobypassrls;
  alter role pgcomply_migrator nosuperuser nocreatedb nocreaterole nobypassrls;
  alter role pgcomply_migrator set role = 'compliance_owner';
  -- a fixed search_path: the default ("$user", public) would search a schema named after the
  -- request role, and every name pgcomply's code uses is qualified anyway
  foreach v_role in array array['pgcomply_migrator', 'pgcomply_server', 'pgcomply_worker'] loop
    execute format('alter role %I set search_path to pg_catalog, pg_temp', v_role);
  end loop;

  grant compliance_owner to pgcomply_migrator;
  -- the client_tls compliance check reads every connection's TLS state (pg_stat_ssl), which
  -- PostgreSQL shows other roles only with this
  grant pg_read_all_stats to compliance_owner;
  -- the database_audit check reads shared_preload_libraries (is pgaudit loaded?), which
  -- PostgreSQL shows other roles only with this
  grant pg_read_all_settings to compliance_owner;
  grant compliance_app to pgcomply_server;
  grant compliance_dpo to pgcomply_server;
  grant compliance_staff to pgcomply_server;
  grant compliance_approver to pgcomply_server;
  grant compliance_auditor to pgcomply_server;
  grant compliance_receiver to pgcomply_server;
  grant compliance_worker to pgcomply_worker;

  if v_password is not null then
    foreach v_role in array array['pgcomply_migrator', 'pgcomply_server', 'pgcomply_worker'] loop
      execute format('alter role %I password %L', v_role, v_password);
    end loop;
  end if;
end
$setup$;
