--! Previous: sha1:1c62c85da8c36d0b010b889338b31d949c69f3af
--! Hash: sha1:001af4e720e37c524a3ba2e456ef17ccfaf0ceea
--! Message: The data map check finds personal data outside pgcomply's rules

-- The data map: a compliance check that finds personal data outside pgcomply's rules in your
-- tables, by name, foreign key, type and a bounded sample, and the DBA's record of what is not personal.

create table compliance.not_personal_columns (
  relation regclass not null,
  column_name name not null,
  reason text not null,
  marked_by text,
  marked_at timestamptz not null default now(),
  constraint not_personal_columns_pkey primary key (relation, column_name),
  constraint not_personal_columns_reason_given check (length(trim(reason)) between 1 and 1000)
);
comment on table compliance.not_personal_columns is
  'Columns of your tables a DPO or DBA marked as holding no personal data, and why (compliance.mark_not_personal): the data_map check stops naming them. Column * marks a whole table.';
comment on column compliance.not_personal_columns.relation is 'The table.';
comment on column compliance.not_personal_columns.column_name is 'The column, or * for the whole table.';
comment on column compliance.not_personal_columns.reason is 'Why it holds no personal data.';
comment on column compliance.not_personal_columns.marked_by is 'Who marked it (the request context''s actor).';
comment on column compliance.not_personal_columns.marked_at is 'When.';
alter table compliance.not_personal_columns enable row level security;
alter table compliance.not_personal_columns force row level security;
-- included from fixtures/registered/not_personal_columns.owner_routines.sql
-- policy owner_routines on compliance.not_personal_columns: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance.not_personal_columns;
create policy owner_routines on compliance.not_personal_columns as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance.not_personal_columns is 'compliance.mark_not_personal writes the markings and the data_map check reads them, as the owner.';

-- included from fixtures/registered/not_personal_columns.readers.sql
-- policy readers on compliance.not_personal_columns: its current definition (db/CONVENTIONS.md).

drop policy if exists readers on compliance.not_personal_columns;
create policy readers on compliance.not_personal_columns as permissive for select to compliance_dpo, compliance_auditor
  using (true);
comment on policy readers on compliance.not_personal_columns is 'The DPO and the auditor read which columns were marked not personal, by whom and why.';

