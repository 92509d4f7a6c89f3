--! Previous: sha1:19a9dd3db2052fea4fbe2ac6d345a973164dcd6d
--! Hash: sha1:71c1ca9580f50b2e5685624eb1ae5b46dc446b2b
--! Message: health-records

-- HIPAA health records (§164.312): stored only as ciphertext the server made, with a per-patient
-- data key kept only wrapped by a master key outside the database; every access and every refused
-- attempt audited; the wrapped key deleted on erasure (crypto-shredding). db/README.md, "Health records".

-- the workforce role (db/roles.sql) calls the PHI functions and nothing else
grant usage on schema compliance to compliance_staff;

create table compliance.health_record_categories (
  category    text not null,
  description text not null,
  constraint health_record_categories_pkey primary key (category),
  constraint health_record_categories_name_format check (category ~ '^[a-z][a-z0-9_]{0,62}$')
);
comment on table compliance.health_record_categories is
  'The kinds of health record pgcomply accepts. A DBA adds one with INSERT (name: lower case, digits, underscores); create_health_record refuses any other with PHICT and lists these.';
comment on column compliance.health_record_categories.category is 'The category name a record carries; bound into its encryption (associated data) and integrity code.';
comment on column compliance.health_record_categories.description is 'What records of this category hold.';
insert into compliance.health_record_categories (category, description) values
  ('note',         'A clinical or care note'),
  ('diagnosis',    'A diagnosis or condition'),
  ('medication',   'A prescription or medication statement'),
  ('allergy',      'An allergy or intolerance'),
  ('lab_result',   'A laboratory result'),
  ('immunization', 'A vaccination'),
  ('procedure',    'A procedure performed'),
  ('vital_sign',   'A vital sign measurement'),
  ('imaging',      'An imaging study or its report'),
  ('care_plan',    'A care plan');
grant select on compliance.health_record_categories to compliance_app, compliance_dpo, compliance_staff, compliance_auditor;

-- the data keys: one per patient (key_version counts re-keyings), wrapped by the master key
-- version kek_version. Only the owner's routines read it; the server receives a wrapped key only
-- with an access the PHI functions allowed.
create table compliance_private.subject_keys (
  user_id      text        not null,
  key_version  integer     not null default 1,
  wrapped_key  bytea       not null,
  kek_version  integer     not null,
  created_at   timestamptz not null default now(),
  rewrapped_at timestamptz,
  constraint subject_keys_pkey primary key (user_id, key_version),
  constraint subject_keys_user_id_fkey foreign key (user_id) references compliance.user_profiles (user_id) on delete cascade,
  constraint subject_keys_key_version_positive check (key_version > 0),
  constraint subject_keys_kek_version_positive check (kek_version > 0),
  -- AES-256-GCM of a 32-byte key: 12-byte nonce, 32 bytes, 16-byte tag
  constraint subject_keys_wrapped_key_length check (octet_length(wrapped_key) = 60)
);
comment on table compliance_private.subject_keys is
  'Each patient''s data key (DEK), stored only wrapped (AES-256-GCM) by the master key (KEK) version kek_version, which never enters the database. Erasure deletes the row: the patient''s ciphertext left in WAL, replicas or older backups can then no longer be decrypted with the keys the live database holds (crypto-shredding; db/README.md says what it does not cover).';
comment on column compliance_private.subject_keys.user_id is 'The patient; the key goes with the profile.';
comment on column compliance_private.subject_keys.key_version is 'Which data key of the patient (records name it in key_version); 1 unless the patient was re-keyed.';
comment on column compliance_private.subject_keys.wrapped_key is 'nonce || ciphertext || tag of the data key under the master key, associated data binding patient, key version and master key version.';
comment on column compliance_private.subject_keys.kek_version is 'The master key version that wrapped it; key rotation rewraps it under a newer one.';
comment on column compliance_private.subject_keys.created_at is 'When the key was made (the patient''s first record).';
comment on column compliance_private.subject_keys.rewrapped_at is 'When a key rotation last rewrapped it; NULL if never.';
alter table compliance_private.subject_keys enable row level security;
alter table compliance_private.subject_keys force row level security;

create table compliance.health_records (
  id             uuid        not null,
  user_id        text        not null,
  category       text        not null,
  classification text        not null default 'restricted',
  recorded_by    text,
  recorded_at    timestamptz not null default date_trunc('milliseconds', now()),
  updated_at     timestamptz not null default now(),
  key_version    integer     not null,
  ciphertext     bytea       not null,
  integrity      bytea       not null,
  constraint health_records_pkey primary key (id),
  constraint health_records_user_id_fkey foreign key (user_id) references compliance.user_profiles (user_id) on delete cascade,
  constraint health_records_category_fkey foreign key (category) references compliance.health_record_categories (category),
  constraint health_records_key_fkey foreign key (user_id, key_version) references compliance_private.subject_keys (user_id, key_version) on delete cascade,
  constraint health_records_classification_known check (classification in ('confidential', 'restricted')),
  -- the integrity code covers recorded_at to the millisecond, which is what a client's clock holds
  constraint health_records_recorded_at_milliseconds check (recorded_at = date_trunc('milliseconds', recorded_at)),
  -- 1 MiB of plaintext, plus the 12-byte nonce and 16-byte tag
  constraint health_records_ciphertext_size check (octet_length(ciphertext) between 28 and 1048576 + 28),
  constraint health_records_integrity_length check (octet_length(integrity) = 32)
);
comment on table compliance.health_records is
  'Protected health information (HIPAA). The content is only ever here as AES-256-GCM ciphertext made by the server under the patient''s data key; PostgreSQL never sees plaintext or an unwrapped key. No client role reads the table: the PHI functions (read_health_records, create_health_record, …) decide who may and audit every access and every refusal.';
