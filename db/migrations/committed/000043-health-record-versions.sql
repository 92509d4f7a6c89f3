--! Previous: sha1:a3a4ba7e70d8df7db47c054698b1cb5362bf1438
--! Hash: sha1:b881c1211e78987360fc66ee97c530e9bbf2bb56
--! Message: health-record-versions

-- A health record binds its version: each write makes the next version, its integrity code
-- covers it, and the audit chain holds each write's version and code, so a read proves it
-- returns the newest version and a rollback or replay is withheld and reported.

alter table compliance.health_records add column version integer not null default 1;
alter table compliance.health_records add constraint health_records_version_positive check (version >= 1);
alter table compliance.health_records add column integrity_scheme smallint not null default 1;
alter table compliance.health_records add constraint health_records_integrity_scheme_known check (integrity_scheme in (1, 2));
alter table compliance.health_records alter column integrity_scheme set default 2;
comment on column compliance.health_records.version is 'The record''s version: 1 when created, one more at each update; covered by the integrity code (scheme 2) and recorded with it in the audit chain.';
comment on column compliance.health_records.integrity_scheme is 'Which integrity code the record carries: 1, written before migration 000043, binds no version; 2 binds the version.';

-- the newest write of a record, found without reading every audit row about its patient
create index audit_logs_health_record_writes_idx on compliance.audit_logs (resource_id, id)
  where resource_type = 'health_record' and action in ('phi.created', 'phi.updated');
comment on index compliance.audit_logs_health_record_writes_idx is 'Finds a health record''s newest write (read_health_records compares it with the stored version).';

drop function compliance.phi_access(text, text, text, uuid);
-- included from fixtures/health/phi_access.sql
-- compliance.phi_access(patient text, purpose text, intent text, record_id uuid): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.phi_access(patient text, purpose text, intent text, record_id uuid DEFAULT NULL::uuid)
 RETURNS TABLE(allowed boolean, reason text, key_version integer, wrapped_key bytea, kek_version integer, category text, recorded_at timestamp with time zone, version integer)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_reason text := compliance_private.phi_check(patient, purpose, intent, record_id);
begin
  if v_reason is not null then
    -- the workforce learns nothing of who exists: an unknown (or erased) patient reads as a
    -- patient they hold no grant for; the phi.denied row keeps the real reason for the DPO
    if v_reason = 'unknown_patient' and compliance_private.phi_caller_role() in ('staff', 'approver') then
      v_reason := 'no_active_grant';
    end if;
    return query select false, v_reason, null::integer, null::bytea, null::integer, null::text, null::timestamptz, null::integer;
    return;
  end if;
  return query
    select true, null::text, k.key_version, k.wrapped_key, k.kek_version, h.category,
           coalesce(h.recorded_at, date_trunc('milliseconds', now())), h.version
      from (select) one
      left join lateral (select k.key_version, k.wrapped_key, k.kek_version from compliance_private.subject_keys k
                          where k.user_id = phi_access.patient order by k.key_version desc limit 1) k on true
      left join compliance.health_records h on h.id = phi_access.record_id;
end;
$function$;

comment on function compliance.phi_access(patient text, purpose text, intent text, record_id uuid) is
  'Asks whether the caller may read, create, update or delete (intent) the patient''s health records for a purpose of use (treatment, payment, operations, emergency, patient_request). One row: allowed and, when it is, the patient''s newest wrapped data key (NULL before the first record; the server makes one), the record''s category, recorded_at and current version for an update (else the database''s time, to the millisecond, and no version): the server binds the next version into the new integrity code. A refusal returns allowed = false with the reason (to staff, an unknown or erased patient reads as no_active_grant; the audit row keeps unknown_patient) and writes a phi.denied audit row, without raising: commit, and the refusal stays on record. The server calls it before a write whose patient key it does not hold, and after a read that returned nothing, to learn why.';

revoke all on function compliance.phi_access(text, text, text, uuid) from public;
grant execute on function compliance.phi_access(text, text, text, uuid) to compliance_app, compliance_dpo, compliance_staff;

