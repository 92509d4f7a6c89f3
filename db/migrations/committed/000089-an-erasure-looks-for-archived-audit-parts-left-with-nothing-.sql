--! Previous: sha1:dc615d0cb53ee1709b7290769598263f7aaa466b
--! Hash: sha1:a622026a9cd6389b1a82e2dce4ad1d95090ecf5e
--! Message: An erasure looks for archived audit parts left with nothing personal only when it redacted some, instead of reading every archived part each time

-- Found on review: moved into its own routine, the deletion of archived parts left with nothing
-- personal ran on every erasure, and no index finds the parts this transaction redacted, so each
-- erasure read every archived part of its chain. It runs only after a redaction, as before.
-- included from fixtures/subject-rights/redact_archived_parts_in.sql
-- compliance_private.redact_archived_parts_in(placement text, person text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.redact_archived_parts_in(placement text, person text)
 RETURNS bigint
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_count bigint;
begin
  update compliance.audit_archived_parts a
     set user_id = case when a.user_id = redact_archived_parts_in.person or a.subject_part_digest is null then null else a.user_id end,
         personal_details = case when a.user_id = redact_archived_parts_in.person or a.subject_part_digest is null then null else a.personal_details end,
         subject_part_salt = case when a.user_id = redact_archived_parts_in.person then null else a.subject_part_salt end,
         actor_id = case when a.actor_id = redact_archived_parts_in.person or a.subject_part_digest is null then null else a.actor_id end,
         ip_address = case when a.actor_id = redact_archived_parts_in.person or a.subject_part_digest is null then null else a.ip_address end,
         user_agent = case when a.actor_id = redact_archived_parts_in.person or a.subject_part_digest is null then null else a.user_agent end,
         actor_part_salt = case when a.actor_id = redact_archived_parts_in.person then null else a.actor_part_salt end,
         personal_salt = null,
         redacted_at = now()
   where a.placement = redact_archived_parts_in.placement
     and (a.user_id = redact_archived_parts_in.person or a.actor_id = redact_archived_parts_in.person);
  get diagnostics v_count = row_count;
  -- a row left with no personal part goes: the bundle holds the rest of it and its digests (only
  -- when there was one: no index finds this transaction's redactions, and most erasures have none)
  if v_count > 0 then
    delete from compliance.audit_archived_parts a
     where a.placement = redact_archived_parts_in.placement and a.redacted_at = now()
       and num_nonnulls(a.user_id, a.actor_id, a.ip_address, a.user_agent, a.personal_details) = 0;
  end if;
  return v_count;
end;
$function$;

comment on function compliance_private.redact_archived_parts_in(placement text, person text) is
  'Part of an erasure: in one chain (placement), the same redaction as redact_audit_rows_in for the personal parts of audit rows whose month went to the cold archive; a part left with nothing personal is deleted. Returns how many parts changed.';