comment on column compliance.health_records.id is 'The record id, chosen by the server before encrypting: it is bound into the ciphertext''s associated data, so a ciphertext moved to another record fails to decrypt.';
comment on column compliance.health_records.user_id is 'The patient; the record goes with the profile.';
comment on column compliance.health_records.category is 'A compliance.health_record_categories name; bound into the associated data.';
comment on column compliance.health_records.classification is 'confidential or restricted (the default): how tightly the record is held.';
comment on column compliance.health_records.recorded_by is 'Who recorded it (the actor); emptied when that person is erased.';
comment on column compliance.health_records.recorded_at is 'When it was recorded, to the millisecond; covered by the integrity code.';
comment on column compliance.health_records.updated_at is 'When its content or classification last changed.';
comment on column compliance.health_records.key_version is 'Which of the patient''s data keys encrypted it (compliance_private.subject_keys).';
comment on column compliance.health_records.ciphertext is 'nonce (12 bytes) || AES-256-GCM ciphertext || tag (16 bytes); associated data: record id, patient, category, key version.';
comment on column compliance.health_records.integrity is 'HMAC-SHA256 over id, patient, category, classification, key version, recorded_at and ciphertext, under a key derived (HKDF) from the patient''s data key. Every read checks it.';
alter table compliance.health_records enable row level security;
alter table compliance.health_records force row level security;
-- ciphertext does not compress: spare PostgreSQL the attempt (TOAST stores it out of line as is)
alter table compliance.health_records alter column ciphertext set storage external;
create index health_records_user_id_idx on compliance.health_records (user_id, recorded_at);
create index health_records_recorded_by_idx on compliance.health_records (recorded_by) where recorded_by is not null;
create trigger _100_set_updated_at before update on compliance.health_records
  for each row execute function compliance_private.tg__set_updated_at();

insert into compliance.retention_policies (category, retention_period, counted_from, legal_basis, action) values
  ('health_records', null, null,
   'Kept until the patient is erased: GDPR Art. 9(2)(h) and 17(3)(c) (care and public health), and the medical record retention laws HIPAA leaves to the states (often 6 to 10 years); a DPO refuses an erasure those require, or places a legal hold',
   'until_erasure');

-- what the daily review of PHI access (review_phi_access) counts as unusual
create table compliance.phi_access_review_settings (
  singleton        boolean  not null default true,
  weekly_threshold integer  not null default 500,
  baseline_factor  numeric  not null default 3,
  day_starts       time     not null default '07:00',
  day_ends         time     not null default '19:00',
  time_zone        text     not null default 'UTC',
  constraint phi_access_review_settings_pkey primary key (singleton),
  constraint phi_access_review_settings_one_row check (singleton),
  constraint phi_access_review_settings_threshold_positive check (weekly_threshold > 0),
  constraint phi_access_review_settings_factor_above_one check (baseline_factor > 1),
  constraint phi_access_review_settings_day_ordered check (day_starts < day_ends),
  constraint phi_access_review_settings_time_zone_known check (('2000-01-01 00:00+00'::timestamptz at time zone time_zone) is not null)
);
comment on table compliance.phi_access_review_settings is
  'One row: what the unusual-access review (view phi_unusual_access, function review_phi_access) flags. A DPO changes it with UPDATE.';
comment on column compliance.phi_access_review_settings.singleton is 'Always true: the table has one row.';
comment on column compliance.phi_access_review_settings.weekly_threshold is 'An actor with more successful PHI accesses than this in the last 7 days is flagged.';
comment on column compliance.phi_access_review_settings.baseline_factor is 'An actor whose 7-day count exceeds this many times their own baseline (the 30 days before, scaled to 7) is flagged.';
comment on column compliance.phi_access_review_settings.day_starts is 'Workforce access before this local time is flagged.';
comment on column compliance.phi_access_review_settings.day_ends is 'Workforce access from this local time on is flagged.';
comment on column compliance.phi_access_review_settings.time_zone is 'The time zone day_starts and day_ends are read in (an IANA name).';
insert into compliance.phi_access_review_settings default values;
alter table compliance.phi_access_review_settings enable row level security;
alter table compliance.phi_access_review_settings force row level security;
grant select on compliance.phi_access_review_settings to compliance_dpo, compliance_worker, compliance_auditor;
grant update (weekly_threshold, baseline_factor, day_starts, day_ends, time_zone) on compliance.phi_access_review_settings to compliance_dpo;

-- how far the review has read: single audit rows are flagged once
create table compliance_private.phi_access_review_progress (
  singleton        boolean     not null default true,
  reviewed_through bigint      not null default 0,
  reviewed_at      timestamptz,
  constraint phi_access_review_progress_pkey primary key (singleton),
  constraint phi_access_review_progress_one_row check (singleton)
);
comment on table compliance_private.phi_access_review_progress is
  'The last audit row id the PHI access review has flagged single rows up to (it reads only sealed rows, so none can still appear below it).';
comment on column compliance_private.phi_access_review_progress.singleton is 'Always true: the table has one row.';
comment on column compliance_private.phi_access_review_progress.reviewed_through is 'Audit rows up to this id have been reviewed for out-of-hours and refused access.';
comment on column compliance_private.phi_access_review_progress.reviewed_at is 'When the review last ran.';
insert into compliance_private.phi_access_review_progress default values;
alter table compliance_private.phi_access_review_progress enable row level security;
alter table compliance_private.phi_access_review_progress force row level security;

