--! Previous: sha1:a002210a732c34fb735173667ce1410a3bd3dde9
--! Hash: sha1:d8aa2170eca6918ef83315e7c66845fca0841116
--! Message: One list of the checks a health record read can fail

-- One list of the checks a health record read can fail, for both reports of such a failure.

-- included from fixtures/health/require_known_failed_check.sql
-- compliance_private.require_known_failed_check(failed_check text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.require_known_failed_check(failed_check text)
 RETURNS void
 LANGUAGE plpgsql
 IMMUTABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  if failed_check is null or failed_check not in ('integrity_code', 'decryption', 'key_unwrap', 'version') then
    perform compliance_private.raise_error('BADRG', format('failed_check %L is unknown', failed_check),
      'Use integrity_code, decryption, key_unwrap or version.');
  end if;
end;
$function$;

comment on function compliance_private.require_known_failed_check(failed_check text) is
  'The checks the server runs on a health record it reads, as a phi.integrity_failure row names them: integrity_code, decryption, key_unwrap, version. BADRG for any other.';

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
  perform compliance_private.require_known_failed_check(failed_check);
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
  perform compliance_private.require_known_failed_check(failed_check);
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

revoke all on function compliance_private.require_known_failed_check(text) from public;
