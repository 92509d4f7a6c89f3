--! Previous: sha1:e3c9d9e47d31ae3dafe63e316343e9ee21ce5c3c
--! Hash: sha1:3447a2126f13f1271fad3e43d6362c376e309cde
--! Message: Database-level audit with pgaudit where the server loads it, and the database_audit check

-- Database-level audit with pgaudit: where the server loads pgaudit, setup sets the database's
-- pgaudit.role to compliance_pgaudit, which holds the privileges on every table holding personal
-- data, so a DBA's or superuser's statement on one lands in the server log. pgcomply's own logins
-- are exempted: their statements are in its audit chain. The database_audit check measures it.

-- included from fixtures/database-audit/pgaudit_loaded.sql
-- compliance_private.pgaudit_loaded(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.pgaudit_loaded()
 RETURNS boolean
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select 'pgaudit' = any (string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''), ','));
$function$;

comment on function compliance_private.pgaudit_loaded() is
  'Whether the server loads pgaudit (shared_preload_libraries), which then logs each statement on a table the compliance_pgaudit role holds a privilege on.';

-- included from fixtures/database-audit/grant_database_audit.sql
-- compliance.grant_database_audit(one_table regclass): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.grant_database_audit(one_table regclass DEFAULT NULL::regclass)
 RETURNS integer
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_table regclass;
  v_granted integer := 0;
begin
  -- a table registered later is audited at once where pgaudit runs; elsewhere nothing is granted
  if one_table is not null and not compliance_private.pgaudit_loaded() then
    return 0;
  end if;
  -- pgaudit's object audit logs a statement on a table its audit role holds the privilege on:
  -- every table holding personal data, pgcomply's and your registered ones
  for v_table in select t.relation from compliance_private.personal_data_tables() t
                  join pg_catalog.pg_class c on c.oid = t.relation
                 where c.relowner = 'compliance_owner'::regrole and (one_table is null or t.relation = one_table) loop
    execute format('grant select, insert, update, delete on %s to compliance_pgaudit', v_table);
    v_granted := v_granted + 1;
  end loop;
  return v_granted;
end;
$function$;

comment on function compliance.grant_database_audit(one_table regclass) is
  'Gives pgaudit''s object-audit role (compliance_pgaudit) select, insert, update and delete on every table holding personal data, pgcomply''s and your registered ones, so that with pgaudit loaded and the database''s pgaudit.role set to it, any other role''s statement on them lands in the server log. Setup runs it where pgaudit is loaded; compliance.register_personal_table runs it for the table it registers (one_table: that table alone, and only where pgaudit is loaded). Superuser and owner only. Returns how many tables it granted on.';

-- included from fixtures/registered/register_personal_table.sql
-- compliance.register_personal_table(relation regclass, subject_column text, personal_columns jsonb, erasure text, anonymize jsonb, kept_basis text, retention_period interval, retention_from text, retention_basis text, subject_reads boolean, subject_via regclass, application_roles regrole[]): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.register_personal_table(relation regclass, subject_column text, personal_columns jsonb, erasure text DEFAULT 'delete'::text, anonymize jsonb DEFAULT NULL::jsonb, kept_basis text DEFAULT NULL::text, retention_period interval DEFAULT NULL::interval, retention_from text DEFAULT NULL::text, retention_basis text DEFAULT NULL::text, subject_reads boolean DEFAULT false, subject_via regclass DEFAULT NULL::regclass, application_roles regrole[] DEFAULT '{}'::regrole[])
 RETURNS compliance.personal_tables
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_row compliance.personal_tables;
  v_sql record;
  v_schema text;
  v_writers text;
  v_grantee text;