-- included from fixtures/context/set_request_context.sql
-- compliance.set_request_context(actor text, roles text[], client_ip inet, user_agent text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.set_request_context(actor text, roles text[] DEFAULT '{}'::text[], client_ip inet DEFAULT NULL::inet, user_agent text DEFAULT NULL::text)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  -- the server switches to compliance_dpo or compliance_staff only for a token with the dpo or
  -- staff role; a context that says otherwise is a server bug acting with rights its caller does
  -- not have. Raised here, not through compliance_private, which the staff role cannot reach.
  if current_user in ('compliance_dpo', 'compliance_staff')
     and not coalesce(substr(current_user, 12) = any (roles), false) then
    raise exception 'the % role needs an actor whose roles include %', current_user, substr(current_user, 12)
      using errcode = 'DPORL',
            hint = format('Set the request context with roles => ''{%s}'', or act for a subject as compliance_app.', substr(current_user, 12));
  end if;
  perform set_config('compliance.actor', coalesce(actor, ''), true),
          set_config('compliance.actor_roles', coalesce(array_to_string(roles, ','), ''), true),
          set_config('compliance.client_ip', coalesce(client_ip::text, ''), true),
          set_config('compliance.user_agent', coalesce(left(user_agent, 512), ''), true);
end;
$function$;

comment on function compliance.set_request_context(actor text, roles text[], client_ip inet, user_agent text) is
  'Sets who is acting in this transaction (actor, their roles, client IP and user agent); every audit row reads them. As compliance_dpo or compliance_staff, the roles must include dpo or staff (DPORL otherwise).';

-- included from fixtures/health/phi_caller_role.sql
-- compliance_private.phi_caller_role(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.phi_caller_role()
 RETURNS text
 LANGUAGE sql
 STABLE PARALLEL SAFE
RETURN CASE current_setting('role'::text) WHEN 'compliance_app'::text THEN 'patient'::text WHEN 'compliance_dpo'::text THEN 'dpo'::text WHEN 'compliance_staff'::text THEN 'staff'::text WHEN 'compliance_auditor'::text THEN 'auditor'::text ELSE 'other'::text END;

comment on function compliance_private.phi_caller_role() is
  'The role a PHI function''s caller acts in, read from SET ROLE (so it holds inside SECURITY DEFINER functions): patient (compliance_app, acting for its own subject), dpo, staff, auditor, or other (a session that chose none of them, such as a DBA''s login).';

-- included from fixtures/health/phi_check.sql
-- compliance_private.phi_check(patient text, purpose text, intent text, record_id uuid): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.phi_check(patient text, purpose text, intent text, record_id uuid DEFAULT NULL::uuid)
 RETURNS text
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_role text := compliance_private.phi_caller_role();
  v_reason text;
  v_known boolean;
begin
  if purpose is null or purpose not in ('treatment', 'payment', 'operations', 'emergency', 'patient_request') then
    perform compliance_private.raise_error('BADRG', format('purpose of use %L is unknown', purpose),
      'Use treatment, payment, operations, emergency or patient_request (HIPAA purposes of use).');
  end if;
  if intent not in ('read', 'create', 'update', 'delete') then
    perform compliance_private.raise_error('BADRG', format('intent %L is unknown', intent), 'Use read, create, update or delete.');
  end if;
  -- holds the patient against a concurrent erasure until this transaction ends: no access row
  -- may outlive the patient's erasure
  perform from compliance.user_profiles p where p.user_id = phi_check.patient for key share;
  v_known := found;

  v_reason := case
    when not v_known then 'unknown_patient'
    when exists (select from compliance.health_records h where h.id = record_id and h.user_id <> patient)
      then 'not_this_patients_record'
    when v_role = 'patient' then
      case when patient is distinct from compliance.current_subject() then 'not_the_patient'
           when purpose <> 'patient_request' then 'patient_purpose_is_patient_request' end
    when v_role = 'dpo' then
      -- the DPO sees records only while fulfilling an access or portability request, which this
      -- same transaction registered (export_subject)
      case when intent <> 'read' then 'dpo_reads_only'
           when purpose <> 'patient_request' then 'dpo_purpose_is_patient_request'
           when not exists (select from compliance.dsr_requests r
                             where r.user_id = patient and r.kind in ('access', 'portability')
                               and r.xmin = pg_current_xact_id()::xid) then 'no_access_request_in_this_transaction' end
    -- workforce access needs an access grant, which pgcomply does not issue yet
    when v_role = 'staff' then 'no_active_grant'
    else 'role_not_permitted'
  end;
  -- one row per refusal and transaction: the server asks phi_access and calls the data function
  -- in one round trip, and both refuse alike
  if v_reason is not null and not exists (
       select from compliance.audit_logs a
        where a.xact_id = pg_current_xact_id() and a.action = 'phi.denied'
          and a.user_id is not distinct from (case when v_known then patient end)
          and a.failure_reason = v_reason and a.details ->> 'intent' = intent
          and a.details ->> 'purpose' = purpose
          and a.details -> 'record_ids' = to_jsonb(case when record_id is null then '{}'::uuid[] else array[record_id] end)) then
    perform compliance_private.log_phi_access('phi.denied', case when v_known then patient end, purpose, intent,
      case when record_id is null then '{}'::uuid[] else array[record_id] end, 'failure', v_reason);
  end if;
  return v_reason;
end;
$function$;

comment on function compliance_private.phi_check(patient text, purpose text, intent text, record_id uuid) is
  'The access decision of every PHI function: NULL when the caller may (a patient their own records for patient_request; a DPO reading inside the transaction that registered the patient''s access or portability request; staff only under an access grant, which does not exist yet), else the reason, after writing a phi.denied audit row (one per refusal and transaction). Never raises for a refusal, so the refusal''s row survives when the caller commits; raises BADRG for an unknown purpose or intent. Locks the patient''s profile against erasure (FOR KEY SHARE).';

-- included from fixtures/health/log_phi_access.sql
-- compliance_private.log_phi_access(action text, patient text, purpose text, intent text, record_ids uuid[], outcome text, failure_reason text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.log_phi_access(action text, patient text, purpose text, intent text, record_ids uuid[], outcome text DEFAULT 'success'::text, failure_reason text DEFAULT NULL::text)
 RETURNS bigint
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  -- PL/pgSQL, not an SQL function: its plan is kept across calls, and every PHI access calls it
  return compliance_private.append_audit(action, 'hipaa', 'health_record',
    case when cardinality(record_ids) = 1 then record_ids[1]::text end,
    jsonb_build_object('purpose', purpose, 'intent', intent, 'actor_role', compliance_private.phi_caller_role(),
                       'record_ids', to_jsonb(coalesce(record_ids, '{}'::uuid[]))),
    patient, null, outcome, failure_reason);
end;
$function$;

comment on function compliance_private.log_phi_access(action text, patient text, purpose text, intent text, record_ids uuid[], outcome text, failure_reason text) is
  'Writes one PHI access row (category hipaa): the patient as the row''s subject; the actor, IP and user agent from the request context; details with the purpose of use, the intent, the actor''s role and the record ids; the outcome and failure reason.';

-- included from fixtures/health/phi_access.sql
-- compliance.phi_access(patient text, purpose text, intent text, record_id uuid): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.phi_access(patient text, purpose text, intent text, record_id uuid DEFAULT NULL::uuid)
 RETURNS TABLE(allowed boolean, reason text, key_version integer, wrapped_key bytea, kek_version integer, category text, recorded_at timestamp with time zone)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_reason text := compliance_private.phi_check(patient, purpose, intent, record_id);
begin
  if v_reason is not null then
    return query select false, v_reason, null::integer, null::bytea, null::integer, null::text, null::timestamptz;
    return;
  end if;
  return query
    select true, null::text, k.key_version, k.wrapped_key, k.kek_version, h.category,
           coalesce(h.recorded_at, date_trunc('milliseconds', now()))
      from (select) one
      left join lateral (select k.key_version, k.wrapped_key, k.kek_version from compliance_private.subject_keys k
                          where k.user_id = phi_access.patient order by k.key_version desc limit 1) k on true
      left join compliance.health_records h on h.id = phi_access.record_id;
end;
$function$;

comment on function compliance.phi_access(patient text, purpose text, intent text, record_id uuid) is
  'Asks whether the caller may read, create, update or delete (intent) the patient''s health records for a purpose of use (treatment, payment, operations, emergency, patient_request). One row: allowed and, when it is, the patient''s newest wrapped data key (NULL before the first record; the server makes one), the record''s category and recorded_at for an update (else the database''s time, to the millisecond). A refusal returns allowed = false with the reason and writes a phi.denied audit row, without raising: commit, and the refusal stays on record. The server calls it before a write whose patient key it does not hold, and after a read that returned nothing, to learn why.';

-- included from fixtures/health/read_health_records.sql
-- compliance.read_health_records(patient text, purpose text, record_ids uuid[]): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.read_health_records(patient text, purpose text, record_ids uuid[] DEFAULT NULL::uuid[])
 RETURNS TABLE(id uuid, category text, classification text, recorded_by text, recorded_at timestamp with time zone, updated_at timestamp with time zone, key_version integer, ciphertext bytea, integrity bytea, wrapped_key bytea, kek_version integer)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_ids uuid[] := '{}';
  v_row record;
begin
  if compliance_private.phi_check(patient, purpose, 'read',
       case when cardinality(record_ids) = 1 then record_ids[1] end) is not null then
    return;
  end if;
  -- one pass: each row is returned and its id collected for the audit row written after the
  -- last (the caller receives nothing before the function ends)
  -- two branches, each gated by whether ids were named, so each keeps its own index
  for v_row in
    select r.*, k.wrapped_key, k.kek_version
      from (select h.* from compliance.health_records h
             where read_health_records.record_ids is null and h.user_id = read_health_records.patient
            union all
            select h.* from compliance.health_records h
             where read_health_records.record_ids is not null and h.id = any (read_health_records.record_ids)
               and h.user_id = read_health_records.patient) r
      join compliance_private.subject_keys k on k.user_id = r.user_id and k.key_version = r.key_version
     order by r.recorded_at, r.id
  loop
    v_ids := v_ids || v_row.id;
    id := v_row.id; category := v_row.category; classification := v_row.classification;
    recorded_by := v_row.recorded_by; recorded_at := v_row.recorded_at; updated_at := v_row.updated_at;
    key_version := v_row.key_version; ciphertext := v_row.ciphertext; integrity := v_row.integrity;
    wrapped_key := v_row.wrapped_key; kek_version := v_row.kek_version;
    return next;
  end loop;
  -- a list is a query (FHIR search), a request for named records a read
  perform compliance_private.log_phi_access('phi.read', patient, purpose,
    case when record_ids is null then 'search' else 'read' end, v_ids);
end;
$function$;

comment on function compliance.read_health_records(patient text, purpose text, record_ids uuid[]) is
  'The patient''s health records (all, or those in record_ids), oldest first, as ciphertext with the integrity code and the wrapped data key: the server checks the integrity code, unwraps the key and decrypts. Audited as phi.read with the record ids returned (intent search without record_ids, else read). A refused caller gets no rows and a phi.denied audit row (see phi_access, which says why).';

-- included from fixtures/health/create_health_record.sql
-- compliance.create_health_record(id uuid, patient text, category text, classification text, purpose text, key_version integer, recorded_at timestamp with time zone, ciphertext bytea, integrity bytea, new_wrapped_key bytea, new_kek_version integer): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.create_health_record(id uuid, patient text, category text, classification text, purpose text, key_version integer, recorded_at timestamp with time zone, ciphertext bytea, integrity bytea, new_wrapped_key bytea DEFAULT NULL::bytea, new_kek_version integer DEFAULT NULL::integer)
 RETURNS timestamp with time zone
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_row compliance.health_records;
begin
  if not exists (select from compliance.health_record_categories c where c.category = create_health_record.category) then
    perform compliance_private.raise_error('PHICT',
      format('unknown health record category %s; valid categories: %s', coalesce(create_health_record.category, 'NULL'),
        (select string_agg(c.category, ', ' order by c.category) from compliance.health_record_categories c)),
      'A DBA adds categories to compliance.health_record_categories.');
  end if;
  if classification is null or classification not in ('confidential', 'restricted') then
    perform compliance_private.raise_error('BADRG', format('classification %L is unknown', classification), 'Use confidential or restricted.');
  end if;
  -- the server's clock (the integrity code covers it, so the server chooses it), within five
  -- minutes of the database's
  if recorded_at is null or recorded_at <> date_trunc('milliseconds', recorded_at)
     or recorded_at not between now() - interval '5 minutes' and clock_timestamp() + interval '5 minutes' then
    perform compliance_private.raise_error('BADRG', 'recorded_at must be the current time, to the millisecond, within five minutes of the database clock',
      'Check the server''s clock against the database''s (NTP).');
  end if;
  if compliance_private.phi_check(patient, purpose, 'create') is not null then
    return null;
  end if;
  if new_wrapped_key is not null then
    insert into compliance_private.subject_keys (user_id, key_version, wrapped_key, kek_version)
    values (patient, create_health_record.key_version, new_wrapped_key, new_kek_version)
    on conflict on constraint subject_keys_pkey do nothing;
    if not found then
      -- two first records of one patient at once: the other's key won; this transaction runs again
      raise exception 'the patient''s data key was created concurrently' using errcode = '40001',
        hint = 'Run the transaction again: phi_access then returns the key that exists.';
    end if;
  elsif not exists (select from compliance_private.subject_keys k
                     where k.user_id = create_health_record.patient and k.key_version = create_health_record.key_version) then
    perform compliance_private.raise_error('BADRG', format('the patient has no data key version %s', create_health_record.key_version),
      'Pass the key phi_access returned, or a new wrapped key (new_wrapped_key, new_kek_version) when it returned none.');
  end if;
  insert into compliance.health_records as h (id, user_id, category, classification, recorded_by, recorded_at,
    key_version, ciphertext, integrity)
  values (create_health_record.id, patient, create_health_record.category, create_health_record.classification,
    compliance.current_actor(), create_health_record.recorded_at, create_health_record.key_version,
    create_health_record.ciphertext, create_health_record.integrity)
  returning h.* into v_row;
  perform compliance_private.log_phi_access('phi.created', patient, purpose, 'create', array[v_row.id]);
  return v_row.updated_at;
end;
$function$;

comment on function compliance.create_health_record(id uuid, patient text, category text, classification text, purpose text, key_version integer, recorded_at timestamp with time zone, ciphertext bytea, integrity bytea, new_wrapped_key bytea, new_kek_version integer) is
  'Stores a health record the server encrypted: id and recorded_at (the server''s clock, to the millisecond, at most five minutes from the database''s) as bound into its associated data and integrity code, the patient''s data key version, and, for the patient''s first record, the new wrapped data key. Returns the record''s updated_at. Audited as phi.created. A refused caller gets NULL and a phi.denied audit row. Errors: PHICT unknown category (lists the valid ones), BADRG, 40001 when another transaction made the patient''s first key at the same moment (run again), 23514 for a record over 1 MiB.';

-- included from fixtures/health/update_health_record.sql
-- compliance.update_health_record(id uuid, purpose text, classification text, key_version integer, ciphertext bytea, integrity bytea): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.update_health_record(id uuid, purpose text, classification text, key_version integer, ciphertext bytea, integrity bytea)
 RETURNS timestamp with time zone
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_patient text;
  v_row compliance.health_records;
begin
  if classification is null or classification not in ('confidential', 'restricted') then
    perform compliance_private.raise_error('BADRG', format('classification %L is unknown', classification), 'Use confidential or restricted.');
  end if;
  select h.user_id into v_patient from compliance.health_records h where h.id = update_health_record.id;
  if not found then
    perform compliance_private.raise_error('PHINF', 'no health record with that id', 'Check the record id.');
  end if;
  if compliance_private.phi_check(v_patient, purpose, 'update', update_health_record.id) is not null then
    return null;
  end if;
  update compliance.health_records h
     set classification = update_health_record.classification, key_version = update_health_record.key_version,
         ciphertext = update_health_record.ciphertext, integrity = update_health_record.integrity
   where h.id = update_health_record.id
  returning h.* into v_row;
  perform compliance_private.log_phi_access('phi.updated', v_patient, purpose, 'update', array[v_row.id]);
  return v_row.updated_at;
end;
$function$;

comment on function compliance.update_health_record(id uuid, purpose text, classification text, key_version integer, ciphertext bytea, integrity bytea) is
  'Replaces a health record''s content (re-encrypted by the server under the patient''s data key, with a new integrity code over the unchanged recorded_at and category from phi_access) and classification. Returns the new updated_at. Audited as phi.updated. A refused caller gets NULL and a phi.denied audit row. Errors: PHINF no such record, BADRG.';

-- included from fixtures/health/delete_health_record.sql
-- compliance.delete_health_record(id uuid, purpose text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.delete_health_record(id uuid, purpose text)
 RETURNS boolean
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_patient text;
begin
  select h.user_id into v_patient from compliance.health_records h where h.id = delete_health_record.id;
  if not found then
    perform compliance_private.raise_error('PHINF', 'no health record with that id', 'Check the record id.');
  end if;
  if compliance_private.phi_check(v_patient, purpose, 'delete', delete_health_record.id) is not null then
    return false;
  end if;
  delete from compliance.health_records h where h.id = delete_health_record.id;
  perform compliance_private.log_phi_access('phi.deleted', v_patient, purpose, 'delete', array[delete_health_record.id]);
  return true;
end;
$function$;

comment on function compliance.delete_health_record(id uuid, purpose text) is
  'Deletes one health record. true when deleted (audited as phi.deleted); false when the caller is refused (a phi.denied audit row says why). Errors: PHINF no such record.';

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
  if failed_check is null or failed_check not in ('integrity_code', 'decryption', 'key_unwrap') then
    perform compliance_private.raise_error('BADRG', format('failed_check %L is unknown', failed_check),
      'Use integrity_code, decryption or key_unwrap.');
  end if;
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
  'Records that a health record the caller read failed a check in the server (failed_check: integrity_code, decryption or key_unwrap): a phi.integrity_failure audit row about the patient, so a tampered or misplaced record is on the record and in the daily review. Returns the audit row id (NULL when the caller may not read the record: a phi.denied row instead). Errors: PHINF, BADRG.';

-- included from fixtures/health/phi_access_log.sql
-- compliance.phi_access_log(before_id bigint, page_size integer): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.phi_access_log(before_id bigint DEFAULT NULL::bigint, page_size integer DEFAULT 50)
 RETURNS TABLE(id bigint, occurred_at timestamp with time zone, action text, actor_id text, actor_role text, purpose text, record_ids jsonb, outcome text, failure_reason text)
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_subject text := compliance_private.require_context_subject();
begin
  if page_size is null or page_size not between 1 and 500 then
    perform compliance_private.raise_error('BADRG', 'page_size must be between 1 and 500');
  end if;
  -- the actor's network address and user agent are the actor's personal data, not the patient's
  return query
    select a.id, a.occurred_at, a.action, a.actor_id,
           coalesce(a.details ->> 'actor_role',
                    case when a.actor_id is null or a.actor_id like 'pgcomply\_%' then 'system'
                         when a.actor_id = v_subject then 'patient' else 'dpo' end),
           a.details ->> 'purpose', coalesce(a.details -> 'record_ids', '[]'::jsonb), a.outcome, a.failure_reason
      from compliance.audit_logs a
     where a.user_id = v_subject
       and a.action <> 'phi.unusual_access'
       and (a.action like 'phi.%' or a.actor_id is distinct from v_subject)
       and (phi_access_log.before_id is null or a.id < phi_access_log.before_id)
     order by a.id desc
     limit page_size;
end;
$function$;

comment on function compliance.phi_access_log(before_id bigint, page_size integer) is
  '"Who accessed my data" for the request''s subject, newest first, a page at a time (before_id: the last id of the previous page): every access to their health records and every refused attempt (phi.*), and every action someone else (the DPO, the system) took about them: when, who, in which role, for what purpose, which records, the outcome. Errors: NOCTX without a request context, BADRG.';

-- included from fixtures/health/phi_audit_events.sql
-- compliance.phi_audit_events(patient text, since timestamp with time zone, after_id bigint, max_rows integer): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.phi_audit_events(patient text DEFAULT NULL::text, since timestamp with time zone DEFAULT NULL::timestamp with time zone, after_id bigint DEFAULT 0, max_rows integer DEFAULT 200)
 RETURNS TABLE(id bigint, occurred_at timestamp with time zone, action text, outcome text, failure_reason text, user_id text, actor_id text, actor_role text, purpose text, intent text, record_ids jsonb, ip_address text, user_agent text)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_count bigint;
  v_known boolean := false;
begin
  if max_rows is null or max_rows not between 1 and 1000 then
    perform compliance_private.raise_error('BADRG', 'max_rows must be between 1 and 1000');
  end if;
  if patient is not null then
    perform from compliance.user_profiles p where p.user_id = phi_audit_events.patient for key share;
    v_known := found;
  end if;
  return query
    select a.id, a.occurred_at, a.action, a.outcome, a.failure_reason, a.user_id, a.actor_id,
           a.details ->> 'actor_role', a.details ->> 'purpose', a.details ->> 'intent',
           coalesce(a.details -> 'record_ids', '[]'::jsonb), host(a.ip_address), a.user_agent
      from compliance.audit_logs a
     where a.action in ('phi.read', 'phi.created', 'phi.updated', 'phi.deleted', 'phi.denied', 'phi.integrity_failure')
       and (phi_audit_events.patient is null or a.user_id = phi_audit_events.patient)
       and (phi_audit_events.since is null or a.occurred_at >= phi_audit_events.since)
       and a.id > coalesce(phi_audit_events.after_id, 0)
     order by a.id
     limit max_rows;
  get diagnostics v_count = row_count;
  -- reading who accessed a patient's records is itself an access to personal data; an unknown
  -- or erased patient is not named
  perform compliance_private.append_audit('audit.phi_events_read', 'hipaa', 'audit_log', null,
    jsonb_build_object('rows', v_count, 'since', since, 'after_id', after_id, 'one_patient', patient is not null),
    case when v_known then patient end);
end;
$function$;

comment on function compliance.phi_audit_events(patient text, since timestamp with time zone, after_id bigint, max_rows integer) is
  'The PHI access log (phi.read, created, updated, deleted, denied, integrity_failure), oldest first from after_id, for one patient or all, since a time: who, in which role, from which address, for what purpose, which records, the outcome. The server turns it into FHIR AuditEvent resources. For the DPO and the auditor; each call is audited (audit.phi_events_read). Errors: BADRG.';

-- included from fixtures/health/phi_unusual_access.sql
-- view compliance.phi_unusual_access: its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE VIEW compliance.phi_unusual_access AS
 WITH settings AS (
         SELECT s.weekly_threshold, s.baseline_factor, s.day_starts, s.day_ends, s.time_zone
           FROM compliance.phi_access_review_settings s
        ), access AS (
         SELECT a.id, a.occurred_at, a.user_id, a.actor_id, a.action, a.outcome,
            (a.details ->> 'actor_role'::text) AS actor_role
           FROM compliance.audit_logs a
          WHERE ((a.occurred_at >= (now() - '37 days'::interval))
            AND (a.action = ANY (ARRAY['phi.read'::text, 'phi.created'::text, 'phi.updated'::text, 'phi.deleted'::text, 'phi.denied'::text, 'phi.integrity_failure'::text])))
        ), workforce AS (
         SELECT access.id, access.occurred_at, access.user_id, access.actor_id
           FROM access
          WHERE ((access.actor_role IS DISTINCT FROM 'patient'::text) AND (access.outcome = 'success'::text)
            AND (access.action <> 'phi.integrity_failure'::text))
        ), counts AS (
         SELECT workforce.actor_id,
            count(*) FILTER (WHERE (workforce.occurred_at >= (now() - '7 days'::interval))) AS last_week,
            count(*) FILTER (WHERE (workforce.occurred_at < (now() - '7 days'::interval))) AS baseline_month
           FROM workforce
          GROUP BY workforce.actor_id
        )
 SELECT 'over_threshold'::text AS finding, c.actor_id, NULL::text AS patient, c.last_week AS accesses,
    round((((c.baseline_month)::numeric * 7.0) / 30.0), 1) AS weekly_baseline, NULL::bigint AS audit_row_id,
    NULL::timestamp with time zone AS occurred_at
   FROM counts c, settings s
  WHERE (c.last_week > s.weekly_threshold)
UNION ALL
 SELECT 'over_baseline'::text AS finding, c.actor_id, NULL::text AS patient, c.last_week AS accesses,
    round((((c.baseline_month)::numeric * 7.0) / 30.0), 1) AS weekly_baseline, NULL::bigint AS audit_row_id,
    NULL::timestamp with time zone AS occurred_at
   FROM counts c, settings s
  WHERE ((c.baseline_month > 0) AND ((c.last_week)::numeric > (((s.baseline_factor * (c.baseline_month)::numeric) * 7.0) / 30.0)))
UNION ALL
 SELECT 'outside_hours'::text AS finding, w.actor_id, w.user_id AS patient, 1::bigint AS accesses,
    NULL::numeric AS weekly_baseline, w.id AS audit_row_id, w.occurred_at
   FROM workforce w, settings s
  WHERE ((w.occurred_at >= (now() - '7 days'::interval))
    AND ((((w.occurred_at AT TIME ZONE s.time_zone))::time without time zone < s.day_starts)
      OR (((w.occurred_at AT TIME ZONE s.time_zone))::time without time zone >= s.day_ends)))
UNION ALL
 SELECT (CASE WHEN (a.action = 'phi.denied'::text) THEN 'refused'::text ELSE 'integrity_failure'::text END) AS finding,
    a.actor_id, a.user_id AS patient, 1::bigint AS accesses, NULL::numeric AS weekly_baseline, a.id AS audit_row_id, a.occurred_at
   FROM access a
  WHERE ((a.occurred_at >= (now() - '7 days'::interval)) AND (a.action = ANY (ARRAY['phi.denied'::text, 'phi.integrity_failure'::text])));

comment on view compliance.phi_unusual_access is
  'PHI access worth a second look, over the last 7 days (HIPAA §164.308(a)(1)(ii)(D) information system activity review): each workforce actor (anyone but the patient themself) with more successful accesses than weekly_threshold (over_threshold) or more than baseline_factor times their own baseline from the 30 days before (over_baseline), each workforce access outside day_starts..day_ends (outside_hours), every refused attempt (refused) and every record that failed its integrity check (integrity_failure). Settings: compliance.phi_access_review_settings. review_phi_access alerts on them daily.';
comment on column compliance.phi_unusual_access.finding is 'over_threshold, over_baseline, outside_hours, refused or integrity_failure.';
comment on column compliance.phi_unusual_access.actor_id is 'Who accessed (NULL once erased).';
comment on column compliance.phi_unusual_access.patient is 'Whose records, for a finding about one access; NULL for the counts.';
comment on column compliance.phi_unusual_access.accesses is 'Successful accesses by the actor in the last 7 days, or 1 for a finding about one access.';
comment on column compliance.phi_unusual_access.weekly_baseline is 'The actor''s accesses in the 30 days before the last 7, scaled to a week.';
comment on column compliance.phi_unusual_access.audit_row_id is 'The audit row of the one access the finding is about; NULL for the counts.';
comment on column compliance.phi_unusual_access.occurred_at is 'When that access happened; NULL for the counts.';

-- included from fixtures/health/review_phi_access.sql
-- compliance.review_phi_access(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.review_phi_access()
 RETURNS TABLE(finding text, actor_id text, accesses bigint, weekly_baseline numeric, audit_row_id bigint, alert_row_id bigint)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_through bigint;
  v_sealed bigint;
  v_found record;
begin
  select p.reviewed_through into v_through from compliance_private.phi_access_review_progress p for update;
  -- single rows only up to the sealed end: every row below it has committed or never will, so
  -- moving past it skips none (db/AUDIT_HASHING.md)
  select coalesce((select s.last_row_id from compliance.audit_seals s where s.layout = 2 order by s.seal_no desc limit 1), 0)
    into v_sealed;
  for v_found in
    select u.* from compliance.phi_unusual_access u
     where (u.audit_row_id is null
            -- the counts once a day per actor and kind while they stay over
            and not exists (select from compliance.audit_logs a
                             where a.action = 'phi.unusual_access' and a.occurred_at >= now() - interval '20 hours'
                               and a.user_id is not distinct from u.actor_id and a.details ->> 'finding' = u.finding))
        or (u.audit_row_id > v_through and u.audit_row_id <= v_sealed)
     order by u.audit_row_id nulls first, u.actor_id
  loop
    finding := v_found.finding;
    actor_id := v_found.actor_id;
    accesses := v_found.accesses;
    weekly_baseline := v_found.weekly_baseline;
    audit_row_id := v_found.audit_row_id;
    -- the row is about the actor flagged, so their erasure reaches it; the patient stays in the
    -- access row it points to
    alert_row_id := compliance_private.append_audit('phi.unusual_access', 'hipaa', 'audit_log', v_found.audit_row_id::text,
      jsonb_build_object('finding', v_found.finding, 'accesses', v_found.accesses, 'weekly_baseline', v_found.weekly_baseline),
      v_found.actor_id);
    return next;
  end loop;
  update compliance_private.phi_access_review_progress p
     set reviewed_through = greatest(v_through, v_sealed), reviewed_at = now();
end;
$function$;

comment on function compliance.review_phi_access() is
  'The daily review of PHI access (worker job phi_unusual_access): writes a phi.unusual_access audit row about the actor for each finding of compliance.phi_unusual_access not alerted yet (single accesses once; counts once a day while over) and returns them for the alert. Reads single accesses only up to the newest seal, so a late-committing row is reviewed next time, never skipped.';

-- included from fixtures/health/phi_key_versions.sql
-- compliance.phi_key_versions(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.phi_key_versions()
 RETURNS TABLE(kek_version integer, data_keys bigint)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
BEGIN ATOMIC
 SELECT k.kek_version, count(*) AS data_keys
   FROM compliance_private.subject_keys k
  GROUP BY k.kek_version
  ORDER BY k.kek_version;
END;

comment on function compliance.phi_key_versions() is
  'Which master key versions wrap the stored data keys, and how many each: the server checks at start that it holds every one, and a rotation is done when only the new version is left.';

-- included from fixtures/health/subject_keys_to_rewrap.sql
-- compliance.subject_keys_to_rewrap(kek_version integer, max_rows integer): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.subject_keys_to_rewrap(kek_version integer, max_rows integer DEFAULT 1000)
 RETURNS TABLE(user_id text, key_version integer, wrapped_key bytea, wrapped_by integer)
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  if max_rows is null or max_rows not between 1 and 100000 then
    perform compliance_private.raise_error('BADRG', 'max_rows must be between 1 and 100000');
  end if;
  return query
    select k.user_id, k.key_version, k.wrapped_key, k.kek_version
      from compliance_private.subject_keys k
     where k.kek_version <> subject_keys_to_rewrap.kek_version
     order by k.user_id, k.key_version
     limit max_rows;
end;
$function$;

comment on function compliance.subject_keys_to_rewrap(kek_version integer, max_rows integer) is
  'A batch of wrapped data keys not yet wrapped by master key version kek_version, for the key rotation command (npm run phi-keys -- rotate): it unwraps each with its old master key, wraps it with the new one and stores it with rewrap_subject_key. No record''s ciphertext changes. Worker role only.';

-- included from fixtures/health/rewrap_subject_key.sql
-- compliance.rewrap_subject_key(user_id text, key_version integer, wrapped_by integer, wrapped_key bytea, kek_version integer): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.rewrap_subject_key(user_id text, key_version integer, wrapped_by integer, wrapped_key bytea, kek_version integer)
 RETURNS boolean
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  update compliance_private.subject_keys k
     set wrapped_key = rewrap_subject_key.wrapped_key, kek_version = rewrap_subject_key.kek_version, rewrapped_at = now()
   where k.user_id = rewrap_subject_key.user_id and k.key_version = rewrap_subject_key.key_version
     and k.kek_version = rewrap_subject_key.wrapped_by;
  return found;
end;
$function$;

comment on function compliance.rewrap_subject_key(user_id text, key_version integer, wrapped_by integer, wrapped_key bytea, kek_version integer) is
  'Stores a data key rewrapped under master key version kek_version, if it is still wrapped by wrapped_by (false when the patient was erased or another rotation got there first). Worker role only.';

-- included from fixtures/health/record_phi_key_rotation.sql
-- compliance.record_phi_key_rotation(kek_version integer, rewrapped integer): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.record_phi_key_rotation(kek_version integer, rewrapped integer)
 RETURNS bigint
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_remaining bigint;
begin
  select count(*) into v_remaining from compliance_private.subject_keys k where k.kek_version <> record_phi_key_rotation.kek_version;
  return compliance_private.append_audit('phi.keys_rotated', 'hipaa', 'subject_keys', null,
    jsonb_build_object('kek_version', kek_version, 'rewrapped', rewrapped, 'remaining', v_remaining));
end;
$function$;

comment on function compliance.record_phi_key_rotation(kek_version integer, rewrapped integer) is
  'Audits a finished key rotation (phi.keys_rotated): the new master key version, how many data keys were rewrapped, and how many are still under another version (0 means the old master key may be retired). Worker role only.';

-- included from fixtures/access/health_records.owner_routines.sql
-- policy owner_routines on compliance.health_records: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance.health_records;
create policy owner_routines on compliance.health_records as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance.health_records is 'Only the PHI functions (SECURITY DEFINER, running as the owner) reach health records; no client role has a policy here.';

-- included from fixtures/access/subject_keys.owner_routines.sql
-- policy owner_routines on compliance_private.subject_keys: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance_private.subject_keys;
create policy owner_routines on compliance_private.subject_keys as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance_private.subject_keys is 'Only the PHI and key-rotation functions (SECURITY DEFINER, running as the owner) reach the wrapped data keys.';

-- included from fixtures/access/phi_access_review_settings.owner_routines.sql
-- policy owner_routines on compliance.phi_access_review_settings: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance.phi_access_review_settings;
create policy owner_routines on compliance.phi_access_review_settings as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance.phi_access_review_settings is 'The review (SECURITY DEFINER, running as the owner) reads the settings.';

-- included from fixtures/access/phi_access_review_settings.review_roles.sql
-- policy review_roles on compliance.phi_access_review_settings: its current definition (db/CONVENTIONS.md).

drop policy if exists review_roles on compliance.phi_access_review_settings;
create policy review_roles on compliance.phi_access_review_settings as permissive for all to compliance_dpo, compliance_worker, compliance_auditor
  using (true)
  with check (true);
comment on policy review_roles on compliance.phi_access_review_settings is 'The one settings row is visible to the DPO, worker and auditor; the grants decide that only the DPO may change it.';

-- included from fixtures/access/phi_access_review_progress.owner_routines.sql
-- policy owner_routines on compliance_private.phi_access_review_progress: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance_private.phi_access_review_progress;
create policy owner_routines on compliance_private.phi_access_review_progress as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance_private.phi_access_review_progress is 'Only review_phi_access (SECURITY DEFINER) reads and moves the review''s progress.';

-- included from fixtures/subject-rights/erase_subject_core.sql
-- compliance_private.erase_subject_core(user_id text, reason text, confirm boolean, requested_by text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.erase_subject_core(user_id text, reason text, confirm boolean, requested_by text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
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

  -- children before the profile so each count is exact
  foreach v_table in array array['health_records', 'messages', 'conversations', 'consent_records', 'sessions',
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
  'The erasure transaction; see compliance.erase_subject.';

revoke all on function compliance.phi_access(text, text, text, uuid), compliance.read_health_records(text, text, uuid[]),
  compliance.create_health_record(uuid, text, text, text, text, integer, timestamptz, bytea, bytea, bytea, integer),
  compliance.update_health_record(uuid, text, text, integer, bytea, bytea), compliance.delete_health_record(uuid, text),
  compliance.report_phi_integrity_failure(uuid, text, text), compliance.phi_access_log(bigint, integer),
  compliance.phi_audit_events(text, timestamptz, bigint, integer), compliance.review_phi_access(),
  compliance.phi_key_versions(), compliance.subject_keys_to_rewrap(integer, integer),
  compliance.rewrap_subject_key(text, integer, integer, bytea, integer), compliance.record_phi_key_rotation(integer, integer)
  from public;
grant execute on function compliance.phi_access(text, text, text, uuid), compliance.read_health_records(text, text, uuid[]),
  compliance.create_health_record(uuid, text, text, text, text, integer, timestamptz, bytea, bytea, bytea, integer),
  compliance.update_health_record(uuid, text, text, integer, bytea, bytea), compliance.delete_health_record(uuid, text),
  compliance.report_phi_integrity_failure(uuid, text, text)
  to compliance_app, compliance_dpo, compliance_staff;
grant execute on function compliance.phi_access_log(bigint, integer) to compliance_app;
grant execute on function compliance.phi_key_versions() to compliance_app, compliance_worker;
grant execute on function compliance.phi_audit_events(text, timestamptz, bigint, integer) to compliance_dpo, compliance_auditor;
grant select on compliance.phi_unusual_access to compliance_dpo, compliance_worker;
-- a DBA acting as staff or auditor sets the context as the DPO does
grant execute on function compliance.set_request_context(text, text[], inet, text) to compliance_staff, compliance_auditor;
grant execute on function compliance.review_phi_access(), compliance.subject_keys_to_rewrap(integer, integer),
  compliance.rewrap_subject_key(text, integer, integer, bytea, integer), compliance.record_phi_key_rotation(integer, integer)
  to compliance_worker;
