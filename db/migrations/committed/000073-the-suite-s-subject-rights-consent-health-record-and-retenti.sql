--! Previous: sha1:364356cfb0b94f637af8eef6003787ab1e7554a2
--! Hash: sha1:b2151166374ba67048c2311083c8dbcf9a3d1b42
--! Message: the suite's subject-rights, consent, health-record and retention paths plan on Citus: has_consent, active_access_grant, close_session, list_conversations and retention_now are PL/pgSQL; add_message, is_erased, phi_check and retention's subject locks name the subject's shard; refusal records are deduplicated with a one-column sub-select

-- included from fixtures/subject-rights/add_message.sql
-- compliance.add_message(conversation_id uuid, role text, content text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.add_message(conversation_id uuid, role text, content text)
 RETURNS compliance.messages
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_conversation compliance.conversations;
  v_row compliance.messages;
  v_subject text;
begin
  -- the subject first: Citus locks a row only where the distribution column names its shard
  select c.user_id into v_subject from compliance.conversations c where c.conversation_id = add_message.conversation_id;
  select * into v_conversation from compliance.conversations c
   where c.user_id = v_subject and c.conversation_id = add_message.conversation_id for no key update;
  if not found then
    perform compliance_private.raise_error('NOCNV', format('no conversation %s', conversation_id),
      'The conversation does not exist or belongs to someone else.');
  end if;
  insert into compliance.messages (conversation_id, user_id, role, content)
    values (add_message.conversation_id, v_conversation.user_id, add_message.role, add_message.content)
  returning * into v_row;
  update compliance.conversations c set last_message_at = v_row.created_at
   where c.user_id = v_subject and c.conversation_id = add_message.conversation_id;
  return v_row;
end;
$function$;

comment on function compliance.add_message(conversation_id uuid, role text, content text) is
  'Adds a message to a conversation and moves its last_message_at (retention counts from it). Errors: NOCNV.';

-- included from fixtures/subject-rights/close_session.sql
-- compliance.close_session(user_id text, session_id uuid): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.close_session(user_id text, session_id uuid)
 RETURNS boolean
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  -- PL/pgSQL: Citus cannot plan an SQL function's parameter as the subject's shard
  update compliance.sessions s set ended_at = greatest(now(), s.created_at)
   where s.id = close_session.session_id and s.user_id = close_session.user_id and s.ended_at is null;
  -- NULL, not false, when nothing was open: as the SQL function that returned no row
  return case when found then true end;
end;
$function$;

comment on function compliance.close_session(user_id text, session_id uuid) is
  'Closes a session (logout). Returns NULL when there was no open session.';

-- included from fixtures/subject-rights/list_conversations.sql
-- compliance.list_conversations(user_id text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.list_conversations(user_id text)
 RETURNS TABLE(conversation_id uuid, title text, created_at timestamp with time zone, last_message_at timestamp with time zone, archived boolean, message_count bigint)
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  -- PL/pgSQL: Citus cannot plan an SQL function's parameter as the subject's shard
  return query
  select c.conversation_id, c.title, c.created_at, c.last_message_at, c.archived,
         (select count(*) from compliance.messages m
           where m.conversation_id = c.conversation_id and m.user_id = c.user_id)
    from compliance.conversations c
   where c.user_id = list_conversations.user_id
   order by c.last_message_at desc;
end;
$function$;

comment on function compliance.list_conversations(user_id text) is
  'A subject''s conversations, most recent first, with message counts.';

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
  -- a variable, not a call in the query: Citus prunes to one shard by a value it knows when it plans
  v_placement text := compliance_private.placement_of(is_erased.user_id);
begin
  -- in the subject's shard alone on a Citus cluster, where the triggers that ask run (PL/pgSQL:
  -- Citus cannot route an SQL function's parameter)
  return exists (select 1 from compliance_private.erased_subjects e
                  where e.placement = v_placement and e.subject_digest = v_digest);
end;
$function$;

comment on function compliance_private.is_erased(user_id text) is
  'Whether a tombstone exists for this user id (on a Citus cluster, in the subject''s shard, where erasure writes it and replay_erasures writes one in every shard).';

-- included from fixtures/consent/has_consent.sql
-- compliance.has_consent(user_id text, purpose text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.has_consent(user_id text, purpose text)
 RETURNS boolean
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_granted boolean;
begin
  -- PL/pgSQL: Citus cannot plan an SQL function's parameter as the subject's shard
  select c.granted into v_granted from compliance.consent_records c
   where c.user_id = has_consent.user_id and c.purpose = has_consent.purpose
   order by c.recorded_at desc, c.id desc
   limit 1;
  return coalesce(v_granted, false);
end;
$function$;

comment on function compliance.has_consent(user_id text, purpose text) is
  'Whether the subject''s consent for the purpose is in force: false when never given or withdrawn. One index probe (consent_records_current_idx), cheap enough for every request.';

-- included from fixtures/workforce/active_access_grant.sql
-- compliance_private.active_access_grant(patient text, intent text, purpose text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.active_access_grant(patient text, intent text, purpose text)
 RETURNS compliance.access_grants
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_grant compliance.access_grants;
begin
  -- PL/pgSQL: Citus cannot plan an SQL function's parameter as the subject's shard.
  -- The database clock at this moment, not the transaction's start: a grant that expires
  -- while a long transaction runs stops there
  select g.* into v_grant from compliance.access_grants g
   where g.grantee = compliance.current_actor()
     and g.user_id = active_access_grant.patient
     and g.scope = case when active_access_grant.intent in ('read', 'search') then 'phi.read' else 'phi.write' end
     and g.purpose = active_access_grant.purpose
     and (g.kind = 'emergency' or g.approved_at is not null)
     and g.denied_at is null
     and g.starts_at <= clock_timestamp() and clock_timestamp() < g.expires_at
     and (g.revoked_at is null or g.revoked_at > clock_timestamp())
   order by g.kind = 'emergency', g.id desc
   limit 1;
  if not found then
    return null;
  end if;
  return v_grant;
end;
$function$;

comment on function compliance_private.active_access_grant(patient text, intent text, purpose text) is
  'The grant under which the acting workforce member may do intent on the patient''s records for purpose right now (started, not expired, not revoked, approved or emergency, scope and purpose matching), an assignment before an emergency; NULL when there is none.';

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
    -- asked for the DPO alone: Citus cannot plan a shard row's xmin, so patients and staff never
    -- reach this on a cluster (docs/CITUS.md)
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

-- included from fixtures/retention/retention_now.sql
-- compliance_private.retention_now(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.retention_now()
 RETURNS timestamp with time zone
 LANGUAGE plpgsql
 STABLE PARALLEL SAFE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_frozen timestamptz;
begin
  -- PL/pgSQL: Citus fails to plan an SQL-standard body that reads a reference table
  select o.frozen_at into v_frozen from compliance_private.clock_override o;
  return coalesce(v_frozen, now());
end;
$function$;

comment on function compliance_private.retention_now() is
  'The instant retention counts from: now(), or the owner''s frozen clock (compliance_private.clock_override) in tests.';

-- included from fixtures/retention/apply_retention.sql
-- compliance.apply_retention(category text, batch_size integer, dry_run boolean): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.apply_retention(category text, batch_size integer DEFAULT 1000, dry_run boolean DEFAULT false)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_subject text;
  v_policy compliance.retention_policies;
  v_cutoff timestamptz;
  v_ids text[];
  v_deleted bigint := 0;
  v_messages bigint := 0;
  v_proofs bigint := 0;
  v_result jsonb;
  v_table compliance.personal_tables;
  v_sql record;
begin
  if batch_size not between 1 and 100000 then
    perform compliance_private.raise_error('BADRG', 'batch_size must be between 1 and 100000');
  end if;
  v_cutoff := compliance_private.retention_cutoff(category, compliance_private.retention_now());
  select * into strict v_policy from compliance.retention_policies p where p.category = apply_retention.category;

  if not v_policy.enabled or v_policy.action = 'until_erasure' then
    v_result := jsonb_build_object('category', category, 'dry_run', dry_run, 'skipped',
      case when v_policy.enabled then 'kept until erasure' else 'policy disabled' end, 'deleted', 0);
  elsif v_policy.action = 'drop_partition' then
    v_result := jsonb_build_object('category', category, 'dry_run', dry_run, 'cutoff', v_cutoff,
      'partitions', compliance_private.drop_expired_audit_partitions(v_cutoff,
        compliance_private.retention_now() - v_policy.archive_after, dry_run));
    v_result := v_result || jsonb_build_object('deleted', (select coalesce(sum((p ->> 'rows')::bigint), 0)
                                                          from jsonb_array_elements(v_result -> 'partitions') p));
  else
    if dry_run then
      select count(*) into v_deleted from compliance_private.retention_due_ids(category, v_cutoff, 2147483647);
    else
      perform compliance_private.begin_bulk_operation('retention');
      select array_agg(d.id) into v_ids from compliance_private.retention_due_ids(category, v_cutoff, batch_size) d;
      v_ids := coalesce(v_ids, '{}');
      -- A hold being placed on one of these subjects holds its profile FOR NO KEY UPDATE
      -- (tg_legal_holds__lock_subject): wait for it, and keep new holds out until this batch
      -- commits. Each DELETE then checks holds again, in its own snapshot, after the wait.
      if compliance_private.is_distributed() then
        -- Citus locks rows of one shard per statement: one subject at a time, in the same order
        for v_subject in select distinct s.user_id from compliance_private.retention_row_subjects(category, v_ids) s order by 1 loop
          perform from compliance.user_profiles p where p.user_id = v_subject for share;
        end loop;
      else
        perform from compliance.user_profiles p
         where p.user_id in (select s.user_id from compliance_private.retention_row_subjects(category, v_ids) s)
         order by p.user_id
           for share;
      end if;
      -- each DELETE checks again that its row is still due: a writer that was holding the row
      -- (a new message moves last_message_at) commits first, and the row then stays
      case category
        when 'conversations' then
          with gone as (
            delete from compliance.conversations c where c.conversation_id = any (v_ids::uuid[])
               and c.last_message_at < v_cutoff
               and not exists (select from compliance.legal_holds h where h.user_id = c.user_id and h.released_at is null)
            returning c.conversation_id
          )
          -- the messages go with their conversation (ON DELETE CASCADE, at the statement's end);
          -- this count reads them from the statement's snapshot
          select (select count(*) from gone),
                 (select count(*) from compliance.messages m where m.conversation_id in (select g.conversation_id from gone g))
            into v_deleted, v_messages;
        when 'sessions' then
          delete from compliance.sessions s where s.id = any (v_ids::uuid[])
             and s.last_activity_at < v_cutoff
             and not exists (select from compliance.legal_holds h where h.user_id = s.user_id and h.released_at is null);
          get diagnostics v_deleted = row_count;
        when 'consent_records' then
          delete from compliance.consent_records c where c.id = any (v_ids::bigint[])
             and c.recorded_at < v_cutoff
             and not exists (select from compliance.legal_holds h where h.user_id = c.user_id and h.released_at is null);
          get diagnostics v_deleted = row_count;
        when 'dsr_requests' then
          delete from compliance.dsr_requests r where r.id = any (v_ids::bigint[])
             and r.received_at < v_cutoff and r.completed_at is not null
             and not exists (select from compliance.legal_holds h where h.user_id = r.user_id and h.released_at is null);
          get diagnostics v_deleted = row_count;
        else
          -- one of your registered tables (retention_due_ids refused any other category)
          select * into strict v_table from compliance.personal_tables t where t.relation::text = category;
          v_sql := compliance.personal_table_sql(v_table.relation);
          execute format('delete from %s r where %s and r.%I < $2 and not exists (select from compliance.legal_holds h where h.user_id = %s and h.released_at is null)',
            category, v_sql.key_in_ids, v_table.retention_from, v_sql.subject_of_row) using v_ids, v_cutoff;
          get diagnostics v_deleted = row_count;
      end case;
      perform compliance_private.end_bulk_operation();
    end if;
    v_result := jsonb_build_object('category', category, 'dry_run', dry_run, 'cutoff', v_cutoff,
      'deleted', v_deleted, 'batch_size', batch_size);
    if category = 'conversations' and not dry_run then
      v_result := v_result || jsonb_build_object('messages_deleted', v_messages);
    end if;
    if category = 'consent_records' and not dry_run then
      -- the proofs erasure kept expire with the consent records they stand for
      delete from compliance.erased_consent_proofs p where p.recorded_at < v_cutoff;
      get diagnostics v_proofs = row_count;
      v_result := v_result || jsonb_build_object('erased_consent_proofs_deleted', v_proofs);
    end if;
  end if;

  perform compliance_private.append_audit('retention.applied', 'system', 'retention_policy', category, v_result);
  return v_result;
end;
$function$;

comment on function compliance.apply_retention(category text, batch_size integer, dry_run boolean) is
  'Applies one category''s retention policy as of compliance_private.retention_now() (the database clock; only the owner can move it, for tests): deletes at most batch_size due rows, each checked again as it is deleted (conversations take their messages; consent records take the expired proofs erasure kept, erased_consent_proofs), or drops the expired audit partitions (and the archived ones past archive_after) and removes the seals of their rows; your registered tables are categories by name (schema.table), their rows deleted by their retention_from column; subjects under legal hold are skipped, and an audit month holding a held subject''s rows is kept. dry_run deletes nothing and reports how many rows are due in total. Each call writes one retention.applied audit row with the counts. Returns {category, dry_run, cutoff, deleted, ...}; call again while deleted = batch_size. Errors: RETCT unknown category, BADRG.';