begin
  -- the registry checks and records the settings as pgcomply's owner; the table itself is
  -- changed here, with the caller's rights, which only its owner has
  -- the arguments given (an anonymize value may be null: that is what the column gets)
  v_row := compliance.record_personal_table(relation, (select jsonb_object_agg(e.key, e.value) from jsonb_each(jsonb_build_object(
    'subject_column', subject_column, 'personal_columns', personal_columns, 'erasure', erasure, 'anonymize', anonymize,
    'kept_basis', kept_basis, 'retention_period', retention_period, 'retention_from', retention_from,
    'retention_basis', retention_basis, 'subject_reads', subject_reads, 'subject_via', subject_via::text,
    'application_roles', to_jsonb(application_roles::text[]))) e where e.value <> 'null'::jsonb));
  v_sql := compliance.personal_table_sql(relation);
  select n.nspname into v_schema from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace where c.oid = relation;

  execute format('alter table %s enable row level security', relation);
  execute format('alter table %s force row level security', relation);
  execute format('drop policy if exists owner_routines on %s', relation);
  execute format('create policy owner_routines on %s as permissive for all to compliance_owner using (true) with check (true)', relation);
  execute format('comment on policy owner_routines on %s is %L', relation,
    'pgcomply''s routines (erasure, export, retention: SECURITY DEFINER, running as its owner) reach every row.');
  execute format('drop policy if exists dpo_every_subject on %s', relation);
  execute format('create policy dpo_every_subject on %s as permissive for select to compliance_dpo using (true)', relation);
  execute format('comment on policy dpo_every_subject on %s is %L', relation, 'The DPO reads every subject''s rows.');
  execute format('drop policy if exists subject_own_rows on %s', relation);
  if v_row.subject_reads then
    execute format('create policy subject_own_rows on %s as permissive for select to compliance_app using (%s)', relation,
      v_sql.own_rows);
    execute format('comment on policy subject_own_rows on %s is %L', relation, 'The API acting for a subject reads only that subject''s rows.');
    execute format('grant select on %s to compliance_app', relation);
  else
    execute format('revoke all on %s from compliance_app', relation);
  end if;
  -- the application that writes the table keeps writing it: the role that owned it and the roles named
  execute format('drop policy if exists application_rows on %s', relation);
  select string_agg(quote_ident(r), ', ') into v_writers
    from (select v_row.owner_before::text as r union select unnest(v_row.application_roles)) x;
  execute format('create policy application_rows on %s as permissive for all to %s using (true) with check (true)', relation, v_writers);
  execute format('comment on policy application_rows on %s is %L', relation,
    'The application that owns the table reaches every row, as before it was registered: its owner and the application_roles given at registration.');

  execute format('grant usage on schema %I to compliance_owner, compliance_dpo', v_schema);
  if v_row.subject_reads then
    execute format('grant usage on schema %I to compliance_app', v_schema);
  end if;
  execute format('grant select, update, delete on %s to compliance_owner', relation);
  execute format('grant select on %s to compliance_dpo', relation);

  execute format('drop trigger if exists _900_pgcomply_audit_insert on %s', relation);
  execute format('drop trigger if exists _901_pgcomply_audit_update on %s', relation);
  execute format('drop trigger if exists _902_pgcomply_audit_delete on %s', relation);
  execute format('create trigger _900_pgcomply_audit_insert after insert on %s referencing new table as new_rows for each statement execute function compliance.tg_personal_table_audit()', relation);
  execute format('create trigger _901_pgcomply_audit_update after update on %s referencing old table as old_rows new table as new_rows for each statement execute function compliance.tg_personal_table_audit()', relation);
  execute format('create trigger _902_pgcomply_audit_delete after delete on %s referencing old table as old_rows for each statement execute function compliance.tg_personal_table_audit()', relation);
  -- pgcomply's owner owns what its routines touch, so nobody else can add code (a trigger, a
  -- policy, a default) that would run with its rights; the former owner keeps reading and writing
  -- rows, but not TRIGGER (code again) or TRUNCATE (rows gone without an audit row)
  execute format('alter table %s owner to compliance_owner', relation);
  execute format('grant select, insert, update, delete, references on %s to %I', relation, v_row.owner_before);
  for v_grantee in select distinct x.grantee::regrole::text from pg_catalog.pg_class c cross join lateral aclexplode(c.relacl) x
                    where c.oid = relation and x.privilege_type in ('TRIGGER', 'TRUNCATE') and x.grantee <> c.relowner and x.grantee <> 0 loop
    execute format('revoke trigger, truncate on %s from %s', relation, v_grantee);
  end loop;
  execute format('revoke trigger, truncate on %s from public', relation);
  -- where pgaudit runs, a DBA's statement on the table is logged as on pgcomply's own
  perform compliance.grant_database_audit(relation);
  return v_row;
end;
$function$;