drop function compliance_private.log_phi_access(text, text, text, text, uuid[], text, text);
-- included from fixtures/health/log_phi_access.sql
-- compliance_private.log_phi_access(action text, patient text, purpose text, intent text, record_ids uuid[], outcome text, failure_reason text, written jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.log_phi_access(action text, patient text, purpose text, intent text, record_ids uuid[], outcome text DEFAULT 'success'::text, failure_reason text DEFAULT NULL::text, written jsonb DEFAULT NULL::jsonb)
 RETURNS bigint
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_role text := compliance_private.phi_caller_role();
  v_grant compliance.access_grants;
begin
  -- an access under a grant names it, so an emergency access shows as one
  if v_role = 'staff' and outcome = 'success' then
    v_grant := compliance_private.active_access_grant(patient, intent, purpose);
  end if;
  -- PL/pgSQL, not an SQL function: its plan is kept across calls, and every PHI access calls it
  return compliance_private.append_audit(action, 'hipaa', 'health_record',
    case when cardinality(record_ids) = 1 then record_ids[1]::text end,
    jsonb_strip_nulls(jsonb_build_object('purpose', purpose, 'intent', intent, 'actor_role', v_role,
                       'record_ids', to_jsonb(coalesce(record_ids, '{}'::uuid[])),
                       'grant_id', v_grant.id, 'grant_kind', v_grant.kind))
      || coalesce(written, '{}'::jsonb),
    patient, null, outcome, failure_reason);
end;
$function$;

comment on function compliance_private.log_phi_access(action text, patient text, purpose text, intent text, record_ids uuid[], outcome text, failure_reason text, written jsonb) is
  'Writes one PHI access row (category hipaa): the patient as the row''s subject; the actor, IP and user agent from the request context; details with the purpose of use, the intent, the actor''s role, the record ids and, for workforce access, the grant''s id and kind; the outcome and failure reason. A write passes written ({version, integrity}: the version the record now has and its integrity code in hex), so the chain holds each version''s integrity code and a read can prove it returns the newest.';

revoke all on function compliance_private.log_phi_access(text, text, text, text, uuid[], text, text, jsonb) from public;

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
    key_version, ciphertext, integrity, version, integrity_scheme)
  values (create_health_record.id, patient, create_health_record.category, create_health_record.classification,
    compliance.current_actor(), create_health_record.recorded_at, create_health_record.key_version,
    create_health_record.ciphertext, create_health_record.integrity, 1, 2)
  returning h.* into v_row;
  perform compliance_private.log_phi_access('phi.created', patient, purpose, 'create', array[v_row.id], 'success', null,
    jsonb_build_object('version', v_row.version, 'integrity', encode(v_row.integrity, 'hex')));
  return v_row.updated_at;
end;
$function$;

comment on function compliance.create_health_record(id uuid, patient text, category text, classification text, purpose text, key_version integer, recorded_at timestamp with time zone, ciphertext bytea, integrity bytea, new_wrapped_key bytea, new_kek_version integer) is
  'Stores a health record the server encrypted, as version 1: id, version 1 and recorded_at (the server''s clock, to the millisecond, at most five minutes from the database''s) as bound into its associated data and integrity code, the patient''s data key version, and, for the patient''s first record, the new wrapped data key. Returns the record''s updated_at. Audited as phi.created, with the version and its integrity code. A refused caller gets NULL and a phi.denied audit row. Errors: PHICT unknown category (lists the valid ones), BADRG, 40001 when another transaction made the patient''s first key at the same moment (run again), 23514 for a record over 1 MiB.';

drop function compliance.update_health_record(uuid, text, text, integer, bytea, bytea);
-- included from fixtures/health/update_health_record.sql
-- compliance.update_health_record(id uuid, purpose text, classification text, key_version integer, version integer, ciphertext bytea, integrity bytea): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.update_health_record(id uuid, purpose text, classification text, key_version integer, version integer, ciphertext bytea, integrity bytea)
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
  -- the integrity code binds the version, so each write makes exactly the next one; a write
  -- that raced another bound a version that is already taken
  update compliance.health_records h
     set classification = update_health_record.classification, key_version = update_health_record.key_version,
         ciphertext = update_health_record.ciphertext, integrity = update_health_record.integrity,
         version = update_health_record.version, integrity_scheme = 2
   where h.id = update_health_record.id and h.version = update_health_record.version - 1
  returning h.* into v_row;
  if not found then
    raise exception 'the health record changed while this update was prepared' using errcode = '40001',
      hint = 'Run the transaction again: phi_access then returns the record''s current version.';
  end if;
  perform compliance_private.log_phi_access('phi.updated', v_patient, purpose, 'update', array[v_row.id], 'success', null,
    jsonb_build_object('version', v_row.version, 'integrity', encode(v_row.integrity, 'hex')));
  return v_row.updated_at;
end;
$function$;

comment on function compliance.update_health_record(id uuid, purpose text, classification text, key_version integer, version integer, ciphertext bytea, integrity bytea) is
  'Replaces a health record''s content (re-encrypted by the server under the patient''s data key, with a new integrity code over the unchanged recorded_at and category from phi_access and the next version: the current one plus one) and classification. Returns the new updated_at. Audited as phi.updated, with the new version and its integrity code, so a later read can prove it returns this version and not an older one. A refused caller gets NULL and a phi.denied audit row. Errors: PHINF no such record, BADRG, 40001 when version is not the current version plus one (another write came first: run again).';