-- included from fixtures/registered/mark_not_personal.sql
-- compliance.mark_not_personal(relation regclass, column_name text, reason text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.mark_not_personal(relation regclass, column_name text, reason text)
 RETURNS void
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  if relation is null then
    perform compliance_private.raise_error('BADRG', 'no such table (give it as schema.table)');
  end if;
  if nullif(trim(reason), '') is null or length(reason) > 1000 then
    perform compliance_private.raise_error('BADRG', 'say why the column holds no personal data (1 to 1000 characters)');
  end if;
  if column_name <> '*' and not exists (select from pg_catalog.pg_attribute a
                                          where a.attrelid = relation and a.attname = column_name and a.attnum > 0 and not a.attisdropped) then
    perform compliance_private.raise_error('BADRG', format('%s has no column %L (''*'' marks the whole table)', relation, column_name));
  end if;
  insert into compliance.not_personal_columns as n (relation, column_name, reason, marked_by)
  values (relation, column_name, trim(reason), compliance.current_actor())
  on conflict on constraint not_personal_columns_pkey do update set reason = excluded.reason, marked_by = excluded.marked_by, marked_at = now();
  perform compliance_private.append_audit('personal_table.marked_not_personal', 'gdpr', 'personal_table', relation::text,
    jsonb_build_object('column', column_name, 'reason', trim(reason)));
end;
$function$;

comment on function compliance.mark_not_personal(relation regclass, column_name text, reason text) is
  'DPO or DBA: records that a column (or with column_name ''*'' a whole table) holds no personal data, and why, so the data_map check stops naming it. Audited (personal_table.marked_not_personal). Errors: BADRG.';

-- included from fixtures/checks/check_data_map.sql
-- compliance_private.check_data_map(context jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.check_data_map(context jsonb)
 RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  c_sample constant integer := 200;
  -- what a value looks like when it is personal; a finding names the pattern, never the value
  c_patterns constant jsonb := jsonb_build_object(
    'e-mail address', '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}',
    'phone number', '(^|[^0-9])\+?[0-9][0-9 ()./-]{8,}[0-9]($|[^0-9])',
    'IP address', '(^|[^0-9.])([0-9]{1,3}\.){3}[0-9]{1,3}($|[^0-9.])');
  v_findings jsonb := '[]';
  v_table record;
  v_column record;
  v_pattern record;
  v_matched boolean;
  v_tables integer := 0;
begin
  for v_table in
    select c.oid::regclass as relation, n.nspname, (p.relation is not null) as registered, p.classified_columns,
           -- rows pgcomply's owner may read; row-level security would hide them from a sample
           pg_catalog.has_table_privilege(c.oid, 'SELECT') and not c.relrowsecurity as readable
      from pg_catalog.pg_class c
      join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      left join compliance.personal_tables p on p.relation = c.oid
     where c.relkind in ('r', 'p') and not c.relispartition
       and n.nspname not in ('compliance', 'compliance_private', 'pg_catalog', 'information_schema', 'graphile_worker', 'graphile_migrate')
       and n.nspname not like 'pg\_%'
       and not exists (select from compliance.not_personal_columns m where m.relation = c.oid and m.column_name = '*')
     order by c.oid::regclass::text
  loop
    v_tables := v_tables + 1;
    for v_column in
      select a.attname::text as name, a.atttypid, pg_catalog.format_type(a.atttypid, null) as type,
             exists (select from pg_catalog.pg_constraint f where f.conrelid = v_table.relation and f.contype = 'f' and a.attnum = any (f.conkey)
                      and (f.confrelid = 'compliance.user_profiles'::regclass
                           or f.confrelid in (select t.relation from compliance.personal_tables t where t.subject_via is null))) as references_subject
        from pg_catalog.pg_attribute a
       where a.attrelid = v_table.relation and a.attnum > 0 and not a.attisdropped
         and not exists (select from compliance.not_personal_columns m where m.relation = v_table.relation and m.column_name = a.attname)
       order by a.attnum
    loop
      if v_table.registered then
        -- a registered table is classified column by column: a column added since is unknown
        if not v_column.name = any (v_table.classified_columns) then
          v_findings := v_findings || jsonb_build_object('table', v_table.relation::text, 'column', v_column.name, 'reason', 'added since the table was registered');
        end if;
        continue;
      end if;
      if v_column.references_subject then
        v_findings := v_findings || jsonb_build_object('table', v_table.relation::text, 'column', v_column.name, 'reason', 'a foreign key to a table of subjects');
      elsif v_column.name ~* '^(user_?id|subject_?id|customer_?id|member_?id|patient_?id|account_?id)$' then
        v_findings := v_findings || jsonb_build_object('table', v_table.relation::text, 'column', v_column.name, 'reason', 'its name says it refers to a person');
      elsif v_column.name ~* '(e_?mail|phone|mobile|first_?name|last_?name|full_?name|^name$|surname|address|street|post_?code|zip_?code|^ip$|ip_?addr|birth|^dob$|ssn|national_?id|passport|tax_?id|iban|card_?number)' then
        v_findings := v_findings || jsonb_build_object('table', v_table.relation::text, 'column', v_column.name, 'reason', 'its name says it holds personal data');
      elsif v_column.atttypid in ('inet'::regtype, 'cidr'::regtype) then
        v_findings := v_findings || jsonb_build_object('table', v_table.relation::text, 'column', v_column.name, 'reason', 'it holds network addresses');
      elsif v_column.atttypid in ('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype, 'json'::regtype, 'jsonb'::regtype) then
        if not v_table.readable then
          v_findings := v_findings || jsonb_build_object('table', v_table.relation::text, 'column', v_column.name,
            'reason', 'not sampled: pgcomply may not read its rows (grant select to compliance_owner, register the table, or mark it)');
          continue;
        end if;
        -- a bounded sample, matched inside the database: no value leaves it. Only the table
        -- itself: a child table may be a foreign table, read with another server's rights
        for v_pattern in select e.key as name, e.value #>> '{}' as regex from jsonb_each(c_patterns) e order by e.key loop
          execute format('select exists (select from (select %I::text as v from only %s limit %s) s where s.v ~ $1)', v_column.name, v_table.relation, c_sample)
            into v_matched using v_pattern.regex;
          if v_matched then
            v_findings := v_findings || jsonb_build_object('table', v_table.relation::text, 'column', v_column.name,
              'reason', format('a sample of at most %s rows matched the %s pattern', c_sample, v_pattern.name));
            exit;
          end if;
        end loop;
      end if;
    end loop;
  end loop;
  status := case when jsonb_array_length(v_findings) = 0 then 'pass' else 'fail' end;
  measured := jsonb_build_object('tables_examined', v_tables, 'findings', v_findings);
  threshold := jsonb_build_object('findings', '[]'::jsonb);
  detail := case when jsonb_array_length(v_findings) = 0
                 then format('%s tables outside pgcomply''s schemas examined: every personal column is registered or marked', v_tables)
                 else format('%s columns may hold personal data outside pgcomply''s rules: %s', jsonb_array_length(v_findings),
                        (select string_agg(format('%s.%s (%s)', f ->> 'table', f ->> 'column', f ->> 'reason'), '; ')
                           from jsonb_array_elements(v_findings) f)) end;
  evidence := 'select * from compliance.personal_tables; select * from compliance.not_personal_columns';
  return next;
end;
$function$;

comment on function compliance_private.check_data_map(context jsonb) is
  'Compliance check: every table outside pgcomply''s schemas that holds personal data is registered (compliance.register_personal_table) or marked not personal (compliance.mark_not_personal). A column is found by its name (a subject reference, e-mail, phone, name, address, IP, birth date, national id …), by a foreign key to the subjects, by its type (inet), or by a sample of at most 200 rows matched against patterns (e-mail, phone, IP) inside the database: a finding names the table, the column and the reason, never a value. A registered table''s column added since registration is a finding. A table pgcomply may not read is not sampled, and says so.';

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
                                'master_key_age', 'backup_age', 'anchors', 'worker_heartbeat', 'uptime', 'outside_the_database', 'privileged_mfa', 'wal_archive_lag', 'restore_drill', 'data_map'] loop
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
  v_subject_rows jsonb;
  v_actor_rows jsonb;
  v_request_id bigint;
  v_table text;
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

  perform compliance_private.begin_bulk_operation('erasure');

  -- the duty to review a break-glass access outlives the patient's data (HIPAA
  -- §164.308(a)(1)(ii)(D)): an emergency grant not reviewed yet stays, without the patient
  update compliance.access_grants g set user_id = null
   where g.user_id = erase_subject_core.user_id and g.kind = 'emergency' and g.reviewed_at is null;
  get diagnostics v_count = row_count;
  v_counts := v_counts || jsonb_build_object('emergency_reviews_kept', v_count);

  -- proof of consent (GDPR Art. 7(1)) outlives the person, pseudonymised under the tombstone's
  -- digest, for the defence of legal claims (Art. 17(3)(e)), unless the DPO turned it off: no id,
  -- no IP address, no user agent
  if coalesce((select s.keep_consent_proof from compliance.erasure_settings s), true) then
    insert into compliance.erased_consent_proofs (subject_digest, purpose, granted, policy_version, source, recorded_at, given_at)
    select compliance_private.subject_digest(erase_subject_core.user_id), c.purpose, c.granted, c.policy_version, c.source, c.recorded_at, c.given_at
      from compliance.consent_records c where c.user_id = erase_subject_core.user_id order by c.recorded_at, c.id;
    get diagnostics v_count = row_count;
    v_counts := v_counts || jsonb_build_object('consent_proofs_kept', v_count);
  end if;

  -- your registered tables first: their rows may reference the profile (FKBLK when an
  -- unregistered table's foreign key would block, and nothing is changed)
  v_counts := v_counts || jsonb_build_object('registered_tables', compliance_private.erase_registered_rows(user_id));
  update compliance.personal_tables t set registered_by = null where t.registered_by = erase_subject_core.user_id;
  update compliance.not_personal_columns n set marked_by = null where n.marked_by = erase_subject_core.user_id;

  -- children before the profile so each count is exact
  foreach v_table in array array['health_records', 'access_grants', 'breach_subjects', 'messages', 'conversations', 'consent_records', 'sessions',
                                 'user_preferences', 'legal_holds'] loop
    execute format('delete from compliance.%I t where t.user_id = $1', v_table) using user_id;
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
  v_request_id := compliance_private.record_completed_dsr(null, 'erasure', compliance_private.handler_for(user_id));
  update compliance.dsr_requests r
     set user_id = case when r.user_id = erase_subject_core.user_id then null else r.user_id end,
         notes = case when r.user_id = erase_subject_core.user_id then null else r.notes end,
         handled_by = case when r.handled_by = erase_subject_core.user_id then null else r.handled_by end
   where r.user_id = erase_subject_core.user_id or r.handled_by = erase_subject_core.user_id;
  get diagnostics v_count = row_count;
  v_counts := v_counts || jsonb_build_object('dsr_requests_anonymised', v_count);

  -- other patients' records keep their content, never who recorded them
  update compliance.health_records h set recorded_by = null where h.recorded_by = erase_subject_core.user_id;
  get diagnostics v_count = row_count;
  v_counts := v_counts || jsonb_build_object('health_records_anonymised', v_count);

  -- other patients' grants keep their dates and terms, never who held, asked for or decided them
  update compliance.access_grants g
     set grantee = nullif(g.grantee, erase_subject_core.user_id),
         requested_by = nullif(g.requested_by, erase_subject_core.user_id),
         approved_by = nullif(g.approved_by, erase_subject_core.user_id),
         denied_by = nullif(g.denied_by, erase_subject_core.user_id),
         revoked_by = nullif(g.revoked_by, erase_subject_core.user_id),
         reviewed_by = nullif(g.reviewed_by, erase_subject_core.user_id)
   where erase_subject_core.user_id in (g.grantee, g.requested_by, g.approved_by, g.denied_by, g.revoked_by, g.reviewed_by);
  get diagnostics v_count = row_count;
  v_counts := v_counts || jsonb_build_object('access_grants_anonymised', v_count);
  update compliance.breaches b
     set opened_by = nullif(b.opened_by, erase_subject_core.user_id), closed_by = nullif(b.closed_by, erase_subject_core.user_id)
   where erase_subject_core.user_id in (b.opened_by, b.closed_by);
  update compliance.alert_outbox a
     set user_id = nullif(a.user_id, erase_subject_core.user_id), actor_id = nullif(a.actor_id, erase_subject_core.user_id)
   where erase_subject_core.user_id in (a.user_id, a.actor_id);
  get diagnostics v_count = row_count;
  v_counts := v_counts || jsonb_build_object('alerts_anonymised', v_count);

  -- reviews, packages and reports keep what was decided and produced, never by or about whom
  update compliance.access_review_items i
     set actor_id = nullif(i.actor_id, erase_subject_core.user_id), granted_by = nullif(i.granted_by, erase_subject_core.user_id),
         decided_by = nullif(i.decided_by, erase_subject_core.user_id)
   where erase_subject_core.user_id in (i.actor_id, i.granted_by, i.decided_by);
  get diagnostics v_count = row_count;
  v_counts := v_counts || jsonb_build_object('access_review_items_anonymised', v_count);
  update compliance.access_review_campaigns c set opened_by = null where c.opened_by = erase_subject_core.user_id;
  update compliance.evidence_packages p set generated_by = null where p.generated_by = erase_subject_core.user_id;
  update compliance.reports r set generated_by = null where r.generated_by = erase_subject_core.user_id;
  update compliance.backup_verifications b set verified_by = null where b.verified_by = erase_subject_core.user_id;

  -- holds on other subjects keep their dates and reasons, never who placed or released them
  update compliance.legal_holds h
     set placed_by = case when h.placed_by = erase_subject_core.user_id then null else h.placed_by end,
         released_by = case when h.released_by = erase_subject_core.user_id then null else h.released_by end
   where h.placed_by = erase_subject_core.user_id or h.released_by = erase_subject_core.user_id;
  get diagnostics v_count = row_count;
  v_counts := v_counts || jsonb_build_object('legal_holds_anonymised', v_count);

  -- the subject's part of rows about them, the actor's part of rows where they acted: a DPO who
  -- handled the subject stays on record. Layout-1 rows have one personal part and lose it whole.
  with targets as (
    select a.id, a.occurred_at, a.user_id = erase_subject_core.user_id as subject,
           coalesce(a.actor_id = erase_subject_core.user_id, false) as actor, a.subject_part_digest is null as layout1
      from compliance.audit_logs a
     where a.user_id = erase_subject_core.user_id or a.actor_id = erase_subject_core.user_id
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
     where a.id = t.id and a.occurred_at = t.occurred_at
    returning a.id, t.subject, t.actor
  )
  select count(*), coalesce(jsonb_agg(r.id order by r.id) filter (where r.subject), '[]'),
         coalesce(jsonb_agg(r.id order by r.id) filter (where r.actor), '[]')
    into v_redacted, v_subject_rows, v_actor_rows
    from redacted r;

  insert into compliance_private.erased_subjects (subject_digest) values (compliance_private.subject_digest(user_id));
  perform compliance_private.end_bulk_operation();

  -- counts, never identity: no subject, and no actor or client when the subject asked
  perform compliance_private.append_audit('subject.erased', 'gdpr', 'dsr_request', v_request_id::text,
    -- the rows it redacted, so verification can tell these redactions from any other
    jsonb_build_object('deleted', v_counts, 'audit_rows_redacted', v_redacted, 'requested_by', requested_by,
                       'redacted_subject_rows', v_subject_rows, 'redacted_actor_rows', v_actor_rows),
    null, jsonb_build_object('reason', reason), 'success', null,
    case when requested_by = 'subject' then null else compliance.current_actor() end,
    requested_by <> 'subject');

  return jsonb_build_object('erased', true, 'erased_at', now(), 'dsr_request_id', v_request_id,
    'deleted', v_counts, 'audit_rows_redacted', v_redacted);
end;
$function$;

comment on function compliance_private.erase_subject_core(user_id text, reason text, confirm boolean, requested_by text) is
  'The erasure transaction; see compliance.erase_subject. Its statements run on generic plans (plan_cache_mode), without JIT compilation (a generic plan''s row estimates over a million subjects passed jit_above_cost, and compiling took longer than the erasure): a custom plan over every audit partition costs more to make than to run, and made a connection''s first five erasures twice as slow as the rest.';

grant select on compliance.not_personal_columns to compliance_dpo, compliance_auditor;
revoke all on function compliance.mark_not_personal(regclass, text, text) from public;
grant execute on function compliance.mark_not_personal(regclass, text, text) to compliance_dpo;
revoke all on function compliance_private.check_data_map(jsonb) from public;

select compliance_private.record_expected_grants();
