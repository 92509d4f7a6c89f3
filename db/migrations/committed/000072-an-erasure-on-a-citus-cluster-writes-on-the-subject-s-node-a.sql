--! Previous: sha1:b8c7f12a6306f9da04f97759fea8aa848861e0c5
--! Hash: sha1:364356cfb0b94f637af8eef6003787ab1e7554a2
--! Message: An erasure on a Citus cluster writes on the subject's node alone: its tombstone, the consent proofs it keeps and its own record go in the subject's shard

alter table compliance_private.erased_subjects add column if not exists placement text not null default '';
comment on column compliance_private.erased_subjects.placement is
  'On a Citus cluster, the placement key of the erased subject''s shard (compliance_private.placement_of), so the tombstone is written on that node alone; '''' on a single node, and for a tombstone replayed from an anchor''s journal, which knows no id.';
alter table compliance.erased_consent_proofs add column if not exists placement text not null default '';
comment on column compliance.erased_consent_proofs.placement is
  'On a Citus cluster, the placement key of the erased subject''s shard, so the proof is written on that node alone; '''' on a single node.';

drop function if exists compliance_private.append_audit(text, text, text, text, jsonb, text, jsonb, text, text, text, boolean);
-- included from fixtures/audit/append_audit.sql
-- compliance_private.append_audit(action text, category text, resource_type text, resource_id text, details jsonb, user_id text, personal_details jsonb, outcome text, failure_reason text, actor_id text, include_client boolean, placement text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.append_audit(action text, category text, resource_type text DEFAULT NULL::text, resource_id text DEFAULT NULL::text, details jsonb DEFAULT '{}'::jsonb, user_id text DEFAULT NULL::text, personal_details jsonb DEFAULT NULL::jsonb, outcome text DEFAULT 'success'::text, failure_reason text DEFAULT NULL::text, actor_id text DEFAULT compliance.current_actor(), include_client boolean DEFAULT true, placement text DEFAULT NULL::text)
 RETURNS bigint
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  -- the transaction id before the row id: the sealer relies on it (db/AUDIT_HASHING.md)
  v_xact xid8 := pg_current_xact_id();
  v_ip inet := case when include_client then compliance.current_client_ip() end;
  v_user_agent text := case when include_client then compliance.current_user_agent() end;
  v_authentication jsonb;
  v_subject_salt bytea := uuid_send(gen_random_uuid());
  v_actor_salt bytea := uuid_send(gen_random_uuid());
  v_subject_digest bytea;
  v_actor_digest bytea;
  v_id bigint;
  v_stack text;
begin
  if action is null or action !~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$' then
    perform compliance_private.raise_error('BADRG', format('action %L is not dotted lower case', action),
      'Name the event like profile.updated or phi.access.');
  end if;
  if category is null or category not in ('gdpr', 'hipaa', 'soc2', 'security', 'system') then
    perform compliance_private.raise_error('BADRG', format('category %L is unknown', category),
      'Use gdpr, hipaa, soc2, security or system.');
  end if;
  if outcome is null or outcome not in ('success', 'failure') then
    perform compliance_private.raise_error('BADRG', format('outcome %L is unknown', outcome), 'Use success or failure.');
  end if;
  if failure_reason is not null and outcome <> 'failure' then
    perform compliance_private.raise_error('BADRG', 'a failure_reason needs outcome failure');
  end if;
  if details is not null and jsonb_typeof(details) <> 'object' then
    perform compliance_private.raise_error('BADRG', 'details must be a JSON object',
      'Put non-personal details under named keys: {"count": 3}.');
  end if;
  -- a record verification, a check or a report trusts says which routine wrote it: the nearest
  -- function below this one on the call stack (the caller's PERFORM adds a statement line between;
  -- no login role reaches this function, and log_event refuses these actions)
  if compliance_private.is_reserved_action(append_audit.action) then
    get diagnostics v_stack = pg_context;
    details := coalesce(append_audit.details, '{}') || jsonb_build_object('written_by',
      coalesce(substring(substr(v_stack, strpos(v_stack, E'\n') + 1) from '(?:PL/pgSQL function|SQL function) "?([a-z_]+(?:\.[a-z_]+)?)'), 'unknown'));
  end if;
  -- a privileged request's rows say how its actor signed in (the privileged_mfa check counts
  -- them): only open_request says so, never a caller's details (log_event's would be forged)
  details := coalesce(append_audit.details, '{}') - 'authentication';
  v_authentication := compliance_private.current_authentication();
  if v_authentication is not null then
    details := details || jsonb_build_object('authentication', v_authentication);
  end if;
  -- details and resource_id outlive erasure, so they must not name anyone
  perform compliance_private.refuse_personal_outside(append_audit.details, append_audit.resource_id,
    append_audit.user_id, append_audit.actor_id);
  v_subject_digest := compliance_private.audit_subject_digest(v_subject_salt, append_audit.user_id, append_audit.personal_details);
  v_actor_digest := compliance_private.audit_actor_digest(v_actor_salt, append_audit.actor_id, v_ip, v_user_agent);
  -- a row about a subject sits in their shard on a Citus cluster, a system event in its actor's,
  -- unless the routine names the chain (an erasure's record goes with the subject it erased)
  insert into compliance.audit_logs (placement, xact_id, action, category, resource_type, resource_id, outcome,
    failure_reason, details, user_id, actor_id, ip_address, user_agent, personal_details,
    subject_part_salt, subject_part_digest, actor_part_salt, actor_part_digest, personal_digest)
  values (coalesce(append_audit.placement, compliance_private.placement_of(coalesce(append_audit.user_id, append_audit.actor_id))), v_xact, append_audit.action, append_audit.category, append_audit.resource_type,
    append_audit.resource_id, append_audit.outcome, append_audit.failure_reason,
    coalesce(append_audit.details, '{}'), append_audit.user_id, append_audit.actor_id, v_ip,
    v_user_agent, append_audit.personal_details, v_subject_salt, v_subject_digest, v_actor_salt,
    v_actor_digest, sha256(v_subject_digest || v_actor_digest))
  returning id into v_id;
  return v_id;
end;
$function$;

comment on function compliance_private.append_audit(action text, category text, resource_type text, resource_id text, details jsonb, user_id text, personal_details jsonb, outcome text, failure_reason text, actor_id text, include_client boolean, placement text) is
  'Writes one audit row for the routines and log_event: checks the row rules (action dotted lower case, a known category and outcome, a failure_reason only with a failure, details a JSON object: BADRG otherwise), adds to a reserved action''s details the routine that called it, and to a privileged API request''s rows how its actor signed in (authentication: amr, acr, mfa, auth_time) (written_by, from the call stack: verification trusts a drop or erasure record only from its own routine), fills the actor, client IP and user agent (unless include_client is false) from the request context, salts and digests the personal part. placement names the chain on a Citus cluster where it is not the subject''s or the actor''s (an erasure''s record, in the erased subject''s shard). The row triggers write the same columns inline, because a nested call costs every personal write.';

revoke execute on function compliance_private.append_audit(text, text, text, text, jsonb, text, jsonb, text, text, text, boolean, text) from public;
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
  v_archived_redacted bigint;
  v_subject_rows jsonb;
  v_actor_rows jsonb;
  v_request_id bigint;
  v_tasks integer;
  v_table text;
  -- the tombstone, computed here: the pepper is this session's alone, and on a Citus cluster a
  -- statement runs on the subject's node, where the session that runs it has none
  v_digest bytea;
  v_consent record;
  v_placement text;
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

  v_digest := compliance_private.subject_digest(erase_subject_core.user_id);
  -- on a Citus cluster everything this erasure writes stays on the subject's node: the tombstone,
  -- the kept consent proofs and its own record go in the subject's shard ('' on a single node)
  v_placement := compliance_private.placement_of(erase_subject_core.user_id);
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
    -- read, then written one by one: on a Citus cluster the records are on the subject's node and
    -- the proofs on every node, and Citus copies an INSERT … SELECT between them, which
    -- row-level security refuses
    v_count := 0;
    for v_consent in select c.purpose, c.granted, c.policy_version, c.source, c.recorded_at, c.given_at
                       from compliance.consent_records c where c.user_id = erase_subject_core.user_id
                      order by c.recorded_at, c.id loop
      insert into compliance.erased_consent_proofs (placement, subject_digest, purpose, granted, policy_version, source, recorded_at, given_at)
      values (v_placement, v_digest, v_consent.purpose, v_consent.granted, v_consent.policy_version, v_consent.source, v_consent.recorded_at,
              v_consent.given_at);
      v_count := v_count + 1;
    end loop;
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

  -- the same parts of rows whose month is in the cold archive; a row left with no personal part
  -- goes, since the bundle holds the rest of it and its digests
  update compliance.audit_archived_parts a
     set user_id = case when a.user_id = erase_subject_core.user_id or a.subject_part_digest is null then null else a.user_id end,
         personal_details = case when a.user_id = erase_subject_core.user_id or a.subject_part_digest is null then null else a.personal_details end,
         subject_part_salt = case when a.user_id = erase_subject_core.user_id then null else a.subject_part_salt end,
         actor_id = case when a.actor_id = erase_subject_core.user_id or a.subject_part_digest is null then null else a.actor_id end,
         ip_address = case when a.actor_id = erase_subject_core.user_id or a.subject_part_digest is null then null else a.ip_address end,
         user_agent = case when a.actor_id = erase_subject_core.user_id or a.subject_part_digest is null then null else a.user_agent end,
         actor_part_salt = case when a.actor_id = erase_subject_core.user_id then null else a.actor_part_salt end,
         personal_salt = null,
         redacted_at = now()
   where a.user_id = erase_subject_core.user_id or a.actor_id = erase_subject_core.user_id;
  get diagnostics v_archived_redacted = row_count;
  delete from compliance.audit_archived_parts a
   where a.redacted_at = now() and num_nonnulls(a.user_id, a.actor_id, a.ip_address, a.user_agent, a.personal_details) = 0;

  insert into compliance_private.erased_subjects (placement, subject_digest) values (v_placement, v_digest);
  perform compliance_private.end_bulk_operation();

  -- counts, never identity: no subject, and no actor or client when the subject asked
  perform compliance_private.append_audit('subject.erased', 'gdpr', 'dsr_request', v_request_id::text,
    -- the rows it redacted, so verification can tell these redactions from any other
    jsonb_build_object('deleted', v_counts, 'audit_rows_redacted', v_redacted, 'requested_by', requested_by,
                       'redacted_subject_rows', v_subject_rows, 'redacted_actor_rows', v_actor_rows,
                       'archived_audit_rows_redacted', v_archived_redacted),
    null, jsonb_build_object('reason', reason), 'success', null,
    case when requested_by = 'subject' then null else compliance.current_actor() end,
    requested_by <> 'subject', v_placement);

  return jsonb_build_object('erased', true, 'erased_at', now(), 'dsr_request_id', v_request_id,
    'deleted', v_counts, 'audit_rows_redacted', v_redacted,
    'other_systems', (select coalesce(jsonb_agg(jsonb_build_object('system', t.system, 'name', s.name, 'task_id', t.id, 'state', t.state) order by t.system), '[]')
                        from compliance.propagation_tasks t join compliance.processing_systems s on s.system = t.system
                       where t.request_id = v_request_id));
end;
$function$;

comment on function compliance_private.erase_subject_core(user_id text, reason text, confirm boolean, requested_by text) is
  'The erasure transaction; see compliance.erase_subject. Its statements run on generic plans (plan_cache_mode), without JIT compilation (a generic plan''s row estimates over a million subjects passed jit_above_cost, and compiling took longer than the erasure): a custom plan over every audit partition costs more to make than to run, and made a connection''s first five erasures twice as slow as the rest.';

-- included from fixtures/tombstones/tg_user_profiles__refuse_erased.sql
-- compliance_private.tg_user_profiles__refuse_erased(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.tg_user_profiles__refuse_erased()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_peppers bytea[];
  v_subject text;
  -- the new ids read once: on a Citus cluster a query that also reads a distributed or reference
  -- table is planned apart from this trigger, where the transition table is not
  v_subjects text[] := array(select n.user_id from new_rows n order by n.user_id);
  v_digests bytea[];
  v_found bytea;
  v_placements text[];
begin
  -- lock first, then look: a running erasure of one of these ids finishes before the check,
  -- whose fresh snapshot then sees its tombstone
  if cardinality(v_subjects) > 64 then
    perform compliance_private.lock_all_subjects();
  else
    foreach v_subject in array v_subjects loop
      perform compliance_private.lock_subject(v_subject);
    end loop;
  end if;
  -- the tombstones of the new subjects' shards alone: on a Citus cluster those are the shards of
  -- this node, where this trigger runs ('' on a single node)
  v_placements := case when compliance_private.is_distributed()
                       then array(select distinct compliance_private.placement_of(n.user_id) from unnest(v_subjects) as n(user_id))
                       else array['']::text[] end;
  if not exists (select from compliance_private.erased_subjects e where e.placement = any (v_placements)) then
    return null;
  end if;
  v_peppers := compliance_private.session_peppers();
  -- each new id digested once, then the tombstones read on their own through their index: on a
  -- Citus cluster they sit in the subjects' shards, and Citus cannot join them to this list
  if cardinality(v_peppers) <= 2 then
    v_digests := array(select compliance_private.subject_digest_with(v_peppers, n.user_id) from unnest(v_subjects) as n(user_id));
  else
    v_digests := array(select compliance_private.subject_digest(n.user_id) from unnest(v_subjects) as n(user_id));
  end if;
  select e.subject_digest into v_found from compliance_private.erased_subjects e
   where e.placement = any (v_placements) and e.subject_digest = any (v_digests) limit 1;
  if v_found is not null then
    perform compliance_private.refuse_erased(v_subjects[array_position(v_digests, v_found)]);
  end if;
  return null;
end;
$function$;

comment on function compliance_private.tg_user_profiles__refuse_erased() is
  'AFTER INSERT statement trigger on user_profiles (transition table new_rows): no profile can be created for an erased user id (ERASD), even concurrently with its erasure. It locks each new subject (lock_subject), or every subject at once for more than 64, then checks all new ids against the tombstones in one index scan, so a bulk load of a million profiles works.';

-- included from fixtures/tombstones/is_erased.sql
-- compliance_private.is_erased(user_id text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.is_erased(user_id text)
 RETURNS boolean
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_digest bytea := compliance_private.subject_digest(is_erased.user_id);
begin
  -- in the subject's shard alone on a Citus cluster, where the triggers that ask run (PL/pgSQL:
  -- Citus cannot route an SQL function's parameter)
  return exists (select from compliance_private.erased_subjects e
                  where e.placement = compliance_private.placement_of(is_erased.user_id) and e.subject_digest = v_digest);
end;
$function$;

comment on function compliance_private.is_erased(user_id text) is
  'Whether a tombstone exists for this user id (on a Citus cluster, in the subject''s shard, where erasure writes it and replay_erasures writes one in every shard).';

-- included from fixtures/anchors/replay_erasures.sql
-- compliance.replay_erasures(journal jsonb, reason text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.replay_erasures(journal jsonb, reason text DEFAULT 'erasure replayed after a restore'::text)
 RETURNS TABLE(subject_digest text, erased_at timestamp with time zone, outcome text)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_entry jsonb;
  v_digest bytea;
  v_user_id text;
begin
  if journal is null or jsonb_typeof(journal) <> 'array' then
    perform compliance_private.raise_error('BADRG', 'the journal must be an array of {subject_digest, erased_at}');
  end if;
  for v_entry in select e from jsonb_array_elements(journal) e loop
    if v_entry ->> 'subject_digest' is null or v_entry ->> 'subject_digest' !~ '^[0-9a-f]{64}$' then
      perform compliance_private.raise_error('BADRG', format('not a journal entry: %s', v_entry));
    end if;
    v_digest := decode(v_entry ->> 'subject_digest', 'hex');
    subject_digest := v_entry ->> 'subject_digest';
    erased_at := (v_entry ->> 'erased_at')::timestamptz;
    if exists (select from compliance_private.erased_subjects t where t.subject_digest = v_digest) then
      outcome := 'already_erased';
    else
      -- the id is known only by its digest: compare every subject this database holds
      select p.user_id into v_user_id from compliance.user_profiles p
       where compliance_private.subject_digest(p.user_id) = v_digest limit 1;
      if v_user_id is null then
        -- no id, so no shard to put it in: on a Citus cluster a tombstone in every shard, where the
        -- triggers that refuse an erased id look
        insert into compliance_private.erased_subjects (placement, subject_digest, erased_at)
        select c.c, v_digest, replay_erasures.erased_at from compliance.audit_chains() c;
        outcome := 'tombstoned';
      else
        begin
          perform compliance_private.erase_subject_core(v_user_id, reason, true, 'dpo');
          outcome := 'erased';
        exception when sqlstate 'LHOLD' then
          -- a hold in the restored data: the DPO decides, the replay says so
          outcome := 'held';
        end;
      end if;
    end if;
    return next;
  end loop;
end;
$function$;

comment on function compliance.replay_erasures(journal jsonb, reason text) is
  'After restoring an older backup: erases again every subject whose peppered digest the journal lists (from anchors, compliance.erasure_journal) and who is back in the data; restores the tombstone of one who is not; reports per entry erased, tombstoned, already_erased, or held (under a legal hold in the restored data: not erased, for the DPO to decide). Needs the same tombstone pepper. For the DPO. Errors: BADRG, PEPPR.';

-- included from fixtures/citus/distribute_on_citus.sql
-- compliance_private.distribute_on_citus(shard_count integer): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE PROCEDURE compliance_private.distribute_on_citus(IN shard_count integer DEFAULT 32)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $procedure$
declare
  -- a subject's rows, by the subject: one node holds them all
  v_by_subject constant text[] := array['compliance.user_profiles', 'compliance.user_preferences', 'compliance.consent_records',
    'compliance.conversations', 'compliance.messages', 'compliance.sessions', 'compliance.legal_holds',
    'compliance_private.subject_keys', 'compliance.health_records', 'compliance.breach_subjects', 'compliance.processing_limits'];
  -- records that outlive the subject's rows (erasure clears their user_id, and Citus cannot change a
  -- distribution column): by the placement of the subject's shard, so they sit on the same node;
  -- and each shard's audit chain, its seals and its sealer's head, beside the rows they seal
  v_by_placement constant text[] := array['compliance.audit_logs', 'compliance.dsr_requests', 'compliance.access_grants',
    'compliance.propagation_tasks', 'compliance.audit_seals', 'compliance_private.audit_seal_head',
    -- and what an erasure leaves behind, so that it writes on the subject's node alone
    'compliance_private.erased_subjects', 'compliance.erased_consent_proofs'];
  v_foreign_keys jsonb := '[]';
  v_key record;
  v_table text;
  v_column text;
  v_definition text;
  v_progress boolean := true;
  v_left text;
  v_refused text[] := '{}';
  v_try integer;
  v_placement text;
  v_shard record;
  v_above bigint;
begin
  if not exists (select from pg_catalog.pg_extension e where e.extname = 'citus') then
    perform compliance_private.raise_error('CITUS', 'the citus extension is not installed in this database',
      'Load citus (shared_preload_libraries), run create extension citus and add the workers first (docs/CITUS.md).');
  end if;
  -- foreign keys and distribution in one transaction: Citus must not run shard commands in parallel
  set local citus.multi_shard_modify_mode = 'sequential';
  -- the audit and refusal triggers run on the shards, on the node that holds the subject
  set local citus.enable_unsafe_triggers = on;
  if not compliance_private.is_distributed() then

    -- every foreign key goes first and comes back last, with the subject in it where both ends are
    -- distributed (Citus joins co-located rows only on the distribution column)
    select coalesce(jsonb_agg(jsonb_build_object('relation', c.conrelid::regclass::text, 'name', c.conname,
                                                 'definition', pg_catalog.pg_get_constraintdef(c.oid),
                                                 'referenced', c.confrelid::regclass::text)), '[]')
      into v_foreign_keys
      from pg_catalog.pg_constraint c
     where c.contype = 'f' and c.connamespace in ('compliance'::regnamespace, 'compliance_private'::regnamespace);
    for v_key in select * from jsonb_to_recordset(v_foreign_keys) as k(relation text, name text, definition text, referenced text) loop
      execute format('alter table %s drop constraint %I', v_key.relation, v_key.name);
    end loop;

    -- a unique key on a distributed table holds only with the distribution column in it
    foreach v_table in array v_by_subject || v_by_placement loop
      v_column := case when v_table = any (v_by_subject) then 'user_id' else 'placement' end;
      for v_key in select c.conname, pg_catalog.pg_get_constraintdef(c.oid) as definition
                     from pg_catalog.pg_constraint c
                    where c.conrelid = v_table::regclass and c.contype in ('p', 'u')
                      and not (select a.attnum from pg_catalog.pg_attribute a
                                where a.attrelid = v_table::regclass and a.attname = v_column) = any (c.conkey) loop
        execute format('alter table %s drop constraint %I', v_table, v_key.conname);
        execute format('alter table %s add constraint %I %s', v_table, v_key.conname,
                       regexp_replace(v_key.definition, '^(PRIMARY KEY|UNIQUE) \(', format('\1 (%I, ', v_column)));
      end loop;
    end loop;
    -- one active hold per subject: already by subject, so the partial unique index stands

    -- Citus sends a shard every column of an INSERT, with the coordinator's defaults filled in, and
    -- the shard checks the role's INSERT on each: a role with INSERT on some columns of a subject's
    -- table gets it on the columns with a default too, and a trigger gives them their defaults on the
    -- shard, so the role still cannot choose when a consent was recorded
    for v_key in select c.oid::regclass::text as relation,
                        array_agg(a.attname::text order by a.attnum) as columns,
                        string_agg(format('%L, %L', a.attname,
                                          coalesce(pg_catalog.pg_get_expr(d.adbin, d.adrelid),
                                                   format('nextval(%L::regclass)', pg_catalog.pg_get_serial_sequence(c.oid::regclass::text, a.attname)))),
                                   ', ' order by a.attnum) as arguments
                   from pg_catalog.pg_class c
                   join pg_catalog.pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
                   left join pg_catalog.pg_attrdef d on d.adrelid = c.oid and d.adnum = a.attnum
                  where c.oid::regclass::text = any (v_by_subject || v_by_placement)
                    and (d.oid is not null or a.attidentity <> '')
                    and exists (select from pg_catalog.pg_attribute o, aclexplode(o.attacl) x
                                 where o.attrelid = c.oid and x.privilege_type = 'INSERT')
                    and not exists (select from aclexplode(a.attacl) x where x.privilege_type = 'INSERT')
                  group by c.oid loop
      for v_table in select distinct x.grantee::regrole::text
                       from pg_catalog.pg_attribute o, aclexplode(o.attacl) x
                      where o.attrelid = v_key.relation::regclass and x.privilege_type = 'INSERT' loop
        execute format('grant insert (%s) on %s to %I', (select string_agg(quote_ident(c), ', ') from unnest(v_key.columns) c),
                       v_key.relation, v_table);
      end loop;
      execute format('create trigger _001_column_defaults before insert on %s for each row execute function compliance_private.tg__column_defaults(%s)',
                     v_key.relation, v_key.arguments);
    end loop;

    execute format('select pg_catalog.create_distributed_table(%L, %L, shard_count => %s)', 'compliance.user_profiles', 'user_id', shard_count);

    -- the placement keys: for each shard of the subjects' tables, a short text that hashes into its
    -- range. The range that holds hashtext('') keeps '', which every row had on a single node, so a
    -- log distributed later keeps its rows in one shard whose chain goes on.
    for v_shard in select s.shardminvalue::integer as low, s.shardmaxvalue::integer as high,
                          (row_number() over (order by s.shardminvalue::integer) - 1)::integer as chain_no
                     from pg_catalog.pg_dist_shard s where s.logicalrelid = 'compliance.user_profiles'::regclass
                    order by 1 loop
      -- '', then shard-0, shard-1, … until one hashes into the range
      v_placement := '';
      v_try := 0;
      while hashtext(v_placement) not between v_shard.low and v_shard.high loop
        v_placement := 'shard-' || v_try;
        v_try := v_try + 1;
      end loop;
      insert into compliance_private.shard_placements (hash_min, hash_max, placement, chain_no)
      values (v_shard.low, v_shard.high, v_placement, v_shard.chain_no);
    end loop;

    foreach v_table in array v_by_subject loop
      continue when v_table = 'compliance.user_profiles';
      execute format('select pg_catalog.create_distributed_table(%L, %L, colocate_with => %L)', v_table, 'user_id', 'compliance.user_profiles');
    end loop;
    foreach v_table in array v_by_placement loop
      execute format('select pg_catalog.create_distributed_table(%L, %L, colocate_with => %L)', v_table, 'placement', 'compliance.user_profiles');
    end loop;
    -- from now on each shard's rows are numbered on the node that holds it, where its chain is
    -- sealed (after the copy above: the rows already sealed keep their numbers), from a sequence of
    -- that node's past every id there is so far
    select coalesce(max(a.id), 0) into v_above from compliance.audit_logs a;
    perform compliance_private.ensure_chain_sequences(v_above);
    create trigger _001_number_on_node before insert on compliance.audit_logs
      for each row execute function compliance_private.tg_audit_logs__number_on_node();

  end if;

  -- what follows again after every migration (setup calls this each time): a migration may
  -- have replaced a routine, or added one
  -- everything else is small, read where the subject's rows are (tombstones, purposes, policies,
  -- settings, the root chain): a reference table, copied to every node, also one a later migration
  -- added. A table that refers to one not placed yet waits for the next round.
  while v_progress loop
    v_progress := false;
    v_left := null;
    for v_table in select c.oid::regclass::text from pg_catalog.pg_class c
                    where c.relnamespace in ('compliance'::regnamespace, 'compliance_private'::regnamespace)
                      and c.relkind in ('r', 'p') and not c.relispartition
                      and not exists (select from pg_catalog.pg_dist_partition d where d.logicalrelid = c.oid)
                    order by 1 loop
      begin
        execute format('select pg_catalog.create_reference_table(%L)', v_table);
        v_progress := true;
      exception when others then
        v_left := format('%s: %s', v_table, sqlerrm);
      end;
    end loop;
  end loop;
  -- a round that placed nothing ends the loop: a table it could not place stays local
  if v_left is not null then
    perform compliance_private.raise_error('CITUS', format('a table could not be placed on the cluster: %s', v_left));
  end if;

  -- the foreign keys taken off above come back, now that every table is placed
  for v_key in select * from jsonb_to_recordset(v_foreign_keys) as k(relation text, name text, definition text, referenced text) loop
    v_definition := v_key.definition;
    -- between two tables distributed by the subject, the key goes through the subject
    if v_key.relation = any (v_by_subject) and v_key.referenced = any (v_by_subject) and v_definition !~ '^FOREIGN KEY \(user_id' then
      v_definition := regexp_replace(regexp_replace(v_definition, '^FOREIGN KEY \(', 'FOREIGN KEY (user_id, '),
                                     'REFERENCES ([a-z_.]+)\(', 'REFERENCES \1(user_id, ');
    end if;
    begin
      execute format('alter table %s add constraint %I %s', v_key.relation, v_key.name, v_definition);
    exception when others then
      -- a key Citus cannot hold (between tables distributed differently, or one that sets the
      -- distribution column NULL): the routines that write both tables keep it
      v_refused := v_refused || format('%s.%s (%s)', v_key.relation, v_key.name, sqlerrm);
    end;
  end loop;

  if cardinality(v_refused) > 0 then
    raise notice 'foreign keys Citus cannot hold, kept by the routines that write both tables: %', array_to_string(v_refused, '; ');
  end if;

  -- a generic plan leaves parameters Citus cannot route by: where a routine pins one for the cost of
  -- planning over a single node's partitions (db/CONVENTIONS.md, "Plans"), the cluster plans afresh
  for v_definition in select p.oid::regprocedure::text from pg_catalog.pg_proc p
                       where p.pronamespace in ('compliance'::regnamespace, 'compliance_private'::regnamespace)
                         and exists (select from unnest(p.proconfig) c where c like 'plan_cache_mode=%') loop
    execute format('alter function %s reset plan_cache_mode', v_definition);
  end loop;
  -- a chain is sealed on the node that holds it: a call of the sealer outside a transaction block
  -- goes there by its placement
  perform pg_catalog.create_distributed_function('compliance.seal_audit_log(integer,integer,text)'::regprocedure,
    'placement', colocate_with => 'compliance.audit_logs');
  -- every routine on every node, so a trigger on a shard finds the helpers it calls by name
  -- (hstore's come with the extension)
  for v_definition in select p.oid::regprocedure::text from pg_catalog.pg_proc p
                       where p.pronamespace in ('compliance'::regnamespace, 'compliance_private'::regnamespace)
                         and not exists (select from pg_catalog.pg_depend d
                                          where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
                         and not exists (select from pg_catalog.pg_dist_object o
                                          where o.classid = 'pg_proc'::regclass and o.objid = p.oid) loop
    execute format('select pg_catalog.create_distributed_function(%L::regprocedure)', v_definition);
  end loop;

  -- on every node, for every session of this database: a request context set with SET LOCAL
  -- reaches the shards' sessions (row-level security and the audit triggers read it there), and a
  -- trigger on a shard may write the co-located audit shard and read the reference tables
  foreach v_definition in array array[
      format('alter database %I set citus.propagate_set_commands = %L', current_database(), 'local'),
      format('alter database %I set citus.allow_nested_distributed_execution = %L', current_database(), 'on'),
      format('alter database %I set citus.enable_unsafe_triggers = %L', current_database(), 'on'),
      -- one connection per node in a transaction: an erasure writes a subject's shard and the
      -- reference tables in one transaction, which Citus allows only so
      format('alter database %I set citus.multi_shard_modify_mode = %L', current_database(), 'sequential')] loop
    -- Citus passes ALTER DATABASE … SET on to the workers
    execute v_definition;
  end loop;
end;
$procedure$;

comment on procedure compliance_private.distribute_on_citus(shard_count integer) is
  'Spreads pgcomply over a Citus cluster, once: a subject''s tables by user_id, co-located, so one node holds a subject; the audit log, DSR requests, access grants and propagation tasks by the placement key of the subject''s shard (placement_of); every other table as a reference table on each node. Foreign keys come back where Citus can hold them (a notice names the rest). Every node''s sessions of the database then propagate SET LOCAL, so the request context reaches the shards. Run by setup as a superuser on the coordinator after every migration, once create extension citus is done and the workers are added (CITUS otherwise); the placing happens once, and each later call only brings new or replaced routines to every node and sets their plans. Then call compliance_private.record_expected_grants(), in a transaction of its own, so the privileges check knows the grants it added (setup does both).';

select compliance_private.record_expected_grants();
