--! Previous: sha1:675451dfb98aad8cc0c6c17a6de15242ae277116
--! Hash: sha1:b2433aef3bf0e28db29121b95a0f57362034f6a8
--! Message: The record of processing activities (Art. 30) and the processing_record check

-- The record of processing activities (GDPR Art. 30): the activities, their purposes and legal
-- bases, the tables they use, the systems and recipients data goes to. The DPO maintains it
-- through routines that audit each change; the processing_record check finds what it lacks.

create table if not exists compliance.processing_systems (
  system text not null,
  name text not null,
  kind text not null,
  country text not null,
  dpa_reference text,
  connector text not null default 'manual',
  endpoint_url text,
  request_kinds text[] not null default array['erasure', 'export', 'rectification', 'restriction'],
  confirm_within interval not null default interval '14 days',
  recorded_at timestamptz not null default now(),
  constraint processing_systems_pkey primary key (system),
  constraint processing_systems_key_shape check (system ~ '^[a-z][a-z0-9_]{0,62}$'),
  constraint processing_systems_name_length check (length(name) between 1 and 200),
  constraint processing_systems_kind_known check (kind in ('identity_provider', 'authorization_store', 'processor', 'analytics', 'other')),
  constraint processing_systems_country_code check (country ~ '^[A-Z]{2}$'),
  constraint processing_systems_dpa_reference_length check (length(dpa_reference) <= 500),
  constraint processing_systems_connector_known check (connector in ('webhook', 'scim', 'manual', 'none')),
  constraint processing_systems_webhook_has_endpoint check ((connector = 'webhook') = (endpoint_url is not null)),
  constraint processing_systems_endpoint_http check (endpoint_url ~ '^https?://[^[:space:]]{1,2000}$'),
  constraint processing_systems_request_kinds_known check (request_kinds <@ array['erasure', 'export', 'rectification', 'restriction']),
  constraint processing_systems_confirm_within_range check (confirm_within between interval '1 hour' and interval '31 days')
);
comment on table compliance.processing_systems is
  'The systems and recipients personal data goes to (GDPR Art. 30(1)(d)): identity provider, authorization store, processors, analytics. A subject''s erasure, export, rectification and restriction reach each one through its connector (Art. 19). Names no person. Changed through compliance.record_processing_system.';
comment on column compliance.processing_systems.system is 'The system''s key (lower case), used by activities, propagation tasks and the callback.';
comment on column compliance.processing_systems.name is 'Its name as the record of processing shows it.';
comment on column compliance.processing_systems.kind is 'identity_provider, authorization_store, processor, analytics or other.';
comment on column compliance.processing_systems.country is 'Where it processes the data (ISO 3166-1 alpha-2). Outside the EEA, each activity sending to it is a transfer and needs a safeguard.';
comment on column compliance.processing_systems.dpa_reference is 'The data processing agreement (GDPR Art. 28): a contract number or a document''s address.';
comment on column compliance.processing_systems.connector is 'How requests reach it: webhook (a signed POST to endpoint_url, confirmed by the answer or a signed callback), scim (SCIM 2.0, configured in the worker''s SCIM_CONNECTORS), manual (the DPO confirms by hand) or none (it receives no requests).';
comment on column compliance.processing_systems.endpoint_url is 'For a webhook: where the worker POSTs each request.';
comment on column compliance.processing_systems.request_kinds is 'Which requests it receives: erasure, export, rectification, restriction.';
comment on column compliance.processing_systems.confirm_within is 'How long it has to confirm a request before the dsr_propagation check fails.';
comment on column compliance.processing_systems.recorded_at is 'When it was last recorded.';

create table if not exists compliance.processing_activities (
  activity text not null,
  name text not null,
  role text not null default 'controller',
  description text not null default '',
  subject_categories text[] not null default '{}',
  retention text,
  security_measures text,
  recorded_at timestamptz not null default now(),
  constraint processing_activities_pkey primary key (activity),
  constraint processing_activities_key_shape check (activity ~ '^[a-z][a-z0-9_]{0,62}$'),
  constraint processing_activities_name_length check (length(name) between 1 and 200),
  constraint processing_activities_role_known check (role in ('controller', 'joint_controller', 'processor')),
  constraint processing_activities_description_length check (length(description) <= 4000),
  constraint processing_activities_retention_length check (length(retention) <= 1000),
  constraint processing_activities_security_measures_length check (length(security_measures) <= 2000)
);
comment on table compliance.processing_activities is
  'The processing activities of the record of processing (GDPR Art. 30(1)). Names no person. Changed through compliance.record_processing_activity.';
