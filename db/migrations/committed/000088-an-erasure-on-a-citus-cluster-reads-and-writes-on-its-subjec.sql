--! Previous: sha1:830e086c6655e3431b550ffdd1b92afca755eeac
--! Hash: sha1:dc615d0cb53ee1709b7290769598263f7aaa466b
--! Message: An erasure on a Citus cluster reads and writes on its subject's node alone; a second transaction clears the person where they acted on other nodes, and verification trusts its record

-- On a Citus cluster an erasure read every shard to find where the person acted on someone else's
-- rows, and the rows about them kept from before the cluster (the chain ''). Those rows may be on
-- any node. The erasure now clears everything in the subject's placement and leaves a row here; a
-- second transaction (finish_erasure_elsewhere, run by the worker) clears the rest and takes the
-- row off. The row holds the person's id until then, as a propagation task does until its system
-- confirms. On a single node nothing waits: the erasure does all of it, as before.
create table compliance_private.erasures_finishing_elsewhere (
  placement text not null,
  request_id bigint not null,
  person text not null,
  queued_at timestamptz not null default now(),
  constraint erasures_finishing_elsewhere_pkey primary key (placement, request_id),
  constraint erasures_finishing_elsewhere_person_length check (length(person) between 1 and 200)
);
comment on table compliance_private.erasures_finishing_elsewhere is
  'Erasures on a Citus cluster whose second transaction (finish_erasure_elsewhere) has not run yet: it clears the person wherever they acted on someone else''s rows and redacts the audit rows about them outside their own chain. Personal data: the erased person''s id, kept only until that transaction takes the row off (within a minute, by the worker).';
comment on column compliance_private.erasures_finishing_elsewhere.placement is 'The subject''s placement (placement_of), where the erasure wrote and this row sits.';
comment on column compliance_private.erasures_finishing_elsewhere.request_id is 'The erasure''s DSR request (compliance.dsr_requests.id).';
comment on column compliance_private.erasures_finishing_elsewhere.person is 'The erased id, which the second transaction looks for.';
comment on column compliance_private.erasures_finishing_elsewhere.queued_at is 'When the erasure ran.';
alter table compliance_private.erasures_finishing_elsewhere enable row level security;
alter table compliance_private.erasures_finishing_elsewhere force row level security;
-- included from fixtures/subject-rights/erasures_finishing_elsewhere.owner_routines.sql
-- policy owner_routines on compliance_private.erasures_finishing_elsewhere: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance_private.erasures_finishing_elsewhere;
create policy owner_routines on compliance_private.erasures_finishing_elsewhere as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance_private.erasures_finishing_elsewhere is 'Only the erasure puts a row here and only finish_erasure_elsewhere_core takes it off; erasures_finishing_elsewhere lists them without the person. No application role reaches the table.';