comment on function compliance.register_personal_table(relation regclass, subject_column text, personal_columns jsonb, erasure text, anonymize jsonb, kept_basis text, retention_period interval, retention_from text, retention_basis text, subject_reads boolean, subject_via regclass, application_roles regrole[]) is
  'Puts one of your own tables under pgcomply''s rules, called by its owner (db/README.md, "Your own tables"). It records the settings (compliance.record_personal_table, audited). It enables and forces row-level security with the policies pgcomply''s tables have: owner_routines, dpo_every_subject, and subject_own_rows when subject_reads. It attaches the audit triggers and hands the table to compliance_owner, so no other role can add code that would run with its rights; the former owner keeps select, insert, update, delete and references (not trigger or truncate), and it and application_roles keep every row through application_rows. Run it as a superuser (or a member of compliance_owner who owns the table). Erasure then deletes the subject''s rows, or anonymizes them (sets the anonymize columns and cuts the subject link, keeping the rest on kept_basis). Export includes them, and retention deletes rows older than retention_period counted from retention_from. subject_column holds the subject id (text, uuid, bigint or integer), or with subject_via, a foreign key to a registered table that holds it. Where pgaudit is loaded, it gives the table to pgaudit''s object audit (compliance.grant_database_audit). Calling it again changes the settings. Errors: PTOWN, BADRG.';

