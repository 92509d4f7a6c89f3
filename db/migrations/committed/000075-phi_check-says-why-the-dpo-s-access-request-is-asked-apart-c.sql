--! Previous: sha1:a5e3bb4a2c7902093a21925b9b89cea0385dcf72
--! Hash: sha1:9b432ee44a2c4b0ba3e22585b590a539b183e2f3
--! Message: phi_check says why the DPO's access request is asked apart: Citus failed to plan it inside the CASE for every caller, and asked alone it runs on the patient's shard

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
  v_request_here boolean;
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

  if v_role = 'dpo' then
    -- a statement of its own, for the DPO alone: inside the CASE below, Citus planned this read of
    -- a shard row's xmin for every caller and failed; asked apart, it runs on the patient's shard
    v_request_here := exists (select 1 from compliance.dsr_requests r
                               where r.user_id = patient and r.kind in ('access', 'portability')
                                 and r.xmin = pg_current_xact_id()::xid);
  end if;
  v_reason := case
    when not v_known then 'unknown_patient'
    when exists (select 1 from compliance.health_records h where h.id = record_id and h.user_id <> patient)
      then 'not_this_patients_record'
    when v_role = 'patient' then
      case when patient is distinct from compliance.current_subject() then 'not_the_patient'
           when purpose <> 'patient_request' then 'patient_purpose_is_patient_request' end
    when v_role = 'dpo' then
      -- the DPO sees records only while fulfilling an access or portability request, which this
      -- same transaction registered (export_subject)
      case when intent <> 'read' then 'dpo_reads_only'
           when purpose <> 'patient_request' then 'dpo_purpose_is_patient_request'
           when not v_request_here then 'no_access_request_in_this_transaction' end
    -- workforce access needs a grant active at this moment (compliance.access_grants)
    when v_role = 'staff' then compliance_private.staff_refusal(patient, intent, purpose)
    else 'role_not_permitted'
  end;
  -- one row per refusal and transaction: the server asks phi_access and calls the data function
  -- in one round trip, and both refuse alike
  if v_reason is not null and not exists (
       select 1 from compliance.audit_logs a
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
  'The access decision of every PHI function: NULL when the caller may (a patient their own records for patient_request; a DPO reading inside the transaction that registered the patient''s access or portability request; staff only under an access grant active at that moment, whose scope and purpose match), else the reason, after writing a phi.denied audit row (one per refusal and transaction). Never raises for a refusal, so the refusal''s row survives when the caller commits; raises BADRG for an unknown purpose or intent. Locks the patient''s profile against erasure (FOR KEY SHARE).';
