--! Previous: sha1:9bcf7055e6a640b6ec4d072cbed33dbbb658492b
--! Hash: sha1:bc3fdd6564d8e495732401a8ecb8947094c03688
--! Message: Exports for the DPO read on a hot standby under a ticket the primary audited

-- Exports for the DPO read on a hot standby: the primary records the export and its PHI read
-- first (compliance.lease_subject_export) and hands out a ticket; the standby reads under it.

create table compliance_private.standby_read_leases (
  ticket uuid not null default gen_random_uuid(),
  subject_digest bytea not null,
  export_kind text not null,
  record_ids uuid[] not null,
  audit_row_id bigint not null,
  leased_at timestamptz not null default now(),
  expires_at timestamptz not null,
  constraint standby_read_leases_pkey primary key (ticket),
  constraint standby_read_leases_digest_length check (octet_length(subject_digest) = 32),
  constraint standby_read_leases_export_kind check (export_kind in ('access', 'portability')),
  constraint standby_read_leases_expires_after_lease check (expires_at > leased_at)
);
comment on table compliance_private.standby_read_leases is
  'Tickets for reading one subject''s export on a hot standby (compliance.lease_subject_export): what the primary already audited, so the standby, which cannot write, reads only that. The subject is a digest: the table names no one. Forgotten an hour after they expire.';
comment on column compliance_private.standby_read_leases.ticket is 'The random ticket the DPO''s export carries to the standby; whoever holds it may read this subject''s export there until expires_at.';
comment on column compliance_private.standby_read_leases.subject_digest is 'sha256 of the subject''s user id: the standby checks the ticket is for the subject asked about.';
comment on column compliance_private.standby_read_leases.export_kind is 'access (Art. 15) or portability (Art. 20).';
comment on column compliance_private.standby_read_leases.record_ids is 'The health records the phi.read audit row names: the only ones the standby returns.';
comment on column compliance_private.standby_read_leases.audit_row_id is 'The subject.exported audit row that records the export.';
comment on column compliance_private.standby_read_leases.leased_at is 'When the primary recorded the export.';
comment on column compliance_private.standby_read_leases.expires_at is 'Five minutes after leased_at: the standby refuses the ticket after.';
alter table compliance_private.standby_read_leases enable row level security;
alter table compliance_private.standby_read_leases force row level security;
-- included from fixtures/standby/standby_read_leases.owner_routines.sql
-- policy owner_routines on compliance_private.standby_read_leases: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance_private.standby_read_leases;
create policy owner_routines on compliance_private.standby_read_leases as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance_private.standby_read_leases is 'Only the owner''s routines (lease_subject_export on the primary, the standby_* readers on a standby) read and write the leases. No application role reaches the table.';

-- included from fixtures/health/health_record_rows.sql
-- compliance_private.health_record_rows(patient text, record_ids uuid[]): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.health_record_rows(patient text, record_ids uuid[])
 RETURNS TABLE(id uuid, category text, classification text, recorded_by text, recorded_at timestamp with time zone, updated_at timestamp with time zone, key_version integer, ciphertext bytea, integrity bytea, wrapped_key bytea, kek_version integer, version integer, integrity_scheme smallint, version_check text)
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  -- two branches, each gated by whether ids were named, so each keeps its own index
  return query
    select r.id, r.category, r.classification, r.recorded_by, r.recorded_at, r.updated_at, r.key_version, r.ciphertext, r.integrity,
           k.wrapped_key, k.kek_version, r.version, r.integrity_scheme,
           -- the newest write the chain holds for the record. Its recorded_at is covered by the
           -- integrity code and precedes every write (the server's clock, at most five minutes
           -- off), so the search cannot be steered past a newer write without breaking the code.
           case when w.details is not null then
                  case when w.details ->> 'integrity' = encode(r.integrity, 'hex') and (w.details ->> 'version')::integer = r.version
                       then 'newest' else 'not_the_recorded_version' end
                when r.integrity_scheme = 1 then 'written_before_version_binding'
                else 'no_write_in_audit_log' end as version_check
      from (select h.* from compliance.health_records h
             where health_record_rows.record_ids is null and h.user_id = health_record_rows.patient
            union all
            select h.* from compliance.health_records h
             where health_record_rows.record_ids is not null and h.id = any (health_record_rows.record_ids)
               and h.user_id = health_record_rows.patient) r
      join compliance_private.subject_keys k on k.user_id = r.user_id and k.key_version = r.key_version
      left join lateral (select a.details from compliance.audit_logs a
                          where a.resource_type = 'health_record' and a.resource_id = r.id::text
                            and a.action in ('phi.created', 'phi.updated') and a.outcome = 'success'
                            and a.occurred_at >= r.recorded_at - interval '5 minutes'
                            and a.details ? 'integrity'
                          order by a.id desc limit 1) w on true
     order by r.recorded_at, r.id;