comment on column compliance.processing_activities.activity is 'The activity''s key (lower case): compliance.processing_permitted and permitted_subjects take it.';
comment on column compliance.processing_activities.name is 'What the activity is, as a subject and an authority read it.';
comment on column compliance.processing_activities.role is 'Whether we act as controller, joint controller or processor (Art. 30(1) or 30(2)).';
comment on column compliance.processing_activities.description is 'What is done with the data.';
comment on column compliance.processing_activities.subject_categories is 'The categories of data subjects: customers, patients, employees.';
comment on column compliance.processing_activities.retention is 'How long the data is kept (Art. 30(1)(f)); compliance.retention_policies enforces pgcomply''s part.';
comment on column compliance.processing_activities.security_measures is 'A reference to the technical and organisational measures (Art. 32).';
comment on column compliance.processing_activities.recorded_at is 'When the activity was last recorded.';

create table if not exists compliance.processing_activity_purposes (
  activity text not null,
  purpose text not null,
  legal_basis text,
  consent_purpose text,
  direct_marketing boolean not null default false,
  constraint processing_activity_purposes_pkey primary key (activity, purpose),
  constraint processing_activity_purposes_activity_fkey foreign key (activity) references compliance.processing_activities (activity) on delete cascade,
  constraint processing_activity_purposes_consent_purpose_fkey foreign key (consent_purpose) references compliance.consent_purposes (purpose) on delete restrict,
  constraint processing_activity_purposes_purpose_length check (length(purpose) between 1 and 200),
  constraint processing_activity_purposes_legal_basis_known check (legal_basis in ('consent', 'contract', 'legal_obligation', 'vital_interests', 'public_task', 'legitimate_interest')),
  constraint processing_activity_purposes_consent_purpose_for_consent check (consent_purpose is null or legal_basis = 'consent')
);
create index if not exists processing_activity_purposes_consent_purpose_idx on compliance.processing_activity_purposes (consent_purpose);
comment on table compliance.processing_activity_purposes is
  'Each purpose of an activity with its legal basis (GDPR Art. 6(1)). Consent: the subject''s current consent for consent_purpose permits it; legitimate interest and public task: an objection stops it (Art. 21(1)); direct marketing: an objection always stops it (Art. 21(3)). A restriction stops every basis (Art. 18).';
comment on column compliance.processing_activity_purposes.activity is 'The activity.';
comment on column compliance.processing_activity_purposes.purpose is 'The purpose, in words.';
comment on column compliance.processing_activity_purposes.legal_basis is 'consent, contract, legal_obligation, vital_interests, public_task or legitimate_interest. Missing: the processing_record check fails and processing is not permitted.';
comment on column compliance.processing_activity_purposes.consent_purpose is 'For consent: the consent purpose (compliance.consent_purposes) whose current grant permits it.';
comment on column compliance.processing_activity_purposes.direct_marketing is 'Whether the purpose is direct marketing: an objection to it is absolute (Art. 21(3)).';

create table if not exists compliance.processing_activity_tables (
  activity text not null,
  relation regclass not null,
  constraint processing_activity_tables_pkey primary key (activity, relation),
  constraint processing_activity_tables_activity_fkey foreign key (activity) references compliance.processing_activities (activity) on delete cascade
);
create index if not exists processing_activity_tables_relation_idx on compliance.processing_activity_tables (relation);
comment on table compliance.processing_activity_tables is
  'The tables an activity uses: pgcomply''s own or your registered ones. Their categories of data are the activity''s (Art. 30(1)(c)).';
comment on column compliance.processing_activity_tables.activity is 'The activity.';
comment on column compliance.processing_activity_tables.relation is 'A table it uses.';

create table if not exists compliance.processing_activity_recipients (
  activity text not null,
  system text not null,
  transfer_safeguard text,
  constraint processing_activity_recipients_pkey primary key (activity, system),
  constraint processing_activity_recipients_activity_fkey foreign key (activity) references compliance.processing_activities (activity) on delete cascade,
  constraint processing_activity_recipients_system_fkey foreign key (system) references compliance.processing_systems (system) on delete restrict,
  constraint processing_activity_recipients_safeguard_known check (transfer_safeguard in ('adequacy_decision', 'standard_contractual_clauses', 'binding_corporate_rules', 'derogation'))
);
create index if not exists processing_activity_recipients_system_idx on compliance.processing_activity_recipients (system);
comment on table compliance.processing_activity_recipients is
  'The recipients of an activity''s data (Art. 30(1)(d)) and, for one in a third country, the transfer''s safeguard (Art. 30(1)(e), Chapter V).';
comment on column compliance.processing_activity_recipients.activity is 'The activity.';
comment on column compliance.processing_activity_recipients.system is 'The recipient (compliance.processing_systems).';
comment on column compliance.processing_activity_recipients.transfer_safeguard is 'adequacy_decision (Art. 45), standard_contractual_clauses or binding_corporate_rules (Art. 46, 47), or derogation (Art. 49). Needed when the system is outside the EEA.';

