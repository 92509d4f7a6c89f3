--! Previous: sha1:cdcf768bd9f36bb38564f13a586967ad8a135c56
--! Hash: sha1:675451dfb98aad8cc0c6c17a6de15242ae277116
--! Message: The data map reads a column's sample once; registration asks once for foreign code

-- The data map reads each column's sample once for all its patterns; registration asks once which
-- functions another role owns on the table.

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
  v_matched_pattern text;
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
        -- one sample, read once, matched against every pattern; the first that matches is named
        execute format('select (select p.key from jsonb_each_text($1) p where s.v ~ p.value order by p.key limit 1)
                          from (select %I::text as v from only %s limit %s) s
                         where exists (select from jsonb_each_text($1) p where s.v ~ p.value)
                         order by 1 limit 1', v_column.name, v_table.relation, c_sample)
          into v_matched_pattern using c_patterns;
        if v_matched_pattern is not null then
          v_findings := v_findings || jsonb_build_object('table', v_table.relation::text, 'column', v_column.name,
            'reason', format('a sample of at most %s rows matched the %s pattern', c_sample, v_matched_pattern));
        end if;
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

-- included from fixtures/registered/record_personal_table.sql
-- compliance.record_personal_table(relation regclass, settings jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.record_personal_table(relation regclass, settings jsonb)
 RETURNS compliance.personal_tables
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_class pg_catalog.pg_class;
  v_schema text;
  v_row compliance.personal_tables;
  v_subject pg_catalog.pg_attribute;
  v_via compliance.personal_tables;
  v_key record;
  v_column text;
  v_category text;
  v_previous compliance.personal_tables;
  v_columns name[];
  v_untrusted text[];
begin
  select * into v_class from pg_catalog.pg_class c where c.oid = record_personal_table.relation;
  if not found or v_class.relkind not in ('r', 'p') then
    perform compliance_private.raise_error('BADRG', format('%s is not a table', relation));
  end if;
  select n.nspname into v_schema from pg_catalog.pg_namespace n where n.oid = v_class.relnamespace;
  if v_schema in ('compliance', 'compliance_private', 'pg_catalog', 'information_schema') then
    perform compliance_private.raise_error('BADRG', format('%s is pgcomply''s or the system''s own table: pgcomply''s tables are covered already', relation));
  end if;
  -- only whoever may change the table may put it under pgcomply's rules (the login, whatever role it set)
  if not pg_catalog.pg_has_role(session_user, v_class.relowner, 'USAGE') then
    perform compliance_private.raise_error('PTOWN', format('only the owner of %s (%s) registers it', relation, pg_catalog.pg_get_userbyid(v_class.relowner)),
      'Register it as the table''s owner, or as a superuser.');
  end if;
  select coalesce(array_agg(a.attname order by a.attnum), '{}') into v_columns
    from pg_catalog.pg_attribute a where a.attrelid = relation and a.attnum > 0 and not a.attisdropped;
  select * into v_previous from compliance.personal_tables p where p.relation = record_personal_table.relation;

  v_row.relation := relation;
  v_row.classified_columns := v_columns;
  v_row.registered_by := compliance.current_actor();
  v_row.registered_at := now();
  -- registration hands the table to pgcomply's owner; the role that owned it before gets it back
  v_row.owner_before := coalesce(v_previous.owner_before, pg_catalog.pg_get_userbyid(v_class.relowner));
  v_untrusted := compliance_private.untrusted_code_on(relation);
  if cardinality(v_untrusted) > 0 then
    perform compliance_private.raise_error('BADRG', format('%s runs functions another role can change when pgcomply''s routines touch it: %s', relation,
      array_to_string(v_untrusted, ', ')),
      'pgcomply''s routines would run them with its owner''s rights. Have a superuser own them (alter function … owner to …), or drop them from the table.');
  end if;
  v_row.rls_was_enabled := coalesce(v_previous.rls_was_enabled, v_class.relrowsecurity);
  v_row.rls_was_forced := coalesce(v_previous.rls_was_forced, v_class.relforcerowsecurity);
  -- the primary key names each row in the audit log
  select array_agg(a.attname order by k.ord) into v_row.key_columns
    from pg_catalog.pg_index i cross join lateral unnest(i.indkey) with ordinality k(attnum, ord)
    join pg_catalog.pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
   where i.indrelid = relation and i.indisprimary;
  if v_row.key_columns is null then
    perform compliance_private.raise_error('BADRG', format('%s has no primary key: pgcomply names each row it audits by its key', relation),
      'Add a primary key (alter table … add primary key …), then register the table.');
  end if;

  v_row.subject_column := settings ->> 'subject_column';
  select * into v_subject from pg_catalog.pg_attribute a
   where a.attrelid = relation and a.attname = v_row.subject_column and a.attnum > 0 and not a.attisdropped;
  if not found then
    perform compliance_private.raise_error('BADRG', format('%s has no column %L to find the subject by', relation, v_row.subject_column));
  end if;
  if settings ->> 'subject_via' is null then
    v_row.subject_type := pg_catalog.format_type(v_subject.atttypid, null);
  else
    -- the subject is reached through one foreign key to a registered table
    v_row.subject_via := (settings ->> 'subject_via')::regclass;
    select * into v_via from compliance.personal_tables p where p.relation = v_row.subject_via and p.subject_via is null;
    if not found then
      perform compliance_private.raise_error('BADRG', format('%s is not registered with a subject column of its own: register it first', v_row.subject_via));
    end if;
    select pg_catalog.format_type(v_subject.atttypid, null) as fk_type, ra.attname as key into v_key
      from pg_catalog.pg_constraint c
      join pg_catalog.pg_attribute ra on ra.attrelid = c.confrelid and ra.attnum = c.confkey[1]
     where c.contype = 'f' and c.conrelid = relation and c.confrelid = v_row.subject_via and c.conkey = array[v_subject.attnum];
    if not found then
      perform compliance_private.raise_error('BADRG', format('no foreign key from %s(%I) to %s: the subject can be reached through exactly one',
        relation, v_row.subject_column, v_row.subject_via));
    end if;
    v_row.subject_via_key := v_key.key;
    v_row.subject_via_column := v_via.subject_column;
    v_row.subject_type := v_via.subject_type;
  end if;
  if v_row.subject_type not in ('text', 'character varying', 'uuid', 'bigint', 'integer') then
    perform compliance_private.raise_error('BADRG', format('the subject column is of type %s: text, uuid, bigint and integer work', v_row.subject_type));
  end if;
  v_row.subject_type := case v_row.subject_type when 'character varying' then 'text' else v_row.subject_type end;

  v_row.personal_columns := settings -> 'personal_columns';
  if jsonb_typeof(v_row.personal_columns) is distinct from 'object' then
    perform compliance_private.raise_error('BADRG', 'personal_columns is a JSON object of column name to data category, e.g. {"email": "contact"}');
  end if;
  for v_column, v_category in select e.key, e.value #>> '{}' from jsonb_each(v_row.personal_columns) e loop
    if not v_column = any (v_columns) then
      perform compliance_private.raise_error('BADRG', format('%s has no column %L', relation, v_column));
    end if;
    if not exists (select from compliance.personal_data_categories d where d.category = v_category) then
      perform compliance_private.raise_error('BADRG', format('%L is not a data category; known: %s', v_category,
        (select string_agg(d.category, ', ' order by d.category) from compliance.personal_data_categories d)));
    end if;
  end loop;

  -- the audit log names a row by its key, and keeps the key after erasure
  if exists (select from jsonb_object_keys(v_row.personal_columns) k where k = any (v_row.key_columns)) or v_row.subject_column = any (v_row.key_columns) then
    perform compliance_private.raise_error('BADRG', format('the primary key of %s holds personal data: the audit log names each row by its key and keeps it after erasure', relation),
      'Give the table a key of its own (an identity column) and keep the personal value in a unique column.');
  end if;

  v_row.erasure := coalesce(settings ->> 'erasure', 'delete');
  if v_row.erasure not in ('delete', 'anonymize') then
    perform compliance_private.raise_error('BADRG', 'erasure is delete or anonymize');
  end if;
  if v_row.erasure = 'anonymize' then
    v_row.anonymize := coalesce(settings -> 'anonymize', '{}');
    v_row.kept_basis := nullif(trim(settings ->> 'kept_basis'), '');
    if jsonb_typeof(v_row.anonymize) <> 'object' or v_row.kept_basis is null then
      perform compliance_private.raise_error('BADRG', 'anonymize keeps rows: name the columns to overwrite ({"column": null or a fixed value}) and the legal basis for what is kept (kept_basis)');
    end if;
    for v_column in select jsonb_object_keys(v_row.anonymize) loop
      if not v_column = any (v_columns) or v_column = any (v_row.key_columns) then
        perform compliance_private.raise_error('BADRG', format('%L is not a column of %s that anonymizing may overwrite (the key stays)', v_column, relation));
      end if;
    end loop;
    -- every personal column is overwritten, and the link to the subject is cut
    if exists (select from jsonb_object_keys(v_row.personal_columns) k where not v_row.anonymize ? k) then
      perform compliance_private.raise_error('BADRG', format('anonymizing must overwrite every personal column; missing: %s',
        (select string_agg(k, ', ') from jsonb_object_keys(v_row.personal_columns) k where not v_row.anonymize ? k)));
    end if;
    if v_subject.attnotnull then
      perform compliance_private.raise_error('BADRG', format('%s(%I) is NOT NULL: an anonymized row keeps no link to its subject, so it must allow null', relation, v_row.subject_column));
    end if;
  elsif settings ? 'anonymize' or settings ? 'kept_basis' then
    perform compliance_private.raise_error('BADRG', 'anonymize and kept_basis go with erasure => anonymize');
  end if;

  v_row.retention_period := (settings ->> 'retention_period')::interval;
  v_row.retention_from := settings ->> 'retention_from';
  v_row.retention_basis := nullif(trim(settings ->> 'retention_basis'), '');
  if (v_row.retention_period is null) <> (v_row.retention_from is null) or (v_row.retention_period is null) <> (v_row.retention_basis is null) then
    perform compliance_private.raise_error('BADRG', 'a retention period comes with the column it counts from and its legal basis (retention_period, retention_from, retention_basis)');
  end if;
  if v_row.retention_period is not null and v_row.retention_period <= interval '0' then
    perform compliance_private.raise_error('BADRG', 'the retention period must be positive');
  end if;
  if v_row.retention_from is not null and not exists (
       select from pg_catalog.pg_attribute a where a.attrelid = relation and a.attname = v_row.retention_from and not a.attisdropped
          and a.atttypid in ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype)) then
    perform compliance_private.raise_error('BADRG', format('%s has no date or timestamp column %L to count retention from', relation, v_row.retention_from));
  end if;
  v_row.subject_reads := coalesce((settings ->> 'subject_reads')::boolean, false);
  v_row.application_roles := coalesce(array(select jsonb_array_elements_text(settings -> 'application_roles')), '{}');

  insert into compliance.personal_tables as p values (v_row.*)
  on conflict on constraint personal_tables_pkey do update set
    subject_column = excluded.subject_column, subject_type = excluded.subject_type, subject_via = excluded.subject_via,
    subject_via_key = excluded.subject_via_key, subject_via_column = excluded.subject_via_column, key_columns = excluded.key_columns,
    personal_columns = excluded.personal_columns, erasure = excluded.erasure, anonymize = excluded.anonymize, kept_basis = excluded.kept_basis,
    retention_period = excluded.retention_period, retention_from = excluded.retention_from, retention_basis = excluded.retention_basis,
    subject_reads = excluded.subject_reads, application_roles = excluded.application_roles, classified_columns = excluded.classified_columns,
    registered_at = excluded.registered_at, registered_by = excluded.registered_by
  returning p.* into v_row;
  -- retention runs off the policy table, as for pgcomply's own categories; its trigger audits the change
  insert into compliance.retention_policies as r (category, retention_period, counted_from, legal_basis, action)
  values (relation::text, v_row.retention_period, v_row.retention_from,
          coalesce(v_row.retention_basis, 'Registered without a retention period: kept until the subject is erased'),
          case when v_row.retention_period is null then 'until_erasure' else 'delete' end)
  on conflict on constraint retention_policies_pkey do update set
    retention_period = excluded.retention_period, counted_from = excluded.counted_from, legal_basis = excluded.legal_basis, action = excluded.action;
  perform compliance_private.append_audit(case when v_previous.relation is null then 'personal_table.registered' else 'personal_table.reregistered' end,
    'gdpr', 'personal_table', relation::text,
    jsonb_build_object('personal_columns', v_row.personal_columns, 'erasure', v_row.erasure, 'anonymize', v_row.anonymize,
      'kept_basis', v_row.kept_basis, 'retention_period', v_row.retention_period, 'retention_from', v_row.retention_from,
      'retention_basis', v_row.retention_basis, 'subject_reads', v_row.subject_reads,
      'subject', case when v_row.subject_via is null then v_row.subject_column
                      else format('%s -> %s.%s', v_row.subject_column, v_row.subject_via, v_row.subject_via_column) end));
  return v_row;
end;
$function$;

comment on function compliance.record_personal_table(relation regclass, settings jsonb) is
  'The registry half of compliance.register_personal_table, which calls it: checks the settings against the table (its primary key, the subject column or the one foreign key to a registered table that reaches the subject, personal columns with known data categories, what erasure does, retention), records them in compliance.personal_tables with the table''s retention policy (compliance.retention_policies, category schema.table) and audits it (personal_table.registered, or .reregistered). Only a login that may act as the table''s owner may call it. A table whose triggers, rules, constraints, defaults, indexes, policies or domains run functions another role owns is refused (compliance_private.untrusted_code_on). Errors: PTOWN, BADRG.';