end;
$function$;

comment on function compliance_private.health_record_rows(patient text, record_ids uuid[]) is
  'The patient''s health records (all, or those in record_ids), oldest first, as ciphertext with the wrapped data key and version_check (see compliance.read_health_records), without an access decision or an audit row: its callers decide and audit (read_health_records; on a standby, standby_health_records under a lease the primary audited).';

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
  for v_row in select * from compliance_private.health_record_rows(patient, record_ids)
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

-- included from fixtures/standby/lease_subject_export.sql
-- compliance.lease_subject_export(user_id text, kind text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.lease_subject_export(user_id text, kind text DEFAULT 'access'::text)
 RETURNS TABLE(ticket uuid, expires_at timestamp with time zone, health_records integer)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_request_id bigint;
  v_audit_row bigint;
  v_reason text;
  v_records uuid[];
begin
  if kind is null or kind not in ('access', 'portability') then
    perform compliance_private.raise_error('BADRG', 'kind must be access or portability');
  end if;
  perform compliance_private.require_subject(user_id);
  -- everything export_subject records, recorded here, before a byte is read on the standby
  v_request_id := compliance_private.record_completed_dsr(user_id, kind, compliance_private.handler_for(user_id));
  v_audit_row := compliance_private.append_audit('subject.exported', 'gdpr', 'dsr_request', v_request_id::text,
    jsonb_build_object('kind', kind, 'read_on', 'standby'), user_id);
  v_reason := compliance_private.phi_check(user_id, 'patient_request', 'read');
  if v_reason is not null then
    perform compliance_private.raise_error('PHIDN', format('access to these health records is refused (%s)', v_reason));
  end if;
  -- the records the export may read are the ones that exist now; one written later is not in it
  select coalesce(array_agg(h.id order by h.recorded_at, h.id), '{}') into v_records
    from compliance.health_records h where h.user_id = lease_subject_export.user_id;
  perform compliance_private.log_phi_access('phi.read', user_id, 'patient_request', 'search', v_records);
  delete from compliance_private.standby_read_leases l where l.expires_at < now() - interval '1 hour';
  insert into compliance_private.standby_read_leases as l (subject_digest, export_kind, record_ids, audit_row_id, expires_at)
  values (sha256(convert_to(user_id, 'UTF8')), kind, v_records, v_audit_row, now() + interval '5 minutes')
  returning l.ticket, l.expires_at, cardinality(l.record_ids) into ticket, expires_at, health_records;
  return next;
end;
$function$;

comment on function compliance.lease_subject_export(user_id text, kind text) is
  'DPO, on the primary: records an export of the subject to be read on a hot standby (pgcomply subject export --replica). It registers the completed request, writes the subject.exported and phi.read audit rows as export_subject does, and returns a ticket. The ticket lets compliance.standby_subject_export and standby_health_records read that subject on a standby for 5 minutes, once the standby has replayed this transaction. The reads are audited here, before they happen, so no read on a standby goes unrecorded. Errors: BADRG, UNKSJ, ERASD, PHIDN.';

-- included from fixtures/standby/standby_lease.sql
-- compliance_private.standby_lease(ticket uuid, user_id text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.standby_lease(ticket uuid, user_id text)
 RETURNS compliance_private.standby_read_leases
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_lease compliance_private.standby_read_leases;
begin
  if not pg_is_in_recovery() then
    perform compliance_private.raise_error('STBYO', 'this reads a hot standby, and this server is a primary',
      'On the primary, export_subject reads and audits in one transaction.');
  end if;
  select * into v_lease from compliance_private.standby_read_leases l
   where l.ticket = standby_lease.ticket and l.subject_digest = sha256(convert_to(coalesce(user_id, ''), 'UTF8'));
  if not found or v_lease.expires_at <= now() then
    perform compliance_private.raise_error('RDLSE', 'no export of this subject under this ticket is recorded on this standby, or it expired',
      'Call compliance.lease_subject_export on the primary, and wait until the standby has replayed it (pg_last_wal_replay_lsn).');
  end if;
  perform compliance_private.require_subject(user_id);
  return v_lease;
end;
$function$;

comment on function compliance_private.standby_lease(ticket uuid, user_id text) is
  'The lease a standby read runs under: on a standby only (STBYO otherwise), the ticket''s, for this subject, unexpired (RDLSE otherwise), for a subject not erased since (ERASD).';

-- included from fixtures/standby/standby_subject_export.sql
-- compliance.standby_subject_export(ticket uuid, user_id text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.standby_subject_export(ticket uuid, user_id text)
 RETURNS json
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  perform compliance_private.standby_lease(ticket, user_id);
  return compliance_private.subject_document(user_id);
end;
$function$;

comment on function compliance.standby_subject_export(ticket uuid, user_id text) is
  'DPO, on a hot standby: the subject document export_subject returns, read under a ticket from compliance.lease_subject_export (which the primary audited). Writes nothing. Errors: STBYO on a primary, RDLSE without a live ticket for this subject, ERASD.';

-- included from fixtures/standby/standby_health_records.sql
-- compliance.standby_health_records(ticket uuid, user_id text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.standby_health_records(ticket uuid, user_id text)
 RETURNS TABLE(id uuid, category text, classification text, recorded_by text, recorded_at timestamp with time zone, updated_at timestamp with time zone, key_version integer, ciphertext bytea, integrity bytea, wrapped_key bytea, kek_version integer, version integer, integrity_scheme smallint, version_check text)
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_lease compliance_private.standby_read_leases;
begin
  v_lease := compliance_private.standby_lease(ticket, user_id);
  return query select * from compliance_private.health_record_rows(user_id, v_lease.record_ids);
end;
$function$;

comment on function compliance.standby_health_records(ticket uuid, user_id text) is
  'DPO, on a hot standby: the subject''s health records as read_health_records returns them, limited to those the lease''s phi.read audit row names, under a ticket from compliance.lease_subject_export. Writes nothing. Errors: STBYO, RDLSE, ERASD.';

-- included from fixtures/standby/report_standby_integrity_failure.sql
-- compliance.report_standby_integrity_failure(ticket uuid, record_id uuid, failed_check text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.report_standby_integrity_failure(ticket uuid, record_id uuid, failed_check text)
 RETURNS bigint
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_patient text;
begin
  if failed_check is null or failed_check not in ('integrity_code', 'decryption', 'key_unwrap', 'version') then
    perform compliance_private.raise_error('BADRG', format('failed_check %L is unknown', failed_check),
      'Use integrity_code, decryption, key_unwrap or version.');
  end if;
  -- only a record the lease let the standby read; the lease may have expired since
  select h.user_id into v_patient
    from compliance_private.standby_read_leases l
    join compliance.health_records h on h.id = report_standby_integrity_failure.record_id and h.id = any (l.record_ids)
   where l.ticket = report_standby_integrity_failure.ticket;
  if not found then
    perform compliance_private.raise_error('RDLSE', 'no export under this ticket read that record');
  end if;
  return compliance_private.log_phi_access('phi.integrity_failure', v_patient, 'patient_request', 'read', array[record_id],
    'failure', failed_check);
end;
$function$;

comment on function compliance.report_standby_integrity_failure(ticket uuid, record_id uuid, failed_check text) is
  'DPO, on the primary: a health record read on a standby under the ticket failed a check in the server (as report_phi_integrity_failure): a phi.integrity_failure audit row about the patient. Errors: BADRG, RDLSE (the record was not in that export).';

revoke all on function compliance_private.health_record_rows(text, uuid[]) from public;
revoke all on function compliance_private.standby_lease(uuid, text) from public;
revoke all on function compliance.lease_subject_export(text, text) from public;
revoke all on function compliance.standby_subject_export(uuid, text) from public;
revoke all on function compliance.standby_health_records(uuid, text) from public;
revoke all on function compliance.report_standby_integrity_failure(uuid, uuid, text) from public;
grant execute on function compliance.lease_subject_export(text, text) to compliance_dpo;
grant execute on function compliance.standby_subject_export(uuid, text) to compliance_dpo;
grant execute on function compliance.standby_health_records(uuid, text) to compliance_dpo;
grant execute on function compliance.report_standby_integrity_failure(uuid, uuid, text) to compliance_dpo;

select compliance_private.record_expected_grants();
