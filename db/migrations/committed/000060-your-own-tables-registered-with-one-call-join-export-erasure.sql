--! Previous: sha1:bc3fdd6564d8e495732401a8ecb8947094c03688
--! Hash: sha1:f9bb78961b8efcd87598169297f18869407b81a2
--! Message: Your own tables registered with one call join export, erasure and the audit chain

-- Your own tables: a table in the adopter's database registered with one call joins export,
-- erasure (delete or anonymize) and the audit chain (retention and discovery follow).

create table compliance.personal_data_categories (
  category text not null,
  description text not null,
  constraint personal_data_categories_pkey primary key (category),
  constraint personal_data_categories_name check (category ~ '^[a-z][a-z_]{1,40}$')
);
comment on table compliance.personal_data_categories is
  'The kinds of personal data a registered column holds (compliance.register_personal_table''s personal_columns), for the record of processing and the data map. A DBA adds one with an INSERT.';
comment on column compliance.personal_data_categories.category is 'The name a registration uses.';
comment on column compliance.personal_data_categories.description is 'What belongs in it.';
insert into compliance.personal_data_categories (category, description) values
  ('contact', 'How to reach the person: e-mail address, phone number, postal address.'),
  ('identifier', 'What names or singles out the person: name, user name, customer number, national id, device token.'),
  ('financial', 'Money tied to the person: payment card, bank account, amounts and invoices.'),
  ('location', 'Where the person is or goes: shipping or home address, coordinates.'),
  ('online', 'Traces of the person online: IP address, user agent, cookie and device identifiers.'),
  ('demographic', 'Who the person is: birth date, age, gender, nationality, language.'),
  ('free_text', 'What the person or staff wrote: messages, ticket bodies, notes. It may hold anything.'),
  ('special_category', 'GDPR Art. 9 data other than health: ethnicity, religion, political opinion, biometrics, sex life. Health data belongs in pgcomply''s encrypted health records.'),
  ('other', 'Personal data of another kind: say which in the column''s comment.');
alter table compliance.personal_data_categories enable row level security;
alter table compliance.personal_data_categories force row level security;
-- included from fixtures/registered/personal_data_categories.owner_routines.sql
-- policy owner_routines on compliance.personal_data_categories: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance.personal_data_categories;
create policy owner_routines on compliance.personal_data_categories as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance.personal_data_categories is 'The registration routines read the categories.';

-- included from fixtures/registered/personal_data_categories.readers.sql
-- policy readers on compliance.personal_data_categories: its current definition (db/CONVENTIONS.md).

drop policy if exists readers on compliance.personal_data_categories;
create policy readers on compliance.personal_data_categories as permissive for select to compliance_dpo, compliance_auditor
  using (true);
comment on policy readers on compliance.personal_data_categories is 'The DPO and the auditor read the categories.';

create table compliance.personal_tables (
  relation regclass not null,
  subject_column name not null,
  subject_type text not null,
  subject_via regclass,
  subject_via_key name,
  subject_via_column name,
  key_columns name[] not null,
  personal_columns jsonb not null,
  erasure text not null,
  anonymize jsonb,
  kept_basis text,
  retention_period interval,
  retention_from name,
  retention_basis text,
  subject_reads boolean not null,
  application_roles text[] not null,
  classified_columns name[] not null,
  rls_was_enabled boolean not null,
  rls_was_forced boolean not null,
  owner_before name not null,
  registered_at timestamptz not null,
  registered_by text,
  constraint personal_tables_pkey primary key (relation),
  constraint personal_tables_subject_type check (subject_type in ('text', 'uuid', 'bigint', 'integer')),
  constraint personal_tables_via_whole check ((subject_via is null) = (subject_via_key is null) and (subject_via is null) = (subject_via_column is null)),
  constraint personal_tables_personal_columns_object check (jsonb_typeof(personal_columns) = 'object'),
  constraint personal_tables_erasure_known check (erasure in ('delete', 'anonymize')),
  constraint personal_tables_anonymize_with_basis check ((erasure = 'anonymize') = (anonymize is not null) and (erasure = 'anonymize') = (kept_basis is not null)),
  constraint personal_tables_retention_whole check ((retention_period is null) = (retention_from is null) and (retention_period is null) = (retention_basis is null)),
  constraint personal_tables_retention_positive check (retention_period is null or retention_period > interval '0')
);
comment on table compliance.personal_tables is
  'Your own tables that hold personal data, registered with compliance.register_personal_table: export, erasure, retention and the audit chain cover them as they cover pgcomply''s own.';