-- the parts an erasure and its second transaction share
-- included from fixtures/subject-rights/redact_audit_rows_in.sql
-- compliance_private.redact_audit_rows_in(placement text, person text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.redact_audit_rows_in(placement text, person text, OUT redacted bigint, OUT subject_rows jsonb, OUT actor_rows jsonb)
 RETURNS record
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  -- the shard's triggers admit the redaction only under the erasure's mark on their own node
  perform compliance_private.begin_bulk_operation('erasure', array[redact_audit_rows_in.placement]);
  with targets as (
    select a.id, a.occurred_at, a.user_id = redact_audit_rows_in.person as subject,
           coalesce(a.actor_id = redact_audit_rows_in.person, false) as actor, a.subject_part_digest is null as layout1
      from compliance.audit_logs a
     where a.placement = redact_audit_rows_in.placement
       and (a.user_id = redact_audit_rows_in.person or a.actor_id = redact_audit_rows_in.person)
  ), changed as (
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
     where a.placement = redact_audit_rows_in.placement and a.id = t.id and a.occurred_at = t.occurred_at
    returning a.id, t.subject, t.actor
  )
  select count(*), coalesce(jsonb_agg(r.id order by r.id) filter (where r.subject), '[]'),
         coalesce(jsonb_agg(r.id order by r.id) filter (where r.actor), '[]')
    into redacted, subject_rows, actor_rows
    from changed r;
end;
$function$;

comment on function compliance_private.redact_audit_rows_in(placement text, person text, OUT redacted bigint, OUT subject_rows jsonb, OUT actor_rows jsonb) is
  'Part of an erasure: in one chain (placement), takes the erased person''s part out of every audit row about them (the subject part) and of every row where they acted (the actor part; layout-1 rows have one personal part and lose it whole), and returns how many rows changed and the ids of each kind, which the erasure''s audit record lists so that verification tells these redactions from any other. A DPO who handled the subject stays on record.';

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
  -- a row left with no personal part goes: the bundle holds the rest of it and its digests
  delete from compliance.audit_archived_parts a
   where a.placement = redact_archived_parts_in.placement and a.redacted_at = now()
     and num_nonnulls(a.user_id, a.actor_id, a.ip_address, a.user_agent, a.personal_details) = 0;
  return v_count;
end;
$function$;

comment on function compliance_private.redact_archived_parts_in(placement text, person text) is
  'Part of an erasure: in one chain (placement), the same redaction as redact_audit_rows_in for the personal parts of audit rows whose month went to the cold archive; a part left with nothing personal is deleted. Returns how many parts changed.';

-- included from fixtures/subject-rights/erase_person_as_actor.sql
-- compliance_private.erase_person_as_actor(person text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.erase_person_as_actor(person text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_counts jsonb := '{}';
begin
  perform compliance_private.erase_actor_columns('compliance.personal_tables', person, 'registered_by');
  perform compliance_private.erase_actor_columns('compliance.not_personal_columns', person, 'marked_by');
  perform compliance_private.erase_actor_columns('compliance.propagation_tasks', person, 'confirmed_by');
  v_counts := v_counts || jsonb_build_object('dsr_requests_anonymised',
    compliance_private.erase_actor_columns('compliance.dsr_requests', person, 'handled_by'));
  -- other patients' records keep their content, never who recorded them
  v_counts := v_counts || jsonb_build_object('health_records_anonymised',
    compliance_private.erase_actor_columns('compliance.health_records', person, 'recorded_by'));
  -- other patients' grants keep their dates and terms, never who held, asked for or decided them
  v_counts := v_counts || jsonb_build_object('access_grants_anonymised',
    compliance_private.erase_actor_columns('compliance.access_grants', person,
      'grantee', 'requested_by', 'approved_by', 'denied_by', 'revoked_by', 'reviewed_by'));
  perform compliance_private.erase_actor_columns('compliance.breaches', person, 'opened_by', 'closed_by');
  v_counts := v_counts || jsonb_build_object('alerts_anonymised',
    compliance_private.erase_actor_columns('compliance.alert_outbox', person, 'user_id', 'actor_id'));
  -- reviews, packages and reports keep what was decided and produced, never by or about whom
  v_counts := v_counts || jsonb_build_object('access_review_items_anonymised',
    compliance_private.erase_actor_columns('compliance.access_review_items', person, 'actor_id', 'granted_by', 'decided_by'));
  perform compliance_private.erase_actor_columns('compliance.access_review_campaigns', person, 'opened_by');
  perform compliance_private.erase_actor_columns('compliance.evidence_packages', person, 'generated_by');
  perform compliance_private.erase_actor_columns('compliance.reports', person, 'generated_by');
  perform compliance_private.erase_actor_columns('compliance.backup_verifications', person, 'verified_by');
  -- holds on other subjects keep their dates and reasons, never who placed or released them
  v_counts := v_counts || jsonb_build_object('legal_holds_anonymised',
    compliance_private.erase_actor_columns('compliance.legal_holds', person, 'placed_by', 'released_by'));
  return v_counts;
end;
$function$;

comment on function compliance_private.erase_person_as_actor(person text) is
  'Part of an erasure: clears the erased person from every column that names who acted on someone else''s rows (who registered a table, handled a request, recorded a health record, held or decided a grant, opened a breach, placed a hold, generated a report…) and returns the counts the erasure reports (dsr_requests_anonymised, health_records_anonymised, access_grants_anonymised, alerts_anonymised, access_review_items_anonymised, legal_holds_anonymised). On a single node the erasure calls it in its own transaction; on a Citus cluster finish_erasure_elsewhere_core does, since those rows may be on any node.';

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
  v_archived_redacted bigint;
  v_actor_counts jsonb;
  v_elsewhere boolean;
  v_request_id bigint;
  v_tasks integer;
  v_table text;
  -- the tombstone, computed here: the pepper is this session's alone, and on a Citus cluster a
  -- statement runs on the subject's node, where the session that runs it has none
  v_digest bytea;
  v_consent record;
  v_placement text;
  v_rows record;
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
  perform compliance_private.begin_bulk_operation('erasure', array[v_placement]);

  -- the duty to review a break-glass access outlives the patient's data (HIPAA
  -- §164.308(a)(1)(ii)(D)): an emergency grant not reviewed yet stays, without the patient
  update compliance.access_grants g set user_id = null
   where g.placement = v_placement and g.user_id = erase_subject_core.user_id and g.kind = 'emergency' and g.reviewed_at is null;
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

  -- children before the profile so each count is exact
  foreach v_table in array array['health_records', 'access_grants', 'breach_subjects', 'messages', 'conversations', 'consent_records', 'sessions',
                                 'user_preferences', 'legal_holds', 'processing_limits'] loop
    -- access grants sit in the subject's placement (placement_of); the rest by the subject
    execute format('delete from compliance.%I t where t.user_id = $1%s', v_table,
                   case when v_table = 'access_grants' then ' and t.placement = $2' else '' end) using user_id, v_placement;
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
  v_request_id := compliance_private.record_completed_dsr(null, 'erasure', compliance_private.handler_for(user_id), v_placement);
  -- every other system is asked to erase too (Art. 17(2), 19); the tasks keep the id until each
  -- confirms. What older tasks still waited for is superseded, and their answers go with the subject.
  update compliance.propagation_tasks t
     set state = case when t.state in ('pending', 'awaiting_confirmation', 'failed') then 'cancelled' else t.state end,
         confirmation_note = case when t.state in ('pending', 'awaiting_confirmation', 'failed') then 'superseded by the subject''s erasure' else t.confirmation_note end,
         user_id = null, response = null
   where t.placement = v_placement and t.user_id = erase_subject_core.user_id;
  get diagnostics v_count = row_count;
  v_counts := v_counts || jsonb_build_object('propagation_tasks_anonymised', v_count);
  v_tasks := compliance_private.propagate_request(v_request_id, user_id, 'erasure', v_placement);
  -- the subject's own requests, in their placement
  update compliance.dsr_requests r
     set user_id = null, notes = null, handled_by = nullif(r.handled_by, erase_subject_core.user_id)
   where r.placement = v_placement and r.user_id = erase_subject_core.user_id;
  get diagnostics v_count = row_count;
  v_counts := v_counts || jsonb_build_object('dsr_requests_anonymised', v_count);

  -- the rows where the person acted on someone else's, and on a Citus cluster the rows about them
  -- kept from before it was set up (the chain ''), may be on any node. On a single node they are
  -- all here, and cleared before the audit rows are redacted. On a cluster a second transaction
  -- clears them (finish_erasure_elsewhere, which the worker runs within a minute), so this one
  -- reads and writes on the subject's node alone.
  v_elsewhere := compliance_private.is_distributed();
  if v_elsewhere then
    insert into compliance_private.erasures_finishing_elsewhere (placement, request_id, person)
    values (v_placement, v_request_id, erase_subject_core.user_id);
  else
    v_actor_counts := compliance_private.erase_person_as_actor(erase_subject_core.user_id);
    v_counts := v_counts || (v_actor_counts - 'dsr_requests_anonymised')
      || jsonb_build_object('dsr_requests_anonymised', v_count + (v_actor_counts ->> 'dsr_requests_anonymised')::bigint);
  end if;

  -- the subject's part of rows about them, the actor's part of rows where they acted, in the
  -- subject's placement; and the same parts of rows whose month is in the cold archive, which sit
  -- beside the audit rows they came from
  select * into v_rows from compliance_private.redact_audit_rows_in(v_placement, erase_subject_core.user_id);
  v_archived_redacted := compliance_private.redact_archived_parts_in(v_placement, erase_subject_core.user_id);

  insert into compliance_private.erased_subjects (placement, subject_digest) values (v_placement, v_digest);
  perform compliance_private.end_bulk_operation();

  -- counts, never identity: no subject, and no actor or client when the subject asked
  perform compliance_private.append_audit('subject.erased', 'gdpr', 'dsr_request', v_request_id::text,
    -- the rows it redacted, so verification can tell these redactions from any other
    jsonb_build_object('deleted', v_counts, 'audit_rows_redacted', v_rows.redacted, 'requested_by', requested_by,
                       'redacted_subject_rows', v_rows.subject_rows, 'redacted_actor_rows', v_rows.actor_rows,
                       'archived_audit_rows_redacted', v_archived_redacted, 'finishing_elsewhere', v_elsewhere),
    null, jsonb_build_object('reason', reason), 'success', null,
    case when requested_by = 'subject' then null else compliance.current_actor() end,
    requested_by <> 'subject', v_placement);

  return jsonb_build_object('erased', true, 'erased_at', now(), 'dsr_request_id', v_request_id,
    'deleted', v_counts, 'audit_rows_redacted', v_rows.redacted, 'finishing_elsewhere', v_elsewhere,
    'other_systems', (select coalesce(jsonb_agg(jsonb_build_object('system', t.system, 'name', s.name, 'task_id', t.id, 'state', t.state) order by t.system), '[]')
                        from compliance.propagation_tasks t join compliance.processing_systems s on s.system = t.system
                       where t.placement = v_placement and t.request_id = v_request_id));
end;
$function$;

comment on function compliance_private.erase_subject_core(user_id text, reason text, confirm boolean, requested_by text) is
  'The erasure transaction; see compliance.erase_subject. Its statements run on generic plans (plan_cache_mode), without JIT compilation (a generic plan''s row estimates over a million subjects passed jit_above_cost, and compiling took longer than the erasure): a custom plan over every audit partition costs more to make than to run, and made a connection''s first five erasures twice as slow as the rest.';

-- included from fixtures/subject-rights/finish_erasure_elsewhere_core.sql
-- compliance_private.finish_erasure_elsewhere_core(chain text, request_id bigint): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.finish_erasure_elsewhere_core(chain text, request_id bigint)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
 SET plan_cache_mode TO 'force_generic_plan'
 SET jit TO 'off'
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

-- included from fixtures/subject-rights/finish_erasure_elsewhere.sql
-- compliance.finish_erasure_elsewhere(chain text, request_id bigint): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.finish_erasure_elsewhere(chain text, request_id bigint)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  if chain is null or request_id is null then
    perform compliance_private.raise_error('BADRG', 'give the chain and the request id of a waiting erasure',
      'compliance.erasures_finishing_elsewhere() lists them.');
  end if;
  return compliance_private.finish_erasure_elsewhere_core(chain, request_id);
end;
$function$;

comment on function compliance.finish_erasure_elsewhere(chain text, request_id bigint) is
  'Finishes one erasure on a Citus cluster, in a transaction of its own: see compliance_private.finish_erasure_elsewhere_core. The worker calls it for each erasure compliance.erasures_finishing_elsewhere() lists, every minute; a DPO may call it at once. It takes no person: only an erasure that is waiting can be finished, and finishing one twice does nothing the second time (null). For the worker and the DPO.';

-- included from fixtures/subject-rights/erasures_finishing_elsewhere.sql
-- compliance.erasures_finishing_elsewhere(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.erasures_finishing_elsewhere()
 RETURNS TABLE(chain text, request_id bigint, erased_at timestamp with time zone)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
BEGIN ATOMIC
 SELECT e.placement,
     e.request_id,
     e.queued_at
    FROM compliance_private.erasures_finishing_elsewhere e
   ORDER BY e.queued_at, e.placement, e.request_id;
END;

comment on function compliance.erasures_finishing_elsewhere() is
  'The erasures on a Citus cluster whose second transaction has not run yet (compliance.finish_erasure_elsewhere), oldest first: the subject''s chain, the erasure''s DSR request and when it was erased. Never the person. Always empty on a single node. For the worker and the DPO.';

-- verification trusts the second transaction's record like the erasure's own
-- included from fixtures/audit/written_by_its_routine.sql
-- compliance_private.written_by_its_routine(action text, details jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.written_by_its_routine(action text, details jsonb)
 RETURNS boolean
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
RETURN ((details ->> 'written_by'::text) = CASE action WHEN 'audit.partition_dropped'::text THEN 'compliance_private.drop_expired_audit_partitions'::text WHEN 'subject.erased'::text THEN 'compliance_private.erase_subject_core'::text WHEN 'subject.erased_elsewhere'::text THEN 'compliance_private.finish_erasure_elsewhere_core'::text ELSE NULL::text END);

comment on function compliance_private.written_by_its_routine(action text, details jsonb) is
  'Whether an accounting record (audit.partition_dropped, subject.erased, subject.erased_elsewhere) says it was written by the one routine that does that work (details.written_by, which append_audit takes from the call stack). Verification trusts records written after migration 000041 only then.';

-- included from fixtures/audit/audit_claims_contradicted.sql
-- compliance_private.audit_claims_contradicted(layout2_from bigint, layout2_end bigint, marker bigint, placement text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.audit_claims_contradicted(layout2_from bigint, layout2_end bigint, marker bigint, placement text)
 RETURNS TABLE(record_id bigint, row_id bigint, detail text)
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
#variable_conflict use_column
declare
  v_accounting jsonb;
  v_listed bigint[];
  v_present bigint[];
  v_redacted_at jsonb;
  v_first_seal bigint;
begin
  -- in steps, each a plain read: on a Citus cluster a query joining the records with the rows
  -- and seals they name cannot be planned. First the sealed accounting records verification
  -- trusts (the same selection as verify_audit_log)
  select jsonb_agg(jsonb_build_object('id', a.id, 'action', a.action, 'occurred_at', a.occurred_at,
                                      'resource_id', a.resource_id, 'details', a.details))
    into v_accounting
    from compliance.audit_logs a
   where a.placement = audit_claims_contradicted.placement
     and a.action in ('audit.partition_dropped', 'subject.erased', 'subject.erased_elsewhere') and a.outcome = 'success'
     and a.id between layout2_from and layout2_end
     and (a.id < coalesce(marker, 0) or compliance_private.written_by_its_routine(a.action, a.details));
  if v_accounting is null then
    return;
  end if;
  -- the rows they name, and which of those are still there and when they were redacted
  select array_agg(distinct e.id::bigint) into v_listed
    from jsonb_array_elements(v_accounting) r
   cross join lateral (select jsonb_array_elements_text(coalesce(r -> 'details' -> 'dropped_rows_in_kept_seals', '[]'))
                       union all select jsonb_array_elements_text(coalesce(r -> 'details' -> 'redacted_subject_rows', '[]'))
                       union all select jsonb_array_elements_text(coalesce(r -> 'details' -> 'redacted_actor_rows', '[]'))) e(id);
  select array_agg(a.id), jsonb_object_agg(a.id, a.redacted_at) into v_present, v_redacted_at
    from compliance.audit_logs a where a.id = any (coalesce(v_listed, '{}'));
  select min(s.seal_no) into v_first_seal from compliance.audit_seals s where s.placement = audit_claims_contradicted.placement;

  return query
  with accounting as (
    select (r ->> 'id')::bigint as id, r ->> 'action' as action, (r ->> 'occurred_at')::timestamptz as occurred_at,
           r ->> 'resource_id' as resource_id, r -> 'details' as details
      from jsonb_array_elements(v_accounting) r
  ), drop_rows as (
    select c.id as record_id, e.id::bigint as row_id from accounting c
     cross join jsonb_array_elements_text(coalesce(c.details -> 'dropped_rows_in_kept_seals', '[]')) e(id)
     where c.action = 'audit.partition_dropped'
  ), erased_rows as (
    -- each row's newest listing erasure: a row can lose its subject part to one erasure and its
    -- actor part to a later one, which then set redacted_at
    select distinct on (x.row_id) x.row_id, x.record_id, x.occurred_at
      from (select e.id::bigint as row_id, c.id as record_id, c.occurred_at from accounting c
             cross join lateral (select jsonb_array_elements_text(coalesce(c.details -> 'redacted_subject_rows', '[]'))
                                 union all
                                 select jsonb_array_elements_text(coalesce(c.details -> 'redacted_actor_rows', '[]'))) e(id)
             where c.action in ('subject.erased', 'subject.erased_elsewhere') and c.id >= coalesce(marker, 0)) x
     order by x.row_id, x.record_id desc
  )
  select c.id, null::bigint, format('the drop record says partition %s was dropped, and it is still there', c.resource_id)
    from accounting c
   where c.action = 'audit.partition_dropped'
     and exists (select from pg_inherits i join pg_class r on r.oid = i.inhrelid
                  where i.inhparent = 'compliance.audit_logs'::regclass and r.relname = c.resource_id)
  union all
  select d.record_id, d.row_id, 'the drop record lists this row as dropped, and it was written after the drop'
    from drop_rows d where d.row_id >= d.record_id
  union all
  select d.record_id, d.row_id, 'the drop record lists this row as dropped, and it is still there'
    from drop_rows d where d.row_id < d.record_id and d.row_id = any (coalesce(v_present, '{}'))
  union all
  select c.id, null::bigint, format('the drop record says seals up to %s were removed, and seal %s is still there',
                                    c.details ->> 'seals_removed_through', v_first_seal)
    from accounting c
   where c.action = 'audit.partition_dropped' and v_first_seal <= (c.details ->> 'seals_removed_through')::bigint
  union all
  select e.record_id, e.row_id, 'the erasure record lists this row as redacted by it, and the row was not redacted when it was written'
    from erased_rows e
   -- a listed row not redacted at all is unredacted_row already
   where (v_redacted_at ->> e.row_id::text)::timestamptz <> e.occurred_at
  order by 1, 2 nulls first, 3;
end;
$function$;

comment on function compliance_private.audit_claims_contradicted(layout2_from bigint, layout2_end bigint, marker bigint, placement text) is
  'What the sealed accounting records of one chain (placement) claim and the database contradicts (verify_audit_log reports each as contradicted_claim): a drop record whose partition is still attached, whose dropped rows are still there or were written after it, or whose removed seals are still there; an erasure record (since migration 000041) listing a row redacted at another moment than the erasure''s (redacted_at differs from the record''s occurred_at; one not redacted at all is verify_audit_log''s unredacted_row). What it cannot see: which subject a redacted part was about (its salt is gone by design).';

-- included from fixtures/audit/verify_audit_log.sql
-- compliance.verify_audit_log(from_seal bigint, from_hash bytea, placement text, OUT ok boolean, OUT seals_checked bigint, OUT rows_checked bigint, OUT unsealed_rows bigint, OUT problems jsonb, OUT incremental boolean, OUT last_seal_no bigint, OUT last_seal_hash bytea, OUT notes jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.verify_audit_log(from_seal bigint DEFAULT NULL::bigint, from_hash bytea DEFAULT NULL::bytea, placement text DEFAULT ''::text, OUT ok boolean, OUT seals_checked bigint, OUT rows_checked bigint, OUT unsealed_rows bigint, OUT problems jsonb, OUT incremental boolean, OUT last_seal_no bigint, OUT last_seal_hash bytea, OUT notes jsonb)
 RETURNS record
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_bounds record;
  v_first compliance.audit_seals;
  v_seal compliance.audit_seals;
  v_start record;
  v_expected_no bigint;
  v_previous_hash bytea;
  v_from_xact xid8 := '0'::xid8;
  v_from_id bigint := 0;
  v_start_xact xid8 := '0'::xid8;  -- where the layout-1 seals begin
  v_start_id bigint := 0;
  v_next_id bigint;
  v_dropped jsonb;   -- {id: true}: sealed rows a sealed drop record removed
  v_expected jsonb;  -- {id: 'a' | 's' | 'as'}: the parts sealed erasures redacted
  v_redacted jsonb := '{}';  -- {id: 'a' | 's' | 'as' | '1'}: the parts found redacted ('1': a layout-1 row)
  v_found jsonb;
  v_problem record;
  v_count integer;
  v_hashes bytea;
  v_bad boolean;
  v_head compliance_private.audit_seal_head;
  v_checkpoint compliance.audit_seals;
  v_range_from bigint := 0;  -- incremental: the first row id the checked seals cover
  v_pending jsonb;   -- {id: 'a' | 's' | 'as'}: the parts erasures not sealed yet redacted
  v_gaps jsonb;      -- [{from, to, seal_no}]: ranges the sealer left out before migration 000041
  v_gap jsonb;
  v_marker bigint;   -- the first row written with reserved actions (migration 000041)
begin
  seals_checked := 0;
  rows_checked := 0;
  problems := '[]';
  notes := '[]';
  select * into strict v_bounds from compliance_private.audit_chain_bounds(verify_audit_log.placement);
  -- from a checkpoint (a seal verified before, whose hash the caller kept anchored): only what
  -- was sealed after it. A checkpoint that is gone or not layout 2 means a full verification.
  if from_seal is not null then
    select * into v_checkpoint from compliance.audit_seals s
     where s.placement = verify_audit_log.placement and s.seal_no = from_seal and s.layout = 2;
  end if;
  incremental := v_checkpoint.seal_no is not null and from_hash is not null;

  -- records written since migration 000041 count only from the routine that does the work
  select min(u.id) into v_marker from compliance.audit_logs u where u.action = 'audit.sealer_gaps_recorded';
  -- what sealed records account for: only rows inside the layout-2 seals count, and of the
  -- upgrade records only the first (a later one would be a forgery). On a Citus cluster a record
  -- about this chain's rows may sit in another chain (an erasure's, in its actor's shard): it counts
  -- once sealed there
  with accounting as (
    select a.id, a.action, a.details from compliance.audit_logs a
     where a.action in ('audit.partition_dropped', 'subject.erased', 'subject.erased_elsewhere', 'audit.layout_upgraded')
       and a.outcome = 'success'
       and case when a.placement = verify_audit_log.placement then a.id >= v_bounds.layout2_from and a.id <= v_bounds.layout2_end
                else compliance_private.audit_row_sealed(a.placement, a.id) end
       and (a.id < coalesce(v_marker, 0) or a.action = 'audit.layout_upgraded' or compliance_private.written_by_its_routine(a.action, a.details))
       and (a.action <> 'audit.layout_upgraded'
            or a.id = (select min(u.id) from compliance.audit_logs u where u.action = 'audit.layout_upgraded'))
  ), parts as (
    select e.id, 's' as part from accounting c cross join jsonb_array_elements_text(c.details -> 'redacted_subject_rows') e(id)
    union all
    select e.id, 'a' from accounting c cross join jsonb_array_elements_text(c.details -> 'redacted_actor_rows') e(id)
  )
  select coalesce((select jsonb_object_agg(p.id, p.parts)
                     from (select x.id, string_agg(distinct x.part, '' order by x.part) as parts from parts x group by x.id) p), '{}'),
         coalesce((select jsonb_object_agg(e.id, true)
                     from accounting c cross join jsonb_array_elements_text(c.details -> 'dropped_rows_in_kept_seals') e(id)), '{}')
    into v_expected, v_dropped;

  -- what those records claim and the database contradicts: a claim that cannot be true. From a
  -- checkpoint, only the records sealed since: the older ones were checked by the run that made it
  for v_problem in select * from compliance_private.audit_claims_contradicted(
      case when incremental then v_checkpoint.last_row_id + 1 else v_bounds.layout2_from end, v_bounds.layout2_end, v_marker,
      verify_audit_log.placement) loop
    problems := problems || (jsonb_build_object('kind', 'contradicted_claim', 'seal_no', null)
      || jsonb_strip_nulls(jsonb_build_object('row_id', v_problem.row_id))
      || jsonb_build_object('record_id', v_problem.record_id, 'detail', v_problem.detail));
  end loop;

  -- erasures written but not sealed yet: their redactions are pending, not findings; they
  -- excuse a redaction and never accuse a row (once sealed they count like any other)
  select coalesce(jsonb_object_agg(p.id, p.parts), '{}') into v_pending
    from (select x.id, string_agg(distinct x.part, '' order by x.part) as parts
            from (select e.id, 's' as part from compliance.audit_logs a
                    cross join jsonb_array_elements_text(a.details -> 'redacted_subject_rows') e(id)
                   where a.action in ('subject.erased', 'subject.erased_elsewhere') and a.outcome = 'success'
                     and case when a.placement = verify_audit_log.placement then a.id > coalesce(v_bounds.layout2_end, v_bounds.layout2_from - 1)
                              else not compliance_private.audit_row_sealed(a.placement, a.id) end
                     and compliance_private.written_by_its_routine(a.action, a.details)
                  union all
                  select e.id, 'a' from compliance.audit_logs a
                    cross join jsonb_array_elements_text(a.details -> 'redacted_actor_rows') e(id)
                   where a.action in ('subject.erased', 'subject.erased_elsewhere') and a.outcome = 'success'
                     and case when a.placement = verify_audit_log.placement then a.id > coalesce(v_bounds.layout2_end, v_bounds.layout2_from - 1)
                              else not compliance_private.audit_row_sealed(a.placement, a.id) end
                     and compliance_private.written_by_its_routine(a.action, a.details)) x
           group by x.id) p;

  -- id ranges no seal covered: before migration 000041 the sealer skipped ids of rolled-back rows
  -- when they were all it found. Only the record that migration wrote counts (the action is
  -- reserved: no login role can write it), and only for the seals it names.
  -- (the single node's chain: a Citus cluster's other chains began after)
  if verify_audit_log.placement = '' then
    select coalesce(a.details -> 'gaps', '[]') into v_gaps from compliance.audit_logs a
     where a.id = (select min(u.id) from compliance.audit_logs u where u.action = 'audit.sealer_gaps_recorded');
  end if;
  v_gaps := coalesce(v_gaps, '[]');

  -- where the chain starts: at seal 1, or where a sealed drop record says it removed seals
  select * into v_first from compliance.audit_seals s where s.placement = verify_audit_log.placement order by s.seal_no limit 1;
  v_previous_hash := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
  v_expected_no := 1;
  if incremental then
    -- the checkpoint's own row must still hash as it did when it was verified
    if v_checkpoint.seal_hash <> from_hash then
      problems := problems || jsonb_build_object('kind', 'altered_seal', 'seal_no', v_checkpoint.seal_no,
        'detail', 'the seal''s hash differs from the one recorded when it was last verified');
    end if;
    v_expected_no := v_checkpoint.seal_no + 1;
    v_previous_hash := from_hash;
    v_next_id := v_checkpoint.last_row_id + 1;
    v_range_from := v_next_id;
  elsif v_first.seal_no > 1 then
    v_expected_no := v_first.seal_no;
    v_previous_hash := v_first.previous_hash;
    select (a.details -> 'seal_end' ->> 'xact_id')::xid8 as xact_id, (a.details -> 'seal_end' ->> 'row_id')::bigint as row_id
      into v_start
      from compliance.audit_logs a
     where a.placement = verify_audit_log.placement
       and a.action = 'audit.partition_dropped' and a.id >= v_bounds.layout2_from and a.id <= v_bounds.layout2_end
       and (a.id < coalesce(v_marker, 0) or compliance_private.written_by_its_routine(a.action, a.details))
       and (a.details ->> 'seals_removed_through')::bigint = v_first.seal_no - 1
       and a.details ->> 'seal_hash' = encode(v_first.previous_hash, 'hex')
     order by a.id limit 1;
    if not found then
      problems := problems || jsonb_build_object('kind', 'unaccounted_gap', 'seal_no', v_first.seal_no,
        'detail', format('the chain starts at seal %s, and no sealed audit.partition_dropped row says seals up to %s were removed with that hash',
                         v_first.seal_no, v_first.seal_no - 1));
    elsif v_first.layout = 1 then
      v_from_xact := v_start.xact_id;
      v_from_id := v_start.row_id;
      v_start_xact := v_start.xact_id;
      v_start_id := v_start.row_id;
    end if;
  end if;

  for v_seal in select * from compliance.audit_seals s
                 where s.placement = verify_audit_log.placement and (s.seal_no >= v_expected_no or not incremental)
                 order by s.seal_no loop
    seals_checked := seals_checked + 1;
    if v_seal.seal_no <> v_expected_no then
      problems := problems || jsonb_build_object('kind', 'missing_seal', 'seal_no', v_expected_no,
        'detail', format('seals %s to %s are missing', v_expected_no, v_seal.seal_no - 1));
    end if;
    if v_seal.previous_hash <> v_previous_hash then
      problems := problems || jsonb_build_object('kind', 'broken_chain', 'seal_no', v_seal.seal_no,
        'detail', 'previous_hash does not match the hash of the seal before it');
    end if;
    if compliance_private.audit_seal_hash_of(v_seal) is distinct from v_seal.seal_hash then
      problems := problems || jsonb_build_object('kind', 'altered_seal', 'seal_no', v_seal.seal_no,
        'detail', 'the seal''s contents do not match its seal_hash');
    end if;
    v_gap := null;
    if v_seal.layout = 2 and v_seal.first_row_id > coalesce(v_next_id, v_bounds.layout2_from) then
      select g into v_gap from jsonb_array_elements(v_gaps) g
       where (g ->> 'seal_no')::bigint = v_seal.seal_no
         and (g ->> 'from')::bigint = coalesce(v_next_id, v_bounds.layout2_from)
         and (g ->> 'to')::bigint = v_seal.first_row_id - 1;
    end if;
    if v_gap is not null then
      notes := notes || jsonb_build_object('kind', 'unsealed_id_range', 'seal_no', v_seal.seal_no,
        'from', v_gap -> 'from', 'to', v_gap -> 'to',
        'detail', 'ids no seal covers: before migration 000041 the sealer skipped ids of rolled-back rows');
      -- the range held no row when it was skipped; a row there now was put there since
      for v_problem in
        select a.id from compliance.audit_logs a
         where a.placement = verify_audit_log.placement and a.id between (v_gap ->> 'from')::bigint and (v_gap ->> 'to')::bigint
      loop
        problems := problems || jsonb_build_object('kind', 'forged_row', 'seal_no', v_seal.seal_no, 'row_id', v_problem.id,
          'detail', 'the row lies in an id range that no seal covers');
      end loop;
    elsif v_seal.layout = 2 and v_seal.first_row_id <> coalesce(v_next_id, v_bounds.layout2_from) then
      problems := problems || jsonb_build_object('kind', 'broken_chain', 'seal_no', v_seal.seal_no,
        'detail', format('the seal covers ids from %s, the seal before it ended at %s', v_seal.first_row_id,
                         coalesce(v_next_id, v_bounds.layout2_from) - 1));
    end if;

    -- recompute the seal's row hashes in order; only a mismatch needs the row-by-row
    -- comparison, which names what differs
    select count(*)::integer,
           coalesce(string_agg(r.row_hash, ''::bytea order by case when v_seal.layout = 1 then r.xact_id end, r.id), ''::bytea),
           coalesce(bool_or(r.personal_problem is not null), false),
           jsonb_object_agg(r.id, case when r.subject_redacted and r.actor_redacted and v_seal.layout = 1 then '1'
                                       else case when r.actor_redacted then 'a' else '' end
                                            || case when r.subject_redacted then 's' else '' end end)
             filter (where r.subject_redacted or r.actor_redacted)
      into v_count, v_hashes, v_bad, v_found
      from compliance_private.audit_seal_rows(v_seal, v_from_xact, v_from_id, v_bounds.layout2_from) r;
    rows_checked := rows_checked + v_count;
    v_redacted := v_redacted || coalesce(v_found, '{}');

    if v_count <> v_seal.row_count or v_hashes <> v_seal.row_hashes or v_bad then
      for v_problem in
        with sealed as (
          select u.id, u.ord, substring(v_seal.row_hashes from (u.ord::integer - 1) * 32 + 1 for 32) as row_hash
            from unnest(v_seal.row_ids) with ordinality as u(id, ord)
        ), present as (
          select c.id, c.xact_id, c.row_hash, c.personal_problem
            from compliance_private.audit_seal_rows(v_seal, v_from_xact, v_from_id, v_bounds.layout2_from) c
        ), matched as (
          -- positions among the rows both sides hold, so a deleted or forged row does not
          -- make every row after it look moved
          select s.id, row_number() over (order by s.ord) as sealed_ord,
                 row_number() over (order by case when v_seal.layout = 1 then p.xact_id end, p.id) as present_ord
            from sealed s join present p on p.id = s.id
        )
        select coalesce(s.id, p.id) as id,
               case when p.id is null then case when v_dropped ? s.id::text then null else 'deleted_row' end
                    when s.id is null then 'forged_row'
                    when p.row_hash <> s.row_hash then 'altered_row'
                    when m.sealed_ord <> m.present_ord then 'reordered_row'
                    else p.personal_problem
               end as kind
          from sealed s
          full join present p on p.id = s.id
          left join matched m on m.id = s.id
      loop
        continue when v_problem.kind is null;
        problems := problems || jsonb_build_object('kind', v_problem.kind, 'seal_no', v_seal.seal_no,
          'row_id', v_problem.id, 'detail', compliance_private.audit_problem_detail(v_problem.kind));
      end loop;
    end if;

    v_expected_no := v_seal.seal_no + 1;
    v_previous_hash := v_seal.seal_hash;
    if v_seal.layout = 1 then
      v_from_xact := v_seal.last_xact_id;
      v_from_id := v_seal.last_row_id;
    else
      v_next_id := v_seal.last_row_id + 1;
    end if;
  end loop;

  -- the head only adds an alarm: newest seals that went missing
  select * into v_head from compliance_private.audit_seal_head h where h.placement = verify_audit_log.placement;
  if v_head.last_seal_no >= v_expected_no then
    problems := problems || jsonb_build_object('kind', 'missing_seal', 'seal_no', v_expected_no,
      'detail', format('the chain ends at seal %s but seal %s was made', v_expected_no - 1, v_head.last_seal_no));
  elsif v_head.last_seal_no = v_expected_no - 1 and v_head.last_hash <> v_previous_hash then
    problems := problems || jsonb_build_object('kind', 'broken_chain', 'seal_no', v_head.last_seal_no,
      'detail', 'the newest seal''s hash differs from the one recorded when it was made');
  end if;

  -- rows below layout 2 that no layout-1 seal covers: every such row was sealed when layout 2
  -- began, so one is a forgery (or a row of a removed seal that retention did not drop); a full
  -- verification's question, as it reads the oldest rows
  for v_problem in
    select a.id from compliance.audit_logs a
     where not incremental and a.placement = verify_audit_log.placement and a.id < v_bounds.layout2_from
       and not coalesce((a.xact_id, a.id) > (v_start_xact, v_start_id)
                        and (a.xact_id, a.id) <= (v_bounds.layout1_end_xact, v_bounds.layout1_end_id), false)
  loop
    problems := problems || jsonb_build_object('kind', 'forged_row', 'seal_no', null, 'row_id', v_problem.id,
      'detail', 'the row lies before the layout-2 seals and in no layout-1 seal');
  end loop;

  -- rows not sealed yet: only their personal parts can be checked
  select count(*), jsonb_object_agg(c.id, case when c.actor_redacted then 'a' else '' end
                                          || case when c.subject_redacted then 's' else '' end)
                     filter (where c.subject_redacted or c.actor_redacted)
    into unsealed_rows, v_found
    from compliance_private.audit_log_checks c
   where c.placement = verify_audit_log.placement and c.id >= coalesce(v_next_id, v_bounds.layout2_from);
  v_redacted := v_redacted || coalesce(v_found, '{}');
  rows_checked := rows_checked + unsealed_rows;
  for v_problem in
    select c.id, c.personal_problem from compliance_private.audit_log_checks c
     where c.placement = verify_audit_log.placement and c.id >= coalesce(v_next_id, v_bounds.layout2_from)
       and c.personal_problem is not null
  loop
    problems := problems || jsonb_build_object('kind', v_problem.personal_problem, 'seal_no', null,
      'row_id', v_problem.id, 'detail', compliance_private.audit_problem_detail(v_problem.personal_problem));
  end loop;

  -- every redacted part must be one a sealed erasure lists, and every part it lists redacted
  for v_problem in
    select k.id::bigint as id,
           case when f.parts = '1' then case when e.parts is null then 'unaccounted_redaction' end
                when compliance_private.audit_parts_missing(e.parts, f.parts)
                  then case when compliance_private.audit_parts_missing(coalesce(e.parts, '') || coalesce(v_pending ->> k.id, ''), f.parts)
                            then 'unaccounted_redaction' else 'pending_redaction' end
                when compliance_private.audit_parts_missing(f.parts, e.parts) then 'unredacted_row'
           end as kind
      from (select jsonb_object_keys(v_redacted) as id union select jsonb_object_keys(v_expected)) k
      cross join lateral (select v_redacted ->> k.id as parts) f
      cross join lateral (select v_expected ->> k.id as parts) e
     where (f.parts is not null
            or exists (select from compliance.audit_logs a where a.placement = verify_audit_log.placement and a.id = k.id::bigint))
       -- incremental: only the rows the checked seals and the unsealed tail hold
       and k.id::bigint >= v_range_from
     order by 1
  loop
    continue when v_problem.kind is null;
    if v_problem.kind = 'pending_redaction' then
      notes := notes || jsonb_build_object('kind', 'pending_redaction', 'seal_no', null, 'row_id', v_problem.id,
        'detail', 'redacted by an erasure whose record is not sealed yet; it counts once the worker seals it');
      continue;
    end if;
    problems := problems || jsonb_build_object('kind', v_problem.kind, 'seal_no', null, 'row_id', v_problem.id,
      'detail', compliance_private.audit_problem_detail(v_problem.kind));
  end loop;

  ok := jsonb_array_length(problems) = 0;
  last_seal_no := v_expected_no - 1;
  last_seal_hash := v_previous_hash;
end;
$function$;

comment on function compliance.verify_audit_log(from_seal bigint, from_hash bytea, placement text, OUT ok boolean, OUT seals_checked bigint, OUT rows_checked bigint, OUT unsealed_rows bigint, OUT problems jsonb, OUT incremental boolean, OUT last_seal_no bigint, OUT last_seal_hash bytea, OUT notes jsonb) is
  'Recomputes the whole seal chain of one chain (placement: '''' on a single node, a shard''s placement key on a Citus cluster; compliance.audit_chains() lists them), every row hash and every personal digest, from the chain''s own records only; or, given a checkpoint (from_seal and the from_hash it had when verified), only the seals after it and the rows they and the unsealed tail hold, so the cost follows the rows added since (redactions of older rows, the claims of older accounting records and layout-1 rows are then left to a full run). Returns ok, how many seals and rows it checked, how many rows are not sealed yet (their personal parts are checked, their presence is not proven), and problems: a JSON array of {kind, seal_no, row_id, detail}. kind: deleted_row, forged_row, altered_row, reordered_row, digest_mismatch, redacted_not_empty, unaccounted_redaction, unredacted_row, altered_seal, broken_chain, missing_seal, unaccounted_gap, contradicted_claim (a sealed drop or erasure record claims what the database shows is not so; it also names record_id); whether it ran incrementally; the last seal it verified with its hash, the next checkpoint; and notes, which do not fail it: pending_redaction (an erasure not sealed yet redacted the row) and unsealed_id_range (ids the sealer skipped before migration 000041, listed by the record that migration wrote; a row found there is forged_row). db/AUDIT_HASHING.md says what it proves and what it cannot see.';

-- the daily check fails on an erasure that has waited an hour for its second transaction
-- included from fixtures/checks/check_overdue_requests.sql
-- compliance_private.check_overdue_requests(context jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.check_overdue_requests(context jsonb)
 RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_overdue bigint;
  v_unfinished bigint;
begin
  select count(*) into v_overdue from compliance.dsr_open_requests r where r.overdue;
  -- an erasure on a Citus cluster is whole only once its second transaction has run (the worker
  -- runs it every minute): one waiting an hour means the worker is not doing it
  select count(*) into v_unfinished from compliance_private.erasures_finishing_elsewhere e
   where e.queued_at < now() - interval '1 hour';
  status := case when v_overdue = 0 and v_unfinished = 0 then 'pass' else 'fail' end;
  measured := jsonb_build_object('overdue_requests', v_overdue, 'erasures_unfinished_elsewhere', v_unfinished);
  threshold := jsonb_build_object('max_overdue', 0, 'max_erasures_unfinished_after_an_hour', 0);
  detail := case when v_unfinished = 0 then format('%s data subject request(s) past their deadline', v_overdue)
                 else format('%s data subject request(s) past their deadline; %s erasure(s) not finished on the other nodes after an hour (compliance.erasures_finishing_elsewhere)',
                             v_overdue, v_unfinished) end;
  evidence := 'select count(*) from compliance.dsr_open_requests where overdue; select count(*) from compliance.erasures_finishing_elsewhere() where erased_at < now() - interval ''1 hour''';
  return next;
end;
$function$;

comment on function compliance_private.check_overdue_requests(context jsonb) is
  'Compliance check: no data subject request is past its deadline (GDPR Art. 12(3)), and no erasure on a Citus cluster has waited more than an hour for its second transaction, which clears the person on the other nodes (Art. 17(1), without undue delay).';

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
    -- and what an erasure leaves behind, and its mark, so that it writes on the subject's node alone
    'compliance_private.erased_subjects', 'compliance.erased_consent_proofs', 'compliance_private.bulk_operations',
    -- and the personal parts of archived audit rows, beside the audit rows they came from
    'compliance.audit_archived_parts',
    -- and the erasures whose second transaction has not run, beside their subject
    'compliance_private.erasures_finishing_elsewhere'];
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
  -- the first call places the tables; every later one only what a migration added
  v_first constant boolean := not compliance_private.is_distributed();
begin
  if not exists (select from pg_catalog.pg_extension e where e.extname = 'citus') then
    perform compliance_private.raise_error('CITUS', 'the citus extension is not installed in this database',
      'Load citus (shared_preload_libraries), run create extension citus and add the workers first (docs/CITUS.md).');
  end if;
  -- foreign keys and distribution in one transaction: Citus must not run shard commands in parallel
  set local citus.multi_shard_modify_mode = 'sequential';
  -- the audit and refusal triggers run on the shards, on the node that holds the subject
  set local citus.enable_unsafe_triggers = on;
  if v_first then

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

  end if;

  -- what follows again after every migration (setup calls this each time): a migration may
  -- have added a table. Everything but the subjects' tables and those by placement is small, read
  -- where the subject's rows are (tombstones, purposes, policies, settings, the root chain): a
  -- reference table, copied to every node, placed first, since the triggers on the shards that a
  -- database in use fills read them there. A table that refers to one not placed yet waits for
  -- the next round.
  while v_progress loop
    v_progress := false;
    v_left := null;
    for v_table in select c.oid::regclass::text from pg_catalog.pg_class c
                    where c.relnamespace in ('compliance'::regnamespace, 'compliance_private'::regnamespace)
                      and c.relkind in ('r', 'p') and not c.relispartition
                      and c.oid::regclass::text <> all (v_by_subject || v_by_placement)
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

  if v_first then
    -- a database in use has rows, and placing a table copies them into its shards, whose triggers
    -- call pgcomply's helpers by name on the workers: first every routine that needs no table
    -- placed below (the rest follow at the end)
    for v_definition in select p.oid::regprocedure::text from pg_catalog.pg_proc p
                         where p.pronamespace in ('compliance'::regnamespace, 'compliance_private'::regnamespace)
                           and not exists (select from pg_catalog.pg_depend d
                                            where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e') loop
      begin
        execute format('select pg_catalog.create_distributed_function(%L::regprocedure)', v_definition);
      exception when others then
        -- it needs a table (or a view of one) placed below: it follows at the end
        null;
      end;
    end loop;

    -- and the rows a table holds are copied into its shards with its triggers off: they were
    -- checked and audited when they were written, and the triggers' tables are not placed yet
    foreach v_table in array v_by_subject || v_by_placement loop
      execute format('alter table %s disable trigger user', v_table);
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

    -- rows written before the cluster all hold the placement ''. The records that outlive a
    -- subject's rows move to the subject's placement, where erasure and export look for them. A
    -- tombstone, whose subject is known only by its digest, goes into every placement, where the
    -- triggers that refuse an erased id look (as replay_erasures does). The audit log and its
    -- archived parts stay where they are, chained in the chain '': erasure looks for a subject's
    -- audit rows in every placement. Triggers are off for this: no row's content changes.
    perform pg_catalog.set_config('session_replication_role', 'replica', true);
    update compliance.dsr_requests r set placement = compliance_private.placement_of(r.user_id)
     where r.user_id is not null and r.placement is distinct from compliance_private.placement_of(r.user_id);
    update compliance.access_grants g set placement = compliance_private.placement_of(g.user_id)
     where g.user_id is not null and g.placement is distinct from compliance_private.placement_of(g.user_id);
    update compliance.propagation_tasks t set placement = compliance_private.placement_of(t.user_id)
     where t.user_id is not null and t.placement is distinct from compliance_private.placement_of(t.user_id);
    insert into compliance_private.erased_subjects (placement, subject_digest, erased_at)
    select p.placement, e.subject_digest, e.erased_at
      from compliance_private.erased_subjects e cross join compliance_private.shard_placements p
     where e.placement = '' and p.placement <> ''
    on conflict do nothing;
    perform pg_catalog.set_config('session_replication_role', 'origin', true);
  end if;

  -- the tables distributed by placement: on the first call all of them; on a later one, a table a
  -- migration made anew to sit in the subjects' placements (the bulk-operation marks, which live
  -- only inside a transaction; the erasures waiting for their second transaction, which a cluster
  -- makes only once distributed: no rows move), whose key already holds the placement. One placed
  -- before as a reference table goes back to a local table first; one Citus took in as a local
  -- table of its own (a key to a reference table does that) is distributed as it is.
  for v_table in select t.name from unnest(v_by_placement) with ordinality t(name, n)
                  where not exists (select from pg_catalog.pg_dist_partition d
                                     where d.logicalrelid = t.name::regclass and d.partmethod = 'h')
                  order by t.n loop
    if exists (select from pg_catalog.pg_dist_partition d where d.logicalrelid = v_table::regclass and d.repmodel = 't') then
      execute format('select pg_catalog.undistribute_table(%L)', v_table);
    end if;
    execute format('select pg_catalog.create_distributed_table(%L, %L, colocate_with => %L)', v_table, 'placement', 'compliance.user_profiles');
  end loop;

  if v_first then
    -- from now on each shard's rows are numbered on the node that holds it, where its chain is
    -- sealed (after the copy above: the rows already sealed keep their numbers), from a sequence of
    -- that node's past every id there is so far
    select coalesce(max(a.id), 0) into v_above from compliance.audit_logs a;
    perform compliance_private.ensure_chain_sequences(v_above);
    create trigger _001_number_on_node before insert on compliance.audit_logs
      for each row execute function compliance_private.tg_audit_logs__number_on_node();
    foreach v_table in array v_by_subject || v_by_placement loop
      execute format('alter table %s enable trigger user', v_table);
    end loop;

  end if;

  -- the foreign keys taken off above come back, now that every table is placed
  for v_key in select * from jsonb_to_recordset(v_foreign_keys) as k(relation text, name text, definition text, referenced text) loop
    v_definition := v_key.definition;
    -- between two tables distributed by the subject, the key goes through the subject (a key that
    -- names it already, like a message's in its own conversation, stands as it is)
    if v_key.relation = any (v_by_subject) and v_key.referenced = any (v_by_subject) and v_definition !~ '^FOREIGN KEY \([^)]*\muser_id\M' then
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

revoke all on function compliance.finish_erasure_elsewhere(text, bigint) from public;
revoke all on function compliance.erasures_finishing_elsewhere() from public;
grant execute on function compliance.finish_erasure_elsewhere(text, bigint) to compliance_worker, compliance_dpo;
grant execute on function compliance.erasures_finishing_elsewhere() to compliance_worker, compliance_dpo;

-- included from fixtures/checks/record_expected_grants.sql
-- compliance_private.record_expected_grants(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.record_expected_grants()
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_count integer;
  v_rows text;
  v_changes jsonb;
begin
  -- what this migration changed, into the audit chain: the grant-change population reads it
  with now_granted as (select distinct g.object_name, g.grantee, g.privilege from compliance_private.current_grants() g),
  changes as (
    select 'added' as change, n.* from now_granted n
     where not exists (select from compliance_private.expected_grants e where (e.object_name, e.grantee, e.privilege) = (n.object_name, n.grantee, n.privilege))
    union all
    select 'removed', e.* from compliance_private.expected_grants e
     where not exists (select from now_granted n where (e.object_name, e.grantee, e.privilege) = (n.object_name, n.grantee, n.privilege)))
  select jsonb_agg(jsonb_build_object('change', c.change, 'object', c.object_name, 'grantee', c.grantee, 'privilege', c.privilege)
                   order by c.object_name, c.grantee, c.privilege, c.change)
    into v_changes from changes c;
  delete from compliance_private.expected_grants;
  -- one statement of rows, not INSERT … SELECT: on a Citus cluster that is a COPY into the
  -- reference table, which row-level security refuses
  select count(*), string_agg(format('(%L, %L, %L)', g.object_name, g.grantee, g.privilege), ', ')
    into v_count, v_rows
    from (select distinct c.object_name, c.grantee, c.privilege from compliance_private.current_grants() c) g;
  if v_count > 0 then
    execute 'insert into compliance_private.expected_grants (object_name, grantee, privilege) values ' || v_rows;
  end if;
  if v_changes is not null then
    perform compliance_private.append_audit('security.grants_recorded', 'security', 'grants', null,
      jsonb_build_object('expected_grants', v_count, 'changes', v_changes));
  end if;
  return v_count;
end;
$function$;

comment on function compliance_private.record_expected_grants() is
  'Records the grants as they are now as the expected set, and each grant added or removed since the last time in one security.grants_recorded audit row (the role_memberships evidence population lists them). The last statement of every migration that changes a grant (db/CONVENTIONS.md); never called at run time.';

select compliance_private.record_expected_grants();