alter table compliance.processing_systems enable row level security;
alter table compliance.processing_systems force row level security;
alter table compliance.processing_activities enable row level security;
alter table compliance.processing_activities force row level security;
alter table compliance.processing_activity_purposes enable row level security;
alter table compliance.processing_activity_purposes force row level security;
alter table compliance.processing_activity_tables enable row level security;
alter table compliance.processing_activity_tables force row level security;
alter table compliance.processing_activity_recipients enable row level security;
alter table compliance.processing_activity_recipients force row level security;
-- included from fixtures/processing/processing_systems.owner_routines.sql
-- policy owner_routines on compliance.processing_systems: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance.processing_systems;
create policy owner_routines on compliance.processing_systems as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance.processing_systems is 'The record of processing changes only through the DPO''s routines (compliance.record_processing_activity, record_processing_system and their removals), which audit every change.';

-- included from fixtures/processing/processing_systems.readers.sql
-- policy readers on compliance.processing_systems: its current definition (db/CONVENTIONS.md).

drop policy if exists readers on compliance.processing_systems;
create policy readers on compliance.processing_systems as permissive for select to compliance_dpo, compliance_auditor
  using (true);
comment on policy readers on compliance.processing_systems is 'The DPO and the auditor read the record of processing (it names no person). The privacy center and the worker reach it through routines.';

-- included from fixtures/processing/processing_activities.owner_routines.sql
-- policy owner_routines on compliance.processing_activities: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance.processing_activities;
create policy owner_routines on compliance.processing_activities as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance.processing_activities is 'The record of processing changes only through the DPO''s routines (compliance.record_processing_activity, record_processing_system and their removals), which audit every change.';

-- included from fixtures/processing/processing_activities.readers.sql
-- policy readers on compliance.processing_activities: its current definition (db/CONVENTIONS.md).

drop policy if exists readers on compliance.processing_activities;
create policy readers on compliance.processing_activities as permissive for select to compliance_dpo, compliance_auditor
  using (true);
comment on policy readers on compliance.processing_activities is 'The DPO and the auditor read the record of processing (it names no person). The privacy center and the worker reach it through routines.';

-- included from fixtures/processing/processing_activity_purposes.owner_routines.sql
-- policy owner_routines on compliance.processing_activity_purposes: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance.processing_activity_purposes;
create policy owner_routines on compliance.processing_activity_purposes as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance.processing_activity_purposes is 'The record of processing changes only through the DPO''s routines (compliance.record_processing_activity, record_processing_system and their removals), which audit every change.';

-- included from fixtures/processing/processing_activity_purposes.readers.sql
-- policy readers on compliance.processing_activity_purposes: its current definition (db/CONVENTIONS.md).

drop policy if exists readers on compliance.processing_activity_purposes;
create policy readers on compliance.processing_activity_purposes as permissive for select to compliance_dpo, compliance_auditor
  using (true);
comment on policy readers on compliance.processing_activity_purposes is 'The DPO and the auditor read the record of processing (it names no person). The privacy center and the worker reach it through routines.';

-- included from fixtures/processing/processing_activity_tables.owner_routines.sql
-- policy owner_routines on compliance.processing_activity_tables: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance.processing_activity_tables;
create policy owner_routines on compliance.processing_activity_tables as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance.processing_activity_tables is 'The record of processing changes only through the DPO''s routines (compliance.record_processing_activity, record_processing_system and their removals), which audit every change.';

-- included from fixtures/processing/processing_activity_tables.readers.sql
-- policy readers on compliance.processing_activity_tables: its current definition (db/CONVENTIONS.md).

drop policy if exists readers on compliance.processing_activity_tables;
create policy readers on compliance.processing_activity_tables as permissive for select to compliance_dpo, compliance_auditor
  using (true);
comment on policy readers on compliance.processing_activity_tables is 'The DPO and the auditor read the record of processing (it names no person). The privacy center and the worker reach it through routines.';

-- included from fixtures/processing/processing_activity_recipients.owner_routines.sql
-- policy owner_routines on compliance.processing_activity_recipients: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance.processing_activity_recipients;
create policy owner_routines on compliance.processing_activity_recipients as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance.processing_activity_recipients is 'The record of processing changes only through the DPO''s routines (compliance.record_processing_activity, record_processing_system and their removals), which audit every change.';

-- included from fixtures/processing/processing_activity_recipients.readers.sql
-- policy readers on compliance.processing_activity_recipients: its current definition (db/CONVENTIONS.md).

drop policy if exists readers on compliance.processing_activity_recipients;
create policy readers on compliance.processing_activity_recipients as permissive for select to compliance_dpo, compliance_auditor
  using (true);
comment on policy readers on compliance.processing_activity_recipients is 'The DPO and the auditor read the record of processing (it names no person). The privacy center and the worker reach it through routines.';

grant select on compliance.processing_systems, compliance.processing_activities, compliance.processing_activity_purposes,
  compliance.processing_activity_tables, compliance.processing_activity_recipients to compliance_dpo, compliance_auditor;