comment on column compliance.personal_tables.relation is 'The table.';
comment on column compliance.personal_tables.subject_column is 'The column that holds the subject id, or the foreign key column that reaches it (subject_via).';
comment on column compliance.personal_tables.subject_type is 'The subject id''s type in the table: text, uuid, bigint or integer.';
comment on column compliance.personal_tables.subject_via is 'The registered table the subject column references, which holds the subject id; null when the table holds it itself.';
comment on column compliance.personal_tables.subject_via_key is 'The column of subject_via the foreign key references.';
comment on column compliance.personal_tables.subject_via_column is 'The column of subject_via that holds the subject id.';
comment on column compliance.personal_tables.key_columns is 'The primary key, which names a row in the audit log.';
comment on column compliance.personal_tables.personal_columns is 'Each personal column and its data category (compliance.personal_data_categories).';
comment on column compliance.personal_tables.erasure is 'What erasure does: delete the subject''s rows, or anonymize them.';
comment on column compliance.personal_tables.anonymize is 'For anonymize: each column to overwrite and its value (null or a fixed value); the subject column is cut as well.';
comment on column compliance.personal_tables.kept_basis is 'For anonymize: the legal basis for what is kept (GDPR Art. 17(3)(b), e.g. tax law for an invoice''s amount and date).';
comment on column compliance.personal_tables.retention_period is 'How long a row is kept, counted from retention_from; null: until erasure.';
comment on column compliance.personal_tables.retention_from is 'The date or timestamp column the retention period counts from.';
comment on column compliance.personal_tables.retention_basis is 'Why the rows are kept that long.';
comment on column compliance.personal_tables.subject_reads is 'Whether the API acting for a subject may read the subject''s rows (policy subject_own_rows).';
comment on column compliance.personal_tables.application_roles is 'Roles besides the owner that keep every row (policy application_rows): the application that writes the table.';
comment on column compliance.personal_tables.classified_columns is 'The table''s columns when it was registered: the data map finds a column added since.';
comment on column compliance.personal_tables.rls_was_enabled is 'Whether row-level security was enabled before registration (unregistering puts it back).';
comment on column compliance.personal_tables.rls_was_forced is 'Whether row-level security was forced before registration (unregistering puts it back).';
comment on column compliance.personal_tables.owner_before is 'The role that owned the table before registration handed it to compliance_owner; unregistering gives it back.';
comment on column compliance.personal_tables.registered_at is 'When it was last registered.';
comment on column compliance.personal_tables.registered_by is 'Who registered it (the request context''s actor); erasure of that person clears it.';
alter table compliance.personal_tables enable row level security;
alter table compliance.personal_tables force row level security;
-- included from fixtures/registered/personal_tables.owner_routines.sql
-- policy owner_routines on compliance.personal_tables: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance.personal_tables;
create policy owner_routines on compliance.personal_tables as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance.personal_tables is 'The registration routines, erasure, export and retention (SECURITY DEFINER, running as the owner) read and write the registry.';

-- included from fixtures/registered/personal_tables.readers.sql
-- policy readers on compliance.personal_tables: its current definition (db/CONVENTIONS.md).

drop policy if exists readers on compliance.personal_tables;
create policy readers on compliance.personal_tables as permissive for select to compliance_dpo, compliance_auditor
  using (true);
comment on policy readers on compliance.personal_tables is 'The DPO and the auditor read the registry: which tables hold personal data, what erasure does to them, how long they are kept.';

