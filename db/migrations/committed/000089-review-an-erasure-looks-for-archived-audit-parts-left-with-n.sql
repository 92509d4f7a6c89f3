--! Previous: sha1:dc615d0cb53ee1709b7290769598263f7aaa466b
--! Hash: sha1:650a05e6ab2c35700005e5b8a47154b6a1979a20
--! Message: Review: an erasure looks for archived audit parts left with nothing personal only when it redacted some, and the second transaction of an erasure on Citus pins no plan, which Citus would reset

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

-- finish_erasure_elsewhere_core runs only on a Citus cluster, where setup resets a pinned generic
-- plan (Citus cannot route one), so it pins none
-- included from fixtures/subject-rights/finish_erasure_elsewhere_core.sql
-- compliance_private.finish_erasure_elsewhere_core(chain text, request_id bigint): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.finish_erasure_elsewhere_core(chain text, request_id bigint)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_person text;
  v_queued_at timestamptz;
  v_counts jsonb;
  v_acted_in text;
  v_rows record;
  v_redacted bigint := 0;
  v_subject_rows jsonb := '[]';
  v_actor_rows jsonb := '[]';
  v_archived bigint := 0;
begin
  -- taken off the list first: a second caller waits for this transaction, then finds nothing
  delete from compliance_private.erasures_finishing_elsewhere e
   where e.placement = finish_erasure_elsewhere_core.chain and e.request_id = finish_erasure_elsewhere_core.request_id
  returning e.person, e.queued_at into v_person, v_queued_at;
  if not found then
    return null;
  end if;

  v_counts := compliance_private.erase_person_as_actor(v_person);
  -- the audit rows and archived parts outside the subject's own chain, which the erasure cleared:
  -- where they acted, and where rows about them were written before the cluster (the chain '')
  for v_acted_in in select distinct a.placement from compliance.audit_logs a
                     where (a.user_id = v_person or a.actor_id = v_person) and a.placement <> finish_erasure_elsewhere_core.chain
                     order by 1 loop
    select * into v_rows from compliance_private.redact_audit_rows_in(v_acted_in, v_person);
    v_redacted := v_redacted + v_rows.redacted;
    v_subject_rows := v_subject_rows || v_rows.subject_rows;
    v_actor_rows := v_actor_rows || v_rows.actor_rows;
  end loop;
  for v_acted_in in select distinct a.placement from compliance.audit_archived_parts a
                     where (a.user_id = v_person or a.actor_id = v_person) and a.placement <> finish_erasure_elsewhere_core.chain
                     order by 1 loop
    perform compliance_private.begin_bulk_operation('erasure', array[v_acted_in]);
    v_archived := v_archived + compliance_private.redact_archived_parts_in(v_acted_in, v_person);
  end loop;
  perform compliance_private.end_bulk_operation();

  -- beside the erasure's own record, in the subject's chain; counts and row ids, never identity
  perform compliance_private.append_audit('subject.erased_elsewhere', 'gdpr', 'dsr_request', finish_erasure_elsewhere_core.request_id::text,
    jsonb_build_object('anonymised', v_counts, 'audit_rows_redacted', v_redacted,
                       'redacted_subject_rows', v_subject_rows, 'redacted_actor_rows', v_actor_rows,
                       'archived_audit_rows_redacted', v_archived, 'erased_at', v_queued_at),
    null, null, 'success', null, compliance.current_actor(), false, finish_erasure_elsewhere_core.chain);
  return jsonb_build_object('dsr_request_id', finish_erasure_elsewhere_core.request_id, 'anonymised', v_counts,
                            'audit_rows_redacted', v_redacted, 'archived_audit_rows_redacted', v_archived);
end;
$function$;

comment on function compliance_private.finish_erasure_elsewhere_core(chain text, request_id bigint) is
  'The second transaction of an erasure on a Citus cluster (the first, erase_subject_core, stays on the subject''s node): clears the erased person wherever they acted on someone else''s rows, and redacts the audit rows and archived parts about or by them in other chains (those written before the cluster was set up are in the chain ''''). It writes a subject.erased_elsewhere record listing the rows it redacted, in the subject''s chain, which verification trusts like the erasure''s own. Returns null when that erasure is not waiting (finished already, or never queued).';
