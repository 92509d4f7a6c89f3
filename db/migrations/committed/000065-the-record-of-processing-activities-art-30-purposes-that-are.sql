--! Previous: sha1:675451dfb98aad8cc0c6c17a6de15242ae277116
--! Hash: sha1:e3c9d9e47d31ae3dafe63e316343e9ee21ce5c3c
--! Message: The record of processing activities (Art. 30), purposes that are enforced, and requests that reach every other system

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
  constraint processing_systems_endpoint_http check (endpoint_url ~ '^https?://[^[:space:]]+$' and length(endpoint_url) <= 2000),
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
  constraint processing_activity_purposes_of_activity foreign key (activity) references compliance.processing_activities (activity) on delete cascade,
  constraint processing_activity_purposes_consent_purpose_known foreign key (consent_purpose) references compliance.consent_purposes (purpose) on delete restrict,
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
  constraint processing_activity_tables_of_activity foreign key (activity) references compliance.processing_activities (activity) on delete cascade
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
  constraint processing_activity_recipients_of_activity foreign key (activity) references compliance.processing_activities (activity) on delete cascade,
  constraint processing_activity_recipients_system_known foreign key (system) references compliance.processing_systems (system) on delete restrict,
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
 RETURNS TABLE(relation regclass, source text)
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  -- pgcomply's own: every table of the public schema with a subject (the row_level_security
  -- check's population), and your registered tables
  select c.oid::regclass, 'pgcomply'::text
    from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
   where n.nspname = 'compliance' and c.relkind in ('r', 'p') and not c.relispartition
     and exists (select from pg_catalog.pg_attribute a where a.attrelid = c.oid and a.attname = 'user_id' and not a.attisdropped)
  union all
  select p.relation, 'registered' from compliance.personal_tables p
  order by 1;
$function$;

comment on function compliance_private.personal_data_tables() is
  'The tables that hold personal data: pgcomply''s own tables with a subject and your registered tables. The record of processing, pgaudit''s object audit and the privileges check share this list; compliance_private.holds_rows says whether one holds any row now.';

-- included from fixtures/processing/holds_rows.sql
-- compliance_private.holds_rows(relation regclass): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.holds_rows(relation regclass)
 RETURNS boolean
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_found boolean;
begin
  -- a table pgcomply may not read is taken to hold some: the record must name it
  if not pg_catalog.has_table_privilege(relation, 'SELECT') then
    return true;
  end if;
  execute format('select exists (select from %s)', relation) into v_found;
  return v_found;
end;
$function$;

comment on function compliance_private.holds_rows(relation regclass) is
  'Whether a table holds any row now (one it may not read counts as holding some): a table holds personal data for the record of processing once it holds a row.';

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
   where not exists (select from compliance.processing_activity_tables x where x.relation = t.relation)
     and compliance_private.holds_rows(t.relation)
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
  v_tables bigint := (select count(*) from compliance_private.personal_data_tables() t where compliance_private.holds_rows(t.relation));
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
revoke all on function compliance_private.holds_rows(regclass) from public;
revoke all on function compliance_private.table_data_categories(regclass) from public;
revoke all on function compliance_private.processing_record_gaps() from public;
revoke all on function compliance_private.check_processing_record(jsonb) from public;


-- Purposes that are enforced: compliance.processing_permitted and permitted_subjects answer from
-- each activity's legal bases, the subject's consent, objections (Art. 21) and restrictions
-- (Art. 18), which take effect in the transaction that records them.

alter table compliance.dsr_requests add column if not exists processing_activity text;
comment on column compliance.dsr_requests.processing_activity is 'For an objection: the processing activity objected to (compliance.processing_activities; NULL: every activity on legitimate interest or public task).';
grant select (processing_activity) on compliance.dsr_requests to compliance_app, compliance_dpo;
-- a request is closed by compliance.complete_dsr, which puts an objection or a restriction in force
revoke update (status, completed_at, handled_by) on compliance.dsr_requests from compliance_dpo;

create table if not exists compliance.processing_limits (
  id bigint generated always as identity,
  user_id text not null,
  kind text not null,
  activity text,
  request_id bigint,
  started_at timestamptz not null default now(),
  lifted_at timestamptz,
  lift_reason text,
  constraint processing_limits_pkey primary key (id),
  constraint processing_limits_subject_profile foreign key (user_id) references compliance.user_profiles (user_id) on delete cascade,
  constraint processing_limits_from_request foreign key (request_id) references compliance.dsr_requests (id) on delete set null,
  constraint processing_limits_kind_known check (kind in ('objection', 'restriction')),
  constraint processing_limits_restriction_whole check (kind = 'objection' or activity is null),
  constraint processing_limits_lift_reason_length check (length(lift_reason) <= 1000),
  constraint processing_limits_lifted_after_start check (lifted_at is null or lifted_at >= started_at)
);
create index if not exists processing_limits_in_force_idx on compliance.processing_limits (user_id, kind) where lifted_at is null;
create index if not exists processing_limits_user_id_idx on compliance.processing_limits (user_id);
create index if not exists processing_limits_request_id_idx on compliance.processing_limits (request_id);
comment on table compliance.processing_limits is
  'Objections (GDPR Art. 21) and restrictions (Art. 18) of a subject, in force until lifted. An objection names its activity by key, without a foreign key, so that it outlives the activity''s removal and applies again if the activity comes back. Erased with the subject.';
comment on column compliance.processing_limits.id is 'The objection or restriction.';
comment on column compliance.processing_limits.user_id is 'Personal: the subject.';
comment on column compliance.processing_limits.kind is 'objection (to one activity, or to all on legitimate interest when activity is NULL) or restriction (of all processing).';
comment on column compliance.processing_limits.activity is 'For an objection: the activity objected to.';
comment on column compliance.processing_limits.request_id is 'The data subject request it came from.';
comment on column compliance.processing_limits.started_at is 'When it took effect.';
comment on column compliance.processing_limits.lifted_at is 'When it was lifted (the subject withdrew an objection, or the DPO lifted it); NULL while in force.';
comment on column compliance.processing_limits.lift_reason is 'Personal: why it was lifted.';
comment on sequence compliance.processing_limits_id_seq is 'Identifiers of processing_limits rows.';
alter table compliance.processing_limits enable row level security;
alter table compliance.processing_limits force row level security;
-- included from fixtures/processing/processing_limits.owner_routines.sql
-- policy owner_routines on compliance.processing_limits: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance.processing_limits;
create policy owner_routines on compliance.processing_limits as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance.processing_limits is 'Objections and restrictions are recorded and lifted only by the routines (object_to_processing, restrict_processing, complete_dsr, lift_processing_limit), which audit each, and deleted by erasure.';

-- included from fixtures/processing/processing_limits.subject_own_rows.sql
-- policy subject_own_rows on compliance.processing_limits: its current definition (db/CONVENTIONS.md).

drop policy if exists subject_own_rows on compliance.processing_limits;
create policy subject_own_rows on compliance.processing_limits as permissive for select to compliance_app
  using ((user_id = ( SELECT compliance.current_subject() AS current_subject)));
comment on policy subject_own_rows on compliance.processing_limits is 'A subject sees its own objections and restrictions.';

-- included from fixtures/processing/processing_limits.dpo_every_subject.sql
-- policy dpo_every_subject on compliance.processing_limits: its current definition (db/CONVENTIONS.md).

drop policy if exists dpo_every_subject on compliance.processing_limits;
create policy dpo_every_subject on compliance.processing_limits as permissive for select to compliance_dpo
  using (true);