-- included from fixtures/processing/eea_countries.sql
-- compliance_private.eea_countries(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.eea_countries()
 RETURNS text[]
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select array['AT', 'BE', 'BG', 'HR', 'CY', 'CZ', 'DK', 'EE', 'FI', 'FR', 'DE', 'GR', 'HU', 'IE', 'IT', 'LV', 'LT', 'LU',
               'MT', 'NL', 'PL', 'PT', 'RO', 'SK', 'SI', 'ES', 'SE', 'IS', 'LI', 'NO'];
$function$;

comment on function compliance_private.eea_countries() is
  'The countries of the European Economic Area (ISO 3166-1 alpha-2): a recipient elsewhere is a transfer to a third country (GDPR Chapter V) and needs a safeguard in the record of processing. Greece is GR here, as ISO writes it.';

-- included from fixtures/processing/record_processing_system.sql
-- compliance.record_processing_system(system text, name text, kind text, country text, dpa_reference text, connector text, endpoint_url text, request_kinds text[], confirm_within interval): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.record_processing_system(system text, name text, kind text, country text, dpa_reference text DEFAULT NULL::text, connector text DEFAULT 'manual'::text, endpoint_url text DEFAULT NULL::text, request_kinds text[] DEFAULT ARRAY['erasure'::text, 'export'::text, 'rectification'::text, 'restriction'::text], confirm_within interval DEFAULT '14 days'::interval)
 RETURNS compliance.processing_systems
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_row compliance.processing_systems;
  v_before compliance.processing_systems;
begin
  select * into v_before from compliance.processing_systems s where s.system = record_processing_system.system;
  begin
    insert into compliance.processing_systems as s (system, name, kind, country, dpa_reference, connector, endpoint_url, request_kinds, confirm_within)
    values (record_processing_system.system, trim(record_processing_system.name), record_processing_system.kind, upper(record_processing_system.country),
            nullif(trim(record_processing_system.dpa_reference), ''), coalesce(record_processing_system.connector, 'manual'),
            nullif(trim(record_processing_system.endpoint_url), ''),
            coalesce(record_processing_system.request_kinds, array['erasure', 'export', 'rectification', 'restriction']),
            coalesce(record_processing_system.confirm_within, interval '14 days'))
    on conflict on constraint processing_systems_pkey do update
      set name = excluded.name, kind = excluded.kind, country = excluded.country, dpa_reference = excluded.dpa_reference,
          connector = excluded.connector, endpoint_url = excluded.endpoint_url, request_kinds = excluded.request_kinds,
          confirm_within = excluded.confirm_within, recorded_at = now()
    returning s.* into v_row;
  exception when check_violation or not_null_violation then
    perform compliance_private.raise_error('BADRG', format('the system is not valid (%s)', sqlerrm),
      'A system has a key (lower case), a name, a kind (identity_provider, authorization_store, processor, analytics, other), a two-letter country, a connector (webhook with its endpoint_url, scim, manual or none), request kinds among erasure, export, rectification, restriction, and confirm_within between 1 hour and 31 days.');
  end;
  perform compliance_private.append_audit('processing_record.system_recorded', 'gdpr', 'processing_system', v_row.system,
    jsonb_build_object('created', v_before.system is null, 'kind', v_row.kind, 'country', v_row.country, 'connector', v_row.connector,
      'endpoint_changed', v_before.endpoint_url is distinct from v_row.endpoint_url, 'request_kinds', to_jsonb(v_row.request_kinds)));
  return v_row;
end;
$function$;

comment on function compliance.record_processing_system(system text, name text, kind text, country text, dpa_reference text, connector text, endpoint_url text, request_kinds text[], confirm_within interval) is
  'DPO: records or replaces a system or recipient that receives personal data (GDPR Art. 30(1)(d)): its kind, country (a third country makes each activity sending to it a transfer), data processing agreement (Art. 28), and how a subject''s requests reach it (Art. 19): connector webhook (a signed POST to endpoint_url), scim (SCIM 2.0, the worker''s SCIM_CONNECTORS names its address and token), manual (the DPO confirms by hand) or none (it receives no requests), for request_kinds, to be confirmed within confirm_within. Audited (processing_record.system_recorded). Errors: BADRG.';

-- included from fixtures/processing/remove_processing_system.sql
-- compliance.remove_processing_system(system text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.remove_processing_system(system text)
 RETURNS void
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  begin
    delete from compliance.processing_systems s where s.system = remove_processing_system.system;
  exception when foreign_key_violation then
    perform compliance_private.raise_error('PRUSE', format('system %s is still a recipient of an activity or has requests sent to it', system),
      'Remove it from the activities first (compliance.record_processing_activity); the requests it was sent stay on record with it.');
  end;
  if not found then
    perform compliance_private.raise_error('PRSYS', format('no system %L in the record of processing', system));
  end if;
  perform compliance_private.append_audit('processing_record.system_removed', 'gdpr', 'processing_system', system, '{}');
end;
$function$;

comment on function compliance.remove_processing_system(system text) is
  'DPO: removes a system from the record of processing. Audited (processing_record.system_removed). Errors: PRSYS unknown, PRUSE still a recipient or sent requests.';

-- included from fixtures/processing/record_processing_activity.sql
-- compliance.record_processing_activity(activity text, name text, purposes jsonb, tables text[], recipients jsonb, role text, description text, subject_categories text[], retention text, security_measures text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.record_processing_activity(activity text, name text, purposes jsonb, tables text[] DEFAULT '{}'::text[], recipients jsonb DEFAULT '[]'::jsonb, role text DEFAULT 'controller'::text, description text DEFAULT ''::text, subject_categories text[] DEFAULT '{}'::text[], retention text DEFAULT NULL::text, security_measures text DEFAULT NULL::text)
 RETURNS compliance.processing_activities
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_row compliance.processing_activities;
  v_created boolean;
  v_item jsonb;
  v_table text;
  v_relation regclass;
begin
  if jsonb_typeof(purposes) is distinct from 'array' or jsonb_typeof(coalesce(recipients, '[]')) <> 'array' then
    perform compliance_private.raise_error('BADRG', 'purposes and recipients are JSON arrays',
      'purposes: [{"purpose": "newsletter", "legal_basis": "consent", "consent_purpose": "marketing", "direct_marketing": true}]; recipients: [{"system": "mailer", "transfer_safeguard": "standard_contractual_clauses"}]');
  end if;
  v_created := not exists (select from compliance.processing_activities a where a.activity = record_processing_activity.activity);
  begin
    insert into compliance.processing_activities as a (activity, name, role, description, subject_categories, retention, security_measures)
    values (record_processing_activity.activity, trim(record_processing_activity.name), coalesce(record_processing_activity.role, 'controller'),
            coalesce(trim(record_processing_activity.description), ''), coalesce(record_processing_activity.subject_categories, '{}'),
            nullif(trim(record_processing_activity.retention), ''), nullif(trim(record_processing_activity.security_measures), ''))
    on conflict on constraint processing_activities_pkey do update
      set name = excluded.name, role = excluded.role, description = excluded.description, subject_categories = excluded.subject_categories,
          retention = excluded.retention, security_measures = excluded.security_measures, recorded_at = now()
    returning a.* into v_row;
    -- the activity is replaced whole: what the DPO sends is the record
    delete from compliance.processing_activity_purposes p where p.activity = v_row.activity;
    delete from compliance.processing_activity_tables t where t.activity = v_row.activity;
    delete from compliance.processing_activity_recipients r where r.activity = v_row.activity;
    for v_item in select x from jsonb_array_elements(purposes) x loop
      if jsonb_typeof(v_item) <> 'object' or exists (select from jsonb_object_keys(v_item) k
                                                      where k not in ('purpose', 'legal_basis', 'consent_purpose', 'direct_marketing')) then
        perform compliance_private.raise_error('BADRG', 'a purpose is {"purpose", "legal_basis", "consent_purpose", "direct_marketing"}');
      end if;
      insert into compliance.processing_activity_purposes (activity, purpose, legal_basis, consent_purpose, direct_marketing)
      values (v_row.activity, v_item->>'purpose', v_item->>'legal_basis', v_item->>'consent_purpose', coalesce((v_item->>'direct_marketing')::boolean, false));
    end loop;
    foreach v_table in array coalesce(tables, '{}') loop
      v_relation := to_regclass(v_table);
      if v_relation is null then
        perform compliance_private.raise_error('BADRG', format('no table %L (give it as schema.table)', v_table));
      end if;
      insert into compliance.processing_activity_tables (activity, relation) values (v_row.activity, v_relation)
      on conflict on constraint processing_activity_tables_pkey do nothing;
    end loop;
    for v_item in select x from jsonb_array_elements(coalesce(recipients, '[]')) x loop
      if jsonb_typeof(v_item) <> 'object' or exists (select from jsonb_object_keys(v_item) k where k not in ('system', 'transfer_safeguard')) then
        perform compliance_private.raise_error('BADRG', 'a recipient is {"system", "transfer_safeguard"}');
      end if;
      insert into compliance.processing_activity_recipients (activity, system, transfer_safeguard)
      values (v_row.activity, v_item->>'system', v_item->>'transfer_safeguard');
    end loop;
  exception
    when foreign_key_violation then
      perform compliance_private.raise_error('BADRG', format('the activity names something unknown (%s)', sqlerrm),
        'A recipient is a system of compliance.record_processing_system; a consent_purpose is one of compliance.consent_purposes.');
    when check_violation or not_null_violation or unique_violation or invalid_text_representation then
      perform compliance_private.raise_error('BADRG', format('the activity is not valid (%s)', sqlerrm),
        'An activity has a key (lower case), a name, a role (controller, joint_controller, processor), each purpose once with a legal basis (consent, contract, legal_obligation, vital_interests, public_task, legitimate_interest), a consent_purpose only for consent, each recipient once with a transfer_safeguard (adequacy_decision, standard_contractual_clauses, binding_corporate_rules, derogation) where it is in a third country.');
  end;
  perform compliance_private.append_audit('processing_record.activity_recorded', 'gdpr', 'processing_activity', v_row.activity,
    jsonb_build_object('created', v_created,
      'purposes', (select coalesce(jsonb_agg(jsonb_build_object('purpose', p.purpose, 'legal_basis', p.legal_basis) order by p.purpose), '[]')
                     from compliance.processing_activity_purposes p where p.activity = v_row.activity),
      'tables', (select coalesce(jsonb_agg(t.relation::text order by t.relation::text), '[]') from compliance.processing_activity_tables t where t.activity = v_row.activity),
      'recipients', (select coalesce(jsonb_agg(r.system order by r.system), '[]') from compliance.processing_activity_recipients r where r.activity = v_row.activity)));
  return v_row;
end;
$function$;

comment on function compliance.record_processing_activity(activity text, name text, purposes jsonb, tables text[], recipients jsonb, role text, description text, subject_categories text[], retention text, security_measures text) is
  'DPO: records or replaces one processing activity of the record of processing (GDPR Art. 30(1)): its purposes, each with its legal basis (Art. 6(1)) and, for consent, the consent purpose that grants it, direct_marketing where it is (an objection to it is absolute, Art. 21(3)); the tables it uses (schema.table: pgcomply''s own or your registered ones, their columns'' categories are the categories of data); its recipients (systems of compliance.record_processing_system) with the safeguard of a transfer to a third country; the categories of subjects, the retention and the security measures. compliance.processing_permitted enforces it. Audited (processing_record.activity_recorded). Errors: BADRG.';

-- included from fixtures/processing/remove_processing_activity.sql
-- compliance.remove_processing_activity(activity text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.remove_processing_activity(activity text)
 RETURNS void
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  delete from compliance.processing_activities a where a.activity = remove_processing_activity.activity;
  if not found then
    perform compliance_private.raise_error('PRACT', format('no processing activity %L', activity));
  end if;
  perform compliance_private.append_audit('processing_record.activity_removed', 'gdpr', 'processing_activity', activity, '{}');
end;
$function$;

comment on function compliance.remove_processing_activity(activity text) is
  'DPO: removes a processing activity from the record (its purposes, tables and recipients with it). Audited (processing_record.activity_removed). Errors: PRACT unknown.';

-- included from fixtures/processing/personal_data_tables.sql
-- compliance_private.personal_data_tables(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.personal_data_tables()
 RETURNS TABLE(relation regclass, source text, holds_rows boolean)
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_table record;
begin
  -- pgcomply's own: every table of the public schema with a subject (the row_level_security
  -- check's population), and your registered tables
  for v_table in
    select c.oid::regclass as relation, 'pgcomply'::text as source
      from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     where n.nspname = 'compliance' and c.relkind in ('r', 'p') and not c.relispartition
       and exists (select from pg_catalog.pg_attribute a where a.attrelid = c.oid and a.attname = 'user_id' and not a.attisdropped)
    union all
    select p.relation, 'registered' from compliance.personal_tables p
    order by 1
  loop
    relation := v_table.relation;
    source := v_table.source;
    -- a table holds personal data once it holds a row: an empty table is not processing yet
    execute format('select exists (select from %s)', v_table.relation) into holds_rows;
    return next;
  end loop;
end;
$function$;

comment on function compliance_private.personal_data_tables() is
  'The tables that hold personal data, for the record of processing: pgcomply''s own tables with a subject and your registered tables, each with whether it holds any row now.';

-- included from fixtures/processing/table_data_categories.sql
-- compliance_private.table_data_categories(relation regclass): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.table_data_categories(relation regclass)
 RETURNS text[]
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select coalesce(
    -- yours: the categories registration gave each personal column
    (select array_agg(distinct c.value order by c.value) from compliance.personal_tables p, jsonb_each_text(p.personal_columns) c
      where p.relation = table_data_categories.relation),
    -- pgcomply's own, as its tables hold them
    case relation::text
      when 'compliance.user_profiles' then array['contact', 'identifier']
      when 'compliance.user_preferences' then array['other']
      when 'compliance.consent_records' then array['identifier', 'online']
      when 'compliance.conversations' then array['free_text', 'identifier']
      when 'compliance.messages' then array['free_text']
      when 'compliance.sessions' then array['identifier', 'online']
      when 'compliance.health_records' then array['health']
      when 'compliance.audit_logs' then array['identifier', 'online']
      else array['identifier'] end);
$function$;

comment on function compliance_private.table_data_categories(relation regclass) is
  'The categories of personal data a table holds, for the record of processing: a registered table''s from its registration (compliance.personal_data_categories), pgcomply''s own as pgcomply stores them (health: the encrypted health records, GDPR Art. 9).';

-- included from fixtures/processing/processing_record_gaps.sql
-- compliance_private.processing_record_gaps(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.processing_record_gaps()
 RETURNS TABLE(gap text, activity text, subject text, detail text)
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select 'table_in_no_activity', null::text, t.relation::text,
         format('%s holds personal data and no processing activity names it', t.relation)
    from compliance_private.personal_data_tables() t
   where t.holds_rows and not exists (select from compliance.processing_activity_tables x where x.relation = t.relation)
  union all
  select 'no_legal_basis', a.activity, a.activity,
         case when not exists (select from compliance.processing_activity_purposes p where p.activity = a.activity)
              then format('activity %s has no purpose, so no legal basis', a.activity)
              else format('activity %s has a purpose without a legal basis', a.activity) end
    from compliance.processing_activities a
   where not exists (select from compliance.processing_activity_purposes p where p.activity = a.activity)
      or exists (select from compliance.processing_activity_purposes p where p.activity = a.activity and p.legal_basis is null)
  union all
  select 'transfer_without_safeguard', r.activity, r.system,
         format('activity %s sends data to %s in %s, a third country, with no safeguard', r.activity, r.system, s.country)
    from compliance.processing_activity_recipients r join compliance.processing_systems s on s.system = r.system
   where r.transfer_safeguard is null and not s.country = any (compliance_private.eea_countries())
  union all
  select 'consent_without_purpose', p.activity, p.purpose,
         format('activity %s relies on consent for %s and names no consent purpose that a subject could give', p.activity, p.purpose)
    from compliance.processing_activity_purposes p
   where p.legal_basis = 'consent' and p.consent_purpose is null
  order by 1, 2, 3;
$function$;

comment on function compliance_private.processing_record_gaps() is
  'What the record of processing lacks: a table holding personal data in no activity, an activity without a legal basis, a transfer to a third country without a safeguard, a consent-based purpose without a consent purpose. The processing_record check fails on any; the record shows them.';

-- included from fixtures/processing/processing_record.sql
-- compliance.processing_record(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.processing_record()
 RETURNS jsonb
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select jsonb_build_object(
    'generated_at', now(),
    'activities', coalesce((
      select jsonb_agg(jsonb_build_object(
        'activity', a.activity, 'name', a.name, 'role', a.role, 'description', a.description,
        'subject_categories', to_jsonb(a.subject_categories),
        'purposes', coalesce((select jsonb_agg(jsonb_build_object('purpose', p.purpose, 'legal_basis', p.legal_basis,
                                  'consent_purpose', p.consent_purpose, 'direct_marketing', p.direct_marketing) order by p.purpose)
                                from compliance.processing_activity_purposes p where p.activity = a.activity), '[]'),
        'data', coalesce((select jsonb_agg(jsonb_build_object('table', t.relation::text,
                              'categories', to_jsonb(compliance_private.table_data_categories(t.relation))) order by t.relation::text)
                            from compliance.processing_activity_tables t where t.activity = a.activity), '[]'),
        'recipients', coalesce((select jsonb_agg(jsonb_build_object('system', s.system, 'name', s.name, 'kind', s.kind, 'country', s.country,
                                    'third_country', not s.country = any (compliance_private.eea_countries()),
                                    'transfer_safeguard', r.transfer_safeguard, 'dpa_reference', s.dpa_reference) order by s.system)
                                  from compliance.processing_activity_recipients r join compliance.processing_systems s on s.system = r.system
                                 where r.activity = a.activity), '[]'),
        'retention', a.retention, 'security_measures', a.security_measures, 'recorded_at', a.recorded_at) order by a.activity)
        from compliance.processing_activities a), '[]'),
    'systems', coalesce((
      select jsonb_agg(jsonb_build_object('system', s.system, 'name', s.name, 'kind', s.kind, 'country', s.country,
        'dpa_reference', s.dpa_reference, 'connector', s.connector, 'request_kinds', to_jsonb(s.request_kinds),
        'confirm_within', s.confirm_within::text, 'recorded_at', s.recorded_at) order by s.system)
        from compliance.processing_systems s), '[]'),
    'gaps', coalesce((select jsonb_agg(jsonb_build_object('gap', g.gap, 'activity', g.activity, 'subject', g.subject, 'detail', g.detail))
                        from compliance_private.processing_record_gaps() g), '[]'));
$function$;

comment on function compliance.processing_record() is
  'The record of processing activities (GDPR Art. 30) as one JSON document: each activity with its purposes and legal bases, its tables and their categories of data, its recipients with their country, transfer safeguard and data processing agreement, its retention and security measures; every system requests reach; and the gaps the processing_record check fails on. GET /api/v1/dpo/processing-record renders it as JSON, CSV or HTML. DPO and auditor.';

-- included from fixtures/processing/check_processing_record.sql
-- compliance_private.check_processing_record(context jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.check_processing_record(context jsonb)
 RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_gaps jsonb;
  v_activities bigint := (select count(*) from compliance.processing_activities);
  v_tables bigint := (select count(*) from compliance_private.personal_data_tables() t where t.holds_rows);
begin
  select coalesce(jsonb_agg(jsonb_build_object('gap', g.gap, 'activity', g.activity, 'subject', g.subject)), '[]'), string_agg(g.detail, '; ')
    into v_gaps, detail
    from compliance_private.processing_record_gaps() g;
  measured := jsonb_build_object('activities', v_activities, 'tables_holding_personal_data', v_tables, 'gaps', v_gaps);
  threshold := jsonb_build_object('gaps', '[]'::jsonb);
  evidence := 'select * from compliance.processing_record()';
  if jsonb_array_length(v_gaps) > 0 then
    status := 'fail';
  elsif v_tables = 0 then
    status := 'not_applicable';
    detail := 'no table holds personal data yet: there is no processing to record';
  else
    status := 'pass';
    detail := format('%s processing activities cover the %s tables holding personal data, each with a legal basis, a consent purpose where it rests on consent, and a safeguard for every transfer', v_activities, v_tables);
  end if;
  return next;
end;
$function$;

comment on function compliance_private.check_processing_record(context jsonb) is
  'Compliance check: the record of processing activities (GDPR Art. 30) is complete: every table holding personal data (pgcomply''s and your registered ones, with a row) is in an activity, every activity has a legal basis for each purpose, every consent-based purpose names its consent purpose, and every recipient in a third country has a safeguard (compliance_private.processing_record_gaps). Not applicable while no table holds a row.';

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
                                'master_key_age', 'backup_age', 'anchors', 'worker_heartbeat', 'uptime', 'outside_the_database', 'privileged_mfa', 'wal_archive_lag', 'restore_drill', 'data_map', 'processing_record'] loop
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

-- pgcomply's own records, kept because the law requires them: the DPO edits this activity like
-- any other, and adds the product's own
insert into compliance.processing_activities (activity, name, role, description, subject_categories, retention, security_measures)
values ('pgcomply_records', 'Records the law requires us to keep', 'controller',
  'The audit trail of who did what with personal data, the register of data subject requests, legal holds, proof of consent, access grants to health records, breach notifications and the alerts about them.',
  array['customers', 'patients', 'workforce'], 'Audit trail, consent proof and requests: 7 years (compliance.retention_policies); holds until released.',
  'pgcomply: row-level security, a hash-chained audit log, encrypted health records (db/README.md)')
on conflict on constraint processing_activities_pkey do nothing;
insert into compliance.processing_activity_purposes (activity, purpose, legal_basis)
values ('pgcomply_records', 'Accountability and proof of compliance (GDPR Art. 5(2), 7(1), 30, 33; HIPAA §164.312(b))', 'legal_obligation')
on conflict on constraint processing_activity_purposes_pkey do nothing;
insert into compliance.processing_activity_tables (activity, relation)
select 'pgcomply_records', r from unnest(array['compliance.audit_logs', 'compliance.dsr_requests', 'compliance.legal_holds', 'compliance.consent_records',
  'compliance.access_grants', 'compliance.breach_subjects', 'compliance.alert_outbox']::regclass[]) r
on conflict on constraint processing_activity_tables_pkey do nothing;

revoke all on function compliance.record_processing_system(text, text, text, text, text, text, text, text[], interval) from public;
revoke all on function compliance.remove_processing_system(text) from public;
revoke all on function compliance.record_processing_activity(text, text, jsonb, text[], jsonb, text, text, text[], text, text) from public;
revoke all on function compliance.remove_processing_activity(text) from public;
revoke all on function compliance.processing_record() from public;
grant execute on function compliance.record_processing_system(text, text, text, text, text, text, text, text[], interval) to compliance_dpo;
grant execute on function compliance.remove_processing_system(text) to compliance_dpo;
grant execute on function compliance.record_processing_activity(text, text, jsonb, text[], jsonb, text, text, text[], text, text) to compliance_dpo;
grant execute on function compliance.remove_processing_activity(text) to compliance_dpo;
grant execute on function compliance.processing_record() to compliance_dpo, compliance_auditor;
revoke all on function compliance_private.eea_countries() from public;
revoke all on function compliance_private.personal_data_tables() from public;
revoke all on function compliance_private.table_data_categories(regclass) from public;
revoke all on function compliance_private.processing_record_gaps() from public;
revoke all on function compliance_private.check_processing_record(jsonb) from public;

select compliance_private.record_expected_grants();