-- included from fixtures/database-audit/check_database_audit.sql
-- compliance_private.check_database_audit(context jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.check_database_audit(context jsonb)
 RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_settings text[];
  v_role text;
  v_uncovered text[];
  v_unexempt text[];
begin
  threshold := jsonb_build_object('pgaudit_role', 'compliance_pgaudit', 'tables_not_audited', '[]'::jsonb, 'pgcomply_logins_audited', '[]'::jsonb);
  evidence := 'select setrole::regrole, setconfig from pg_db_role_setting where setdatabase = (select oid from pg_database where datname = current_database())';
  if not compliance_private.pgaudit_loaded() then
    status := 'not_applicable';
    measured := jsonb_build_object('pgaudit_loaded', false);
    detail := 'pgaudit is not loaded (shared_preload_libraries), as on the embedded PostgreSQL: a DBA''s or superuser''s read of a personal table leaves no trace outside pgcomply''s own audit log (db/README.md, "Database-level audit")';
    return next;
    return;
  end if;
  -- the database's own setting, not this session's: pgcomply's logins are exempted from it
  select s.setconfig into v_settings from pg_catalog.pg_db_role_setting s
   where s.setdatabase = (select d.oid from pg_catalog.pg_database d where d.datname = current_database()) and s.setrole = 0;
  v_role := (select substr(c, length('pgaudit.role=') + 1) from unnest(v_settings) c where c like 'pgaudit.role=%');
  select coalesce(array_agg(t.relation::text order by t.relation::text), '{}') into v_uncovered
    from compliance_private.personal_data_tables() t
   where not pg_catalog.has_table_privilege('compliance_pgaudit', t.relation, 'SELECT');
  -- pgcomply's own statements are in its audit chain; audited again they would put every
  -- request's personal values into the server log
  select coalesce(array_agg(r.rolname order by r.rolname), '{}') into v_unexempt
    from pg_catalog.pg_roles r
   where r.rolname in ('pgcomply_server', 'pgcomply_worker', 'pgcomply_migrator')
     and not exists (select from pg_catalog.pg_db_role_setting s
                      where s.setrole = r.oid and s.setdatabase = (select d.oid from pg_catalog.pg_database d where d.datname = current_database())
                        and 'pgaudit.role=' = any (s.setconfig));
  measured := jsonb_build_object('pgaudit_loaded', true, 'pgaudit_role', v_role, 'tables_not_audited', to_jsonb(v_uncovered),
    'pgcomply_logins_audited', to_jsonb(v_unexempt));
  if v_role is distinct from 'compliance_pgaudit' or cardinality(v_uncovered) > 0 or cardinality(v_unexempt) > 0 then
    status := 'fail';
    detail := concat_ws('; ',
      case when v_role is distinct from 'compliance_pgaudit' then format('the database''s pgaudit.role is %s, not compliance_pgaudit', coalesce(v_role, 'unset')) end,
      case when cardinality(v_uncovered) > 0 then 'no statement on ' || array_to_string(v_uncovered, ', ') || ' is audited' end,
      case when cardinality(v_unexempt) > 0 then 'pgcomply''s own logins are audited too (' || array_to_string(v_unexempt, ', ') || '), putting every request''s values in the server log' end)
      || ': run pgcomply''s setup again (npm run setup-db)';
  else
    status := 'pass';
    detail := 'pgaudit logs every statement by a role other than pgcomply''s own on the tables holding personal data';
  end if;
  return next;
end;
$function$;

comment on function compliance_private.check_database_audit(context jsonb) is
  'Compliance check: with pgaudit loaded, the database''s pgaudit.role is compliance_pgaudit, which holds the privileges on every table holding personal data, and pgcomply''s own logins are exempted (their statements are in the audit chain). Not applicable without pgaudit, saying what that leaves unrecorded.';

-- included from fixtures/checks/run_compliance_checks.sql
-- compliance.run_compliance_checks(trigger text, require_tls boolean, full_verification boolean): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.run_compliance_checks(trigger text DEFAULT 'demand'::text, require_tls boolean DEFAULT false, full_verification boolean DEFAULT false)
 RETURNS SETOF compliance.check_results
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_run compliance.check_runs;
  v_since bigint;
  v_context jsonb;
  v_name text;
  v_result record;
  v_row compliance.check_results;
begin
  if trigger is null or trigger not in ('schedule', 'demand') then
    perform compliance_private.raise_error('BADRG', format('trigger %L is unknown', trigger), 'Use schedule or demand.');
  end if;
  -- findings are counted from where the last run began
  select r.audit_high_water into v_since from compliance.check_runs r order by r.id desc limit 1;
  insert into compliance.check_runs as r (trigger, audit_high_water)
  values (run_compliance_checks.trigger, coalesce((select max(a.id) from compliance.audit_logs a), 0))
  returning r.* into v_run;
  v_context := jsonb_build_object('since_audit_id', coalesce(v_since, 0), 'require_tls', coalesce(require_tls, false),
    'full_verification', coalesce(full_verification, false));
  foreach v_name in array array['audit_chain', 'seal_lag', 'retention_backlog', 'overdue_requests', 'emergency_reviews',
                                'phi_findings', 'breach_deadlines', 'access_review', 'row_level_security', 'privileges', 'password_encryption', 'client_tls',
                                'master_key_age', 'backup_age', 'anchors', 'worker_heartbeat', 'uptime', 'outside_the_database', 'privileged_mfa', 'wal_archive_lag', 'restore_drill', 'data_map', 'processing_record', 'dsr_propagation', 'database_audit', 'siem_lag'] loop
    execute format('select * from compliance_private.check_%s($1)', v_name) into v_result using v_context;
    insert into compliance.check_results as c (run_id, check_name, status, measured, threshold, detail, evidence)
    values (v_run.id, v_name, v_result.status, v_result.measured, v_result.threshold, v_result.detail, v_result.evidence)
    returning c.* into v_row;
    -- one alert per failing check per run, in this transaction
    if v_row.status = 'fail' then
      perform compliance_private.raise_alert('compliance.check_failed',
        jsonb_build_object('run_id', v_run.id, 'check', v_name, 'measured', v_row.measured, 'threshold', v_row.threshold));
    end if;
    return next v_row;
  end loop;
  update compliance.check_runs r
     set finished_at = clock_timestamp(),
         passed = (select count(*) from compliance.check_results c where c.run_id = v_run.id and c.status = 'pass'),
         failed = (select count(*) from compliance.check_results c where c.run_id = v_run.id and c.status = 'fail'),
         not_applicable = (select count(*) from compliance.check_results c where c.run_id = v_run.id and c.status = 'not_applicable')
   where r.id = v_run.id
  returning r.* into v_run;
  perform compliance_private.append_audit('compliance.checks_run', 'soc2', 'check_run', v_run.id::text,
    jsonb_build_object('trigger', v_run.trigger, 'passed', v_run.passed, 'failed', v_run.failed,
      'not_applicable', v_run.not_applicable,
      'failed_checks', (select coalesce(jsonb_agg(c.check_name order by c.check_name), '[]') from compliance.check_results c
                         where c.run_id = v_run.id and c.status = 'fail'),
      -- the results themselves are anchored in the chain by their hash
      'results_sha256', encode(sha256(convert_to((select jsonb_agg(to_jsonb(c) order by c.check_name)::text
                                                  from compliance.check_results c where c.run_id = v_run.id), 'UTF8')), 'hex')));
end;
$function$;

comment on function compliance.run_compliance_checks(trigger text, require_tls boolean, full_verification boolean) is
  'Runs every compliance check (compliance_private.check_*) now, stores a run and its results, raises one compliance.check_failed alert per failing check in the outbox, and audits the run (compliance.checks_run, with the results'' hash). require_tls: whether the deployment requires TLS (REQUIRE_TLS), for the client_tls check; full_verification: verify the whole audit chain rather than from the last checkpoint. Returns the results. The worker runs it daily at 06:00 UTC; a DPO on demand.';

-- included from fixtures/checks/check_privileges.sql
-- compliance_private.check_privileges(context jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.check_privileges(context jsonb)
 RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_added jsonb;
  v_removed jsonb;
  v_logins jsonb;
  v_bypass jsonb;
begin
  select coalesce(jsonb_agg(format('%s: %s to %s', x.privilege, x.object_name, x.grantee) order by x.object_name, x.grantee, x.privilege), '[]')
    into v_added
    from (select * from compliance_private.current_grants() except select * from compliance_private.expected_grants) x
   -- pgaudit's audit role holds what setup gives it on the personal tables (compliance.grant_database_audit);
   -- nobody may be its member (below), so it lets nobody read anything
   where not (x.grantee = 'compliance_pgaudit' and x.privilege in ('SELECT', 'INSERT', 'UPDATE', 'DELETE')
              and to_regclass(x.object_name) in (select t.relation from compliance_private.personal_data_tables() t));
  select coalesce(jsonb_agg(format('%s: %s to %s', x.privilege, x.object_name, x.grantee) order by x.object_name, x.grantee, x.privilege), '[]')
    into v_removed
    from (select * from compliance_private.expected_grants except select * from compliance_private.current_grants()) x;
  -- logins that may act as one of our group roles, other than pgcomply's own three
  select coalesce(jsonb_agg(format('%s in %s', m.rolname, g.rolname) order by m.rolname, g.rolname), '[]') into v_logins
    from pg_catalog.pg_auth_members am
    join pg_catalog.pg_roles g on g.oid = am.roleid
    join pg_catalog.pg_roles m on m.oid = am.member
   where g.rolname in ('compliance_owner', 'compliance_app', 'compliance_dpo', 'compliance_worker', 'compliance_staff', 'compliance_approver',
                       'compliance_receiver', 'compliance_pgaudit')
     and ((m.rolcanlogin and not m.rolsuper) or g.rolname = 'compliance_pgaudit')
     and (m.rolname, g.rolname) not in (('pgcomply_migrator', 'compliance_owner'), ('pgcomply_server', 'compliance_app'),
          ('pgcomply_server', 'compliance_dpo'), ('pgcomply_server', 'compliance_staff'), ('pgcomply_server', 'compliance_approver'),
          ('pgcomply_server', 'compliance_receiver'), ('pgcomply_worker', 'compliance_worker'));
  -- a role that skips row-level security, short of a superuser (who skips everything)
  select coalesce(jsonb_agg(r.rolname order by r.rolname), '[]') into v_bypass
    from pg_catalog.pg_roles r where r.rolbypassrls and not r.rolsuper;
  status := case when v_added = '[]' and v_removed = '[]' and v_logins = '[]' and v_bypass = '[]' then 'pass' else 'fail' end;
  measured := jsonb_build_object('unexpected_grants', v_added, 'missing_grants', v_removed,
    'unexpected_members', v_logins, 'bypassrls_roles', v_bypass);
  threshold := jsonb_build_object('unexpected_grants', '[]'::jsonb, 'missing_grants', '[]'::jsonb, 'unexpected_members', '[]'::jsonb, 'bypassrls_roles', '[]'::jsonb);
  detail := case when status = 'pass' then 'grants are as the migrations left them; no other login acts as a pgcomply role; no role bypasses row-level security'
                 else format('%s unexpected grant(s), %s missing, %s unexpected member(s) of pgcomply roles, %s role(s) with BYPASSRLS',
                             jsonb_array_length(v_added), jsonb_array_length(v_removed), jsonb_array_length(v_logins), jsonb_array_length(v_bypass)) end;
  evidence := 'select * from compliance_private.current_grants() except select * from compliance_private.expected_grants; select rolname from pg_roles where rolbypassrls and not rolsuper';
  return next;
end;
$function$;

comment on function compliance_private.check_privileges(context jsonb) is
  'Compliance check: the grants on pgcomply''s objects equal the set the migrations recorded (expected_grants), besides what setup gives pgaudit''s audit role on the personal tables; no login other than pgcomply_migrator, pgcomply_server and pgcomply_worker may act as a role that reaches personal data or confirms another system''s requests (the auditor role is meant for people), and no role at all as pgaudit''s audit role; no role but a superuser has BYPASSRLS.';

revoke all on function compliance.grant_database_audit(regclass) from public;
revoke all on function compliance_private.pgaudit_loaded() from public;
revoke all on function compliance_private.check_database_audit(jsonb) from public;

select compliance_private.record_expected_grants();