-- included from fixtures/registered/subject_fits.sql
-- compliance_private.subject_fits(type_name text, user_id text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.subject_fits(type_name text, user_id text)
 RETURNS boolean
 LANGUAGE plpgsql
 IMMUTABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  if type_name = 'uuid' then
    perform user_id::uuid;
  elsif type_name = 'bigint' then
    perform user_id::bigint;
  elsif type_name = 'integer' then
    perform user_id::integer;
  end if;
  return true;
exception when invalid_text_representation or numeric_value_out_of_range then
  return false;
end;
$function$;

comment on function compliance_private.subject_fits(type_name text, user_id text) is
  'Whether a subject id can be a value of a registered table''s subject column (text, uuid, bigint or integer): a subject whose id is not a uuid has no rows in a table keyed by uuid, and erasure and export skip it there instead of failing.';

-- included from fixtures/registered/personal_table_sql.sql
-- compliance.personal_table_sql(relation regclass): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.personal_table_sql(relation regclass)
 RETURNS TABLE(subject_rows text, own_rows text, subject_of_row text, key_of_row text, key_in_ids text, subject_type text)
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_table compliance.personal_tables;
  v_own text;
begin
  select * into strict v_table from compliance.personal_tables p where p.relation = personal_table_sql.relation;
  subject_type := v_table.subject_type;
  -- a predicate on alias t that finds one subject's rows ($1) through an index on the subject
  -- column, and an expression of a transition-table row r that names its subject
  -- own_rows, the same for the request's subject in a policy: compared as text unless the column
  -- is text, since a subject id that is no uuid must find nothing rather than fail the query
  v_own := case when v_table.subject_type = 'text' then '(select compliance.current_subject())' end;
  if v_table.subject_via is null then
    subject_rows := format('t.%I = $1::%s', v_table.subject_column, v_table.subject_type);
    own_rows := case when v_own is not null then format('%I = %s', v_table.subject_column, v_own)
                     else format('%I::text = (select compliance.current_subject())', v_table.subject_column) end;
    subject_of_row := format('r.%I::text', v_table.subject_column);
  else
    subject_rows := format('t.%I in (select v.%I from %s v where v.%I = $1::%s)', v_table.subject_column, v_table.subject_via_key,
      v_table.subject_via, v_table.subject_via_column, v_table.subject_type);
    own_rows := format('%I in (select v.%I from %s v where %s)', v_table.subject_column, v_table.subject_via_key, v_table.subject_via,
      case when v_own is not null then format('v.%I = %s', v_table.subject_via_column, v_own)
           else format('v.%I::text = (select compliance.current_subject())', v_table.subject_via_column) end);
    subject_of_row := format('(select v.%I::text from %s v where v.%I = r.%I)', v_table.subject_via_column, v_table.subject_via,
      v_table.subject_via_key, v_table.subject_column);
  end if;
  key_of_row := (select string_agg(format('r.%I::text', k), ' || '','' || ' order by o) from unnest(v_table.key_columns) with ordinality u(k, o));
  -- rows of r whose keys are in $1 (text[], as key_of_row gives them): through the key's index
  -- when it has one column
  key_in_ids := case when cardinality(v_table.key_columns) = 1
    then format('r.%I = any ($1::%s[])', v_table.key_columns[1],
                (select pg_catalog.format_type(a.atttypid, a.atttypmod) from pg_catalog.pg_attribute a
                  where a.attrelid = relation and a.attname = v_table.key_columns[1]))
    else format('(%s) = any ($1)', key_of_row) end;
  return next;
end;
$function$;

comment on function compliance.personal_table_sql(relation regclass) is
  'The SQL fragments registration, erasure, export, retention and the audit trigger build their statements from for a registered table: subject_rows, a predicate on alias t for one subject''s rows ($1, cast to the subject column''s type, through the foreign key when the subject is reached through one); own_rows, the subject_own_rows policy''s predicate for the request''s subject; subject_of_row, the subject of a row r as text; key_of_row, its primary key as text; key_in_ids, a predicate on r for the rows whose keys are in $1; subject_type. Metadata only (names of tables and columns, as the catalog shows them), so anyone may ask; raises when the table is not registered.';

-- included from fixtures/registered/tg_personal_table_audit.sql
-- compliance.tg_personal_table_audit(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.tg_personal_table_audit()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_table compliance.personal_tables;
  v_sql record;
  v_name text;
  v_actor text := compliance.current_actor();
  v_ip inet := compliance.current_client_ip();
  v_user_agent text := compliance.current_user_agent();
  v_actor_salt bytea := uuid_send(gen_random_uuid());
  v_actor_digest bytea;
  v_authentication jsonb := case when compliance_private.current_authentication() is null then '{}'
                                 else jsonb_build_object('authentication', compliance_private.current_authentication()) end;
  v_personal text[];
  v_changed text;
begin
  if compliance_private.in_any_bulk_operation() then
    return null;  -- erasure and retention write one summary row with counts per table
  end if;
  select * into v_table from compliance.personal_tables p where p.relation = tg_relid;
  if not found then
    return null;
  end if;
  v_sql := compliance.personal_table_sql(tg_relid);
  v_name := tg_relid::regclass::text;
  v_actor_digest := compliance_private.audit_actor_digest(v_actor_salt, v_actor, v_ip, v_user_agent);
  select coalesce(array_agg(k), '{}') into v_personal from jsonb_object_keys(v_table.personal_columns) k;
  -- once per statement and set-based, as pgcomply's own tables are audited
  if tg_op in ('INSERT', 'DELETE') then
    execute format($q$
      insert into compliance.audit_logs (action, category, resource_type, resource_id, details, user_id,
        actor_id, ip_address, user_agent, subject_part_salt, subject_part_digest, actor_part_salt,
        actor_part_digest, personal_digest)
      select $8, 'gdpr', $1, x.resource_id, jsonb_build_object('table', $1) || $7, x.subject, $2, $3, $4, x.salt, x.digest, $5, $6,
             sha256(x.digest || $6)
        from (select y.*, compliance_private.audit_subject_digest(y.salt, y.subject, null) as digest
                from (select %s as resource_id, %s as subject, uuid_send(gen_random_uuid()) as salt from %I r) y) x$q$,
      v_sql.key_of_row, v_sql.subject_of_row, case when tg_op = 'INSERT' then 'new_rows' else 'old_rows' end)
    using v_name, v_actor, v_ip, v_user_agent, v_actor_salt, v_actor_digest, v_authentication,
          case when tg_op = 'INSERT' then 'personal_row.created' else 'personal_row.deleted' end;
  else
    -- the changed columns' names in details; the old and new values of the personal ones in the
    -- personal part, which erasure redacts (Art. 16)
    select string_agg(format('case when o.%1$I is distinct from r.%1$I then %1$L end', a.attname), ', ' order by a.attnum)
      into v_changed
      from pg_catalog.pg_attribute a where a.attrelid = tg_relid and a.attnum > 0 and not a.attisdropped;
    execute format($q$
      insert into compliance.audit_logs (action, category, resource_type, resource_id, details, user_id,
        actor_id, ip_address, user_agent, personal_details, subject_part_salt, subject_part_digest, actor_part_salt,
        actor_part_digest, personal_digest)
      select 'personal_row.updated', 'gdpr', $1, x.resource_id,
             jsonb_build_object('table', $1, 'changed_fields', to_jsonb(x.changed)) || $7, x.subject, $2, $3, $4, x.personal,
             x.salt, x.digest, $5, $6, sha256(x.digest || $6)
        from (select y.*, compliance_private.audit_subject_digest(y.salt, y.subject, y.personal) as digest
                from (select z.*, case when z.changed && $8 then jsonb_build_object(
                               'old', (select jsonb_object_agg(e.key, e.value) from jsonb_each(z.old_row) e where e.key = any (z.changed) and e.key = any ($8)),
                               'new', (select jsonb_object_agg(e.key, e.value) from jsonb_each(z.new_row) e where e.key = any (z.changed) and e.key = any ($8))) end as personal
                        from (select %s as resource_id, %s as subject, uuid_send(gen_random_uuid()) as salt,
                                     array_remove(array[%s], null) as changed, to_jsonb(o) as old_row, to_jsonb(r) as new_row
                                from new_rows r join old_rows o on %s) z
                       where cardinality(z.changed) > 0) y) x$q$,
      v_sql.key_of_row, v_sql.subject_of_row, v_changed,
      (select string_agg(format('o.%1$I is not distinct from r.%1$I', k), ' and ') from unnest(v_table.key_columns) k))
    using v_name, v_actor, v_ip, v_user_agent, v_actor_salt, v_actor_digest, v_authentication, v_personal;
  end if;
  return null;
end;
$function$;

comment on function compliance.tg_personal_table_audit() is
  'AFTER INSERT, UPDATE and DELETE statement trigger that compliance.register_personal_table attaches to a registered table: one audit row per row written (personal_row.created, personal_row.updated, personal_row.deleted), naming the table and the row''s primary key, with the subject from the subject column (or through its foreign key) and the actor from the request context. An update lists the changed columns; the old and new values of the personal ones go into the row''s personal part, which erasure redacts. Set-based, like the triggers on pgcomply''s own tables. Callable only as a trigger.';

-- included from fixtures/registered/untrusted_code_on.sql
-- compliance_private.untrusted_code_on(relation regclass): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.untrusted_code_on(relation regclass)
 RETURNS text[]
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  -- functions that run when pgcomply's routines read or write the table (its triggers, rules,
  -- constraints, defaults and generated columns, index expressions, policies, and its columns'
  -- domains), owned by a role that could change them: they would run with pgcomply's owner's rights
  select coalesce(array_agg(distinct p.oid::regprocedure::text order by p.oid::regprocedure::text), '{}')
    from pg_catalog.pg_depend d
    join pg_catalog.pg_proc p on d.refclassid = 'pg_catalog.pg_proc'::regclass and d.refobjid = p.oid
   where ((d.classid = 'pg_catalog.pg_trigger'::regclass and d.objid in (select t.oid from pg_catalog.pg_trigger t where t.tgrelid = relation))
       or (d.classid = 'pg_catalog.pg_rewrite'::regclass and d.objid in (select r.oid from pg_catalog.pg_rewrite r where r.ev_class = relation))
       or (d.classid = 'pg_catalog.pg_policy'::regclass and d.objid in (select o.oid from pg_catalog.pg_policy o where o.polrelid = relation))
       or (d.classid = 'pg_catalog.pg_attrdef'::regclass and d.objid in (select a.oid from pg_catalog.pg_attrdef a where a.adrelid = relation))
       or (d.classid = 'pg_catalog.pg_class'::regclass and d.objid in (select i.indexrelid from pg_catalog.pg_index i where i.indrelid = relation))
       or (d.classid = 'pg_catalog.pg_constraint'::regclass and d.objid in (
             select c.oid from pg_catalog.pg_constraint c
              where c.conrelid = relation
                 or c.contypid in (select a.atttypid from pg_catalog.pg_attribute a where a.attrelid = relation and a.attnum > 0))))
     and not exists (select from pg_catalog.pg_roles r where r.oid = p.proowner and (r.rolsuper or r.rolname = 'compliance_owner'));
$function$;

comment on function compliance_private.untrusted_code_on(relation regclass) is
  'Functions that would run while pgcomply''s routines read or write one of your tables (through its triggers, rules, constraints, defaults, generated columns, index expressions, policies or column domains) and that a role other than pgcomply''s owner or a superuser owns, and so could change: such a function would run with pgcomply''s owner''s rights. Registration refuses a table with any, and the row_level_security check fails on one.';

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
  if cardinality(compliance_private.untrusted_code_on(relation)) > 0 then
    perform compliance_private.raise_error('BADRG', format('%s runs functions another role can change when pgcomply''s routines touch it: %s', relation,
      array_to_string(compliance_private.untrusted_code_on(relation), ', ')),
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
  return v_row;
end;
$function$;

comment on function compliance.register_personal_table(relation regclass, subject_column text, personal_columns jsonb, erasure text, anonymize jsonb, kept_basis text, retention_period interval, retention_from text, retention_basis text, subject_reads boolean, subject_via regclass, application_roles regrole[]) is
  'Puts one of your own tables under pgcomply''s rules, called by its owner (db/README.md, "Your own tables"). It records the settings (compliance.record_personal_table, audited). It enables and forces row-level security with the policies pgcomply''s tables have: owner_routines, dpo_every_subject, and subject_own_rows when subject_reads. It attaches the audit triggers and hands the table to compliance_owner, so no other role can add code that would run with its rights; the former owner keeps select, insert, update, delete and references (not trigger or truncate), and it and application_roles keep every row through application_rows. Run it as a superuser (or a member of compliance_owner who owns the table). Erasure then deletes the subject''s rows, or anonymizes them (sets the anonymize columns and cuts the subject link, keeping the rest on kept_basis). Export includes them, and retention deletes rows older than retention_period counted from retention_from. subject_column holds the subject id (text, uuid, bigint or integer), or with subject_via, a foreign key to a registered table that holds it. Calling it again changes the settings. Errors: PTOWN, BADRG.';

-- included from fixtures/registered/record_personal_table_removal.sql
-- compliance.record_personal_table_removal(relation regclass, reason text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.record_personal_table_removal(relation regclass, reason text)
 RETURNS compliance.personal_tables
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_row compliance.personal_tables;
  v_rows bigint;
begin
  select * into v_row from compliance.personal_tables p where p.relation = record_personal_table_removal.relation;
  if not found then
    perform compliance_private.raise_error('BADRG', format('%s is not registered', relation));
  end if;
  if not pg_catalog.pg_has_role(session_user, (select c.relowner from pg_catalog.pg_class c where c.oid = relation), 'USAGE') then
    perform compliance_private.raise_error('PTOWN', format('only the owner of %s unregisters it', relation));
  end if;
  -- rows that still name a subject would leave pgcomply's export, erasure and retention
  execute format('select count(*) from %s t where t.%I is not null', relation, v_row.subject_column) into v_rows;
  if v_rows > 0 and nullif(trim(reason), '') is null then
    perform compliance_private.raise_error('PTROW', format('%s holds %s rows of subjects: they would leave export, erasure and retention', relation, v_rows),
      'Say why (reason => …); the reason is audited. Or erase or move the rows first.');
  end if;
  delete from compliance.personal_tables p where p.relation = record_personal_table_removal.relation;
  delete from compliance.retention_policies r where r.category = relation::text;
  perform compliance_private.append_audit('personal_table.unregistered', 'gdpr', 'personal_table', relation::text,
    jsonb_build_object('rows_with_a_subject', v_rows, 'reason', nullif(trim(reason), '')));
  return v_row;
end;
$function$;

comment on function compliance.record_personal_table_removal(relation regclass, reason text) is
  'The registry half of compliance.unregister_personal_table, which calls it: refuses while the table holds rows with a subject unless a reason is given (PTROW), removes the registration and its retention policy and audits it (personal_table.unregistered, with the row count and the reason). Only a login that may act as the table''s owner may call it. Errors: PTOWN, PTROW, BADRG.';

-- included from fixtures/registered/unregister_personal_table.sql
-- compliance.unregister_personal_table(relation regclass, reason text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.unregister_personal_table(relation regclass, reason text DEFAULT NULL::text)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_row compliance.personal_tables;
begin
  v_row := compliance.record_personal_table_removal(relation, reason);
  execute format('drop trigger if exists _900_pgcomply_audit_insert on %s', relation);
  execute format('drop trigger if exists _901_pgcomply_audit_update on %s', relation);
  execute format('drop trigger if exists _902_pgcomply_audit_delete on %s', relation);
  execute format('drop policy if exists owner_routines on %s', relation);
  execute format('drop policy if exists dpo_every_subject on %s', relation);
  execute format('drop policy if exists subject_own_rows on %s', relation);
  execute format('drop policy if exists application_rows on %s', relation);
  execute format('alter table %s owner to %I', relation, v_row.owner_before);
  execute format('revoke all on %s from compliance_owner, compliance_dpo, compliance_app', relation);
  -- row-level security as it was before registration
  if not v_row.rls_was_forced then
    execute format('alter table %s no force row level security', relation);
  end if;
  if not v_row.rls_was_enabled then
    execute format('alter table %s disable row level security', relation);
  end if;
end;
$function$;

comment on function compliance.unregister_personal_table(relation regclass, reason text) is
  'Takes one of your tables out of pgcomply''s rules, called by its owner: refuses while it holds rows with a subject unless reason says why (audited), then gives the table back to the role that owned it, removes the audit triggers, the policies and the grants registration added and puts row-level security back as it was. Errors: PTOWN, PTROW, BADRG.';

-- included from fixtures/registered/erase_registered_rows.sql
-- compliance_private.erase_registered_rows(user_id text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.erase_registered_rows(user_id text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_order regclass[] := '{}';
  v_next regclass[];
  v_relation regclass;
  v_table compliance.personal_tables;
  v_sql record;
  v_set text;
  v_count bigint;
  v_counts jsonb := '{}';
  v_constraint text;
  v_referencing text;
  v_schema text;
begin
  -- a table that another registered table references comes after it, so the referencing rows
  -- go first (orders before the customer they belong to); a cycle goes in name order
  loop
    select array_agg(p.relation order by p.relation::text) into v_next
      from compliance.personal_tables p
     where not p.relation = any (v_order)
       and not exists (select from pg_catalog.pg_constraint c join compliance.personal_tables q on q.relation = c.conrelid
                        where c.contype = 'f' and c.confrelid = p.relation and c.conrelid <> p.relation and not q.relation = any (v_order));
    if v_next is null then
      select array_agg(p.relation order by p.relation::text) into v_next from compliance.personal_tables p where not p.relation = any (v_order);
      exit when v_next is null;
    end if;
    v_order := v_order || v_next;
  end loop;

  foreach v_relation in array v_order loop
    select * into strict v_table from compliance.personal_tables p where p.relation = v_relation;
    -- a subject id that cannot be a value of the subject column has no rows there
    continue when not compliance_private.subject_fits(v_table.subject_type, user_id);
    v_sql := compliance.personal_table_sql(v_table.relation);
    begin
      if v_table.erasure = 'delete' then
        execute format('delete from %s t where %s', v_table.relation, v_sql.subject_rows) using user_id;
        get diagnostics v_count = row_count;
        v_counts := v_counts || jsonb_build_object(v_table.relation::text, jsonb_build_object('deleted', v_count));
      else
        -- kept under another law (kept_basis): the personal columns overwritten, the link to the subject cut
        select string_agg(format('%I = %s', e.key, coalesce(quote_literal(e.value #>> '{}'), 'null')), ', ' order by e.key) into v_set
          from jsonb_each(v_table.anonymize || jsonb_build_object(v_table.subject_column, null)) e;
        execute format('update %s t set %s where %s', v_table.relation, v_set, v_sql.subject_rows) using user_id;
        get diagnostics v_count = row_count;
        v_counts := v_counts || jsonb_build_object(v_table.relation::text, jsonb_build_object('anonymized', v_count));
      end if;
    exception when foreign_key_violation then
      get stacked diagnostics v_constraint = constraint_name, v_referencing = table_name, v_schema = schema_name;
      perform compliance_private.raise_error('FKBLK',
        format('erasing this subject from %s is blocked by the foreign key %I of %I.%I, a table pgcomply does not know holds their data: nothing was changed',
          v_table.relation, v_constraint, v_schema, v_referencing),
        format('Register %I.%I (compliance.register_personal_table), or make the foreign key ON DELETE CASCADE or SET NULL.', v_schema, v_referencing));
    end;
  end loop;
  return v_counts;
end;
$function$;

comment on function compliance_private.erase_registered_rows(user_id text) is
  'Erasure''s part in your registered tables (erase_subject_core calls it in the erasure''s transaction): deletes the subject''s rows, or for a table registered with erasure => anonymize overwrites the named columns and cuts the subject link, table by table, referencing tables first. Returns the counts per table. A foreign key from an unregistered table that still points at one of the rows raises FKBLK naming it, and the whole erasure is rolled back.';

-- included from fixtures/registered/registered_rows_of.sql
-- compliance_private.registered_rows_of(user_id text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.registered_rows_of(user_id text)
 RETURNS json
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_table compliance.personal_tables;
  v_sql record;
  v_rows json;
  v_names text[] := '{}';
  v_sections json[] := '{}';
begin
  -- STABLE: every table is read in the snapshot of the export's statement
  for v_table in select * from compliance.personal_tables p order by p.relation::text loop
    v_rows := '[]'::json;
    if compliance_private.subject_fits(v_table.subject_type, user_id) then
      v_sql := compliance.personal_table_sql(v_table.relation);
      execute format('select coalesce(json_agg(t order by %s), ''[]'') from %s t where %s',
        (select string_agg(format('t.%I', k), ', ') from unnest(v_table.key_columns) k), v_table.relation, v_sql.subject_rows)
        into v_rows using user_id;
    end if;
    v_names := v_names || v_table.relation::text;
    v_sections := v_sections || v_rows;
  end loop;
  -- json, not jsonb: the tables stay in name order
  return (select coalesce(json_object_agg(n, r order by o), '{}') from unnest(v_names, v_sections) with ordinality u(n, r, o));
end;
$function$;

comment on function compliance_private.registered_rows_of(user_id text) is
  'The export''s section for your registered tables: for each, by its name, every row of the subject (whole, in key order). Read in the export''s snapshot.';

-- included from fixtures/subject-rights/subject_document.sql
-- compliance_private.subject_document(user_id text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.subject_document(user_id text)
 RETURNS json
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  -- json_agg over a row (C row-to-JSON) rather than jsonb_build_object per row: the export is
  -- dominated by per-value formatting
  return (select json_build_object(
    'subject_id', p.user_id,
    'generated_at', now(),
    'profile', (select row_to_json(x) from (select p.user_id, p.username, p.email, p.full_name, p.metadata,
                                                  p.created_at, p.updated_at) x),
    'preferences', (select to_jsonb(pr) - 'user_id' from compliance.user_preferences pr where pr.user_id = p.user_id),
    'consents', coalesce((
      select json_agg(x order by x.purpose, x.recorded_at, x.id)
        from (select c.id, c.purpose, c.granted, c.policy_version, c.source, c.recorded_at,
                     host(c.ip_address) as ip_address, c.user_agent
                from compliance.consent_records c where c.user_id = p.user_id) x), '[]'),
    'conversations', coalesce((
      select json_agg(x order by x.created_at, x.conversation_id)
        from (select cv.conversation_id, cv.title, cv.created_at, cv.last_message_at, cv.archived, cv.metadata,
                     coalesce(m.messages, '[]') as messages
                from compliance.conversations cv
                left join (select m.conversation_id,
                                  json_agg((m.id, m.role, m.content, m.created_at)::compliance_private.exported_message
                                           order by m.id) as messages
                             from compliance.messages m
                            where m.user_id = p.user_id
                            group by m.conversation_id) m on m.conversation_id = cv.conversation_id
               where cv.user_id = p.user_id) x), '[]'),
    'sessions', coalesce((
      select json_agg(x order by x.created_at, x.id)
        from (select s.id, s.created_at, s.last_activity_at, s.ended_at, host(s.ip_address) as ip_address, s.user_agent
                from compliance.sessions s where s.user_id = p.user_id) x), '[]'),
    'audit_trail', coalesce((
      select json_agg(x order by x.occurred_at, x.id)
        from (select a.id, a.occurred_at, a.action, a.category, a.resource_type, a.resource_id, a.outcome,
                     a.failure_reason, a.details, a.actor_id, host(a.ip_address) as ip_address, a.user_agent,
                     a.personal_details
                from compliance.audit_logs a where a.user_id = p.user_id or a.actor_id = p.user_id) x), '[]'),
    'breach_notices', coalesce((
      select json_agg(x order by x.discovered_at, x.id)
        from (select b.id, b.discovered_at, b.description, b.data_categories, b.status, b.notified_individuals_at
                from compliance.breaches b join compliance.breach_subjects bs on bs.breach_id = b.id
               where bs.user_id = p.user_id) x), '[]'),
    'registered_tables', compliance_private.registered_rows_of(p.user_id),
    'dsr_requests', coalesce((
      select json_agg(x order by x.id)
        from (select r.id, r.kind, r.status, r.received_at, r.due_at, r.completed_at
                from compliance.dsr_requests r where r.user_id = p.user_id) x), '[]'))
  from compliance.user_profiles p
  where p.user_id = subject_document.user_id);
end;
$function$;

comment on function compliance_private.subject_document(user_id text) is
  'Everything held about one subject as one JSON document (sections: profile, preferences, consents, conversations with messages, sessions, audit_trail, breach_notices, registered_tables: your own registered tables by name, dsr_requests). NULL for an unknown subject.';

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

-- included from fixtures/audit/is_reserved_action.sql
-- compliance_private.is_reserved_action(action text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.is_reserved_action(action text)
 RETURNS boolean
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
RETURN ((split_part(action, '.'::text, 1) = ANY (ARRAY['audit'::text, 'subject'::text, 'retention'::text, 'report'::text, 'backup'::text, 'evidence'::text, 'compliance'::text, 'access_review'::text, 'tombstone'::text, 'security'::text, 'consent'::text, 'profile'::text, 'preferences'::text, 'conversation'::text, 'message'::text, 'session'::text, 'dsr_request'::text, 'legal_hold'::text, 'breach'::text, 'access_grant'::text, 'phi'::text, 'personal_table'::text, 'personal_row'::text])) AND (action <> ALL (ARRAY['phi.access'::text, 'subject.consents_read'::text, 'consent.records_read'::text, 'subject.messages_read'::text, 'subject.searched'::text])));

comment on function compliance_private.is_reserved_action(action text) is
  'Whether an audit action belongs to pgcomply''s own routines and triggers (audit.*, subject.*, retention.*, report.*, backup.*, phi.*, personal_table.*, personal_row.*, …): verification, the checks and the reports trust these rows, so only the routine that does the work writes them, never compliance.log_event (RSRVD). Not reserved: phi.access (the application''s own PHI event) and the read receipts that routines running with the caller''s rights write through log_event (subject.consents_read, consent.records_read, subject.messages_read, subject.searched); nothing trusts those to account for anything.';

-- included from fixtures/checks/check_row_level_security.sql
-- compliance_private.check_row_level_security(context jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.check_row_level_security(context jsonb)
 RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_missing text[];
begin
  select coalesce(array_agg(format('%I.%I', n.nspname, c.relname) order by n.nspname, c.relname), '{}') into v_missing
    from pg_catalog.pg_class c
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
   where n.nspname in ('compliance', 'compliance_private') and c.relkind in ('r', 'p') and not c.relispartition
     and exists (select from pg_catalog.pg_attribute a where a.attrelid = c.oid and a.attname = 'user_id' and not a.attisdropped)
     and not (c.relrowsecurity and c.relforcerowsecurity);
  -- and every registered table of yours: forced row-level security and pgcomply's three audit
  -- triggers, enabled, as registration left them
  select v_missing || coalesce(array_agg(p.relation::text order by p.relation::text), '{}') into v_missing
    from compliance.personal_tables p join pg_catalog.pg_class c on c.oid = p.relation
   where not (c.relrowsecurity and c.relforcerowsecurity)
      or c.relowner <> 'compliance_owner'::regrole
      or exists (select from aclexplode(c.relacl) x where x.privilege_type in ('TRIGGER', 'TRUNCATE') and x.grantee <> c.relowner)
      or cardinality(compliance_private.untrusted_code_on(p.relation)) > 0
      or (select count(*) from pg_catalog.pg_trigger t
           where t.tgrelid = p.relation and t.tgenabled <> 'D' and t.tgfoid = 'compliance.tg_personal_table_audit()'::regprocedure) < 3;
  status := case when cardinality(v_missing) = 0 then 'pass' else 'fail' end;
  measured := jsonb_build_object('tables_without_forced_rls', to_jsonb(v_missing));
  threshold := jsonb_build_object('tables_without_forced_rls', '[]'::jsonb);
  detail := case when cardinality(v_missing) = 0 then 'row-level security is enabled and forced on every table with a user_id, and on every registered table with its audit triggers'
                 else 'row-level security is not enabled and forced, or a registered table''s audit triggers are missing or disabled, its owner is not compliance_owner, another role may add triggers to it or truncate it, or it runs functions another role owns, on ' || array_to_string(v_missing, ', ') end;
  evidence := 'select relname, relrowsecurity, relforcerowsecurity from pg_class c join pg_namespace n on n.oid = c.relnamespace join pg_attribute a on a.attrelid = c.oid and a.attname = ''user_id'' where n.nspname in (''compliance'', ''compliance_private'') and c.relkind in (''r'', ''p'') and not c.relispartition';
  return next;
end;
$function$;

comment on function compliance_private.check_row_level_security(context jsonb) is
  'Compliance check: every table of ours with a user_id column has row-level security enabled and forced, found from the catalog, so a new table without it fails; so does every registered table of yours, with pgcomply''s three audit triggers enabled, owned by compliance_owner, with nobody else allowed to add triggers or truncate, and running no function another role could change.';

grant select on compliance.personal_data_categories to compliance_dpo, compliance_auditor;
grant select on compliance.personal_tables to compliance_dpo, compliance_auditor;
revoke all on function compliance_private.subject_fits(text, text) from public;
revoke all on function compliance_private.untrusted_code_on(regclass) from public;
revoke all on function compliance_private.erase_registered_rows(text) from public;
revoke all on function compliance_private.registered_rows_of(text) from public;
-- registration is the table owner's, checked inside; the trigger function runs only as a trigger
revoke all on function compliance.record_personal_table(regclass, jsonb) from public;
revoke all on function compliance.record_personal_table_removal(regclass, text) from public;
grant execute on function compliance.record_personal_table(regclass, jsonb) to public;
grant execute on function compliance.record_personal_table_removal(regclass, text) to public;
grant execute on function compliance.personal_table_sql(regclass) to public;
grant execute on function compliance.tg_personal_table_audit() to public;

select compliance_private.record_expected_grants();
