--! Previous: sha1:b2151166374ba67048c2311083c8dbcf9a3d1b42
--! Hash: sha1:a5e3bb4a2c7902093a21925b9b89cea0385dcf72
--! Message: releasing a legal hold, completing a request and reading health records run on the subject's node on Citus: release_legal_hold and complete_dsr read the actor before they update, complete_dsr locks the request in its shard, and health_record_rows reads one patient's records and their newest writes without a UNION, naming the patient's shard in the audit log

-- included from fixtures/subject-rights/release_legal_hold.sql
-- compliance.release_legal_hold(user_id text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.release_legal_hold(user_id text)
 RETURNS compliance.legal_holds
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_hold compliance.legal_holds;
  -- read first: Citus takes no non-immutable call among an UPDATE's values
  v_actor text := compliance.current_actor();
begin
  update compliance.legal_holds h set released_at = now(), released_by = v_actor
   where h.user_id = release_legal_hold.user_id and h.released_at is null
  returning * into v_hold;
  if not found then
    perform compliance_private.raise_error('NOHLD', 'the subject has no active legal hold');
  end if;
  return v_hold;
end;
$function$;

comment on function compliance.release_legal_hold(user_id text) is
  'DPO: releases the subject''s active legal hold. Audited as legal_hold.released. Errors: NOHLD.';

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
  v_placement text;
  v_actor text := compliance.current_actor();
begin
  if status not in ('completed', 'rejected') then
    perform compliance_private.raise_error('BADRG', 'status must be completed or rejected');
  end if;
  -- the request's shard first: Citus locks a row only where the distribution column names its shard
  select r.placement into v_placement from compliance.dsr_requests r where r.id = request_id;
  select * into v_request from compliance.dsr_requests r
   where r.placement = v_placement and r.id = request_id and r.completed_at is null for update;
  if not found then
    perform compliance_private.raise_error('NODSR', format('no open request %s', request_id),
      'See compliance.dsr_open_requests for the open requests.');
  end if;
  if exists (select 1 from compliance.propagation_tasks t where t.placement = v_placement and t.request_id = v_request.id and t.state in ('pending', 'awaiting_confirmation', 'failed')) then
    perform compliance_private.raise_error('PRPND', format('request %s waits for other systems to confirm it', v_request.id),
      'It completes when the last system confirms; confirm one by hand with compliance.confirm_propagation(task_id, note).');
  end if;
  if complete_dsr.notes is not null then
    update compliance.dsr_requests r set notes = complete_dsr.notes
     where r.placement = v_placement and r.id = v_request.id returning r.* into v_request;
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
     set status = complete_dsr.status, completed_at = now(), handled_by = v_actor
   where r.placement = v_placement and r.id = v_request.id
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

-- included from fixtures/health/health_record_rows.sql
-- compliance_private.health_record_rows(patient text, record_ids uuid[]): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.health_record_rows(patient text, record_ids uuid[])
 RETURNS TABLE(id uuid, category text, classification text, recorded_by text, recorded_at timestamp with time zone, updated_at timestamp with time zone, key_version integer, ciphertext bytea, integrity bytea, wrapped_key bytea, kek_version integer, version integer, integrity_scheme smallint, version_check text)
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  -- the patient's shard on Citus, named for the audit log too, so the whole read runs on one node
  v_placement text := compliance_private.placement_of(health_record_rows.patient);
begin
  -- one patient's records by the primary key's leading column, the named ones among them: no
  -- UNION, which Citus would not route to the patient's node
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
      from compliance.health_records r
      join compliance_private.subject_keys k on k.user_id = r.user_id and k.key_version = r.key_version
      left join lateral (select a.details from compliance.audit_logs a
                          where a.placement = v_placement
                            and a.resource_type = 'health_record' and a.resource_id = r.id::text
                            and a.action in ('phi.created', 'phi.updated') and a.outcome = 'success'
                            and a.occurred_at >= r.recorded_at - interval '5 minutes'
                            and a.details ? 'integrity'
                          order by a.id desc limit 1) w on true
     where r.user_id = health_record_rows.patient
       and (health_record_rows.record_ids is null or r.id = any (health_record_rows.record_ids))
     order by r.recorded_at, r.id;
end;
$function$;

comment on function compliance_private.health_record_rows(patient text, record_ids uuid[]) is
  'The patient''s health records (all, or those in record_ids), oldest first, as ciphertext with the wrapped data key and version_check (see compliance.read_health_records), without an access decision or an audit row: its callers decide and audit (read_health_records; on a standby, standby_health_records under a lease the primary audited).';