comment on policy dpo_every_subject on compliance.processing_limits is 'The DPO sees every objection and restriction; changes go through the routines.';

grant select on compliance.processing_limits to compliance_app, compliance_dpo;

-- included from fixtures/processing/require_activity.sql
-- compliance_private.require_activity(activity text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.require_activity(activity text)
 RETURNS void
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  if not exists (select from compliance.processing_activities a where a.activity = require_activity.activity) then
    perform compliance_private.raise_error('PRACT', format('no processing activity %L', coalesce(activity, 'NULL')),
      'See compliance.processing_record() for the activities; the DPO records one with compliance.record_processing_activity.');
  end if;
end;
$function$;

comment on function compliance_private.require_activity(activity text) is
  'Raises PRACT unless the processing activity exists.';

-- included from fixtures/processing/permitted_subjects_of.sql
-- compliance_private.permitted_subjects_of(activity text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.permitted_subjects_of(activity text)
 RETURNS SETOF text
 LANGUAGE sql
 STABLE PARALLEL SAFE
-- a SQL-standard body: its names are bound now, and the planner inlines it into the caller's
-- query, so one subject's answer (where user_id = …) is a few index probes and a list one scan
BEGIN ATOMIC
  SELECT s.user_id
    FROM compliance.user_profiles s
   -- no purpose, no legal basis: nothing is permitted
   WHERE EXISTS (SELECT FROM compliance.processing_activity_purposes p WHERE p.activity = permitted_subjects_of.activity)
     -- a restriction stops every basis (Art. 18)
     AND NOT EXISTS (SELECT FROM compliance.processing_limits l
                      WHERE l.user_id = s.user_id AND l.kind = 'restriction' AND l.lifted_at IS NULL)
     AND NOT EXISTS (
       SELECT FROM compliance.processing_activity_purposes p
        WHERE p.activity = permitted_subjects_of.activity
          AND (p.legal_basis IS NULL
               -- consent: the subject's consent in force for the consent purpose (Art. 6(1)(a), 7(3))
               OR (p.legal_basis = 'consent'
                   AND NOT COALESCE((SELECT c.granted FROM compliance.consent_records c
                                      WHERE c.user_id = s.user_id AND c.purpose = p.consent_purpose
                                      ORDER BY c.recorded_at DESC, c.id DESC LIMIT 1), false))
               -- an objection stops legitimate interest and public task (Art. 21(1)), and direct
               -- marketing whatever its basis (Art. 21(3))
               OR ((p.legal_basis IN ('legitimate_interest', 'public_task') OR p.direct_marketing)
                   AND EXISTS (SELECT FROM compliance.processing_limits l
                                WHERE l.user_id = s.user_id AND l.kind = 'objection' AND l.lifted_at IS NULL
                                  AND (l.activity = p.activity OR l.activity IS NULL)))));
END;

comment on function compliance_private.permitted_subjects_of(activity text) is
  'The one definition of who an activity may process: the activity has purposes, each with a legal basis; consent: the subject''s current consent for its consent purpose; legitimate interest, public task and direct marketing: no objection in force (to this activity or to all); and no restriction in force. compliance.processing_permitted (filtered to one subject), permitted_subjects and subject_processing all read it.';

-- included from fixtures/processing/processing_permitted.sql
-- compliance.processing_permitted(user_id text, activity text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.processing_permitted(user_id text, activity text)
 RETURNS boolean
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  perform compliance_private.require_activity(activity);
  if compliance_private.acting_for_one_subject() and user_id is distinct from compliance.current_subject() then
    perform compliance_private.raise_error('OTHSJ', 'the app role may ask only about the subject it acts for');
  end if;
  return exists (select from compliance_private.permitted_subjects_of(activity) s where s = processing_permitted.user_id);
end;
$function$;

comment on function compliance.processing_permitted(user_id text, activity text) is
  'Whether the activity may process the subject now, from its legal bases (compliance_private.permitted_subjects_of): consent in force, no objection, no restriction. False for an unknown or erased subject. Call it before each processing; one index probe per purpose. The app may ask about its own subject only (OTHSJ). Errors: PRACT unknown activity, OTHSJ.';

-- included from fixtures/processing/permitted_subjects.sql
-- compliance.permitted_subjects(activity text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.permitted_subjects(activity text)
 RETURNS TABLE(user_id text)
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  perform compliance_private.require_activity(activity);
  return query select s from compliance_private.permitted_subjects_of(activity) s order by 1;
end;
$function$;

comment on function compliance.permitted_subjects(activity text) is
  'The subjects the activity may process now, e.g. a mailing list: select user_id from compliance.permitted_subjects(''marketing''). A withdrawal, objection or restriction takes effect in the transaction that records it. The DPO and the worker may call it; grant execute to your own application''s role to let it build lists (it returns user ids only). Errors: PRACT unknown activity.';

-- included from fixtures/processing/start_processing_limit.sql
-- compliance_private.start_processing_limit(user_id text, kind text, activity text, request_id bigint): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.start_processing_limit(user_id text, kind text, activity text, request_id bigint)
 RETURNS bigint
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_id bigint;
begin
  -- one in force at a time: a second objection to the same activity changes nothing
  select l.id into v_id from compliance.processing_limits l
   where l.user_id = start_processing_limit.user_id and l.kind = start_processing_limit.kind
     and l.activity is not distinct from start_processing_limit.activity and l.lifted_at is null;
  if v_id is not null then
    return v_id;
  end if;
  insert into compliance.processing_limits (user_id, kind, activity, request_id)
  values (start_processing_limit.user_id, start_processing_limit.kind, start_processing_limit.activity, start_processing_limit.request_id)
  returning id into v_id;
  perform compliance_private.append_audit(case kind when 'objection' then 'processing.objected' else 'processing.restricted' end, 'gdpr',
    'processing_limit', v_id::text, jsonb_build_object('activity', activity, 'request_id', request_id), user_id);
  return v_id;
end;
$function$;

comment on function compliance_private.start_processing_limit(user_id text, kind text, activity text, request_id bigint) is
  'Puts an objection (to one activity, or to all when activity is NULL) or a restriction of all processing in force for a subject, in the caller''s transaction, audited as processing.objected or processing.restricted; returns the one already in force if there is one.';

-- included from fixtures/processing/object_to_processing.sql
-- compliance.object_to_processing(user_id text, activity text, notes text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.object_to_processing(user_id text, activity text, notes text DEFAULT NULL::text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_marketing boolean;
  v_objectable boolean;
  v_request compliance.dsr_requests;
  v_limit bigint;
begin
  perform compliance_private.require_activity(activity);
  if compliance_private.acting_for_one_subject() and user_id is distinct from compliance.current_subject() then
    perform compliance_private.raise_error('OTHSJ', 'a subject may object only for itself');
  end if;
  perform compliance_private.require_subject(user_id);
  select bool_or(p.direct_marketing), bool_or(p.direct_marketing or p.legal_basis in ('legitimate_interest', 'public_task'))
    into v_marketing, v_objectable
    from compliance.processing_activity_purposes p where p.activity = object_to_processing.activity;
  if not coalesce(v_objectable, false) then
    perform compliance_private.raise_error('PRNOB', format('activity %s rests on no legitimate interest or public task and is no direct marketing: there is nothing to object to', activity),
      'Where it rests on consent, withdraw the consent; where on a contract or a legal obligation, a restriction or an erasure request applies (GDPR Art. 18, 17).');
  end if;
  perform compliance_private.lock_subject(user_id);
  if v_marketing or not compliance_private.acting_for_one_subject() then
    -- direct marketing stops on the objection alone (Art. 21(3)); a DPO records one decided already
    insert into compliance.dsr_requests (user_id, kind, notes, status, completed_at, handled_by, processing_activity)
    values (object_to_processing.user_id, 'objection', left(object_to_processing.notes, 2000), 'completed', now(),
            compliance_private.handler_for(object_to_processing.user_id), object_to_processing.activity)
    returning * into v_request;
    v_limit := compliance_private.start_processing_limit(user_id, 'objection', activity, v_request.id);
    return jsonb_build_object('request_id', v_request.id, 'in_effect', true, 'limit_id', v_limit);
  end if;
  -- legitimate interest may override (Art. 21(1)): the DPO decides, and completing the request puts it in force
  insert into compliance.dsr_requests (user_id, kind, notes, status, processing_activity)
  values (object_to_processing.user_id, 'objection', left(object_to_processing.notes, 2000), 'received', object_to_processing.activity)
  returning * into v_request;
  return jsonb_build_object('request_id', v_request.id, 'in_effect', false, 'due_at', v_request.due_at);
end;
$function$;

comment on function compliance.object_to_processing(user_id text, activity text, notes text) is
  'The subject objects to an activity (GDPR Art. 21). To direct marketing it takes effect at once and for good (Art. 21(3)). To legitimate interest or public task it registers an objection request that takes effect when the DPO completes it (compliance.complete_dsr), unless the DPO records it, which takes effect at once. processing_permitted and permitted_subjects change in the same transaction. Returns the request id and whether the objection is in effect. Audited (processing.objected). The app acts for its own subject only. Errors: PRACT, PRNOB nothing to object to (consent: withdraw it), OTHSJ, UNKSJ, ERASD.';

-- included from fixtures/processing/restrict_processing.sql
-- compliance.restrict_processing(user_id text, reason text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.restrict_processing(user_id text, reason text)
 RETURNS compliance.dsr_requests
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_request compliance.dsr_requests;
begin
  if nullif(trim(reason), '') is null or length(reason) > 2000 then
    perform compliance_private.raise_error('BADRG', 'say why processing is restricted (1 to 2000 characters): the subject contests accuracy, objected, or needs the data kept (Art. 18(1))');
  end if;
  perform compliance_private.require_subject(user_id);
  perform compliance_private.lock_subject(user_id);
  insert into compliance.dsr_requests (user_id, kind, notes, status, handled_by)
  values (restrict_processing.user_id, 'restriction', trim(reason), 'in_progress', compliance.current_actor())
  returning * into v_request;
  return compliance_private.complete_restriction(v_request);
end;
$function$;

comment on function compliance.restrict_processing(user_id text, reason text) is
  'DPO: restricts all processing of the subject now (GDPR Art. 18): processing_permitted is false and the subject leaves every permitted_subjects list in this transaction, and every system that receives restrictions is told (compliance.propagation_tasks). Registers the request, which completes when every system confirmed. Lift it with compliance.lift_processing_limit, after telling the subject (Art. 18(3)). Audited (processing.restricted). Errors: BADRG without a reason, UNKSJ, ERASD.';

-- included from fixtures/processing/lift_processing_limit.sql
-- compliance.lift_processing_limit(limit_id bigint, reason text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.lift_processing_limit(limit_id bigint, reason text)
 RETURNS compliance.processing_limits
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_limit compliance.processing_limits;
begin
  if nullif(trim(reason), '') is null or length(reason) > 1000 then
    perform compliance_private.raise_error('BADRG', 'say why it is lifted (1 to 1000 characters)');
  end if;
  select * into v_limit from compliance.processing_limits l where l.id = limit_id and l.lifted_at is null for update;
  -- a subject withdraws its own objection; a restriction is the controller's to lift (Art. 18(3))
  if not found or (compliance_private.acting_for_one_subject()
                   and (v_limit.user_id is distinct from compliance.current_subject() or v_limit.kind <> 'objection')) then
    perform compliance_private.raise_error('PRLIM', format('no objection or restriction %s in force that you may lift', coalesce(limit_id::text, 'NULL')));
  end if;
  update compliance.processing_limits l set lifted_at = now(), lift_reason = trim(reason) where l.id = v_limit.id returning l.* into v_limit;
  perform compliance_private.append_audit('processing.limit_lifted', 'gdpr', 'processing_limit', v_limit.id::text,
    jsonb_build_object('kind', v_limit.kind, 'activity', v_limit.activity), v_limit.user_id, jsonb_build_object('reason', v_limit.lift_reason));
  return v_limit;
end;
$function$;

comment on function compliance.lift_processing_limit(limit_id bigint, reason text) is
  'Ends an objection or restriction: the DPO lifts either (a restriction after telling the subject, Art. 18(3)); a subject may withdraw its own objection. Audited (processing.limit_lifted; the reason is the subject''s part, erased with it). Errors: PRLIM none in force that the caller may lift, BADRG without a reason.';

-- included from fixtures/processing/subject_has_rows_in.sql
-- compliance_private.subject_has_rows_in(user_id text, relation regclass): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.subject_has_rows_in(user_id text, relation regclass)
 RETURNS boolean
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_found boolean;
  v_predicate text;
begin
  if exists (select from compliance.personal_tables p where p.relation = subject_has_rows_in.relation) then
    select s.subject_rows into v_predicate from compliance.personal_table_sql(relation) s
     where compliance_private.subject_fits(s.subject_type, subject_has_rows_in.user_id);
    if v_predicate is null then
      return false;
    end if;
  elsif exists (select from pg_catalog.pg_attribute a where a.attrelid = relation and a.attname = 'user_id' and not a.attisdropped) then
    v_predicate := 't.user_id = $1';
  else
    return false;
  end if;
  execute format('select exists (select from %s t where %s)', relation, v_predicate) into v_found using user_id;
  return v_found;
end;
$function$;

comment on function compliance_private.subject_has_rows_in(user_id text, relation regclass) is
  'Whether the subject has a row in the table (pgcomply''s own, by user_id, or a registered one, by its subject column): the privacy center shows the activities that use the subject''s data.';

-- included from fixtures/processing/subject_processing.sql
-- compliance.subject_processing(user_id text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.subject_processing(user_id text)
 RETURNS TABLE(activity text, name text, description text, purposes jsonb, permitted boolean, objection text, objection_limit_id bigint, restricted boolean)
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_restricted boolean;
begin
  if compliance_private.acting_for_one_subject() and user_id is distinct from compliance.current_subject() then
    perform compliance_private.raise_error('OTHSJ', 'a subject sees only its own processing');
  end if;
  perform compliance_private.require_subject(user_id);
  v_restricted := exists (select from compliance.processing_limits l where l.user_id = subject_processing.user_id and l.kind = 'restriction' and l.lifted_at is null);
  return query
    select a.activity, a.name, a.description,
           coalesce((select jsonb_agg(jsonb_build_object('purpose', p.purpose, 'legal_basis', p.legal_basis, 'direct_marketing', p.direct_marketing) order by p.purpose)
                       from compliance.processing_activity_purposes p where p.activity = a.activity), '[]'),
           exists (select from compliance_private.permitted_subjects_of(a.activity) s where s = subject_processing.user_id),
           case when l.id is not null then 'in_effect'
                when exists (select from compliance.dsr_requests r where r.user_id = subject_processing.user_id and r.kind = 'objection'
                               and r.processing_activity = a.activity and r.completed_at is null) then 'pending'
                when exists (select from compliance.processing_activity_purposes p where p.activity = a.activity
                               and (p.direct_marketing or p.legal_basis in ('legitimate_interest', 'public_task'))) then 'available'
                else 'not_applicable' end,
           l.id, v_restricted
      from compliance.processing_activities a
      left join compliance.processing_limits l
        on l.user_id = subject_processing.user_id and l.kind = 'objection' and l.activity = a.activity and l.lifted_at is null
     where exists (select from compliance.processing_activity_tables t where t.activity = a.activity
                     and compliance_private.subject_has_rows_in(subject_processing.user_id, t.relation))
     order by a.name;
end;
$function$;

comment on function compliance.subject_processing(user_id text) is
  'For the privacy center (GDPR Art. 13, 15(1)(a)-(c), 21(4)): each processing activity that uses the subject''s data now, with its purposes and legal bases, whether it may process the subject, and where the subject may object: objection available, pending (the DPO decides), in_effect (with the limit to withdraw it), or not_applicable (consent: withdraw it instead; contract or law). restricted: all processing is restricted. The app sees its own subject only. Errors: OTHSJ, UNKSJ.';

revoke all on function compliance.processing_permitted(text, text) from public;
revoke all on function compliance.permitted_subjects(text) from public;
revoke all on function compliance.object_to_processing(text, text, text) from public;
revoke all on function compliance.restrict_processing(text, text) from public;
revoke all on function compliance.lift_processing_limit(bigint, text) from public;
revoke all on function compliance.subject_processing(text) from public;
grant execute on function compliance.processing_permitted(text, text) to compliance_app, compliance_dpo, compliance_worker;
grant execute on function compliance.permitted_subjects(text) to compliance_dpo, compliance_worker;
grant execute on function compliance.object_to_processing(text, text, text) to compliance_app, compliance_dpo;
grant execute on function compliance.restrict_processing(text, text) to compliance_dpo;
grant execute on function compliance.lift_processing_limit(bigint, text) to compliance_app, compliance_dpo;
grant execute on function compliance.subject_processing(text) to compliance_app, compliance_dpo;
revoke all on function compliance_private.require_activity(text) from public;
revoke all on function compliance_private.permitted_subjects_of(text) from public;
revoke all on function compliance_private.start_processing_limit(text, text, text, bigint) from public;
revoke all on function compliance_private.subject_has_rows_in(text, regclass) from public;


-- Requests that reach every other system: an erasure, export, rectification or restriction
-- creates one task per system that receives it, in the request's transaction. The worker
-- delivers webhook and SCIM tasks; a system confirms by its answer or a signed callback, the DPO
-- by hand. The request completes when every task is confirmed; dsr_propagation checks deadlines.

create table if not exists compliance.propagation_tasks (
  id bigint generated always as identity,
  request_id bigint,
  system text not null,
  kind text not null,
  user_id text,
  state text not null default 'pending',
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  last_attempt_at timestamptz,
  last_error text,
  response text,
  created_at timestamptz not null default now(),
  due_at timestamptz not null,
  confirmed_at timestamptz,
  confirmed_via text,
  confirmed_by text,
  confirmation_note text,
  constraint propagation_tasks_pkey primary key (id),
  constraint propagation_tasks_of_request foreign key (request_id) references compliance.dsr_requests (id) on delete set null,
  constraint propagation_tasks_to_system foreign key (system) references compliance.processing_systems (system) on delete restrict,
  constraint propagation_tasks_kind_known check (kind in ('erasure', 'export', 'rectification', 'restriction')),
  constraint propagation_tasks_state_known check (state in ('pending', 'awaiting_confirmation', 'confirmed', 'failed', 'cancelled')),
  constraint propagation_tasks_confirmed_when check ((state = 'confirmed') = (confirmed_at is not null)),
  constraint propagation_tasks_confirmed_via_known check (confirmed_via in ('connector', 'callback', 'manual')),
  constraint propagation_tasks_attempts_not_negative check (attempts >= 0),
  constraint propagation_tasks_last_error_length check (length(last_error) <= 2000),
  constraint propagation_tasks_response_length check (length(response) <= 65536),
  constraint propagation_tasks_note_length check (length(confirmation_note) <= 2000)
);
create index if not exists propagation_tasks_due_idx on compliance.propagation_tasks (next_attempt_at) where state = 'pending';
create index if not exists propagation_tasks_open_idx on compliance.propagation_tasks (due_at) where state in ('pending', 'awaiting_confirmation', 'failed');
create index if not exists propagation_tasks_request_id_idx on compliance.propagation_tasks (request_id);
create index if not exists propagation_tasks_system_idx on compliance.propagation_tasks (system);
create index if not exists propagation_tasks_user_id_idx on compliance.propagation_tasks (user_id);
comment on table compliance.propagation_tasks is
  'The outbox of requests to other systems (GDPR Art. 17(2), 19, 28(3)(e)): one task per system per erasure, export, rectification or restriction, created in the request''s transaction. The worker delivers webhook and SCIM tasks with a lease (a dead worker''s task is delivered again, never lost); manual tasks wait for the DPO. Kept with the request; an erased subject''s id stays only until its system confirms.';
comment on column compliance.propagation_tasks.id is 'The task; the webhook body and the callback carry it.';
comment on column compliance.propagation_tasks.request_id is 'The data subject request it carries (compliance.dsr_requests).';
comment on column compliance.propagation_tasks.system is 'The system told (compliance.processing_systems).';
comment on column compliance.propagation_tasks.kind is 'erasure, export, rectification or restriction.';
comment on column compliance.propagation_tasks.user_id is 'Personal: the subject, as the system knows it. For an erasure, kept only until the system confirms; emptied by the subject''s erasure otherwise.';
comment on column compliance.propagation_tasks.state is 'pending (the worker delivers it), awaiting_confirmation (delivered or manual: a callback or the DPO confirms), confirmed, failed (delivery gave up: the DPO retries or confirms by hand), cancelled (superseded by the subject''s erasure).';
comment on column compliance.propagation_tasks.attempts is 'Delivery attempts so far.';
comment on column compliance.propagation_tasks.next_attempt_at is 'When the worker may try again (a claim leases it until then).';
comment on column compliance.propagation_tasks.last_attempt_at is 'When it was last tried.';
comment on column compliance.propagation_tasks.last_error is 'What went wrong last time.';
comment on column compliance.propagation_tasks.response is 'Personal where the system put it there: the system''s last answer as it came (a SCIM error body, an exported record), up to 64 KiB. Emptied by the subject''s erasure.';
comment on column compliance.propagation_tasks.created_at is 'When the request was made.';
comment on column compliance.propagation_tasks.due_at is 'By when the system must confirm (its confirm_within): the dsr_propagation check fails after.';
comment on column compliance.propagation_tasks.confirmed_at is 'When it was confirmed.';
comment on column compliance.propagation_tasks.confirmed_via is 'connector (the system''s answer), callback (its signed callback), manual (the DPO).';
comment on column compliance.propagation_tasks.confirmed_by is 'Personal: for a manual confirmation, the DPO.';
comment on column compliance.propagation_tasks.confirmation_note is 'How it was confirmed: the callback''s outcome or the DPO''s note.';
comment on sequence compliance.propagation_tasks_id_seq is 'Identifiers of propagation_tasks rows.';
alter table compliance.propagation_tasks enable row level security;
alter table compliance.propagation_tasks force row level security;
-- included from fixtures/processing/propagation_tasks.owner_routines.sql
-- policy owner_routines on compliance.propagation_tasks: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance.propagation_tasks;
create policy owner_routines on compliance.propagation_tasks as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance.propagation_tasks is 'Tasks are created in the transaction of their request and change only through the routines: the worker''s claim and attempts, a system''s verified callback, the DPO''s confirmation or retry. Each change is audited.';

-- included from fixtures/processing/propagation_tasks.dpo_every_subject.sql
-- policy dpo_every_subject on compliance.propagation_tasks: its current definition (db/CONVENTIONS.md).

drop policy if exists dpo_every_subject on compliance.propagation_tasks;
create policy dpo_every_subject on compliance.propagation_tasks as permissive for select to compliance_dpo
  using (true);
comment on policy dpo_every_subject on compliance.propagation_tasks is 'The DPO follows every request to every system.';

-- included from fixtures/processing/propagation_tasks.subject_own_rows.sql
-- policy subject_own_rows on compliance.propagation_tasks: its current definition (db/CONVENTIONS.md).

drop policy if exists subject_own_rows on compliance.propagation_tasks;
create policy subject_own_rows on compliance.propagation_tasks as permissive for select to compliance_app
  using ((user_id = ( SELECT compliance.current_subject() AS current_subject)));
comment on policy subject_own_rows on compliance.propagation_tasks is 'A subject learns which systems its requests were sent to (GDPR Art. 19).';

grant select on compliance.propagation_tasks to compliance_dpo;
grant select (id, request_id, system, kind, user_id, state, created_at, due_at, confirmed_at) on compliance.propagation_tasks to compliance_app;

-- included from fixtures/processing/propagate_request.sql
-- compliance_private.propagate_request(request_id bigint, user_id text, kind text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.propagate_request(request_id bigint, user_id text, kind text)
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_systems text[];
begin
  -- pgcomply does not know which of the subject's records each system holds, so every system
  -- that receives this kind of request is asked; one that holds nothing says so. A system asked
  -- already and not done yet is not asked again for the same kind.
  with created as (
    insert into compliance.propagation_tasks (request_id, system, kind, user_id, due_at, state)
    select propagate_request.request_id, s.system, propagate_request.kind, propagate_request.user_id, now() + s.confirm_within,
           case when s.connector = 'manual' then 'awaiting_confirmation' else 'pending' end
      from compliance.processing_systems s
     where s.connector <> 'none' and propagate_request.kind = any (s.request_kinds)
       and not exists (select from compliance.propagation_tasks t
                        where t.user_id = propagate_request.user_id and t.system = s.system and t.kind = propagate_request.kind
                          and t.state in ('pending', 'awaiting_confirmation', 'failed'))
    returning system)
  select coalesce(array_agg(c.system order by c.system), '{}') into v_systems from created c;
  if cardinality(v_systems) = 0 then
    return 0;
  end if;
  update compliance.dsr_requests r set status = 'in_progress', completed_at = null where r.id = propagate_request.request_id;
  -- an erased subject is named nowhere new: the tasks carry the id until each system confirms
  perform compliance_private.append_audit('propagation.requested', 'gdpr', 'dsr_request', request_id::text,
    jsonb_build_object('kind', kind, 'systems', to_jsonb(v_systems)), case when kind <> 'erasure' then user_id end);
  return cardinality(v_systems);
end;
$function$;

comment on function compliance_private.propagate_request(request_id bigint, user_id text, kind text) is
  'Creates, in the request''s transaction, one propagation task per system that receives this kind of request (GDPR Art. 19, 28(3)(e)): the worker delivers webhook and SCIM tasks, a manual system waits for the DPO. The request stays in progress until every task is confirmed (compliance_private.settle_request). Audited (propagation.requested). Returns how many tasks it created.';

-- included from fixtures/processing/settle_request.sql
-- compliance_private.settle_request(request_id bigint): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.settle_request(request_id bigint)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  -- the request is done when the last system confirmed; the row lock orders two last confirmations
  perform from compliance.dsr_requests r where r.id = settle_request.request_id and r.status = 'in_progress' for update;
  if found and not exists (select from compliance.propagation_tasks t
                            where t.request_id = settle_request.request_id and t.state in ('pending', 'awaiting_confirmation', 'failed')) then
    update compliance.dsr_requests r set status = 'completed', completed_at = now() where r.id = settle_request.request_id;
  end if;
end;
$function$;

comment on function compliance_private.settle_request(request_id bigint) is
  'Completes a request whose every propagation task is confirmed (or cancelled by a later erasure).';

-- included from fixtures/processing/confirm_task.sql
-- compliance_private.confirm_task(task compliance.propagation_tasks, via text, note text, response text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.confirm_task(task compliance.propagation_tasks, via text, note text, response text DEFAULT NULL::text)
 RETURNS compliance.propagation_tasks
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_task compliance.propagation_tasks;
begin
  update compliance.propagation_tasks t
     set state = 'confirmed', confirmed_at = now(), confirmed_via = via,
         confirmed_by = case when via = 'manual' then compliance.current_actor() end,
         confirmation_note = left(note, 2000), response = coalesce(left(confirm_task.response, 65536), t.response),
         -- an erased subject's id was kept only until the system confirmed
         user_id = case when t.kind = 'erasure' then null else t.user_id end
   where t.id = task.id
  returning t.* into v_task;
  perform compliance_private.append_audit('propagation.confirmed', 'gdpr', 'propagation_task', v_task.id::text,
    jsonb_build_object('system', v_task.system, 'kind', v_task.kind, 'request_id', v_task.request_id, 'via', via, 'attempts', v_task.attempts),
    v_task.user_id);
  perform compliance_private.settle_request(v_task.request_id);
  return v_task;
end;
$function$;

comment on function compliance_private.confirm_task(task compliance.propagation_tasks, via text, note text, response text) is
  'Marks a propagation task confirmed (by the connector''s answer, a verified callback, or the DPO by hand), drops an erased subject''s id from it, audits it (propagation.confirmed) and completes the request when it was the last.';

-- included from fixtures/workforce/require_lease.sql
-- compliance_private.require_lease(lease_seconds integer, max_rows integer): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.require_lease(lease_seconds integer, max_rows integer)
 RETURNS void
 LANGUAGE plpgsql
 IMMUTABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  if lease_seconds is null or lease_seconds not between 1 and 3600 or max_rows is null or max_rows not between 1 and 1000 then
    perform compliance_private.raise_error('BADRG', 'lease_seconds must be 1 to 3600 and max_rows 1 to 1000');
  end if;
end;
$function$;

comment on function compliance_private.require_lease(lease_seconds integer, max_rows integer) is
  'Raises BADRG unless an outbox claim asks for a lease of 1 to 3600 seconds and 1 to 1000 rows (compliance.claim_alerts, claim_propagation_tasks).';

-- included from fixtures/workforce/claim_alerts.sql
-- compliance.claim_alerts(lease_seconds integer, max_rows integer): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.claim_alerts(lease_seconds integer DEFAULT 60, max_rows integer DEFAULT 20)
 RETURNS TABLE(id bigint, topic text, payload jsonb, user_id text, actor_id text, created_at timestamp with time zone, attempts integer)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  perform compliance_private.require_lease(lease_seconds, max_rows);
  -- a claim is a lease: the attempt is counted and the alert is not due again until the lease
  -- ends, so a worker that dies mid-delivery leaves it to the next one
  return query
    update compliance.alert_outbox a
       set attempts = a.attempts + 1, last_attempt_at = now(), next_attempt_at = now() + make_interval(secs => lease_seconds)
     where a.id in (select d.id from compliance.alert_outbox d
                     where d.state = 'pending' and d.next_attempt_at <= now()
                     order by d.next_attempt_at, d.id
                     limit max_rows
                       for update skip locked)
    returning a.id, a.topic, a.payload, a.user_id, a.actor_id, a.created_at, a.attempts;
end;
$function$;

comment on function compliance.claim_alerts(lease_seconds integer, max_rows integer) is
  'The worker takes up to max_rows due alerts for delivery, leasing each for lease_seconds (an alert whose worker dies is due again when the lease ends) and counting the attempt. Commit the claim before delivering. Worker role only. Errors: BADRG.';

-- included from fixtures/processing/claim_propagation_tasks.sql
-- compliance.claim_propagation_tasks(lease_seconds integer, max_rows integer): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.claim_propagation_tasks(lease_seconds integer DEFAULT 60, max_rows integer DEFAULT 20)
 RETURNS TABLE(id bigint, request_id bigint, system text, kind text, user_id text, attempts integer, connector text, endpoint_url text, created_at timestamp with time zone)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  perform compliance_private.require_lease(lease_seconds, max_rows);
  -- a claim is a lease, committed before anything is sent: a worker that dies mid-delivery
  -- leaves the task to the next one when the lease ends, so a task may be delivered twice
  -- (the body's task id tells a system) but is never lost
  return query
    with claimed as (
      update compliance.propagation_tasks t
         set attempts = t.attempts + 1, last_attempt_at = now(), next_attempt_at = now() + make_interval(secs => lease_seconds)
       where t.id in (select d.id from compliance.propagation_tasks d
                       join compliance.processing_systems s on s.system = d.system and s.connector in ('webhook', 'scim')
                      where d.state = 'pending' and d.next_attempt_at <= now()
                      order by d.next_attempt_at, d.id
                      limit max_rows
                        for update of d skip locked)
      returning t.*)
    select c.id, c.request_id, c.system, c.kind, c.user_id, c.attempts, s.connector, s.endpoint_url, c.created_at
      from claimed c join compliance.processing_systems s on s.system = c.system
     order by c.id;
end;
$function$;

comment on function compliance.claim_propagation_tasks(lease_seconds integer, max_rows integer) is
  'The worker takes up to max_rows due webhook and SCIM tasks, leasing each for lease_seconds (a task whose worker dies is due again when the lease ends) and counting the attempt. Commit the claim before delivering. Worker role only. Errors: BADRG.';

-- included from fixtures/processing/record_propagation_attempt.sql
-- compliance.record_propagation_attempt(task_id bigint, outcome text, response text, error text, retry_in_seconds integer): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.record_propagation_attempt(task_id bigint, outcome text, response text DEFAULT NULL::text, error text DEFAULT NULL::text, retry_in_seconds integer DEFAULT NULL::integer)
 RETURNS compliance.propagation_tasks
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_task compliance.propagation_tasks;
begin
  if outcome is null or outcome not in ('confirmed', 'delivered', 'retry', 'failed') then
    perform compliance_private.raise_error('BADRG', format('outcome %L is unknown', outcome), 'Use confirmed, delivered, retry or failed.');
  end if;
  if outcome = 'retry' and (retry_in_seconds is null or retry_in_seconds not between 1 and 86400) then
    perform compliance_private.raise_error('BADRG', 'a retry needs retry_in_seconds between 1 and 86400');
  end if;
  select * into v_task from compliance.propagation_tasks t where t.id = task_id for update;
  if not found then
    perform compliance_private.raise_error('PRTSK', format('no propagation task %s', coalesce(task_id::text, 'NULL')));
  end if;
  -- the system may have called back before the worker got here: its confirmation stands
  if v_task.state <> 'pending' then
    return v_task;
  end if;
  if outcome = 'confirmed' then
    return compliance_private.confirm_task(v_task, 'connector', left(error, 2000), response);
  end if;
  update compliance.propagation_tasks t
     set state = case outcome when 'delivered' then 'awaiting_confirmation' when 'failed' then 'failed' else 'pending' end,
         next_attempt_at = case when outcome = 'retry' then now() + make_interval(secs => retry_in_seconds) else t.next_attempt_at end,
         last_error = case when outcome = 'delivered' then left(error, 2000) else left(coalesce(error, 'no error given'), 2000) end,
         response = coalesce(left(record_propagation_attempt.response, 65536), t.response)
   where t.id = v_task.id
  returning t.* into v_task;
  if outcome = 'failed' then
    perform compliance_private.append_audit('propagation.failed', 'gdpr', 'propagation_task', v_task.id::text,
      jsonb_build_object('system', v_task.system, 'kind', v_task.kind, 'request_id', v_task.request_id, 'attempts', v_task.attempts),
      v_task.user_id, outcome => 'failure', failure_reason => 'delivery_failed');
  end if;
  return v_task;
end;
$function$;

comment on function compliance.record_propagation_attempt(task_id bigint, outcome text, response text, error text, retry_in_seconds integer) is
  'The worker records what became of delivering a task: confirmed (the system did it and said so, or a SCIM read-back found the user gone), delivered (accepted; its signed callback or the DPO confirms), retry (after retry_in_seconds), or failed for good (audited as propagation.failed; the DPO retries or confirms by hand). response is the system''s answer as it came (up to 64 KiB), error what went wrong. A task confirmed meanwhile by callback is left as it is. Worker role only. Errors: BADRG, PRTSK.';

-- included from fixtures/processing/record_propagation_callback.sql
-- compliance.record_propagation_callback(task_id bigint, outcome text, response text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.record_propagation_callback(task_id bigint, outcome text, response text DEFAULT NULL::text)
 RETURNS compliance.propagation_tasks
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_task compliance.propagation_tasks;
begin
  if outcome is null or outcome not in ('done', 'nothing_held') then
    perform compliance_private.raise_error('BADRG', format('outcome %L is unknown', outcome), 'A system confirms with done, or nothing_held when it held nothing of the subject.');
  end if;
  select * into v_task from compliance.propagation_tasks t where t.id = task_id for update;
  -- the caller is the system the API server verified the signature of: it confirms its own tasks only
  if not found or compliance.current_actor() is distinct from 'system:' || v_task.system
     or v_task.state not in ('pending', 'awaiting_confirmation', 'failed') then
    perform compliance_private.raise_error('PRTSK', format('no task %s awaiting this system''s confirmation', coalesce(task_id::text, 'NULL')));
  end if;
  return compliance_private.confirm_task(v_task, 'callback', outcome, response);
end;
$function$;

comment on function compliance.record_propagation_callback(task_id bigint, outcome text, response text) is
  'A system confirms a request it was sent (POST /api/v1/propagation/callback): done, or nothing_held. Only the API server calls it, as compliance_receiver, after checking the callback''s signature with the system''s own secret; the request context''s actor is system:<key>, and a system confirms its own tasks only. A task confirmed already is refused, so a replayed callback changes nothing. Errors: BADRG, PRTSK.';

-- included from fixtures/processing/confirm_propagation.sql
-- compliance.confirm_propagation(task_id bigint, note text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.confirm_propagation(task_id bigint, note text)
 RETURNS compliance.propagation_tasks
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_task compliance.propagation_tasks;
begin
  if nullif(trim(note), '') is null or length(note) > 2000 then
    perform compliance_private.raise_error('BADRG', 'say how the system confirmed (1 to 2000 characters): who, when, by which channel');
  end if;
  select * into v_task from compliance.propagation_tasks t where t.id = task_id for update;
  if not found or v_task.state not in ('pending', 'awaiting_confirmation', 'failed') then
    perform compliance_private.raise_error('PRTSK', format('no task %s awaiting confirmation', coalesce(task_id::text, 'NULL')));
  end if;
  return compliance_private.confirm_task(v_task, 'manual', trim(note));
end;
$function$;

comment on function compliance.confirm_propagation(task_id bigint, note text) is
  'DPO: records by hand that a system carried out a request (a manual system, or one that confirmed outside pgcomply), with a note saying how. Audited (propagation.confirmed, via manual); the request completes when it was the last task. Errors: BADRG without a note, PRTSK not awaiting confirmation.';

-- included from fixtures/processing/retry_propagation.sql
-- compliance.retry_propagation(task_id bigint): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.retry_propagation(task_id bigint)
 RETURNS compliance.propagation_tasks
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_task compliance.propagation_tasks;
begin
  update compliance.propagation_tasks t set state = 'pending', next_attempt_at = now()
   where t.id = task_id and t.state = 'failed'
  returning t.* into v_task;
  if not found then
    perform compliance_private.raise_error('PRTSK', format('no failed task %s', coalesce(task_id::text, 'NULL')));
  end if;
  perform compliance_private.append_audit('propagation.retried', 'gdpr', 'propagation_task', v_task.id::text,
    jsonb_build_object('system', v_task.system, 'kind', v_task.kind, 'request_id', v_task.request_id), v_task.user_id);
  return v_task;
end;
$function$;

comment on function compliance.retry_propagation(task_id bigint) is
  'DPO: sends a task that failed for good once more (after the system was fixed). Audited (propagation.retried). Errors: PRTSK not failed.';

-- included from fixtures/processing/check_dsr_propagation.sql
-- compliance_private.check_dsr_propagation(context jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.check_dsr_propagation(context jsonb)
 RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_receiving bigint := (select count(*) from compliance.processing_systems s where s.connector <> 'none');
  v_open bigint;
  v_failed bigint;
  v_overdue jsonb;
begin
  select count(*), count(*) filter (where t.state = 'failed'),
         coalesce(jsonb_agg(jsonb_build_object('task', t.id, 'system', t.system, 'kind', t.kind, 'due_at', t.due_at) order by t.due_at)
                    filter (where t.due_at < now()), '[]')
    into v_open, v_failed, v_overdue
    from compliance.propagation_tasks t where t.state in ('pending', 'awaiting_confirmation', 'failed');
  measured := jsonb_build_object('systems_receiving_requests', v_receiving, 'open_tasks', v_open, 'failed_tasks', v_failed, 'overdue', v_overdue);
  threshold := jsonb_build_object('overdue', '[]'::jsonb);
  evidence := 'select * from compliance.propagation_tasks where state in (''pending'', ''awaiting_confirmation'', ''failed'') and due_at < now()';
  if jsonb_array_length(v_overdue) > 0 then
    status := 'fail';
    detail := format('%s requests to other systems are unconfirmed past their deadline: %s', jsonb_array_length(v_overdue),
      (select string_agg(format('task %s (%s to %s, due %s)', o->>'task', o->>'kind', o->>'system', o->>'due_at'), ', ')
         from jsonb_array_elements(v_overdue) o));
  elsif v_receiving = 0 and v_open = 0 then
    status := 'not_applicable';
    detail := 'no system in the record of processing receives requests: erasure and export stop at this database';
  else
    status := 'pass';
    detail := format('%s open requests to other systems, none past its deadline (%s failed, awaiting the DPO)', v_open, v_failed);
  end if;
  return next;
end;
$function$;

comment on function compliance_private.check_dsr_propagation(context jsonb) is
  'Compliance check: every request sent to another system (GDPR Art. 19, 28(3)(e)) is confirmed before its deadline (the system''s confirm_within). Fails naming each task past it; not applicable while no system receives requests.';

-- included from fixtures/processing/complete_restriction.sql
-- compliance_private.complete_restriction(request compliance.dsr_requests): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.complete_restriction(request compliance.dsr_requests)
 RETURNS compliance.dsr_requests
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_request compliance.dsr_requests;
begin
  perform compliance_private.start_processing_limit(request.user_id, 'restriction', null, request.id);
  update compliance.dsr_requests r
     set status = 'completed', completed_at = now(), handled_by = coalesce(r.handled_by, compliance.current_actor())
   where r.id = request.id;
  -- every system that receives restrictions restricts too (Art. 19); until each confirms, the request is in progress
  perform compliance_private.propagate_request(request.id, request.user_id, 'restriction');
  select * into v_request from compliance.dsr_requests r where r.id = request.id;
  return v_request;
end;
$function$;

comment on function compliance_private.complete_restriction(request compliance.dsr_requests) is
  'Puts a restriction request in force: the restriction of all processing, and the request completed, or in progress until every system that receives restrictions confirmed.';

-- included from fixtures/subject-rights/complete_dsr.sql
-- compliance.complete_dsr(request_id bigint, status text, notes text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.complete_dsr(request_id bigint, status text DEFAULT 'completed'::text, notes text DEFAULT NULL::text)
 RETURNS compliance.dsr_requests
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_request compliance.dsr_requests;
begin
  if status not in ('completed', 'rejected') then
    perform compliance_private.raise_error('BADRG', 'status must be completed or rejected');
  end if;
  select * into v_request from compliance.dsr_requests r where r.id = request_id and r.completed_at is null for update;
  if not found then
    perform compliance_private.raise_error('NODSR', format('no open request %s', request_id),
      'See compliance.dsr_open_requests for the open requests.');
  end if;
  if exists (select from compliance.propagation_tasks t where t.request_id = v_request.id and t.state in ('pending', 'awaiting_confirmation', 'failed')) then
    perform compliance_private.raise_error('PRPND', format('request %s waits for other systems to confirm it', v_request.id),
      'It completes when the last system confirms; confirm one by hand with compliance.confirm_propagation(task_id, note).');
  end if;
  if complete_dsr.notes is not null then
    update compliance.dsr_requests r set notes = complete_dsr.notes where r.id = v_request.id returning r.* into v_request;
  end if;
  -- an objection or a restriction takes effect as the DPO completes it, in this transaction
  if status = 'completed' and v_request.user_id is not null then
    if v_request.kind = 'objection' then
      perform compliance_private.start_processing_limit(v_request.user_id, 'objection', v_request.processing_activity, v_request.id);
    elsif v_request.kind = 'restriction' then
      return compliance_private.complete_restriction(v_request);
    end if;
  end if;
  update compliance.dsr_requests r
     set status = complete_dsr.status, completed_at = now(), handled_by = compliance.current_actor()
   where r.id = v_request.id
  returning r.* into v_request;
  -- a rectification reaches every system that receives rectifications (Art. 16, 19)
  if status = 'completed' and v_request.kind = 'rectification' and v_request.user_id is not null
     and compliance_private.propagate_request(v_request.id, v_request.user_id, 'rectification') > 0 then
    select * into v_request from compliance.dsr_requests r where r.id = v_request.id;
  end if;
  return v_request;
end;
$function$;

comment on function compliance.complete_dsr(request_id bigint, status text, notes text) is
  'Closes an open request as completed or rejected, recording who handled it. Completing an objection puts it in force for its activity (or for every activity on legitimate interest when it names none); completing a restriction restricts all processing of the subject (compliance.processing_permitted, permitted_subjects), audited. A completed restriction or rectification is sent to every system that receives it and stays in progress until each confirmed. Errors: NODSR, BADRG, PRPND (still waiting for other systems).';

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
  v_tasks integer;
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
                                 'user_preferences', 'legal_holds', 'processing_limits'] loop
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
  -- every other system is asked to erase too (Art. 17(2), 19); the tasks keep the id until each
  -- confirms. What older tasks still waited for is superseded, and their answers go with the subject.
  update compliance.propagation_tasks t
     set state = case when t.state in ('pending', 'awaiting_confirmation', 'failed') then 'cancelled' else t.state end,
         confirmation_note = case when t.state in ('pending', 'awaiting_confirmation', 'failed') then 'superseded by the subject''s erasure' else t.confirmation_note end,
         user_id = null, response = null
   where t.user_id = erase_subject_core.user_id;
  get diagnostics v_count = row_count;
  v_counts := v_counts || jsonb_build_object('propagation_tasks_anonymised', v_count);
  update compliance.propagation_tasks t set confirmed_by = null where t.confirmed_by = erase_subject_core.user_id;
  v_tasks := compliance_private.propagate_request(v_request_id, user_id, 'erasure');
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
    'deleted', v_counts, 'audit_rows_redacted', v_redacted,
    'other_systems', (select coalesce(jsonb_agg(jsonb_build_object('system', t.system, 'name', s.name, 'task_id', t.id, 'state', t.state) order by t.system), '[]')
                        from compliance.propagation_tasks t join compliance.processing_systems s on s.system = t.system
                       where t.request_id = v_request_id));
end;
$function$;

comment on function compliance_private.erase_subject_core(user_id text, reason text, confirm boolean, requested_by text) is
  'The erasure transaction; see compliance.erase_subject. Its statements run on generic plans (plan_cache_mode), without JIT compilation (a generic plan''s row estimates over a million subjects passed jit_above_cost, and compiling took longer than the erasure): a custom plan over every audit partition costs more to make than to run, and made a connection''s first five erasures twice as slow as the rest.';

-- included from fixtures/subject-rights/export_subject_core.sql
-- compliance_private.export_subject_core(user_id text, kind text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.export_subject_core(user_id text, kind text)
 RETURNS json
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
 SET plan_cache_mode TO 'force_generic_plan'
 SET jit TO 'off'
AS $function$
declare
  v_request_id bigint;
begin
  if kind not in ('access', 'portability') then
    perform compliance_private.raise_error('BADRG', 'kind must be access or portability');
  end if;
  perform compliance_private.require_subject(user_id);
  v_request_id := compliance_private.record_completed_dsr(user_id, kind, compliance_private.handler_for(user_id));
  -- the systems that hold the subject's data are asked for their part (Art. 15, 20) for a download
  -- or a DPO's export; a subject viewing its data in the privacy center reads this database only
  if kind = 'portability' or compliance_private.handler_for(user_id) <> 'self-service' then
    perform compliance_private.propagate_request(v_request_id, user_id, 'export');
  end if;
  perform compliance_private.append_audit('subject.exported', 'gdpr', 'dsr_request', v_request_id::text,
    jsonb_build_object('kind', kind), user_id);
  return compliance_private.subject_document(user_id);
end;
$function$;

comment on function compliance_private.export_subject_core(user_id text, kind text) is
  'Registers and completes an access or portability request, audits it and returns the subject document; every other system that receives exports is asked for its part (the request completes when each confirmed), unless the subject only views its data (self-service access). Its statements run on generic plans (plan_cache_mode), without JIT compilation (a generic plan''s row estimates over a million subjects passed jit_above_cost, and compiling took longer than the export): a custom plan over every audit partition costs more to make than to run, and a connection''s first five exports paid it each time.';

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
        from (select r.id, r.kind, r.status, r.received_at, r.due_at, r.completed_at, r.processing_activity
                from compliance.dsr_requests r where r.user_id = p.user_id) x), '[]'),
    'objections_and_restrictions', coalesce((
      select json_agg(x order by x.id)
        from (select l.id, l.kind, l.activity, l.request_id, l.started_at, l.lifted_at, l.lift_reason
                from compliance.processing_limits l where l.user_id = p.user_id) x), '[]'),
    'recipients_told', coalesce((
      select json_agg(x order by x.id)
        from (select t.id, s.name as system, s.kind as system_kind, s.country, t.kind as request, t.request_id, t.state,
                     t.created_at, t.confirmed_at
                from compliance.propagation_tasks t join compliance.processing_systems s on s.system = t.system
               where t.user_id = p.user_id) x), '[]'))
  from compliance.user_profiles p
  where p.user_id = subject_document.user_id);
end;
$function$;

comment on function compliance_private.subject_document(user_id text) is
  'Everything held about one subject as one JSON document (sections: profile, preferences, consents, conversations with messages, sessions, audit_trail, breach_notices, registered_tables: your own registered tables by name, dsr_requests, objections_and_restrictions, recipients_told: the systems each request was sent to, GDPR Art. 19). NULL for an unknown subject.';

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

revoke all on function compliance.claim_propagation_tasks(integer, integer) from public;
revoke all on function compliance.record_propagation_attempt(bigint, text, text, text, integer) from public;
revoke all on function compliance.record_propagation_callback(bigint, text, text) from public;
revoke all on function compliance.confirm_propagation(bigint, text) from public;
revoke all on function compliance.retry_propagation(bigint) from public;
grant execute on function compliance.claim_propagation_tasks(integer, integer) to compliance_worker;
grant execute on function compliance.record_propagation_attempt(bigint, text, text, text, integer) to compliance_worker;
grant execute on function compliance.record_propagation_callback(bigint, text, text) to compliance_receiver;
grant execute on function compliance.confirm_propagation(bigint, text) to compliance_dpo;
grant execute on function compliance.retry_propagation(bigint) to compliance_dpo;
revoke all on function compliance_private.propagate_request(bigint, text, text) from public;
revoke all on function compliance_private.settle_request(bigint) from public;
revoke all on function compliance_private.require_lease(integer, integer) from public;
revoke all on function compliance_private.confirm_task(compliance.propagation_tasks, text, text, text) from public;
revoke all on function compliance_private.check_dsr_propagation(jsonb) from public;
revoke all on function compliance_private.complete_restriction(compliance.dsr_requests) from public;
-- the receiver sets its request context like every request role
grant usage on schema compliance to compliance_receiver;
grant execute on function compliance.set_request_context(text, text[], inet, text) to compliance_receiver;

-- pgcomply's own records, kept because the law requires them: the DPO edits this activity like
-- any other, and adds the product's own
insert into compliance.processing_activities (activity, name, role, description, subject_categories, retention, security_measures)
values ('pgcomply_records', 'Records the law requires us to keep', 'controller',
  'The audit trail of who did what with personal data, the register of data subject requests, legal holds, proof of consent, access grants to health records, breach notifications and the alerts about them, objections and restrictions, and the requests sent to other systems.',
  array['customers', 'patients', 'workforce'], 'Audit trail, consent proof and requests: 7 years (compliance.retention_policies); holds until released.',
  'pgcomply: row-level security, a hash-chained audit log, encrypted health records (db/README.md)')
on conflict on constraint processing_activities_pkey do nothing;
insert into compliance.processing_activity_purposes (activity, purpose, legal_basis)
values ('pgcomply_records', 'Accountability and proof of compliance (GDPR Art. 5(2), 7(1), 30, 33; HIPAA §164.312(b))', 'legal_obligation')
on conflict on constraint processing_activity_purposes_pkey do nothing;
insert into compliance.processing_activity_tables (activity, relation)
select 'pgcomply_records', r from unnest(array['compliance.audit_logs', 'compliance.dsr_requests', 'compliance.legal_holds', 'compliance.consent_records',
  'compliance.access_grants', 'compliance.breach_subjects', 'compliance.alert_outbox', 'compliance.processing_limits',
  'compliance.propagation_tasks']::regclass[]) r
on conflict on constraint processing_activity_tables_pkey do nothing;

select compliance_private.record_expected_grants();