revoke all on function compliance.update_health_record(uuid, text, text, integer, integer, bytea, bytea) from public;
grant execute on function compliance.update_health_record(uuid, text, text, integer, integer, bytea, bytea) to compliance_app, compliance_dpo, compliance_staff;

drop function compliance.read_health_records(text, text, uuid[]);
-- included from fixtures/health/read_health_records.sql
-- compliance.read_health_records(patient text, purpose text, record_ids uuid[]): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.read_health_records(patient text, purpose text, record_ids uuid[] DEFAULT NULL::uuid[])
 RETURNS TABLE(id uuid, category text, classification text, recorded_by text, recorded_at timestamp with time zone, updated_at timestamp with time zone, key_version integer, ciphertext bytea, integrity bytea, wrapped_key bytea, kek_version integer, version integer, integrity_scheme smallint, version_check text)
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
    select r.*, k.wrapped_key, k.kek_version,
           -- the newest write the chain holds for the record. Its recorded_at is covered by the
           -- integrity code and precedes every write (the server's clock, at most five minutes
           -- off), so the search cannot be steered past a newer write without breaking the code.
           case when w.details is not null then
                  case when w.details ->> 'integrity' = encode(r.integrity, 'hex') and (w.details ->> 'version')::integer = r.version
                       then 'newest' else 'not_the_recorded_version' end
                when r.integrity_scheme = 1 then 'written_before_version_binding'
                else 'no_write_in_audit_log' end as version_check
      from (select h.* from compliance.health_records h
             where read_health_records.record_ids is null and h.user_id = read_health_records.patient
            union all
            select h.* from compliance.health_records h
             where read_health_records.record_ids is not null and h.id = any (read_health_records.record_ids)
               and h.user_id = read_health_records.patient) r
      join compliance_private.subject_keys k on k.user_id = r.user_id and k.key_version = r.key_version
      left join lateral (select a.details from compliance.audit_logs a
                          where a.resource_type = 'health_record' and a.resource_id = r.id::text
                            and a.action in ('phi.created', 'phi.updated') and a.outcome = 'success'
                            and a.occurred_at >= r.recorded_at - interval '5 minutes'
                            and a.details ? 'integrity'
                          order by a.id desc limit 1) w on true
     order by r.recorded_at, r.id
  loop
    v_ids := v_ids || v_row.id;
    id := v_row.id; category := v_row.category; classification := v_row.classification;
    recorded_by := v_row.recorded_by; recorded_at := v_row.recorded_at; updated_at := v_row.updated_at;
    key_version := v_row.key_version; ciphertext := v_row.ciphertext; integrity := v_row.integrity;
    wrapped_key := v_row.wrapped_key; kek_version := v_row.kek_version;
    version := v_row.version; integrity_scheme := v_row.integrity_scheme; version_check := v_row.version_check;
    return next;
  end loop;
  -- a list is a query (FHIR search), a request for named records a read
  perform compliance_private.log_phi_access('phi.read', patient, purpose,
    case when record_ids is null then 'search' else 'read' end, v_ids);
end;
$function$;

comment on function compliance.read_health_records(patient text, purpose text, record_ids uuid[]) is
  'The patient''s health records (all, or those in record_ids), oldest first, as ciphertext with the integrity code, the version and the wrapped data key: the server checks the integrity code, unwraps the key and decrypts. version_check compares the stored version and integrity code with the newest write of the record in the audit chain: newest; not_the_recorded_version (rolled back or replaced: the server withholds it and reports it); written_before_version_binding (a record not written since migration 000043, its integrity code of scheme 1, binds no version); no_write_in_audit_log (its write rows aged out of the audit log). Audited as phi.read with the record ids returned (intent search without record_ids, else read). A refused caller gets no rows and a phi.denied audit row (see phi_access, which says why).';

revoke all on function compliance.read_health_records(text, text, uuid[]) from public;
grant execute on function compliance.read_health_records(text, text, uuid[]) to compliance_app, compliance_dpo, compliance_staff;

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
  if failed_check is null or failed_check not in ('integrity_code', 'decryption', 'key_unwrap', 'version') then
    perform compliance_private.raise_error('BADRG', format('failed_check %L is unknown', failed_check),
      'Use integrity_code, decryption, key_unwrap or version.');
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
  'Records that a health record the caller read failed a check in the server (failed_check: integrity_code, decryption, key_unwrap, or version: not the newest version the audit chain records): a phi.integrity_failure audit row about the patient, so a tampered or misplaced record is on the record and in the daily review. Returns the audit row id (NULL when the caller may not read the record: a phi.denied row instead). Errors: PHINF, BADRG.';

select compliance_private.record_expected_grants();
