--
-- PostgreSQL database dump
--

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: compliance; Type: SCHEMA; Schema: -; Owner: compliance_owner
--

CREATE SCHEMA compliance;

ALTER SCHEMA compliance OWNER TO compliance_owner;

--
-- Name: SCHEMA compliance; Type: COMMENT; Schema: -; Owner: compliance_owner
--

COMMENT ON SCHEMA compliance IS 'pgcomply public surface: personal-data tables a role may read and the functions a client may call. See db/README.md.';

--
-- Name: compliance_private; Type: SCHEMA; Schema: -; Owner: compliance_owner
--

CREATE SCHEMA compliance_private;

ALTER SCHEMA compliance_private OWNER TO compliance_owner;

--
-- Name: SCHEMA compliance_private; Type: COMMENT; Schema: -; Owner: compliance_owner
--

COMMENT ON SCHEMA compliance_private IS 'pgcomply internals (helpers, sealing state, secrets). No client role can read or write a table in it; the app and DPO roles may call the few helper functions granted to them.';

--
-- Name: graphile_migrate; Type: SCHEMA; Schema: -; Owner: compliance_owner
--

CREATE SCHEMA graphile_migrate;

ALTER SCHEMA graphile_migrate OWNER TO compliance_owner;

--
-- Name: graphile_worker; Type: SCHEMA; Schema: -; Owner: pgcomply_worker
--

CREATE SCHEMA graphile_worker;

ALTER SCHEMA graphile_worker OWNER TO pgcomply_worker;

--
-- Name: hstore; Type: EXTENSION; Schema: -; Owner: -
--

CREATE EXTENSION IF NOT EXISTS hstore WITH SCHEMA compliance_private;

--
-- Name: EXTENSION hstore; Type: COMMENT; Schema: -; Owner: 
--

COMMENT ON EXTENSION hstore IS 'Key/value records; pgcomply uses its C operators to find an update''s changed fields in the audit row trigger (compliance_private.tg__audit_row_change).';

--
-- Name: exported_message; Type: TYPE; Schema: compliance_private; Owner: compliance_owner
--

CREATE TYPE compliance_private.exported_message AS (
	id bigint,
	role text,
	content text,
	created_at timestamp with time zone
);

ALTER TYPE compliance_private.exported_message OWNER TO compliance_owner;

--
-- Name: TYPE exported_message; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON TYPE compliance_private.exported_message IS 'The fields of a message in the export document (compliance_private.subject_document), in their order there.';

--
-- Name: job_spec; Type: TYPE; Schema: graphile_worker; Owner: pgcomply_worker
--

CREATE TYPE graphile_worker.job_spec AS (
	identifier text,
	payload json,
	queue_name text,
	run_at timestamp with time zone,
	max_attempts smallint,
	job_key text,
	priority smallint,
	flags text[]
);

ALTER TYPE graphile_worker.job_spec OWNER TO pgcomply_worker;

--
-- Name: access_review_items_of(bigint); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.access_review_items_of(campaign_id bigint) RETURNS TABLE(id bigint, kind text, login_name text, actor_id text, grant_id bigint, roles text[], granted_by text, last_used_at timestamp with time zone, decision text, note text, decided_by text, decided_at timestamp with time zone, dba_action text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  select i.id, i.kind, i.login_name, i.actor_id, i.grant_id, i.roles, i.granted_by, i.last_used_at,
         i.decision, i.note, i.decided_by, i.decided_at,
         -- a role membership revoked in review is a DBA's statement to run
         case when i.kind = 'database_login' and i.decision = 'revoke'
              then (select string_agg(format('REVOKE %I FROM %I;', r, i.login_name), ' ' order by r) from unnest(i.roles) r) end
    from compliance.access_review_items i
   where i.campaign_id = access_review_items_of.campaign_id
   order by i.kind, i.id;
$$;

ALTER FUNCTION compliance.access_review_items_of(campaign_id bigint) OWNER TO compliance_owner;

--
-- Name: FUNCTION access_review_items_of(campaign_id bigint); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.access_review_items_of(campaign_id bigint) IS 'The DPO''s worklist for one access review campaign: every item with its roles, who granted it where known, its decision and note, and for a database login to revoke, the REVOKE statements a DBA runs (pgcomply does not change role memberships itself).';

SET default_table_access_method = heap;

--
-- Name: messages; Type: TABLE; Schema: compliance; Owner: compliance_owner
--

CREATE TABLE compliance.messages (
    id bigint NOT NULL,
    conversation_id uuid NOT NULL,
    user_id text NOT NULL,
    role text NOT NULL,
    content text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT messages_content_length CHECK ((length(content) <= 100000)),
    CONSTRAINT messages_role_known CHECK ((role = ANY (ARRAY['user'::text, 'assistant'::text, 'system'::text, 'tool'::text])))
);

ALTER TABLE ONLY compliance.messages FORCE ROW LEVEL SECURITY;

ALTER TABLE compliance.messages OWNER TO compliance_owner;

--
-- Name: TABLE messages; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON TABLE compliance.messages IS 'One row per message of a conversation. Personal data; goes with its conversation.';

--
-- Name: COLUMN messages.id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.messages.id IS 'Message identifier; orders messages.';

--
-- Name: COLUMN messages.conversation_id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.messages.conversation_id IS 'The conversation (with user_id, a composite foreign key, so a message always belongs to its conversation''s subject).';

--
-- Name: COLUMN messages.user_id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.messages.user_id IS 'Personal: the subject who owns the conversation (kept on the row so row-level security needs no join).';

--
-- Name: COLUMN messages.role; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.messages.role IS 'Who wrote it: user, assistant, system or tool.';

--
-- Name: COLUMN messages.content; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.messages.content IS 'Personal: the message text.';

--
-- Name: COLUMN messages.created_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.messages.created_at IS 'When the message was added.';

--
-- Name: add_message(uuid, text, text); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.add_message(conversation_id uuid, role text, content text) RETURNS compliance.messages
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_conversation compliance.conversations;
  v_row compliance.messages;
begin
  select * into v_conversation from compliance.conversations c
   where c.conversation_id = add_message.conversation_id for no key update;
  if not found then
    perform compliance_private.raise_error('NOCNV', format('no conversation %s', conversation_id),
      'The conversation does not exist or belongs to someone else.');
  end if;
  insert into compliance.messages (conversation_id, user_id, role, content)
    values (add_message.conversation_id, v_conversation.user_id, add_message.role, add_message.content)
  returning * into v_row;
  update compliance.conversations c set last_message_at = v_row.created_at
   where c.conversation_id = add_message.conversation_id;
  return v_row;
end;
$$;

ALTER FUNCTION compliance.add_message(conversation_id uuid, role text, content text) OWNER TO compliance_owner;

--
-- Name: FUNCTION add_message(conversation_id uuid, role text, content text); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.add_message(conversation_id uuid, role text, content text) IS 'Adds a message to a conversation and moves its last_message_at (retention counts from it). Errors: NOCNV.';

--
-- Name: alert_counts(); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.alert_counts() RETURNS TABLE(topic text, state text, alerts bigint)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  select a.topic, a.state, count(*) from compliance.alert_outbox a group by a.topic, a.state order by a.topic, a.state;
$$;

ALTER FUNCTION compliance.alert_counts() OWNER TO compliance_owner;

--
-- Name: FUNCTION alert_counts(); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.alert_counts() IS 'How many alerts the outbox holds by topic and delivery state (pending, delivered, failed), and nothing about whom they name: what /metrics exports as pgcomply_alerts_total (delivered, failed) and pgcomply_alerts_pending.';

--
-- Name: apply_retention(text, integer, boolean); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.apply_retention(category text, batch_size integer DEFAULT 1000, dry_run boolean DEFAULT false) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
declare
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
      'partitions', compliance_private.drop_expired_audit_partitions(v_cutoff, dry_run));
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
      perform from compliance.user_profiles p
       where p.user_id in (select s.user_id from compliance_private.retention_row_subjects(category, v_ids) s)
       order by p.user_id
         for share;
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
$_$;

ALTER FUNCTION compliance.apply_retention(category text, batch_size integer, dry_run boolean) OWNER TO compliance_owner;

--
-- Name: FUNCTION apply_retention(category text, batch_size integer, dry_run boolean); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.apply_retention(category text, batch_size integer, dry_run boolean) IS 'Applies one category''s retention policy as of compliance_private.retention_now() (the database clock; only the owner can move it, for tests): deletes at most batch_size due rows, each checked again as it is deleted (conversations take their messages; consent records take the expired proofs erasure kept, erased_consent_proofs), or drops the expired audit partitions and removes the seals of their rows; your registered tables are categories by name (schema.table), their rows deleted by their retention_from column; subjects under legal hold are skipped, and an audit month holding a held subject''s rows is kept. dry_run deletes nothing and reports how many rows are due in total. Each call writes one retention.applied audit row with the counts. Returns {category, dry_run, cutoff, deleted, ...}; call again while deleted = batch_size. Errors: RETCT unknown category, BADRG.';

--
-- Name: access_grants; Type: TABLE; Schema: compliance; Owner: compliance_owner
--

CREATE TABLE compliance.access_grants (
    id bigint NOT NULL,
    grantee text,
    user_id text,
    scope text NOT NULL,
    purpose text NOT NULL,
    reason text NOT NULL,
    kind text NOT NULL,
    requested_at timestamp with time zone DEFAULT now() NOT NULL,
    requested_by text,
    approved_by text,
    approved_at timestamp with time zone,
    denied_by text,
    denied_at timestamp with time zone,
    starts_at timestamp with time zone,
    expires_at timestamp with time zone,
    revoked_by text,
    revoked_at timestamp with time zone,
    review_due_at timestamp with time zone,
    reviewed_by text,
    reviewed_at timestamp with time zone,
    review_outcome text,
    review_note text,
    CONSTRAINT access_grants_emergency_at_most_four_hours CHECK (((kind <> 'emergency'::text) OR ((starts_at IS NOT NULL) AND (expires_at <= (starts_at + '04:00:00'::interval)) AND (purpose = 'emergency'::text) AND (approved_at IS NULL)))),
    CONSTRAINT access_grants_kind_known CHECK ((kind = ANY (ARRAY['assignment'::text, 'emergency'::text]))),
    CONSTRAINT access_grants_not_approved_by_grantee CHECK (((approved_by IS NULL) OR (grantee IS NULL) OR (approved_by <> grantee))),
    CONSTRAINT access_grants_not_reviewed_by_grantee CHECK (((reviewed_by IS NULL) OR (grantee IS NULL) OR (reviewed_by <> grantee))),
    CONSTRAINT access_grants_one_decision CHECK (((approved_at IS NULL) OR (denied_at IS NULL))),
    CONSTRAINT access_grants_patient_known_or_erased_emergency CHECK (((user_id IS NOT NULL) OR (kind = 'emergency'::text))),
    CONSTRAINT access_grants_period_ordered CHECK (((expires_at IS NULL) OR (expires_at > starts_at))),
    CONSTRAINT access_grants_purpose_known CHECK ((purpose = ANY (ARRAY['treatment'::text, 'payment'::text, 'operations'::text, 'emergency'::text]))),
    CONSTRAINT access_grants_reason_given CHECK ((((length(reason) >= 1) AND (length(reason) <= 2000)) AND ((kind <> 'emergency'::text) OR (length(TRIM(BOTH FROM reason)) >= 20)))),
    CONSTRAINT access_grants_review_complete CHECK (((reviewed_at IS NULL) = (review_outcome IS NULL))),
    CONSTRAINT access_grants_review_outcome_known CHECK (((review_outcome IS NULL) OR (review_outcome = ANY (ARRAY['appropriate'::text, 'inappropriate'::text])))),
    CONSTRAINT access_grants_scope_known CHECK ((scope = ANY (ARRAY['phi.read'::text, 'phi.write'::text])))
);

ALTER TABLE ONLY compliance.access_grants FORCE ROW LEVEL SECURITY;

ALTER TABLE compliance.access_grants OWNER TO compliance_owner;

--
-- Name: TABLE access_grants; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON TABLE compliance.access_grants IS 'Who in the workforce may reach which patient''s health records, for what purpose and until when. An assignment grant is requested (request_access) and active only once an approver other than the grantee approves it, for a bounded time; an emergency grant (break_glass) is active at once for at most 4 hours, alerted, and reviewed afterwards by an approver other than the grantee. The health-record functions check for an active grant at the moment of access; expiry needs no job. Rows change only through the grant functions, each audited.';

--
-- Name: COLUMN access_grants.id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_grants.id IS 'The grant; access rows under it carry its id.';

--
-- Name: COLUMN access_grants.grantee; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_grants.grantee IS 'The workforce member (actor id) the grant is for; emptied when that person is erased.';

--
-- Name: COLUMN access_grants.user_id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_grants.user_id IS 'The patient. NULL only on an emergency grant whose patient was erased before its review: the review stays due, without the patient.';

--
-- Name: COLUMN access_grants.scope; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_grants.scope IS 'phi.read (read records) or phi.write (create, update, delete them).';

--
-- Name: COLUMN access_grants.purpose; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_grants.purpose IS 'The purpose of use the grant is for (treatment, payment, operations; emergency for break-glass); an access for another purpose is refused.';

--
-- Name: COLUMN access_grants.reason; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_grants.reason IS 'Why access is needed; at least 20 characters for an emergency.';

--
-- Name: COLUMN access_grants.kind; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_grants.kind IS 'assignment (approved) or emergency (break-glass).';

--
-- Name: COLUMN access_grants.requested_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_grants.requested_at IS 'When it was requested or created.';

--
-- Name: COLUMN access_grants.requested_by; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_grants.requested_by IS 'Who asked: the grantee, or the approver who created it.';

--
-- Name: COLUMN access_grants.approved_by; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_grants.approved_by IS 'The approver who approved it (never the grantee).';

--
-- Name: COLUMN access_grants.approved_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_grants.approved_at IS 'When it was approved; an assignment grant is active only after this.';

--
-- Name: COLUMN access_grants.denied_by; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_grants.denied_by IS 'The approver who denied the request.';

--
-- Name: COLUMN access_grants.denied_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_grants.denied_at IS 'When the request was denied.';

--
-- Name: COLUMN access_grants.starts_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_grants.starts_at IS 'When access begins (on approval, or at once for an emergency).';

--
-- Name: COLUMN access_grants.expires_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_grants.expires_at IS 'When access ends, checked against the database clock at each access.';

--
-- Name: COLUMN access_grants.revoked_by; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_grants.revoked_by IS 'Who revoked it.';

--
-- Name: COLUMN access_grants.revoked_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_grants.revoked_at IS 'When it was revoked: no access from then on.';

--
-- Name: COLUMN access_grants.review_due_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_grants.review_due_at IS 'For an emergency: by when an approver must review it.';

--
-- Name: COLUMN access_grants.reviewed_by; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_grants.reviewed_by IS 'The approver who reviewed the emergency access (never the grantee).';

--
-- Name: COLUMN access_grants.reviewed_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_grants.reviewed_at IS 'When it was reviewed.';

--
-- Name: COLUMN access_grants.review_outcome; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_grants.review_outcome IS 'appropriate or inappropriate (which raises an alert).';

--
-- Name: COLUMN access_grants.review_note; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_grants.review_note IS 'The reviewer''s note.';

--
-- Name: approve_access_request(bigint, integer); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.approve_access_request(grant_id bigint, days integer DEFAULT NULL::integer) RETURNS compliance.access_grants
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_row compliance.access_grants := compliance_private.grant_for_decision(grant_id, 'pending');
begin
  update compliance.access_grants g
     set approved_by = compliance.current_actor(), approved_at = now(), starts_at = now(),
         expires_at = now() + compliance_private.grant_duration(days)
   where g.id = v_row.id
  returning g.* into v_row;
  perform compliance_private.audit_access_grant('access.approved', v_row);
  return v_row;
end;
$$;

ALTER FUNCTION compliance.approve_access_request(grant_id bigint, days integer) OWNER TO compliance_owner;

--
-- Name: FUNCTION approve_access_request(grant_id bigint, days integer); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.approve_access_request(grant_id bigint, days integer) IS 'An approver approves a pending request: access starts now and lasts days (default and maximum from access_grant_settings). Audited as access.approved. Errors: GRSLF (the request is the approver''s own), GRNOT, GRSTA (not pending), BADRG.';

--
-- Name: audit_digest(); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.audit_digest(OUT seal_no bigint, OUT seal_hash text, OUT last_row_id bigint, OUT sealed_at timestamp with time zone) RETURNS record
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  select s.seal_no, encode(s.seal_hash, 'hex'), s.last_row_id, s.sealed_at
    from compliance.audit_seals s order by s.seal_no desc limit 1;
$$;

ALTER FUNCTION compliance.audit_digest(OUT seal_no bigint, OUT seal_hash text, OUT last_row_id bigint, OUT sealed_at timestamp with time zone) OWNER TO compliance_owner;

--
-- Name: FUNCTION audit_digest(OUT seal_no bigint, OUT seal_hash text, OUT last_row_id bigint, OUT sealed_at timestamp with time zone); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.audit_digest(OUT seal_no bigint, OUT seal_hash text, OUT last_row_id bigint, OUT sealed_at timestamp with time zone) IS 'The newest seal''s number and hash (hex). Record it outside the database (a ticket, a notary, a WORM bucket): a rewrite of the whole chain then shows as a different hash for the same seal number.';

--
-- Name: audit_personal_fields(bigint[], text); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.audit_personal_fields(row_ids bigint[], reason text) RETURNS TABLE(id bigint, user_id text, actor_id text, ip_address inet, user_agent text, personal_details jsonb)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  if reason is null or length(trim(reason)) < 3 or length(reason) > 1000 then
    perform compliance_private.raise_error('BADRG', 'give the reason for reading personal audit fields (3 to 1000 characters)',
      'Name the investigation or request, for example the ticket it belongs to.');
  end if;
  if cardinality(row_ids) not between 1 and 1000 then
    perform compliance_private.raise_error('BADRG', 'name 1 to 1000 audit rows');
  end if;
  -- the read itself, with who asked and why; the rows it showed are named, their contents are not
  perform compliance_private.append_audit('audit.personal_fields_read', 'security', 'audit_log', null,
    jsonb_build_object('rows', to_jsonb(row_ids)), null, jsonb_build_object('reason', reason));
  return query
    select a.id, a.user_id, a.actor_id, a.ip_address, a.user_agent, a.personal_details
      from compliance.audit_logs a where a.id = any (row_ids) order by a.id;
end;
$$;

ALTER FUNCTION compliance.audit_personal_fields(row_ids bigint[], reason text) OWNER TO compliance_owner;

--
-- Name: FUNCTION audit_personal_fields(row_ids bigint[], reason text); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.audit_personal_fields(row_ids bigint[], reason text) IS 'Auditor or DPO: the personal columns of up to 1000 audit rows, for a stated reason; the read is audited (audit.personal_fields_read, with the row ids, the reason in its personal part). The auditor cannot select these columns otherwise.';

--
-- Name: breach_deadlines(timestamp with time zone); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.breach_deadlines(at timestamp with time zone DEFAULT now()) RETURNS TABLE(breach_id bigint, status text, discovered_at timestamp with time zone, affected_count integer, authority_due_at timestamp with time zone, authority text, authority_hours_left numeric, individuals_due_at timestamp with time zone, individuals text, individuals_hours_left numeric, hhs_and_media_required boolean, hhs text, media text, hhs_due_at timestamp with time zone)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  -- each notification: notified, overdue, due_within_24h or pending, as at the instant given
  with d as (
    select b.*, b.discovered_at + interval '72 hours' as authority_due, b.discovered_at + interval '60 days' as individuals_due,
           -- HHS: with the individuals when 500 or more are affected (§164.408(b)); otherwise in the
           -- yearly log, within 60 days after the end of the calendar year of discovery (§164.408(c))
           case when b.affected_count >= 500 then b.discovered_at + interval '60 days'
                else (date_trunc('year', b.discovered_at at time zone 'UTC') + interval '1 year' + interval '60 days') at time zone 'UTC' end as hhs_due
      from compliance.breaches b
  )
  select d.id, d.status, d.discovered_at, d.affected_count,
         d.authority_due,
         case when d.notified_authority_at is not null then 'notified' when d.notifiable is false then 'not_required' when d.authority_due <= at then 'overdue'
              when d.authority_due <= at + interval '24 hours' then 'due_within_24h' else 'pending' end,
         round(extract(epoch from d.authority_due - at) / 3600, 1),
         d.individuals_due,
         case when d.notified_individuals_at is not null then 'notified' when d.notifiable is false then 'not_required' when d.individuals_due <= at then 'overdue'
              when d.individuals_due <= at + interval '24 hours' then 'due_within_24h' else 'pending' end,
         round(extract(epoch from d.individuals_due - at) / 3600, 1),
         d.affected_count >= 500,
         case when d.notified_hhs_at is not null then 'notified' when d.notifiable is false then 'not_required' when d.hhs_due <= at then 'overdue'
              when d.hhs_due <= at + interval '24 hours' then 'due_within_24h' else 'pending' end,
         case when d.notified_media_at is not null then 'notified' when d.affected_count < 500 or d.notifiable is false then 'not_required'
              when d.individuals_due <= at then 'overdue' else 'pending' end,
         d.hhs_due
    from d
   order by least(case when d.notified_authority_at is null and d.notifiable is distinct from false then d.authority_due end,
                  case when d.notified_individuals_at is null and d.notifiable is distinct from false then d.individuals_due end) nulls last, d.id;
$$;

ALTER FUNCTION compliance.breach_deadlines(at timestamp with time zone) OWNER TO compliance_owner;

--
-- Name: FUNCTION breach_deadlines(at timestamp with time zone); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.breach_deadlines(at timestamp with time zone) IS 'Every breach with its deadlines as at the instant given (now by default): the supervisory authority 72 hours after discovery (GDPR Art. 33), individuals 60 days after (HIPAA §164.404; GDPR Art. 34 "without undue delay"), HHS and the media within the same 60 days when 500 or more are affected (HIPAA §164.406-408(b)), HHS alone in the yearly log when fewer are, within 60 days after the end of the calendar year of discovery (§164.408(c), hhs_due_at); each notified, overdue, due_within_24h or pending, with the hours left, or not_required when the DPO judged the breach not notifiable (breaches.notifiable false, with the reason: GDPR Art. 33(1), HIPAA §164.402(2)). Most urgent first.';

--
-- Name: break_glass(text, text, text); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.break_glass(patient text, reason text, scope text DEFAULT 'phi.read'::text) RETURNS compliance.access_grants
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_settings compliance.access_grant_settings;
  v_row compliance.access_grants;
begin
  perform compliance_private.require_context_subject();
  perform compliance_private.check_grant_request(patient, scope, 'emergency', reason, 'emergency');
  -- one emergency per workforce member and patient at a time: a second call waits for the
  -- first, then finds it
  perform pg_advisory_xact_lock(hashtextextended('pgcomply.break_glass:' || compliance.current_actor() || ':' || patient, 0));
  select g.* into v_row from compliance.access_grants g
   where g.grantee = compliance.current_actor() and g.user_id = break_glass.patient and g.kind = 'emergency'
     and g.scope = break_glass.scope and g.revoked_at is null and clock_timestamp() < g.expires_at
   order by g.id desc limit 1;
  if found then
    -- the hours never stack
    return v_row;
  end if;
  select * into strict v_settings from compliance.access_grant_settings;
  insert into compliance.access_grants as g (grantee, user_id, scope, purpose, reason, kind, requested_by,
    starts_at, expires_at, review_due_at)
  values (compliance.current_actor(), patient, break_glass.scope, 'emergency', break_glass.reason, 'emergency',
    compliance.current_actor(), now(), now() + make_interval(secs => v_settings.emergency_hours * 3600),
    now() + make_interval(hours => v_settings.emergency_review_hours))
  returning g.* into v_row;
  perform compliance_private.audit_access_grant('access.emergency', v_row);
  perform compliance_private.raise_alert('phi.emergency_access',
    jsonb_build_object('grant_id', v_row.id, 'scope', v_row.scope, 'starts_at', v_row.starts_at,
                       'expires_at', v_row.expires_at, 'review_due_at', v_row.review_due_at),
    v_row.user_id, v_row.grantee);
  return v_row;
end;
$$;

ALTER FUNCTION compliance.break_glass(patient text, reason text, scope text) OWNER TO compliance_owner;

--
-- Name: FUNCTION break_glass(patient text, reason text, scope text); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.break_glass(patient text, reason text, scope text) IS 'Emergency access (HIPAA §164.312(a)(2)(ii) break-the-glass): the acting workforce member gets the patient''s records at once, for purpose emergency, for the configured hours (at most 4). An alert goes out (alert_outbox, in this transaction) and an approver other than them must review it (review_emergency_access) by review_due_at. Called again while one is active, it returns that grant: the hours never stack. Audited as access.emergency. Errors: GRRSN (a reason of at least 20 characters), BADRG, UNKSJ, ERASD.';

--
-- Name: check_history(integer); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.check_history(runs integer DEFAULT 14) RETURNS TABLE(check_name text, run_id bigint, started_at timestamp with time zone, trigger text, status text, detail text, measured jsonb, threshold jsonb)
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  if runs is null or runs < 1 or runs > 400 then
    perform compliance_private.raise_error('BADRG', 'runs must be between 1 and 400');
  end if;
  return query
    select c.check_name, r.id, r.started_at, r.trigger, c.status, c.detail, c.measured, c.threshold
      from (select x.id, x.started_at, x.trigger from compliance.check_runs x order by x.id desc limit runs) r
      join compliance.check_results c on c.run_id = r.id
     order by c.check_name, r.id desc;
end;
$$;

ALTER FUNCTION compliance.check_history(runs integer) OWNER TO compliance_owner;

--
-- Name: FUNCTION check_history(runs integer); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.check_history(runs integer) IS 'DPO and auditors: every check''s result in the newest runs (1 to 400) compliance check runs, newest first per check: the compliance page''s latest status and history. Errors: BADRG.';

--
-- Name: claim_alerts(integer, integer); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.claim_alerts(lease_seconds integer DEFAULT 60, max_rows integer DEFAULT 20) RETURNS TABLE(id bigint, topic text, payload jsonb, user_id text, actor_id text, created_at timestamp with time zone, attempts integer)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  if lease_seconds is null or lease_seconds not between 1 and 3600 or max_rows is null or max_rows not between 1 and 1000 then
    perform compliance_private.raise_error('BADRG', 'lease_seconds must be 1 to 3600 and max_rows 1 to 1000');
  end if;
  -- a claim is a lease: the attempt is counted and the alert is not due again until the lease
  -- ends, so a worker that dies mid-delivery leaves it to the next one
  return query
    update compliance.alert_outbox a
       set attempts = a.attempts + 1, last_attempt_at = now(), next_attempt_at = now() + make_interval(secs => lease_seconds)
     where a.id in (select d.id from compliance.alert_outbox d
                     where d.state = 'pending' and d.next_attempt_at <= now()
                     order by d.next_attempt_at, d.id
                     limit max_rows
                       for update skip locked)
    returning a.id, a.topic, a.payload, a.user_id, a.actor_id, a.created_at, a.attempts;
end;
$$;

ALTER FUNCTION compliance.claim_alerts(lease_seconds integer, max_rows integer) OWNER TO compliance_owner;

--
-- Name: FUNCTION claim_alerts(lease_seconds integer, max_rows integer); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.claim_alerts(lease_seconds integer, max_rows integer) IS 'The worker takes up to max_rows due alerts for delivery, leasing each for lease_seconds (an alert whose worker dies is due again when the lease ends) and counting the attempt. Commit the claim before delivering. Worker role only. Errors: BADRG.';

--
-- Name: claim_request_key(text); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.claim_request_key(key text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  if key is null or length(key) not between 8 and 200 then
    perform compliance_private.raise_error('BADRG', 'an Idempotency-Key has 8 to 200 characters (a UUID will do)');
  end if;
  -- the actor's id and the key, digested: the table names no one, and one actor's key is not another's
  insert into compliance_private.request_keys (key_digest)
  values (sha256(convert_to(coalesce(compliance.current_actor(), '') || chr(31) || key, 'UTF8')))
  on conflict on constraint request_keys_pkey do nothing;
  if not found then
    perform compliance_private.raise_error('RPLAY', 'this request (its Idempotency-Key) was applied already; it is not applied again',
      'Nothing to do: the first attempt committed. Use a new key for a new request.');
  end if;
end;
$$;

ALTER FUNCTION compliance.claim_request_key(key text) OWNER TO compliance_owner;

--
-- Name: FUNCTION claim_request_key(key text); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.claim_request_key(key text) IS 'Called in an API request''s transaction when the client sent an Idempotency-Key: records the key (digested with the actor''s id) in the same transaction as the request''s writes, so a retry after an unknown outcome (a failover while committing) is refused with RPLAY when the first attempt committed, and applied when it did not. Keys are forgotten after a day (compliance.forget_request_keys). Errors: BADRG, RPLAY.';

--
-- Name: breaches; Type: TABLE; Schema: compliance; Owner: compliance_owner
--

CREATE TABLE compliance.breaches (
    id bigint NOT NULL,
    discovered_at timestamp with time zone NOT NULL,
    description text NOT NULL,
    data_categories text[] DEFAULT '{}'::text[] NOT NULL,
    affected_count integer DEFAULT 0 NOT NULL,
    risk_assessment text,
    status text DEFAULT 'open'::text NOT NULL,
    opened_at timestamp with time zone DEFAULT now() NOT NULL,
    opened_by text,
    notified_authority_at timestamp with time zone,
    notified_individuals_at timestamp with time zone,
    notified_hhs_at timestamp with time zone,
    notified_media_at timestamp with time zone,
    closed_at timestamp with time zone,
    closed_by text,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    risk_factors text[] DEFAULT '{}'::text[] NOT NULL,
    notifiable boolean,
    not_notifiable_reason text,
    CONSTRAINT breaches_affected_count_positive CHECK ((affected_count >= 0)),
    CONSTRAINT breaches_closed_when CHECK (((status = 'closed'::text) = (closed_at IS NOT NULL))),
    CONSTRAINT breaches_description_given CHECK (((length(TRIM(BOTH FROM description)) >= 1) AND (length(TRIM(BOTH FROM description)) <= 4000))),
    CONSTRAINT breaches_not_notifiable_explained CHECK (((notifiable IS DISTINCT FROM false) OR ((length(TRIM(BOTH FROM not_notifiable_reason)) >= 1) AND (length(TRIM(BOTH FROM not_notifiable_reason)) <= 4000)))),
    CONSTRAINT breaches_notified_after_discovery CHECK (((COALESCE(notified_authority_at, notified_individuals_at, notified_hhs_at, notified_media_at) IS NULL) OR (LEAST(notified_authority_at, notified_individuals_at, notified_hhs_at, notified_media_at) >= discovered_at))),
    CONSTRAINT breaches_reason_only_when_not_notifiable CHECK (((notifiable IS FALSE) OR (not_notifiable_reason IS NULL))),
    CONSTRAINT breaches_status_known CHECK ((status = ANY (ARRAY['open'::text, 'contained'::text, 'closed'::text])))
);

ALTER TABLE ONLY compliance.breaches FORCE ROW LEVEL SECURITY;

ALTER TABLE compliance.breaches OWNER TO compliance_owner;

--
-- Name: TABLE breaches; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON TABLE compliance.breaches IS 'The breach register: what happened, when it was discovered (every deadline counts from it: the supervisory authority within 72 hours, GDPR Art. 33; individuals within 60 days, HIPAA §164.404; HHS and the media as well when 500 or more are affected, §164.406-408), the risk assessment, and when each notification was made. Changes go through the breach functions, each audited; compliance.breach_deadlines says what is due.';

--
-- Name: COLUMN breaches.id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.breaches.id IS 'The breach.';

--
-- Name: COLUMN breaches.discovered_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.breaches.discovered_at IS 'When the breach was discovered: the deadlines count from here.';

--
-- Name: COLUMN breaches.description; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.breaches.description IS 'What happened (no names: the affected subjects are listed in breach_subjects).';

--
-- Name: COLUMN breaches.data_categories; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.breaches.data_categories IS 'Which kinds of data were involved (profile, health_records, …).';

--
-- Name: COLUMN breaches.affected_count; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.breaches.affected_count IS 'How many people are affected; 500 or more requires notifying HHS and the media (HIPAA).';

--
-- Name: COLUMN breaches.risk_assessment; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.breaches.risk_assessment IS 'The assessment of the risk to the people affected (GDPR Art. 33(3)(d), HIPAA §164.402).';

--
-- Name: COLUMN breaches.status; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.breaches.status IS 'open, contained or closed.';

--
-- Name: COLUMN breaches.opened_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.breaches.opened_at IS 'When it was entered in the register.';

--
-- Name: COLUMN breaches.opened_by; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.breaches.opened_by IS 'The DPO who entered it; emptied when that person is erased.';

--
-- Name: COLUMN breaches.notified_authority_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.breaches.notified_authority_at IS 'When the supervisory authority was notified.';

--
-- Name: COLUMN breaches.notified_individuals_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.breaches.notified_individuals_at IS 'When the affected individuals were notified.';

--
-- Name: COLUMN breaches.notified_hhs_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.breaches.notified_hhs_at IS 'When HHS was notified.';

--
-- Name: COLUMN breaches.notified_media_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.breaches.notified_media_at IS 'When the media were notified.';

--
-- Name: COLUMN breaches.closed_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.breaches.closed_at IS 'When it was closed.';

--
-- Name: COLUMN breaches.closed_by; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.breaches.closed_by IS 'Who closed it; emptied when that person is erased.';

--
-- Name: COLUMN breaches.updated_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.breaches.updated_at IS 'When it last changed; maintained by trigger.';

--
-- Name: COLUMN breaches.risk_factors; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.breaches.risk_factors IS 'The DPO''s assessment: what makes the breach risky or not for the people affected (the data was encrypted, the recipient is trusted, special categories were involved, …).';

--
-- Name: COLUMN breaches.notifiable; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.breaches.notifiable IS 'The DPO''s judgement: true when the authority and the individuals must be told; false when the breach is unlikely to result in a risk (GDPR Art. 33(1), HIPAA §164.402(2)), with not_notifiable_reason; null until assessed, when every deadline runs.';

--
-- Name: COLUMN breaches.not_notifiable_reason; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.breaches.not_notifiable_reason IS 'Why a breach judged not notifiable is unlikely to result in a risk: the documentation GDPR Art. 33(5) requires. Present exactly when notifiable is false.';

--
-- Name: close_breach(bigint, text); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.close_breach(breach_id bigint, note text DEFAULT NULL::text) RETURNS compliance.breaches
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_row compliance.breaches;
begin
  update compliance.breaches b
     set status = 'closed', closed_at = now(), closed_by = compliance.current_actor()
   where b.id = breach_id and b.status <> 'closed'
  returning b.* into v_row;
  if not found then
    perform compliance_private.raise_error('NOTER', format('no open breach %s', breach_id), 'See compliance.breach_deadlines().');
  end if;
  perform compliance_private.audit_breach('breach.closed', v_row, jsonb_build_object('note', note));
  return v_row;
end;
$$;

ALTER FUNCTION compliance.close_breach(breach_id bigint, note text) OWNER TO compliance_owner;

--
-- Name: FUNCTION close_breach(breach_id bigint, note text); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.close_breach(breach_id bigint, note text) IS 'The DPO closes a breach, with a note for the audit row. Notifications still missing stay visible in breach_deadlines. Audited as breach.closed. Errors: NOTER.';

--
-- Name: close_session(text, uuid); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.close_session(user_id text, session_id uuid) RETURNS boolean
    LANGUAGE sql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  update compliance.sessions s set ended_at = greatest(now(), s.created_at)
   where s.id = session_id and s.user_id = close_session.user_id and s.ended_at is null
  returning true;
$$;

ALTER FUNCTION compliance.close_session(user_id text, session_id uuid) OWNER TO compliance_owner;

--
-- Name: FUNCTION close_session(user_id text, session_id uuid); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.close_session(user_id text, session_id uuid) IS 'Closes a session (logout). Returns NULL when there was no open session.';

--
-- Name: dsr_requests; Type: TABLE; Schema: compliance; Owner: compliance_owner
--

CREATE TABLE compliance.dsr_requests (
    id bigint NOT NULL,
    user_id text,
    kind text NOT NULL,
    status text DEFAULT 'received'::text NOT NULL,
    received_at timestamp with time zone DEFAULT now() NOT NULL,
    due_at timestamp with time zone NOT NULL,
    completed_at timestamp with time zone,
    handled_by text,
    notes text,
    CONSTRAINT dsr_requests_completed_when_closed CHECK (((status = ANY (ARRAY['completed'::text, 'rejected'::text])) = (completed_at IS NOT NULL))),
    CONSTRAINT dsr_requests_kind_known CHECK ((kind = ANY (ARRAY['access'::text, 'rectification'::text, 'erasure'::text, 'portability'::text, 'restriction'::text, 'objection'::text]))),
    CONSTRAINT dsr_requests_notes_length CHECK ((length(notes) <= 2000)),
    CONSTRAINT dsr_requests_status_known CHECK ((status = ANY (ARRAY['received'::text, 'in_progress'::text, 'completed'::text, 'rejected'::text])))
);

ALTER TABLE ONLY compliance.dsr_requests FORCE ROW LEVEL SECURITY;

ALTER TABLE compliance.dsr_requests OWNER TO compliance_owner;

--
-- Name: TABLE dsr_requests; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON TABLE compliance.dsr_requests IS 'Register of data subject requests (GDPR Art. 12(3): answer within one month). Kept 7 years (retention policy dsr_requests). After the subject''s erasure a request keeps its kind and dates but no identity (user_id set NULL, notes removed).';

--
-- Name: COLUMN dsr_requests.id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.dsr_requests.id IS 'Request number.';

--
-- Name: COLUMN dsr_requests.user_id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.dsr_requests.user_id IS 'Personal: the requesting subject; NULL once the subject is erased.';

--
-- Name: COLUMN dsr_requests.kind; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.dsr_requests.kind IS 'access, rectification, erasure, portability, restriction or objection.';

--
-- Name: COLUMN dsr_requests.status; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.dsr_requests.status IS 'received, in_progress, completed or rejected.';

--
-- Name: COLUMN dsr_requests.received_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.dsr_requests.received_at IS 'When the request arrived.';

--
-- Name: COLUMN dsr_requests.due_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.dsr_requests.due_at IS 'Statutory deadline: received_at plus one calendar month (UTC).';

--
-- Name: COLUMN dsr_requests.completed_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.dsr_requests.completed_at IS 'When it was completed or rejected.';

--
-- Name: COLUMN dsr_requests.handled_by; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.dsr_requests.handled_by IS 'Personal: who handled it (actor).';

--
-- Name: COLUMN dsr_requests.notes; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.dsr_requests.notes IS 'Personal: free-text notes; removed at erasure.';

--
-- Name: complete_dsr(bigint, text, text); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.complete_dsr(request_id bigint, status text DEFAULT 'completed'::text, notes text DEFAULT NULL::text) RETURNS compliance.dsr_requests
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_request compliance.dsr_requests;
begin
  if status not in ('completed', 'rejected') then
    perform compliance_private.raise_error('BADRG', 'status must be completed or rejected');
  end if;
  update compliance.dsr_requests r
     set status = complete_dsr.status, completed_at = now(), handled_by = compliance.current_actor(),
         notes = coalesce(complete_dsr.notes, r.notes)
   where r.id = request_id and r.completed_at is null
  returning * into v_request;
  if not found then
    perform compliance_private.raise_error('NODSR', format('no open request %s', request_id),
      'See compliance.dsr_open_requests for the open requests.');
  end if;
  return v_request;
end;
$$;

ALTER FUNCTION compliance.complete_dsr(request_id bigint, status text, notes text) OWNER TO compliance_owner;

--
-- Name: FUNCTION complete_dsr(request_id bigint, status text, notes text); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.complete_dsr(request_id bigint, status text, notes text) IS 'Closes an open request as completed or rejected, recording who handled it. Errors: NODSR, BADRG.';

--
-- Name: consent_records; Type: TABLE; Schema: compliance; Owner: compliance_owner
--

CREATE TABLE compliance.consent_records (
    id bigint NOT NULL,
    user_id text NOT NULL,
    purpose text NOT NULL,
    granted boolean NOT NULL,
    policy_version text NOT NULL,
    source text DEFAULT 'api'::text NOT NULL,
    recorded_at timestamp with time zone DEFAULT now() NOT NULL,
    ip_address inet,
    user_agent text,
    given_at timestamp with time zone,
    CONSTRAINT consent_records_given_before_recorded CHECK (((given_at IS NULL) OR (given_at <= recorded_at))),
    CONSTRAINT consent_records_policy_version_length CHECK (((length(policy_version) >= 1) AND (length(policy_version) <= 64))),
    CONSTRAINT consent_records_source_known CHECK ((source = ANY (ARRAY['api'::text, 'import'::text, 'dba'::text]))),
    CONSTRAINT consent_records_user_agent_length CHECK ((length(user_agent) <= 512))
);

ALTER TABLE ONLY compliance.consent_records FORCE ROW LEVEL SECURITY;

ALTER TABLE compliance.consent_records OWNER TO compliance_owner;

--
-- Name: TABLE consent_records; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON TABLE compliance.consent_records IS 'Append-only consent history (GDPR Art. 7(1): the controller must be able to demonstrate consent). Each grant or withdrawal is a new row with its evidence. Kept 7 years (retention policy consent_records) or until erasure; no role may update or delete a row otherwise.';

--
-- Name: COLUMN consent_records.id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.consent_records.id IS 'Surrogate key; orders records made in the same instant.';

--
-- Name: COLUMN consent_records.user_id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.consent_records.user_id IS 'Personal: the subject who gave or withdrew consent.';

--
-- Name: COLUMN consent_records.purpose; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.consent_records.purpose IS 'The purpose (consent_purposes.purpose).';

--
-- Name: COLUMN consent_records.granted; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.consent_records.granted IS 'true for a grant, false for a withdrawal.';

--
-- Name: COLUMN consent_records.policy_version; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.consent_records.policy_version IS 'Version of the privacy notice the subject saw.';

--
-- Name: COLUMN consent_records.source; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.consent_records.source IS 'How the record arrived: api, import or dba.';

--
-- Name: COLUMN consent_records.recorded_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.consent_records.recorded_at IS 'When consent was given or withdrawn.';

--
-- Name: COLUMN consent_records.ip_address; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.consent_records.ip_address IS 'Personal: client IP address of the request that recorded it (evidence).';

--
-- Name: COLUMN consent_records.user_agent; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.consent_records.user_agent IS 'Personal: user agent of the request that recorded it (evidence).';

--
-- Name: COLUMN consent_records.given_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.consent_records.given_at IS 'When the person gave or withdrew the consent, as imported evidence says (pgcomply import consents); NULL when it is recorded_at. Never after recorded_at.';

--
-- Name: consent_history(text); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.consent_history(user_id text) RETURNS SETOF compliance.consent_records
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  select * from compliance.consent_records c
   where c.user_id = consent_history.user_id
   order by c.recorded_at, c.id;
$$;

ALTER FUNCTION compliance.consent_history(user_id text) OWNER TO compliance_owner;

--
-- Name: FUNCTION consent_history(user_id text); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.consent_history(user_id text) IS 'Every consent record of the subject, oldest first: the proof of consent (Art. 7(1)). Also in the subject export.';

--
-- Name: consent_records_between(timestamp with time zone, timestamp with time zone, bigint, integer); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.consent_records_between(from_time timestamp with time zone, to_time timestamp with time zone, after_id bigint DEFAULT 0, page_size integer DEFAULT 1000) RETURNS SETOF compliance.consent_records
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_rows bigint;
begin
  if page_size not between 1 and 10000 then
    perform compliance_private.raise_error('BADRG', 'page_size must be between 1 and 10000');
  end if;
  return query
    select * from compliance.consent_records c
     where c.recorded_at >= from_time and c.recorded_at < to_time and c.id > after_id
     order by c.id
     limit page_size;
  get diagnostics v_rows = row_count;
  perform compliance.log_event('consent.records_read', 'gdpr', 'consent', null,
    jsonb_build_object('procedure', 'consent_records_between', 'from', from_time, 'to', to_time,
                       'after_id', after_id, 'rows', v_rows));
end;
$$;

ALTER FUNCTION compliance.consent_records_between(from_time timestamp with time zone, to_time timestamp with time zone, after_id bigint, page_size integer) OWNER TO compliance_owner;

--
-- Name: FUNCTION consent_records_between(from_time timestamp with time zone, to_time timestamp with time zone, after_id bigint, page_size integer); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.consent_records_between(from_time timestamp with time zone, to_time timestamp with time zone, after_id bigint, page_size integer) IS 'DPO: every consent record of every subject recorded in [from_time, to_time), in id order, page_size (1..10000) at a time after after_id: the all-subject evidence export. Audited (consent.records_read, with the range). Errors: BADRG.';

--
-- Name: conversation_messages(uuid, bigint, integer); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.conversation_messages(conversation_id uuid, after_id bigint DEFAULT 0, page_size integer DEFAULT 100) RETURNS TABLE(id bigint, role text, content text, created_at timestamp with time zone)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_subject text;
begin
  if page_size not between 1 and 1000 or after_id is null or after_id < 0 then
    perform compliance_private.raise_error('BADRG', 'page_size must be 1..1000 and after_id at least 0',
      'Page with after_id: the id of the last message of the previous page.');
  end if;
  -- row-level security decides whose conversations the caller sees
  select c.user_id into v_subject from compliance.conversations c where c.conversation_id = conversation_messages.conversation_id;
  if not found then
    perform compliance_private.raise_error('NOCNV', format('no conversation %s', conversation_id),
      'The conversation does not exist or belongs to someone else.');
  end if;
  return query
    select m.id, m.role, m.content, m.created_at
      from compliance.messages m
     where m.conversation_id = conversation_messages.conversation_id and m.id > after_id
     order by m.id
     limit page_size;
  -- someone other than the subject (a DPO) reading the conversation leaves a row (issue #15, item 3)
  if current_user <> 'compliance_app' then
    perform compliance.log_event('subject.messages_read', 'gdpr', 'conversation', conversation_id::text,
      jsonb_build_object('procedure', 'conversation_messages', 'after_id', after_id, 'page_size', page_size), v_subject);
  end if;
end;
$$;

ALTER FUNCTION compliance.conversation_messages(conversation_id uuid, after_id bigint, page_size integer) OWNER TO compliance_owner;

--
-- Name: FUNCTION conversation_messages(conversation_id uuid, after_id bigint, page_size integer); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.conversation_messages(conversation_id uuid, after_id bigint, page_size integer) IS 'The messages of one conversation in the order they were added, page_size (1..1000) at a time after the message id after_id. Row-level security limits the app to its subject''s conversations; any other reader (a DPO) is audited (subject.messages_read). Errors: NOCNV when the caller cannot see the conversation, BADRG for a bad page.';

--
-- Name: create_health_record(uuid, text, text, text, text, integer, timestamp with time zone, bytea, bytea, bytea, integer); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.create_health_record(id uuid, patient text, category text, classification text, purpose text, key_version integer, recorded_at timestamp with time zone, ciphertext bytea, integrity bytea, new_wrapped_key bytea DEFAULT NULL::bytea, new_kek_version integer DEFAULT NULL::integer) RETURNS timestamp with time zone
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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
$$;

ALTER FUNCTION compliance.create_health_record(id uuid, patient text, category text, classification text, purpose text, key_version integer, recorded_at timestamp with time zone, ciphertext bytea, integrity bytea, new_wrapped_key bytea, new_kek_version integer) OWNER TO compliance_owner;

--
-- Name: FUNCTION create_health_record(id uuid, patient text, category text, classification text, purpose text, key_version integer, recorded_at timestamp with time zone, ciphertext bytea, integrity bytea, new_wrapped_key bytea, new_kek_version integer); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.create_health_record(id uuid, patient text, category text, classification text, purpose text, key_version integer, recorded_at timestamp with time zone, ciphertext bytea, integrity bytea, new_wrapped_key bytea, new_kek_version integer) IS 'Stores a health record the server encrypted, as version 1: id, version 1 and recorded_at (the server''s clock, to the millisecond, at most five minutes from the database''s) as bound into its associated data and integrity code, the patient''s data key version, and, for the patient''s first record, the new wrapped data key. Returns the record''s updated_at. Audited as phi.created, with the version and its integrity code. A refused caller gets NULL and a phi.denied audit row. Errors: PHICT unknown category (lists the valid ones), BADRG, 40001 when another transaction made the patient''s first key at the same moment (run again), 23514 for a record over 1 MiB.';

--
-- Name: current_actor(); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.current_actor() RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN COALESCE(NULLIF(current_setting('compliance.actor'::text, true), ''::text), (SESSION_USER)::text);

ALTER FUNCTION compliance.current_actor() OWNER TO compliance_owner;

--
-- Name: FUNCTION current_actor(); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.current_actor() IS 'Who the audit log records as acting: the request context''s actor, or the database login (session_user) when a DBA calls SQL directly without a context.';

--
-- Name: current_actor_roles(); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.current_actor_roles() RETURNS text[]
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN COALESCE(string_to_array(NULLIF(current_setting('compliance.actor_roles'::text, true), ''::text), ','::text), '{}'::text[]);

ALTER FUNCTION compliance.current_actor_roles() OWNER TO compliance_owner;

--
-- Name: FUNCTION current_actor_roles(); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.current_actor_roles() IS 'The application roles of the actor (from the token), as set by set_request_context.';

--
-- Name: current_client_ip(); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.current_client_ip() RETURNS inet
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN (NULLIF(current_setting('compliance.client_ip'::text, true), ''::text))::inet;

ALTER FUNCTION compliance.current_client_ip() OWNER TO compliance_owner;

--
-- Name: FUNCTION current_client_ip(); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.current_client_ip() IS 'The client IP address of the current request, or NULL outside a request.';

--
-- Name: current_subject(); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.current_subject() RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN NULLIF(current_setting('compliance.actor'::text, true), ''::text);

ALTER FUNCTION compliance.current_subject() OWNER TO compliance_owner;

--
-- Name: FUNCTION current_subject(); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.current_subject() IS 'The user id of the actor set by set_request_context, or NULL when no context is set. Row-level security compares rows with it, so no context means no rows.';

--
-- Name: current_user_agent(); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.current_user_agent() RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN NULLIF(current_setting('compliance.user_agent'::text, true), ''::text);

ALTER FUNCTION compliance.current_user_agent() OWNER TO compliance_owner;

--
-- Name: FUNCTION current_user_agent(); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.current_user_agent() IS 'The user agent of the current request, or NULL outside a request.';

--
-- Name: access_review_items; Type: TABLE; Schema: compliance; Owner: compliance_owner
--

CREATE TABLE compliance.access_review_items (
    id bigint NOT NULL,
    campaign_id bigint NOT NULL,
    kind text NOT NULL,
    login_name text,
    actor_id text,
    grant_id bigint,
    roles text[] DEFAULT '{}'::text[] NOT NULL,
    granted_by text,
    last_used_at timestamp with time zone,
    decision text,
    note text,
    decided_by text,
    decided_at timestamp with time zone,
    CONSTRAINT access_review_items_decision_complete CHECK ((((decision IS NULL) = (decided_at IS NULL)) AND ((decision IS NULL) = (note IS NULL)))),
    CONSTRAINT access_review_items_decision_known CHECK (((decision IS NULL) OR (decision = ANY (ARRAY['keep'::text, 'revoke'::text])))),
    CONSTRAINT access_review_items_kind_fields CHECK ((((kind = 'database_login'::text) AND (login_name IS NOT NULL) AND (actor_id IS NULL) AND (grant_id IS NULL)) OR ((kind = 'application_actor'::text) AND (login_name IS NULL) AND (grant_id IS NULL)) OR ((kind = 'access_grant'::text) AND (login_name IS NULL) AND (grant_id IS NOT NULL)))),
    CONSTRAINT access_review_items_kind_known CHECK ((kind = ANY (ARRAY['database_login'::text, 'application_actor'::text, 'access_grant'::text]))),
    CONSTRAINT access_review_items_not_by_granter CHECK (((decided_by IS NULL) OR (granted_by IS NULL) OR (decided_by <> granted_by))),
    CONSTRAINT access_review_items_not_by_holder CHECK (((decided_by IS NULL) OR (actor_id IS NULL) OR (decided_by <> actor_id)))
);

ALTER TABLE ONLY compliance.access_review_items FORCE ROW LEVEL SECURITY;

ALTER TABLE compliance.access_review_items OWNER TO compliance_owner;

--
-- Name: TABLE access_review_items; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON TABLE compliance.access_review_items IS 'One item of an access review campaign: a database login with the pgcomply roles it can use, an application actor with the roles it used in the last 90 days, or an access grant in force; and the reviewer''s keep or revoke with a note. Written only by compliance.open_access_review and decide_access_review_item.';

--
-- Name: COLUMN access_review_items.id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_review_items.id IS 'The item.';

--
-- Name: COLUMN access_review_items.campaign_id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_review_items.campaign_id IS 'Its campaign.';

--
-- Name: COLUMN access_review_items.kind; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_review_items.kind IS 'database_login, application_actor or access_grant.';

--
-- Name: COLUMN access_review_items.login_name; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_review_items.login_name IS 'For a database login: its role name.';

--
-- Name: COLUMN access_review_items.actor_id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_review_items.actor_id IS 'For an application actor: the actor; for an access grant: its grantee. Emptied when that person is erased.';

--
-- Name: COLUMN access_review_items.grant_id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_review_items.grant_id IS 'For an access grant: the grant.';

--
-- Name: COLUMN access_review_items.roles; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_review_items.roles IS 'The pgcomply roles the login can use, the application roles the actor used, or the grant''s scope.';

--
-- Name: COLUMN access_review_items.granted_by; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_review_items.granted_by IS 'Who granted it, where the log knows (an access grant''s approver, the grantee for break-glass): never its reviewer. Emptied when that person is erased.';

--
-- Name: COLUMN access_review_items.last_used_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_review_items.last_used_at IS 'For an application actor: the last audit row in which it used one of its roles.';

--
-- Name: COLUMN access_review_items.decision; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_review_items.decision IS 'keep or revoke; null until decided.';

--
-- Name: COLUMN access_review_items.note; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_review_items.note IS 'Why, in the reviewer''s words.';

--
-- Name: COLUMN access_review_items.decided_by; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_review_items.decided_by IS 'The reviewer. Emptied when that person is erased.';

--
-- Name: COLUMN access_review_items.decided_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_review_items.decided_at IS 'When it was decided.';

--
-- Name: decide_access_review_item(bigint, text, text); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.decide_access_review_item(item_id bigint, decision text, note text) RETURNS compliance.access_review_items
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_item compliance.access_review_items;
  v_reviewer text := compliance.current_actor();
begin
  perform compliance_private.require_context_subject();
  if decision is null or decision not in ('keep', 'revoke') then
    perform compliance_private.raise_error('BADRG', format('decision %L is unknown', decision), 'Use keep or revoke.');
  end if;
  if note is null or length(trim(note)) not between 1 and 2000 then
    perform compliance_private.raise_error('BADRG', 'say why in a note (1 to 2000 characters)');
  end if;
  select i.* into v_item from compliance.access_review_items i where i.id = item_id for no key update;
  if not found then
    perform compliance_private.raise_error('RVNOT', format('no access review item %s', coalesce(item_id::text, 'NULL')),
      'See compliance.access_review_items_of(campaign_id).');
  end if;
  if v_item.decided_at is not null then
    perform compliance_private.raise_error('RVSTA', format('access review item %s was decided already (%s)', item_id, v_item.decision));
  end if;
  -- segregation of duties: nobody confirms access they granted, or their own
  if v_reviewer = v_item.granted_by or v_reviewer = v_item.actor_id then
    perform compliance_private.raise_error('RVSLF',
      case when v_reviewer = v_item.actor_id then 'nobody reviews their own access' else 'nobody reviews access they granted' end,
      'Another reviewer decides this item.');
  end if;
  update compliance.access_review_items i
     set decision = decide_access_review_item.decision, note = decide_access_review_item.note,
         decided_by = v_reviewer, decided_at = clock_timestamp()
   where i.id = v_item.id
  returning i.* into v_item;
  -- a grant ends now; a database role is a DBA's to revoke, and the item says so
  if decision = 'revoke' and v_item.kind = 'access_grant' then
    perform compliance.revoke_access_grant(v_item.grant_id, 'access review ' || v_item.campaign_id || ': ' || note);
  end if;
  perform compliance_private.append_audit('access_review.decided', 'soc2', 'access_review_item', v_item.id::text,
    jsonb_build_object('campaign_id', v_item.campaign_id, 'kind', v_item.kind, 'decision', v_item.decision,
      'grant_id', v_item.grant_id, 'roles', v_item.roles),
    null, jsonb_strip_nulls(jsonb_build_object('login', v_item.login_name, 'actor', v_item.actor_id, 'note', v_item.note)));
  -- the last decision completes the campaign
  update compliance.access_review_campaigns c set completed_at = clock_timestamp()
   where c.id = v_item.campaign_id and c.completed_at is null
     and not exists (select from compliance.access_review_items i where i.campaign_id = c.id and i.decided_at is null);
  if found then
    perform compliance_private.append_audit('access_review.completed', 'soc2', 'access_review_campaign', v_item.campaign_id::text,
      (select jsonb_build_object('items', count(*), 'kept', count(*) filter (where i.decision = 'keep'),
                'revoked', count(*) filter (where i.decision = 'revoke'))
         from compliance.access_review_items i where i.campaign_id = v_item.campaign_id));
  end if;
  return v_item;
end;
$$;

ALTER FUNCTION compliance.decide_access_review_item(item_id bigint, decision text, note text) OWNER TO compliance_owner;

--
-- Name: FUNCTION decide_access_review_item(item_id bigint, decision text, note text); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.decide_access_review_item(item_id bigint, decision text, note text) IS 'The DPO records keep or revoke, with a note, for one item of an access review campaign. Revoking an access grant ends it at once (compliance.revoke_access_grant); revoking a database role membership is left to a DBA (the item''s dba_action says what to run). The reviewer may not be the one who granted the access, nor the one who holds it. The last decision completes the campaign. Audited as access_review.decided (and access_review.completed). Errors: BADRG, RVNOT, RVSTA (decided already), RVSLF (own or self-granted access), and the grant''s GRSTA.';

--
-- Name: delete_health_record(uuid, text); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.delete_health_record(id uuid, purpose text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_patient text;
begin
  select h.user_id into v_patient from compliance.health_records h where h.id = delete_health_record.id;
  if not found then
    perform compliance_private.raise_error('PHINF', 'no health record with that id', 'Check the record id.');
  end if;
  if compliance_private.phi_check(v_patient, purpose, 'delete', delete_health_record.id) is not null then
    return false;
  end if;
  delete from compliance.health_records h where h.id = delete_health_record.id;
  perform compliance_private.log_phi_access('phi.deleted', v_patient, purpose, 'delete', array[delete_health_record.id]);
  return true;
end;
$$;

ALTER FUNCTION compliance.delete_health_record(id uuid, purpose text) OWNER TO compliance_owner;

--
-- Name: FUNCTION delete_health_record(id uuid, purpose text); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.delete_health_record(id uuid, purpose text) IS 'Deletes one health record. true when deleted (audited as phi.deleted); false when the caller is refused (a phi.denied audit row says why). Errors: PHINF no such record.';

--
-- Name: deny_access_request(bigint, text); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.deny_access_request(grant_id bigint, note text DEFAULT NULL::text) RETURNS compliance.access_grants
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_row compliance.access_grants := compliance_private.grant_for_decision(grant_id, 'pending');
begin
  update compliance.access_grants g
     set denied_by = compliance.current_actor(), denied_at = now()
   where g.id = v_row.id
  returning g.* into v_row;
  perform compliance_private.audit_access_grant('access.denied', v_row, note);
  return v_row;
end;
$$;

ALTER FUNCTION compliance.deny_access_request(grant_id bigint, note text) OWNER TO compliance_owner;

--
-- Name: FUNCTION deny_access_request(grant_id bigint, note text); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.deny_access_request(grant_id bigint, note text) IS 'An approver denies a pending request, with an optional note (audited in the personal part). Audited as access.denied. Errors: GRSLF, GRNOT, GRSTA.';

--
-- Name: emergency_review_queue(); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.emergency_review_queue() RETURNS TABLE(grant_id bigint, grantee text, patient text, scope text, reason text, starts_at timestamp with time zone, expires_at timestamp with time zone, review_due_at timestamp with time zone, days_left numeric, overdue boolean, overdue_total bigint)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  select g.id, g.grantee, g.user_id, g.scope, g.reason, g.starts_at, g.expires_at, g.review_due_at,
         round(extract(epoch from g.review_due_at - now()) / 86400, 1),
         g.review_due_at < now(),
         count(*) filter (where g.review_due_at < now()) over ()
    from compliance.access_grants g
   where g.kind = 'emergency' and g.reviewed_at is null
   order by g.review_due_at, g.id;
$$;

ALTER FUNCTION compliance.emergency_review_queue() OWNER TO compliance_owner;

--
-- Name: FUNCTION emergency_review_queue(); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.emergency_review_queue() IS 'Emergency accesses no one has reviewed yet, most urgent first: the days left until the review is due (negative once overdue), whether it is overdue, and how many are overdue in all.';

--
-- Name: ensure_audit_partitions(integer, integer); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.ensure_audit_partitions(months_ahead integer DEFAULT 3, months_back integer DEFAULT 0) RETURNS SETOF text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_month date;
  v_name text;
begin
  if months_ahead not between 0 and 120 or months_back not between 0 and 120 then
    perform compliance_private.raise_error('BADRG', 'months_ahead and months_back must be between 0 and 120');
  end if;
  for v_month in
    select generate_series(date_trunc('month', now() - make_interval(months => months_back)),
                           date_trunc('month', now() + make_interval(months => months_ahead)),
                           interval '1 month')::date
  loop
    v_name := format('audit_logs_y%sm%s', to_char(v_month, 'YYYY'), to_char(v_month, 'MM'));
    continue when to_regclass('compliance.' || v_name) is not null;
    if exists (select from compliance.audit_logs_default d
               where d.occurred_at >= v_month and d.occurred_at < (v_month + interval '1 month')) then
      raise warning 'audit_logs_default holds rows for %; partition % not created', to_char(v_month, 'YYYY-MM'), v_name;
      continue;
    end if;
    execute format('create table compliance.%I partition of compliance.audit_logs for values from (%L) to (%L)',
                   v_name, v_month::timestamptz, (v_month + interval '1 month')::timestamptz);
    perform compliance_private.protect_audit_relation(format('compliance.%I', v_name)::regclass);
    execute format('comment on table compliance.%I is %L', v_name,
                   format('Audit rows of %s (monthly partition of compliance.audit_logs).', to_char(v_month, 'YYYY-MM')));
    return next v_name;
  end loop;
end;
$$;

ALTER FUNCTION compliance.ensure_audit_partitions(months_ahead integer, months_back integer) OWNER TO compliance_owner;

--
-- Name: FUNCTION ensure_audit_partitions(months_ahead integer, months_back integer); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.ensure_audit_partitions(months_ahead integer, months_back integer) IS 'Creates the monthly audit_logs partitions from months_back before to months_ahead after the current month, so inserts never land in the default partition. Idempotent; the worker runs it daily. Returns the partitions it created.';

--
-- Name: user_profiles; Type: TABLE; Schema: compliance; Owner: compliance_owner
--

CREATE TABLE compliance.user_profiles (
    user_id text NOT NULL,
    username text,
    email text,
    full_name text,
    metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT user_profiles_email_shape CHECK (((email IS NULL) OR ((length(email) <= 320) AND (email ~~ '%_@_%'::text)))),
    CONSTRAINT user_profiles_full_name_length CHECK ((length(full_name) <= 512)),
    CONSTRAINT user_profiles_metadata_object CHECK ((jsonb_typeof(metadata) = 'object'::text)),
    CONSTRAINT user_profiles_user_id_length CHECK (((length(user_id) >= 1) AND (length(user_id) <= 256))),
    CONSTRAINT user_profiles_username_length CHECK ((length(username) <= 256))
);

ALTER TABLE ONLY compliance.user_profiles FORCE ROW LEVEL SECURITY;

ALTER TABLE compliance.user_profiles OWNER TO compliance_owner;

--
-- Name: TABLE user_profiles; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON TABLE compliance.user_profiles IS 'One row per data subject. Personal data (GDPR Art. 4(1)); kept until erasure (compliance.erase_subject). The personal tables (preferences, consent records, conversations, messages, sessions, legal holds) reference it with ON DELETE CASCADE; dsr_requests keeps its register rows with the subject set to NULL (ON DELETE SET NULL); audit_logs has no foreign key: erasure redacts its personal parts instead.';

--
-- Name: COLUMN user_profiles.user_id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.user_profiles.user_id IS 'Personal: the subject''s identifier as issued by the identity provider (e.g. user:alice).';

--
-- Name: COLUMN user_profiles.username; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.user_profiles.username IS 'Personal: preferred username from the identity provider.';

--
-- Name: COLUMN user_profiles.email; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.user_profiles.email IS 'Personal: e-mail address.';

--
-- Name: COLUMN user_profiles.full_name; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.user_profiles.full_name IS 'Personal: full name.';

--
-- Name: COLUMN user_profiles.metadata; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.user_profiles.metadata IS 'Personal: free-form attributes about the subject (JSON object).';

--
-- Name: COLUMN user_profiles.created_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.user_profiles.created_at IS 'When the profile was created.';

--
-- Name: COLUMN user_profiles.updated_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.user_profiles.updated_at IS 'When the profile last changed; maintained by trigger.';

--
-- Name: ensure_profile(text, text, text, text); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.ensure_profile(user_id text, username text DEFAULT NULL::text, email text DEFAULT NULL::text, full_name text DEFAULT NULL::text) RETURNS compliance.user_profiles
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_profile compliance.user_profiles;
begin
  select * into v_profile from compliance.user_profiles p where p.user_id = ensure_profile.user_id;
  if found then
    return v_profile;
  end if;
  insert into compliance.user_profiles (user_id, username, email, full_name)
    values (ensure_profile.user_id, ensure_profile.username, ensure_profile.email, ensure_profile.full_name)
    on conflict on constraint user_profiles_pkey do nothing
    returning * into v_profile;
  if not found then
    select * into strict v_profile from compliance.user_profiles p where p.user_id = ensure_profile.user_id;
  end if;
  return v_profile;
end;
$$;

ALTER FUNCTION compliance.ensure_profile(user_id text, username text, email text, full_name text) OWNER TO compliance_owner;

--
-- Name: FUNCTION ensure_profile(user_id text, username text, email text, full_name text); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.ensure_profile(user_id text, username text, email text, full_name text) IS 'Returns the subject''s profile, creating it from the identity provider''s claims on first sight. Errors: ERASD for an erased user id.';

--
-- Name: erase_my_data(text, boolean); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.erase_my_data(reason text, confirm boolean DEFAULT false) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  return compliance_private.erase_subject_core(compliance_private.require_context_subject(), reason, confirm, 'subject');
end;
$$;

ALTER FUNCTION compliance.erase_my_data(reason text, confirm boolean) OWNER TO compliance_owner;

--
-- Name: FUNCTION erase_my_data(reason text, confirm boolean); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.erase_my_data(reason text, confirm boolean) IS 'The request actor erases its own data (self-service Art. 17); same transaction and errors as compliance.erase_subject.';

--
-- Name: erase_subject(text, text, boolean); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.erase_subject(user_id text, reason text, confirm boolean DEFAULT false) RETURNS jsonb
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  select compliance_private.erase_subject_core(user_id, reason, confirm, 'dpo');
$$;

ALTER FUNCTION compliance.erase_subject(user_id text, reason text, confirm boolean) OWNER TO compliance_owner;

--
-- Name: FUNCTION erase_subject(user_id text, reason text, confirm boolean); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.erase_subject(user_id text, reason text, confirm boolean) IS 'DPO: erases a subject (GDPR Art. 17) in one transaction or not at all: locks the subject, deletes every personal row (profile, preferences, consents, conversations, messages, sessions, released holds), strips identity from its requests and from the legal holds it placed or released, keeps an emergency access not reviewed yet without the patient (the review outlives the data), removes its part of the audit rows about it and the actor''s part where it acted (listing those rows in the subject.erased row, which carries counts and no identity), and leaves a tombstone so later writes for the id fail (ERASD). Returns a receipt with counts per table. Errors: CONFM without confirm => true, LHOLD under legal hold, UNKSJ unknown subject, ERASD already erased, BADRG without a reason.';

--
-- Name: erased_consent_proofs; Type: TABLE; Schema: compliance; Owner: compliance_owner
--

CREATE TABLE compliance.erased_consent_proofs (
    id bigint NOT NULL,
    subject_digest bytea NOT NULL,
    purpose text NOT NULL,
    granted boolean NOT NULL,
    policy_version text NOT NULL,
    source text NOT NULL,
    recorded_at timestamp with time zone NOT NULL,
    given_at timestamp with time zone,
    erased_at timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE ONLY compliance.erased_consent_proofs FORCE ROW LEVEL SECURITY;

ALTER TABLE compliance.erased_consent_proofs OWNER TO compliance_owner;

--
-- Name: TABLE erased_consent_proofs; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON TABLE compliance.erased_consent_proofs IS 'Consent records of erased people, kept as proof of consent (GDPR Art. 7(1)) for the defence of legal claims (Art. 17(3)(e)): no id, no IP address, no user agent; the person is found again only through the tombstone pepper (compliance.erased_consent_proof). Deleted with the consent records'' retention; not kept when the DPO turned it off.';

--
-- Name: COLUMN erased_consent_proofs.id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.erased_consent_proofs.id IS 'Row id.';

--
-- Name: COLUMN erased_consent_proofs.subject_digest; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.erased_consent_proofs.subject_digest IS 'The erased person''s peppered digest, as their tombstone holds it.';

--
-- Name: COLUMN erased_consent_proofs.purpose; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.erased_consent_proofs.purpose IS 'The purpose consented to or withdrawn.';

--
-- Name: COLUMN erased_consent_proofs.granted; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.erased_consent_proofs.granted IS 'Granted (true) or withdrawn (false).';

--
-- Name: COLUMN erased_consent_proofs.policy_version; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.erased_consent_proofs.policy_version IS 'The privacy notice version it was given under.';

--
-- Name: COLUMN erased_consent_proofs.source; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.erased_consent_proofs.source IS 'api, import or dba.';

--
-- Name: COLUMN erased_consent_proofs.recorded_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.erased_consent_proofs.recorded_at IS 'When pgcomply recorded the consent; retention counts from here.';

--
-- Name: COLUMN erased_consent_proofs.given_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.erased_consent_proofs.given_at IS 'When the person gave it, as imported evidence said (NULL: recorded_at).';

--
-- Name: COLUMN erased_consent_proofs.erased_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.erased_consent_proofs.erased_at IS 'When the person was erased.';

--
-- Name: erased_consent_proof(text); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.erased_consent_proof(user_id text) RETURNS SETOF compliance.erased_consent_proofs
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  -- the lookup itself is a processing of the erased person's pseudonym: on record
  perform compliance_private.append_audit('consent.erased_proof_read', 'gdpr', 'erased_consent_proofs', null,
    jsonb_build_object('procedure', 'erased_consent_proof'));
  return query select p.* from compliance.erased_consent_proofs p
                where p.subject_digest = compliance_private.subject_digest(erased_consent_proof.user_id)
                order by p.recorded_at, p.id;
end;
$$;

ALTER FUNCTION compliance.erased_consent_proof(user_id text) OWNER TO compliance_owner;

--
-- Name: FUNCTION erased_consent_proof(user_id text); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.erased_consent_proof(user_id text) IS 'DPO: the consent records an erasure kept as proof (GDPR Art. 7(1), 17(3)(e)) for a person who now claims, found by the id they give (through the tombstone pepper); the proofs themselves hold no id. Audited as consent.erased_proof_read. Errors: PEPPR without the pepper.';

--
-- Name: erasure_journal(timestamp with time zone); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.erasure_journal(since timestamp with time zone DEFAULT '-infinity'::timestamp with time zone) RETURNS TABLE(subject_digest text, erased_at timestamp with time zone)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  select encode(e.subject_digest, 'hex'), e.erased_at from compliance_private.erased_subjects e
   where e.erased_at > erasure_journal.since order by e.erased_at, e.subject_digest;
$$;

ALTER FUNCTION compliance.erasure_journal(since timestamp with time zone) OWNER TO compliance_owner;

--
-- Name: FUNCTION erasure_journal(since timestamp with time zone); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.erasure_journal(since timestamp with time zone) IS 'The erasures after since: each erased subject''s peppered digest (hex, never the id) and when. Anchors carry it outside the database, so that erasures undone by restoring an older backup can be replayed (compliance.replay_erasures). For the DPO, auditors and the worker.';

--
-- Name: evidence_population(text, timestamp with time zone, timestamp with time zone); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.evidence_population(name text, period_from timestamp with time zone, period_to timestamp with time zone) RETURNS SETOF jsonb
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_query text;
begin
  select p.query into v_query from compliance.evidence_populations p where p.name = evidence_population.name;
  if not found then
    perform compliance_private.raise_error('BADRG', format('unknown evidence population %L; known: %s', name,
      (select string_agg(p.name, ', ' order by p.name) from compliance.evidence_populations p)));
  end if;
  if period_from is null or period_to is null or period_from >= period_to then
    perform compliance_private.raise_error('BADRG', 'the period needs a start before its end');
  end if;
  -- the stored query is the owner's (a migration's), never the caller's
  return query execute format('select to_jsonb(x) from (%s) x', v_query) using period_from, period_to;
end;
$$;

ALTER FUNCTION compliance.evidence_population(name text, period_from timestamp with time zone, period_to timestamp with time zone) OWNER TO compliance_owner;

--
-- Name: FUNCTION evidence_population(name text, period_from timestamp with time zone, period_to timestamp with time zone); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.evidence_population(name text, period_from timestamp with time zone, period_to timestamp with time zone) IS 'One evidence population over [period_from, period_to): its rows as JSON, in the order its query gives, with no personal data. The query is the one compliance.evidence_populations records, so the manifest can quote it. For the DPO and the auditor. Errors: BADRG (unknown population, the valid ones listed; a period that ends before it starts).';

--
-- Name: evidence_sample(text, timestamp with time zone, timestamp with time zone, integer, text); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.evidence_sample(name text, period_from timestamp with time zone, period_to timestamp with time zone, size integer, seed text) RETURNS SETOF jsonb
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  -- each row ranked by a hash of the seed and the row itself: the same seed over the same
  -- population draws the same sample, and an auditor can redraw it
  select r from compliance.evidence_population(evidence_sample.name, evidence_sample.period_from, evidence_sample.period_to) r
   order by md5(evidence_sample.seed || r::text), r::text
   limit greatest(evidence_sample.size, 0);
$$;

ALTER FUNCTION compliance.evidence_sample(name text, period_from timestamp with time zone, period_to timestamp with time zone, size integer, seed text) OWNER TO compliance_owner;

--
-- Name: FUNCTION evidence_sample(name text, period_from timestamp with time zone, period_to timestamp with time zone, size integer, seed text); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.evidence_sample(name text, period_from timestamp with time zone, period_to timestamp with time zone, size integer, seed text) IS 'A sample of size rows from an evidence population, drawn by the seed (record the seed with the sample): the same seed over the same population always gives the same rows. For the DPO and the auditor.';

--
-- Name: export_my_data(text); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.export_my_data(kind text DEFAULT 'access'::text) RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  return compliance_private.export_subject_core(compliance_private.require_context_subject(), kind);
end;
$$;

ALTER FUNCTION compliance.export_my_data(kind text) OWNER TO compliance_owner;

--
-- Name: FUNCTION export_my_data(kind text); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.export_my_data(kind text) IS 'The request actor''s own data as JSON (self-service Art. 15/20). Errors: NOCTX, UNKSJ, ERASD.';

--
-- Name: export_subject(text, text); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.export_subject(user_id text, kind text DEFAULT 'access'::text) RETURNS json
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  select compliance_private.export_subject_core(user_id, kind);
$$;

ALTER FUNCTION compliance.export_subject(user_id text, kind text) OWNER TO compliance_owner;

--
-- Name: FUNCTION export_subject(user_id text, kind text); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.export_subject(user_id text, kind text) IS 'DPO: everything held about any subject as JSON (GDPR Art. 15 access, Art. 20 portability: kind access or portability). Registers the request as completed and audits the export. Errors: UNKSJ for an unknown subject (never an empty document), ERASD for an erased one.';

--
-- Name: find_subjects(text, integer); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.find_subjects(query text, max_rows integer DEFAULT 20) RETURNS TABLE(user_id text, username text, email text, created_at timestamp with time zone, legal_hold_reason text, legal_hold_placed_at timestamp with time zone, open_requests integer)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_pattern text;
  v_rows bigint;
begin
  if query is null or length(btrim(query)) < 2 or length(query) > 320 then
    perform compliance_private.raise_error('BADRG', 'search with 2 to 320 characters of a user id, username or e-mail address');
  end if;
  if max_rows is null or max_rows < 1 or max_rows > 100 then
    perform compliance_private.raise_error('BADRG', 'max_rows must be between 1 and 100');
  end if;
  -- the query is matched literally: the LIKE wildcards in it are escaped
  v_pattern := '%' || replace(replace(replace(btrim(query), chr(92), chr(92) || chr(92)), '%', chr(92) || '%'), '_', chr(92) || '_') || '%';
  return query
    select p.user_id, p.username, p.email, p.created_at, h.reason, h.placed_at,
           (select count(*)::int from compliance.dsr_requests r where r.user_id = p.user_id and r.completed_at is null)
      from compliance.user_profiles p
      left join lateral (select l.reason, l.placed_at from compliance.legal_holds l
                          where l.user_id = p.user_id and l.released_at is null order by l.placed_at desc limit 1) h on true
     where p.user_id ilike v_pattern or p.username ilike v_pattern or p.email ilike v_pattern
     order by p.user_id
     limit max_rows;
  get diagnostics v_rows = row_count;
  perform compliance.log_event('subject.searched', 'gdpr', 'user_profiles', null,
    jsonb_build_object('procedure', 'find_subjects', 'rows', v_rows));
end;
$$;

ALTER FUNCTION compliance.find_subjects(query text, max_rows integer) OWNER TO compliance_owner;

--
-- Name: FUNCTION find_subjects(query text, max_rows integer); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.find_subjects(query text, max_rows integer) IS 'DPO: subjects whose user id, username or e-mail address contains query (2 to 320 characters, matched literally, case-insensitive), at most max_rows (1 to 100), with an active legal hold and the number of open requests. Audited as subject.searched with the number of rows (never the query, which may be personal data). Errors: BADRG.';

--
-- Name: forget_request_keys(); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.forget_request_keys() RETURNS bigint
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  with forgotten as (delete from compliance_private.request_keys k where k.claimed_at < now() - interval '1 day' returning 1)
  select count(*) from forgotten;
$$;

ALTER FUNCTION compliance.forget_request_keys() OWNER TO compliance_owner;

--
-- Name: FUNCTION forget_request_keys(); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.forget_request_keys() IS 'Forgets Idempotency-Keys claimed more than a day ago (a client retries within minutes); the worker calls it daily with partition maintenance. Returns how many. For the worker.';

--
-- Name: reports; Type: TABLE; Schema: compliance; Owner: compliance_owner
--

CREATE TABLE compliance.reports (
    id bigint NOT NULL,
    kind text NOT NULL,
    period_from timestamp with time zone NOT NULL,
    period_to timestamp with time zone NOT NULL,
    generated_at timestamp with time zone DEFAULT now() NOT NULL,
    generated_by text,
    complete boolean NOT NULL,
    content jsonb NOT NULL,
    content_sha256 text NOT NULL,
    CONSTRAINT reports_content_hash CHECK ((content_sha256 = encode(sha256(convert_to((content)::text, 'UTF8'::name)), 'hex'::text))),
    CONSTRAINT reports_kind_known CHECK ((kind = 'monthly'::text)),
    CONSTRAINT reports_period_ordered CHECK ((period_from < period_to))
);

ALTER TABLE ONLY compliance.reports FORCE ROW LEVEL SECURITY;

ALTER TABLE compliance.reports OWNER TO compliance_owner;

--
-- Name: TABLE reports; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON TABLE compliance.reports IS 'Compliance reports as computed (compliance.generate_monthly_report): the content JSON and its SHA-256, which is also in the audit chain (report.generated), so a report altered afterwards no longer matches. A month reported again gets a new row; the newest is current.';

--
-- Name: COLUMN reports.id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.reports.id IS 'The report.';

--
-- Name: COLUMN reports.kind; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.reports.kind IS 'monthly.';

--
-- Name: COLUMN reports.period_from; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.reports.period_from IS 'The period''s start (inclusive): the month''s first instant, UTC.';

--
-- Name: COLUMN reports.period_to; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.reports.period_to IS 'The period''s end (exclusive).';

--
-- Name: COLUMN reports.generated_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.reports.generated_at IS 'When it was computed.';

--
-- Name: COLUMN reports.generated_by; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.reports.generated_by IS 'Who asked for it (null for the worker''s monthly run); emptied when that person is erased.';

--
-- Name: COLUMN reports.complete; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.reports.complete IS 'False when computed before the period ended.';

--
-- Name: COLUMN reports.content; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.reports.content IS 'The report: {period, gdpr, retention, soc2, hipaa, audit_chain, breaches}, each figure {value, population}.';

--
-- Name: COLUMN reports.content_sha256; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.reports.content_sha256 IS 'SHA-256 (hex) of the content''s text as stored.';

--
-- Name: generate_monthly_report(date); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.generate_monthly_report(month date DEFAULT ((date_trunc('month'::text, (now() AT TIME ZONE 'UTC'::text)) - '1 mon'::interval))::date) RETURNS compliance.reports
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_from timestamptz;
  v_to timestamptz;
  v_content jsonb;
  v_row compliance.reports;
begin
  if month is null then
    perform compliance_private.raise_error('BADRG', 'name the month (any day in it)');
  end if;
  -- calendar months in UTC, whatever the session's time zone
  v_from := date_trunc('month', month::timestamp) at time zone 'UTC';
  v_to := (date_trunc('month', month::timestamp) + interval '1 month') at time zone 'UTC';
  if v_from > now() then
    perform compliance_private.raise_error('BADRG', format('%s has not begun', to_char(v_from at time zone 'UTC', 'YYYY-MM')));
  end if;
  v_content := compliance_private.monthly_report_content(v_from, v_to);
  insert into compliance.reports as r (kind, period_from, period_to, generated_by, content, content_sha256, complete)
  values ('monthly', v_from, v_to, compliance.current_actor(), v_content,
          encode(sha256(convert_to(v_content::text, 'UTF8')), 'hex'), v_to <= now())
  returning r.* into v_row;
  perform compliance_private.append_audit('report.generated', 'soc2', 'report', v_row.id::text,
    jsonb_build_object('kind', v_row.kind, 'period_from', v_row.period_from, 'period_to', v_row.period_to,
      'complete', v_row.complete, 'content_sha256', v_row.content_sha256));
  -- the DPO and the auditors learn that it is there to read
  perform compliance_private.raise_alert('report.ready',
    jsonb_build_object('report_id', v_row.id, 'kind', v_row.kind, 'period_from', v_row.period_from, 'period_to', v_row.period_to,
      'complete', v_row.complete, 'content_sha256', v_row.content_sha256));
  return v_row;
end;
$$;

ALTER FUNCTION compliance.generate_monthly_report(month date) OWNER TO compliance_owner;

--
-- Name: FUNCTION generate_monthly_report(month date); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.generate_monthly_report(month date) IS 'Computes the report of the calendar month (UTC) holding month (the previous month by default), stores it in compliance.reports and writes its SHA-256 into the audit chain (report.generated). A month still running gives a report marked complete = false. The worker runs it on day 1 at 09:00 UTC; the DPO or an auditor on demand. Errors: BADRG (no month, or one not begun). Raises a report.ready alert.';

--
-- Name: grant_access(text, text, text, text, text, integer); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.grant_access(grantee text, patient text, scope text, purpose text, reason text, days integer DEFAULT NULL::integer) RETURNS compliance.access_grants
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_row compliance.access_grants;
begin
  perform compliance_private.require_context_subject();
  if grantee is null or length(grantee) not between 1 and 256 then
    perform compliance_private.raise_error('BADRG', 'name the workforce member (grantee)');
  end if;
  if grantee = compliance.current_actor() then
    perform compliance_private.raise_error('GRSLF', 'an approver cannot grant access to themself',
      'Ask another approver.');
  end if;
  perform compliance_private.check_grant_request(patient, scope, purpose, reason, 'assignment');
  insert into compliance.access_grants as g (grantee, user_id, scope, purpose, reason, kind, requested_by,
    approved_by, approved_at, starts_at, expires_at)
  values (grant_access.grantee, patient, grant_access.scope, grant_access.purpose, grant_access.reason, 'assignment',
    compliance.current_actor(), compliance.current_actor(), now(), now(), now() + compliance_private.grant_duration(days))
  returning g.* into v_row;
  perform compliance_private.audit_access_grant('access.granted', v_row);
  return v_row;
end;
$$;

ALTER FUNCTION compliance.grant_access(grantee text, patient text, scope text, purpose text, reason text, days integer) OWNER TO compliance_owner;

--
-- Name: FUNCTION grant_access(grantee text, patient text, scope text, purpose text, reason text, days integer); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.grant_access(grantee text, patient text, scope text, purpose text, reason text, days integer) IS 'An approver gives a workforce member (grantee, never themself: GRSLF) access to a patient''s health records at once, for days (default and maximum from access_grant_settings). Audited as access.granted. Errors: GRSLF, BADRG, GRRSN, UNKSJ, ERASD.';

--
-- Name: has_consent(text, text); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.has_consent(user_id text, purpose text) RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  select coalesce((
    select c.granted from compliance.consent_records c
     where c.user_id = has_consent.user_id and c.purpose = has_consent.purpose
     order by c.recorded_at desc, c.id desc
     limit 1), false);
$$;

ALTER FUNCTION compliance.has_consent(user_id text, purpose text) OWNER TO compliance_owner;

--
-- Name: FUNCTION has_consent(user_id text, purpose text); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.has_consent(user_id text, purpose text) IS 'Whether the subject''s consent for the purpose is in force: false when never given or withdrawn. One index probe (consent_records_current_idx), cheap enough for every request.';

--
-- Name: is_under_legal_hold(text); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.is_under_legal_hold(user_id text) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  select exists (
    select from compliance.legal_holds h
    where h.user_id = is_under_legal_hold.user_id and h.released_at is null
  );
$$;

ALTER FUNCTION compliance.is_under_legal_hold(user_id text) OWNER TO compliance_owner;

--
-- Name: FUNCTION is_under_legal_hold(user_id text); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.is_under_legal_hold(user_id text) IS 'Whether the subject has an active legal hold. Readable by every role so retention and erasure can honour holds without reading the hold''s details.';

--
-- Name: keep_consent_proof_after_erasure(boolean); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.keep_consent_proof_after_erasure(keep boolean) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  if keep is null then
    perform compliance_private.raise_error('BADRG', 'say true or false');
  end if;
  update compliance.erasure_settings s set keep_consent_proof = keep_consent_proof_after_erasure.keep;
  perform compliance_private.append_audit('consent.proof_after_erasure_set', 'gdpr', 'erasure_settings', null,
    jsonb_build_object('keep_consent_proof', keep));
end;
$$;

ALTER FUNCTION compliance.keep_consent_proof_after_erasure(keep boolean) OWNER TO compliance_owner;

--
-- Name: FUNCTION keep_consent_proof_after_erasure(keep boolean); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.keep_consent_proof_after_erasure(keep boolean) IS 'DPO: whether erasure keeps the erased person''s consent records as pseudonymised proof (erased_consent_proofs, for the consent records'' retention period); true by default. Turning it off affects later erasures only; proofs already kept expire with retention. Audited. Errors: BADRG.';

--
-- Name: last_anchor(); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.last_anchor(OUT anchored_at timestamp with time zone, OUT seal_no bigint, OUT seal_hash text, OUT key_id text, OUT destination text, OUT seals_since bigint) RETURNS record
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  select a.occurred_at, (a.details ->> 'seal_no')::bigint, a.details ->> 'seal_hash', a.details ->> 'key_id', a.details ->> 'destination',
         (select count(*) from compliance.audit_seals s where s.seal_no > (a.details ->> 'seal_no')::bigint)
    from compliance.audit_logs a
   where a.action = 'audit.anchored' and a.outcome = 'success'
   order by a.id desc limit 1;
$$;

ALTER FUNCTION compliance.last_anchor(OUT anchored_at timestamp with time zone, OUT seal_no bigint, OUT seal_hash text, OUT key_id text, OUT destination text, OUT seals_since bigint) OWNER TO compliance_owner;

--
-- Name: FUNCTION last_anchor(OUT anchored_at timestamp with time zone, OUT seal_no bigint, OUT seal_hash text, OUT key_id text, OUT destination text, OUT seals_since bigint); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.last_anchor(OUT anchored_at timestamp with time zone, OUT seal_no bigint, OUT seal_hash text, OUT key_id text, OUT destination text, OUT seals_since bigint) IS 'The newest anchor recorded by compliance.record_anchor: when, which seal and hash, the signing key''s id, where it was written, and how many seals were made since (what the next anchor will cover). All NULL when none was. For the DPO and auditors.';

--
-- Name: lease_subject_export(text, text); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.lease_subject_export(user_id text, kind text DEFAULT 'access'::text) RETURNS TABLE(ticket uuid, expires_at timestamp with time zone, health_records integer)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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
$$;

ALTER FUNCTION compliance.lease_subject_export(user_id text, kind text) OWNER TO compliance_owner;

--
-- Name: FUNCTION lease_subject_export(user_id text, kind text); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.lease_subject_export(user_id text, kind text) IS 'DPO, on the primary: records an export of the subject to be read on a hot standby (pgcomply subject export --replica). It registers the completed request, writes the subject.exported and phi.read audit rows as export_subject does, and returns a ticket. The ticket lets compliance.standby_subject_export and standby_health_records read that subject on a standby for 5 minutes, once the standby has replayed this transaction. The reads are audited here, before they happen, so no read on a standby goes unrecorded. Errors: BADRG, UNKSJ, ERASD, PHIDN.';

--
-- Name: list_conversations(text); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.list_conversations(user_id text) RETURNS TABLE(conversation_id uuid, title text, created_at timestamp with time zone, last_message_at timestamp with time zone, archived boolean, message_count bigint)
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  select c.conversation_id, c.title, c.created_at, c.last_message_at, c.archived,
         (select count(*) from compliance.messages m
           where m.conversation_id = c.conversation_id and m.user_id = c.user_id)
    from compliance.conversations c
   where c.user_id = list_conversations.user_id
   order by c.last_message_at desc;
$$;

ALTER FUNCTION compliance.list_conversations(user_id text) OWNER TO compliance_owner;

--
-- Name: FUNCTION list_conversations(user_id text); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.list_conversations(user_id text) IS 'A subject''s conversations, most recent first, with message counts.';

--
-- Name: log_event(text, text, text, text, jsonb, text, jsonb, text, text); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.log_event(action text, category text, resource_type text DEFAULT NULL::text, resource_id text DEFAULT NULL::text, details jsonb DEFAULT '{}'::jsonb, subject_id text DEFAULT NULL::text, personal_details jsonb DEFAULT NULL::jsonb, outcome text DEFAULT 'success'::text, failure_reason text DEFAULT NULL::text) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  -- verification, the checks and the reports trust these actions: a login role that could write
  -- one could, for example, account for a deleted sealed row
  if compliance_private.is_reserved_action(log_event.action) then
    perform compliance_private.raise_error('RSRVD', format('the action %L is reserved for pgcomply''s own routines', log_event.action),
      'Name your event in a namespace of your own (note.added, login.failed); pgcomply writes its own records itself.');
  end if;
  if subject_id is not null and compliance_private.acting_for_one_subject()
     and subject_id is distinct from compliance.current_subject() then
    perform compliance_private.raise_error('OTHSJ',
      'the app role may log events only about the subject it acts for',
      'Leave subject_id empty or set it to the request''s own subject; events about other subjects are written by the DPO or the worker.');
  end if;
  if subject_id is not null then
    -- holds the subject against a concurrent erasure until this transaction ends, so an
    -- event about a subject cannot outlive that subject's erasure
    perform from compliance.user_profiles p where p.user_id = log_event.subject_id for key share;
    if not found then
      perform compliance_private.refuse_erased(subject_id);
    end if;
  end if;
  return compliance_private.append_audit(log_event.action, log_event.category,
    log_event.resource_type, log_event.resource_id, log_event.details, log_event.subject_id,
    log_event.personal_details, log_event.outcome, log_event.failure_reason);
end;
$$;

ALTER FUNCTION compliance.log_event(action text, category text, resource_type text, resource_id text, details jsonb, subject_id text, personal_details jsonb, outcome text, failure_reason text) OWNER TO compliance_owner;

--
-- Name: FUNCTION log_event(action text, category text, resource_type text, resource_id text, details jsonb, subject_id text, personal_details jsonb, outcome text, failure_reason text); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.log_event(action text, category text, resource_type text, resource_id text, details jsonb, subject_id text, personal_details jsonb, outcome text, failure_reason text) IS 'Appends an application event to the audit log (PHI access with the patient id in personal_details, logins, exports). details must not hold personal data: it survives erasure; put identifying values in subject_id and personal_details. The actor, client IP and user agent come from the request context. The app role may name only its own subject (OTHSJ). Returns the new row id. Actions pgcomply''s own routines write (audit.*, subject.*, retention.*, report.*, backup.*, phi.* but phi.access, …) are refused: RSRVD. Errors: ERASD for an erased subject, OTHSJ, RSRVD, BADRG.';

--
-- Name: mark_not_personal(regclass, text, text); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.mark_not_personal(relation regclass, column_name text, reason text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  if relation is null then
    perform compliance_private.raise_error('BADRG', 'no such table (give it as schema.table)');
  end if;
  if nullif(trim(reason), '') is null or length(reason) > 1000 then
    perform compliance_private.raise_error('BADRG', 'say why the column holds no personal data (1 to 1000 characters)');
  end if;
  if column_name <> '*' and not exists (select from pg_catalog.pg_attribute a
                                          where a.attrelid = relation and a.attname = column_name and a.attnum > 0 and not a.attisdropped) then
    perform compliance_private.raise_error('BADRG', format('%s has no column %L (''*'' marks the whole table)', relation, column_name));
  end if;
  insert into compliance.not_personal_columns as n (relation, column_name, reason, marked_by)
  values (relation, column_name, trim(reason), compliance.current_actor())
  on conflict on constraint not_personal_columns_pkey do update set reason = excluded.reason, marked_by = excluded.marked_by, marked_at = now();
  perform compliance_private.append_audit('personal_table.marked_not_personal', 'gdpr', 'personal_table', relation::text,
    jsonb_build_object('column', column_name, 'reason', trim(reason)));
end;
$$;

ALTER FUNCTION compliance.mark_not_personal(relation regclass, column_name text, reason text) OWNER TO compliance_owner;

--
-- Name: FUNCTION mark_not_personal(relation regclass, column_name text, reason text); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.mark_not_personal(relation regclass, column_name text, reason text) IS 'DPO or DBA: records that a column (or with column_name ''*'' a whole table) holds no personal data, and why, so the data_map check stops naming it. Audited (personal_table.marked_not_personal). Errors: BADRG.';

--
-- Name: my_access_grants(); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.my_access_grants() RETURNS SETOF compliance.access_grants
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  select g.* from compliance.access_grants g
   where g.grantee = compliance_private.require_context_subject()
   order by g.requested_at desc, g.id desc;
$$;

ALTER FUNCTION compliance.my_access_grants() OWNER TO compliance_owner;

--
-- Name: FUNCTION my_access_grants(); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.my_access_grants() IS 'The acting workforce member''s grants and requests, newest first, whatever their state. Errors: NOCTX without a request context.';

--
-- Name: access_review_campaigns; Type: TABLE; Schema: compliance; Owner: compliance_owner
--

CREATE TABLE compliance.access_review_campaigns (
    id bigint NOT NULL,
    opened_at timestamp with time zone DEFAULT now() NOT NULL,
    due_at timestamp with time zone NOT NULL,
    opened_by text,
    completed_at timestamp with time zone,
    CONSTRAINT access_review_campaigns_completed_after_opening CHECK (((completed_at IS NULL) OR (completed_at >= opened_at))),
    CONSTRAINT access_review_campaigns_due_after_opening CHECK ((due_at > opened_at))
);

ALTER TABLE ONLY compliance.access_review_campaigns FORCE ROW LEVEL SECURITY;

ALTER TABLE compliance.access_review_campaigns OWNER TO compliance_owner;

--
-- Name: TABLE access_review_campaigns; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON TABLE compliance.access_review_campaigns IS 'Access review campaigns (SOC 2 CC6.2, CC6.3): each a snapshot of who could reach the data when it was opened (compliance.open_access_review), reviewed item by item.';

--
-- Name: COLUMN access_review_campaigns.id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_review_campaigns.id IS 'The campaign.';

--
-- Name: COLUMN access_review_campaigns.opened_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_review_campaigns.opened_at IS 'When the snapshot was taken.';

--
-- Name: COLUMN access_review_campaigns.due_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_review_campaigns.due_at IS 'When every item should be decided; unfinished after it, the access_review check fails.';

--
-- Name: COLUMN access_review_campaigns.opened_by; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_review_campaigns.opened_by IS 'The actor who opened it (null for the worker''s weekly run); emptied when that person is erased.';

--
-- Name: COLUMN access_review_campaigns.completed_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_review_campaigns.completed_at IS 'When its last item was decided.';

--
-- Name: open_access_review(interval); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.open_access_review(due_in interval DEFAULT '7 days'::interval) RETURNS compliance.access_review_campaigns
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_campaign compliance.access_review_campaigns;
begin
  if due_in is null or due_in <= interval '0' or due_in > interval '90 days' then
    perform compliance_private.raise_error('BADRG', 'due_in must be more than nothing and at most 90 days');
  end if;
  insert into compliance.access_review_campaigns as c (opened_at, due_at, opened_by)
  values (clock_timestamp(), clock_timestamp() + due_in, compliance.current_actor())
  returning c.* into v_campaign;

  -- every login that can act as a pgcomply role, with the roles it can use (inherited too)
  insert into compliance.access_review_items (campaign_id, kind, login_name, roles)
  select v_campaign.id, 'database_login', l.rolname,
         array_agg(g.rolname::text order by g.rolname)
    from pg_catalog.pg_roles l
    join pg_catalog.pg_roles g on g.rolname like 'compliance\_%' and g.oid <> l.oid
   where l.rolcanlogin and pg_catalog.pg_has_role(l.oid, g.oid, 'MEMBER')
   group by l.rolname;

  -- every application actor who acted as dpo, approver or staff in the last 90 days
  insert into compliance.access_review_items (campaign_id, kind, actor_id, roles, last_used_at)
  select v_campaign.id, 'application_actor', u.actor_id, array_agg(distinct u.role order by u.role), max(u.occurred_at)
    from (select a.actor_id, coalesce(r.role, a.details ->> 'actor_role') as role, a.occurred_at
            from compliance.audit_logs a
            left join compliance.access_review_role_actions r on r.action = a.action
           where a.occurred_at >= v_campaign.opened_at - interval '90 days'
             and a.actor_id is not null
             and (r.role is not null or a.details ->> 'actor_role' in ('dpo', 'approver', 'staff'))) u
   group by u.actor_id;

  -- every access grant in force now, with who granted it (the grantee for break-glass)
  insert into compliance.access_review_items (campaign_id, kind, actor_id, grant_id, roles, granted_by)
  select v_campaign.id, 'access_grant', g.grantee, g.id, array[g.scope],
         case when g.kind = 'emergency' then g.grantee else g.approved_by end
    from compliance.access_grants g
   where g.revoked_at is null and g.denied_at is null
     and (g.kind = 'emergency' or g.approved_at is not null)
     and g.starts_at <= v_campaign.opened_at and g.expires_at > v_campaign.opened_at;

  perform compliance_private.append_audit('access_review.opened', 'soc2', 'access_review_campaign', v_campaign.id::text,
    (select jsonb_build_object('due_at', v_campaign.due_at, 'items', count(*),
              'database_logins', count(*) filter (where i.kind = 'database_login'),
              'application_actors', count(*) filter (where i.kind = 'application_actor'),
              'access_grants', count(*) filter (where i.kind = 'access_grant'))
       from compliance.access_review_items i where i.campaign_id = v_campaign.id));
  -- the reviewers learn that a campaign waits for them
  perform compliance_private.raise_alert('access_review.opened',
    (select jsonb_build_object('campaign_id', v_campaign.id, 'due_at', v_campaign.due_at, 'items', count(*))
       from compliance.access_review_items i where i.campaign_id = v_campaign.id));
  return v_campaign;
end;
$$;

ALTER FUNCTION compliance.open_access_review(due_in interval) OWNER TO compliance_owner;

--
-- Name: FUNCTION open_access_review(due_in interval); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.open_access_review(due_in interval) IS 'Opens an access review campaign (SOC 2 CC6.2, CC6.3): a snapshot, taken now, of every database login with the pgcomply roles it can use, every application actor who acted as dpo, approver or staff in the last 90 days (from the audit log: the action''s role in access_review_role_actions, or the actor_role the PHI and grant functions record), and every access grant in force. Due in due_in (7 days). The worker opens one every Monday at 09:00 UTC; a DPO on demand. Audited as access_review.opened with the counts. Errors: BADRG. Raises an access_review.opened alert for the reviewers.';

--
-- Name: open_breach(timestamp with time zone, text, text[], integer, text, text[]); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.open_breach(discovered_at timestamp with time zone, description text, data_categories text[] DEFAULT '{}'::text[], affected_count integer DEFAULT NULL::integer, risk_assessment text DEFAULT NULL::text, affected_user_ids text[] DEFAULT NULL::text[]) RETURNS compliance.breaches
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_row compliance.breaches;
  v_unknown text[];
begin
  if discovered_at is null or discovered_at > clock_timestamp() then
    perform compliance_private.raise_error('BADRG', 'discovered_at must be given and not in the future');
  end if;
  if description is null or length(trim(description)) not between 1 and 4000 then
    perform compliance_private.raise_error('BADRG', 'describe the breach (1 to 4000 characters)');
  end if;
  select coalesce(array_agg(u), '{}') into v_unknown from unnest(coalesce(affected_user_ids, '{}')) u
   where not exists (select from compliance.user_profiles p where p.user_id = u);
  if cardinality(v_unknown) > 0 then
    perform compliance_private.raise_error('UNKSJ', format('no subject with user id %s', array_to_string(v_unknown, ', ')),
      'List only subjects who exist; give the others in affected_count.');
  end if;
  insert into compliance.breaches as b (discovered_at, description, data_categories, affected_count, risk_assessment, opened_by)
  values (open_breach.discovered_at, open_breach.description, coalesce(open_breach.data_categories, '{}'),
    greatest(coalesce(open_breach.affected_count, 0), cardinality(coalesce(affected_user_ids, '{}'))),
    open_breach.risk_assessment, compliance.current_actor())
  returning b.* into v_row;
  insert into compliance.breach_subjects (breach_id, user_id)
  select v_row.id, u from unnest(coalesce(affected_user_ids, '{}')) u on conflict do nothing;
  perform compliance_private.audit_breach('breach.opened', v_row);
  return v_row;
end;
$$;

ALTER FUNCTION compliance.open_breach(discovered_at timestamp with time zone, description text, data_categories text[], affected_count integer, risk_assessment text, affected_user_ids text[]) OWNER TO compliance_owner;

--
-- Name: FUNCTION open_breach(discovered_at timestamp with time zone, description text, data_categories text[], affected_count integer, risk_assessment text, affected_user_ids text[]); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.open_breach(discovered_at timestamp with time zone, description text, data_categories text[], affected_count integer, risk_assessment text, affected_user_ids text[]) IS 'The DPO registers a breach discovered at discovered_at (the deadlines count from it), with the data categories, the number affected (at least the subjects listed in affected_user_ids, who will see the notice in their export) and the risk assessment. Audited as breach.opened. Errors: BADRG, UNKSJ.';

--
-- Name: open_request(text, text[], inet, text, uuid, interval, text, text, text, jsonb); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.open_request(actor text, roles text[], client_ip inet, user_agent text, session_id uuid, idle_timeout interval DEFAULT '00:15:00'::interval, username text DEFAULT NULL::text, email text DEFAULT NULL::text, full_name text DEFAULT NULL::text, authentication jsonb DEFAULT NULL::jsonb) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  if authentication is not null and (jsonb_typeof(authentication) <> 'object' or jsonb_typeof(authentication -> 'mfa') <> 'boolean'
                                     or jsonb_typeof(authentication -> 'amr') <> 'array') then
    perform compliance_private.raise_error('BADRG', 'authentication must be {amr: [...], acr, mfa: true|false, auth_time}');
  end if;
  perform compliance.set_request_context(actor, roles, client_ip, user_agent);
  -- every audit row of the request carries it (append_audit, the row triggers)
  perform set_config('compliance.authentication', coalesce(authentication::text, ''), true);
  -- first sight of a subject creates its profile from the identity provider's claims
  perform compliance.ensure_profile(actor, username, email, full_name);
  perform compliance.touch_session(actor, session_id, idle_timeout);
end;
$$;

ALTER FUNCTION compliance.open_request(actor text, roles text[], client_ip inet, user_agent text, session_id uuid, idle_timeout interval, username text, email text, full_name text, authentication jsonb) OWNER TO compliance_owner;

--
-- Name: FUNCTION open_request(actor text, roles text[], client_ip inet, user_agent text, session_id uuid, idle_timeout interval, username text, email text, full_name text, authentication jsonb); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.open_request(actor text, roles text[], client_ip inet, user_agent text, session_id uuid, idle_timeout interval, username text, email text, full_name text, authentication jsonb) IS 'The first call of an API request transaction, after SET LOCAL ROLE compliance_app: sets the request context (the actor is the authenticated subject), creates the subject''s profile on first sight (ensure_profile) and records activity in its session (touch_session). authentication: what the token proved for a privileged request ({amr, acr, mfa, auth_time}, server/auth/assurance.ts), written into every audit row of the request; NULL for a subject''s own request. Errors: ERASD for an erased subject, SESXP for an idle or closed session.';

--
-- Name: dsr_open_requests; Type: VIEW; Schema: compliance; Owner: compliance_owner
--

CREATE VIEW compliance.dsr_open_requests WITH (security_invoker='true') AS
 SELECT r.id,
    r.user_id,
    r.kind,
    r.status,
    r.received_at,
    r.due_at,
    (r.due_at < now()) AS overdue,
    (GREATEST((0)::numeric, EXTRACT(day FROM (r.due_at - now()))))::integer AS days_left
   FROM compliance.dsr_requests r
  WHERE (r.completed_at IS NULL)
  ORDER BY r.due_at;

ALTER TABLE compliance.dsr_open_requests OWNER TO compliance_owner;

--
-- Name: VIEW dsr_open_requests; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON VIEW compliance.dsr_open_requests IS 'Requests not yet completed, earliest deadline first, with overdue and days_left: what a DPO must answer next.';

--
-- Name: COLUMN dsr_open_requests.id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.dsr_open_requests.id IS 'The request''s id (dsr_requests.id).';

--
-- Name: COLUMN dsr_open_requests.user_id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.dsr_open_requests.user_id IS 'The data subject who asked.';

--
-- Name: COLUMN dsr_open_requests.kind; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.dsr_open_requests.kind IS 'access, portability, rectification, erasure, restriction or objection.';

--
-- Name: COLUMN dsr_open_requests.status; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.dsr_open_requests.status IS 'received or in_progress (open requests only).';

--
-- Name: COLUMN dsr_open_requests.received_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.dsr_open_requests.received_at IS 'When the request arrived; the one-month deadline counts from it.';

--
-- Name: COLUMN dsr_open_requests.due_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.dsr_open_requests.due_at IS 'When the answer is due (GDPR Art. 12(3): one month, extendable).';

--
-- Name: COLUMN dsr_open_requests.overdue; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.dsr_open_requests.overdue IS 'Whether due_at has passed.';

--
-- Name: COLUMN dsr_open_requests.days_left; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.dsr_open_requests.days_left IS 'Whole days until due_at (0 once due or overdue).';

--
-- Name: open_requests(); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.open_requests() RETURNS SETOF compliance.dsr_open_requests
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_rows bigint;
begin
  return query select * from compliance.dsr_open_requests r order by r.due_at;
  get diagnostics v_rows = row_count;
  perform compliance.log_event('dsr.register_read', 'gdpr', 'dsr_register', null,
    jsonb_build_object('procedure', 'open_requests', 'rows', v_rows));
end;
$$;

ALTER FUNCTION compliance.open_requests() OWNER TO compliance_owner;

--
-- Name: FUNCTION open_requests(); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.open_requests() IS 'DPO: the open data subject requests, the soonest due first (the dsr_open_requests view, read and audited as dsr.register_read).';

--
-- Name: pending_access_requests(); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.pending_access_requests() RETURNS SETOF compliance.access_grants
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  select g.* from compliance.access_grants g
   where g.kind = 'assignment' and g.approved_at is null and g.denied_at is null and g.revoked_at is null
   order by g.requested_at, g.id;
$$;

ALTER FUNCTION compliance.pending_access_requests() OWNER TO compliance_owner;

--
-- Name: FUNCTION pending_access_requests(); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.pending_access_requests() IS 'Access requests waiting for an approver, oldest first.';

--
-- Name: personal_table_sql(regclass); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.personal_table_sql(relation regclass) RETURNS TABLE(subject_rows text, own_rows text, subject_of_row text, key_of_row text, key_in_ids text, subject_type text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
declare
  v_table compliance.personal_tables;
  v_own text;
begin
  select * into strict v_table from compliance.personal_tables p where p.relation = personal_table_sql.relation;
  subject_type := v_table.subject_type;
  -- a predicate on alias t that finds one subject's rows ($1) through an index on the subject
  -- column, and an expression of a transition-table row r that names its subject
  -- own_rows, the same for the request's subject in a policy: compared as text unless the column
  -- is text, since a subject id that is no uuid must find nothing rather than fail the query
  v_own := case when v_table.subject_type = 'text' then '(select compliance.current_subject())' end;
  if v_table.subject_via is null then
    subject_rows := format('t.%I = $1::%s', v_table.subject_column, v_table.subject_type);
    own_rows := case when v_own is not null then format('%I = %s', v_table.subject_column, v_own)
                     else format('%I::text = (select compliance.current_subject())', v_table.subject_column) end;
    subject_of_row := format('r.%I::text', v_table.subject_column);
  else
    subject_rows := format('t.%I in (select v.%I from %s v where v.%I = $1::%s)', v_table.subject_column, v_table.subject_via_key,
      v_table.subject_via, v_table.subject_via_column, v_table.subject_type);
    own_rows := format('%I in (select v.%I from %s v where %s)', v_table.subject_column, v_table.subject_via_key, v_table.subject_via,
      case when v_own is not null then format('v.%I = %s', v_table.subject_via_column, v_own)
           else format('v.%I::text = (select compliance.current_subject())', v_table.subject_via_column) end);
    subject_of_row := format('(select v.%I::text from %s v where v.%I = r.%I)', v_table.subject_via_column, v_table.subject_via,
      v_table.subject_via_key, v_table.subject_column);
  end if;
  key_of_row := (select string_agg(format('r.%I::text', k), ' || '','' || ' order by o) from unnest(v_table.key_columns) with ordinality u(k, o));
  -- rows of r whose keys are in $1 (text[], as key_of_row gives them): through the key's index
  -- when it has one column
  key_in_ids := case when cardinality(v_table.key_columns) = 1
    then format('r.%I = any ($1::%s[])', v_table.key_columns[1],
                (select pg_catalog.format_type(a.atttypid, a.atttypmod) from pg_catalog.pg_attribute a
                  where a.attrelid = relation and a.attname = v_table.key_columns[1]))
    else format('(%s) = any ($1)', key_of_row) end;
  return next;
end;
$_$;

ALTER FUNCTION compliance.personal_table_sql(relation regclass) OWNER TO compliance_owner;

--
-- Name: FUNCTION personal_table_sql(relation regclass); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.personal_table_sql(relation regclass) IS 'The SQL fragments registration, erasure, export, retention and the audit trigger build their statements from for a registered table: subject_rows, a predicate on alias t for one subject''s rows ($1, cast to the subject column''s type, through the foreign key when the subject is reached through one); own_rows, the subject_own_rows policy''s predicate for the request''s subject; subject_of_row, the subject of a row r as text; key_of_row, its primary key as text; key_in_ids, a predicate on r for the rows whose keys are in $1; subject_type. Metadata only (names of tables and columns, as the catalog shows them), so anyone may ask; raises when the table is not registered.';

--
-- Name: phi_access(text, text, text, uuid); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.phi_access(patient text, purpose text, intent text, record_id uuid DEFAULT NULL::uuid) RETURNS TABLE(allowed boolean, reason text, key_version integer, wrapped_key bytea, kek_version integer, category text, recorded_at timestamp with time zone, version integer)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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
$$;

ALTER FUNCTION compliance.phi_access(patient text, purpose text, intent text, record_id uuid) OWNER TO compliance_owner;

--
-- Name: FUNCTION phi_access(patient text, purpose text, intent text, record_id uuid); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.phi_access(patient text, purpose text, intent text, record_id uuid) IS 'Asks whether the caller may read, create, update or delete (intent) the patient''s health records for a purpose of use (treatment, payment, operations, emergency, patient_request). One row: allowed and, when it is, the patient''s newest wrapped data key (NULL before the first record; the server makes one), the record''s category, recorded_at and current version for an update (else the database''s time, to the millisecond, and no version): the server binds the next version into the new integrity code. A refusal returns allowed = false with the reason (to staff, an unknown or erased patient reads as no_active_grant; the audit row keeps unknown_patient) and writes a phi.denied audit row, without raising: commit, and the refusal stays on record. The server calls it before a write whose patient key it does not hold, and after a read that returned nothing, to learn why.';

--
-- Name: phi_access_log(bigint, integer, boolean); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.phi_access_log(before_id bigint DEFAULT NULL::bigint, page_size integer DEFAULT 50, others_only boolean DEFAULT false) RETURNS TABLE(id bigint, occurred_at timestamp with time zone, action text, actor_id text, actor_role text, purpose text, record_ids jsonb, outcome text, failure_reason text, grant_id bigint, emergency boolean)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  select * from compliance_private.access_log_entries(compliance_private.require_context_subject(), others_only, before_id, page_size);
$$;

ALTER FUNCTION compliance.phi_access_log(before_id bigint, page_size integer, others_only boolean) OWNER TO compliance_owner;

--
-- Name: FUNCTION phi_access_log(before_id bigint, page_size integer, others_only boolean); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.phi_access_log(before_id bigint, page_size integer, others_only boolean) IS '"Who accessed my data" for the request''s subject, newest first, a page at a time (before_id: the last id of the previous page): every access to their health records and every refused attempt (phi.*), and every action someone else (the DPO, the system) took about them: when, who, in which role, for what purpose, which records, the outcome, and the access grant with whether it was an emergency (break-glass) access. others_only leaves out the subject''s own reads of their records. Errors: NOCTX without a request context, BADRG.';

--
-- Name: phi_audit_events(text, timestamp with time zone, bigint, integer); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.phi_audit_events(patient text DEFAULT NULL::text, since timestamp with time zone DEFAULT NULL::timestamp with time zone, after_id bigint DEFAULT 0, max_rows integer DEFAULT 200) RETURNS TABLE(id bigint, occurred_at timestamp with time zone, action text, outcome text, failure_reason text, user_id text, actor_id text, actor_role text, purpose text, intent text, record_ids jsonb, ip_address text, user_agent text, grant_id bigint, grant_kind text)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_count bigint;
  v_known boolean := false;
begin
  if max_rows is null or max_rows not between 1 and 1000 then
    perform compliance_private.raise_error('BADRG', 'max_rows must be between 1 and 1000');
  end if;
  if patient is not null then
    perform from compliance.user_profiles p where p.user_id = phi_audit_events.patient for key share;
    v_known := found;
  end if;
  return query
    select a.id, a.occurred_at, a.action, a.outcome, a.failure_reason, a.user_id, a.actor_id,
           a.details ->> 'actor_role', a.details ->> 'purpose', a.details ->> 'intent',
           coalesce(a.details -> 'record_ids', '[]'::jsonb), host(a.ip_address), a.user_agent,
           (a.details ->> 'grant_id')::bigint, a.details ->> 'grant_kind'
      from compliance.audit_logs a
     where a.action in ('phi.read', 'phi.created', 'phi.updated', 'phi.deleted', 'phi.denied', 'phi.integrity_failure')
       and (phi_audit_events.patient is null or a.user_id = phi_audit_events.patient)
       and (phi_audit_events.since is null or a.occurred_at >= phi_audit_events.since)
       and a.id > coalesce(phi_audit_events.after_id, 0)
     order by a.id
     limit max_rows;
  get diagnostics v_count = row_count;
  -- reading who accessed a patient's records is itself an access to personal data; an unknown
  -- or erased patient is not named
  perform compliance_private.append_audit('audit.phi_events_read', 'hipaa', 'audit_log', null,
    jsonb_build_object('rows', v_count, 'since', since, 'after_id', after_id, 'one_patient', patient is not null),
    case when v_known then patient end);
end;
$$;

ALTER FUNCTION compliance.phi_audit_events(patient text, since timestamp with time zone, after_id bigint, max_rows integer) OWNER TO compliance_owner;

--
-- Name: FUNCTION phi_audit_events(patient text, since timestamp with time zone, after_id bigint, max_rows integer); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.phi_audit_events(patient text, since timestamp with time zone, after_id bigint, max_rows integer) IS 'The PHI access log (phi.read, created, updated, deleted, denied, integrity_failure), oldest first from after_id, for one patient or all, since a time: who, in which role, from which address, for what purpose, which records, under which access grant, the outcome. The server turns it into FHIR AuditEvent resources. For the DPO and the auditor; each call is audited (audit.phi_events_read). Errors: BADRG.';

--
-- Name: subject_keys; Type: TABLE; Schema: compliance_private; Owner: compliance_owner
--

CREATE TABLE compliance_private.subject_keys (
    user_id text NOT NULL,
    key_version integer DEFAULT 1 NOT NULL,
    wrapped_key bytea NOT NULL,
    kek_version integer NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    rewrapped_at timestamp with time zone,
    CONSTRAINT subject_keys_kek_version_positive CHECK ((kek_version > 0)),
    CONSTRAINT subject_keys_key_version_positive CHECK ((key_version > 0)),
    CONSTRAINT subject_keys_wrapped_key_length CHECK ((octet_length(wrapped_key) = 60))
);

ALTER TABLE ONLY compliance_private.subject_keys FORCE ROW LEVEL SECURITY;

ALTER TABLE compliance_private.subject_keys OWNER TO compliance_owner;

--
-- Name: TABLE subject_keys; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON TABLE compliance_private.subject_keys IS 'Each patient''s data key (DEK), stored only wrapped (AES-256-GCM) by the master key (KEK) version kek_version, which never enters the database. Erasure deletes the row: the patient''s ciphertext left in WAL, replicas or older backups can then no longer be decrypted with the keys the live database holds (crypto-shredding; db/README.md says what it does not cover).';

--
-- Name: COLUMN subject_keys.user_id; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.subject_keys.user_id IS 'The patient; the key goes with the profile.';

--
-- Name: COLUMN subject_keys.key_version; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.subject_keys.key_version IS 'Which data key of the patient (records name it in key_version); 1 unless the patient was re-keyed.';

--
-- Name: COLUMN subject_keys.wrapped_key; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.subject_keys.wrapped_key IS 'nonce || ciphertext || tag of the data key under the master key, associated data binding patient, key version and master key version.';

--
-- Name: COLUMN subject_keys.kek_version; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.subject_keys.kek_version IS 'The master key version that wrapped it; key rotation rewraps it under a newer one.';

--
-- Name: COLUMN subject_keys.created_at; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.subject_keys.created_at IS 'When the key was made (the patient''s first record).';

--
-- Name: COLUMN subject_keys.rewrapped_at; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.subject_keys.rewrapped_at IS 'When a key rotation last rewrapped it; NULL if never.';

--
-- Name: phi_key_versions(); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.phi_key_versions() RETURNS TABLE(kek_version integer, data_keys bigint)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    BEGIN ATOMIC
 SELECT k.kek_version,
     count(*) AS data_keys
    FROM compliance_private.subject_keys k
   GROUP BY k.kek_version
   ORDER BY k.kek_version;
END;

ALTER FUNCTION compliance.phi_key_versions() OWNER TO compliance_owner;

--
-- Name: FUNCTION phi_key_versions(); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.phi_key_versions() IS 'Which master key versions wrap the stored data keys, and how many each: the server checks at start that it holds every one, and a rotation is done when only the new version is left.';

--
-- Name: legal_holds; Type: TABLE; Schema: compliance; Owner: compliance_owner
--

CREATE TABLE compliance.legal_holds (
    id bigint NOT NULL,
    user_id text NOT NULL,
    reason text NOT NULL,
    placed_at timestamp with time zone DEFAULT now() NOT NULL,
    placed_by text DEFAULT compliance.current_actor(),
    released_at timestamp with time zone,
    released_by text,
    CONSTRAINT legal_holds_reason_length CHECK (((length(reason) >= 1) AND (length(reason) <= 1000))),
    CONSTRAINT legal_holds_release_after_place CHECK (((released_at IS NULL) OR (released_at >= placed_at)))
);

ALTER TABLE ONLY compliance.legal_holds FORCE ROW LEVEL SECURITY;

ALTER TABLE compliance.legal_holds OWNER TO compliance_owner;

--
-- Name: TABLE legal_holds; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON TABLE compliance.legal_holds IS 'Legal holds (GDPR Art. 17(3)(e)): while a hold is active (released_at is NULL), erasure and deleting the profile are refused (LHOLD), retention skips the subject''s rows, and an expired audit month holding rows about or by the subject is kept (audit.partition_kept). One active hold per subject.';

--
-- Name: COLUMN legal_holds.id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.legal_holds.id IS 'Hold identifier.';

--
-- Name: COLUMN legal_holds.user_id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.legal_holds.user_id IS 'Personal: the subject under hold.';

--
-- Name: COLUMN legal_holds.reason; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.legal_holds.reason IS 'Personal (may name the matter): why the data must be kept.';

--
-- Name: COLUMN legal_holds.placed_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.legal_holds.placed_at IS 'When the hold was placed.';

--
-- Name: COLUMN legal_holds.placed_by; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.legal_holds.placed_by IS 'Who placed the hold (the request actor); NULL once that person was erased.';

--
-- Name: COLUMN legal_holds.released_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.legal_holds.released_at IS 'When it was released; NULL while active.';

--
-- Name: COLUMN legal_holds.released_by; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.legal_holds.released_by IS 'Who released the hold; NULL while it holds, or once that person was erased.';

--
-- Name: place_legal_hold(text, text); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.place_legal_hold(user_id text, reason text) RETURNS compliance.legal_holds
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_hold compliance.legal_holds;
begin
  perform compliance_private.require_subject(user_id);
  if compliance.is_under_legal_hold(user_id) then
    perform compliance_private.raise_error('HOLDA', 'the subject is already under an active legal hold',
      'Release it first, or keep the existing hold.');
  end if;
  insert into compliance.legal_holds (user_id, reason) values (place_legal_hold.user_id, place_legal_hold.reason)
    returning * into v_hold;
  return v_hold;
end;
$$;

ALTER FUNCTION compliance.place_legal_hold(user_id text, reason text) OWNER TO compliance_owner;

--
-- Name: FUNCTION place_legal_hold(user_id text, reason text); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.place_legal_hold(user_id text, reason text) IS 'DPO: places a legal hold; erasure is refused (LHOLD) and retention skips the subject until it is released. Audited as legal_hold.placed. Errors: UNKSJ, ERASD, HOLDA.';

--
-- Name: read_health_records(text, text, uuid[]); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.read_health_records(patient text, purpose text, record_ids uuid[] DEFAULT NULL::uuid[]) RETURNS TABLE(id uuid, category text, classification text, recorded_by text, recorded_at timestamp with time zone, updated_at timestamp with time zone, key_version integer, ciphertext bytea, integrity bytea, wrapped_key bytea, kek_version integer, version integer, integrity_scheme smallint, version_check text)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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
$$;

ALTER FUNCTION compliance.read_health_records(patient text, purpose text, record_ids uuid[]) OWNER TO compliance_owner;

--
-- Name: FUNCTION read_health_records(patient text, purpose text, record_ids uuid[]); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.read_health_records(patient text, purpose text, record_ids uuid[]) IS 'The patient''s health records (all, or those in record_ids), oldest first, as ciphertext with the integrity code, the version and the wrapped data key: the server checks the integrity code, unwraps the key and decrypts. version_check compares the stored version and integrity code with the newest write of the record in the audit chain: newest; not_the_recorded_version (rolled back or replaced: the server withholds it and reports it); written_before_version_binding (a record not written since migration 000043, its integrity code of scheme 1, binds no version); no_write_in_audit_log (its write rows aged out of the audit log). Audited as phi.read with the record ids returned (intent search without record_ids, else read). A refused caller gets no rows and a phi.denied audit row (see phi_access, which says why).';

--
-- Name: alert_outbox; Type: TABLE; Schema: compliance; Owner: compliance_owner
--

CREATE TABLE compliance.alert_outbox (
    id bigint NOT NULL,
    topic text NOT NULL,
    payload jsonb DEFAULT '{}'::jsonb NOT NULL,
    user_id text,
    actor_id text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    state text DEFAULT 'pending'::text NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    next_attempt_at timestamp with time zone DEFAULT now() NOT NULL,
    last_attempt_at timestamp with time zone,
    last_error text,
    delivered_at timestamp with time zone,
    delivered_via text,
    CONSTRAINT alert_outbox_delivered_via_known CHECK (((delivered_via IS NULL) OR (delivered_via = ANY (ARRAY['webhook'::text, 'log'::text])))),
    CONSTRAINT alert_outbox_delivered_when CHECK (((state = 'delivered'::text) = (delivered_at IS NOT NULL))),
    CONSTRAINT alert_outbox_payload_object CHECK ((jsonb_typeof(payload) = 'object'::text)),
    CONSTRAINT alert_outbox_state_known CHECK ((state = ANY (ARRAY['pending'::text, 'delivered'::text, 'failed'::text]))),
    CONSTRAINT alert_outbox_topic_format CHECK ((topic ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$'::text))
);

ALTER TABLE ONLY compliance.alert_outbox FORCE ROW LEVEL SECURITY;

ALTER TABLE compliance.alert_outbox OWNER TO compliance_owner;

--
-- Name: TABLE alert_outbox; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON TABLE compliance.alert_outbox IS 'The transactional outbox of alerts (emergency access, an inappropriate review, later compliance checks): a row is written in the transaction that raises the alert; the worker delivers it to ALERT_WEBHOOK_URL (HMAC-signed) or, without one, to its log, retrying with backoff, and records each attempt and the final state here.';

--
-- Name: COLUMN alert_outbox.id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.alert_outbox.id IS 'The alert; the webhook body carries it, so a receiver can drop a repeat.';

--
-- Name: COLUMN alert_outbox.topic; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.alert_outbox.topic IS 'What happened, dotted lower case (phi.emergency_access, phi.emergency_review_inappropriate).';

--
-- Name: COLUMN alert_outbox.payload; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.alert_outbox.payload IS 'The alert''s facts, never a name: grant ids, times, counts.';

--
-- Name: COLUMN alert_outbox.user_id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.alert_outbox.user_id IS 'The patient the alert is about, if any; emptied on their erasure.';

--
-- Name: COLUMN alert_outbox.actor_id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.alert_outbox.actor_id IS 'The workforce member the alert is about, if any; emptied on their erasure.';

--
-- Name: COLUMN alert_outbox.created_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.alert_outbox.created_at IS 'When the alert was raised (its transaction''s time).';

--
-- Name: COLUMN alert_outbox.state; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.alert_outbox.state IS 'pending (to deliver), delivered, or failed (gave up after the last attempt; also logged).';

--
-- Name: COLUMN alert_outbox.attempts; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.alert_outbox.attempts IS 'Delivery attempts so far.';

--
-- Name: COLUMN alert_outbox.next_attempt_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.alert_outbox.next_attempt_at IS 'When the next attempt is due; a claimed alert is leased until then, so one whose worker died is tried again.';

--
-- Name: COLUMN alert_outbox.last_attempt_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.alert_outbox.last_attempt_at IS 'When delivery was last tried.';

--
-- Name: COLUMN alert_outbox.last_error; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.alert_outbox.last_error IS 'Why the last attempt failed.';

--
-- Name: COLUMN alert_outbox.delivered_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.alert_outbox.delivered_at IS 'When it was delivered.';

--
-- Name: COLUMN alert_outbox.delivered_via; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.alert_outbox.delivered_via IS 'webhook, or log when no webhook is configured.';

--
-- Name: record_alert_delivery(bigint, text, text, integer); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.record_alert_delivery(alert_id bigint, outcome text, error text DEFAULT NULL::text, retry_in_seconds integer DEFAULT NULL::integer) RETURNS compliance.alert_outbox
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_row compliance.alert_outbox;
begin
  if outcome is null or outcome not in ('webhook', 'log', 'retry', 'failed') then
    perform compliance_private.raise_error('BADRG', format('outcome %L is unknown', outcome), 'Use webhook, log, retry or failed.');
  end if;
  if outcome = 'retry' and (retry_in_seconds is null or retry_in_seconds not between 1 and 86400) then
    perform compliance_private.raise_error('BADRG', 'a retry needs retry_in_seconds between 1 and 86400');
  end if;
  update compliance.alert_outbox a
     set state = case outcome when 'retry' then 'pending' when 'failed' then 'failed' else 'delivered' end,
         delivered_at = case when outcome in ('webhook', 'log') then now() end,
         delivered_via = case when outcome in ('webhook', 'log') then outcome end,
         next_attempt_at = case when outcome = 'retry' then now() + make_interval(secs => retry_in_seconds) else a.next_attempt_at end,
         last_error = left(error, 1000)
   where a.id = alert_id and a.state = 'pending'
  returning a.* into v_row;
  if not found then
    perform compliance_private.raise_error('GRNOT', format('no pending alert %s', coalesce(alert_id::text, 'NULL')));
  end if;
  return v_row;
end;
$$;

ALTER FUNCTION compliance.record_alert_delivery(alert_id bigint, outcome text, error text, retry_in_seconds integer) OWNER TO compliance_owner;

--
-- Name: FUNCTION record_alert_delivery(alert_id bigint, outcome text, error text, retry_in_seconds integer); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.record_alert_delivery(alert_id bigint, outcome text, error text, retry_in_seconds integer) IS 'The worker records what became of an attempt: delivered by webhook or to the log, retry (after retry_in_seconds, with the error), or failed for good (with the error). Worker role only. Errors: BADRG, GRNOT (not pending).';

--
-- Name: record_anchor(bigint, text, text, text, jsonb, text); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.record_anchor(seal_no bigint, seal_hash text, key_fingerprint text, signature text, signed jsonb, destination text) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
declare
  v_configured text := (select s.anchor_key_fingerprint from compliance.compliance_check_settings s);
  v_signature bytea;
begin
  if key_fingerprint is null or key_fingerprint !~ '^[0-9a-f]{64}$' or destination is null or length(destination) not between 1 and 1024
     or signed is null or jsonb_typeof(signed) <> 'object' or jsonb_typeof(signed -> 'erasures') is distinct from 'array' then
    perform compliance_private.raise_error('BADRG', 'an anchor needs the signing key''s fingerprint (64 hex), its signature, what was signed and where it was written');
  end if;
  begin
    v_signature := decode(signature, 'base64');
  exception when others then
    v_signature := null;
  end;
  if v_signature is null or length(v_signature) <> 64 then
    perform compliance_private.raise_error('BADRG', 'an anchor''s signature is 64 bytes of Ed25519, in base64');
  end if;
  -- what was signed must be this anchor: the same seal, under the key the fingerprint names
  if signed ->> 'seal_no' is distinct from record_anchor.seal_no::text or signed ->> 'seal_hash' is distinct from record_anchor.seal_hash
     or signed ->> 'key_id' is distinct from left(record_anchor.key_fingerprint, 16) then
    perform compliance_private.raise_error('BADRG', 'what was signed names another seal or another key than the anchor');
  end if;
  if v_configured is not null and v_configured <> key_fingerprint then
    perform compliance_private.raise_error('BADRG', format('the anchor is signed with key %s, not the configured anchor key %s', left(key_fingerprint, 16), left(v_configured, 16)),
      'The worker sets the configured key from ANCHOR_SIGNING_KEY (compliance.set_anchor_key).');
  end if;
  if not exists (select from compliance.audit_seals s where s.seal_no = record_anchor.seal_no and encode(s.seal_hash, 'hex') = record_anchor.seal_hash) then
    perform compliance_private.raise_error('BADRG', format('seal %s with hash %s is not in the chain: an anchor names a seal as it is', record_anchor.seal_no, record_anchor.seal_hash));
  end if;
  return compliance_private.append_audit('audit.anchored', 'soc2', 'audit_seal', record_anchor.seal_no::text,
    jsonb_build_object('seal_no', record_anchor.seal_no, 'seal_hash', record_anchor.seal_hash, 'key_id', left(record_anchor.key_fingerprint, 16),
      'key_fingerprint', record_anchor.key_fingerprint, 'signature', record_anchor.signature, 'signed', record_anchor.signed,
      'erasures', jsonb_array_length(record_anchor.signed -> 'erasures'), 'destination', record_anchor.destination,
      -- whether the login that recorded it (which SET ROLE cannot change) is the worker's: the
      -- anchors check counts only those
      'recorded_by_worker', pg_has_role(session_user, 'compliance_worker', 'member')));
end;
$_$;

ALTER FUNCTION compliance.record_anchor(seal_no bigint, seal_hash text, key_fingerprint text, signature text, signed jsonb, destination text) OWNER TO compliance_owner;

--
-- Name: FUNCTION record_anchor(seal_no bigint, seal_hash text, key_fingerprint text, signature text, signed jsonb, destination text); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.record_anchor(seal_no bigint, seal_hash text, key_fingerprint text, signature text, signed jsonb, destination text) IS 'Records in the audit chain that an anchor of this seal was written outside the database (pgcomply anchor, the worker at start and hourly): the seal must be in the chain with that hash; the anchor carries what was signed, the Ed25519 signature and the signing key''s fingerprint (SHA-256 of its SubjectPublicKeyInfo), which must be the configured anchor key once one is set (compliance.set_anchor_key). PostgreSQL cannot check an Ed25519 signature: pgcomply verify --anchors and pgcomply doctor check each recorded anchor''s signature against the public key. Audited as audit.anchored, with whether the worker''s login recorded it. Errors: BADRG.';

--
-- Name: record_archive_check(boolean, text); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.record_archive_check(ok boolean, error text DEFAULT NULL::text) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  if ok is null or (not ok and coalesce(error, '') = '') then
    perform compliance_private.raise_error('BADRG', 'say whether pgbackrest check passed, and what it said when it did not');
  end if;
  -- pgBackRest's words name paths, hosts and WAL segments, never a person
  return compliance_private.append_audit('backup.archive_checked', 'soc2', 'backup', null,
    jsonb_strip_nulls(jsonb_build_object('tool', 'pgbackrest', 'error', case when not ok then left(error, 500) end)), null, null,
    case when ok then 'success' else 'failure' end, case when ok then null else 'archive_check_failed' end);
end;
$$;

ALTER FUNCTION compliance.record_archive_check(ok boolean, error text) OWNER TO compliance_owner;

--
-- Name: FUNCTION record_archive_check(ok boolean, error text); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.record_archive_check(ok boolean, error text) IS 'The worker records pgBackRest''s archive check (pgbackrest check: a WAL segment switched, archived and found in the repository), run before the daily compliance checks. Audited as backup.archive_checked; a failure, with pgBackRest''s error, fails wal_archive_lag for two days unless a later check passes. For the worker. Errors: BADRG.';

--
-- Name: record_backup(jsonb); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.record_backup(result jsonb) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_ok boolean;
  v_details jsonb;
  v_id bigint;
begin
  if result is null or jsonb_typeof(result) <> 'object' or result ->> 'type' not in ('full', 'diff', 'incr')
     or jsonb_typeof(result -> 'ok') <> 'boolean' then
    perform compliance_private.raise_error('BADRG', 'result must be {type: full|diff|incr, ok: true|false, label, started_at, stopped_at, size_bytes, repo_size_bytes, wal_start, wal_stop, error}');
  end if;
  v_ok := (result ->> 'ok')::boolean;
  -- the daily inventory (pgbackrest info) records backups taken outside the worker; one already recorded stays one row
  if v_ok then
    select a.id into v_id from compliance.audit_logs a
     where a.action = 'backup.taken' and a.resource_id = result ->> 'label' and a.details ->> 'written_by' = 'compliance.record_backup'
     order by a.id limit 1;
    if v_id is not null then
      return v_id;
    end if;
  end if;
  if v_ok and (result ->> 'label' is null or result ->> 'stopped_at' is null) then
    perform compliance_private.raise_error('BADRG', 'a backup that succeeded has a label and a stop time (pgbackrest info)');
  end if;
  -- what pgBackRest said, no more: the label and WAL names carry no personal data
  v_details := jsonb_strip_nulls(jsonb_build_object('tool', 'pgbackrest', 'type', result ->> 'type', 'label', result ->> 'label',
    'found_by', case when (result ->> 'inventory')::boolean then 'inventory' end,
    'started_at', (result ->> 'started_at')::timestamptz, 'stopped_at', (result ->> 'stopped_at')::timestamptz,
    'size_bytes', (result ->> 'size_bytes')::bigint, 'repo_size_bytes', (result ->> 'repo_size_bytes')::bigint,
    'wal_start', result ->> 'wal_start', 'wal_stop', result ->> 'wal_stop'));
  v_id := compliance_private.append_audit(case when v_ok then 'backup.taken' else 'backup.failed' end, 'soc2', 'backup',
    result ->> 'label', v_details, null,
    case when v_ok then null else jsonb_build_object('error', left(result ->> 'error', 500)) end,
    case when v_ok then 'success' else 'failure' end, case when v_ok then null else 'backup_failed' end);
  if not v_ok then
    perform compliance_private.raise_alert('backup.failed', jsonb_build_object('audit_row_id', v_id, 'type', result ->> 'type'));
  end if;
  return v_id;
end;
$$;

ALTER FUNCTION compliance.record_backup(result jsonb) OWNER TO compliance_owner;

--
-- Name: FUNCTION record_backup(result jsonb); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.record_backup(result jsonb) IS 'The worker records a backup pgBackRest took (or failed to take): type (full, diff, incr), label, start and stop, size, repository size and WAL range, from pgbackrest info; the daily inventory records a backup taken outside the worker (inventory: true, found_by), and a label already recorded returns its row without writing another. Audited as backup.taken, or backup.failed with the error in the personal part and a backup.failed alert through the outbox. Only the worker may call it; the backup_age check trusts these rows. Errors: BADRG.';

--
-- Name: record_backup_verification(text, text, bigint, timestamp with time zone, bigint, text, bigint, jsonb); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.record_backup_verification(file_name text, file_sha256 text, file_bytes bigint, archive_created_at timestamp with time zone, last_seal_no bigint, last_seal_hash text, rows_checked bigint, problems jsonb) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
declare
  v_id bigint;
  v_ok boolean;
begin
  if file_name is null or btrim(file_name) = '' or file_sha256 is null or file_sha256 !~ '^[0-9a-f]{64}$'
     or file_bytes is null or file_bytes <= 0 or archive_created_at is null or rows_checked is null or rows_checked < 0
     or problems is null or jsonb_typeof(problems) <> 'array' then
    perform compliance_private.raise_error('BADRG', 'a backup verification needs the file''s name, SHA-256 (hex), size and creation time, the rows checked and the problems (an array)');
  end if;
  if archive_created_at > now() + interval '5 minutes' then
    perform compliance_private.raise_error('BADRG', format('the backup says it was made at %s, which is in the future', archive_created_at));
  end if;
  v_ok := jsonb_array_length(problems) = 0;
  insert into compliance.backup_verifications (file_name, file_sha256, file_bytes, archive_created_at, last_seal_no, last_seal_hash,
    rows_checked, ok, problems)
  values (record_backup_verification.file_name, record_backup_verification.file_sha256, record_backup_verification.file_bytes,
    record_backup_verification.archive_created_at, record_backup_verification.last_seal_no, record_backup_verification.last_seal_hash,
    record_backup_verification.rows_checked, v_ok, record_backup_verification.problems)
  returning id into v_id;
  perform compliance_private.append_audit('backup.verified', 'soc2', 'backup_verification', v_id::text,
    jsonb_build_object('file_sha256', record_backup_verification.file_sha256, 'archive_created_at', record_backup_verification.archive_created_at,
      'last_seal_no', record_backup_verification.last_seal_no, 'ok', v_ok, 'problems', jsonb_array_length(record_backup_verification.problems)),
    outcome => case when v_ok then 'success' else 'failure' end,
    failure_reason => case when v_ok then null else 'the restored backup had problems' end);
  return v_id;
end;
$_$;

ALTER FUNCTION compliance.record_backup_verification(file_name text, file_sha256 text, file_bytes bigint, archive_created_at timestamp with time zone, last_seal_no bigint, last_seal_hash text, rows_checked bigint, problems jsonb) OWNER TO compliance_owner;

--
-- Name: FUNCTION record_backup_verification(file_name text, file_sha256 text, file_bytes bigint, archive_created_at timestamp with time zone, last_seal_no bigint, last_seal_hash text, rows_checked bigint, problems jsonb); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.record_backup_verification(file_name text, file_sha256 text, file_bytes bigint, archive_created_at timestamp with time zone, last_seal_no bigint, last_seal_hash text, rows_checked bigint, problems jsonb) IS 'Records that a backup was restored into a scratch database and checked (pgcomply backup verify): the archive''s name, SHA-256, size and creation time, the newest seal it holds, the rows its audit chain verified and every problem found (chain, row-level security, grants). Audited as backup.verified (failure when problems were found). Only the owner and superusers may call it: the application logins cannot make a backup look verified.';

--
-- Name: record_breach_notification(bigint, text, timestamp with time zone); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.record_breach_notification(breach_id bigint, recipient text, notified_at timestamp with time zone DEFAULT now()) RETURNS compliance.breaches
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_row compliance.breaches;
begin
  if recipient is null or recipient not in ('authority', 'individuals', 'hhs', 'media') then
    perform compliance_private.raise_error('BADRG', format('recipient %L is unknown', recipient), 'Use authority, individuals, hhs or media.');
  end if;
  select * into v_row from compliance.breaches b where b.id = breach_id for no key update;
  if not found then
    perform compliance_private.raise_error('NOTER', format('no breach %s', breach_id), 'See compliance.breach_deadlines().');
  end if;
  if notified_at is null or notified_at < v_row.discovered_at or notified_at > clock_timestamp() then
    perform compliance_private.raise_error('BADRG', 'notified_at must lie between the discovery and now');
  end if;
  update compliance.breaches b
     set notified_authority_at = case when recipient = 'authority' then notified_at else b.notified_authority_at end,
         notified_individuals_at = case when recipient = 'individuals' then notified_at else b.notified_individuals_at end,
         notified_hhs_at = case when recipient = 'hhs' then notified_at else b.notified_hhs_at end,
         notified_media_at = case when recipient = 'media' then notified_at else b.notified_media_at end
   where b.id = v_row.id
  returning b.* into v_row;
  perform compliance_private.audit_breach('breach.notified', v_row, jsonb_build_object('notified_' || recipient, notified_at));
  return v_row;
end;
$$;

ALTER FUNCTION compliance.record_breach_notification(breach_id bigint, recipient text, notified_at timestamp with time zone) OWNER TO compliance_owner;

--
-- Name: FUNCTION record_breach_notification(breach_id bigint, recipient text, notified_at timestamp with time zone); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.record_breach_notification(breach_id bigint, recipient text, notified_at timestamp with time zone) IS 'Records that the authority, the individuals, HHS or the media were notified of a breach, at notified_at (now by default; not before the discovery, not in the future). Audited as breach.notified. Errors: BADRG, NOTER.';

--
-- Name: record_consent(text, text, boolean, text, text); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.record_consent(user_id text, purpose text, granted boolean, policy_version text, source text DEFAULT 'api'::text) RETURNS compliance.consent_records
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_row compliance.consent_records;
begin
  if granted is null then
    perform compliance_private.raise_error('BADRG', 'granted must be true or false');
  end if;
  if not exists (select from compliance.consent_purposes p where p.purpose = record_consent.purpose and p.active) then
    perform compliance_private.raise_error('PURPS',
      format('unknown or inactive consent purpose %s; valid purposes: %s', coalesce(purpose, 'NULL'),
        (select string_agg(p.purpose, ', ' order by p.purpose) from compliance.consent_purposes p where p.active)),
      'A DBA adds purposes to compliance.consent_purposes.');
  end if;
  perform compliance_private.require_subject(user_id);
  insert into compliance.consent_records (user_id, purpose, granted, policy_version, source, ip_address, user_agent)
    values (record_consent.user_id, record_consent.purpose, record_consent.granted,
            -- unnamed: the version the purpose is asked under now, never a placeholder
            coalesce(record_consent.policy_version,
                     (select p.policy_version from compliance.consent_purposes p where p.purpose = record_consent.purpose)),
            record_consent.source,
            compliance.current_client_ip(), compliance.current_user_agent())
  returning * into v_row;
  return v_row;
end;
$$;

ALTER FUNCTION compliance.record_consent(user_id text, purpose text, granted boolean, policy_version text, source text) OWNER TO compliance_owner;

--
-- Name: FUNCTION record_consent(user_id text, purpose text, granted boolean, policy_version text, source text); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.record_consent(user_id text, purpose text, granted boolean, policy_version text, source text) IS 'Records a grant (granted => true) or withdrawal (false) of consent for a purpose, with the privacy notice version (NULL: the version the purpose is asked under now, consent_purposes.policy_version), the source (api, import, dba) and, as evidence, the client IP and user agent of the request context (GDPR Art. 7(1)). Withdrawing is the same call as granting (Art. 7(3)). Audited as consent.granted / consent.withdrawn. Errors: PURPS unknown or inactive purpose, UNKSJ, ERASD.';

--
-- Name: evidence_packages; Type: TABLE; Schema: compliance; Owner: compliance_owner
--

CREATE TABLE compliance.evidence_packages (
    id bigint NOT NULL,
    generated_at timestamp with time zone DEFAULT now() NOT NULL,
    generated_by text,
    period_from timestamp with time zone NOT NULL,
    period_to timestamp with time zone NOT NULL,
    manifest jsonb NOT NULL,
    manifest_sha256 text NOT NULL,
    CONSTRAINT evidence_packages_manifest_hash CHECK ((manifest_sha256 = encode(sha256(convert_to((manifest)::text, 'UTF8'::name)), 'hex'::text))),
    CONSTRAINT evidence_packages_period_ordered CHECK ((period_from < period_to))
);

ALTER TABLE ONLY compliance.evidence_packages FORCE ROW LEVEL SECURITY;

ALTER TABLE compliance.evidence_packages OWNER TO compliance_owner;

--
-- Name: TABLE evidence_packages; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON TABLE compliance.evidence_packages IS 'Each evidence package produced: its period and manifest (per population: name, controls, query, generated_at, database, schema version, row count, the CSV''s SHA-256). The manifest''s SHA-256 is also in the audit chain (evidence.package_generated), so a package altered afterwards no longer matches.';

--
-- Name: COLUMN evidence_packages.id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.evidence_packages.id IS 'The package.';

--
-- Name: COLUMN evidence_packages.generated_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.evidence_packages.generated_at IS 'When it was produced.';

--
-- Name: COLUMN evidence_packages.generated_by; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.evidence_packages.generated_by IS 'Who produced it; emptied when that person is erased.';

--
-- Name: COLUMN evidence_packages.period_from; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.evidence_packages.period_from IS 'The period''s start (inclusive).';

--
-- Name: COLUMN evidence_packages.period_to; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.evidence_packages.period_to IS 'The period''s end (exclusive).';

--
-- Name: COLUMN evidence_packages.manifest; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.evidence_packages.manifest IS 'The manifest: {"populations": [...]} as the server built it.';

--
-- Name: COLUMN evidence_packages.manifest_sha256; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.evidence_packages.manifest_sha256 IS 'SHA-256 (hex) of the manifest''s text as stored.';

--
-- Name: record_evidence_package(timestamp with time zone, timestamp with time zone, jsonb); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.record_evidence_package(period_from timestamp with time zone, period_to timestamp with time zone, manifest jsonb) RETURNS compliance.evidence_packages
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_row compliance.evidence_packages;
begin
  if manifest is null or jsonb_typeof(manifest -> 'populations') <> 'array' then
    perform compliance_private.raise_error('BADRG', 'the manifest needs a populations array');
  end if;
  insert into compliance.evidence_packages as p (generated_by, period_from, period_to, manifest, manifest_sha256)
  values (compliance.current_actor(), record_evidence_package.period_from, record_evidence_package.period_to, manifest,
          encode(sha256(convert_to(manifest::text, 'UTF8')), 'hex'))
  returning p.* into v_row;
  perform compliance_private.append_audit('evidence.package_generated', 'soc2', 'evidence_package', v_row.id::text,
    jsonb_build_object('period_from', v_row.period_from, 'period_to', v_row.period_to, 'manifest_sha256', v_row.manifest_sha256,
      'populations', (select jsonb_agg(jsonb_build_object('name', e ->> 'name', 'rows', e -> 'rows', 'sha256', e ->> 'sha256'))
                        from jsonb_array_elements(manifest -> 'populations') e)));
  return v_row;
end;
$$;

ALTER FUNCTION compliance.record_evidence_package(period_from timestamp with time zone, period_to timestamp with time zone, manifest jsonb) OWNER TO compliance_owner;

--
-- Name: FUNCTION record_evidence_package(period_from timestamp with time zone, period_to timestamp with time zone, manifest jsonb); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.record_evidence_package(period_from timestamp with time zone, period_to timestamp with time zone, manifest jsonb) IS 'Records an evidence package the server assembled: stores its manifest with the manifest''s SHA-256 and writes that hash, with each population''s row count and CSV hash, into the audit chain (evidence.package_generated). For the DPO and the auditor. Errors: BADRG.';

--
-- Name: record_heartbeat(); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.record_heartbeat() RETURNS timestamp with time zone
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_minute timestamptz := date_trunc('minute', now());
begin
  insert into compliance_private.worker_heartbeats (beat_at) values (v_minute)
    on conflict on constraint worker_heartbeats_pkey do nothing;
  delete from compliance_private.worker_heartbeats h where h.beat_at < now() - interval '400 days';
  return v_minute;
end;
$$;

ALTER FUNCTION compliance.record_heartbeat() OWNER TO compliance_owner;

--
-- Name: FUNCTION record_heartbeat(); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.record_heartbeat() IS 'The worker says it is alive (every minute, job heartbeat): records the current minute. Uptime counts minutes without a beat as down. Worker role only.';

--
-- Name: personal_tables; Type: TABLE; Schema: compliance; Owner: compliance_owner
--

CREATE TABLE compliance.personal_tables (
    relation regclass NOT NULL,
    subject_column name NOT NULL,
    subject_type text NOT NULL,
    subject_via regclass,
    subject_via_key name,
    subject_via_column name,
    key_columns name[] NOT NULL,
    personal_columns jsonb NOT NULL,
    erasure text NOT NULL,
    anonymize jsonb,
    kept_basis text,
    retention_period interval,
    retention_from name,
    retention_basis text,
    subject_reads boolean NOT NULL,
    application_roles text[] NOT NULL,
    classified_columns name[] NOT NULL,
    rls_was_enabled boolean NOT NULL,
    rls_was_forced boolean NOT NULL,
    owner_before name NOT NULL,
    registered_at timestamp with time zone NOT NULL,
    registered_by text,
    CONSTRAINT personal_tables_anonymize_with_basis CHECK ((((erasure = 'anonymize'::text) = (anonymize IS NOT NULL)) AND ((erasure = 'anonymize'::text) = (kept_basis IS NOT NULL)))),
    CONSTRAINT personal_tables_erasure_known CHECK ((erasure = ANY (ARRAY['delete'::text, 'anonymize'::text]))),
    CONSTRAINT personal_tables_personal_columns_object CHECK ((jsonb_typeof(personal_columns) = 'object'::text)),
    CONSTRAINT personal_tables_retention_positive CHECK (((retention_period IS NULL) OR (retention_period > '00:00:00'::interval))),
    CONSTRAINT personal_tables_retention_whole CHECK ((((retention_period IS NULL) = (retention_from IS NULL)) AND ((retention_period IS NULL) = (retention_basis IS NULL)))),
    CONSTRAINT personal_tables_subject_type CHECK ((subject_type = ANY (ARRAY['text'::text, 'uuid'::text, 'bigint'::text, 'integer'::text]))),
    CONSTRAINT personal_tables_via_whole CHECK ((((subject_via IS NULL) = (subject_via_key IS NULL)) AND ((subject_via IS NULL) = (subject_via_column IS NULL))))
);

ALTER TABLE ONLY compliance.personal_tables FORCE ROW LEVEL SECURITY;

ALTER TABLE compliance.personal_tables OWNER TO compliance_owner;

--
-- Name: TABLE personal_tables; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON TABLE compliance.personal_tables IS 'Your own tables that hold personal data, registered with compliance.register_personal_table: export, erasure, retention and the audit chain cover them as they cover pgcomply''s own.';

--
-- Name: COLUMN personal_tables.relation; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.personal_tables.relation IS 'The table.';

--
-- Name: COLUMN personal_tables.subject_column; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.personal_tables.subject_column IS 'The column that holds the subject id, or the foreign key column that reaches it (subject_via).';

--
-- Name: COLUMN personal_tables.subject_type; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.personal_tables.subject_type IS 'The subject id''s type in the table: text, uuid, bigint or integer.';

--
-- Name: COLUMN personal_tables.subject_via; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.personal_tables.subject_via IS 'The registered table the subject column references, which holds the subject id; null when the table holds it itself.';

--
-- Name: COLUMN personal_tables.subject_via_key; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.personal_tables.subject_via_key IS 'The column of subject_via the foreign key references.';

--
-- Name: COLUMN personal_tables.subject_via_column; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.personal_tables.subject_via_column IS 'The column of subject_via that holds the subject id.';

--
-- Name: COLUMN personal_tables.key_columns; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.personal_tables.key_columns IS 'The primary key, which names a row in the audit log.';

--
-- Name: COLUMN personal_tables.personal_columns; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.personal_tables.personal_columns IS 'Each personal column and its data category (compliance.personal_data_categories).';

--
-- Name: COLUMN personal_tables.erasure; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.personal_tables.erasure IS 'What erasure does: delete the subject''s rows, or anonymize them.';

--
-- Name: COLUMN personal_tables.anonymize; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.personal_tables.anonymize IS 'For anonymize: each column to overwrite and its value (null or a fixed value); the subject column is cut as well.';

--
-- Name: COLUMN personal_tables.kept_basis; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.personal_tables.kept_basis IS 'For anonymize: the legal basis for what is kept (GDPR Art. 17(3)(b), e.g. tax law for an invoice''s amount and date).';

--
-- Name: COLUMN personal_tables.retention_period; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.personal_tables.retention_period IS 'How long a row is kept, counted from retention_from; null: until erasure.';

--
-- Name: COLUMN personal_tables.retention_from; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.personal_tables.retention_from IS 'The date or timestamp column the retention period counts from.';

--
-- Name: COLUMN personal_tables.retention_basis; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.personal_tables.retention_basis IS 'Why the rows are kept that long.';

--
-- Name: COLUMN personal_tables.subject_reads; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.personal_tables.subject_reads IS 'Whether the API acting for a subject may read the subject''s rows (policy subject_own_rows).';

--
-- Name: COLUMN personal_tables.application_roles; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.personal_tables.application_roles IS 'Roles besides the owner that keep every row (policy application_rows): the application that writes the table.';

--
-- Name: COLUMN personal_tables.classified_columns; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.personal_tables.classified_columns IS 'The table''s columns when it was registered: the data map finds a column added since.';

--
-- Name: COLUMN personal_tables.rls_was_enabled; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.personal_tables.rls_was_enabled IS 'Whether row-level security was enabled before registration (unregistering puts it back).';

--
-- Name: COLUMN personal_tables.rls_was_forced; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.personal_tables.rls_was_forced IS 'Whether row-level security was forced before registration (unregistering puts it back).';

--
-- Name: COLUMN personal_tables.owner_before; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.personal_tables.owner_before IS 'The role that owned the table before registration handed it to compliance_owner; unregistering gives it back.';

--
-- Name: COLUMN personal_tables.registered_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.personal_tables.registered_at IS 'When it was last registered.';

--
-- Name: COLUMN personal_tables.registered_by; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.personal_tables.registered_by IS 'Who registered it (the request context''s actor); erasure of that person clears it.';

--
-- Name: record_personal_table(regclass, jsonb); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.record_personal_table(relation regclass, settings jsonb) RETURNS compliance.personal_tables
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_class pg_catalog.pg_class;
  v_schema text;
  v_row compliance.personal_tables;
  v_subject pg_catalog.pg_attribute;
  v_via compliance.personal_tables;
  v_key record;
  v_column text;
  v_category text;
  v_previous compliance.personal_tables;
  v_columns name[];
  v_untrusted text[];
begin
  select * into v_class from pg_catalog.pg_class c where c.oid = record_personal_table.relation;
  if not found or v_class.relkind not in ('r', 'p') then
    perform compliance_private.raise_error('BADRG', format('%s is not a table', relation));
  end if;
  select n.nspname into v_schema from pg_catalog.pg_namespace n where n.oid = v_class.relnamespace;
  if v_schema in ('compliance', 'compliance_private', 'pg_catalog', 'information_schema') then
    perform compliance_private.raise_error('BADRG', format('%s is pgcomply''s or the system''s own table: pgcomply''s tables are covered already', relation));
  end if;
  -- only whoever may change the table may put it under pgcomply's rules (the login, whatever role it set)
  if not pg_catalog.pg_has_role(session_user, v_class.relowner, 'USAGE') then
    perform compliance_private.raise_error('PTOWN', format('only the owner of %s (%s) registers it', relation, pg_catalog.pg_get_userbyid(v_class.relowner)),
      'Register it as the table''s owner, or as a superuser.');
  end if;
  select coalesce(array_agg(a.attname order by a.attnum), '{}') into v_columns
    from pg_catalog.pg_attribute a where a.attrelid = relation and a.attnum > 0 and not a.attisdropped;
  select * into v_previous from compliance.personal_tables p where p.relation = record_personal_table.relation;

  v_row.relation := relation;
  v_row.classified_columns := v_columns;
  v_row.registered_by := compliance.current_actor();
  v_row.registered_at := now();
  -- registration hands the table to pgcomply's owner; the role that owned it before gets it back
  v_row.owner_before := coalesce(v_previous.owner_before, pg_catalog.pg_get_userbyid(v_class.relowner));
  v_untrusted := compliance_private.untrusted_code_on(relation);
  if cardinality(v_untrusted) > 0 then
    perform compliance_private.raise_error('BADRG', format('%s runs functions another role can change when pgcomply''s routines touch it: %s', relation,
      array_to_string(v_untrusted, ', ')),
      'pgcomply''s routines would run them with its owner''s rights. Have a superuser own them (alter function … owner to …), or drop them from the table.');
  end if;
  v_row.rls_was_enabled := coalesce(v_previous.rls_was_enabled, v_class.relrowsecurity);
  v_row.rls_was_forced := coalesce(v_previous.rls_was_forced, v_class.relforcerowsecurity);
  -- the primary key names each row in the audit log
  select array_agg(a.attname order by k.ord) into v_row.key_columns
    from pg_catalog.pg_index i cross join lateral unnest(i.indkey) with ordinality k(attnum, ord)
    join pg_catalog.pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
   where i.indrelid = relation and i.indisprimary;
  if v_row.key_columns is null then
    perform compliance_private.raise_error('BADRG', format('%s has no primary key: pgcomply names each row it audits by its key', relation),
      'Add a primary key (alter table … add primary key …), then register the table.');
  end if;

  v_row.subject_column := settings ->> 'subject_column';
  select * into v_subject from pg_catalog.pg_attribute a
   where a.attrelid = relation and a.attname = v_row.subject_column and a.attnum > 0 and not a.attisdropped;
  if not found then
    perform compliance_private.raise_error('BADRG', format('%s has no column %L to find the subject by', relation, v_row.subject_column));
  end if;
  if settings ->> 'subject_via' is null then
    v_row.subject_type := pg_catalog.format_type(v_subject.atttypid, null);
  else
    -- the subject is reached through one foreign key to a registered table
    v_row.subject_via := (settings ->> 'subject_via')::regclass;
    select * into v_via from compliance.personal_tables p where p.relation = v_row.subject_via and p.subject_via is null;
    if not found then
      perform compliance_private.raise_error('BADRG', format('%s is not registered with a subject column of its own: register it first', v_row.subject_via));
    end if;
    select pg_catalog.format_type(v_subject.atttypid, null) as fk_type, ra.attname as key into v_key
      from pg_catalog.pg_constraint c
      join pg_catalog.pg_attribute ra on ra.attrelid = c.confrelid and ra.attnum = c.confkey[1]
     where c.contype = 'f' and c.conrelid = relation and c.confrelid = v_row.subject_via and c.conkey = array[v_subject.attnum];
    if not found then
      perform compliance_private.raise_error('BADRG', format('no foreign key from %s(%I) to %s: the subject can be reached through exactly one',
        relation, v_row.subject_column, v_row.subject_via));
    end if;
    v_row.subject_via_key := v_key.key;
    v_row.subject_via_column := v_via.subject_column;
    v_row.subject_type := v_via.subject_type;
  end if;
  if v_row.subject_type not in ('text', 'character varying', 'uuid', 'bigint', 'integer') then
    perform compliance_private.raise_error('BADRG', format('the subject column is of type %s: text, uuid, bigint and integer work', v_row.subject_type));
  end if;
  v_row.subject_type := case v_row.subject_type when 'character varying' then 'text' else v_row.subject_type end;

  v_row.personal_columns := settings -> 'personal_columns';
  if jsonb_typeof(v_row.personal_columns) is distinct from 'object' then
    perform compliance_private.raise_error('BADRG', 'personal_columns is a JSON object of column name to data category, e.g. {"email": "contact"}');
  end if;
  for v_column, v_category in select e.key, e.value #>> '{}' from jsonb_each(v_row.personal_columns) e loop
    if not v_column = any (v_columns) then
      perform compliance_private.raise_error('BADRG', format('%s has no column %L', relation, v_column));
    end if;
    if not exists (select from compliance.personal_data_categories d where d.category = v_category) then
      perform compliance_private.raise_error('BADRG', format('%L is not a data category; known: %s', v_category,
        (select string_agg(d.category, ', ' order by d.category) from compliance.personal_data_categories d)));
    end if;
  end loop;

  -- the audit log names a row by its key, and keeps the key after erasure
  if exists (select from jsonb_object_keys(v_row.personal_columns) k where k = any (v_row.key_columns)) or v_row.subject_column = any (v_row.key_columns) then
    perform compliance_private.raise_error('BADRG', format('the primary key of %s holds personal data: the audit log names each row by its key and keeps it after erasure', relation),
      'Give the table a key of its own (an identity column) and keep the personal value in a unique column.');
  end if;

  v_row.erasure := coalesce(settings ->> 'erasure', 'delete');
  if v_row.erasure not in ('delete', 'anonymize') then
    perform compliance_private.raise_error('BADRG', 'erasure is delete or anonymize');
  end if;
  if v_row.erasure = 'anonymize' then
    v_row.anonymize := coalesce(settings -> 'anonymize', '{}');
    v_row.kept_basis := nullif(trim(settings ->> 'kept_basis'), '');
    if jsonb_typeof(v_row.anonymize) <> 'object' or v_row.kept_basis is null then
      perform compliance_private.raise_error('BADRG', 'anonymize keeps rows: name the columns to overwrite ({"column": null or a fixed value}) and the legal basis for what is kept (kept_basis)');
    end if;
    for v_column in select jsonb_object_keys(v_row.anonymize) loop
      if not v_column = any (v_columns) or v_column = any (v_row.key_columns) then
        perform compliance_private.raise_error('BADRG', format('%L is not a column of %s that anonymizing may overwrite (the key stays)', v_column, relation));
      end if;
    end loop;
    -- every personal column is overwritten, and the link to the subject is cut
    if exists (select from jsonb_object_keys(v_row.personal_columns) k where not v_row.anonymize ? k) then
      perform compliance_private.raise_error('BADRG', format('anonymizing must overwrite every personal column; missing: %s',
        (select string_agg(k, ', ') from jsonb_object_keys(v_row.personal_columns) k where not v_row.anonymize ? k)));
    end if;
    if v_subject.attnotnull then
      perform compliance_private.raise_error('BADRG', format('%s(%I) is NOT NULL: an anonymized row keeps no link to its subject, so it must allow null', relation, v_row.subject_column));
    end if;
  elsif settings ? 'anonymize' or settings ? 'kept_basis' then
    perform compliance_private.raise_error('BADRG', 'anonymize and kept_basis go with erasure => anonymize');
  end if;

  v_row.retention_period := (settings ->> 'retention_period')::interval;
  v_row.retention_from := settings ->> 'retention_from';
  v_row.retention_basis := nullif(trim(settings ->> 'retention_basis'), '');
  if (v_row.retention_period is null) <> (v_row.retention_from is null) or (v_row.retention_period is null) <> (v_row.retention_basis is null) then
    perform compliance_private.raise_error('BADRG', 'a retention period comes with the column it counts from and its legal basis (retention_period, retention_from, retention_basis)');
  end if;
  if v_row.retention_period is not null and v_row.retention_period <= interval '0' then
    perform compliance_private.raise_error('BADRG', 'the retention period must be positive');
  end if;
  if v_row.retention_from is not null and not exists (
       select from pg_catalog.pg_attribute a where a.attrelid = relation and a.attname = v_row.retention_from and not a.attisdropped
          and a.atttypid in ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype)) then
    perform compliance_private.raise_error('BADRG', format('%s has no date or timestamp column %L to count retention from', relation, v_row.retention_from));
  end if;
  v_row.subject_reads := coalesce((settings ->> 'subject_reads')::boolean, false);
  v_row.application_roles := coalesce(array(select jsonb_array_elements_text(settings -> 'application_roles')), '{}');

  insert into compliance.personal_tables as p values (v_row.*)
  on conflict on constraint personal_tables_pkey do update set
    subject_column = excluded.subject_column, subject_type = excluded.subject_type, subject_via = excluded.subject_via,
    subject_via_key = excluded.subject_via_key, subject_via_column = excluded.subject_via_column, key_columns = excluded.key_columns,
    personal_columns = excluded.personal_columns, erasure = excluded.erasure, anonymize = excluded.anonymize, kept_basis = excluded.kept_basis,
    retention_period = excluded.retention_period, retention_from = excluded.retention_from, retention_basis = excluded.retention_basis,
    subject_reads = excluded.subject_reads, application_roles = excluded.application_roles, classified_columns = excluded.classified_columns,
    registered_at = excluded.registered_at, registered_by = excluded.registered_by
  returning p.* into v_row;
  -- retention runs off the policy table, as for pgcomply's own categories; its trigger audits the change
  insert into compliance.retention_policies as r (category, retention_period, counted_from, legal_basis, action)
  values (relation::text, v_row.retention_period, v_row.retention_from,
          coalesce(v_row.retention_basis, 'Registered without a retention period: kept until the subject is erased'),
          case when v_row.retention_period is null then 'until_erasure' else 'delete' end)
  on conflict on constraint retention_policies_pkey do update set
    retention_period = excluded.retention_period, counted_from = excluded.counted_from, legal_basis = excluded.legal_basis, action = excluded.action;
  perform compliance_private.append_audit(case when v_previous.relation is null then 'personal_table.registered' else 'personal_table.reregistered' end,
    'gdpr', 'personal_table', relation::text,
    jsonb_build_object('personal_columns', v_row.personal_columns, 'erasure', v_row.erasure, 'anonymize', v_row.anonymize,
      'kept_basis', v_row.kept_basis, 'retention_period', v_row.retention_period, 'retention_from', v_row.retention_from,
      'retention_basis', v_row.retention_basis, 'subject_reads', v_row.subject_reads,
      'subject', case when v_row.subject_via is null then v_row.subject_column
                      else format('%s -> %s.%s', v_row.subject_column, v_row.subject_via, v_row.subject_via_column) end));
  return v_row;
end;
$$;

ALTER FUNCTION compliance.record_personal_table(relation regclass, settings jsonb) OWNER TO compliance_owner;

--
-- Name: FUNCTION record_personal_table(relation regclass, settings jsonb); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.record_personal_table(relation regclass, settings jsonb) IS 'The registry half of compliance.register_personal_table, which calls it: checks the settings against the table (its primary key, the subject column or the one foreign key to a registered table that reaches the subject, personal columns with known data categories, what erasure does, retention), records them in compliance.personal_tables with the table''s retention policy (compliance.retention_policies, category schema.table) and audits it (personal_table.registered, or .reregistered). Only a login that may act as the table''s owner may call it. A table whose triggers, rules, constraints, defaults, indexes, policies or domains run functions another role owns is refused (compliance_private.untrusted_code_on). Errors: PTOWN, BADRG.';

--
-- Name: record_personal_table_removal(regclass, text); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.record_personal_table_removal(relation regclass, reason text) RETURNS compliance.personal_tables
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_row compliance.personal_tables;
  v_rows bigint;
begin
  select * into v_row from compliance.personal_tables p where p.relation = record_personal_table_removal.relation;
  if not found then
    perform compliance_private.raise_error('BADRG', format('%s is not registered', relation));
  end if;
  if not pg_catalog.pg_has_role(session_user, (select c.relowner from pg_catalog.pg_class c where c.oid = relation), 'USAGE') then
    perform compliance_private.raise_error('PTOWN', format('only the owner of %s unregisters it', relation));
  end if;
  -- rows that still name a subject would leave pgcomply's export, erasure and retention
  execute format('select count(*) from %s t where t.%I is not null', relation, v_row.subject_column) into v_rows;
  if v_rows > 0 and nullif(trim(reason), '') is null then
    perform compliance_private.raise_error('PTROW', format('%s holds %s rows of subjects: they would leave export, erasure and retention', relation, v_rows),
      'Say why (reason => …); the reason is audited. Or erase or move the rows first.');
  end if;
  delete from compliance.personal_tables p where p.relation = record_personal_table_removal.relation;
  delete from compliance.retention_policies r where r.category = relation::text;
  perform compliance_private.append_audit('personal_table.unregistered', 'gdpr', 'personal_table', relation::text,
    jsonb_build_object('rows_with_a_subject', v_rows, 'reason', nullif(trim(reason), '')));
  return v_row;
end;
$$;

ALTER FUNCTION compliance.record_personal_table_removal(relation regclass, reason text) OWNER TO compliance_owner;

--
-- Name: FUNCTION record_personal_table_removal(relation regclass, reason text); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.record_personal_table_removal(relation regclass, reason text) IS 'The registry half of compliance.unregister_personal_table, which calls it: refuses while the table holds rows with a subject unless a reason is given (PTROW), removes the registration and its retention policy and audits it (personal_table.unregistered, with the row count and the reason). Only a login that may act as the table''s owner may call it. Errors: PTOWN, PTROW, BADRG.';

--
-- Name: record_phi_key_rotation(integer, integer); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.record_phi_key_rotation(kek_version integer, rewrapped integer) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_remaining bigint;
begin
  select count(*) into v_remaining from compliance_private.subject_keys k where k.kek_version <> record_phi_key_rotation.kek_version;
  return compliance_private.append_audit('phi.keys_rotated', 'hipaa', 'subject_keys', null,
    jsonb_build_object('kek_version', kek_version, 'rewrapped', rewrapped, 'remaining', v_remaining));
end;
$$;

ALTER FUNCTION compliance.record_phi_key_rotation(kek_version integer, rewrapped integer) OWNER TO compliance_owner;

--
-- Name: FUNCTION record_phi_key_rotation(kek_version integer, rewrapped integer); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.record_phi_key_rotation(kek_version integer, rewrapped integer) IS 'Audits a finished key rotation (phi.keys_rotated): the new master key version, how many data keys were rewrapped, and how many are still under another version (0 means the old master key may be retired). Worker role only.';

--
-- Name: record_refusal(text, inet, text, text); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.record_refusal(reason text, client_ip inet DEFAULT NULL::inet, user_agent text DEFAULT NULL::text, detail text DEFAULT NULL::text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_first boolean;
  v_row bigint;
begin
  if reason is null or reason not in ('invalid_token', 'expired_token', 'no_token', 'forbidden', 'session_expired', 'insufficient_authentication') then
    perform compliance_private.raise_error('BADRG', format('refusal reason %L is unknown', reason),
      'Use invalid_token, expired_token, no_token, forbidden, session_expired or insufficient_authentication.');
  end if;
  insert into compliance_private.refusal_windows as w (client_ip, reason, window_start)
  values (client_ip, reason, date_trunc('minute', now()))
  on conflict on constraint refusal_windows_pkey do update set refusals = w.refusals + 1
  returning w.refusals = 1 into v_first;
  if v_first then
    perform set_config('compliance.client_ip', coalesce(client_ip::text, ''), true),
            set_config('compliance.user_agent', coalesce(left(user_agent, 512), ''), true);
    v_row := compliance_private.append_audit('security.request_refused', 'security', 'request', null,
      jsonb_build_object('reason', reason, 'minute', date_trunc('minute', now())), null,
      case when detail is null then null else jsonb_build_object('detail', left(detail, 200)) end,
      'failure', reason, null);
    update compliance_private.refusal_windows w set audit_row_id = v_row
     where w.client_ip is not distinct from record_refusal.client_ip and w.reason = record_refusal.reason
       and w.window_start = date_trunc('minute', now());
    -- the counters of three months ago are of no more use
    delete from compliance_private.refusal_windows w where w.window_start < now() - interval '90 days';
  end if;
  return v_first;
end;
$$;

ALTER FUNCTION compliance.record_refusal(reason text, client_ip inet, user_agent text, detail text) OWNER TO compliance_owner;

--
-- Name: FUNCTION record_refusal(reason text, client_ip inet, user_agent text, detail text); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.record_refusal(reason text, client_ip inet, user_agent text, detail text) IS 'The server records a refused request here (reasons: invalid_token, expired_token, no_token, forbidden, session_expired, insufficient_authentication: a privileged role without multi-factor authentication or a grave action without a recent sign-in), in a transaction of its own: counted per client IP, reason and minute; the first of each minute writes a security.request_refused audit row (reason; IP, user agent and detail in its personal part). Returns whether it wrote one.';

--
-- Name: record_restore_drill(jsonb); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.record_restore_drill(result jsonb) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_ok boolean;
  v_started timestamptz;
  v_finished timestamptz;
  v_seal_no bigint;
  v_live_hash bytea;
  v_problems jsonb;
  v_details jsonb;
  v_id bigint;
begin
  if result is null or jsonb_typeof(result) <> 'object' or jsonb_typeof(result -> 'ok') <> 'boolean'
     or jsonb_typeof(result -> 'problems') <> 'array' or result ->> 'started_at' is null or result ->> 'finished_at' is null then
    perform compliance_private.raise_error('BADRG', 'result must be {ok: true|false, started_at, finished_at, target, label, restored_seal_no, restored_seal_hash, rows_checked, erasures, problems: [...]}');
  end if;
  v_ok := (result ->> 'ok')::boolean;
  v_started := (result ->> 'started_at')::timestamptz;
  v_finished := (result ->> 'finished_at')::timestamptz;
  -- the recovery time is the span the drill reports, never a figure it states: a drill that has
  -- not ended yet, or ended before it began, is no measurement
  if v_finished < v_started or v_finished > clock_timestamp() + interval '1 minute' then
    perform compliance_private.raise_error('BADRG', format('a drill from %s to %s is not a span of time that has passed', v_started, v_finished));
  end if;
  v_problems := result -> 'problems';
  if v_ok and (jsonb_array_length(v_problems) > 0 or result ->> 'label' is null) then
    perform compliance_private.raise_error('BADRG', 'a drill that passed restored a named backup and found no problem');
  end if;
  -- a drill that passed restored a copy of this chain: its newest seal is one this database made
  if v_ok and result ->> 'restored_seal_no' is not null then
    v_seal_no := (result ->> 'restored_seal_no')::bigint;
    select s.seal_hash into v_live_hash from compliance.audit_seals s where s.seal_no = v_seal_no;
    if v_seal_no > coalesce((select max(s.seal_no) from compliance.audit_seals s), 0)
       or (v_live_hash is not null and encode(v_live_hash, 'hex') is distinct from result ->> 'restored_seal_hash') then
      perform compliance_private.raise_error('DRLSL', format('the restored chain''s seal %s (%s) is not this database''s', v_seal_no, result ->> 'restored_seal_hash'));
    end if;
  end if;
  -- what the drill measured; labels, WAL names, file names and digests name no one
  v_details := jsonb_strip_nulls(jsonb_build_object('tool', 'pgbackrest', 'label', result ->> 'label',
    'target', coalesce(result ->> 'target', 'newest'), 'started_at', v_started, 'finished_at', v_finished,
    'rto_seconds', round(extract(epoch from v_finished - v_started)::numeric, 1),
    'restored_seal_no', v_seal_no, 'restored_seal_hash', case when v_seal_no is not null then result ->> 'restored_seal_hash' end,
    'rows_checked', (result ->> 'rows_checked')::bigint, 'erasures', result -> 'erasures',
    'problems', (select coalesce(jsonb_agg(jsonb_build_object('kind', left(p ->> 'kind', 60), 'detail', left(p ->> 'detail', 500), 'file', left(p ->> 'file', 500))), '[]')
                   from (select p from jsonb_array_elements(v_problems) p limit 20) x)));
  v_id := compliance_private.append_audit('backup.drill', 'soc2', 'backup', result ->> 'label', v_details, null, null,
    case when v_ok then 'success' else 'failure' end, case when v_ok then null else 'drill_failed' end);
  if not v_ok then
    perform compliance_private.raise_alert('backup.drill_failed', jsonb_build_object('audit_row_id', v_id, 'problems', jsonb_array_length(v_problems)));
  end if;
  return v_id;
end;
$$;

ALTER FUNCTION compliance.record_restore_drill(result jsonb) OWNER TO compliance_owner;

--
-- Name: FUNCTION record_restore_drill(result jsonb); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.record_restore_drill(result jsonb) IS 'The worker (weekly) and pgcomply backup drill record a restore drill: the newest backup or a point in time restored with pgBackRest into a scratch cluster, the erasure journal replayed, the audit chain and anchors verified, row-level security and privileges checked. The recovery time (rto_seconds) is computed here from started_at and finished_at. A drill that passed must name its backup and a newest seal this database holds with the same hash (DRLSL otherwise). Audited as backup.drill (failure: drill_failed, and a backup.drill_failed alert through the outbox); the restore_drill check trusts only these rows. For the worker. Errors: BADRG, DRLSL.';

--
-- Name: record_service_probes(jsonb); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.record_service_probes(probes jsonb) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
declare
  v_probe jsonb;
  v_api text;
  v_database text;
  v_failed boolean;
  v_at timestamptz;
  v_recorded integer := 0;
begin
  if jsonb_typeof(probes) is distinct from 'array' or jsonb_array_length(probes) not between 1 and 500 then
    perform compliance_private.raise_error('BADRG', 'probes is a JSON array of 1 to 500 probes');
  end if;
  for v_probe in select p from jsonb_array_elements(probes) p loop
    v_api := v_probe->>'api';
    v_database := v_probe->>'database';
    if jsonb_typeof(v_probe) is distinct from 'object' or v_api is null or v_api not in ('up', 'down', 'not_probed')
       or v_database is null or v_database not in ('up', 'down') then
      perform compliance_private.raise_error('BADRG', 'a probe is {"at", "api": up, down or not_probed, "database": up or down, "detail"}');
    end if;
    v_failed := v_api = 'down' or v_database = 'down';
    if v_failed then
      -- a failure may be told late (the primary was unreachable when it happened), and only
      -- lowers uptime; an hour bounds how far back it reaches
      v_at := case when v_probe->>'at' ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$'
                   then (v_probe->>'at')::timestamptz end;
      if v_at is null or v_at > now() + interval '1 minute' or v_at < now() - interval '1 hour' then
        perform compliance_private.raise_error('BADRG', 'a failed probe says when it failed (ISO 8601), within the last hour');
      end if;
    else
      -- a passing probe counts in the minute it is recorded, whatever it says: a gap cannot be
      -- filled afterwards
      v_at := now();
    end if;
    insert into compliance_private.service_minutes as m (minute, probes_passed, api_probes, api_failures, database_failures, last_failure)
    values (date_trunc('minute', v_at), (not v_failed)::int, (v_api <> 'not_probed')::int, (v_api = 'down')::int, (v_database = 'down')::int,
            case when v_failed then left(coalesce(v_probe->>'detail', 'no detail given'), 500) end)
    on conflict on constraint service_minutes_pkey do update set
      probes_passed = m.probes_passed + excluded.probes_passed,
      api_probes = m.api_probes + excluded.api_probes,
      api_failures = m.api_failures + excluded.api_failures,
      database_failures = m.database_failures + excluded.database_failures,
      last_failure = coalesce(excluded.last_failure, m.last_failure);
    v_recorded := v_recorded + 1;
  end loop;
  delete from compliance_private.service_minutes m where m.minute < now() - interval '400 days';
  return v_recorded;
end;
$_$;

ALTER FUNCTION compliance.record_service_probes(probes jsonb) OWNER TO compliance_owner;

--
-- Name: FUNCTION record_service_probes(probes jsonb); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.record_service_probes(probes jsonb) IS 'The worker''s service probes (every 15 s): did the API answer /healthz, and could the worker write to the primary. A passing probe counts in the current minute; a failed one names its instant (up to an hour back, since a probe that could not reach the primary is told after it returns) and makes its minute down. compliance.uptime counts the minutes. Worker role only. Errors: BADRG.';

--
-- Name: register_dsr(text, text, text); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.register_dsr(user_id text, kind text, notes text DEFAULT NULL::text) RETURNS compliance.dsr_requests
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_request compliance.dsr_requests;
begin
  perform compliance_private.require_subject(user_id);
  insert into compliance.dsr_requests (user_id, kind, notes, status)
    values (register_dsr.user_id, register_dsr.kind, register_dsr.notes, 'received')
    returning * into v_request;
  return v_request;
end;
$$;

ALTER FUNCTION compliance.register_dsr(user_id text, kind text, notes text) OWNER TO compliance_owner;

--
-- Name: FUNCTION register_dsr(user_id text, kind text, notes text); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.register_dsr(user_id text, kind text, notes text) IS 'Registers a data subject request received now; due_at is one calendar month later. Errors: UNKSJ, ERASD.';

--
-- Name: register_personal_table(regclass, text, jsonb, text, jsonb, text, interval, text, text, boolean, regclass, regrole[]); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.register_personal_table(relation regclass, subject_column text, personal_columns jsonb, erasure text DEFAULT 'delete'::text, anonymize jsonb DEFAULT NULL::jsonb, kept_basis text DEFAULT NULL::text, retention_period interval DEFAULT NULL::interval, retention_from text DEFAULT NULL::text, retention_basis text DEFAULT NULL::text, subject_reads boolean DEFAULT false, subject_via regclass DEFAULT NULL::regclass, application_roles regrole[] DEFAULT '{}'::regrole[]) RETURNS compliance.personal_tables
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_row compliance.personal_tables;
  v_sql record;
  v_schema text;
  v_writers text;
  v_grantee text;
begin
  -- the registry checks and records the settings as pgcomply's owner; the table itself is
  -- changed here, with the caller's rights, which only its owner has
  -- the arguments given (an anonymize value may be null: that is what the column gets)
  v_row := compliance.record_personal_table(relation, (select jsonb_object_agg(e.key, e.value) from jsonb_each(jsonb_build_object(
    'subject_column', subject_column, 'personal_columns', personal_columns, 'erasure', erasure, 'anonymize', anonymize,
    'kept_basis', kept_basis, 'retention_period', retention_period, 'retention_from', retention_from,
    'retention_basis', retention_basis, 'subject_reads', subject_reads, 'subject_via', subject_via::text,
    'application_roles', to_jsonb(application_roles::text[]))) e where e.value <> 'null'::jsonb));
  v_sql := compliance.personal_table_sql(relation);
  select n.nspname into v_schema from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace where c.oid = relation;

  execute format('alter table %s enable row level security', relation);
  execute format('alter table %s force row level security', relation);
  execute format('drop policy if exists owner_routines on %s', relation);
  execute format('create policy owner_routines on %s as permissive for all to compliance_owner using (true) with check (true)', relation);
  execute format('comment on policy owner_routines on %s is %L', relation,
    'pgcomply''s routines (erasure, export, retention: SECURITY DEFINER, running as its owner) reach every row.');
  execute format('drop policy if exists dpo_every_subject on %s', relation);
  execute format('create policy dpo_every_subject on %s as permissive for select to compliance_dpo using (true)', relation);
  execute format('comment on policy dpo_every_subject on %s is %L', relation, 'The DPO reads every subject''s rows.');
  execute format('drop policy if exists subject_own_rows on %s', relation);
  if v_row.subject_reads then
    execute format('create policy subject_own_rows on %s as permissive for select to compliance_app using (%s)', relation,
      v_sql.own_rows);
    execute format('comment on policy subject_own_rows on %s is %L', relation, 'The API acting for a subject reads only that subject''s rows.');
    execute format('grant select on %s to compliance_app', relation);
  else
    execute format('revoke all on %s from compliance_app', relation);
  end if;
  -- the application that writes the table keeps writing it: the role that owned it and the roles named
  execute format('drop policy if exists application_rows on %s', relation);
  select string_agg(quote_ident(r), ', ') into v_writers
    from (select v_row.owner_before::text as r union select unnest(v_row.application_roles)) x;
  execute format('create policy application_rows on %s as permissive for all to %s using (true) with check (true)', relation, v_writers);
  execute format('comment on policy application_rows on %s is %L', relation,
    'The application that owns the table reaches every row, as before it was registered: its owner and the application_roles given at registration.');

  execute format('grant usage on schema %I to compliance_owner, compliance_dpo', v_schema);
  if v_row.subject_reads then
    execute format('grant usage on schema %I to compliance_app', v_schema);
  end if;
  execute format('grant select, update, delete on %s to compliance_owner', relation);
  execute format('grant select on %s to compliance_dpo', relation);

  execute format('drop trigger if exists _900_pgcomply_audit_insert on %s', relation);
  execute format('drop trigger if exists _901_pgcomply_audit_update on %s', relation);
  execute format('drop trigger if exists _902_pgcomply_audit_delete on %s', relation);
  execute format('create trigger _900_pgcomply_audit_insert after insert on %s referencing new table as new_rows for each statement execute function compliance.tg_personal_table_audit()', relation);
  execute format('create trigger _901_pgcomply_audit_update after update on %s referencing old table as old_rows new table as new_rows for each statement execute function compliance.tg_personal_table_audit()', relation);
  execute format('create trigger _902_pgcomply_audit_delete after delete on %s referencing old table as old_rows for each statement execute function compliance.tg_personal_table_audit()', relation);
  -- pgcomply's owner owns what its routines touch, so nobody else can add code (a trigger, a
  -- policy, a default) that would run with its rights; the former owner keeps reading and writing
  -- rows, but not TRIGGER (code again) or TRUNCATE (rows gone without an audit row)
  execute format('alter table %s owner to compliance_owner', relation);
  execute format('grant select, insert, update, delete, references on %s to %I', relation, v_row.owner_before);
  for v_grantee in select distinct x.grantee::regrole::text from pg_catalog.pg_class c cross join lateral aclexplode(c.relacl) x
                    where c.oid = relation and x.privilege_type in ('TRIGGER', 'TRUNCATE') and x.grantee <> c.relowner and x.grantee <> 0 loop
    execute format('revoke trigger, truncate on %s from %s', relation, v_grantee);
  end loop;
  execute format('revoke trigger, truncate on %s from public', relation);
  return v_row;
end;
$$;

ALTER FUNCTION compliance.register_personal_table(relation regclass, subject_column text, personal_columns jsonb, erasure text, anonymize jsonb, kept_basis text, retention_period interval, retention_from text, retention_basis text, subject_reads boolean, subject_via regclass, application_roles regrole[]) OWNER TO compliance_owner;

--
-- Name: FUNCTION register_personal_table(relation regclass, subject_column text, personal_columns jsonb, erasure text, anonymize jsonb, kept_basis text, retention_period interval, retention_from text, retention_basis text, subject_reads boolean, subject_via regclass, application_roles regrole[]); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.register_personal_table(relation regclass, subject_column text, personal_columns jsonb, erasure text, anonymize jsonb, kept_basis text, retention_period interval, retention_from text, retention_basis text, subject_reads boolean, subject_via regclass, application_roles regrole[]) IS 'Puts one of your own tables under pgcomply''s rules, called by its owner (db/README.md, "Your own tables"). It records the settings (compliance.record_personal_table, audited). It enables and forces row-level security with the policies pgcomply''s tables have: owner_routines, dpo_every_subject, and subject_own_rows when subject_reads. It attaches the audit triggers and hands the table to compliance_owner, so no other role can add code that would run with its rights; the former owner keeps select, insert, update, delete and references (not trigger or truncate), and it and application_roles keep every row through application_rows. Run it as a superuser (or a member of compliance_owner who owns the table). Erasure then deletes the subject''s rows, or anonymizes them (sets the anonymize columns and cuts the subject link, keeping the rest on kept_basis). Export includes them, and retention deletes rows older than retention_period counted from retention_from. subject_column holds the subject id (text, uuid, bigint or integer), or with subject_via, a foreign key to a registered table that holds it. Calling it again changes the settings. Errors: PTOWN, BADRG.';

--
-- Name: release_legal_hold(text); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.release_legal_hold(user_id text) RETURNS compliance.legal_holds
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_hold compliance.legal_holds;
begin
  update compliance.legal_holds h set released_at = now(), released_by = compliance.current_actor()
   where h.user_id = release_legal_hold.user_id and h.released_at is null
  returning * into v_hold;
  if not found then
    perform compliance_private.raise_error('NOHLD', 'the subject has no active legal hold');
  end if;
  return v_hold;
end;
$$;

ALTER FUNCTION compliance.release_legal_hold(user_id text) OWNER TO compliance_owner;

--
-- Name: FUNCTION release_legal_hold(user_id text); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.release_legal_hold(user_id text) IS 'DPO: releases the subject''s active legal hold. Audited as legal_hold.released. Errors: NOHLD.';

--
-- Name: replay_erasures(jsonb, text); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.replay_erasures(journal jsonb, reason text DEFAULT 'erasure replayed after a restore'::text) RETURNS TABLE(subject_digest text, erased_at timestamp with time zone, outcome text)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
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
        insert into compliance_private.erased_subjects (subject_digest, erased_at) values (v_digest, replay_erasures.erased_at);
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
$_$;

ALTER FUNCTION compliance.replay_erasures(journal jsonb, reason text) OWNER TO compliance_owner;

--
-- Name: FUNCTION replay_erasures(journal jsonb, reason text); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.replay_erasures(journal jsonb, reason text) IS 'After restoring an older backup: erases again every subject whose peppered digest the journal lists (from anchors, compliance.erasure_journal) and who is back in the data; restores the tombstone of one who is not; reports per entry erased, tombstoned, already_erased, or held (under a legal hold in the restored data: not erased, for the DPO to decide). Needs the same tombstone pepper. For the DPO. Errors: BADRG, PEPPR.';

--
-- Name: report_phi_integrity_failure(uuid, text, text); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.report_phi_integrity_failure(record_id uuid, purpose text, failed_check text) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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
$$;

ALTER FUNCTION compliance.report_phi_integrity_failure(record_id uuid, purpose text, failed_check text) OWNER TO compliance_owner;

--
-- Name: FUNCTION report_phi_integrity_failure(record_id uuid, purpose text, failed_check text); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.report_phi_integrity_failure(record_id uuid, purpose text, failed_check text) IS 'Records that a health record the caller read failed a check in the server (failed_check: integrity_code, decryption, key_unwrap, or version: not the newest version the audit chain records): a phi.integrity_failure audit row about the patient, so a tampered or misplaced record is on the record and in the daily review. Returns the audit row id (NULL when the caller may not read the record: a phi.denied row instead). Errors: PHINF, BADRG.';

--
-- Name: report_standby_integrity_failure(uuid, uuid, text); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.report_standby_integrity_failure(ticket uuid, record_id uuid, failed_check text) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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
$$;

ALTER FUNCTION compliance.report_standby_integrity_failure(ticket uuid, record_id uuid, failed_check text) OWNER TO compliance_owner;

--
-- Name: FUNCTION report_standby_integrity_failure(ticket uuid, record_id uuid, failed_check text); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.report_standby_integrity_failure(ticket uuid, record_id uuid, failed_check text) IS 'DPO, on the primary: a health record read on a standby under the ticket failed a check in the server (as report_phi_integrity_failure): a phi.integrity_failure audit row about the patient. Errors: BADRG, RDLSE (the record was not in that export).';

--
-- Name: request_access(text, text, text, text); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.request_access(patient text, scope text, purpose text, reason text) RETURNS compliance.access_grants
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_row compliance.access_grants;
begin
  perform compliance_private.require_context_subject();
  perform compliance_private.check_grant_request(patient, scope, purpose, reason, 'assignment');
  insert into compliance.access_grants as g (grantee, user_id, scope, purpose, reason, kind, requested_by)
  values (compliance.current_actor(), patient, request_access.scope, request_access.purpose, request_access.reason,
          'assignment', compliance.current_actor())
  returning g.* into v_row;
  perform compliance_private.audit_access_grant('access.requested', v_row);
  return v_row;
end;
$$;

ALTER FUNCTION compliance.request_access(patient text, scope text, purpose text, reason text) OWNER TO compliance_owner;

--
-- Name: FUNCTION request_access(patient text, scope text, purpose text, reason text); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.request_access(patient text, scope text, purpose text, reason text) IS 'A workforce member asks for access to a patient''s health records (scope phi.read or phi.write, purpose treatment, payment or operations, a reason). It grants nothing until an approver other than them approves it (approve_access_request). Audited as access.requested. Errors: BADRG, GRRSN, UNKSJ, ERASD.';

--
-- Name: reregister_subject(text, text); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.reregister_subject(user_id text, reason text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  delete from compliance_private.erased_subjects e where e.subject_digest = compliance_private.subject_digest(user_id);
  if not found then
    perform compliance_private.raise_error('NOTER', 'that user id has no erasure tombstone');
  end if;
  perform compliance_private.append_audit('subject.reregistered', 'gdpr', null, null, '{}', null,
    jsonb_build_object('reason', reason));
  return true;
end;
$$;

ALTER FUNCTION compliance.reregister_subject(user_id text, reason text) OWNER TO compliance_owner;

--
-- Name: FUNCTION reregister_subject(user_id text, reason text); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.reregister_subject(user_id text, reason text) IS 'DPO: removes the erasure tombstone of a user id so the person can register again. Errors: NOTER.';

--
-- Name: review_emergency_access(bigint, text, text); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.review_emergency_access(grant_id bigint, outcome text, note text DEFAULT NULL::text) RETURNS compliance.access_grants
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_row compliance.access_grants;
begin
  if outcome is null or outcome not in ('appropriate', 'inappropriate') then
    perform compliance_private.raise_error('BADRG', format('outcome %L is unknown', outcome), 'Use appropriate or inappropriate.');
  end if;
  v_row := compliance_private.grant_for_decision(grant_id, 'emergency_unreviewed');
  update compliance.access_grants g
     set reviewed_by = compliance.current_actor(), reviewed_at = now(), review_outcome = outcome, review_note = note,
         -- an inappropriate access ends now if it still runs
         revoked_at = case when outcome = 'inappropriate' and g.revoked_at is null and g.expires_at > clock_timestamp() then clock_timestamp() else g.revoked_at end,
         revoked_by = case when outcome = 'inappropriate' and g.revoked_at is null and g.expires_at > clock_timestamp() then compliance.current_actor() else g.revoked_by end
   where g.id = v_row.id
  returning g.* into v_row;
  perform compliance_private.audit_access_grant('access.reviewed', v_row, note);
  if outcome = 'inappropriate' then
    perform compliance_private.raise_alert('phi.emergency_review_inappropriate',
      jsonb_build_object('grant_id', v_row.id, 'reviewed_at', v_row.reviewed_at, 'starts_at', v_row.starts_at,
                         'expires_at', v_row.expires_at),
      v_row.user_id, v_row.grantee);
  end if;
  return v_row;
end;
$$;

ALTER FUNCTION compliance.review_emergency_access(grant_id bigint, outcome text, note text) OWNER TO compliance_owner;

--
-- Name: FUNCTION review_emergency_access(grant_id bigint, outcome text, note text); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.review_emergency_access(grant_id bigint, outcome text, note text) IS 'An approver other than the grantee reviews an emergency access after the fact: appropriate, or inappropriate (which ends it if it still runs and raises an alert). Audited as access.reviewed. Errors: GRSLF (their own), GRNOT, GRSTA (not an unreviewed emergency), BADRG.';

--
-- Name: review_phi_access(); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.review_phi_access() RETURNS TABLE(finding text, actor_id text, accesses bigint, weekly_baseline numeric, audit_row_id bigint, alert_row_id bigint)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_through bigint;
  v_sealed bigint;
  v_found record;
begin
  select p.reviewed_through into v_through from compliance_private.phi_access_review_progress p for update;
  -- single rows only up to the sealed end: every row below it has committed or never will, so
  -- moving past it skips none (db/AUDIT_HASHING.md)
  select coalesce((select s.last_row_id from compliance.audit_seals s where s.layout = 2 order by s.seal_no desc limit 1), 0)
    into v_sealed;
  for v_found in
    select u.* from compliance.phi_unusual_access u
     where (u.audit_row_id is null
            -- the counts once a day per actor and kind while they stay over
            and not exists (select from compliance.audit_logs a
                             where a.action = 'phi.unusual_access' and a.occurred_at >= now() - interval '20 hours'
                               and a.user_id is not distinct from u.actor_id and a.details ->> 'finding' = u.finding))
        or (u.audit_row_id > v_through and u.audit_row_id <= v_sealed)
     order by u.audit_row_id nulls first, u.actor_id
  loop
    finding := v_found.finding;
    actor_id := v_found.actor_id;
    accesses := v_found.accesses;
    weekly_baseline := v_found.weekly_baseline;
    audit_row_id := v_found.audit_row_id;
    -- the row is about the actor flagged, so their erasure reaches it; the patient stays in the
    -- access row it points to
    alert_row_id := compliance_private.append_audit('phi.unusual_access', 'hipaa', 'audit_log', v_found.audit_row_id::text,
      jsonb_build_object('finding', v_found.finding, 'accesses', v_found.accesses, 'weekly_baseline', v_found.weekly_baseline),
      v_found.actor_id);
    -- at once, not through the next day's check: the finding is news for whoever watches
    perform compliance_private.raise_alert('phi.unusual_access',
      jsonb_build_object('finding', v_found.finding, 'accesses', v_found.accesses, 'weekly_baseline', v_found.weekly_baseline,
        'access_row_id', v_found.audit_row_id, 'audit_row_id', alert_row_id),
      null, v_found.actor_id);
    return next;
  end loop;
  update compliance_private.phi_access_review_progress p
     set reviewed_through = greatest(v_through, v_sealed), reviewed_at = now();
end;
$$;

ALTER FUNCTION compliance.review_phi_access() OWNER TO compliance_owner;

--
-- Name: FUNCTION review_phi_access(); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.review_phi_access() IS 'The daily review of PHI access (worker job phi_unusual_access): writes a phi.unusual_access audit row about the actor for each finding of compliance.phi_unusual_access not alerted yet (single accesses once; counts once a day while over) and returns them for the alert. Reads single accesses only up to the newest seal, so a late-committing row is reviewed next time, never skipped. Each finding is also raised at once as a phi.unusual_access alert in the outbox.';

--
-- Name: revoke_access_grant(bigint, text); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.revoke_access_grant(grant_id bigint, note text DEFAULT NULL::text) RETURNS compliance.access_grants
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_row compliance.access_grants := compliance_private.grant_for_decision(grant_id, 'revocable');
begin
  update compliance.access_grants g
     set revoked_by = compliance.current_actor(), revoked_at = clock_timestamp()
   where g.id = v_row.id
  returning g.* into v_row;
  perform compliance_private.audit_access_grant('access.revoked', v_row, note);
  return v_row;
end;
$$;

ALTER FUNCTION compliance.revoke_access_grant(grant_id bigint, note text) OWNER TO compliance_owner;

--
-- Name: FUNCTION revoke_access_grant(grant_id bigint, note text); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.revoke_access_grant(grant_id bigint, note text) IS 'An approver or the DPO ends a grant (active or pending) now: the next access under it is refused (grant_revoked). Audited as access.revoked. Errors: GRNOT, GRSTA (already revoked, denied or expired).';

--
-- Name: rewrap_subject_key(text, integer, integer, bytea, integer); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.rewrap_subject_key(user_id text, key_version integer, wrapped_by integer, wrapped_key bytea, kek_version integer) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  update compliance_private.subject_keys k
     set wrapped_key = rewrap_subject_key.wrapped_key, kek_version = rewrap_subject_key.kek_version, rewrapped_at = now()
   where k.user_id = rewrap_subject_key.user_id and k.key_version = rewrap_subject_key.key_version
     and k.kek_version = rewrap_subject_key.wrapped_by;
  return found;
end;
$$;

ALTER FUNCTION compliance.rewrap_subject_key(user_id text, key_version integer, wrapped_by integer, wrapped_key bytea, kek_version integer) OWNER TO compliance_owner;

--
-- Name: FUNCTION rewrap_subject_key(user_id text, key_version integer, wrapped_by integer, wrapped_key bytea, kek_version integer); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.rewrap_subject_key(user_id text, key_version integer, wrapped_by integer, wrapped_key bytea, kek_version integer) IS 'Stores a data key rewrapped under master key version kek_version, if it is still wrapped by wrapped_by (false when the patient was erased or another rotation got there first). Worker role only.';

--
-- Name: check_results; Type: TABLE; Schema: compliance; Owner: compliance_owner
--

CREATE TABLE compliance.check_results (
    run_id bigint NOT NULL,
    check_name text NOT NULL,
    status text NOT NULL,
    measured jsonb DEFAULT '{}'::jsonb NOT NULL,
    threshold jsonb DEFAULT '{}'::jsonb NOT NULL,
    detail text NOT NULL,
    evidence text NOT NULL,
    CONSTRAINT check_results_status_known CHECK ((status = ANY (ARRAY['pass'::text, 'fail'::text, 'not_applicable'::text])))
);

ALTER TABLE ONLY compliance.check_results FORCE ROW LEVEL SECURITY;

ALTER TABLE compliance.check_results OWNER TO compliance_owner;

--
-- Name: TABLE check_results; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON TABLE compliance.check_results IS 'One row per check per run: the status (pass, fail, not_applicable), what was measured and against what threshold, a sentence, and the evidence: the SQL that produced the measurement, to run again.';

--
-- Name: COLUMN check_results.run_id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.check_results.run_id IS 'The run (check_runs.id).';

--
-- Name: COLUMN check_results.check_name; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.check_results.check_name IS 'Which check (compliance_private.check_<name>).';

--
-- Name: COLUMN check_results.status; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.check_results.status IS 'pass, fail, or not_applicable (not measurable by a data store; never a pass).';

--
-- Name: COLUMN check_results.measured; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.check_results.measured IS 'The measured values.';

--
-- Name: COLUMN check_results.threshold; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.check_results.threshold IS 'What they were measured against.';

--
-- Name: COLUMN check_results.detail; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.check_results.detail IS 'One sentence: what was found, or why it cannot be measured.';

--
-- Name: COLUMN check_results.evidence; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.check_results.evidence IS 'The query whose result is the measurement.';

--
-- Name: run_compliance_checks(text, boolean, boolean); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.run_compliance_checks(trigger text DEFAULT 'demand'::text, require_tls boolean DEFAULT false, full_verification boolean DEFAULT false) RETURNS SETOF compliance.check_results
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
declare
  v_run compliance.check_runs;
  v_since bigint;
  v_context jsonb;
  v_name text;
  v_result record;
  v_row compliance.check_results;
begin
  if trigger is null or trigger not in ('schedule', 'demand') then
    perform compliance_private.raise_error('BADRG', format('trigger %L is unknown', trigger), 'Use schedule or demand.');
  end if;
  -- findings are counted from where the last run began
  select r.audit_high_water into v_since from compliance.check_runs r order by r.id desc limit 1;
  insert into compliance.check_runs as r (trigger, audit_high_water)
  values (run_compliance_checks.trigger, coalesce((select max(a.id) from compliance.audit_logs a), 0))
  returning r.* into v_run;
  v_context := jsonb_build_object('since_audit_id', coalesce(v_since, 0), 'require_tls', coalesce(require_tls, false),
    'full_verification', coalesce(full_verification, false));
  foreach v_name in array array['audit_chain', 'seal_lag', 'retention_backlog', 'overdue_requests', 'emergency_reviews',
                                'phi_findings', 'breach_deadlines', 'access_review', 'row_level_security', 'privileges', 'password_encryption', 'client_tls',
                                'master_key_age', 'backup_age', 'anchors', 'worker_heartbeat', 'uptime', 'outside_the_database', 'privileged_mfa', 'wal_archive_lag', 'restore_drill', 'data_map'] loop
    execute format('select * from compliance_private.check_%s($1)', v_name) into v_result using v_context;
    insert into compliance.check_results as c (run_id, check_name, status, measured, threshold, detail, evidence)
    values (v_run.id, v_name, v_result.status, v_result.measured, v_result.threshold, v_result.detail, v_result.evidence)
    returning c.* into v_row;
    -- one alert per failing check per run, in this transaction
    if v_row.status = 'fail' then
      perform compliance_private.raise_alert('compliance.check_failed',
        jsonb_build_object('run_id', v_run.id, 'check', v_name, 'measured', v_row.measured, 'threshold', v_row.threshold));
    end if;
    return next v_row;
  end loop;
  update compliance.check_runs r
     set finished_at = clock_timestamp(),
         passed = (select count(*) from compliance.check_results c where c.run_id = v_run.id and c.status = 'pass'),
         failed = (select count(*) from compliance.check_results c where c.run_id = v_run.id and c.status = 'fail'),
         not_applicable = (select count(*) from compliance.check_results c where c.run_id = v_run.id and c.status = 'not_applicable')
   where r.id = v_run.id
  returning r.* into v_run;
  perform compliance_private.append_audit('compliance.checks_run', 'soc2', 'check_run', v_run.id::text,
    jsonb_build_object('trigger', v_run.trigger, 'passed', v_run.passed, 'failed', v_run.failed,
      'not_applicable', v_run.not_applicable,
      'failed_checks', (select coalesce(jsonb_agg(c.check_name order by c.check_name), '[]') from compliance.check_results c
                         where c.run_id = v_run.id and c.status = 'fail'),
      -- the results themselves are anchored in the chain by their hash
      'results_sha256', encode(sha256(convert_to((select jsonb_agg(to_jsonb(c) order by c.check_name)::text
                                                  from compliance.check_results c where c.run_id = v_run.id), 'UTF8')), 'hex')));
end;
$_$;

ALTER FUNCTION compliance.run_compliance_checks(trigger text, require_tls boolean, full_verification boolean) OWNER TO compliance_owner;

--
-- Name: FUNCTION run_compliance_checks(trigger text, require_tls boolean, full_verification boolean); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.run_compliance_checks(trigger text, require_tls boolean, full_verification boolean) IS 'Runs every compliance check (compliance_private.check_*) now, stores a run and its results, raises one compliance.check_failed alert per failing check in the outbox, and audits the run (compliance.checks_run, with the results'' hash). require_tls: whether the deployment requires TLS (REQUIRE_TLS), for the client_tls check; full_verification: verify the whole audit chain rather than from the last checkpoint. Returns the results. The worker runs it daily at 06:00 UTC; a DPO on demand.';

--
-- Name: schema_version(); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.schema_version() RETURNS text
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  select m.filename from graphile_migrate.migrations m order by m.date desc, m.filename desc limit 1;
$$;

ALTER FUNCTION compliance.schema_version() OWNER TO compliance_owner;

--
-- Name: FUNCTION schema_version(); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.schema_version() IS 'The newest migration applied (its file name, e.g. 000033.sql): the schema version an evidence manifest records.';

--
-- Name: seal_audit_log(integer, integer); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.seal_audit_log(max_rows_per_seal integer DEFAULT 10000, max_seals integer DEFAULT 100) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_seen bigint;
  v_head compliance_private.audit_seal_head;
  v_own xid8;
  v_limit bigint;
  v_seals integer := 0;
  v_count integer;
  v_ids bigint[];
  v_hashes bytea;
  v_last bigint;
  v_hash bytea;
begin
  if max_rows_per_seal not between 1 and 1000000 or max_seals < 1 then
    perform compliance_private.raise_error('BADRG', 'max_rows_per_seal must be 1..1000000 and max_seals at least 1');
  end if;
  -- every id handed out so far; each was taken by a transaction that already had its id
  select case when s.is_called then s.last_value else s.last_value - 1 end into v_seen
    from compliance_private.audit_logs_id_seq s;
  -- serializes sealers only: writers never touch this row. Locking it gives us a transaction
  -- id newer than that of every transaction holding an id up to v_seen.
  select * into strict v_head from compliance_private.audit_seal_head for update;
  v_own := pg_current_xact_id();

  if not compliance_private.older_transaction_running(v_own) then
    v_limit := v_seen;              -- nothing older than us is running: every id seen is final
    v_head.pending_row_id := null;
    v_head.pending_xact_id := null;
  elsif v_head.pending_xact_id <= v_own and not compliance_private.older_transaction_running(v_head.pending_xact_id) then
    v_limit := v_head.pending_row_id;  -- an earlier run's horizon has come of age
    v_head.pending_row_id := v_seen;
    v_head.pending_xact_id := v_own;
  else
    v_limit := v_head.next_row_id - 1;
    if v_head.pending_xact_id is null or v_head.pending_xact_id > v_own then
      -- none yet, or recorded on another cluster before a restore
      v_head.pending_row_id := v_seen;
      v_head.pending_xact_id := v_own;
    end if;
  end if;

  while v_seals < max_seals and v_head.next_row_id <= v_limit loop
    select count(*)::integer, array_agg(b.id order by b.id), string_agg(b.row_hash, ''::bytea order by b.id)
      into v_count, v_ids, v_hashes
      from (select c.id, c.row_hash
              from compliance_private.audit_log_checks c
             where c.id >= v_head.next_row_id and c.id <= v_limit
             order by c.id
             limit max_rows_per_seal) b;
    if v_count = 0 then
      -- only ids of rolled-back rows so far: the next seal's range starts here and covers them,
      -- so every id belongs to exactly one seal's range and the ranges stay contiguous
      exit;
    end if;
    -- a full seal ends at its last row; the last one covers the range up to the limit
    v_last := case when v_count = max_rows_per_seal then v_ids[v_count] else v_limit end;
    v_head.last_seal_no := v_head.last_seal_no + 1;
    v_hash := compliance_private.audit_seal_hash_v2(v_head.last_hash, v_head.last_seal_no,
                v_head.next_row_id, v_last, v_count, v_hashes);
    insert into compliance.audit_seals (seal_no, layout, first_row_id, last_row_id, row_count, row_ids,
                                        row_hashes, previous_hash, seal_hash)
    values (v_head.last_seal_no, 2, v_head.next_row_id, v_last, v_count, v_ids, v_hashes,
            v_head.last_hash, v_hash);
    v_head.next_row_id := v_last + 1;
    v_head.last_hash := v_hash;
    v_seals := v_seals + 1;
  end loop;

  update compliance_private.audit_seal_head
     set last_seal_no = v_head.last_seal_no, last_hash = v_head.last_hash, next_row_id = v_head.next_row_id,
         pending_row_id = v_head.pending_row_id, pending_xact_id = v_head.pending_xact_id;
  return v_seals;
end;
$$;

ALTER FUNCTION compliance.seal_audit_log(max_rows_per_seal integer, max_seals integer) OWNER TO compliance_owner;

--
-- Name: FUNCTION seal_audit_log(max_rows_per_seal integer, max_seals integer); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.seal_audit_log(max_rows_per_seal integer, max_seals integer) IS 'Seals audit rows in id order into new audit_seals (at most max_rows_per_seal rows each, at most max_seals per call): every id handed out before the call once no older transaction is still running, otherwise up to the horizon an earlier call recorded. Takes no lock that a writer waits for; concurrent sealers wait for each other. Ids of rolled-back rows stay inside the range of the next seal that has rows, so the ranges are contiguous. Survives a restore onto another cluster (db/AUDIT_HASHING.md). Returns the number of seals made. The worker runs it every few seconds.';

--
-- Name: set_anchor_key(text); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.set_anchor_key(key_fingerprint text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
declare
  v_before text := (select s.anchor_key_fingerprint from compliance.compliance_check_settings s);
begin
  if key_fingerprint is null or key_fingerprint !~ '^[0-9a-f]{64}$' then
    perform compliance_private.raise_error('BADRG', 'a key fingerprint is the SHA-256 of the public key (SubjectPublicKeyInfo), 64 hex digits');
  end if;
  if v_before is not distinct from key_fingerprint then
    return;
  end if;
  update compliance.compliance_check_settings s set anchor_key_fingerprint = set_anchor_key.key_fingerprint;
  perform compliance_private.append_audit('audit.anchor_key_set', 'soc2', 'anchor_key', left(key_fingerprint, 16),
    jsonb_build_object('key_fingerprint', key_fingerprint, 'previous', v_before));
end;
$_$;

ALTER FUNCTION compliance.set_anchor_key(key_fingerprint text) OWNER TO compliance_owner;

--
-- Name: FUNCTION set_anchor_key(key_fingerprint text); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.set_anchor_key(key_fingerprint text) IS 'Sets the anchor key: from then on compliance.record_anchor takes only anchors signed with the key of this fingerprint, and the anchors check counts only those. The worker calls it with ANCHOR_SIGNING_KEY''s public key before it records an anchor; a change is audited (audit.anchor_key_set). Errors: BADRG.';

--
-- Name: user_preferences; Type: TABLE; Schema: compliance; Owner: compliance_owner
--

CREATE TABLE compliance.user_preferences (
    user_id text NOT NULL,
    preferences jsonb DEFAULT '{}'::jsonb NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT user_preferences_object CHECK ((jsonb_typeof(preferences) = 'object'::text))
);

ALTER TABLE ONLY compliance.user_preferences FORCE ROW LEVEL SECURITY;

ALTER TABLE compliance.user_preferences OWNER TO compliance_owner;

--
-- Name: TABLE user_preferences; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON TABLE compliance.user_preferences IS 'A subject''s preferences (one JSON object per subject). Personal data; kept until erasure.';

--
-- Name: COLUMN user_preferences.user_id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.user_preferences.user_id IS 'Personal: the subject (references user_profiles; the primary key doubles as the foreign-key index).';

--
-- Name: COLUMN user_preferences.preferences; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.user_preferences.preferences IS 'Personal: the preferences as a JSON object.';

--
-- Name: COLUMN user_preferences.updated_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.user_preferences.updated_at IS 'When the preferences last changed; maintained by trigger.';

--
-- Name: set_preferences(text, jsonb, boolean); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.set_preferences(user_id text, preferences jsonb, merge boolean DEFAULT true) RETURNS compliance.user_preferences
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_row compliance.user_preferences;
begin
  if preferences is null or jsonb_typeof(preferences) <> 'object' then
    perform compliance_private.raise_error('BADFL', 'preferences must be a JSON object');
  end if;
  perform compliance_private.require_subject(user_id);
  insert into compliance.user_preferences as p (user_id, preferences)
    values (set_preferences.user_id, set_preferences.preferences)
    on conflict on constraint user_preferences_pkey do update
      set preferences = case when set_preferences.merge then p.preferences || excluded.preferences
                             else excluded.preferences end
  returning * into v_row;
  return v_row;
end;
$$;

ALTER FUNCTION compliance.set_preferences(user_id text, preferences jsonb, merge boolean) OWNER TO compliance_owner;

--
-- Name: FUNCTION set_preferences(user_id text, preferences jsonb, merge boolean); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.set_preferences(user_id text, preferences jsonb, merge boolean) IS 'Sets a subject''s preferences: merged into the existing object (merge => true) or replacing it. Errors: BADFL, UNKSJ, ERASD.';

--
-- Name: set_request_context(text, text[], inet, text); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.set_request_context(actor text, roles text[] DEFAULT '{}'::text[], client_ip inet DEFAULT NULL::inet, user_agent text DEFAULT NULL::text) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  -- the server switches to compliance_dpo, compliance_staff or compliance_approver only for a
  -- token with the dpo, staff or approver role; a context that says otherwise is a server bug acting with rights its caller does
  -- not have. Raised here, not through compliance_private, which the staff role cannot reach.
  if current_user in ('compliance_dpo', 'compliance_staff', 'compliance_approver')
     and not coalesce(substr(current_user, 12) = any (roles), false) then
    raise exception 'the % role needs an actor whose roles include %', current_user, substr(current_user, 12)
      using errcode = 'DPORL',
            hint = format('Set the request context with roles => ''{%s}'', or act for a subject as compliance_app.', substr(current_user, 12));
  end if;
  perform set_config('compliance.actor', coalesce(actor, ''), true),
          set_config('compliance.actor_roles', coalesce(array_to_string(roles, ','), ''), true),
          set_config('compliance.client_ip', coalesce(client_ip::text, ''), true),
          set_config('compliance.user_agent', coalesce(left(user_agent, 512), ''), true);
end;
$$;

ALTER FUNCTION compliance.set_request_context(actor text, roles text[], client_ip inet, user_agent text) OWNER TO compliance_owner;

--
-- Name: FUNCTION set_request_context(actor text, roles text[], client_ip inet, user_agent text); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.set_request_context(actor text, roles text[], client_ip inet, user_agent text) IS 'Sets who is acting in this transaction (actor, their roles, client IP and user agent); every audit row reads them. As compliance_dpo, compliance_staff or compliance_approver, the roles must include dpo, staff or approver (DPORL otherwise).';

--
-- Name: standby_health_records(uuid, text); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.standby_health_records(ticket uuid, user_id text) RETURNS TABLE(id uuid, category text, classification text, recorded_by text, recorded_at timestamp with time zone, updated_at timestamp with time zone, key_version integer, ciphertext bytea, integrity bytea, wrapped_key bytea, kek_version integer, version integer, integrity_scheme smallint, version_check text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_lease compliance_private.standby_read_leases;
begin
  v_lease := compliance_private.standby_lease(ticket, user_id);
  return query select * from compliance_private.health_record_rows(user_id, v_lease.record_ids);
end;
$$;

ALTER FUNCTION compliance.standby_health_records(ticket uuid, user_id text) OWNER TO compliance_owner;

--
-- Name: FUNCTION standby_health_records(ticket uuid, user_id text); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.standby_health_records(ticket uuid, user_id text) IS 'DPO, on a hot standby: the subject''s health records as read_health_records returns them, limited to those the lease''s phi.read audit row names, under a ticket from compliance.lease_subject_export. Writes nothing. Errors: STBYO, RDLSE, ERASD.';

--
-- Name: standby_subject_export(uuid, text); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.standby_subject_export(ticket uuid, user_id text) RETURNS json
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  perform compliance_private.standby_lease(ticket, user_id);
  return compliance_private.subject_document(user_id);
end;
$$;

ALTER FUNCTION compliance.standby_subject_export(ticket uuid, user_id text) OWNER TO compliance_owner;

--
-- Name: FUNCTION standby_subject_export(ticket uuid, user_id text); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.standby_subject_export(ticket uuid, user_id text) IS 'DPO, on a hot standby: the subject document export_subject returns, read under a ticket from compliance.lease_subject_export (which the primary audited). Writes nothing. Errors: STBYO on a primary, RDLSE without a live ticket for this subject, ERASD.';

--
-- Name: conversations; Type: TABLE; Schema: compliance; Owner: compliance_owner
--

CREATE TABLE compliance.conversations (
    conversation_id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id text NOT NULL,
    title text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    last_message_at timestamp with time zone DEFAULT now() NOT NULL,
    archived boolean DEFAULT false NOT NULL,
    metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    CONSTRAINT conversations_metadata_object CHECK ((jsonb_typeof(metadata) = 'object'::text)),
    CONSTRAINT conversations_title_length CHECK ((length(title) <= 512))
);

ALTER TABLE ONLY compliance.conversations FORCE ROW LEVEL SECURITY;

ALTER TABLE compliance.conversations OWNER TO compliance_owner;

--
-- Name: TABLE conversations; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON TABLE compliance.conversations IS 'A subject''s conversations. Personal data; deleted 90 days after the last message (retention policy conversations), with their messages.';

--
-- Name: COLUMN conversations.conversation_id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.conversations.conversation_id IS 'Conversation identifier.';

--
-- Name: COLUMN conversations.user_id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.conversations.user_id IS 'Personal: the subject who owns the conversation.';

--
-- Name: COLUMN conversations.title; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.conversations.title IS 'Personal: title, may contain anything the subject wrote.';

--
-- Name: COLUMN conversations.created_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.conversations.created_at IS 'When the conversation started.';

--
-- Name: COLUMN conversations.last_message_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.conversations.last_message_at IS 'When the last message was added; retention counts from it.';

--
-- Name: COLUMN conversations.archived; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.conversations.archived IS 'Whether the subject archived the conversation.';

--
-- Name: COLUMN conversations.metadata; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.conversations.metadata IS 'Personal: free-form attributes (JSON object).';

--
-- Name: start_conversation(text, text, jsonb); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.start_conversation(user_id text, title text DEFAULT NULL::text, metadata jsonb DEFAULT '{}'::jsonb) RETURNS compliance.conversations
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_row compliance.conversations;
begin
  perform compliance_private.require_subject(user_id);
  insert into compliance.conversations (user_id, title, metadata)
    values (start_conversation.user_id, start_conversation.title, coalesce(start_conversation.metadata, '{}'))
  returning * into v_row;
  return v_row;
end;
$$;

ALTER FUNCTION compliance.start_conversation(user_id text, title text, metadata jsonb) OWNER TO compliance_owner;

--
-- Name: FUNCTION start_conversation(user_id text, title text, metadata jsonb); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.start_conversation(user_id text, title text, metadata jsonb) IS 'Starts a conversation for a subject. Errors: UNKSJ, ERASD.';

--
-- Name: subject_access_log(text, bigint, integer, boolean); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.subject_access_log(user_id text, before_id bigint DEFAULT NULL::bigint, page_size integer DEFAULT 50, others_only boolean DEFAULT false) RETURNS TABLE(id bigint, occurred_at timestamp with time zone, action text, actor_id text, actor_role text, purpose text, record_ids jsonb, outcome text, failure_reason text, grant_id bigint, emergency boolean)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_rows bigint;
begin
  perform compliance_private.require_subject(user_id);
  return query select * from compliance_private.access_log_entries(user_id, others_only, before_id, page_size);
  get diagnostics v_rows = row_count;
  perform compliance_private.append_audit('subject.access_log_read', 'gdpr', 'audit_log', null,
    jsonb_build_object('procedure', 'subject_access_log', 'rows', v_rows), subject_access_log.user_id);
end;
$$;

ALTER FUNCTION compliance.subject_access_log(user_id text, before_id bigint, page_size integer, others_only boolean) OWNER TO compliance_owner;

--
-- Name: FUNCTION subject_access_log(user_id text, before_id bigint, page_size integer, others_only boolean); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.subject_access_log(user_id text, before_id bigint, page_size integer, others_only boolean) IS 'DPO: a subject''s access log as they see it in their privacy center (compliance.phi_access_log), newest first, a page at a time. Audited as subject.access_log_read with the number of rows. Errors: DPORL (the request context is not a DPO''s), UNKSJ, ERASD, BADRG.';

--
-- Name: subject_consents(text); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.subject_consents(user_id text) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_result jsonb;
begin
  perform compliance_private.require_subject(user_id);
  select jsonb_build_object(
           'current', coalesce((select jsonb_agg(jsonb_build_object('purpose', c.purpose, 'granted', c.granted,
                                  'policy_version', c.policy_version, 'recorded_at', c.recorded_at) order by c.purpose)
                                  from compliance.current_consents c where c.user_id = subject_consents.user_id), '[]'),
           'history', coalesce((select jsonb_agg(jsonb_build_object('id', r.id, 'purpose', r.purpose, 'granted', r.granted,
                                  'policy_version', r.policy_version, 'source', r.source, 'recorded_at', r.recorded_at,
                                  'ip_address', host(r.ip_address), 'user_agent', r.user_agent) order by r.recorded_at, r.id)
                                  from compliance.consent_records r where r.user_id = subject_consents.user_id), '[]'))
    into v_result;
  perform compliance.log_event('subject.consents_read', 'gdpr', 'consent', null,
    jsonb_build_object('procedure', 'subject_consents', 'records', jsonb_array_length(v_result -> 'history')), user_id);
  return v_result;
end;
$$;

ALTER FUNCTION compliance.subject_consents(user_id text) OWNER TO compliance_owner;

--
-- Name: FUNCTION subject_consents(user_id text); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.subject_consents(user_id text) IS 'DPO: a subject''s current consent per purpose and every consent record (GDPR Art. 7(1) evidence), as JSON {current, history}. Audited (subject.consents_read). Errors: UNKSJ, ERASD.';

--
-- Name: subject_keys_to_rewrap(integer, integer); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.subject_keys_to_rewrap(kek_version integer, max_rows integer DEFAULT 1000) RETURNS TABLE(user_id text, key_version integer, wrapped_key bytea, wrapped_by integer)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  if max_rows is null or max_rows not between 1 and 100000 then
    perform compliance_private.raise_error('BADRG', 'max_rows must be between 1 and 100000');
  end if;
  return query
    select k.user_id, k.key_version, k.wrapped_key, k.kek_version
      from compliance_private.subject_keys k
     where k.kek_version <> subject_keys_to_rewrap.kek_version
     order by k.user_id, k.key_version
     limit max_rows;
end;
$$;

ALTER FUNCTION compliance.subject_keys_to_rewrap(kek_version integer, max_rows integer) OWNER TO compliance_owner;

--
-- Name: FUNCTION subject_keys_to_rewrap(kek_version integer, max_rows integer); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.subject_keys_to_rewrap(kek_version integer, max_rows integer) IS 'A batch of wrapped data keys not yet wrapped by master key version kek_version, for the key rotation command (npm run phi-keys -- rotate): it unwraps each with its old master key, wraps it with the new one and stores it with rewrap_subject_key. No record''s ciphertext changes. Worker role only.';

--
-- Name: subject_overview(text); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.subject_overview(user_id text) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_result jsonb;
begin
  perform compliance_private.require_subject(user_id);
  -- counts, never contents: the DPO opens the contents through export_subject, which is a
  -- request of its own
  select jsonb_build_object(
    'user_id', p.user_id,
    'created_at', p.created_at,
    'sections', jsonb_build_object(
      'profile', 1,
      'preferences', (select count(*) from compliance.user_preferences pr, jsonb_object_keys(pr.preferences) k where pr.user_id = p.user_id),
      'consents', (select count(*) from compliance.consent_records c where c.user_id = p.user_id),
      'conversations', (select count(*) from compliance.conversations cv where cv.user_id = p.user_id),
      'messages', (select count(*) from compliance.messages m where m.user_id = p.user_id),
      'health_records', (select count(*) from compliance.health_records h where h.user_id = p.user_id),
      'sessions', (select count(*) from compliance.sessions s where s.user_id = p.user_id),
      'audit_trail', (select count(*) from compliance.audit_logs a where a.user_id = p.user_id),
      'breach_notices', (select count(*) from compliance.breach_subjects bs where bs.user_id = p.user_id)),
    'requests', coalesce((select jsonb_agg(jsonb_build_object('id', r.id, 'kind', r.kind, 'status', r.status, 'received_at', r.received_at,
                            'due_at', r.due_at, 'completed_at', r.completed_at, 'handled_by', r.handled_by, 'notes', r.notes) order by r.id desc)
                            from compliance.dsr_requests r where r.user_id = p.user_id), '[]'),
    'holds', coalesce((select jsonb_agg(jsonb_build_object('id', h.id, 'reason', h.reason, 'placed_at', h.placed_at, 'placed_by', h.placed_by,
                         'released_at', h.released_at, 'released_by', h.released_by) order by h.id desc)
                         from compliance.legal_holds h where h.user_id = p.user_id), '[]'))
    into v_result
    from compliance.user_profiles p where p.user_id = subject_overview.user_id;
  perform compliance_private.append_audit('subject.viewed', 'gdpr', 'user_profiles', null,
    jsonb_build_object('procedure', 'subject_overview'), subject_overview.user_id);
  return v_result;
end;
$$;

ALTER FUNCTION compliance.subject_overview(user_id text) OWNER TO compliance_owner;

--
-- Name: FUNCTION subject_overview(user_id text); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.subject_overview(user_id text) IS 'DPO: what is held about a subject, as counts per section of their export (profile, preferences, consents, conversations, messages, health records, sessions, audit rows, breach notices), with every request they made (GDPR Art. 12-22) and every legal hold, released ones too. Counts only: the contents come with export_subject. Audited as subject.viewed. Errors: UNKSJ, ERASD.';

--
-- Name: tg_personal_table_audit(); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.tg_personal_table_audit() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
declare
  v_table compliance.personal_tables;
  v_sql record;
  v_name text;
  v_actor text := compliance.current_actor();
  v_ip inet := compliance.current_client_ip();
  v_user_agent text := compliance.current_user_agent();
  v_actor_salt bytea := uuid_send(gen_random_uuid());
  v_actor_digest bytea;
  v_authentication jsonb := case when compliance_private.current_authentication() is null then '{}'
                                 else jsonb_build_object('authentication', compliance_private.current_authentication()) end;
  v_personal text[];
  v_changed text;
begin
  if compliance_private.in_any_bulk_operation() then
    return null;  -- erasure and retention write one summary row with counts per table
  end if;
  select * into v_table from compliance.personal_tables p where p.relation = tg_relid;
  if not found then
    return null;
  end if;
  v_sql := compliance.personal_table_sql(tg_relid);
  v_name := tg_relid::regclass::text;
  v_actor_digest := compliance_private.audit_actor_digest(v_actor_salt, v_actor, v_ip, v_user_agent);
  select coalesce(array_agg(k), '{}') into v_personal from jsonb_object_keys(v_table.personal_columns) k;
  -- once per statement and set-based, as pgcomply's own tables are audited
  if tg_op in ('INSERT', 'DELETE') then
    execute format($q$
      insert into compliance.audit_logs (action, category, resource_type, resource_id, details, user_id,
        actor_id, ip_address, user_agent, subject_part_salt, subject_part_digest, actor_part_salt,
        actor_part_digest, personal_digest)
      select $8, 'gdpr', $1, x.resource_id, jsonb_build_object('table', $1) || $7, x.subject, $2, $3, $4, x.salt, x.digest, $5, $6,
             sha256(x.digest || $6)
        from (select y.*, compliance_private.audit_subject_digest(y.salt, y.subject, null) as digest
                from (select %s as resource_id, %s as subject, uuid_send(gen_random_uuid()) as salt from %I r) y) x$q$,
      v_sql.key_of_row, v_sql.subject_of_row, case when tg_op = 'INSERT' then 'new_rows' else 'old_rows' end)
    using v_name, v_actor, v_ip, v_user_agent, v_actor_salt, v_actor_digest, v_authentication,
          case when tg_op = 'INSERT' then 'personal_row.created' else 'personal_row.deleted' end;
  else
    -- the changed columns' names in details; the old and new values of the personal ones in the
    -- personal part, which erasure redacts (Art. 16)
    select string_agg(format('case when o.%1$I is distinct from r.%1$I then %1$L end', a.attname), ', ' order by a.attnum)
      into v_changed
      from pg_catalog.pg_attribute a where a.attrelid = tg_relid and a.attnum > 0 and not a.attisdropped;
    execute format($q$
      insert into compliance.audit_logs (action, category, resource_type, resource_id, details, user_id,
        actor_id, ip_address, user_agent, personal_details, subject_part_salt, subject_part_digest, actor_part_salt,
        actor_part_digest, personal_digest)
      select 'personal_row.updated', 'gdpr', $1, x.resource_id,
             jsonb_build_object('table', $1, 'changed_fields', to_jsonb(x.changed)) || $7, x.subject, $2, $3, $4, x.personal,
             x.salt, x.digest, $5, $6, sha256(x.digest || $6)
        from (select y.*, compliance_private.audit_subject_digest(y.salt, y.subject, y.personal) as digest
                from (select z.*, case when z.changed && $8 then jsonb_build_object(
                               'old', (select jsonb_object_agg(e.key, e.value) from jsonb_each(z.old_row) e where e.key = any (z.changed) and e.key = any ($8)),
                               'new', (select jsonb_object_agg(e.key, e.value) from jsonb_each(z.new_row) e where e.key = any (z.changed) and e.key = any ($8))) end as personal
                        from (select %s as resource_id, %s as subject, uuid_send(gen_random_uuid()) as salt,
                                     array_remove(array[%s], null) as changed, to_jsonb(o) as old_row, to_jsonb(r) as new_row
                                from new_rows r join old_rows o on %s) z
                       where cardinality(z.changed) > 0) y) x$q$,
      v_sql.key_of_row, v_sql.subject_of_row, v_changed,
      (select string_agg(format('o.%1$I is not distinct from r.%1$I', k), ' and ') from unnest(v_table.key_columns) k))
    using v_name, v_actor, v_ip, v_user_agent, v_actor_salt, v_actor_digest, v_authentication, v_personal;
  end if;
  return null;
end;
$_$;

ALTER FUNCTION compliance.tg_personal_table_audit() OWNER TO compliance_owner;

--
-- Name: FUNCTION tg_personal_table_audit(); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.tg_personal_table_audit() IS 'AFTER INSERT, UPDATE and DELETE statement trigger that compliance.register_personal_table attaches to a registered table: one audit row per row written (personal_row.created, personal_row.updated, personal_row.deleted), naming the table and the row''s primary key, with the subject from the subject column (or through its foreign key) and the actor from the request context. An update lists the changed columns; the old and new values of the personal ones go into the row''s personal part, which erasure redacts. Set-based, like the triggers on pgcomply''s own tables. Callable only as a trigger.';

--
-- Name: sessions; Type: TABLE; Schema: compliance; Owner: compliance_owner
--

CREATE TABLE compliance.sessions (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    last_activity_at timestamp with time zone DEFAULT now() NOT NULL,
    ended_at timestamp with time zone,
    ip_address inet,
    user_agent text,
    CONSTRAINT sessions_end_after_start CHECK (((ended_at IS NULL) OR (ended_at >= created_at))),
    CONSTRAINT sessions_user_agent_length CHECK ((length(user_agent) <= 512))
);

ALTER TABLE ONLY compliance.sessions FORCE ROW LEVEL SECURITY;

ALTER TABLE compliance.sessions OWNER TO compliance_owner;

--
-- Name: TABLE sessions; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON TABLE compliance.sessions IS 'A subject''s authenticated sessions (HIPAA §164.312(a)(2)(iii) automatic logoff after 15 minutes of inactivity). Personal data; deleted 90 days after last activity.';

--
-- Name: COLUMN sessions.id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.sessions.id IS 'Session identifier.';

--
-- Name: COLUMN sessions.user_id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.sessions.user_id IS 'Personal: the subject.';

--
-- Name: COLUMN sessions.created_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.sessions.created_at IS 'When the session started.';

--
-- Name: COLUMN sessions.last_activity_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.sessions.last_activity_at IS 'Last request in the session; retention and the inactivity timeout count from it.';

--
-- Name: COLUMN sessions.ended_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.sessions.ended_at IS 'When the session was closed (logout or timeout); NULL while open.';

--
-- Name: COLUMN sessions.ip_address; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.sessions.ip_address IS 'Personal: client IP address at session start.';

--
-- Name: COLUMN sessions.user_agent; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.sessions.user_agent IS 'Personal: user agent at session start.';

--
-- Name: touch_session(text, uuid, interval); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.touch_session(user_id text, session_id uuid, idle_timeout interval DEFAULT '00:15:00'::interval) RETURNS compliance.sessions
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_row compliance.sessions;
begin
  perform compliance_private.require_subject(user_id);
  select * into v_row from compliance.sessions s
   where s.id = session_id and s.user_id = touch_session.user_id for no key update;
  if not found then
    -- parallel first requests of one session: one inserts, the others find its row
    insert into compliance.sessions (id, user_id, ip_address, user_agent)
      values (session_id, touch_session.user_id, compliance.current_client_ip(), compliance.current_user_agent())
      on conflict on constraint sessions_pkey do nothing
    returning * into v_row;
    if found then
      return v_row;
    end if;
    select * into v_row from compliance.sessions s
     where s.id = session_id and s.user_id = touch_session.user_id for no key update;
    if not found then
      perform compliance_private.raise_error('SESXP', 'this session belongs to someone else', 'Sign in again.');
    end if;
  end if;
  if v_row.ended_at is not null then
    perform compliance_private.raise_error('SESXP', 'this session has ended', 'Sign in again.');
  end if;
  if v_row.last_activity_at < now() - idle_timeout then
    perform compliance_private.raise_error('SESXP',
      format('session expired after %s of inactivity', compliance_private.describe_interval(idle_timeout)),
      'Sign in again (HIPAA automatic logoff).');
  end if;
  update compliance.sessions s set last_activity_at = now() where s.id = session_id
    returning * into v_row;
  return v_row;
end;
$$;

ALTER FUNCTION compliance.touch_session(user_id text, session_id uuid, idle_timeout interval) OWNER TO compliance_owner;

--
-- Name: FUNCTION touch_session(user_id text, session_id uuid, idle_timeout interval); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.touch_session(user_id text, session_id uuid, idle_timeout interval) IS 'Records activity in a session, opening it on first use. A session idle longer than idle_timeout (default 15 minutes, HIPAA automatic logoff) or closed refuses further use (SESXP).';

--
-- Name: unregister_personal_table(regclass, text); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.unregister_personal_table(relation regclass, reason text DEFAULT NULL::text) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_row compliance.personal_tables;
begin
  v_row := compliance.record_personal_table_removal(relation, reason);
  execute format('drop trigger if exists _900_pgcomply_audit_insert on %s', relation);
  execute format('drop trigger if exists _901_pgcomply_audit_update on %s', relation);
  execute format('drop trigger if exists _902_pgcomply_audit_delete on %s', relation);
  execute format('drop policy if exists owner_routines on %s', relation);
  execute format('drop policy if exists dpo_every_subject on %s', relation);
  execute format('drop policy if exists subject_own_rows on %s', relation);
  execute format('drop policy if exists application_rows on %s', relation);
  execute format('alter table %s owner to %I', relation, v_row.owner_before);
  execute format('revoke all on %s from compliance_owner, compliance_dpo, compliance_app', relation);
  -- row-level security as it was before registration
  if not v_row.rls_was_forced then
    execute format('alter table %s no force row level security', relation);
  end if;
  if not v_row.rls_was_enabled then
    execute format('alter table %s disable row level security', relation);
  end if;
end;
$$;

ALTER FUNCTION compliance.unregister_personal_table(relation regclass, reason text) OWNER TO compliance_owner;

--
-- Name: FUNCTION unregister_personal_table(relation regclass, reason text); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.unregister_personal_table(relation regclass, reason text) IS 'Takes one of your tables out of pgcomply''s rules, called by its owner: refuses while it holds rows with a subject unless reason says why (audited), then gives the table back to the role that owned it, removes the audit triggers, the policies and the grants registration added and puts row-level security back as it was. Errors: PTOWN, PTROW, BADRG.';

--
-- Name: update_breach(bigint, jsonb); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.update_breach(breach_id bigint, changes jsonb) RETURNS compliance.breaches
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_row compliance.breaches;
  v_unknown text;
  v_notifiable boolean;
  v_reason text;
begin
  if changes is null or jsonb_typeof(changes) <> 'object' or changes = '{}' then
    perform compliance_private.raise_error('BADFL', 'changes must be a JSON object with at least one field');
  end if;
  select k into v_unknown from jsonb_object_keys(changes) k
   where k not in ('description', 'data_categories', 'affected_count', 'risk_assessment', 'risk_factors', 'notifiable',
                   'not_notifiable_reason', 'status', 'add_affected_user_ids', 'note') limit 1;
  if found then
    perform compliance_private.raise_error('BADFL', format('unknown field %s', v_unknown),
      'Use description, data_categories, affected_count, risk_assessment, risk_factors, notifiable, not_notifiable_reason, status (open or contained), add_affected_user_ids, note.');
  end if;
  if changes ? 'notifiable' and jsonb_typeof(changes -> 'notifiable') not in ('boolean', 'null') then
    perform compliance_private.raise_error('BADRG', 'notifiable must be true, false or null (not assessed yet)');
  end if;
  if changes ? 'risk_factors' and (jsonb_typeof(changes -> 'risk_factors') <> 'array'
      or exists (select from jsonb_array_elements(changes -> 'risk_factors') f
                  where jsonb_typeof(f) <> 'string' or length(trim(f #>> '{}')) not between 1 and 200)) then
    perform compliance_private.raise_error('BADRG', 'risk_factors must be a list of short texts (1 to 200 characters each)');
  end if;
  if changes ->> 'status' = 'closed' then
    perform compliance_private.raise_error('BADRG', 'close a breach with compliance.close_breach');
  end if;
  select * into v_row from compliance.breaches b where b.id = breach_id for no key update;
  if not found then
    perform compliance_private.raise_error('NOTER', format('no breach %s', breach_id), 'See compliance.breach_deadlines().');
  end if;
  if v_row.status = 'closed' then
    perform compliance_private.raise_error('BADRG', format('breach %s is closed', breach_id));
  end if;
  v_notifiable := case when changes ? 'notifiable' then (changes ->> 'notifiable')::boolean else v_row.notifiable end;
  -- a reason belongs to a breach judged not notifiable, and goes when it is judged otherwise
  v_reason := case when v_notifiable is false
                   then coalesce(nullif(trim(changes ->> 'not_notifiable_reason'), ''), v_row.not_notifiable_reason) end;
  if v_notifiable is false and v_reason is null then
    perform compliance_private.raise_error('BRNNR', 'a breach judged not notifiable needs the reason (not_notifiable_reason)',
      'GDPR Art. 33(5): document why the breach is unlikely to result in a risk to the people affected.');
  end if;
  if changes ? 'add_affected_user_ids' then
    if exists (select from jsonb_array_elements_text(changes -> 'add_affected_user_ids') u
                where not exists (select from compliance.user_profiles p where p.user_id = u)) then
      perform compliance_private.raise_error('UNKSJ', 'add_affected_user_ids names a subject who does not exist');
    end if;
    insert into compliance.breach_subjects (breach_id, user_id)
    select v_row.id, u from jsonb_array_elements_text(changes -> 'add_affected_user_ids') u on conflict do nothing;
  end if;
  update compliance.breaches b
     set description = coalesce(changes ->> 'description', b.description),
         data_categories = coalesce((select array_agg(c) from jsonb_array_elements_text(changes -> 'data_categories') c), b.data_categories),
         affected_count = greatest(coalesce((changes ->> 'affected_count')::integer, b.affected_count),
                                   (select count(*) from compliance.breach_subjects s where s.breach_id = b.id)::integer),
         risk_assessment = coalesce(changes ->> 'risk_assessment', b.risk_assessment),
         risk_factors = case when changes ? 'risk_factors'
                             then array(select trim(f) from jsonb_array_elements_text(changes -> 'risk_factors') f) else b.risk_factors end,
         notifiable = v_notifiable,
         not_notifiable_reason = v_reason,
         status = coalesce(changes ->> 'status', b.status)
   where b.id = v_row.id
  returning b.* into v_row;
  perform compliance_private.audit_breach('breach.updated', v_row, changes);
  return v_row;
end;
$$;

ALTER FUNCTION compliance.update_breach(breach_id bigint, changes jsonb) OWNER TO compliance_owner;

--
-- Name: FUNCTION update_breach(breach_id bigint, changes jsonb); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.update_breach(breach_id bigint, changes jsonb) IS 'The DPO updates an open breach: description, data_categories, affected_count, risk_assessment, the assessment (risk_factors; notifiable: true, false, or null for not assessed yet; not_notifiable_reason, required when notifiable is false, GDPR Art. 33(5) documentation), status (open or contained), add_affected_user_ids, and a note for the audit row. A breach judged not notifiable has no notification deadlines (breach_deadlines says not_required). Audited as breach.updated with the fields changed. Errors: BADFL (an unknown field), NOTER (no such breach), BADRG (closed, a malformed assessment), BRNNR (judged not notifiable without a reason), UNKSJ.';

--
-- Name: update_health_record(uuid, text, text, integer, integer, bytea, bytea); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.update_health_record(id uuid, purpose text, classification text, key_version integer, version integer, ciphertext bytea, integrity bytea) RETURNS timestamp with time zone
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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
$$;

ALTER FUNCTION compliance.update_health_record(id uuid, purpose text, classification text, key_version integer, version integer, ciphertext bytea, integrity bytea) OWNER TO compliance_owner;

--
-- Name: FUNCTION update_health_record(id uuid, purpose text, classification text, key_version integer, version integer, ciphertext bytea, integrity bytea); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.update_health_record(id uuid, purpose text, classification text, key_version integer, version integer, ciphertext bytea, integrity bytea) IS 'Replaces a health record''s content (re-encrypted by the server under the patient''s data key, with a new integrity code over the unchanged recorded_at and category from phi_access and the next version: the current one plus one) and classification. Returns the new updated_at. Audited as phi.updated, with the new version and its integrity code, so a later read can prove it returns this version and not an older one. A refused caller gets NULL and a phi.denied audit row. Errors: PHINF no such record, BADRG, 40001 when version is not the current version plus one (another write came first: run again).';

--
-- Name: update_profile(text, jsonb); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.update_profile(user_id text, patch jsonb) RETURNS compliance.user_profiles
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_unknown text[];
  v_profile compliance.user_profiles;
begin
  if patch is null or jsonb_typeof(patch) <> 'object' then
    perform compliance_private.raise_error('BADFL', 'patch must be a JSON object');
  end if;
  select array_agg(k order by k) into v_unknown
    from jsonb_object_keys(patch) k where k not in ('username', 'email', 'full_name', 'metadata');
  if v_unknown is not null then
    perform compliance_private.raise_error('BADFL',
      format('unknown profile field(s): %s', array_to_string(v_unknown, ', ')),
      'A profile has username, email, full_name and metadata.');
  end if;
  perform compliance_private.require_subject(user_id);
  update compliance.user_profiles p set
    username  = case when patch ? 'username'  then patch ->> 'username'  else p.username end,
    email     = case when patch ? 'email'     then patch ->> 'email'     else p.email end,
    full_name = case when patch ? 'full_name' then patch ->> 'full_name' else p.full_name end,
    metadata  = case when patch ? 'metadata'  then coalesce(patch -> 'metadata', '{}') else p.metadata end
  where p.user_id = update_profile.user_id
  returning * into v_profile;
  return v_profile;
end;
$$;

ALTER FUNCTION compliance.update_profile(user_id text, patch jsonb) OWNER TO compliance_owner;

--
-- Name: FUNCTION update_profile(user_id text, patch jsonb); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.update_profile(user_id text, patch jsonb) IS 'Rectification (GDPR Art. 16): applies a patch of known fields (username, email, full_name, metadata); the audit log records the old and new values. Errors: BADFL for an unknown field, UNKSJ, ERASD.';

--
-- Name: uptime(interval, timestamp with time zone); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.uptime(window_length interval DEFAULT '30 days'::interval, at timestamp with time zone DEFAULT now()) RETURNS TABLE(ratio numeric, minutes_up bigint, minutes_counted bigint, counted_from timestamp with time zone, counted_to timestamp with time zone)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_first timestamptz;
  v_first_probe timestamptz;
begin
  -- whole minutes before the current one (which may not be probed yet), from the window's start
  -- or the first record ever, whichever is later
  counted_to := date_trunc('minute', at);
  select min(m.minute) into v_first_probe from compliance_private.service_minutes m;
  select least(min(h.beat_at), v_first_probe) into v_first from compliance_private.worker_heartbeats h;
  v_first := coalesce(v_first, v_first_probe);
  counted_from := greatest(date_trunc('minute', at - window_length), v_first);
  if v_first is null or counted_from >= counted_to then
    ratio := 1; minutes_up := 0; minutes_counted := 0;
    return next;
    return;
  end if;
  minutes_counted := (extract(epoch from counted_to - counted_from) / 60)::bigint;
  -- before the first service probe (an older pgcomply), the worker's heartbeat is all there is
  select (select count(*) from compliance_private.worker_heartbeats h
           where h.beat_at >= counted_from and h.beat_at < least(counted_to, coalesce(v_first_probe, 'infinity')))
       + (select count(*) from compliance_private.service_minutes m
           where m.minute >= counted_from and m.minute < counted_to
             and m.probes_passed > 0 and m.api_failures = 0 and m.database_failures = 0)
    into minutes_up;
  ratio := round(minutes_up::numeric / minutes_counted, 6);
  return next;
end;
$$;

ALTER FUNCTION compliance.uptime(window_length interval, at timestamp with time zone) OWNER TO compliance_owner;

--
-- Name: FUNCTION uptime(window_length interval, at timestamp with time zone); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.uptime(window_length interval, at timestamp with time zone) IS 'Service uptime over the window ending at at (30 days by default), SOC 2 A1.2: the share of whole minutes, from the window''s start or the first record, whichever is later, that were up. A minute is up when a worker probe passed in it and none failed: the API answered /healthz and the worker could write to the primary (compliance.record_service_probes). A minute with no probe is down, so a dead worker is downtime too; before the first probe, a minute with the worker''s heartbeat is up. /metrics exports it as pgcomply_sla_uptime_ratio.';

--
-- Name: verify_audit_log(bigint, bytea); Type: FUNCTION; Schema: compliance; Owner: compliance_owner
--

CREATE FUNCTION compliance.verify_audit_log(from_seal bigint DEFAULT NULL::bigint, from_hash bytea DEFAULT NULL::bytea, OUT ok boolean, OUT seals_checked bigint, OUT rows_checked bigint, OUT unsealed_rows bigint, OUT problems jsonb, OUT incremental boolean, OUT last_seal_no bigint, OUT last_seal_hash bytea, OUT notes jsonb) RETURNS record
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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
  select * into strict v_bounds from compliance_private.audit_chain_bounds();
  -- from a checkpoint (a seal verified before, whose hash the caller kept anchored): only what
  -- was sealed after it. A checkpoint that is gone or not layout 2 means a full verification.
  if from_seal is not null then
    select * into v_checkpoint from compliance.audit_seals s where s.seal_no = from_seal and s.layout = 2;
  end if;
  incremental := v_checkpoint.seal_no is not null and from_hash is not null;

  -- records written since migration 000041 count only from the routine that does the work
  select min(u.id) into v_marker from compliance.audit_logs u where u.action = 'audit.sealer_gaps_recorded';
  -- what sealed records account for: only rows inside the layout-2 seals count, and of the
  -- upgrade records only the first (a later one would be a forgery)
  with accounting as (
    select a.id, a.action, a.details from compliance.audit_logs a
     where a.action in ('audit.partition_dropped', 'subject.erased', 'audit.layout_upgraded')
       and a.outcome = 'success' and a.id >= v_bounds.layout2_from and a.id <= v_bounds.layout2_end
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
      case when incremental then v_checkpoint.last_row_id + 1 else v_bounds.layout2_from end, v_bounds.layout2_end, v_marker) loop
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
                   where a.action = 'subject.erased' and a.outcome = 'success'
                     and a.id > coalesce(v_bounds.layout2_end, v_bounds.layout2_from - 1)
                     and compliance_private.written_by_its_routine(a.action, a.details)
                  union all
                  select e.id, 'a' from compliance.audit_logs a
                    cross join jsonb_array_elements_text(a.details -> 'redacted_actor_rows') e(id)
                   where a.action = 'subject.erased' and a.outcome = 'success'
                     and a.id > coalesce(v_bounds.layout2_end, v_bounds.layout2_from - 1)
                     and compliance_private.written_by_its_routine(a.action, a.details)) x
           group by x.id) p;

  -- id ranges no seal covered: before migration 000041 the sealer skipped ids of rolled-back rows
  -- when they were all it found. Only the record that migration wrote counts (the action is
  -- reserved: no login role can write it), and only for the seals it names.
  select coalesce(a.details -> 'gaps', '[]') into v_gaps from compliance.audit_logs a
   where a.id = (select min(u.id) from compliance.audit_logs u where u.action = 'audit.sealer_gaps_recorded');
  v_gaps := coalesce(v_gaps, '[]');

  -- where the chain starts: at seal 1, or where a sealed drop record says it removed seals
  select * into v_first from compliance.audit_seals s order by s.seal_no limit 1;
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
     where a.action = 'audit.partition_dropped' and a.id >= v_bounds.layout2_from and a.id <= v_bounds.layout2_end
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

  for v_seal in select * from compliance.audit_seals s where s.seal_no >= v_expected_no or not incremental order by s.seal_no loop
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
         where a.id between (v_gap ->> 'from')::bigint and (v_gap ->> 'to')::bigint
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
  select * into v_head from compliance_private.audit_seal_head;
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
     where not incremental and a.id < v_bounds.layout2_from
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
   where c.id >= coalesce(v_next_id, v_bounds.layout2_from);
  v_redacted := v_redacted || coalesce(v_found, '{}');
  rows_checked := rows_checked + unsealed_rows;
  for v_problem in
    select c.id, c.personal_problem from compliance_private.audit_log_checks c
     where c.id >= coalesce(v_next_id, v_bounds.layout2_from) and c.personal_problem is not null
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
     where (f.parts is not null or exists (select from compliance.audit_logs a where a.id = k.id::bigint))
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
$$;

ALTER FUNCTION compliance.verify_audit_log(from_seal bigint, from_hash bytea, OUT ok boolean, OUT seals_checked bigint, OUT rows_checked bigint, OUT unsealed_rows bigint, OUT problems jsonb, OUT incremental boolean, OUT last_seal_no bigint, OUT last_seal_hash bytea, OUT notes jsonb) OWNER TO compliance_owner;

--
-- Name: FUNCTION verify_audit_log(from_seal bigint, from_hash bytea, OUT ok boolean, OUT seals_checked bigint, OUT rows_checked bigint, OUT unsealed_rows bigint, OUT problems jsonb, OUT incremental boolean, OUT last_seal_no bigint, OUT last_seal_hash bytea, OUT notes jsonb); Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance.verify_audit_log(from_seal bigint, from_hash bytea, OUT ok boolean, OUT seals_checked bigint, OUT rows_checked bigint, OUT unsealed_rows bigint, OUT problems jsonb, OUT incremental boolean, OUT last_seal_no bigint, OUT last_seal_hash bytea, OUT notes jsonb) IS 'Recomputes the whole seal chain, every row hash and every personal digest, from the chain''s own records only; or, given a checkpoint (from_seal and the from_hash it had when verified), only the seals after it and the rows they and the unsealed tail hold, so the cost follows the rows added since (redactions of older rows, the claims of older accounting records and layout-1 rows are then left to a full run). Returns ok, how many seals and rows it checked, how many rows are not sealed yet (their personal parts are checked, their presence is not proven), and problems: a JSON array of {kind, seal_no, row_id, detail}. kind: deleted_row, forged_row, altered_row, reordered_row, digest_mismatch, redacted_not_empty, unaccounted_redaction, unredacted_row, altered_seal, broken_chain, missing_seal, unaccounted_gap, contradicted_claim (a sealed drop or erasure record claims what the database shows is not so; it also names record_id); whether it ran incrementally; the last seal it verified with its hash, the next checkpoint; and notes, which do not fail it: pending_redaction (an erasure not sealed yet redacted the row) and unsealed_id_range (ids the sealer skipped before migration 000041, listed by the record that migration wrote; a row found there is forged_row). db/AUDIT_HASHING.md says what it proves and what it cannot see.';

--
-- Name: access_log_entries(text, boolean, bigint, integer); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.access_log_entries(subject text, others_only boolean, before_id bigint, page_size integer) RETURNS TABLE(id bigint, occurred_at timestamp with time zone, action text, actor_id text, actor_role text, purpose text, record_ids jsonb, outcome text, failure_reason text, grant_id bigint, emergency boolean)
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  if page_size is null or page_size not between 1 and 500 then
    perform compliance_private.raise_error('BADRG', 'page_size must be between 1 and 500');
  end if;
  -- the actor's network address and user agent are the actor's personal data, not the patient's
  return query
    select a.id, a.occurred_at, a.action, a.actor_id,
           coalesce(a.details ->> 'actor_role',
                    case when a.actor_id is null or a.actor_id like 'pgcomply\_%' then 'system'
                         when a.actor_id = subject then 'patient' else 'dpo' end),
           a.details ->> 'purpose', coalesce(a.details -> 'record_ids', '[]'::jsonb), a.outcome, a.failure_reason,
           (a.details ->> 'grant_id')::bigint, coalesce(a.details ->> 'grant_kind' = 'emergency', false)
      from compliance.audit_logs a
     where a.user_id = subject
       and a.action <> 'phi.unusual_access'
       -- the subject's own reads of their records are theirs to see, unless they ask for others' access only
       and (case when coalesce(others_only, false) then a.actor_id is distinct from subject
                 else a.action like 'phi.%' or a.actor_id is distinct from subject end)
       and (access_log_entries.before_id is null or a.id < access_log_entries.before_id)
     order by a.id desc
     limit page_size;
end;
$$;

ALTER FUNCTION compliance_private.access_log_entries(subject text, others_only boolean, before_id bigint, page_size integer) OWNER TO compliance_owner;

--
-- Name: FUNCTION access_log_entries(subject text, others_only boolean, before_id bigint, page_size integer); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.access_log_entries(subject text, others_only boolean, before_id bigint, page_size integer) IS 'The access log of one subject, newest first, a page at a time: every access to their health records and every refused attempt (phi.*, the subject''s own reads only unless others_only), and every action someone else took about them. phi_access_log (the subject) and subject_access_log (the DPO) call it; the caller checks who may read it. Errors: BADRG.';

--
-- Name: acting_for_one_subject(); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.acting_for_one_subject() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN ((current_setting('role'::text) = 'compliance_app'::text) OR (CURRENT_USER = 'compliance_app'::name));

ALTER FUNCTION compliance_private.acting_for_one_subject() OWNER TO compliance_owner;

--
-- Name: FUNCTION acting_for_one_subject(); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.acting_for_one_subject() IS 'Whether the caller is the app role (entered with SET ROLE compliance_app, so this holds inside SECURITY DEFINER functions too), which may learn about and act for the request context''s subject only.';

--
-- Name: active_access_grant(text, text, text); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.active_access_grant(patient text, intent text, purpose text) RETURNS compliance.access_grants
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  -- the database clock at this moment, not the transaction's start: a grant that expires
  -- while a long transaction runs stops there
  select g.* from compliance.access_grants g
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
$$;

ALTER FUNCTION compliance_private.active_access_grant(patient text, intent text, purpose text) OWNER TO compliance_owner;

--
-- Name: FUNCTION active_access_grant(patient text, intent text, purpose text); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.active_access_grant(patient text, intent text, purpose text) IS 'The grant under which the acting workforce member may do intent on the patient''s records for purpose right now (started, not expired, not revoked, approved or emergency, scope and purpose matching), an assignment before an emergency; NULL when there is none.';

--
-- Name: adopt_tombstone_pepper(); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.adopt_tombstone_pepper() RETURNS text
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_legacy bytea;
  v_tombstones bigint;
  v_text text := nullif(current_setting('compliance.tombstone_pepper', true), '');
  v_peppers bytea[];
  v_position smallint := 0;
begin
  if exists (select from compliance_private.tombstone_peppers) then
    perform compliance_private.session_peppers();
    return 'the session''s keyring matches';
  end if;
  if v_text is null then
    perform compliance_private.raise_error('PEPPR', 'adopting a tombstone pepper needs compliance.tombstone_pepper set to hex peppers');
  end if;
  v_peppers := compliance_private.parse_keyring(v_text);
  select s.value into v_legacy from compliance_private.settings s where s.key = 'subject_pepper';
  select count(*) into v_tombstones from compliance_private.erased_subjects;
  if v_tombstones > 0 and v_peppers is distinct from array[v_legacy] then
    perform compliance_private.raise_error('PEPPR',
      format('%s tombstone(s) were made with the pepper stored in this database; the session must bring exactly that pepper', v_tombstones),
      'Setup exports it to TOMBSTONE_PEPPER_FILE (or .data/tombstone-pepper) when that file does not exist yet.');
  end if;
  for v_position in 1 .. cardinality(v_peppers) loop
    insert into compliance_private.tombstone_peppers (position, pepper_check)
      values (v_position, compliance_private.tombstone_pepper_check(v_peppers[v_position]));
  end loop;
  delete from compliance_private.settings s where s.key = 'subject_pepper';
  perform compliance_private.append_audit('tombstone.pepper_adopted', 'security', 'tombstone_pepper', null,
    jsonb_build_object('peppers', cardinality(v_peppers), 'tombstones', v_tombstones, 'removed_from_database', v_legacy is not null));
  return format('adopted %s pepper(s)', cardinality(v_peppers));
end;
$$;

ALTER FUNCTION compliance_private.adopt_tombstone_pepper() OWNER TO compliance_owner;

--
-- Name: FUNCTION adopt_tombstone_pepper(); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.adopt_tombstone_pepper() IS 'Setup step, owner only: records check values for the session''s tombstone keyring and removes the pepper older versions kept in compliance_private.settings (refusing if existing tombstones need that pepper and the session brought another). Idempotent: afterwards it only checks the keyring. Errors: PEPPR.';

--
-- Name: append_audit(text, text, text, text, jsonb, text, jsonb, text, text, text, boolean); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.append_audit(action text, category text, resource_type text DEFAULT NULL::text, resource_id text DEFAULT NULL::text, details jsonb DEFAULT '{}'::jsonb, user_id text DEFAULT NULL::text, personal_details jsonb DEFAULT NULL::jsonb, outcome text DEFAULT 'success'::text, failure_reason text DEFAULT NULL::text, actor_id text DEFAULT compliance.current_actor(), include_client boolean DEFAULT true) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
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
  insert into compliance.audit_logs (xact_id, action, category, resource_type, resource_id, outcome,
    failure_reason, details, user_id, actor_id, ip_address, user_agent, personal_details,
    subject_part_salt, subject_part_digest, actor_part_salt, actor_part_digest, personal_digest)
  values (v_xact, append_audit.action, append_audit.category, append_audit.resource_type,
    append_audit.resource_id, append_audit.outcome, append_audit.failure_reason,
    coalesce(append_audit.details, '{}'), append_audit.user_id, append_audit.actor_id, v_ip,
    v_user_agent, append_audit.personal_details, v_subject_salt, v_subject_digest, v_actor_salt,
    v_actor_digest, sha256(v_subject_digest || v_actor_digest))
  returning id into v_id;
  return v_id;
end;
$_$;

ALTER FUNCTION compliance_private.append_audit(action text, category text, resource_type text, resource_id text, details jsonb, user_id text, personal_details jsonb, outcome text, failure_reason text, actor_id text, include_client boolean) OWNER TO compliance_owner;

--
-- Name: FUNCTION append_audit(action text, category text, resource_type text, resource_id text, details jsonb, user_id text, personal_details jsonb, outcome text, failure_reason text, actor_id text, include_client boolean); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.append_audit(action text, category text, resource_type text, resource_id text, details jsonb, user_id text, personal_details jsonb, outcome text, failure_reason text, actor_id text, include_client boolean) IS 'Writes one audit row for the routines and log_event: checks the row rules (action dotted lower case, a known category and outcome, a failure_reason only with a failure, details a JSON object: BADRG otherwise), adds to a reserved action''s details the routine that called it, and to a privileged API request''s rows how its actor signed in (authentication: amr, acr, mfa, auth_time) (written_by, from the call stack: verification trusts a drop or erasure record only from its own routine), fills the actor, client IP and user agent (unless include_client is false) from the request context, salts and digests the personal part. The row triggers write the same columns inline, because a nested call costs every personal write.';

--
-- Name: audit_access_grant(text, compliance.access_grants, text); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.audit_access_grant(action text, grant_row compliance.access_grants, note text DEFAULT NULL::text) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  -- about the patient, so it shows in their access log; who it is for and the free text are
  -- personal, and erasure reaches them there
  return compliance_private.append_audit(action, 'hipaa', 'access_grant', grant_row.id::text,
    jsonb_build_object('grant_id', grant_row.id, 'grant_kind', grant_row.kind, 'scope', grant_row.scope,
      'purpose', grant_row.purpose, 'starts_at', grant_row.starts_at, 'expires_at', grant_row.expires_at,
      'review_due_at', grant_row.review_due_at, 'review_outcome', grant_row.review_outcome,
      'actor_role', compliance_private.phi_caller_role()),
    grant_row.user_id,
    jsonb_strip_nulls(jsonb_build_object('grantee', grant_row.grantee, 'reason', grant_row.reason, 'note', note)));
end;
$$;

ALTER FUNCTION compliance_private.audit_access_grant(action text, grant_row compliance.access_grants, note text) OWNER TO compliance_owner;

--
-- Name: FUNCTION audit_access_grant(action text, grant_row compliance.access_grants, note text); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.audit_access_grant(action text, grant_row compliance.access_grants, note text) IS 'Audits a change of an access grant (access.requested, granted, approved, denied, revoked, emergency, reviewed): the patient as the row''s subject, the grant''s id, kind, scope, purpose and times in details, the grantee, reason and note in the personal part.';

--
-- Name: hash_field(text); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.hash_field(value text) RETURNS bytea
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN CASE WHEN (value IS NULL) THEN '\xffffffff'::bytea ELSE (int4send(octet_length(value)) || convert_to(value, 'UTF8'::name)) END;

ALTER FUNCTION compliance_private.hash_field(value text) OWNER TO compliance_owner;

--
-- Name: FUNCTION hash_field(value text); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.hash_field(value text) IS 'Canonical bytes of one text field: 4-byte big-endian byte length then UTF-8, or ffffffff for NULL. Declared STABLE only because convert_to is (so the planner can inline it); in a UTF8 database the result depends on no setting.';

--
-- Name: audit_actor_digest(bytea, text, inet, text); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.audit_actor_digest(salt bytea, actor_id text, ip_address inet, user_agent text) RETURNS bytea
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN sha256((((salt || compliance_private.hash_field(actor_id)) || compliance_private.hash_field(host(ip_address))) || compliance_private.hash_field(user_agent)));

ALTER FUNCTION compliance_private.audit_actor_digest(salt bytea, actor_id text, ip_address inet, user_agent text) OWNER TO compliance_owner;

--
-- Name: FUNCTION audit_actor_digest(salt bytea, actor_id text, ip_address inet, user_agent text); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.audit_actor_digest(salt bytea, actor_id text, ip_address inet, user_agent text) IS 'Layout 2: the digest of an audit row''s actor part (db/AUDIT_HASHING.md).';

--
-- Name: audit_breach(text, compliance.breaches, jsonb); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.audit_breach(action text, breach compliance.breaches, changes jsonb DEFAULT '{}'::jsonb) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  -- the register's facts, never a name: the description and assessment are free text, so they
  -- go in the personal part
  return compliance_private.append_audit(action, 'gdpr', 'breach', breach.id::text,
    jsonb_build_object('breach_id', breach.id, 'status', breach.status, 'discovered_at', breach.discovered_at,
      'affected_count', breach.affected_count, 'data_categories', to_jsonb(breach.data_categories),
      'notified_authority_at', breach.notified_authority_at, 'notified_individuals_at', breach.notified_individuals_at,
      'notified_hhs_at', breach.notified_hhs_at, 'notified_media_at', breach.notified_media_at,
      'notifiable', breach.notifiable,
      'changed_fields', (select coalesce(jsonb_agg(k order by k), '[]') from jsonb_object_keys(changes) k)),
    null, jsonb_strip_nulls(jsonb_build_object('description', breach.description, 'risk_assessment', breach.risk_assessment,
      'risk_factors', to_jsonb(breach.risk_factors), 'not_notifiable_reason', breach.not_notifiable_reason,
      'note', changes ->> 'note')));
end;
$$;

ALTER FUNCTION compliance_private.audit_breach(action text, breach compliance.breaches, changes jsonb) OWNER TO compliance_owner;

--
-- Name: FUNCTION audit_breach(action text, breach compliance.breaches, changes jsonb); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.audit_breach(action text, breach compliance.breaches, changes jsonb) IS 'Audits a change of a breach (breach.opened, updated, notified, closed): its id, status, dates, count, categories and whether it is notifiable in details; its free text (description, assessment, risk factors, the reason it is not notifiable, the note) in the personal part.';

--
-- Name: audit_seals; Type: TABLE; Schema: compliance; Owner: compliance_owner
--

CREATE TABLE compliance.audit_seals (
    seal_no bigint NOT NULL,
    last_xact_id xid8,
    last_row_id bigint NOT NULL,
    row_count integer NOT NULL,
    row_ids bigint[] NOT NULL,
    row_hashes bytea NOT NULL,
    previous_hash bytea NOT NULL,
    seal_hash bytea NOT NULL,
    sealed_at timestamp with time zone DEFAULT now() NOT NULL,
    layout smallint DEFAULT 1 NOT NULL,
    first_row_id bigint,
    CONSTRAINT audit_seals_counts_agree CHECK (((row_count = cardinality(row_ids)) AND (octet_length(row_hashes) = (32 * row_count)))),
    CONSTRAINT audit_seals_hash_length CHECK (((octet_length(previous_hash) = 32) AND (octet_length(seal_hash) = 32))),
    CONSTRAINT audit_seals_layout_known CHECK ((((layout = 1) AND (last_xact_id IS NOT NULL) AND (first_row_id IS NULL)) OR ((layout = 2) AND (last_xact_id IS NULL) AND (first_row_id IS NOT NULL) AND (first_row_id <= last_row_id))))
);

ALTER TABLE compliance.audit_seals OWNER TO compliance_owner;

--
-- Name: TABLE audit_seals; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON TABLE compliance.audit_seals IS 'Hash chain over the audit log (db/AUDIT_HASHING.md). Seal n hashes the previous seal''s hash, its own range and its rows'' hashes. Append-only (APPND) except that retention removes the seals whose rows it dropped, recording the last one in its audit.partition_dropped row. Not personal data.';

--
-- Name: COLUMN audit_seals.seal_no; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.audit_seals.seal_no IS 'Position in the chain, from 1.';

--
-- Name: COLUMN audit_seals.last_xact_id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.audit_seals.last_xact_id IS 'Layout 1: transaction id of the last row covered. NULL in layout 2.';

--
-- Name: COLUMN audit_seals.last_row_id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.audit_seals.last_row_id IS 'Layout 1: id of the last row covered. Layout 2: the last id of the range covered (not necessarily a row: ids of rolled-back rows are covered too).';

--
-- Name: COLUMN audit_seals.row_count; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.audit_seals.row_count IS 'Number of rows covered.';

--
-- Name: COLUMN audit_seals.row_ids; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.audit_seals.row_ids IS 'Ids of the rows covered, in seal order, so verification can name a deleted row.';

--
-- Name: COLUMN audit_seals.row_hashes; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.audit_seals.row_hashes IS 'The rows'' hashes (32 bytes each, in seal order), so verification can name an altered row.';

--
-- Name: COLUMN audit_seals.previous_hash; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.audit_seals.previous_hash IS 'seal_hash of the previous seal (32 zero bytes for seal 1).';

--
-- Name: COLUMN audit_seals.seal_hash; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.audit_seals.seal_hash IS 'This seal''s hash; the latest one is what compliance.audit_digest() returns for anchoring outside the database.';

--
-- Name: COLUMN audit_seals.sealed_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.audit_seals.sealed_at IS 'When the seal was made.';

--
-- Name: COLUMN audit_seals.layout; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.audit_seals.layout IS '1: the seal covers the rows after the previous seal''s (last_xact_id, last_row_id) in (xact_id, id) order. 2: it covers the rows with ids first_row_id to last_row_id. db/AUDIT_HASHING.md.';

--
-- Name: COLUMN audit_seals.first_row_id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.audit_seals.first_row_id IS 'Layout 2: the first id of the range covered (the previous layout-2 seal''s last_row_id + 1).';

--
-- Name: audit_seal_head; Type: TABLE; Schema: compliance_private; Owner: compliance_owner
--

CREATE TABLE compliance_private.audit_seal_head (
    singleton boolean DEFAULT true NOT NULL,
    last_seal_no bigint DEFAULT 0 NOT NULL,
    last_hash bytea DEFAULT '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea NOT NULL,
    next_row_id bigint NOT NULL,
    pending_row_id bigint,
    pending_xact_id xid8,
    CONSTRAINT audit_seal_head_pending_whole CHECK (((pending_row_id IS NULL) = (pending_xact_id IS NULL))),
    CONSTRAINT audit_seal_head_singleton CHECK (singleton)
);

ALTER TABLE compliance_private.audit_seal_head OWNER TO compliance_owner;

--
-- Name: TABLE audit_seal_head; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON TABLE compliance_private.audit_seal_head IS 'Where sealing continues: the newest seal and its hash, the first id not yet sealed, and a pending horizon. One row; its lock serializes sealers, never writers. Verification does not read it except to notice newest seals that went missing.';

--
-- Name: COLUMN audit_seal_head.singleton; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.audit_seal_head.singleton IS 'Always true: the table has one row.';

--
-- Name: COLUMN audit_seal_head.last_seal_no; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.audit_seal_head.last_seal_no IS 'Number of the newest seal.';

--
-- Name: COLUMN audit_seal_head.last_hash; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.audit_seal_head.last_hash IS 'Hash of the newest seal.';

--
-- Name: COLUMN audit_seal_head.next_row_id; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.audit_seal_head.next_row_id IS 'The first id the next seal covers.';

--
-- Name: COLUMN audit_seal_head.pending_row_id; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.audit_seal_head.pending_row_id IS 'Every id up to this one may be sealed once every transaction older than pending_xact_id has ended.';

--
-- Name: COLUMN audit_seal_head.pending_xact_id; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.audit_seal_head.pending_xact_id IS 'A sealer''s own transaction id, taken after it read pending_row_id from the id sequence. Ignored when it is newer than the current transaction (after a restore onto another cluster).';

--
-- Name: audit_chain_bounds(); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.audit_chain_bounds(OUT layout2_from bigint, OUT layout1_end_xact xid8, OUT layout1_end_id bigint, OUT layout2_end bigint) RETURNS record
    LANGUAGE sql STABLE
    BEGIN ATOMIC
 SELECT COALESCE(( SELECT s.first_row_id
            FROM compliance.audit_seals s
           WHERE (s.layout = 2)
           ORDER BY s.seal_no
          LIMIT 1), ( SELECT h.next_row_id
            FROM compliance_private.audit_seal_head h)) AS "coalesce",
     ( SELECT s.last_xact_id
            FROM compliance.audit_seals s
           WHERE (s.layout = 1)
           ORDER BY s.seal_no DESC
          LIMIT 1) AS last_xact_id,
     ( SELECT s.last_row_id
            FROM compliance.audit_seals s
           WHERE (s.layout = 1)
           ORDER BY s.seal_no DESC
          LIMIT 1) AS last_row_id,
     ( SELECT s.last_row_id
            FROM compliance.audit_seals s
           WHERE (s.layout = 2)
           ORDER BY s.seal_no DESC
          LIMIT 1) AS last_row_id;
END;

ALTER FUNCTION compliance_private.audit_chain_bounds(OUT layout2_from bigint, OUT layout1_end_xact xid8, OUT layout1_end_id bigint, OUT layout2_end bigint) OWNER TO compliance_owner;

--
-- Name: FUNCTION audit_chain_bounds(OUT layout2_from bigint, OUT layout1_end_xact xid8, OUT layout1_end_id bigint, OUT layout2_end bigint); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.audit_chain_bounds(OUT layout2_from bigint, OUT layout1_end_xact xid8, OUT layout1_end_id bigint, OUT layout2_end bigint) IS 'Where layout 2 begins (the first layout-2 seal''s first id), where the layout-1 seals end and where the layout-2 seals end.';

--
-- Name: audit_claims_contradicted(bigint, bigint, bigint); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.audit_claims_contradicted(layout2_from bigint, layout2_end bigint, marker bigint) RETURNS TABLE(record_id bigint, row_id bigint, detail text)
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  -- the sealed accounting records verification trusts (the same selection as verify_audit_log)
  with accounting as (
    select a.id, a.action, a.occurred_at, a.resource_id, a.details from compliance.audit_logs a
     where a.action in ('audit.partition_dropped', 'subject.erased') and a.outcome = 'success'
       and a.id between layout2_from and layout2_end
       and (a.id < coalesce(marker, 0) or compliance_private.written_by_its_routine(a.action, a.details))
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
             where c.action = 'subject.erased' and c.id >= coalesce(marker, 0)) x
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
    from drop_rows d where d.row_id < d.record_id and exists (select from compliance.audit_logs a where a.id = d.row_id)
  union all
  select c.id, null::bigint, format('the drop record says seals up to %s were removed, and seal %s is still there',
                                    c.details ->> 'seals_removed_through', min(s.seal_no))
    from accounting c join compliance.audit_seals s on s.seal_no <= (c.details ->> 'seals_removed_through')::bigint
   where c.action = 'audit.partition_dropped'
   group by c.id, c.details
  union all
  select e.record_id, e.row_id, 'the erasure record lists this row as redacted by it, and the row was not redacted when it was written'
    from erased_rows e join compliance.audit_logs a on a.id = e.row_id
   -- a listed row not redacted at all is unredacted_row already
   where a.redacted_at <> e.occurred_at
  order by 1, 2 nulls first, 3
$$;

ALTER FUNCTION compliance_private.audit_claims_contradicted(layout2_from bigint, layout2_end bigint, marker bigint) OWNER TO compliance_owner;

--
-- Name: FUNCTION audit_claims_contradicted(layout2_from bigint, layout2_end bigint, marker bigint); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.audit_claims_contradicted(layout2_from bigint, layout2_end bigint, marker bigint) IS 'What the sealed accounting records claim and the database contradicts (verify_audit_log reports each as contradicted_claim): a drop record whose partition is still attached, whose dropped rows are still there or were written after it, or whose removed seals are still there; an erasure record (since migration 000041) listing a row redacted at another moment than the erasure''s (redacted_at differs from the record''s occurred_at; one not redacted at all is verify_audit_log''s unredacted_row). What it cannot see: which subject a redacted part was about (its salt is gone by design).';

--
-- Name: audit_first_kept(regclass, bigint); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.audit_first_kept(dropping regclass, layout2_from bigint, OUT v1_xact xid8, OUT v1_id bigint, OUT v2_id bigint) RETURNS record
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
declare
  v_partition regclass;
  v_row record;
begin
  -- partition by partition, each with its own index, so the partition being dropped is never read
  for v_partition in
    select i.inhrelid::regclass from pg_inherits i
     where i.inhparent = 'compliance.audit_logs'::regclass and i.inhrelid <> dropping
  loop
    execute format('select a.xact_id, a.id from %s a where a.id < $1 order by a.xact_id, a.id limit 1', v_partition)
      into v_row using layout2_from;
    if v_row.id is not null and (v1_id is null or (v_row.xact_id, v_row.id) < (v1_xact, v1_id)) then
      v1_xact := v_row.xact_id;
      v1_id := v_row.id;
    end if;
    execute format('select min(a.id) as id from %s a where a.id >= $1', v_partition) into v_row using layout2_from;
    if v_row.id is not null and (v2_id is null or v_row.id < v2_id) then
      v2_id := v_row.id;
    end if;
  end loop;
end;
$_$;

ALTER FUNCTION compliance_private.audit_first_kept(dropping regclass, layout2_from bigint, OUT v1_xact xid8, OUT v1_id bigint, OUT v2_id bigint) OWNER TO compliance_owner;

--
-- Name: FUNCTION audit_first_kept(dropping regclass, layout2_from bigint, OUT v1_xact xid8, OUT v1_id bigint, OUT v2_id bigint); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.audit_first_kept(dropping regclass, layout2_from bigint, OUT v1_xact xid8, OUT v1_id bigint, OUT v2_id bigint) IS 'The first audit row, in seal order, outside the partition being dropped: in layout 1 by (xact_id, id) below layout2_from, in layout 2 by id.';

--
-- Name: audit_personal_digest(bytea, text, text, inet, text, jsonb); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.audit_personal_digest(salt bytea, user_id text, actor_id text, ip_address inet, user_agent text, personal_details jsonb) RETURNS bytea
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN sha256((((((salt || compliance_private.hash_field(user_id)) || compliance_private.hash_field(actor_id)) || compliance_private.hash_field(host(ip_address))) || compliance_private.hash_field(user_agent)) || compliance_private.hash_field((personal_details)::text)));

ALTER FUNCTION compliance_private.audit_personal_digest(salt bytea, user_id text, actor_id text, ip_address inet, user_agent text, personal_details jsonb) OWNER TO compliance_owner;

--
-- Name: FUNCTION audit_personal_digest(salt bytea, user_id text, actor_id text, ip_address inet, user_agent text, personal_details jsonb); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.audit_personal_digest(salt bytea, user_id text, actor_id text, ip_address inet, user_agent text, personal_details jsonb) IS 'personal_digest of an audit row: sha256 over the salt and the personal fields'' canonical bytes.';

--
-- Name: audit_row_hash(bigint, timestamp with time zone, xid8, text, text, text, text, text, text, jsonb, bytea); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.audit_row_hash(id bigint, occurred_at timestamp with time zone, xact_id xid8, action text, category text, resource_type text, resource_id text, outcome text, failure_reason text, details jsonb, personal_digest bytea) RETURNS bytea
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN sha256(((((((((((int8send(id) || int8send(((EXTRACT(epoch FROM occurred_at) * (1000000)::numeric))::bigint)) || int8send(((xact_id)::text)::bigint)) || compliance_private.hash_field(action)) || compliance_private.hash_field(category)) || compliance_private.hash_field(resource_type)) || compliance_private.hash_field(resource_id)) || compliance_private.hash_field(outcome)) || compliance_private.hash_field(failure_reason)) || compliance_private.hash_field((details)::text)) || personal_digest));

ALTER FUNCTION compliance_private.audit_row_hash(id bigint, occurred_at timestamp with time zone, xact_id xid8, action text, category text, resource_type text, resource_id text, outcome text, failure_reason text, details jsonb, personal_digest bytea) OWNER TO compliance_owner;

--
-- Name: FUNCTION audit_row_hash(id bigint, occurred_at timestamp with time zone, xact_id xid8, action text, category text, resource_type text, resource_id text, outcome text, failure_reason text, details jsonb, personal_digest bytea); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.audit_row_hash(id bigint, occurred_at timestamp with time zone, xact_id xid8, action text, category text, resource_type text, resource_id text, outcome text, failure_reason text, details jsonb, personal_digest bytea) IS 'Hash of an audit row''s non-personal part plus personal_digest; what a seal covers. Timestamps as integer microseconds, integers as int8send, so the bytes do not depend on TimeZone or DateStyle.';

--
-- Name: audit_subject_digest(bytea, text, jsonb); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.audit_subject_digest(salt bytea, user_id text, personal_details jsonb) RETURNS bytea
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN sha256(((salt || compliance_private.hash_field(user_id)) || compliance_private.hash_field((personal_details)::text)));

ALTER FUNCTION compliance_private.audit_subject_digest(salt bytea, user_id text, personal_details jsonb) OWNER TO compliance_owner;

--
-- Name: FUNCTION audit_subject_digest(salt bytea, user_id text, personal_details jsonb); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.audit_subject_digest(salt bytea, user_id text, personal_details jsonb) IS 'Layout 2: the digest of an audit row''s subject part (db/AUDIT_HASHING.md).';

--
-- Name: audit_logs_id_seq; Type: SEQUENCE; Schema: compliance_private; Owner: compliance_owner
--

CREATE SEQUENCE compliance_private.audit_logs_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER TABLE compliance_private.audit_logs_id_seq OWNER TO compliance_owner;

--
-- Name: SEQUENCE audit_logs_id_seq; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON SEQUENCE compliance_private.audit_logs_id_seq IS 'Identifiers of audit_logs rows.';

--
-- Name: audit_logs; Type: TABLE; Schema: compliance; Owner: compliance_owner
--

CREATE TABLE compliance.audit_logs (
    id bigint DEFAULT nextval('compliance_private.audit_logs_id_seq'::regclass) NOT NULL,
    occurred_at timestamp with time zone DEFAULT now() NOT NULL,
    xact_id xid8 DEFAULT pg_current_xact_id() NOT NULL,
    action text NOT NULL,
    category text NOT NULL,
    resource_type text,
    resource_id text,
    outcome text DEFAULT 'success'::text NOT NULL,
    failure_reason text,
    details jsonb DEFAULT '{}'::jsonb NOT NULL,
    user_id text,
    actor_id text,
    ip_address inet,
    user_agent text,
    personal_details jsonb,
    personal_salt bytea,
    personal_digest bytea NOT NULL,
    redacted_at timestamp with time zone,
    subject_part_salt bytea,
    subject_part_digest bytea,
    actor_part_salt bytea,
    actor_part_digest bytea
)
PARTITION BY RANGE (occurred_at);

ALTER TABLE ONLY compliance.audit_logs FORCE ROW LEVEL SECURITY;

ALTER TABLE compliance.audit_logs OWNER TO compliance_owner;

--
-- Name: TABLE audit_logs; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON TABLE compliance.audit_logs IS 'Append-only, tamper-evident audit trail (HIPAA §164.312(b), SOC 2 CC6.6/CC7.2, GDPR Art. 5(2)); kept 7 years, dropped a monthly partition at a time (a month holding rows of a subject under legal hold is kept). Each row has a non-personal part (covered by the seal hashes) and a personal part covered only through personal_digest: layout 2 splits it into the subject''s (user_id, personal_details) and the actor''s (actor_id, ip_address, user_agent), each with its own salt and digest, so erasure removes one without the other and the chain still verifies (db/AUDIT_HASHING.md). details and resource_id never name anyone (PERSD). UPDATE, DELETE and TRUNCATE are refused for every role (APPND). No role but the owner may INSERT: rows are written by compliance.log_event (through append_audit, which checks the row rules) and by the row triggers on personal tables. No CHECK constraint: PostgreSQL would parse it again at every audited write.';

--
-- Name: COLUMN audit_logs.id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.audit_logs.id IS 'Row identifier (sequence); ties rows in the same transaction.';

--
-- Name: COLUMN audit_logs.occurred_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.audit_logs.occurred_at IS 'When it happened (transaction start time); the partition key.';

--
-- Name: COLUMN audit_logs.xact_id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.audit_logs.xact_id IS 'The inserting transaction (pg_current_xact_id()); the sealer orders and seals rows by (xact_id, id).';

--
-- Name: COLUMN audit_logs.action; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.audit_logs.action IS 'What happened, dotted: profile.updated, consent.granted, phi.access, subject.erased, ...';

--
-- Name: COLUMN audit_logs.category; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.audit_logs.category IS 'gdpr, hipaa, soc2, security or system.';

--
-- Name: COLUMN audit_logs.resource_type; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.audit_logs.resource_type IS 'Kind of resource acted on (profile, conversation, message, ...).';

--
-- Name: COLUMN audit_logs.resource_id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.audit_logs.resource_id IS 'Identifier of the resource; never a user id (the subject is in user_id).';

--
-- Name: COLUMN audit_logs.outcome; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.audit_logs.outcome IS 'success or failure.';

--
-- Name: COLUMN audit_logs.failure_reason; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.audit_logs.failure_reason IS 'Why it failed (only with outcome failure).';

--
-- Name: COLUMN audit_logs.details; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.audit_logs.details IS 'Non-personal details (field names changed, counts, purposes). Never personal data: it is kept after erasure.';

--
-- Name: COLUMN audit_logs.user_id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.audit_logs.user_id IS 'Personal: the data subject the event is about. NULL after redaction.';

--
-- Name: COLUMN audit_logs.actor_id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.audit_logs.actor_id IS 'Personal: who acted (request actor or database login). NULL after redaction.';

--
-- Name: COLUMN audit_logs.ip_address; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.audit_logs.ip_address IS 'Personal: client IP address. NULL after redaction.';

--
-- Name: COLUMN audit_logs.user_agent; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.audit_logs.user_agent IS 'Personal: client user agent. NULL after redaction.';

--
-- Name: COLUMN audit_logs.personal_details; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.audit_logs.personal_details IS 'Personal: details that identify someone, e.g. old and new values of a rectification, a patient id. NULL after redaction.';

--
-- Name: COLUMN audit_logs.personal_salt; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.audit_logs.personal_salt IS 'Layout 1 only: random salt of personal_digest; NULL after redaction so the digest cannot be used to guess the erased values. NULL on layout-2 rows, whose parts have their own salts.';

--
-- Name: COLUMN audit_logs.personal_digest; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.audit_logs.personal_digest IS 'Covered by the row hash. Layout 1: sha256(personal_salt || personal part). Layout 2: sha256(subject_part_digest || actor_part_digest). Kept after redaction.';

--
-- Name: COLUMN audit_logs.redacted_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.audit_logs.redacted_at IS 'When an erasure last removed a part of this row''s personal data; NULL if none was removed.';

--
-- Name: COLUMN audit_logs.subject_part_salt; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.audit_logs.subject_part_salt IS 'Layout 2: random salt of subject_part_digest; NULL once erasure redacted the subject part (user_id, personal_details). NULL on layout-1 rows.';

--
-- Name: COLUMN audit_logs.subject_part_digest; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.audit_logs.subject_part_digest IS 'Layout 2: sha256(subject_part_salt || user_id || personal_details), kept after redaction. NULL marks a layout-1 row.';

--
-- Name: COLUMN audit_logs.actor_part_salt; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.audit_logs.actor_part_salt IS 'Layout 2: random salt of actor_part_digest; NULL once erasure redacted the actor part (actor_id, ip_address, user_agent).';

--
-- Name: COLUMN audit_logs.actor_part_digest; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.audit_logs.actor_part_digest IS 'Layout 2: sha256(actor_part_salt || actor_id || ip_address || user_agent), kept after redaction.';

--
-- Name: audit_log_checks; Type: VIEW; Schema: compliance_private; Owner: compliance_owner
--

CREATE VIEW compliance_private.audit_log_checks AS
 SELECT a.xact_id,
    a.id,
    a.tableoid,
    compliance_private.audit_row_hash(a.id, a.occurred_at, a.xact_id, a.action, a.category, a.resource_type, a.resource_id, a.outcome, a.failure_reason, a.details, a.personal_digest) AS row_hash,
        CASE
            WHEN (a.subject_part_digest IS NULL) THEN
            CASE
                WHEN (a.personal_salt IS NULL) THEN
                CASE
                    WHEN (num_nonnulls(a.user_id, a.actor_id, a.ip_address, a.user_agent, a.personal_details) > 0) THEN 'redacted_not_empty'::text
                    ELSE NULL::text
                END
                WHEN (compliance_private.audit_personal_digest(a.personal_salt, a.user_id, a.actor_id, a.ip_address, a.user_agent, a.personal_details) <> a.personal_digest) THEN 'digest_mismatch'::text
                ELSE NULL::text
            END
            WHEN ((a.actor_part_digest IS NULL) OR (sha256((a.subject_part_digest || a.actor_part_digest)) <> a.personal_digest)) THEN 'digest_mismatch'::text
            WHEN ((a.subject_part_salt IS NULL) AND (num_nonnulls(a.user_id, a.personal_details) > 0)) THEN 'redacted_not_empty'::text
            WHEN ((a.actor_part_salt IS NULL) AND (num_nonnulls(a.actor_id, a.ip_address, a.user_agent) > 0)) THEN 'redacted_not_empty'::text
            WHEN ((a.subject_part_salt IS NOT NULL) AND (compliance_private.audit_subject_digest(a.subject_part_salt, a.user_id, a.personal_details) <> a.subject_part_digest)) THEN 'digest_mismatch'::text
            WHEN ((a.actor_part_salt IS NOT NULL) AND (compliance_private.audit_actor_digest(a.actor_part_salt, a.actor_id, a.ip_address, a.user_agent) <> a.actor_part_digest)) THEN 'digest_mismatch'::text
            ELSE NULL::text
        END AS personal_problem,
        CASE
            WHEN (a.subject_part_digest IS NULL) THEN (a.personal_salt IS NULL)
            ELSE (a.subject_part_salt IS NULL)
        END AS subject_redacted,
        CASE
            WHEN (a.subject_part_digest IS NULL) THEN (a.personal_salt IS NULL)
            ELSE (a.actor_part_salt IS NULL)
        END AS actor_redacted
   FROM compliance.audit_logs a;

ALTER TABLE compliance_private.audit_log_checks OWNER TO compliance_owner;

--
-- Name: VIEW audit_log_checks; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON VIEW compliance_private.audit_log_checks IS 'Each audit row''s hash (what a seal covers), what is wrong with its personal part (digest_mismatch: a part no longer matches its digest; redacted_not_empty: a redacted part still holds data; NULL: nothing), and which parts are redacted (layout 1: both or neither). The sealer and the verifier read it by id ranges (layout-2 seals) or (xact_id, id) ranges (layout-1 seals) so an index is used.';

--
-- Name: COLUMN audit_log_checks.xact_id; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.audit_log_checks.xact_id IS 'The row''s transaction id (audit_logs.xact_id).';

--
-- Name: COLUMN audit_log_checks.id; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.audit_log_checks.id IS 'The row''s id (audit_logs.id).';

--
-- Name: COLUMN audit_log_checks.tableoid; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.audit_log_checks.tableoid IS 'The partition holding the row.';

--
-- Name: COLUMN audit_log_checks.row_hash; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.audit_log_checks.row_hash IS 'The row''s hash, what a seal covers (db/AUDIT_HASHING.md).';

--
-- Name: COLUMN audit_log_checks.personal_problem; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.audit_log_checks.personal_problem IS 'NULL, digest_mismatch or redacted_not_empty.';

--
-- Name: COLUMN audit_log_checks.subject_redacted; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.audit_log_checks.subject_redacted IS 'Whether the subject part is redacted (layout 1: the whole personal part).';

--
-- Name: COLUMN audit_log_checks.actor_redacted; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.audit_log_checks.actor_redacted IS 'Whether the actor part is redacted (layout 1: the whole personal part).';

--
-- Name: audit_log_checks_between(xid8, bigint, xid8, bigint, bigint); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.audit_log_checks_between(from_xact xid8, from_id bigint, to_xact xid8, to_id bigint, below_id bigint) RETURNS SETOF compliance_private.audit_log_checks
    LANGUAGE sql STABLE
    BEGIN ATOMIC
 SELECT c.xact_id,
     c.id,
     c.tableoid,
     c.row_hash,
     c.personal_problem,
     c.subject_redacted,
     c.actor_redacted
    FROM compliance_private.audit_log_checks c
   WHERE ((c.xact_id = audit_log_checks_between.from_xact) AND (c.id > audit_log_checks_between.from_id) AND (c.id <=
         CASE
             WHEN (audit_log_checks_between.from_xact = audit_log_checks_between.to_xact) THEN audit_log_checks_between.to_id
             ELSE '9223372036854775807'::bigint
         END) AND (c.id < audit_log_checks_between.below_id))
 UNION ALL
  SELECT c.xact_id,
     c.id,
     c.tableoid,
     c.row_hash,
     c.personal_problem,
     c.subject_redacted,
     c.actor_redacted
    FROM compliance_private.audit_log_checks c
   WHERE ((c.xact_id > audit_log_checks_between.from_xact) AND (c.xact_id < audit_log_checks_between.to_xact) AND (c.id < audit_log_checks_between.below_id))
 UNION ALL
  SELECT c.xact_id,
     c.id,
     c.tableoid,
     c.row_hash,
     c.personal_problem,
     c.subject_redacted,
     c.actor_redacted
    FROM compliance_private.audit_log_checks c
   WHERE ((audit_log_checks_between.from_xact < audit_log_checks_between.to_xact) AND (c.xact_id = audit_log_checks_between.to_xact) AND (c.id <= audit_log_checks_between.to_id) AND (c.id < audit_log_checks_between.below_id));
END;

ALTER FUNCTION compliance_private.audit_log_checks_between(from_xact xid8, from_id bigint, to_xact xid8, to_id bigint, below_id bigint) OWNER TO compliance_owner;

--
-- Name: FUNCTION audit_log_checks_between(from_xact xid8, from_id bigint, to_xact xid8, to_id bigint, below_id bigint); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.audit_log_checks_between(from_xact xid8, from_id bigint, to_xact xid8, to_id bigint, below_id bigint) IS 'Layout-1 seals: the audit_log_checks rows after (from_xact, from_id) up to and including (to_xact, to_id) in (xact_id, id) order and with an id below below_id (where layout 2 begins), read with index bounds that end where the range ends.';

--
-- Name: audit_parts_missing(text, text); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.audit_parts_missing(have text, need text) RETURNS boolean
    LANGUAGE sql IMMUTABLE
    RETURN (((strpos(COALESCE(need, ''::text), 'a'::text) > 0) AND (strpos(COALESCE(have, ''::text), 'a'::text) = 0)) OR ((strpos(COALESCE(need, ''::text), 's'::text) > 0) AND (strpos(COALESCE(have, ''::text), 's'::text) = 0)));

ALTER FUNCTION compliance_private.audit_parts_missing(have text, need text) OWNER TO compliance_owner;

--
-- Name: FUNCTION audit_parts_missing(have text, need text); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.audit_parts_missing(have text, need text) IS 'Whether need names a personal part (a: actor, s: subject) that have does not.';

--
-- Name: audit_problem_detail(text); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.audit_problem_detail(kind text) RETURNS text
    LANGUAGE sql IMMUTABLE
    RETURN CASE kind WHEN 'deleted_row'::text THEN 'a sealed row is missing, and no sealed drop record removed it'::text WHEN 'forged_row'::text THEN 'a row in the sealed range is not in the seal'::text WHEN 'altered_row'::text THEN 'the row no longer matches its sealed hash'::text WHEN 'reordered_row'::text THEN 'the row is not where the seal put it'::text WHEN 'digest_mismatch'::text THEN 'the personal part no longer matches its digest'::text WHEN 'redacted_not_empty'::text THEN 'a redacted personal part still holds data'::text WHEN 'unaccounted_redaction'::text THEN 'a personal part is redacted that no sealed erasure lists'::text WHEN 'unredacted_row'::text THEN 'a sealed erasure lists this row''s personal part as redacted, and it is not'::text ELSE NULL::text END;

ALTER FUNCTION compliance_private.audit_problem_detail(kind text) OWNER TO compliance_owner;

--
-- Name: FUNCTION audit_problem_detail(kind text); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.audit_problem_detail(kind text) IS 'The sentence verify_audit_log() gives with each kind of row finding.';

--
-- Name: audit_seal_hash(bytea, bigint, xid8, bigint, integer, bytea); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.audit_seal_hash(previous_hash bytea, seal_no bigint, last_xact_id xid8, last_row_id bigint, row_count integer, row_hashes bytea) RETURNS bytea
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN sha256((((((previous_hash || int8send(seal_no)) || int8send(((last_xact_id)::text)::bigint)) || int8send(last_row_id)) || int8send((row_count)::bigint)) || row_hashes));

ALTER FUNCTION compliance_private.audit_seal_hash(previous_hash bytea, seal_no bigint, last_xact_id xid8, last_row_id bigint, row_count integer, row_hashes bytea) OWNER TO compliance_owner;

--
-- Name: FUNCTION audit_seal_hash(previous_hash bytea, seal_no bigint, last_xact_id xid8, last_row_id bigint, row_count integer, row_hashes bytea); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.audit_seal_hash(previous_hash bytea, seal_no bigint, last_xact_id xid8, last_row_id bigint, row_count integer, row_hashes bytea) IS 'The hash of one seal (db/AUDIT_HASHING.md).';

--
-- Name: audit_seal_hash_v2(bytea, bigint, bigint, bigint, integer, bytea); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.audit_seal_hash_v2(previous_hash bytea, seal_no bigint, first_row_id bigint, last_row_id bigint, row_count integer, row_hashes bytea) RETURNS bytea
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN sha256((((((('\x00000002'::bytea || previous_hash) || int8send(seal_no)) || int8send(first_row_id)) || int8send(last_row_id)) || int8send((row_count)::bigint)) || row_hashes));

ALTER FUNCTION compliance_private.audit_seal_hash_v2(previous_hash bytea, seal_no bigint, first_row_id bigint, last_row_id bigint, row_count integer, row_hashes bytea) OWNER TO compliance_owner;

--
-- Name: FUNCTION audit_seal_hash_v2(previous_hash bytea, seal_no bigint, first_row_id bigint, last_row_id bigint, row_count integer, row_hashes bytea); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.audit_seal_hash_v2(previous_hash bytea, seal_no bigint, first_row_id bigint, last_row_id bigint, row_count integer, row_hashes bytea) IS 'The hash of a layout-2 seal (db/AUDIT_HASHING.md).';

--
-- Name: audit_seal_hash_of(compliance.audit_seals); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.audit_seal_hash_of(seal compliance.audit_seals) RETURNS bytea
    LANGUAGE sql STABLE
    RETURN CASE (seal).layout WHEN 1 THEN compliance_private.audit_seal_hash((seal).previous_hash, (seal).seal_no, (seal).last_xact_id, (seal).last_row_id, (seal).row_count, (seal).row_hashes) WHEN 2 THEN compliance_private.audit_seal_hash_v2((seal).previous_hash, (seal).seal_no, (seal).first_row_id, (seal).last_row_id, (seal).row_count, (seal).row_hashes) ELSE NULL::bytea END;

ALTER FUNCTION compliance_private.audit_seal_hash_of(seal compliance.audit_seals) OWNER TO compliance_owner;

--
-- Name: FUNCTION audit_seal_hash_of(seal compliance.audit_seals); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.audit_seal_hash_of(seal compliance.audit_seals) IS 'Recomputes a stored seal''s hash by its layout.';

--
-- Name: audit_seal_rows(compliance.audit_seals, xid8, bigint, bigint); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.audit_seal_rows(seal compliance.audit_seals, from_xact xid8, from_id bigint, layout2_from bigint) RETURNS SETOF compliance_private.audit_log_checks
    LANGUAGE sql STABLE
    BEGIN ATOMIC
 SELECT audit_log_checks_between.xact_id,
     audit_log_checks_between.id,
     audit_log_checks_between.tableoid,
     audit_log_checks_between.row_hash,
     audit_log_checks_between.personal_problem,
     audit_log_checks_between.subject_redacted,
     audit_log_checks_between.actor_redacted
    FROM compliance_private.audit_log_checks_between(audit_seal_rows.from_xact, audit_seal_rows.from_id, (audit_seal_rows.seal).last_xact_id, (audit_seal_rows.seal).last_row_id, audit_seal_rows.layout2_from) audit_log_checks_between(xact_id, id, tableoid, row_hash, personal_problem, subject_redacted, actor_redacted)
   WHERE ((audit_seal_rows.seal).layout = 1)
 UNION ALL
  SELECT c.xact_id,
     c.id,
     c.tableoid,
     c.row_hash,
     c.personal_problem,
     c.subject_redacted,
     c.actor_redacted
    FROM compliance_private.audit_log_checks c
   WHERE (((audit_seal_rows.seal).layout = 2) AND (c.id >= (audit_seal_rows.seal).first_row_id) AND (c.id <= (audit_seal_rows.seal).last_row_id));
END;

ALTER FUNCTION compliance_private.audit_seal_rows(seal compliance.audit_seals, from_xact xid8, from_id bigint, layout2_from bigint) OWNER TO compliance_owner;

--
-- Name: FUNCTION audit_seal_rows(seal compliance.audit_seals, from_xact xid8, from_id bigint, layout2_from bigint); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.audit_seal_rows(seal compliance.audit_seals, from_xact xid8, from_id bigint, layout2_from bigint) IS 'The rows present in a seal''s range: layout 1 after (from_xact, from_id), the previous seal''s end, and below layout2_from; layout 2 its id range.';

--
-- Name: begin_bulk_operation(text); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.begin_bulk_operation(kind text) RETURNS void
    LANGUAGE sql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  insert into compliance_private.bulk_operations (xact_id, kind) values (pg_current_xact_id(), kind) on conflict do nothing;
  select set_config('compliance_private.bulk_operation', kind, true);
$$;

ALTER FUNCTION compliance_private.begin_bulk_operation(kind text) OWNER TO compliance_owner;

--
-- Name: FUNCTION begin_bulk_operation(kind text); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.begin_bulk_operation(kind text) IS 'Marks the current transaction as an erasure or retention batch (see bulk_operations).';

--
-- Name: check_access_review(jsonb); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.check_access_review(context jsonb) RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_overdue bigint;
  v_campaigns bigint;
begin
  select count(*), count(*) filter (where c.completed_at is null and c.due_at < now())
    into v_campaigns, v_overdue from compliance.access_review_campaigns c;
  -- before the first campaign there is nothing to measure
  status := case when v_campaigns = 0 then 'not_applicable' when v_overdue = 0 then 'pass' else 'fail' end;
  measured := jsonb_build_object('campaigns', v_campaigns, 'overdue_campaigns', v_overdue);
  threshold := jsonb_build_object('max_overdue', 0);
  detail := case when v_campaigns = 0 then 'no access review campaign has been opened yet'
                 else format('%s access review campaign(s) unfinished past their due date', v_overdue) end;
  evidence := 'select count(*) from compliance.access_review_campaigns where completed_at is null and due_at < now()';
  return next;
end;
$$;

ALTER FUNCTION compliance_private.check_access_review(context jsonb) OWNER TO compliance_owner;

--
-- Name: FUNCTION check_access_review(context jsonb); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.check_access_review(context jsonb) IS 'Compliance check (SOC 2 CC6.2): no access review campaign is unfinished past its due date; not_applicable before the first campaign.';

--
-- Name: check_anchors(jsonb); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.check_anchors(context jsonb) RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
declare
  v_limit interval := (select s.anchor_max_age from compliance.compliance_check_settings s);
  v_last timestamptz;
  v_seal bigint;
  v_first_seal timestamptz;
  v_key text := (select s.anchor_key_fingerprint from compliance.compliance_check_settings s);
begin
  threshold := jsonb_build_object('max_age_hours', round(extract(epoch from v_limit) / 3600, 2));
  evidence := $q$select occurred_at, details from compliance.audit_logs where action = 'audit.anchored' and outcome = 'success' order by id desc$q$;
  -- only anchors signed with the configured key count (their signatures are checked outside the
  -- database: PostgreSQL has no Ed25519)
  select a.occurred_at, (a.details ->> 'seal_no')::bigint into v_last, v_seal
    from compliance.audit_logs a where a.action = 'audit.anchored' and a.outcome = 'success'
     and a.details ->> 'key_fingerprint' is not distinct from v_key and v_key is not null
     -- recorded by the worker's login (which holds the key and writes the anchors), never by a
     -- DPO or auditor session, who could record an anchor nobody signed
     and (a.details ->> 'recorded_by_worker')::boolean is true
   order by a.id desc limit 1;
  select s.sealed_at into v_first_seal from compliance.audit_seals s order by s.seal_no limit 1;
  if v_last is null and (v_first_seal is null or v_first_seal > now() - v_limit) then
    -- a chain younger than the limit owes no anchor yet
    status := 'not_applicable';
    measured := jsonb_build_object('anchors', 0, 'first_seal_at', v_first_seal);
    detail := format('no anchor yet; the first is due within %s of the first seal (the worker writes one at start and hourly)', v_limit);
    return next;
    return;
  end if;
  measured := jsonb_build_object('last_anchor_at', v_last, 'seal_no', v_seal, 'key_id', left(v_key, 16),
    'age_hours', round(extract(epoch from now() - v_last) / 3600, 2));
  status := case when v_last >= now() - v_limit then 'pass' else 'fail' end;
  detail := case
    when v_last is null then format('no anchor was ever written outside the database, and the chain is older than %s: tamper evidence is off (set ANCHOR_DIR and the signing key, run the worker)', v_limit)
    when status = 'pass' then format('the newest anchor (seal %s) was written at %s', v_seal, v_last)
    else format('the newest anchor (seal %s) was written at %s, longer ago than %s: is the worker publishing anchors?', v_seal, v_last, v_limit) end;
  return next;
end;
$_$;

ALTER FUNCTION compliance_private.check_anchors(context jsonb) OWNER TO compliance_owner;

--
-- Name: FUNCTION check_anchors(context jsonb); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.check_anchors(context jsonb) IS 'Compliance check: an anchor (the newest seal, signed and written outside the database, recorded as audit.anchored) was written less than anchor_max_age ago (twice the worker''s hourly interval). Only anchors signed with the configured anchor key (compliance.set_anchor_key) and recorded by a login of the worker count, since a DPO or auditor session can record an anchor nobody signed; their Ed25519 signatures are checked by pgcomply verify --anchors and pgcomply doctor, since PostgreSQL cannot. Fails when the newest is older, or when none was ever written for a chain older than that; not_applicable only while the chain is younger.';

--
-- Name: check_audit_chain(jsonb); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.check_audit_chain(context jsonb) RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_full boolean := coalesce((context ->> 'full_verification')::boolean, false);
  v_sealed_end bigint := coalesce((select s.last_row_id from compliance.audit_seals s where s.layout = 2 order by s.seal_no desc limit 1), 0);
  v_from_seal bigint;
  v_from_hash bytea;
  v_result record;
begin
  -- the checkpoint is the newest audit.verified row that is itself sealed: anchored in the chain
  if not v_full then
    select (a.details ->> 'seal_no')::bigint, decode(a.details ->> 'seal_hash', 'hex')
      into v_from_seal, v_from_hash
      from compliance.audit_logs a
     where a.action = 'audit.verified' and a.outcome = 'success' and a.id <= v_sealed_end
     order by a.id desc limit 1;
  end if;
  select * into v_result from compliance.verify_audit_log(v_from_seal, v_from_hash);
  status := case when v_result.ok then 'pass' else 'fail' end;
  measured := jsonb_build_object('incremental', v_result.incremental, 'from_seal', case when v_result.incremental then v_from_seal end,
    'seals_checked', v_result.seals_checked, 'rows_checked', v_result.rows_checked,
    'unsealed_rows', v_result.unsealed_rows, 'problems', jsonb_array_length(v_result.problems),
    'first_problems', (select coalesce(jsonb_agg(p), '[]') from (select p from jsonb_array_elements(v_result.problems) p limit 5) x));
  threshold := jsonb_build_object('problems', 0);
  detail := case when v_result.ok then format('%s seals and %s rows verify%s', v_result.seals_checked, v_result.rows_checked,
                                              case when v_result.incremental then format(' (after seal %s)', v_from_seal) else ' (the whole chain)' end)
                 else format('%s problem(s) in the audit chain', jsonb_array_length(v_result.problems)) end;
  evidence := case when v_result.incremental
                   then format('select * from compliance.verify_audit_log(%s, %L::bytea)', v_from_seal, v_from_hash)
                   else 'select * from compliance.verify_audit_log()' end;
  -- the next run starts here; the row is sealed like any other, which anchors it
  if v_result.ok and v_result.last_seal_no > 0 then
    perform compliance_private.append_audit('audit.verified', 'soc2', 'audit_seal', v_result.last_seal_no::text,
      jsonb_build_object('seal_no', v_result.last_seal_no, 'seal_hash', encode(v_result.last_seal_hash, 'hex'),
        'incremental', v_result.incremental, 'seals_checked', v_result.seals_checked, 'rows_checked', v_result.rows_checked));
  end if;
  return next;
end;
$$;

ALTER FUNCTION compliance_private.check_audit_chain(context jsonb) OWNER TO compliance_owner;

--
-- Name: FUNCTION check_audit_chain(context jsonb); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.check_audit_chain(context jsonb) IS 'Compliance check: the audit chain verifies. Incrementally, from the newest sealed audit.verified row (the checkpoint, anchored in the chain), so the daily cost follows the day''s rows; the whole chain when context full_verification is true or no checkpoint exists. A passing run writes the next checkpoint.';

--
-- Name: check_backup_age(jsonb); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.check_backup_age(context jsonb) RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_limit interval := (select s.backup_max_age from compliance.compliance_check_settings s);
  v_good compliance.backup_verifications;
  v_last compliance.backup_verifications;
  v_taken timestamptz;
  v_label text;
  v_newest timestamptz;
begin
  threshold := jsonb_build_object('max_age_hours', round(extract(epoch from v_limit) / 3600, 1));
  evidence := 'select verified_at, archive_created_at, ok, file_sha256, last_seal_no from compliance.backup_verifications order by verified_at desc; '
    || 'select details ->> ''stopped_at'', details ->> ''label'' from compliance.audit_logs where action = ''backup.taken'' and details ->> ''written_by'' = ''compliance.record_backup'' order by id desc';
  -- pgBackRest's backups as the worker recorded them (only compliance.record_backup writes these rows)
  select (a.details ->> 'stopped_at')::timestamptz, a.details ->> 'label' into v_taken, v_label
    from compliance.audit_logs a
   where a.action = 'backup.taken' and a.outcome = 'success' and a.details ->> 'written_by' = 'compliance.record_backup'
   order by (a.details ->> 'stopped_at')::timestamptz desc limit 1;
  select * into v_last from compliance.backup_verifications b order by b.verified_at desc, b.id desc limit 1;
  if v_last.id is null and v_taken is null then
    status := 'not_applicable';
    measured := '{}';
    detail := 'no backup is recorded: the worker records pgBackRest''s backups once BACKUP_STANZA is set (pgcomply backup setup), and pgcomply backup verify records a verified dump';
    return next;
    return;
  end if;
  select * into v_good from compliance.backup_verifications b where b.ok order by b.archive_created_at desc, b.id desc limit 1;
  v_newest := greatest(v_good.archive_created_at, v_taken);
  measured := jsonb_build_object('newest_backup', v_newest, 'age_hours', round(extract(epoch from now() - v_newest) / 3600, 1),
    'newest_pgbackrest_backup', v_taken, 'pgbackrest_label', v_label,
    'newest_verified_dump', v_good.archive_created_at, 'file_sha256', v_good.file_sha256, 'last_verification_ok', v_last.ok);
  status := case when v_newest is not null and v_newest >= now() - v_limit then 'pass' else 'fail' end;
  detail := case
    when v_newest is null then format('no backup verified without problems; the last one (%s) had %s', v_last.file_name, jsonb_array_length(v_last.problems))
    when status = 'pass' then format('the newest backup (%s) was made at %s', coalesce(v_label, v_good.file_name), v_newest)
    else format('the newest backup was made at %s, longer ago than %s', v_newest, v_limit) end;
  return next;
end;
$$;

ALTER FUNCTION compliance_private.check_backup_age(context jsonb) OWNER TO compliance_owner;

--
-- Name: FUNCTION check_backup_age(context jsonb); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.check_backup_age(context jsonb) IS 'Compliance check: the newest backup is younger than backup_max_age (SOC 2 A1.2): a pgBackRest backup the worker recorded (compliance.record_backup), or a dump pgcomply backup verify restored and found sound. not_applicable until either is recorded, because backups are invisible from inside PostgreSQL; never a pass without one.';

--
-- Name: check_breach_deadlines(jsonb); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.check_breach_deadlines(context jsonb) RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_due jsonb;
begin
  select coalesce(jsonb_agg(jsonb_build_object('breach_id', d.breach_id, 'authority', d.authority, 'individuals', d.individuals,
                                               'hhs', d.hhs, 'media', d.media) order by d.breach_id), '[]')
    into v_due
    from compliance.breach_deadlines(now()) d
   where d.authority in ('overdue', 'due_within_24h') or d.individuals in ('overdue', 'due_within_24h')
      or d.hhs in ('overdue', 'due_within_24h') or d.media = 'overdue';
  status := case when v_due = '[]' then 'pass' else 'fail' end;
  measured := jsonb_build_object('breaches_due', v_due);
  threshold := jsonb_build_object('due_within_hours', 24, 'breaches_due', '[]'::jsonb);
  detail := case when v_due = '[]' then 'no breach notification is overdue or due within 24 hours'
                 else format('%s breach(es) with a notification overdue or due within 24 hours', jsonb_array_length(v_due)) end;
  evidence := 'select * from compliance.breach_deadlines(now()) where authority in (''overdue'', ''due_within_24h'') or individuals in (''overdue'', ''due_within_24h'') or hhs in (''overdue'', ''due_within_24h'') or media = ''overdue''';
  return next;
end;
$$;

ALTER FUNCTION compliance_private.check_breach_deadlines(context jsonb) OWNER TO compliance_owner;

--
-- Name: FUNCTION check_breach_deadlines(context jsonb); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.check_breach_deadlines(context jsonb) IS 'Compliance check: no breach notification (authority, individuals, HHS, media) is overdue or due within 24 hours without having been made.';

--
-- Name: check_client_tls(jsonb); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.check_client_tls(context jsonb) RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_plain bigint;
  v_old bigint;
  v_versions jsonb;
begin
  threshold := jsonb_build_object('plain_connections', 0, 'below_tls_1_3', 0);
  evidence := 'select coalesce(s.version, ''none'') as version, count(*) from pg_stat_activity a join pg_stat_ssl s using (pid) where a.datname = current_database() and a.backend_type = ''client backend'' group by 1';
  -- what every client connection to this database uses now: the monthly report states it
  select coalesce(jsonb_object_agg(v.version, v.connections), '{}'),
         coalesce(sum(v.connections) filter (where v.version = 'none'), 0),
         coalesce(sum(v.connections) filter (where v.version not in ('none', 'TLSv1.3')), 0)
    into v_versions, v_plain, v_old
    from (select coalesce(s.version, 'none') as version, count(*) as connections
            from pg_catalog.pg_stat_activity a join pg_catalog.pg_stat_ssl s on s.pid = a.pid
           where a.datname = current_database() and a.backend_type = 'client backend'
           group by 1) v;
  measured := jsonb_build_object('plain_connections', v_plain, 'below_tls_1_3', v_old, 'versions', v_versions);
  if not coalesce((context ->> 'require_tls')::boolean, false) then
    status := 'not_applicable';
    detail := 'REQUIRE_TLS is not set: connections without TLS are allowed by configuration (versions seen are measured all the same)';
    return next;
    return;
  end if;
  status := case when v_plain = 0 and v_old = 0 then 'pass' else 'fail' end;
  detail := format('%s client connection(s) without TLS, %s below TLS 1.3', v_plain, v_old);
  return next;
end;
$$;

ALTER FUNCTION compliance_private.check_client_tls(context jsonb) OWNER TO compliance_owner;

--
-- Name: FUNCTION check_client_tls(context jsonb); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.check_client_tls(context jsonb) IS 'Compliance check: with REQUIRE_TLS (context require_tls), every client connection to this database uses TLS 1.3 (pg_stat_ssl): none without TLS, none on an older version; measured lists the connections per version either way. Without REQUIRE_TLS, not_applicable.';

--
-- Name: check_data_map(jsonb); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.check_data_map(context jsonb) RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
declare
  c_sample constant integer := 200;
  -- what a value looks like when it is personal; a finding names the pattern, never the value
  c_patterns constant jsonb := jsonb_build_object(
    'e-mail address', '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}',
    'phone number', '(^|[^0-9])\+?[0-9][0-9 ()./-]{8,}[0-9]($|[^0-9])',
    'IP address', '(^|[^0-9.])([0-9]{1,3}\.){3}[0-9]{1,3}($|[^0-9.])');
  v_findings jsonb := '[]';
  v_table record;
  v_column record;
  v_matched_pattern text;
  v_tables integer := 0;
begin
  for v_table in
    select c.oid::regclass as relation, n.nspname, (p.relation is not null) as registered, p.classified_columns,
           -- rows pgcomply's owner may read; row-level security would hide them from a sample
           pg_catalog.has_table_privilege(c.oid, 'SELECT') and not c.relrowsecurity as readable
      from pg_catalog.pg_class c
      join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      left join compliance.personal_tables p on p.relation = c.oid
     where c.relkind in ('r', 'p') and not c.relispartition
       and n.nspname not in ('compliance', 'compliance_private', 'pg_catalog', 'information_schema', 'graphile_worker', 'graphile_migrate')
       and n.nspname not like 'pg\_%'
       and not exists (select from compliance.not_personal_columns m where m.relation = c.oid and m.column_name = '*')
     order by c.oid::regclass::text
  loop
    v_tables := v_tables + 1;
    for v_column in
      select a.attname::text as name, a.atttypid, pg_catalog.format_type(a.atttypid, null) as type,
             exists (select from pg_catalog.pg_constraint f where f.conrelid = v_table.relation and f.contype = 'f' and a.attnum = any (f.conkey)
                      and (f.confrelid = 'compliance.user_profiles'::regclass
                           or f.confrelid in (select t.relation from compliance.personal_tables t where t.subject_via is null))) as references_subject
        from pg_catalog.pg_attribute a
       where a.attrelid = v_table.relation and a.attnum > 0 and not a.attisdropped
         and not exists (select from compliance.not_personal_columns m where m.relation = v_table.relation and m.column_name = a.attname)
       order by a.attnum
    loop
      if v_table.registered then
        -- a registered table is classified column by column: a column added since is unknown
        if not v_column.name = any (v_table.classified_columns) then
          v_findings := v_findings || jsonb_build_object('table', v_table.relation::text, 'column', v_column.name, 'reason', 'added since the table was registered');
        end if;
        continue;
      end if;
      if v_column.references_subject then
        v_findings := v_findings || jsonb_build_object('table', v_table.relation::text, 'column', v_column.name, 'reason', 'a foreign key to a table of subjects');
      elsif v_column.name ~* '^(user_?id|subject_?id|customer_?id|member_?id|patient_?id|account_?id)$' then
        v_findings := v_findings || jsonb_build_object('table', v_table.relation::text, 'column', v_column.name, 'reason', 'its name says it refers to a person');
      elsif v_column.name ~* '(e_?mail|phone|mobile|first_?name|last_?name|full_?name|^name$|surname|address|street|post_?code|zip_?code|^ip$|ip_?addr|birth|^dob$|ssn|national_?id|passport|tax_?id|iban|card_?number)' then
        v_findings := v_findings || jsonb_build_object('table', v_table.relation::text, 'column', v_column.name, 'reason', 'its name says it holds personal data');
      elsif v_column.atttypid in ('inet'::regtype, 'cidr'::regtype) then
        v_findings := v_findings || jsonb_build_object('table', v_table.relation::text, 'column', v_column.name, 'reason', 'it holds network addresses');
      elsif v_column.atttypid in ('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype, 'json'::regtype, 'jsonb'::regtype) then
        if not v_table.readable then
          v_findings := v_findings || jsonb_build_object('table', v_table.relation::text, 'column', v_column.name,
            'reason', 'not sampled: pgcomply may not read its rows (grant select to compliance_owner, register the table, or mark it)');
          continue;
        end if;
        -- a bounded sample, matched inside the database: no value leaves it. Only the table
        -- itself: a child table may be a foreign table, read with another server's rights
        -- one sample, read once, matched against every pattern; the first that matches is named
        execute format('select (select p.key from jsonb_each_text($1) p where s.v ~ p.value order by p.key limit 1)
                          from (select %I::text as v from only %s limit %s) s
                         where exists (select from jsonb_each_text($1) p where s.v ~ p.value)
                         order by 1 limit 1', v_column.name, v_table.relation, c_sample)
          into v_matched_pattern using c_patterns;
        if v_matched_pattern is not null then
          v_findings := v_findings || jsonb_build_object('table', v_table.relation::text, 'column', v_column.name,
            'reason', format('a sample of at most %s rows matched the %s pattern', c_sample, v_matched_pattern));
        end if;
      end if;
    end loop;
  end loop;
  status := case when jsonb_array_length(v_findings) = 0 then 'pass' else 'fail' end;
  measured := jsonb_build_object('tables_examined', v_tables, 'findings', v_findings);
  threshold := jsonb_build_object('findings', '[]'::jsonb);
  detail := case when jsonb_array_length(v_findings) = 0
                 then format('%s tables outside pgcomply''s schemas examined: every personal column is registered or marked', v_tables)
                 else format('%s columns may hold personal data outside pgcomply''s rules: %s', jsonb_array_length(v_findings),
                        (select string_agg(format('%s.%s (%s)', f ->> 'table', f ->> 'column', f ->> 'reason'), '; ')
                           from jsonb_array_elements(v_findings) f)) end;
  evidence := 'select * from compliance.personal_tables; select * from compliance.not_personal_columns';
  return next;
end;
$_$;

ALTER FUNCTION compliance_private.check_data_map(context jsonb) OWNER TO compliance_owner;

--
-- Name: FUNCTION check_data_map(context jsonb); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.check_data_map(context jsonb) IS 'Compliance check: every table outside pgcomply''s schemas that holds personal data is registered (compliance.register_personal_table) or marked not personal (compliance.mark_not_personal). A column is found by its name (a subject reference, e-mail, phone, name, address, IP, birth date, national id …), by a foreign key to the subjects, by its type (inet), or by a sample of at most 200 rows matched against patterns (e-mail, phone, IP) inside the database: a finding names the table, the column and the reason, never a value. A registered table''s column added since registration is a finding. A table pgcomply may not read is not sampled, and says so.';

--
-- Name: check_emergency_reviews(jsonb); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.check_emergency_reviews(context jsonb) RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_overdue bigint;
begin
  select count(*) into v_overdue from compliance.access_grants g
   where g.kind = 'emergency' and g.reviewed_at is null and g.review_due_at < now();
  status := case when v_overdue = 0 then 'pass' else 'fail' end;
  measured := jsonb_build_object('overdue_reviews', v_overdue);
  threshold := jsonb_build_object('max_overdue', 0);
  detail := format('%s emergency access review(s) overdue', v_overdue);
  evidence := 'select count(*) from compliance.access_grants where kind = ''emergency'' and reviewed_at is null and review_due_at < now()';
  return next;
end;
$$;

ALTER FUNCTION compliance_private.check_emergency_reviews(context jsonb) OWNER TO compliance_owner;

--
-- Name: FUNCTION check_emergency_reviews(context jsonb); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.check_emergency_reviews(context jsonb) IS 'Compliance check: no emergency (break-glass) access is past its review deadline.';

--
-- Name: check_grant_request(text, text, text, text, text); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.check_grant_request(patient text, scope text, purpose text, reason text, kind text) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  if scope is null or scope not in ('phi.read', 'phi.write') then
    perform compliance_private.raise_error('BADRG', format('scope %L is unknown', scope), 'Use phi.read or phi.write.');
  end if;
  if purpose is null or purpose not in ('treatment', 'payment', 'operations', 'emergency') or (purpose = 'emergency') <> (kind = 'emergency') then
    perform compliance_private.raise_error('BADRG', format('purpose of use %L does not fit a grant of kind %s', purpose, kind),
      'Use treatment, payment or operations; emergency is for break_glass.');
  end if;
  if reason is null or length(trim(reason)) < (case when kind = 'emergency' then 20 else 1 end) or length(reason) > 2000 then
    perform compliance_private.raise_error('GRRSN',
      format('give a reason of %s to 2000 characters', case when kind = 'emergency' then 20 else 1 end),
      'Say why access is needed; an emergency needs at least 20 characters an approver can review.');
  end if;
  -- the patient must exist, and is held against erasure until this transaction ends. An erased
  -- patient is answered as one who never existed: the workforce must not learn who was erased
  perform from compliance.user_profiles p where p.user_id = check_grant_request.patient for key share;
  if not found then
    perform compliance_private.raise_error('UNKSJ', 'no patient with that user id',
      'Check the user id; a patient exists once their profile was created.');
  end if;
end;
$$;

ALTER FUNCTION compliance_private.check_grant_request(patient text, scope text, purpose text, reason text, kind text) OWNER TO compliance_owner;

--
-- Name: FUNCTION check_grant_request(patient text, scope text, purpose text, reason text, kind text); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.check_grant_request(patient text, scope text, purpose text, reason text, kind text) IS 'The checks every new grant passes: a known scope and a purpose that fits the kind (BADRG), a reason (GRRSN: at least 20 characters for an emergency), a patient who exists (UNKSJ, also for an erased patient, whom the workforce must not tell from one who never existed), held against erasure until the transaction ends.';

--
-- Name: check_master_key_age(jsonb); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.check_master_key_age(context jsonb) RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_limit interval := (select s.master_key_max_age from compliance.compliance_check_settings s);
  v_version integer;
  v_since timestamptz;
begin
  select max(k.kek_version) into v_version from compliance_private.subject_keys k;
  threshold := jsonb_build_object('max_age_days', extract(day from v_limit));
  evidence := 'select kek_version, min(coalesce(rewrapped_at, created_at)) from compliance_private.subject_keys group by kek_version';
  if v_version is null then
    status := 'not_applicable';
    measured := '{}';
    detail := 'no health record is stored yet, so no master key wraps anything';
    return next;
    return;
  end if;
  select min(coalesce(k.rewrapped_at, k.created_at)) into v_since from compliance_private.subject_keys k where k.kek_version = v_version;
  status := case when v_since >= now() - v_limit then 'pass' else 'fail' end;
  measured := jsonb_build_object('kek_version', v_version, 'in_use_since', v_since, 'age_days', extract(day from now() - v_since));
  detail := format('master key version %s has wrapped data keys since %s', v_version, v_since);
  return next;
end;
$$;

ALTER FUNCTION compliance_private.check_master_key_age(context jsonb) OWNER TO compliance_owner;

--
-- Name: FUNCTION check_master_key_age(context jsonb); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.check_master_key_age(context jsonb) IS 'Compliance check: the newest PHI master key version has wrapped data keys for less than master_key_max_age (rotate with npm run phi-keys -- rotate); not_applicable before the first health record.';

--
-- Name: check_outside_the_database(jsonb); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.check_outside_the_database(context jsonb) RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
    LANGUAGE sql IMMUTABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  select 'not_applicable'::text, '{}'::jsonb, '{}'::jsonb,
         'TLS certificates of other services and vulnerability scans are outside what a data store can see: check them with the tools that can'::text,
         'none'::text;
$$;

ALTER FUNCTION compliance_private.check_outside_the_database(context jsonb) OWNER TO compliance_owner;

--
-- Name: FUNCTION check_outside_the_database(context jsonb); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.check_outside_the_database(context jsonb) IS 'Compliance check that says what it cannot measure: certificates of other services and vulnerability scans. Always not_applicable, never a pass.';

--
-- Name: check_overdue_requests(jsonb); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.check_overdue_requests(context jsonb) RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_overdue bigint;
begin
  select count(*) into v_overdue from compliance.dsr_open_requests r where r.overdue;
  status := case when v_overdue = 0 then 'pass' else 'fail' end;
  measured := jsonb_build_object('overdue_requests', v_overdue);
  threshold := jsonb_build_object('max_overdue', 0);
  detail := format('%s data subject request(s) past their deadline', v_overdue);
  evidence := 'select count(*) from compliance.dsr_open_requests where overdue';
  return next;
end;
$$;

ALTER FUNCTION compliance_private.check_overdue_requests(context jsonb) OWNER TO compliance_owner;

--
-- Name: FUNCTION check_overdue_requests(context jsonb); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.check_overdue_requests(context jsonb) IS 'Compliance check: no data subject request is past its deadline (GDPR Art. 12(3)).';

--
-- Name: check_password_encryption(jsonb); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.check_password_encryption(context jsonb) RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  status := case when current_setting('password_encryption') = 'scram-sha-256' then 'pass' else 'fail' end;
  measured := jsonb_build_object('password_encryption', current_setting('password_encryption'));
  threshold := jsonb_build_object('password_encryption', 'scram-sha-256');
  detail := format('password_encryption is %s', current_setting('password_encryption'));
  evidence := 'show password_encryption';
  return next;
end;
$$;

ALTER FUNCTION compliance_private.check_password_encryption(context jsonb) OWNER TO compliance_owner;

--
-- Name: FUNCTION check_password_encryption(context jsonb); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.check_password_encryption(context jsonb) IS 'Compliance check: password_encryption is scram-sha-256, so no new password is stored as MD5.';

--
-- Name: check_phi_findings(jsonb); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.check_phi_findings(context jsonb) RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_since bigint := coalesce((context ->> 'since_audit_id')::bigint, 0);
  v_integrity bigint;
  v_unusual bigint;
begin
  select count(*) filter (where a.action = 'phi.integrity_failure'), count(*) filter (where a.action = 'phi.unusual_access')
    into v_integrity, v_unusual
    from compliance.audit_logs a
   where a.id > v_since and a.action in ('phi.integrity_failure', 'phi.unusual_access');
  status := case when v_integrity + v_unusual = 0 then 'pass' else 'fail' end;
  measured := jsonb_build_object('integrity_failures', v_integrity, 'unusual_access_findings', v_unusual, 'since_audit_id', v_since);
  threshold := jsonb_build_object('max_findings', 0);
  detail := format('%s integrity failure(s) and %s unusual-access finding(s) since audit row %s', v_integrity, v_unusual, v_since);
  evidence := format('select action, count(*) from compliance.audit_logs where id > %s and action in (''phi.integrity_failure'', ''phi.unusual_access'') group by action', v_since);
  return next;
end;
$$;

ALTER FUNCTION compliance_private.check_phi_findings(context jsonb) OWNER TO compliance_owner;

--
-- Name: FUNCTION check_phi_findings(context jsonb); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.check_phi_findings(context jsonb) IS 'Compliance check: no PHI integrity failure and no unusual-access finding since the last run (context since_audit_id).';

--
-- Name: check_privileged_mfa(jsonb); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.check_privileged_mfa(context jsonb) RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_since bigint := coalesce((context ->> 'since_audit_id')::bigint, 0);
  v_actions bigint;
  v_without bigint;
begin
  threshold := jsonb_build_object('privileged_actions_without_mfa', 0);
  evidence := format('select count(*), count(*) filter (where not (details -> ''authentication'' ->> ''mfa'')::boolean) from compliance.audit_logs where id > %s and details ? ''authentication''', v_since);
  select count(*), count(*) filter (where not (a.details -> 'authentication' ->> 'mfa')::boolean)
    into v_actions, v_without
    from compliance.audit_logs a where a.id > v_since and a.details ? 'authentication';
  measured := jsonb_build_object('privileged_actions', v_actions, 'privileged_actions_without_mfa', v_without);
  if v_actions = 0 then
    status := 'not_applicable';
    detail := 'no privileged action came through the API with token claims since the last run: nothing to measure';
  else
    status := case when v_without = 0 then 'pass' else 'fail' end;
    detail := format('%s of %s privileged action(s) since the last run were taken without multi-factor authentication', v_without, v_actions);
  end if;
  return next;
end;
$$;

ALTER FUNCTION compliance_private.check_privileged_mfa(context jsonb) OWNER TO compliance_owner;

--
-- Name: FUNCTION check_privileged_mfa(context jsonb); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.check_privileged_mfa(context jsonb) IS 'Compliance check (SOC 2 CC6.1, HIPAA §164.312(d)): every privileged action since the last run (audit rows written under a privileged API request, which carry authentication) was taken with multi-factor authentication; not_applicable when none was. SQL called without the API (the CLI, a DBA) authenticates with its database login and is not counted.';

--
-- Name: check_privileges(jsonb); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.check_privileges(context jsonb) RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_added jsonb;
  v_removed jsonb;
  v_logins jsonb;
  v_bypass jsonb;
begin
  select coalesce(jsonb_agg(format('%s: %s to %s', x.privilege, x.object_name, x.grantee) order by x.object_name, x.grantee, x.privilege), '[]')
    into v_added
    from (select * from compliance_private.current_grants() except select * from compliance_private.expected_grants) x;
  select coalesce(jsonb_agg(format('%s: %s to %s', x.privilege, x.object_name, x.grantee) order by x.object_name, x.grantee, x.privilege), '[]')
    into v_removed
    from (select * from compliance_private.expected_grants except select * from compliance_private.current_grants()) x;
  -- logins that may act as one of our group roles, other than pgcomply's own three
  select coalesce(jsonb_agg(format('%s in %s', m.rolname, g.rolname) order by m.rolname, g.rolname), '[]') into v_logins
    from pg_catalog.pg_auth_members am
    join pg_catalog.pg_roles g on g.oid = am.roleid
    join pg_catalog.pg_roles m on m.oid = am.member
   where g.rolname in ('compliance_owner', 'compliance_app', 'compliance_dpo', 'compliance_worker', 'compliance_staff', 'compliance_approver')
     and m.rolcanlogin and not m.rolsuper
     and (m.rolname, g.rolname) not in (('pgcomply_migrator', 'compliance_owner'), ('pgcomply_server', 'compliance_app'),
          ('pgcomply_server', 'compliance_dpo'), ('pgcomply_server', 'compliance_staff'), ('pgcomply_server', 'compliance_approver'),
          ('pgcomply_worker', 'compliance_worker'));
  -- a role that skips row-level security, short of a superuser (who skips everything)
  select coalesce(jsonb_agg(r.rolname order by r.rolname), '[]') into v_bypass
    from pg_catalog.pg_roles r where r.rolbypassrls and not r.rolsuper;
  status := case when v_added = '[]' and v_removed = '[]' and v_logins = '[]' and v_bypass = '[]' then 'pass' else 'fail' end;
  measured := jsonb_build_object('unexpected_grants', v_added, 'missing_grants', v_removed,
    'unexpected_members', v_logins, 'bypassrls_roles', v_bypass);
  threshold := jsonb_build_object('unexpected_grants', '[]'::jsonb, 'missing_grants', '[]'::jsonb, 'unexpected_members', '[]'::jsonb, 'bypassrls_roles', '[]'::jsonb);
  detail := case when status = 'pass' then 'grants are as the migrations left them; no other login acts as a pgcomply role; no role bypasses row-level security'
                 else format('%s unexpected grant(s), %s missing, %s unexpected member(s) of pgcomply roles, %s role(s) with BYPASSRLS',
                             jsonb_array_length(v_added), jsonb_array_length(v_removed), jsonb_array_length(v_logins), jsonb_array_length(v_bypass)) end;
  evidence := 'select * from compliance_private.current_grants() except select * from compliance_private.expected_grants; select rolname from pg_roles where rolbypassrls and not rolsuper';
  return next;
end;
$$;

ALTER FUNCTION compliance_private.check_privileges(context jsonb) OWNER TO compliance_owner;

--
-- Name: FUNCTION check_privileges(context jsonb); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.check_privileges(context jsonb) IS 'Compliance check: the grants on pgcomply''s objects equal the set the migrations recorded (expected_grants), no login other than pgcomply_migrator, pgcomply_server and pgcomply_worker may act as a role that reaches personal data (the auditor role is meant for people), and no role but a superuser has BYPASSRLS.';

--
-- Name: check_restore_drill(jsonb); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.check_restore_drill(context jsonb) RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_settings compliance.compliance_check_settings;
  v_drill compliance.audit_logs;
  v_rto interval;
begin
  select * into v_settings from compliance.compliance_check_settings;
  threshold := jsonb_build_object('max_age_days', round(extract(epoch from v_settings.restore_drill_max_age) / 86400, 1),
    'rto_hours', round(extract(epoch from v_settings.recovery_time_objective) / 3600, 2));
  evidence := 'select occurred_at, outcome, details ->> ''label'', details ->> ''rto_seconds'', details -> ''problems'' from compliance.audit_logs where action = ''backup.drill'' and details ->> ''written_by'' = ''compliance.record_restore_drill'' order by id desc';
  -- only compliance.record_restore_drill writes these rows (log_event refuses backup.*)
  select * into v_drill from compliance.audit_logs a
   where a.action = 'backup.drill' and a.details ->> 'written_by' = 'compliance.record_restore_drill'
   order by a.id desc limit 1;
  if v_drill.id is null then
    status := 'not_applicable';
    measured := '{}';
    detail := 'no restore drill is recorded: the worker drills weekly once BACKUP_STANZA is set (pgcomply backup setup), and pgcomply backup drill runs one on demand; a database without pgBackRest (the embedded default) has nothing to restore';
    return next;
    return;
  end if;
  v_rto := make_interval(secs => (v_drill.details ->> 'rto_seconds')::float8);
  measured := jsonb_build_object('last_drill_at', v_drill.occurred_at, 'age_days', round(extract(epoch from now() - v_drill.occurred_at)::numeric / 86400, 2),
    'outcome', v_drill.outcome, 'label', v_drill.details ->> 'label', 'target', v_drill.details ->> 'target',
    'rto_seconds', (v_drill.details ->> 'rto_seconds')::numeric, 'problems', jsonb_array_length(coalesce(v_drill.details -> 'problems', '[]')),
    'audit_row_id', v_drill.id);
  status := case when v_drill.outcome = 'success' and v_drill.occurred_at >= now() - v_settings.restore_drill_max_age
                      and v_rto <= v_settings.recovery_time_objective then 'pass' else 'fail' end;
  detail := case
    when v_drill.outcome <> 'success' then format('the last restore drill (%s) failed: %s', v_drill.occurred_at,
      coalesce((select string_agg(p ->> 'detail', '; ') from jsonb_array_elements(v_drill.details -> 'problems') p), 'no detail'))
    when v_rto > v_settings.recovery_time_objective then format('the last restore drill took %s, longer than the recovery time objective of %s', v_rto, v_settings.recovery_time_objective)
    when status = 'fail' then format('the last restore drill was on %s, longer ago than %s', v_drill.occurred_at, v_settings.restore_drill_max_age)
    else format('backup %s restored, verified and checked in %s on %s (objective %s)', v_drill.details ->> 'label', v_rto, v_drill.occurred_at, v_settings.recovery_time_objective) end;
  return next;
end;
$$;

ALTER FUNCTION compliance_private.check_restore_drill(context jsonb) OWNER TO compliance_owner;

--
-- Name: FUNCTION check_restore_drill(context jsonb); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.check_restore_drill(context jsonb) IS 'Compliance check (the seeds'' RTO of 4 hours, SOC 2 A1.3): the newest restore drill compliance.record_restore_drill recorded passed, is younger than restore_drill_max_age (8 days: the worker drills weekly) and took no longer than recovery_time_objective (4 hours), restore through verification. not_applicable until a drill is recorded (the embedded default has no pgBackRest); never a pass without one.';

--
-- Name: check_retention_backlog(jsonb); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.check_retention_backlog(context jsonb) RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_grace interval := (select s.retention_grace from compliance.compliance_check_settings s);
  v_now timestamptz := compliance_private.retention_now();
  v_policy record;
  v_overdue bigint;
  v_counts jsonb := '{}';
begin
  -- rows past their retention by more than the grace: what the daily job should have deleted
  for v_policy in select p.category from compliance.retention_policies p where p.enabled and p.action = 'delete' order by p.category loop
    select count(*) into v_overdue
      from compliance_private.retention_due_ids(v_policy.category,
             compliance_private.retention_cutoff(v_policy.category, v_now) - v_grace, 100000);
    v_counts := v_counts || jsonb_build_object(v_policy.category, v_overdue);
  end loop;
  status := case when (select coalesce(sum(value::bigint), 0) from jsonb_each_text(v_counts)) = 0 then 'pass' else 'fail' end;
  measured := jsonb_build_object('overdue_rows', v_counts);
  threshold := jsonb_build_object('grace', v_grace::text, 'max_overdue_rows', 0);
  detail := case when status = 'pass' then 'no row is kept past its retention period beyond the grace'
                 else format('rows past retention by more than %s: %s', v_grace, v_counts) end;
  evidence := format('select count(*) from compliance_private.retention_due_ids(<category>, compliance_private.retention_cutoff(<category>, now()) - %L, 100000)', v_grace);
  return next;
end;
$$;

ALTER FUNCTION compliance_private.check_retention_backlog(context jsonb) OWNER TO compliance_owner;

--
-- Name: FUNCTION check_retention_backlog(context jsonb); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.check_retention_backlog(context jsonb) IS 'Compliance check: per category deleted row by row, no row is past its retention period by more than retention_grace (subjects under legal hold excepted, as retention skips them).';

--
-- Name: check_row_level_security(jsonb); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.check_row_level_security(context jsonb) RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_missing text[];
begin
  select coalesce(array_agg(format('%I.%I', n.nspname, c.relname) order by n.nspname, c.relname), '{}') into v_missing
    from pg_catalog.pg_class c
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
   where n.nspname in ('compliance', 'compliance_private') and c.relkind in ('r', 'p') and not c.relispartition
     and exists (select from pg_catalog.pg_attribute a where a.attrelid = c.oid and a.attname = 'user_id' and not a.attisdropped)
     and not (c.relrowsecurity and c.relforcerowsecurity);
  -- and every registered table of yours: forced row-level security and pgcomply's three audit
  -- triggers, enabled, as registration left them
  select v_missing || coalesce(array_agg(p.relation::text order by p.relation::text), '{}') into v_missing
    from compliance.personal_tables p join pg_catalog.pg_class c on c.oid = p.relation
   where not (c.relrowsecurity and c.relforcerowsecurity)
      or c.relowner <> 'compliance_owner'::regrole
      or exists (select from aclexplode(c.relacl) x where x.privilege_type in ('TRIGGER', 'TRUNCATE') and x.grantee <> c.relowner)
      or cardinality(compliance_private.untrusted_code_on(p.relation)) > 0
      or (select count(*) from pg_catalog.pg_trigger t
           where t.tgrelid = p.relation and t.tgenabled <> 'D' and t.tgfoid = 'compliance.tg_personal_table_audit()'::regprocedure) < 3;
  status := case when cardinality(v_missing) = 0 then 'pass' else 'fail' end;
  measured := jsonb_build_object('tables_without_forced_rls', to_jsonb(v_missing));
  threshold := jsonb_build_object('tables_without_forced_rls', '[]'::jsonb);
  detail := case when cardinality(v_missing) = 0 then 'row-level security is enabled and forced on every table with a user_id, and on every registered table with its audit triggers'
                 else 'row-level security is not enabled and forced, or a registered table''s audit triggers are missing or disabled, its owner is not compliance_owner, another role may add triggers to it or truncate it, or it runs functions another role owns, on ' || array_to_string(v_missing, ', ') end;
  evidence := 'select relname, relrowsecurity, relforcerowsecurity from pg_class c join pg_namespace n on n.oid = c.relnamespace join pg_attribute a on a.attrelid = c.oid and a.attname = ''user_id'' where n.nspname in (''compliance'', ''compliance_private'') and c.relkind in (''r'', ''p'') and not c.relispartition';
  return next;
end;
$$;

ALTER FUNCTION compliance_private.check_row_level_security(context jsonb) OWNER TO compliance_owner;

--
-- Name: FUNCTION check_row_level_security(context jsonb); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.check_row_level_security(context jsonb) IS 'Compliance check: every table of ours with a user_id column has row-level security enabled and forced, found from the catalog, so a new table without it fails; so does every registered table of yours, with pgcomply''s three audit triggers enabled, owned by compliance_owner, with nobody else allowed to add triggers or truncate, and running no function another role could change.';

--
-- Name: check_seal_lag(jsonb); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.check_seal_lag(context jsonb) RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_limit integer := (select s.seal_lag_seconds from compliance.compliance_check_settings s);
  v_sealed bigint := coalesce((select s.last_row_id from compliance.audit_seals s where s.layout = 2 order by s.seal_no desc limit 1), 0);
  v_oldest timestamptz;
begin
  select min(a.occurred_at) into v_oldest from compliance.audit_logs a where a.id > v_sealed;
  status := case when v_oldest is null or v_oldest >= now() - make_interval(secs => v_limit) then 'pass' else 'fail' end;
  measured := jsonb_build_object('oldest_unsealed_seconds', coalesce(round(extract(epoch from now() - v_oldest)), 0));
  threshold := jsonb_build_object('max_seconds', v_limit);
  detail := case when v_oldest is null then 'every audit row is sealed'
                 else format('the oldest unsealed audit row is %s s old', round(extract(epoch from now() - v_oldest))) end;
  evidence := 'select min(occurred_at) from compliance.audit_logs where id > (select last_row_id from compliance.audit_seals where layout = 2 order by seal_no desc limit 1)';
  return next;
end;
$$;

ALTER FUNCTION compliance_private.check_seal_lag(context jsonb) OWNER TO compliance_owner;

--
-- Name: FUNCTION check_seal_lag(context jsonb); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.check_seal_lag(context jsonb) IS 'Compliance check: the oldest audit row not yet sealed is younger than seal_lag_seconds (the worker seals every second).';

--
-- Name: check_uptime(jsonb); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.check_uptime(context jsonb) RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_settings compliance.compliance_check_settings;
  v_uptime record;
  v_probes record;
begin
  select * into strict v_settings from compliance.compliance_check_settings;
  select * into v_uptime from compliance.uptime(v_settings.uptime_window, now());
  select count(*) as minutes, count(*) filter (where m.api_probes > 0) as api_minutes,
         count(*) filter (where m.api_failures > 0) as api_down, count(*) filter (where m.database_failures > 0) as database_down
    into v_probes
    from compliance_private.service_minutes m
   where m.minute >= v_uptime.counted_from and m.minute < v_uptime.counted_to;
  threshold := jsonb_build_object('target_ratio', v_settings.uptime_target);
  measured := jsonb_build_object('ratio', v_uptime.ratio, 'minutes_up', v_uptime.minutes_up, 'minutes_counted', v_uptime.minutes_counted,
    'minutes_probed', v_probes.minutes, 'minutes_api_probed', v_probes.api_minutes,
    'minutes_api_down', v_probes.api_down, 'minutes_primary_down', v_probes.database_down);
  evidence := format('select * from compliance.uptime(%L)', v_settings.uptime_window);
  if v_uptime.minutes_counted = 0 then
    status := 'not_applicable';
    detail := 'no probe and no heartbeat yet: uptime cannot be measured';
  else
    status := case when v_uptime.ratio >= v_settings.uptime_target then 'pass' else 'fail' end;
    detail := format('uptime %s%% over %s minutes (%s with the API down, %s with the primary unreachable, %s without a probe)',
      round(v_uptime.ratio * 100, 3), v_uptime.minutes_counted, v_probes.api_down, v_probes.database_down,
      v_uptime.minutes_counted - v_probes.minutes);
    if v_probes.minutes > 0 and v_probes.api_minutes = 0 then
      detail := detail || '; the API was not probed (the worker has no SERVICE_HEALTH_URL): this measures the database and the worker only';
    end if;
  end if;
  return next;
end;
$$;

ALTER FUNCTION compliance_private.check_uptime(context jsonb) OWNER TO compliance_owner;

--
-- Name: FUNCTION check_uptime(context jsonb); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.check_uptime(context jsonb) IS 'Compliance check: service uptime over uptime_window (compliance.uptime: the worker''s probes of the API and the primary every 15 s, a minute without a passing probe or with a failed one is down) reaches uptime_target (SOC 2 A1.2). Says how many minutes the API and the primary were down, and when the API was not probed at all.';

--
-- Name: check_wal_archive_lag(jsonb); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.check_wal_archive_lag(context jsonb) RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_limit interval := (select s.wal_archive_max_lag from compliance.compliance_check_settings s);
  v_archiver pg_catalog.pg_stat_archiver;
  v_per_log bigint := 4294967296 / (select setting::bigint from pg_catalog.pg_settings where name = 'wal_segment_size');
  v_segment_size bigint := (select setting::bigint from pg_catalog.pg_settings where name = 'wal_segment_size');
  v_current text;
  v_unarchived bigint;
  v_archived_end bigint;
  v_at_risk numeric;
  v_failing boolean;
  v_lag interval;
  v_check compliance.audit_logs;
begin
  threshold := jsonb_build_object('max_lag_seconds', extract(epoch from v_limit)::int);
  evidence := 'select archived_count, last_archived_wal, last_archived_time, failed_count, last_failed_wal, last_failed_time from pg_stat_archiver; select pg_walfile_name(pg_current_wal_lsn()); '
    || 'select occurred_at, outcome, details ->> ''error'' from compliance.audit_logs where action = ''backup.archive_checked'' and details ->> ''written_by'' = ''compliance.record_archive_check'' order by id desc limit 1';
  if current_setting('archive_mode') = 'off' or pg_catalog.pg_is_in_recovery() then
    status := 'not_applicable';
    measured := jsonb_build_object('archive_mode', current_setting('archive_mode'));
    detail := 'archive_mode is off (the embedded default): no WAL is archived, so there is no recovery point to measure; pgcomply backup setup configures pgBackRest (README, "Backups")';
    return next;
    return;
  end if;
  select * into v_archiver from pg_catalog.pg_stat_archiver;
  v_current := pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn());
  -- completed segments not yet archived: the one being written is not due
  v_unarchived := greatest(0,
    (('x' || substr(v_current, 9, 8))::bit(32)::bigint * v_per_log + ('x' || substr(v_current, 17, 8))::bit(32)::bigint)
    - coalesce(('x' || substr(v_archiver.last_archived_wal, 9, 8))::bit(32)::bigint * v_per_log
               + ('x' || substr(v_archiver.last_archived_wal, 17, 8))::bit(32)::bigint, -1) - 1);
  -- WAL written after the end of the last archived segment: what losing the server now would lose
  v_archived_end := case when v_archiver.last_archived_wal is null then 0
    else ((('x' || substr(v_archiver.last_archived_wal, 9, 8))::bit(32)::bigint * v_per_log
           + ('x' || substr(v_archiver.last_archived_wal, 17, 8))::bit(32)::bigint) + 1) * v_segment_size end;
  v_at_risk := greatest(0, pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(),
    format('%s/%s', to_hex(v_archived_end >> 32), to_hex(v_archived_end & 4294967295))::pg_lsn));
  v_failing := v_archiver.last_failed_time is not null
               and v_archiver.last_failed_time > coalesce(v_archiver.last_archived_time, '-infinity');
  -- what a loss of the server now would lose: WAL written since the last segment that reached the archive
  v_lag := case when v_failing or v_at_risk > 0
                then now() - coalesce(v_archiver.last_archived_time, pg_catalog.pg_postmaster_start_time())
                else interval '0' end;
  measured := jsonb_build_object('lag_seconds', round(extract(epoch from v_lag), 1), 'unarchived_segments', v_unarchived,
    'unarchived_bytes', v_at_risk,
    'archive_failing', v_failing, 'last_archived_wal', v_archiver.last_archived_wal, 'last_archived_time', v_archiver.last_archived_time,
    'last_failed_wal', v_archiver.last_failed_wal, 'last_failed_time', v_archiver.last_failed_time, 'failed_count', v_archiver.failed_count);
  -- pgBackRest's own archive check, as the worker last ran it (pgbackrest check, before the daily
  -- checks): a segment pg_stat_archiver counts as archived must also be found in the repository
  select * into v_check from compliance.audit_logs a
   where a.action = 'backup.archive_checked' and a.details ->> 'written_by' = 'compliance.record_archive_check'
     and a.occurred_at > now() - interval '2 days'
   order by a.id desc limit 1;
  measured := measured || jsonb_build_object('pgbackrest_check', case when v_check.id is not null
    then jsonb_build_object('at', v_check.occurred_at, 'ok', v_check.outcome = 'success') end);
  status := case when v_failing or v_lag > v_limit or v_check.outcome = 'failure' then 'fail' else 'pass' end;
  detail := case
    when v_check.outcome = 'failure' and not v_failing then format('pgBackRest''s archive check failed at %s: %s', v_check.occurred_at, v_check.details ->> 'error')
    when v_failing then format('archive_command is failing (last failure %s on %s): WAL since %s would be lost with the server',
                               v_archiver.last_failed_time, v_archiver.last_failed_wal, coalesce(v_archiver.last_archived_time::text, 'the start'))
    when status = 'fail' then format('WAL written over the last %s has not reached the archive (%s completed segment(s) waiting), longer than %s', v_lag, v_unarchived, v_limit)
    else format('the archive is %s behind (at most %s allowed; RPO 1 hour)', v_lag, v_limit) end;
  return next;
end;
$$;

ALTER FUNCTION compliance_private.check_wal_archive_lag(context jsonb) OWNER TO compliance_owner;

--
-- Name: FUNCTION check_wal_archive_lag(context jsonb); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.check_wal_archive_lag(context jsonb) IS 'Compliance check (the seeds'' RPO of 1 hour): continuous WAL archiving keeps up. From pg_stat_archiver: fails while archive_command fails, or when WAL written since the last archived segment is older than wal_archive_max_lag (5 minutes); and from pgBackRest: fails when its archive check (pgbackrest check, which the worker runs before the daily checks, compliance.record_archive_check) last failed within two days; measured lag_seconds bounds what losing the server now would lose (unarchived_bytes of WAL since the archive''s end). not_applicable with archive_mode off (the embedded default) or on a standby.';

--
-- Name: check_worker_heartbeat(jsonb); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.check_worker_heartbeat(context jsonb) RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_limit interval := (select s.heartbeat_max_age from compliance.compliance_check_settings s);
  v_last timestamptz;
begin
  select max(h.beat_at) into v_last from compliance_private.worker_heartbeats h;
  -- a beat is the minute it fell in: it is at most a minute older than it looks
  status := case when v_last is not null and v_last + interval '1 minute' >= now() - v_limit then 'pass' else 'fail' end;
  measured := jsonb_build_object('last_heartbeat', v_last);
  threshold := jsonb_build_object('max_age_seconds', extract(epoch from v_limit));
  detail := case when v_last is null then 'the worker has never beaten' else format('the worker last beat at %s', v_last) end;
  evidence := 'select max(beat_at) from compliance_private.worker_heartbeats';
  return next;
end;
$$;

ALTER FUNCTION compliance_private.check_worker_heartbeat(context jsonb) OWNER TO compliance_owner;

--
-- Name: FUNCTION check_worker_heartbeat(context jsonb); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.check_worker_heartbeat(context jsonb) IS 'Compliance check: the worker beat within heartbeat_max_age (it records a heartbeat every minute).';

--
-- Name: current_authentication(); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.current_authentication() RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  -- any login can set the setting; only the API server's (a member of compliance_app, as
  -- open_request needs) is believed, so a worker or a DBA's session cannot pass as a signed-in DPO
  select case when pg_has_role(session_user, 'compliance_app', 'MEMBER')
              then nullif(current_setting('compliance.authentication', true), '')::jsonb end;
$$;

ALTER FUNCTION compliance_private.current_authentication() OWNER TO compliance_owner;

--
-- Name: FUNCTION current_authentication(); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.current_authentication() IS 'What the request''s token proved, as open_request recorded it for a privileged request: {amr, acr, mfa, auth_time}; NULL for a subject''s request and for SQL called without the API (the CLI, a DBA), whose login is the authentication. The setting is believed only from a login that is a member of compliance_app (the API server''s): any session can set a setting, and a worker''s or a DBA''s must not count as a privileged action proved by multi-factor sign-in.';

--
-- Name: current_grants(); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.current_grants() RETURNS TABLE(object_name text, grantee text, privilege text)
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  -- every privilege granted on our schemas, relations (with their columns) and functions, by
  -- anyone to anyone other than the owner. A NULL ACL is the built-in default, which pg_restore
  -- leaves where the original's ACL equalled it (a function granted to PUBLIC): read as what it means
  with objects as (
    select n.nspname::text as name, coalesce(n.nspacl, acldefault('n', n.nspowner)) as acl, n.nspowner as owner
      from pg_catalog.pg_namespace n where n.nspname in ('compliance', 'compliance_private')
    union all
    select format('%I.%I', n.nspname, c.relname), coalesce(c.relacl, acldefault((case when c.relkind = 'S' then 's' else 'r' end)::"char", c.relowner)), c.relowner
      from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     where n.nspname in ('compliance', 'compliance_private') and c.relkind in ('r', 'p', 'v', 'm', 'S') and not c.relispartition
    union all
    select format('%I.%I(%I)', n.nspname, c.relname, a.attname), a.attacl, c.relowner
      from pg_catalog.pg_attribute a join pg_catalog.pg_class c on c.oid = a.attrelid
      join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     where n.nspname in ('compliance', 'compliance_private') and a.attacl is not null and not c.relispartition
    union all
    select p.oid::regprocedure::text, coalesce(p.proacl, acldefault('f', p.proowner)), p.proowner
      from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
     where n.nspname in ('compliance', 'compliance_private')
       and not exists (select from pg_catalog.pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
  )
  select o.name, case when x.grantee = 0 then 'PUBLIC' else pg_catalog.pg_get_userbyid(x.grantee)::text end, x.privilege_type::text
    from objects o cross join lateral aclexplode(o.acl) x
   where o.acl is not null and x.grantee <> o.owner;
$$;

ALTER FUNCTION compliance_private.current_grants() OWNER TO compliance_owner;

--
-- Name: FUNCTION current_grants(); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.current_grants() IS 'Every privilege on pgcomply''s schemas, tables, views, sequences, columns and functions held by a role other than the owner, as (object, grantee, privilege), a default ACL read as the privileges it grants: what the privileges check compares with expected_grants.';

--
-- Name: describe_interval(interval); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.describe_interval(value interval) RETURNS text
    LANGUAGE sql IMMUTABLE
    RETURN CASE WHEN (value < '00:01:00'::interval) THEN format('%s seconds'::text, (EXTRACT(epoch FROM value))::bigint) WHEN ((value < '01:00:00'::interval) AND (EXTRACT(second FROM value) = (0)::numeric)) THEN format('%s minute%s'::text, ((EXTRACT(epoch FROM value))::bigint / 60), CASE WHEN ((EXTRACT(epoch FROM value))::bigint = 60) THEN ''::text ELSE 's'::text END) ELSE (value)::text END;

ALTER FUNCTION compliance_private.describe_interval(value interval) OWNER TO compliance_owner;

--
-- Name: FUNCTION describe_interval(value interval); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.describe_interval(value interval) IS 'An interval in words for messages: 45 seconds, 1 minute, 15 minutes; longer ones in PostgreSQL''s own form.';

--
-- Name: drop_expired_audit_partitions(timestamp with time zone, boolean); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.drop_expired_audit_partitions(cutoff timestamp with time zone, dry_run boolean) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
declare
  v_partition record;
  v_relid regclass;
  v_head compliance_private.audit_seal_head;
  v_bounds record;
  v_kept record;
  v_last_removed compliance.audit_seals;
  v_kept_rows jsonb;
  v_dropped jsonb := '[]';
  v_unsealed boolean;
  v_rows bigint;
  v_held bigint;
  v_drop_started timestamptz;
begin
  for v_partition in select * from compliance_private.expired_audit_partitions(cutoff) loop
    select * into strict v_head from compliance_private.audit_seal_head for update;
    v_relid := format('compliance.%I', v_partition.partition_name)::regclass;
    execute format('select exists (select from %s a where a.id >= $1)', v_relid) into v_unsealed using v_head.next_row_id;
    if v_unsealed then
      raise warning 'audit partition % holds unsealed rows; not dropped (run compliance.seal_audit_log())', v_partition.partition_name;
      continue;
    end if;
    execute format('select count(*) from %s', v_relid) into v_rows;
    -- a subject under legal hold keeps every audit row about them or by them: the month waits
    -- for the hold's release (holding it back keeps the chain whole)
    execute format($q$select count(*) from %s a
                        where a.user_id in (select h.user_id from compliance.legal_holds h where h.released_at is null)
                           or a.actor_id in (select h.user_id from compliance.legal_holds h where h.released_at is null)$q$, v_relid)
      into v_held;
    if v_held > 0 then
      raise warning 'audit partition % holds % rows of subjects under legal hold; kept until the holds are released',
        v_partition.partition_name, v_held;
      if not dry_run then
        perform compliance_private.append_audit('audit.partition_kept', 'system', 'audit_partition', v_partition.partition_name,
          jsonb_build_object('rows', v_rows, 'held_rows', v_held, 'range_end', v_partition.range_end, 'reason', 'legal hold'));
      end if;
      v_dropped := v_dropped || jsonb_build_object('partition', v_partition.partition_name, 'rows', 0, 'kept_for_legal_hold', v_held);
      continue;
    end if;

    -- the seals all of whose rows go with this partition (or went before): those before the
    -- first row that stays, in chain order
    select * into strict v_bounds from compliance_private.audit_chain_bounds();
    select * into strict v_kept from compliance_private.audit_first_kept(v_relid, v_bounds.layout2_from);
    select * into v_last_removed from compliance.audit_seals s
     where case when s.layout = 1 then v_kept.v1_id is null or (s.last_xact_id, s.last_row_id) < (v_kept.v1_xact, v_kept.v1_id)
                else v_kept.v1_id is null and (v_kept.v2_id is null or s.last_row_id < v_kept.v2_id) end
     order by s.seal_no desc limit 1;
    -- this partition's rows that kept seals still list: verification must know they went
    execute format($q$
      select coalesce(jsonb_agg(a.id order by a.id), '[]') from %s a
       where case when a.id >= $1 then $2 is null or $2 = 1 or a.id > $4
                  else $2 is null or ($2 = 1 and (a.xact_id, a.id) > ($3, $4)) end$q$, v_relid)
      into v_kept_rows
      using v_bounds.layout2_from, v_last_removed.layout, v_last_removed.last_xact_id, v_last_removed.last_row_id;

    v_drop_started := clock_timestamp();
    if not dry_run then
      -- the only step that locks writers out (ACCESS EXCLUSIVE on the parent), and it is brief
      execute format('drop table %s', v_relid);
      if v_last_removed.seal_no is not null then
        perform compliance_private.begin_bulk_operation('retention');
        delete from compliance.audit_seals s where s.seal_no <= v_last_removed.seal_no;
        perform compliance_private.end_bulk_operation();
      end if;
      perform compliance_private.append_audit('audit.partition_dropped', 'system', 'audit_partition',
        v_partition.partition_name,
        jsonb_build_object('rows', v_rows, 'range_end', v_partition.range_end,
          'seals_removed_through', v_last_removed.seal_no,
          'seal_hash', encode(v_last_removed.seal_hash, 'hex'),
          'seal_end', jsonb_build_object('xact_id', v_last_removed.last_xact_id, 'row_id', v_last_removed.last_row_id),
          'dropped_rows_in_kept_seals', v_kept_rows));
    end if;
    v_dropped := v_dropped || jsonb_build_object('partition', v_partition.partition_name, 'rows', v_rows,
      'seals_removed_through', v_last_removed.seal_no, 'rows_in_kept_seals', jsonb_array_length(v_kept_rows),
      'drop_ms', round((extract(epoch from clock_timestamp() - v_drop_started) * 1000)::numeric, 3));
  end loop;
  return v_dropped;
end;
$_$;

ALTER FUNCTION compliance_private.drop_expired_audit_partitions(cutoff timestamp with time zone, dry_run boolean) OWNER TO compliance_owner;

--
-- Name: FUNCTION drop_expired_audit_partitions(cutoff timestamp with time zone, dry_run boolean); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.drop_expired_audit_partitions(cutoff timestamp with time zone, dry_run boolean) IS 'Drops whole audit partitions older than cutoff once every row in them is sealed, removes the seals all of whose rows are gone, and audits each drop (audit.partition_dropped) with the last seal removed, its hash and end, and the ids of dropped rows that kept seals still list: the records verification accepts for a chain that no longer starts at seal 1.';

--
-- Name: end_bulk_operation(); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.end_bulk_operation() RETURNS void
    LANGUAGE sql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  delete from compliance_private.bulk_operations b where b.xact_id = pg_current_xact_id();
  select set_config('compliance_private.bulk_operation', '', true);
$$;

ALTER FUNCTION compliance_private.end_bulk_operation() OWNER TO compliance_owner;

--
-- Name: FUNCTION end_bulk_operation(); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.end_bulk_operation() IS 'Ends the mark of begin_bulk_operation before the transaction writes its own summary audit row.';

--
-- Name: erase_registered_rows(text); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.erase_registered_rows(user_id text) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_order regclass[] := '{}';
  v_next regclass[];
  v_relation regclass;
  v_table compliance.personal_tables;
  v_sql record;
  v_set text;
  v_count bigint;
  v_counts jsonb := '{}';
  v_constraint text;
  v_referencing text;
  v_schema text;
begin
  -- a table that another registered table references comes after it, so the referencing rows
  -- go first (orders before the customer they belong to); a cycle goes in name order
  loop
    select array_agg(p.relation order by p.relation::text) into v_next
      from compliance.personal_tables p
     where not p.relation = any (v_order)
       and not exists (select from pg_catalog.pg_constraint c join compliance.personal_tables q on q.relation = c.conrelid
                        where c.contype = 'f' and c.confrelid = p.relation and c.conrelid <> p.relation and not q.relation = any (v_order));
    if v_next is null then
      select array_agg(p.relation order by p.relation::text) into v_next from compliance.personal_tables p where not p.relation = any (v_order);
      exit when v_next is null;
    end if;
    v_order := v_order || v_next;
  end loop;

  foreach v_relation in array v_order loop
    select * into strict v_table from compliance.personal_tables p where p.relation = v_relation;
    -- a subject id that cannot be a value of the subject column has no rows there
    continue when not compliance_private.subject_fits(v_table.subject_type, user_id);
    v_sql := compliance.personal_table_sql(v_table.relation);
    begin
      if v_table.erasure = 'delete' then
        execute format('delete from %s t where %s', v_table.relation, v_sql.subject_rows) using user_id;
        get diagnostics v_count = row_count;
        v_counts := v_counts || jsonb_build_object(v_table.relation::text, jsonb_build_object('deleted', v_count));
      else
        -- kept under another law (kept_basis): the personal columns overwritten, the link to the subject cut
        select string_agg(format('%I = %s', e.key, coalesce(quote_literal(e.value #>> '{}'), 'null')), ', ' order by e.key) into v_set
          from jsonb_each(v_table.anonymize || jsonb_build_object(v_table.subject_column, null)) e;
        execute format('update %s t set %s where %s', v_table.relation, v_set, v_sql.subject_rows) using user_id;
        get diagnostics v_count = row_count;
        v_counts := v_counts || jsonb_build_object(v_table.relation::text, jsonb_build_object('anonymized', v_count));
      end if;
    exception when foreign_key_violation then
      get stacked diagnostics v_constraint = constraint_name, v_referencing = table_name, v_schema = schema_name;
      perform compliance_private.raise_error('FKBLK',
        format('erasing this subject from %s is blocked by the foreign key %I of %I.%I, a table pgcomply does not know holds their data: nothing was changed',
          v_table.relation, v_constraint, v_schema, v_referencing),
        format('Register %I.%I (compliance.register_personal_table), or make the foreign key ON DELETE CASCADE or SET NULL.', v_schema, v_referencing));
    end;
  end loop;
  return v_counts;
end;
$$;

ALTER FUNCTION compliance_private.erase_registered_rows(user_id text) OWNER TO compliance_owner;

--
-- Name: FUNCTION erase_registered_rows(user_id text); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.erase_registered_rows(user_id text) IS 'Erasure''s part in your registered tables (erase_subject_core calls it in the erasure''s transaction): deletes the subject''s rows, or for a table registered with erasure => anonymize overwrites the named columns and cuts the subject link, table by table, referencing tables first. Returns the counts per table. A foreign key from an unregistered table that still points at one of the rows raises FKBLK naming it, and the whole erasure is rolled back.';

--
-- Name: erase_subject_core(text, text, boolean, text); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.erase_subject_core(user_id text, reason text, confirm boolean, requested_by text) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    SET plan_cache_mode TO 'force_generic_plan'
    SET jit TO 'off'
    AS $_$
declare
  v_counts jsonb := '{}';
  v_count bigint;
  v_redacted bigint;
  v_subject_rows jsonb;
  v_actor_rows jsonb;
  v_request_id bigint;
  v_table text;
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
    insert into compliance.erased_consent_proofs (subject_digest, purpose, granted, policy_version, source, recorded_at, given_at)
    select compliance_private.subject_digest(erase_subject_core.user_id), c.purpose, c.granted, c.policy_version, c.source, c.recorded_at, c.given_at
      from compliance.consent_records c where c.user_id = erase_subject_core.user_id order by c.recorded_at, c.id;
    get diagnostics v_count = row_count;
    v_counts := v_counts || jsonb_build_object('consent_proofs_kept', v_count);
  end if;

  -- your registered tables first: their rows may reference the profile (FKBLK when an
  -- unregistered table's foreign key would block, and nothing is changed)
  v_counts := v_counts || jsonb_build_object('registered_tables', compliance_private.erase_registered_rows(user_id));
  update compliance.personal_tables t set registered_by = null where t.registered_by = erase_subject_core.user_id;
  update compliance.not_personal_columns n set marked_by = null where n.marked_by = erase_subject_core.user_id;

  -- children before the profile so each count is exact
  foreach v_table in array array['health_records', 'access_grants', 'breach_subjects', 'messages', 'conversations', 'consent_records', 'sessions',
                                 'user_preferences', 'legal_holds'] loop
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

  insert into compliance_private.erased_subjects (subject_digest) values (compliance_private.subject_digest(user_id));
  perform compliance_private.end_bulk_operation();

  -- counts, never identity: no subject, and no actor or client when the subject asked
  perform compliance_private.append_audit('subject.erased', 'gdpr', 'dsr_request', v_request_id::text,
    -- the rows it redacted, so verification can tell these redactions from any other
    jsonb_build_object('deleted', v_counts, 'audit_rows_redacted', v_redacted, 'requested_by', requested_by,
                       'redacted_subject_rows', v_subject_rows, 'redacted_actor_rows', v_actor_rows),
    null, jsonb_build_object('reason', reason), 'success', null,
    case when requested_by = 'subject' then null else compliance.current_actor() end,
    requested_by <> 'subject');

  return jsonb_build_object('erased', true, 'erased_at', now(), 'dsr_request_id', v_request_id,
    'deleted', v_counts, 'audit_rows_redacted', v_redacted);
end;
$_$;

ALTER FUNCTION compliance_private.erase_subject_core(user_id text, reason text, confirm boolean, requested_by text) OWNER TO compliance_owner;

--
-- Name: FUNCTION erase_subject_core(user_id text, reason text, confirm boolean, requested_by text); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.erase_subject_core(user_id text, reason text, confirm boolean, requested_by text) IS 'The erasure transaction; see compliance.erase_subject. Its statements run on generic plans (plan_cache_mode), without JIT compilation (a generic plan''s row estimates over a million subjects passed jit_above_cost, and compiling took longer than the erasure): a custom plan over every audit partition costs more to make than to run, and made a connection''s first five erasures twice as slow as the rest.';

--
-- Name: expired_audit_partitions(timestamp with time zone); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.expired_audit_partitions(cutoff timestamp with time zone) RETURNS TABLE(partition_name text, range_end timestamp with time zone)
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  select c.relname::text, b.range_end
    from pg_inherits i
    join pg_class c on c.oid = i.inhrelid
    cross join lateral (
      select (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz as range_end
    ) b
   where i.inhparent = 'compliance.audit_logs'::regclass
     and c.relname <> 'audit_logs_default'
     and b.range_end <= cutoff
   order by b.range_end;
$$;

ALTER FUNCTION compliance_private.expired_audit_partitions(cutoff timestamp with time zone) OWNER TO compliance_owner;

--
-- Name: FUNCTION expired_audit_partitions(cutoff timestamp with time zone); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.expired_audit_partitions(cutoff timestamp with time zone) IS 'Monthly audit partitions whose whole range ends on or before cutoff.';

--
-- Name: export_subject_core(text, text); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.export_subject_core(user_id text, kind text) RETURNS json
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    SET plan_cache_mode TO 'force_generic_plan'
    SET jit TO 'off'
    AS $$
declare
  v_request_id bigint;
begin
  if kind not in ('access', 'portability') then
    perform compliance_private.raise_error('BADRG', 'kind must be access or portability');
  end if;
  perform compliance_private.require_subject(user_id);
  v_request_id := compliance_private.record_completed_dsr(user_id, kind, compliance_private.handler_for(user_id));
  perform compliance_private.append_audit('subject.exported', 'gdpr', 'dsr_request', v_request_id::text,
    jsonb_build_object('kind', kind), user_id);
  return compliance_private.subject_document(user_id);
end;
$$;

ALTER FUNCTION compliance_private.export_subject_core(user_id text, kind text) OWNER TO compliance_owner;

--
-- Name: FUNCTION export_subject_core(user_id text, kind text); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.export_subject_core(user_id text, kind text) IS 'Registers and completes an access or portability request, audits it and returns the subject document. Its statements run on generic plans (plan_cache_mode), without JIT compilation (a generic plan''s row estimates over a million subjects passed jit_above_cost, and compiling took longer than the export): a custom plan over every audit partition costs more to make than to run, and a connection''s first five exports paid it each time.';

--
-- Name: grant_duration(integer); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.grant_duration(days integer) RETURNS interval
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_settings compliance.access_grant_settings;
begin
  select * into strict v_settings from compliance.access_grant_settings;
  if days is not null and days not between 1 and v_settings.assignment_days_max then
    perform compliance_private.raise_error('BADRG', format('days must be between 1 and %s', v_settings.assignment_days_max),
      'A DPO changes the maximum in compliance.access_grant_settings.');
  end if;
  return make_interval(days => coalesce(days, v_settings.assignment_days));
end;
$$;

ALTER FUNCTION compliance_private.grant_duration(days integer) OWNER TO compliance_owner;

--
-- Name: FUNCTION grant_duration(days integer); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.grant_duration(days integer) IS 'How long an assignment grant lasts: days, or the configured default; more than the configured maximum is BADRG.';

--
-- Name: grant_for_decision(bigint, text); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.grant_for_decision(grant_id bigint, wanted text) RETURNS compliance.access_grants
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_row compliance.access_grants;
begin
  perform compliance_private.require_context_subject();
  select g.* into v_row from compliance.access_grants g where g.id = grant_id for no key update;
  if not found then
    perform compliance_private.raise_error('GRNOT', format('no access grant %s', coalesce(grant_id::text, 'NULL')), 'Check the grant id.');
  end if;
  -- the one deciding is never the one the grant is for, whatever roles they hold
  if wanted in ('pending', 'emergency_unreviewed') and v_row.grantee = compliance.current_actor() then
    perform compliance_private.raise_error('GRSLF',
      case when wanted = 'pending' then 'nobody approves or denies their own access request' else 'nobody reviews their own emergency access' end,
      'Another approver decides.');
  end if;
  if wanted = 'pending' and (v_row.kind <> 'assignment' or v_row.approved_at is not null or v_row.denied_at is not null or v_row.revoked_at is not null) then
    perform compliance_private.raise_error('GRSTA', format('access grant %s is not a pending request', grant_id),
      'See compliance.pending_access_requests().');
  elsif wanted = 'emergency_unreviewed' and (v_row.kind <> 'emergency' or v_row.reviewed_at is not null) then
    perform compliance_private.raise_error('GRSTA', format('access grant %s is not an emergency access awaiting review', grant_id),
      'See compliance.emergency_review_queue().');
  elsif wanted = 'revocable' and (v_row.revoked_at is not null or v_row.denied_at is not null or v_row.expires_at <= clock_timestamp()) then
    perform compliance_private.raise_error('GRSTA', format('access grant %s is not active or pending: nothing to revoke', grant_id));
  end if;
  return v_row;
end;
$$;

ALTER FUNCTION compliance_private.grant_for_decision(grant_id bigint, wanted text) OWNER TO compliance_owner;

--
-- Name: FUNCTION grant_for_decision(grant_id bigint, wanted text); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.grant_for_decision(grant_id bigint, wanted text) IS 'Locks a grant for a decision and checks it is in the state the decision needs (wanted: pending, emergency_unreviewed, revocable): GRNOT if there is no such grant, GRSTA if it is in another state, GRSLF if the one deciding is its grantee.';

--
-- Name: handler_for(text); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.handler_for(user_id text) RETURNS text
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  select case when compliance.current_subject() = user_id then 'self-service' else compliance.current_actor() end;
$$;

ALTER FUNCTION compliance_private.handler_for(user_id text) OWNER TO compliance_owner;

--
-- Name: FUNCTION handler_for(user_id text); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.handler_for(user_id text) IS 'Who handled a request about user_id: self-service when the subject acted for itself (so the register never names the subject twice), else the actor.';

--
-- Name: health_record_rows(text, uuid[]); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.health_record_rows(patient text, record_ids uuid[]) RETURNS TABLE(id uuid, category text, classification text, recorded_by text, recorded_at timestamp with time zone, updated_at timestamp with time zone, key_version integer, ciphertext bytea, integrity bytea, wrapped_key bytea, kek_version integer, version integer, integrity_scheme smallint, version_check text)
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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
$$;

ALTER FUNCTION compliance_private.health_record_rows(patient text, record_ids uuid[]) OWNER TO compliance_owner;

--
-- Name: FUNCTION health_record_rows(patient text, record_ids uuid[]); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.health_record_rows(patient text, record_ids uuid[]) IS 'The patient''s health records (all, or those in record_ids), oldest first, as ciphertext with the wrapped data key and version_check (see compliance.read_health_records), without an access decision or an audit row: its callers decide and audit (read_health_records; on a standby, standby_health_records under a lease the primary audited).';

--
-- Name: in_any_bulk_operation(); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.in_any_bulk_operation() RETURNS boolean
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_kind text := current_setting('compliance_private.bulk_operation', true);
begin
  -- nested, not AND-ed: an expression that calls PL/pgSQL costs ~20 µs even unevaluated
  if v_kind in ('erasure', 'retention') then
    return compliance_private.in_bulk_operation(v_kind);
  end if;
  return false;
end;
$$;

ALTER FUNCTION compliance_private.in_any_bulk_operation() OWNER TO compliance_owner;

--
-- Name: FUNCTION in_any_bulk_operation(); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.in_any_bulk_operation() IS 'Whether the current transaction is an erasure or a retention batch; without the hint setting it answers without a lookup, so the row audit trigger can ask on every write.';

--
-- Name: in_bulk_operation(text); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.in_bulk_operation(kind text) RETURNS boolean
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  -- the setting is only a hint that keeps ordinary writes free of a lookup; anyone can set
  -- it, so the owner-only table is the proof
  if current_setting('compliance_private.bulk_operation', true) is distinct from kind then
    return false;
  end if;
  return exists (select from compliance_private.bulk_operations b
                  where b.xact_id = pg_current_xact_id() and b.kind = in_bulk_operation.kind);
end;
$$;

ALTER FUNCTION compliance_private.in_bulk_operation(kind text) OWNER TO compliance_owner;

--
-- Name: FUNCTION in_bulk_operation(kind text); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.in_bulk_operation(kind text) IS 'Whether the current transaction is an erasure or retention batch: the session setting compliance_private.bulk_operation names it and bulk_operations (writable only by the owner) proves it.';

--
-- Name: is_erased(text); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.is_erased(user_id text) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  select exists (select from compliance_private.erased_subjects e
                 where e.subject_digest = compliance_private.subject_digest(user_id));
$$;

ALTER FUNCTION compliance_private.is_erased(user_id text) OWNER TO compliance_owner;

--
-- Name: FUNCTION is_erased(user_id text); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.is_erased(user_id text) IS 'Whether a tombstone exists for this user id.';

--
-- Name: is_reserved_action(text); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.is_reserved_action(action text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN ((split_part(action, '.'::text, 1) = ANY (ARRAY['audit'::text, 'subject'::text, 'retention'::text, 'report'::text, 'backup'::text, 'evidence'::text, 'compliance'::text, 'access_review'::text, 'tombstone'::text, 'security'::text, 'consent'::text, 'profile'::text, 'preferences'::text, 'conversation'::text, 'message'::text, 'session'::text, 'dsr_request'::text, 'legal_hold'::text, 'breach'::text, 'access_grant'::text, 'phi'::text, 'personal_table'::text, 'personal_row'::text])) AND (action <> ALL (ARRAY['phi.access'::text, 'subject.consents_read'::text, 'consent.records_read'::text, 'subject.messages_read'::text, 'subject.searched'::text])));

ALTER FUNCTION compliance_private.is_reserved_action(action text) OWNER TO compliance_owner;

--
-- Name: FUNCTION is_reserved_action(action text); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.is_reserved_action(action text) IS 'Whether an audit action belongs to pgcomply''s own routines and triggers (audit.*, subject.*, retention.*, report.*, backup.*, phi.*, personal_table.*, personal_row.*, …): verification, the checks and the reports trust these rows, so only the routine that does the work writes them, never compliance.log_event (RSRVD). Not reserved: phi.access (the application''s own PHI event) and the read receipts that routines running with the caller''s rights write through log_event (subject.consents_read, consent.records_read, subject.messages_read, subject.searched); nothing trusts those to account for anything.';

--
-- Name: lock_all_subjects(); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.lock_all_subjects() RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  -- one slot of the lock table for any number of subjects; holding it again costs nothing
  perform pg_advisory_xact_lock(hashtextextended('pgcomply.every-subject', 0));
  perform set_config('compliance_private.subjects_locked', '64', true);
end;
$$;

ALTER FUNCTION compliance_private.lock_all_subjects() OWNER TO compliance_owner;

--
-- Name: FUNCTION lock_all_subjects(); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.lock_all_subjects() IS 'Transaction-level lock on every subject at once (the every-subject lock, exclusive), for a statement that creates many profiles: an erasure or a single profile creation (lock_subject, which takes it shared) waits for the transaction, and it waits for them.';

--
-- Name: lock_subject(text); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.lock_subject(user_id text) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  -- a hint only: whatever a session sets it to, the locks taken stay correct, never fewer
  v_taken integer := coalesce(nullif(current_setting('compliance_private.subjects_locked', true), '')::integer, 0);
begin
  -- each lock holds a slot of the shared lock table until commit: past a few dozen subjects one
  -- transaction takes the lock on every subject instead (a bulk load of a million fits)
  if v_taken >= 64 then
    perform compliance_private.lock_all_subjects();
    return;
  end if;
  if v_taken = 0 then
    perform pg_advisory_xact_lock_shared(hashtextextended('pgcomply.every-subject', 0));
  end if;
  perform pg_advisory_xact_lock(hashtextextended('pgcomply.subject:' || lock_subject.user_id, 0));
  perform set_config('compliance_private.subjects_locked', (v_taken + 1)::text, true);
end;
$$;

ALTER FUNCTION compliance_private.lock_subject(user_id text) OWNER TO compliance_owner;

--
-- Name: FUNCTION lock_subject(user_id text); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.lock_subject(user_id text) IS 'Transaction-level lock on one subject id, taken by erasure and by profile creation so neither can slip past the other. Each takes the every-subject lock shared first; after 64 subjects in one transaction it takes the every-subject lock exclusively instead (lock_all_subjects), so a bulk load does not run out of shared memory.';

--
-- Name: log_phi_access(text, text, text, text, uuid[], text, text, jsonb); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.log_phi_access(action text, patient text, purpose text, intent text, record_ids uuid[], outcome text DEFAULT 'success'::text, failure_reason text DEFAULT NULL::text, written jsonb DEFAULT NULL::jsonb) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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
$$;

ALTER FUNCTION compliance_private.log_phi_access(action text, patient text, purpose text, intent text, record_ids uuid[], outcome text, failure_reason text, written jsonb) OWNER TO compliance_owner;

--
-- Name: FUNCTION log_phi_access(action text, patient text, purpose text, intent text, record_ids uuid[], outcome text, failure_reason text, written jsonb); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.log_phi_access(action text, patient text, purpose text, intent text, record_ids uuid[], outcome text, failure_reason text, written jsonb) IS 'Writes one PHI access row (category hipaa): the patient as the row''s subject; the actor, IP and user agent from the request context; details with the purpose of use, the intent, the actor''s role, the record ids and, for workforce access, the grant''s id and kind; the outcome and failure reason. A write passes written ({version, integrity}: the version the record now has and its integrity code in hex), so the chain holds each version''s integrity code and a read can prove it returns the newest.';

--
-- Name: monthly_report_content(timestamp with time zone, timestamp with time zone); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.monthly_report_content(period_from timestamp with time zone, period_to timestamp with time zone) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  -- every figure is {value, population}: the evidence population (compliance.evidence_populations)
  -- over the same period holds the rows it was counted from
  with requests as (
    select r.* from compliance.dsr_requests r where r.received_at >= period_from and r.received_at < period_to
  ), audit as (
    select a.action, a.resource_id, a.outcome, a.details, a.occurred_at from compliance.audit_logs a
     where a.occurred_at >= period_from and a.occurred_at < period_to
       and a.action in ('subject.erased', 'retention.applied', 'phi.read', 'phi.created', 'phi.updated', 'phi.deleted',
                        'phi.denied', 'phi.integrity_failure', 'phi.unusual_access')
  ), consent as (
    select c.purpose, date_trunc('week', c.recorded_at, 'UTC') as week, c.granted from compliance.consent_records c
     where c.recorded_at >= period_from and c.recorded_at < period_to
  ), checks as (
    select c.check_name, c.status from compliance.check_runs r join compliance.check_results c on c.run_id = r.id
     where r.started_at >= period_from and r.started_at < period_to
  ), emergencies as (
    select g.* from compliance.access_grants g where g.kind = 'emergency' and g.requested_at >= period_from and g.requested_at < period_to
  ), campaigns as (
    select s.* from compliance.access_review_campaign_status s where s.opened_at >= period_from and s.opened_at < period_to
  ), breaches as (
    select b.* from compliance.breaches b where b.discovered_at >= period_from and b.discovered_at < period_to
  )
  select jsonb_build_object(
    'period', jsonb_build_object('from', period_from, 'to', period_to),
    'gdpr', jsonb_build_object(
      'requests_received', jsonb_build_object('value', (select count(*) from requests), 'population', 'dsr_requests'),
      'requests_completed', jsonb_build_object('value', (select count(*) from requests r where r.completed_at is not null), 'population', 'dsr_requests'),
      'requests_overdue', jsonb_build_object('value', (select count(*) from requests r
          where r.completed_at > r.due_at or (r.completed_at is null and r.due_at < least(now(), period_to))), 'population', 'dsr_requests'),
      'median_days_to_complete', jsonb_build_object('value', (select round(percentile_cont(0.5) within group
          (order by extract(epoch from r.completed_at - r.received_at) / 86400)::numeric, 1) from requests r where r.completed_at is not null),
        'population', 'dsr_requests'),
      'erasures', jsonb_build_object('value', (select count(*) from audit a where a.action = 'subject.erased'), 'population', 'erasures'),
      'consent_trend', jsonb_build_object('population', 'consent_changes', 'weeks', coalesce((
        select jsonb_agg(jsonb_build_object('purpose', c.purpose, 'week', c.week, 'granted', c.granted_count, 'withdrawn', c.withdrawn_count)
                         order by c.purpose, c.week)
          from (select c.purpose, c.week, count(*) filter (where c.granted) as granted_count, count(*) filter (where not c.granted) as withdrawn_count
                  from consent c group by c.purpose, c.week) c), '[]'))),
    'retention', jsonb_build_object('population', 'retention_runs', 'deleted_per_category', coalesce((
      select jsonb_agg(jsonb_build_object('category', d.category, 'deleted', d.deleted) order by d.category)
        from (select a.resource_id as category, sum((a.details ->> 'deleted')::bigint) as deleted from audit a
               where a.action = 'retention.applied' and jsonb_typeof(a.details -> 'deleted') = 'number'
                 and coalesce(a.details ->> 'dry_run', 'false') = 'false'
               group by a.resource_id) d), '[]')),
    'soc2', jsonb_build_object(
      'check_pass_rates', jsonb_build_object('population', 'verification_results', 'checks', coalesce((
        select jsonb_agg(jsonb_build_object('check', c.check_name, 'runs', c.runs, 'passed', c.passed, 'failed', c.failed,
                 'not_applicable', c.not_applicable, 'pass_rate', case when c.runs > c.not_applicable then round(c.passed::numeric / (c.runs - c.not_applicable), 4) end)
                 order by c.check_name)
          from (select c.check_name, count(*) as runs, count(*) filter (where c.status = 'pass') as passed,
                       count(*) filter (where c.status = 'fail') as failed, count(*) filter (where c.status = 'not_applicable') as not_applicable
                  from checks c group by c.check_name) c), '[]')),
      -- no minute counted is no measurement, not 100%
      'uptime', (select jsonb_build_object('value', case when u.minutes_counted > 0 then u.ratio end, 'minutes_up', u.minutes_up, 'minutes_counted', u.minutes_counted, 'population', 'worker_heartbeats')
                   from compliance.uptime(least(period_to, now()) - period_from, least(period_to, now())) u),
      'access_reviews', jsonb_build_object('population', 'access_reviews',
        'campaigns', (select count(*) from campaigns), 'completed', (select count(*) from campaigns c where c.completed_at is not null),
        'overdue', (select count(*) from campaigns c where c.overdue),
        'items', (select coalesce(sum(c.items), 0) from campaigns c), 'decided', (select coalesce(sum(c.decided), 0) from campaigns c),
        'revoked', (select coalesce(sum(c.revoked), 0) from campaigns c)),
      'evidence_packages', jsonb_build_object('value', (select count(*) from compliance.evidence_packages p
          where p.generated_at >= period_from and p.generated_at < period_to), 'population', 'evidence_packages'),
      -- the seeds' mfa_enabled_users, counted from what tokens proved over the 90 days before the
      -- period's end: not_applicable (a null value with the reason) until tokens carry amr
      'mfa_enabled_users', (select case when count(*) filter (where jsonb_array_length(a.details -> 'authentication' -> 'amr') > 0) = 0
                                     then jsonb_build_object('value', null, 'not_applicable', 'no privileged request in the 90 days carried amr or acr claims', 'population', 'privileged_actions')
                                     else jsonb_build_object('value', count(distinct a.actor_id) filter (where (a.details -> 'authentication' ->> 'mfa')::boolean),
                                       'privileged_users', count(distinct a.actor_id), 'population', 'privileged_actions') end
                              from compliance.audit_logs a
                             where a.details ? 'authentication' and a.occurred_at >= period_to - interval '90 days' and a.occurred_at < period_to)),
    'hipaa', jsonb_build_object(
      'phi_accesses', jsonb_build_object('value', (select count(*) from audit a where a.action in ('phi.read', 'phi.created', 'phi.updated', 'phi.deleted')), 'population', 'phi_accesses'),
      'phi_refused', jsonb_build_object('value', (select count(*) from audit a where a.action = 'phi.denied'), 'population', 'phi_accesses'),
      'integrity_failures', jsonb_build_object('value', (select count(*) from audit a where a.action = 'phi.integrity_failure'), 'population', 'phi_accesses'),
      'unusual_access_findings', jsonb_build_object('value', (select count(*) from audit a where a.action = 'phi.unusual_access'), 'population', 'phi_unusual_access'),
      'emergency_access', jsonb_build_object('population', 'access_grants', 'value', (select count(*) from emergencies),
        'reviewed', (select count(*) from emergencies g where g.reviewed_at is not null),
        'inappropriate', (select count(*) from emergencies g where g.review_outcome = 'inappropriate'),
        'review_overdue', (select count(*) from emergencies g where g.reviewed_at is null and g.review_due_at < now()))),
    'audit_chain', jsonb_build_object('population', 'verification_results',
      'latest_verification', (select jsonb_build_object('status', c.status, 'detail', c.detail, 'at', r.started_at)
                                from compliance.check_runs r join compliance.check_results c on c.run_id = r.id and c.check_name = 'audit_chain'
                               where r.started_at < period_to order by r.id desc limit 1),
      'newest_seal', (select jsonb_build_object('seal_no', s.seal_no, 'seal_hash', encode(s.seal_hash, 'hex'), 'sealed_at', s.sealed_at, 'last_row_id', s.last_row_id)
                        from compliance.audit_seals s where s.sealed_at < period_to order by s.seal_no desc limit 1),
      -- an anchor written outside the database, as compliance.record_anchor recorded it; null when none was
      'last_anchor', (select jsonb_build_object('anchored_at', a.occurred_at, 'seal_no', (a.details ->> 'seal_no')::bigint, 'seal_hash', a.details ->> 'seal_hash',
                                                'key_id', a.details ->> 'key_id', 'destination', a.details ->> 'destination')
                        from compliance.audit_logs a where a.action = 'audit.anchored' and a.outcome = 'success' and a.occurred_at < period_to
                       order by a.id desc limit 1)),
    -- the TLS versions the client_tls check saw on the database's connections, with how many of
    -- the month's check runs saw each ("none": a connection without TLS)
    'tls', jsonb_build_object('population', 'verification_results',
      'database_versions_seen', coalesce((
        select jsonb_object_agg(v.version, v.runs order by v.version)
          from (select k as version, count(*) as runs
                  from compliance.check_runs r
                  join compliance.check_results c on c.run_id = r.id and c.check_name = 'client_tls'
                  cross join lateral jsonb_object_keys(coalesce(c.measured -> 'versions', '{}')) k
                 where r.started_at >= period_from and r.started_at < period_to
                 group by k) v), '{}')),
    -- recovery: the backups the worker recorded, the restore drills and their recovery time, and the
    -- recovery point wal_archive_lag measured; a figure with nothing measured is null with the reason
    'recovery', (select jsonb_build_object(
        'backups', jsonb_build_object('population', 'backups',
          'value', count(*) filter (where a.action = 'backup.taken' and a.details ->> 'written_by' = 'compliance.record_backup'),
          'full', count(*) filter (where a.action = 'backup.taken' and a.details ->> 'written_by' = 'compliance.record_backup' and a.details ->> 'type' = 'full'),
          'failed', count(*) filter (where a.action = 'backup.failed' and a.details ->> 'written_by' = 'compliance.record_backup')),
        'restore_drills', jsonb_build_object('population', 'restore_drills',
          'value', count(*) filter (where a.action = 'backup.drill' and a.details ->> 'written_by' = 'compliance.record_restore_drill'),
          'passed', count(*) filter (where a.action = 'backup.drill' and a.details ->> 'written_by' = 'compliance.record_restore_drill' and a.outcome = 'success'),
          'max_rto_seconds', max((a.details ->> 'rto_seconds')::numeric) filter (where a.action = 'backup.drill' and a.details ->> 'written_by' = 'compliance.record_restore_drill' and a.outcome = 'success'),
          'rto_objective_seconds', (select extract(epoch from s.recovery_time_objective)::int from compliance.compliance_check_settings s)),
        'recovery_point', (select case when count(*) = 0
                                 then jsonb_build_object('value', null, 'not_applicable', 'no wal_archive_lag check measured continuous archiving in the period', 'population', 'recovery_points')
                                 else jsonb_build_object('population', 'recovery_points', 'runs', count(*), 'failed_runs', count(*) filter (where c.status = 'fail'),
                                   'value', max((c.measured ->> 'lag_seconds')::numeric),
                                   'threshold_seconds', (select extract(epoch from s.wal_archive_max_lag)::int from compliance.compliance_check_settings s), 'rpo_seconds', 3600) end
                             from compliance.check_runs r join compliance.check_results c on c.run_id = r.id and c.check_name = 'wal_archive_lag'
                            where r.started_at >= period_from and r.started_at < period_to and c.status <> 'not_applicable'))
      from compliance.audit_logs a
     where a.occurred_at >= period_from and a.occurred_at < period_to and a.action in ('backup.taken', 'backup.failed', 'backup.drill')),
    'breaches', jsonb_build_object('population', 'breaches', 'value', (select count(*) from breaches),
      'items', coalesce((select jsonb_agg(jsonb_build_object('id', b.id, 'discovered_at', b.discovered_at, 'status', b.status,
                 'affected_count', b.affected_count, 'notified_authority_at', b.notified_authority_at,
                 'notified_individuals_at', b.notified_individuals_at, 'closed_at', b.closed_at) order by b.id) from breaches b), '[]')));
$$;

ALTER FUNCTION compliance_private.monthly_report_content(period_from timestamp with time zone, period_to timestamp with time zone) OWNER TO compliance_owner;

--
-- Name: FUNCTION monthly_report_content(period_from timestamp with time zone, period_to timestamp with time zone); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.monthly_report_content(period_from timestamp with time zone, period_to timestamp with time zone) IS 'Computes the monthly report''s content for [period_from, period_to) from the data: GDPR (requests received, completed, overdue, median days to complete, erasures, consent grants and withdrawals per purpose and week), retention deletions per category, SOC 2 (check pass rates, uptime, access reviews, evidence packages, the users whose privileged requests proved multi-factor authentication over 90 days), HIPAA (PHI accesses and refusals, integrity failures, unusual-access findings, emergency access and its reviews), the audit chain''s latest verification, newest seal and last anchor written outside the database, the TLS versions seen on database connections (client_tls runs), recovery (backups taken and failed, restore drills with their largest recovery time against the objective, the largest recovery point wal_archive_lag measured), and breaches. Each figure names the evidence population it was counted from. No names.';

--
-- Name: older_transaction_running(xid8); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.older_transaction_running(horizon xid8) RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  -- every transaction holds an exclusive lock on its own id while it runs; only those connected
  -- to this database can write its audit rows. A prepared transaction keeps its id, and no pid.
  select exists (
           select from pg_locks l join pg_stat_activity a on a.pid = l.pid
            where l.locktype = 'transactionid' and l.mode = 'ExclusiveLock' and l.pid <> pg_backend_pid()
              and a.datname = current_database()
              and age(l.transactionid) > age((horizon::text::bigint % 4294967296)::text::xid))
      or exists (
           select from pg_prepared_xacts p
            where p.database = current_database()
              and age(p.transaction) > age((horizon::text::bigint % 4294967296)::text::xid));
$$;

ALTER FUNCTION compliance_private.older_transaction_running(horizon xid8) OWNER TO compliance_owner;

--
-- Name: FUNCTION older_transaction_running(horizon xid8); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.older_transaction_running(horizon xid8) IS 'Whether a transaction of this database older than horizon (its id lower) is still running or prepared. The sealer''s test that every id it read from the sequence is final (db/AUDIT_HASHING.md); transactions of other databases of the cluster do not count.';

--
-- Name: parse_keyring(text); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.parse_keyring(keyring text) RETURNS bytea[]
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
declare
  v_peppers bytea[] := '{}';
  v_part text;
begin
  foreach v_part in array string_to_array(keyring, ',') loop
    if v_part !~ '^[0-9a-fA-F]+$' or length(v_part) not between 64 and 256 or length(v_part) % 2 <> 0 then
      perform compliance_private.raise_error('PEPPR', 'compliance.tombstone_pepper must be hex peppers of 32 to 128 bytes, separated by commas');
    end if;
    v_peppers := v_peppers || decode(v_part, 'hex');
  end loop;
  return v_peppers;
end;
$_$;

ALTER FUNCTION compliance_private.parse_keyring(keyring text) OWNER TO compliance_owner;

--
-- Name: FUNCTION parse_keyring(keyring text); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.parse_keyring(keyring text) IS 'The peppers of a keyring (hex, separated by commas, oldest first). Errors: PEPPR when malformed.';

--
-- Name: phi_caller_role(); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.phi_caller_role() RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN CASE current_setting('role'::text) WHEN 'compliance_app'::text THEN 'patient'::text WHEN 'compliance_dpo'::text THEN 'dpo'::text WHEN 'compliance_staff'::text THEN 'staff'::text WHEN 'compliance_auditor'::text THEN 'auditor'::text WHEN 'compliance_approver'::text THEN 'approver'::text ELSE 'other'::text END;

ALTER FUNCTION compliance_private.phi_caller_role() OWNER TO compliance_owner;

--
-- Name: FUNCTION phi_caller_role(); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.phi_caller_role() IS 'The role a PHI function''s caller acts in, read from SET ROLE (so it holds inside SECURITY DEFINER functions): patient (compliance_app, acting for its own subject), dpo, staff, auditor, approver, or other (a session that chose none of them, such as a DBA''s login).';

--
-- Name: phi_check(text, text, text, uuid); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.phi_check(patient text, purpose text, intent text, record_id uuid DEFAULT NULL::uuid) RETURNS text
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_role text := compliance_private.phi_caller_role();
  v_reason text;
  v_known boolean;
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

  v_reason := case
    when not v_known then 'unknown_patient'
    when exists (select from compliance.health_records h where h.id = record_id and h.user_id <> patient)
      then 'not_this_patients_record'
    when v_role = 'patient' then
      case when patient is distinct from compliance.current_subject() then 'not_the_patient'
           when purpose <> 'patient_request' then 'patient_purpose_is_patient_request' end
    when v_role = 'dpo' then
      -- the DPO sees records only while fulfilling an access or portability request, which this
      -- same transaction registered (export_subject)
      case when intent <> 'read' then 'dpo_reads_only'
           when purpose <> 'patient_request' then 'dpo_purpose_is_patient_request'
           when not exists (select from compliance.dsr_requests r
                             where r.user_id = patient and r.kind in ('access', 'portability')
                               and r.xmin = pg_current_xact_id()::xid) then 'no_access_request_in_this_transaction' end
    -- workforce access needs a grant active at this moment (compliance.access_grants)
    when v_role = 'staff' then compliance_private.staff_refusal(patient, intent, purpose)
    else 'role_not_permitted'
  end;
  -- one row per refusal and transaction: the server asks phi_access and calls the data function
  -- in one round trip, and both refuse alike
  if v_reason is not null and not exists (
       select from compliance.audit_logs a
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
$$;

ALTER FUNCTION compliance_private.phi_check(patient text, purpose text, intent text, record_id uuid) OWNER TO compliance_owner;

--
-- Name: FUNCTION phi_check(patient text, purpose text, intent text, record_id uuid); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.phi_check(patient text, purpose text, intent text, record_id uuid) IS 'The access decision of every PHI function: NULL when the caller may (a patient their own records for patient_request; a DPO reading inside the transaction that registered the patient''s access or portability request; staff only under an access grant active at that moment, whose scope and purpose match), else the reason, after writing a phi.denied audit row (one per refusal and transaction). Never raises for a refusal, so the refusal''s row survives when the caller commits; raises BADRG for an unknown purpose or intent. Locks the patient''s profile against erasure (FOR KEY SHARE).';

--
-- Name: protect_audit_relation(regclass); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.protect_audit_relation(relation regclass) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  execute format('create trigger _010_refuse_change before update or delete or truncate on %s
                  for each statement execute function compliance_private.tg_audit_logs__refuse_change()', relation);
end;
$$;

ALTER FUNCTION compliance_private.protect_audit_relation(relation regclass) OWNER TO compliance_owner;

--
-- Name: FUNCTION protect_audit_relation(relation regclass); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.protect_audit_relation(relation regclass) IS 'Adds the append-only statement trigger to an audit relation (statement triggers are not inherited by partitions, so every partition gets its own).';

--
-- Name: raise_alert(text, jsonb, text, text); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.raise_alert(topic text, payload jsonb, user_id text DEFAULT NULL::text, actor_id text DEFAULT NULL::text) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_id bigint;
begin
  -- the payload outlives erasure: who it is about goes in user_id and actor_id
  perform compliance_private.refuse_personal_outside(payload, null, user_id, actor_id);
  insert into compliance.alert_outbox (topic, payload, user_id, actor_id)
  values (raise_alert.topic, raise_alert.payload, raise_alert.user_id, raise_alert.actor_id)
  returning id into v_id;
  return v_id;
end;
$$;

ALTER FUNCTION compliance_private.raise_alert(topic text, payload jsonb, user_id text, actor_id text) OWNER TO compliance_owner;

--
-- Name: FUNCTION raise_alert(topic text, payload jsonb, user_id text, actor_id text); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.raise_alert(topic text, payload jsonb, user_id text, actor_id text) IS 'Puts an alert in compliance.alert_outbox in the caller''s transaction (nothing is sent for a change that rolls back); the worker''s delivery loop finds it within seconds. The payload must not name anyone (PERSD): the patient and the actor go in their own columns, which erasure empties.';

--
-- Name: raise_error(text, text, text); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.raise_error(code text, message text, hint text DEFAULT NULL::text) RETURNS void
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  raise exception using errcode = code, message = message, hint = coalesce(hint, '');
end;
$$;

ALTER FUNCTION compliance_private.raise_error(code text, message text, hint text) OWNER TO compliance_owner;

--
-- Name: FUNCTION raise_error(code text, message text, hint text); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.raise_error(code text, message text, hint text) IS 'Raises a pgcomply error with one of the SQLSTATEs listed in db/ERROR_CODES.md.';

--
-- Name: record_completed_dsr(text, text, text); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.record_completed_dsr(user_id text, kind text, handled_by text) RETURNS bigint
    LANGUAGE sql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  insert into compliance.dsr_requests (user_id, kind, status, completed_at, handled_by)
    values (user_id, kind, 'completed', now(), handled_by)
  returning id;
$$;

ALTER FUNCTION compliance_private.record_completed_dsr(user_id text, kind text, handled_by text) OWNER TO compliance_owner;

--
-- Name: FUNCTION record_completed_dsr(user_id text, kind text, handled_by text); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.record_completed_dsr(user_id text, kind text, handled_by text) IS 'Registers a request answered on the spot (an export or an erasure); handled_by is self-service when the subject served itself.';

--
-- Name: record_expected_grants(); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.record_expected_grants() RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_count integer;
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
  insert into compliance_private.expected_grants (object_name, grantee, privilege)
  select distinct g.object_name, g.grantee, g.privilege from compliance_private.current_grants() g;
  get diagnostics v_count = row_count;
  if v_changes is not null then
    perform compliance_private.append_audit('security.grants_recorded', 'security', 'grants', null,
      jsonb_build_object('expected_grants', v_count, 'changes', v_changes));
  end if;
  return v_count;
end;
$$;

ALTER FUNCTION compliance_private.record_expected_grants() OWNER TO compliance_owner;

--
-- Name: FUNCTION record_expected_grants(); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.record_expected_grants() IS 'Records the grants as they are now as the expected set, and each grant added or removed since the last time in one security.grants_recorded audit row (the role_memberships evidence population lists them). The last statement of every migration that changes a grant (db/CONVENTIONS.md); never called at run time.';

--
-- Name: refuse_erased(text); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.refuse_erased(user_id text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  if compliance_private.acting_for_one_subject() and user_id is distinct from compliance.current_subject() then
    -- no answer about another subject: the caller goes on to UNKSJ or a row-level security refusal,
    -- exactly as for an id that never existed
    return;
  end if;
  if compliance_private.is_erased(user_id) then
    perform compliance_private.raise_error('ERASD',
      'this subject was erased; no data can be stored for it',
      'If the person registers again, a DPO calls compliance.reregister_subject(user_id, reason) first.');
  end if;
end;
$$;

ALTER FUNCTION compliance_private.refuse_erased(user_id text) OWNER TO compliance_owner;

--
-- Name: FUNCTION refuse_erased(user_id text); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.refuse_erased(user_id text) IS 'Raises ERASD when the user id has a tombstone. The app role gets an answer only about the subject it acts for; for any other id it returns quietly.';

--
-- Name: refuse_personal_outside(jsonb, text, text, text); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.refuse_personal_outside(details jsonb, resource_id text, user_id text, actor_id text) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_field text;
  v_text text;
begin
  foreach v_field in array array['details', 'resource_id'] loop
    v_text := case v_field when 'details' then details::text else resource_id end;
    continue when v_text is null;
    if (length(user_id) >= 3 and strpos(v_text, user_id) > 0) or (length(actor_id) >= 3 and strpos(v_text, actor_id) > 0) then
      perform compliance_private.raise_error('PERSD', format('%s names the subject or the actor', v_field),
        'details and resource_id are kept after erasure: put who it is about in user_id and anything identifying in personal_details.');
    end if;
    -- an address needs an @: the cheap test first, so long id lists (an erasure's) skip the regex
    if strpos(v_text, '@') > 0 and v_text ~ '[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}' then
      perform compliance_private.raise_error('PERSD', format('%s holds an e-mail address', v_field),
        'details and resource_id are kept after erasure: put identifying values in personal_details.');
    end if;
  end loop;
end;
$$;

ALTER FUNCTION compliance_private.refuse_personal_outside(details jsonb, resource_id text, user_id text, actor_id text) OWNER TO compliance_owner;

--
-- Name: FUNCTION refuse_personal_outside(details jsonb, resource_id text, user_id text, actor_id text); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.refuse_personal_outside(details jsonb, resource_id text, user_id text, actor_id text) IS 'Refuses (PERSD) audit details or a resource id that contain the subject''s or the actor''s id (3 characters or more) or an e-mail address: those fields survive erasure.';

--
-- Name: registered_rows_of(text); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.registered_rows_of(user_id text) RETURNS json
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_table compliance.personal_tables;
  v_sql record;
  v_rows json;
  v_names text[] := '{}';
  v_sections json[] := '{}';
begin
  -- STABLE: every table is read in the snapshot of the export's statement
  for v_table in select * from compliance.personal_tables p order by p.relation::text loop
    v_rows := '[]'::json;
    if compliance_private.subject_fits(v_table.subject_type, user_id) then
      v_sql := compliance.personal_table_sql(v_table.relation);
      execute format('select coalesce(json_agg(t order by %s), ''[]'') from %s t where %s',
        (select string_agg(format('t.%I', k), ', ') from unnest(v_table.key_columns) k), v_table.relation, v_sql.subject_rows)
        into v_rows using user_id;
    end if;
    v_names := v_names || v_table.relation::text;
    v_sections := v_sections || v_rows;
  end loop;
  -- json, not jsonb: the tables stay in name order
  return (select coalesce(json_object_agg(n, r order by o), '{}') from unnest(v_names, v_sections) with ordinality u(n, r, o));
end;
$$;

ALTER FUNCTION compliance_private.registered_rows_of(user_id text) OWNER TO compliance_owner;

--
-- Name: FUNCTION registered_rows_of(user_id text); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.registered_rows_of(user_id text) IS 'The export''s section for your registered tables: for each, by its name, every row of the subject (whole, in key order). Read in the export''s snapshot.';

--
-- Name: require_context_subject(); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.require_context_subject() RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  if compliance.current_subject() is null then
    perform compliance_private.raise_error('NOCTX', 'no subject in the request context',
      'Call compliance.set_request_context(actor => ''user:...'') first.');
  end if;
  return compliance.current_subject();
end;
$$;

ALTER FUNCTION compliance_private.require_context_subject() OWNER TO compliance_owner;

--
-- Name: FUNCTION require_context_subject(); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.require_context_subject() IS 'The request actor for the self-service functions; NOCTX when no context is set.';

--
-- Name: require_known_failed_check(text); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.require_known_failed_check(failed_check text) RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  if failed_check is null or failed_check not in ('integrity_code', 'decryption', 'key_unwrap', 'version') then
    perform compliance_private.raise_error('BADRG', format('failed_check %L is unknown', failed_check),
      'Use integrity_code, decryption, key_unwrap or version.');
  end if;
end;
$$;

ALTER FUNCTION compliance_private.require_known_failed_check(failed_check text) OWNER TO compliance_owner;

--
-- Name: FUNCTION require_known_failed_check(failed_check text); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.require_known_failed_check(failed_check text) IS 'The checks the server runs on a health record it reads, as a phi.integrity_failure row names them: integrity_code, decryption, key_unwrap, version. BADRG for any other.';

--
-- Name: require_subject(text); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.require_subject(user_id text) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  if user_id is null or not exists (select from compliance.user_profiles p where p.user_id = require_subject.user_id) then
    perform compliance_private.refuse_erased(user_id);
    perform compliance_private.raise_error('UNKSJ', format('no subject with user id %s', coalesce(user_id, 'NULL')),
      'Check the user id; a subject exists once its profile was created.');
  end if;
end;
$$;

ALTER FUNCTION compliance_private.require_subject(user_id text) OWNER TO compliance_owner;

--
-- Name: FUNCTION require_subject(user_id text); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.require_subject(user_id text) IS 'Raises ERASD for an erased subject and UNKSJ for an unknown one; returns quietly when the profile exists and is visible.';

--
-- Name: retention_cutoff(text, timestamp with time zone); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.retention_cutoff(category text, as_of timestamp with time zone) RETURNS timestamp with time zone
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_policy compliance.retention_policies;
begin
  select * into v_policy from compliance.retention_policies p where p.category = retention_cutoff.category;
  if not found then
    perform compliance_private.raise_error('RETCT',
      format('no retention policy for category %s; known: %s', coalesce(category, 'NULL'),
        (select string_agg(p.category, ', ' order by p.category) from compliance.retention_policies p)));
  end if;
  if v_policy.action = 'until_erasure' then
    return null;
  end if;
  return as_of - v_policy.retention_period;
end;
$$;

ALTER FUNCTION compliance_private.retention_cutoff(category text, as_of timestamp with time zone) OWNER TO compliance_owner;

--
-- Name: FUNCTION retention_cutoff(category text, as_of timestamp with time zone); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.retention_cutoff(category text, as_of timestamp with time zone) IS 'Rows counted from before this instant are due under the category''s policy (NULL for until_erasure). Errors: RETCT.';

--
-- Name: retention_due_ids(text, timestamp with time zone, integer); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.retention_due_ids(category text, cutoff timestamp with time zone, max_rows integer) RETURNS TABLE(id text)
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
declare
  v_table compliance.personal_tables;
  v_sql record;
begin
  select * into v_table from compliance.personal_tables t where t.relation::text = category;
  if found then
    v_sql := compliance.personal_table_sql(v_table.relation);
  end if;
  -- subjects under an active legal hold keep everything
  case category
    when 'conversations' then
      return query select c.conversation_id::text from compliance.conversations c
        where c.last_message_at < cutoff
          and not exists (select from compliance.legal_holds h where h.user_id = c.user_id and h.released_at is null)
        order by c.last_message_at limit max_rows;
    when 'sessions' then
      return query select s.id::text from compliance.sessions s
        where s.last_activity_at < cutoff
          and not exists (select from compliance.legal_holds h where h.user_id = s.user_id and h.released_at is null)
        order by s.last_activity_at limit max_rows;
    when 'consent_records' then
      -- the record in force (latest per subject and purpose) is proof of a current consent: kept
      return query select c.id::text from compliance.consent_records c
        where c.recorded_at < cutoff
          and exists (select from compliance.consent_records n
                       where n.user_id = c.user_id and n.purpose = c.purpose
                         and (n.recorded_at, n.id) > (c.recorded_at, c.id))
          and not exists (select from compliance.legal_holds h where h.user_id = c.user_id and h.released_at is null)
        order by c.recorded_at limit max_rows;
    when 'dsr_requests' then
      return query select r.id::text from compliance.dsr_requests r
        where r.received_at < cutoff and r.completed_at is not null
          and not exists (select from compliance.legal_holds h where h.user_id = r.user_id and h.released_at is null)
        order by r.received_at limit max_rows;
    else
      if not exists (select from compliance.personal_tables t where t.relation::text = category) then
        perform compliance_private.raise_error('RETCT', format('category %s is not deleted row by row', category));
      end if;
      -- one of your registered tables: its retention column, its subject through the foreign key too
      return query execute format('select %s from %s r where r.%I < $1 and not exists (select from compliance.legal_holds h where h.user_id = %s and h.released_at is null) order by r.%I limit $2',
        v_sql.key_of_row, category, v_table.retention_from, v_sql.subject_of_row, v_table.retention_from) using cutoff, max_rows;
  end case;
end;
$_$;

ALTER FUNCTION compliance_private.retention_due_ids(category text, cutoff timestamp with time zone, max_rows integer) OWNER TO compliance_owner;

--
-- Name: FUNCTION retention_due_ids(category text, cutoff timestamp with time zone, max_rows integer); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.retention_due_ids(category text, cutoff timestamp with time zone, max_rows integer) IS 'Keys of the rows of a row-deleted category that are due (older than cutoff, not under legal hold), oldest first, at most max_rows. A registered table of yours is a category by its name (schema.table), counted from its retention_from column.';

--
-- Name: clock_override; Type: TABLE; Schema: compliance_private; Owner: compliance_owner
--

CREATE TABLE compliance_private.clock_override (
    singleton boolean DEFAULT true NOT NULL,
    frozen_at timestamp with time zone NOT NULL,
    set_by text DEFAULT SESSION_USER NOT NULL,
    set_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT clock_override_one_row CHECK (singleton)
);

ALTER TABLE compliance_private.clock_override OWNER TO compliance_owner;

--
-- Name: TABLE clock_override; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON TABLE compliance_private.clock_override IS 'At most one row: the instant retention treats as now, for tests that need data to be old. Only the owner can write it (no client role can reach compliance_private); every change is audited (retention.clock_overridden). Empty in production.';

--
-- Name: COLUMN clock_override.singleton; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.clock_override.singleton IS 'Always true: the table holds one row at most.';

--
-- Name: COLUMN clock_override.frozen_at; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.clock_override.frozen_at IS 'The instant retention uses instead of now().';

--
-- Name: COLUMN clock_override.set_by; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.clock_override.set_by IS 'The database login that set it.';

--
-- Name: COLUMN clock_override.set_at; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.clock_override.set_at IS 'When it was set.';

--
-- Name: retention_now(); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.retention_now() RETURNS timestamp with time zone
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN COALESCE((SELECT o.frozen_at FROM compliance_private.clock_override o), now());

ALTER FUNCTION compliance_private.retention_now() OWNER TO compliance_owner;

--
-- Name: FUNCTION retention_now(); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.retention_now() IS 'The instant retention counts from: now(), or the owner''s frozen clock (compliance_private.clock_override) in tests.';

--
-- Name: retention_row_subjects(text, text[]); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.retention_row_subjects(category text, ids text[]) RETURNS TABLE(user_id text)
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_table compliance.personal_tables;
  v_sql record;
begin
  case category
    when 'conversations' then
      return query select distinct c.user_id from compliance.conversations c where c.conversation_id = any (ids::uuid[]);
    when 'sessions' then
      return query select distinct s.user_id from compliance.sessions s where s.id = any (ids::uuid[]);
    when 'consent_records' then
      return query select distinct c.user_id from compliance.consent_records c where c.id = any (ids::bigint[]);
    when 'dsr_requests' then
      return query select distinct r.user_id from compliance.dsr_requests r where r.id = any (ids::bigint[]) and r.user_id is not null;
    else
      select * into v_table from compliance.personal_tables t where t.relation::text = category;
      if not found then
        perform compliance_private.raise_error('RETCT', format('category %s is not deleted row by row', category));
      end if;
      v_sql := compliance.personal_table_sql(v_table.relation);
      return query execute format('select distinct s.subject from (select %s as subject from %s r where %s) s where s.subject is not null',
        v_sql.subject_of_row, category, v_sql.key_in_ids) using ids;
  end case;
end;
$$;

ALTER FUNCTION compliance_private.retention_row_subjects(category text, ids text[]) OWNER TO compliance_owner;

--
-- Name: FUNCTION retention_row_subjects(category text, ids text[]); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.retention_row_subjects(category text, ids text[]) IS 'The subjects whose rows of a row-deleted category a retention batch is about to delete (keys as retention_due_ids returns them), your registered tables included.';

--
-- Name: rotate_tombstone_pepper(); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.rotate_tombstone_pepper() RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_peppers bytea[] := compliance_private.session_peppers(1);
  v_new bytea := v_peppers[cardinality(v_peppers)];
  v_count bigint;
begin
  lock table compliance_private.erased_subjects in exclusive mode;
  update compliance_private.erased_subjects e set subject_digest = sha256(v_new || e.subject_digest);
  get diagnostics v_count = row_count;
  insert into compliance_private.tombstone_peppers (position, pepper_check)
    values (cardinality(v_peppers), compliance_private.tombstone_pepper_check(v_new));
  perform compliance_private.append_audit('tombstone.pepper_rotated', 'security', 'tombstone_pepper', null,
    jsonb_build_object('peppers', cardinality(v_peppers), 'tombstones_rehashed', v_count));
  return jsonb_build_object('peppers', cardinality(v_peppers), 'tombstones_rehashed', v_count);
end;
$$;

ALTER FUNCTION compliance_private.rotate_tombstone_pepper() OWNER TO compliance_owner;

--
-- Name: FUNCTION rotate_tombstone_pepper(); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.rotate_tombstone_pepper() IS 'Owner only: adds a pepper. Call it in a session whose keyring is the current one plus the new pepper at the end; every tombstone is hashed once more under the new pepper, so a dump and any single leaked pepper no longer confirm an erased id. From then on every session needs the longer keyring. Errors: PEPPR.';

--
-- Name: session_peppers(integer); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.session_peppers(extra integer DEFAULT 0) RETURNS bytea[]
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_text text := nullif(current_setting('compliance.tombstone_pepper', true), '');
  v_peppers bytea[];
  v_known integer;
  v_mismatch integer;
begin
  if v_text is null then
    perform compliance_private.raise_error('PEPPR', 'this session has no tombstone pepper (compliance.tombstone_pepper)',
      'The server and setup pass it from TOMBSTONE_PEPPER or TOMBSTONE_PEPPER_FILE; in psql start with PGOPTIONS="-c compliance.tombstone_pepper=<keyring>". See db/README.md.');
  end if;
  v_peppers := compliance_private.parse_keyring(v_text);
  select count(*) into v_known from compliance_private.tombstone_peppers;
  if v_known = 0 then
    perform compliance_private.raise_error('PEPPR', 'this database has adopted no tombstone pepper yet',
      'Run setup (npm run setup-db), which calls compliance_private.adopt_tombstone_pepper().');
  end if;
  if cardinality(v_peppers) <> v_known + extra then
    perform compliance_private.raise_error('PEPPR',
      format('the session''s keyring has %s pepper(s); this database''s tombstones use %s', cardinality(v_peppers), v_known + extra),
      'Give every pepper, oldest first, separated by commas.');
  end if;
  select count(*) into v_mismatch from compliance_private.tombstone_peppers t
   where t.pepper_check <> compliance_private.tombstone_pepper_check(v_peppers[t.position]);
  if v_mismatch > 0 then
    perform compliance_private.raise_error('PEPPR', 'the session''s tombstone pepper is not the one this database uses',
      'Check TOMBSTONE_PEPPER / TOMBSTONE_PEPPER_FILE: a wrong pepper would let erased ids be stored again.');
  end if;
  return v_peppers;
end;
$$;

ALTER FUNCTION compliance_private.session_peppers(extra integer) OWNER TO compliance_owner;

--
-- Name: FUNCTION session_peppers(extra integer); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.session_peppers(extra integer) IS 'The session''s tombstone keyring (compliance.tombstone_pepper), checked against compliance_private.tombstone_peppers; extra => 1 admits one new pepper during a rotation. Errors: PEPPR when it is missing, malformed or wrong.';

--
-- Name: staff_refusal(text, text, text); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.staff_refusal(patient text, intent text, purpose text) RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_scope text := case when intent in ('read', 'search') then 'phi.read' else 'phi.write' end;
  v_now timestamptz := clock_timestamp();
  v_grant compliance.access_grants;
begin
  -- a row is NULL only when every field is: ask for the id
  if (compliance_private.active_access_grant(patient, intent, purpose)).id is not null then
    return null;
  end if;
  -- why not: the grant that came closest, in the order a reader would check
  select g.* into v_grant from compliance.access_grants g
   where g.grantee = compliance.current_actor() and g.user_id = staff_refusal.patient
   order by (g.scope = v_scope and g.purpose = staff_refusal.purpose) desc, g.requested_at desc
   limit 1;
  return case
    when not found then 'no_active_grant'
    when v_grant.revoked_at is not null and v_grant.revoked_at <= v_now then 'grant_revoked'
    when v_grant.denied_at is not null then 'grant_denied'
    when v_grant.kind = 'assignment' and v_grant.approved_at is null then 'grant_not_approved'
    when v_grant.expires_at <= v_now then 'grant_expired'
    when v_grant.starts_at > v_now then 'grant_not_started'
    when v_grant.scope <> v_scope then 'grant_scope'
    when v_grant.purpose <> staff_refusal.purpose then 'grant_purpose'
    else 'no_active_grant'
  end;
end;
$$;

ALTER FUNCTION compliance_private.staff_refusal(patient text, intent text, purpose text) OWNER TO compliance_owner;

--
-- Name: FUNCTION staff_refusal(patient text, intent text, purpose text); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.staff_refusal(patient text, intent text, purpose text) IS 'Why the acting workforce member may not do intent (read, search, create, update, delete) on the patient''s records for purpose: NULL when an active grant allows it, else no_active_grant, grant_revoked, grant_denied, grant_not_approved, grant_expired, grant_not_started, grant_scope or grant_purpose, from their nearest grant.';

--
-- Name: standby_read_leases; Type: TABLE; Schema: compliance_private; Owner: compliance_owner
--

CREATE TABLE compliance_private.standby_read_leases (
    ticket uuid DEFAULT gen_random_uuid() NOT NULL,
    subject_digest bytea NOT NULL,
    export_kind text NOT NULL,
    record_ids uuid[] NOT NULL,
    audit_row_id bigint NOT NULL,
    leased_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    CONSTRAINT standby_read_leases_digest_length CHECK ((octet_length(subject_digest) = 32)),
    CONSTRAINT standby_read_leases_expires_after_lease CHECK ((expires_at > leased_at)),
    CONSTRAINT standby_read_leases_export_kind CHECK ((export_kind = ANY (ARRAY['access'::text, 'portability'::text])))
);

ALTER TABLE ONLY compliance_private.standby_read_leases FORCE ROW LEVEL SECURITY;

ALTER TABLE compliance_private.standby_read_leases OWNER TO compliance_owner;

--
-- Name: TABLE standby_read_leases; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON TABLE compliance_private.standby_read_leases IS 'Tickets for reading one subject''s export on a hot standby (compliance.lease_subject_export): what the primary already audited, so the standby, which cannot write, reads only that. The subject is a digest: the table names no one. Forgotten an hour after they expire.';

--
-- Name: COLUMN standby_read_leases.ticket; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.standby_read_leases.ticket IS 'The random ticket the DPO''s export carries to the standby; whoever holds it may read this subject''s export there until expires_at.';

--
-- Name: COLUMN standby_read_leases.subject_digest; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.standby_read_leases.subject_digest IS 'sha256 of the subject''s user id: the standby checks the ticket is for the subject asked about.';

--
-- Name: COLUMN standby_read_leases.export_kind; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.standby_read_leases.export_kind IS 'access (Art. 15) or portability (Art. 20).';

--
-- Name: COLUMN standby_read_leases.record_ids; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.standby_read_leases.record_ids IS 'The health records the phi.read audit row names: the only ones the standby returns.';

--
-- Name: COLUMN standby_read_leases.audit_row_id; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.standby_read_leases.audit_row_id IS 'The subject.exported audit row that records the export.';

--
-- Name: COLUMN standby_read_leases.leased_at; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.standby_read_leases.leased_at IS 'When the primary recorded the export.';

--
-- Name: COLUMN standby_read_leases.expires_at; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.standby_read_leases.expires_at IS 'Five minutes after leased_at: the standby refuses the ticket after.';

--
-- Name: standby_lease(uuid, text); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.standby_lease(ticket uuid, user_id text) RETURNS compliance_private.standby_read_leases
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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
$$;

ALTER FUNCTION compliance_private.standby_lease(ticket uuid, user_id text) OWNER TO compliance_owner;

--
-- Name: FUNCTION standby_lease(ticket uuid, user_id text); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.standby_lease(ticket uuid, user_id text) IS 'The lease a standby read runs under: on a standby only (STBYO otherwise), the ticket''s, for this subject, unexpired (RDLSE otherwise), for a subject not erased since (ERASD).';

--
-- Name: subject_digest(text); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.subject_digest(user_id text) RETURNS bytea
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_digest bytea := convert_to(user_id, 'UTF8');
  v_pepper bytea;
begin
  foreach v_pepper in array compliance_private.session_peppers() loop
    v_digest := sha256(v_pepper || v_digest);
  end loop;
  return v_digest;
end;
$$;

ALTER FUNCTION compliance_private.subject_digest(user_id text) OWNER TO compliance_owner;

--
-- Name: FUNCTION subject_digest(user_id text); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.subject_digest(user_id text) IS 'Peppered hash of a user id (the session''s keyring applied in turn): lets pgcomply recognise an erased subject without keeping the id. Owner only. Errors: PEPPR.';

--
-- Name: subject_digest_with(bytea[], text); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.subject_digest_with(peppers bytea[], user_id text) RETURNS bytea
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN CASE cardinality(peppers) WHEN 1 THEN sha256(((peppers)[1] || convert_to(user_id, 'UTF8'::name))) WHEN 2 THEN sha256(((peppers)[2] || sha256(((peppers)[1] || convert_to(user_id, 'UTF8'::name))))) ELSE NULL::bytea END;

ALTER FUNCTION compliance_private.subject_digest_with(peppers bytea[], user_id text) OWNER TO compliance_owner;

--
-- Name: FUNCTION subject_digest_with(peppers bytea[], user_id text); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.subject_digest_with(peppers bytea[], user_id text) IS 'subject_digest for a keyring the caller already checked (session_peppers()), as one expression, so a statement can digest a million ids without a function call each (STABLE only because convert_to is, so the planner inlines it): keyrings of one or two peppers; NULL for more (the caller then uses subject_digest).';

--
-- Name: subject_document(text); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.subject_document(user_id text) RETURNS json
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  -- json_agg over a row (C row-to-JSON) rather than jsonb_build_object per row: the export is
  -- dominated by per-value formatting
  return (select json_build_object(
    'subject_id', p.user_id,
    'generated_at', now(),
    'profile', (select row_to_json(x) from (select p.user_id, p.username, p.email, p.full_name, p.metadata,
                                                  p.created_at, p.updated_at) x),
    'preferences', (select to_jsonb(pr) - 'user_id' from compliance.user_preferences pr where pr.user_id = p.user_id),
    'consents', coalesce((
      select json_agg(x order by x.purpose, x.recorded_at, x.id)
        from (select c.id, c.purpose, c.granted, c.policy_version, c.source, c.recorded_at,
                     host(c.ip_address) as ip_address, c.user_agent
                from compliance.consent_records c where c.user_id = p.user_id) x), '[]'),
    'conversations', coalesce((
      select json_agg(x order by x.created_at, x.conversation_id)
        from (select cv.conversation_id, cv.title, cv.created_at, cv.last_message_at, cv.archived, cv.metadata,
                     coalesce(m.messages, '[]') as messages
                from compliance.conversations cv
                left join (select m.conversation_id,
                                  json_agg((m.id, m.role, m.content, m.created_at)::compliance_private.exported_message
                                           order by m.id) as messages
                             from compliance.messages m
                            where m.user_id = p.user_id
                            group by m.conversation_id) m on m.conversation_id = cv.conversation_id
               where cv.user_id = p.user_id) x), '[]'),
    'sessions', coalesce((
      select json_agg(x order by x.created_at, x.id)
        from (select s.id, s.created_at, s.last_activity_at, s.ended_at, host(s.ip_address) as ip_address, s.user_agent
                from compliance.sessions s where s.user_id = p.user_id) x), '[]'),
    'audit_trail', coalesce((
      select json_agg(x order by x.occurred_at, x.id)
        from (select a.id, a.occurred_at, a.action, a.category, a.resource_type, a.resource_id, a.outcome,
                     a.failure_reason, a.details, a.actor_id, host(a.ip_address) as ip_address, a.user_agent,
                     a.personal_details
                from compliance.audit_logs a where a.user_id = p.user_id or a.actor_id = p.user_id) x), '[]'),
    'breach_notices', coalesce((
      select json_agg(x order by x.discovered_at, x.id)
        from (select b.id, b.discovered_at, b.description, b.data_categories, b.status, b.notified_individuals_at
                from compliance.breaches b join compliance.breach_subjects bs on bs.breach_id = b.id
               where bs.user_id = p.user_id) x), '[]'),
    'registered_tables', compliance_private.registered_rows_of(p.user_id),
    'dsr_requests', coalesce((
      select json_agg(x order by x.id)
        from (select r.id, r.kind, r.status, r.received_at, r.due_at, r.completed_at
                from compliance.dsr_requests r where r.user_id = p.user_id) x), '[]'))
  from compliance.user_profiles p
  where p.user_id = subject_document.user_id);
end;
$$;

ALTER FUNCTION compliance_private.subject_document(user_id text) OWNER TO compliance_owner;

--
-- Name: FUNCTION subject_document(user_id text); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.subject_document(user_id text) IS 'Everything held about one subject as one JSON document (sections: profile, preferences, consents, conversations with messages, sessions, audit_trail, breach_notices, registered_tables: your own registered tables by name, dsr_requests). NULL for an unknown subject.';

--
-- Name: subject_fits(text, text); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.subject_fits(type_name text, user_id text) RETURNS boolean
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  if type_name = 'uuid' then
    perform user_id::uuid;
  elsif type_name = 'bigint' then
    perform user_id::bigint;
  elsif type_name = 'integer' then
    perform user_id::integer;
  end if;
  return true;
exception when invalid_text_representation or numeric_value_out_of_range then
  return false;
end;
$$;

ALTER FUNCTION compliance_private.subject_fits(type_name text, user_id text) OWNER TO compliance_owner;

--
-- Name: FUNCTION subject_fits(type_name text, user_id text); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.subject_fits(type_name text, user_id text) IS 'Whether a subject id can be a value of a registered table''s subject column (text, uuid, bigint or integer): a subject whose id is not a uuid has no rows in a table keyed by uuid, and erasure and export skip it there instead of failing.';

--
-- Name: tg__audit_deleted_rows(); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.tg__audit_deleted_rows() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  -- once per statement, so an erasure or a retention batch deleting thousands of rows pays
  -- for one check, not one per row
  if compliance_private.in_any_bulk_operation() then
    return null;
  end if;
  insert into compliance.audit_logs (action, category, resource_type, resource_id, details, user_id,
    actor_id, ip_address, user_agent, subject_part_salt, subject_part_digest, actor_part_salt,
    actor_part_digest, personal_digest)
  select y.action, 'gdpr', y.resource_type, y.resource_id, '{}', y.subject, y.actor, y.ip, y.agent,
         y.subject_salt, y.subject_digest, y.actor_salt, y.actor_digest, sha256(y.subject_digest || y.actor_digest)
    from (select x.*,
                 compliance_private.audit_subject_digest(x.subject_salt, x.subject, null) as subject_digest,
                 compliance_private.audit_actor_digest(x.actor_salt, x.actor, x.ip, x.agent) as actor_digest
            from (select tg_argv[0] || '.' || tg_argv[4] as action, tg_argv[0] as resource_type,
                         to_jsonb(o) ->> nullif(tg_argv[1], '') as resource_id, to_jsonb(o) ->> 'user_id' as subject,
                         uuid_send(gen_random_uuid()) as subject_salt, uuid_send(gen_random_uuid()) as actor_salt,
                         compliance.current_actor() as actor, compliance.current_client_ip() as ip,
                         compliance.current_user_agent() as agent
                    from old_rows o) x) y;
  return null;
end;
$$;

ALTER FUNCTION compliance_private.tg__audit_deleted_rows() OWNER TO compliance_owner;

--
-- Name: FUNCTION tg__audit_deleted_rows(); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.tg__audit_deleted_rows() IS 'AFTER DELETE statement trigger (transition table old_rows) on every personal table: one audit row per deleted row, with the actor from the request context. Same arguments as tg__audit_row_change.';

--
-- Name: tg__audit_inserted_rows(); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.tg__audit_inserted_rows() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
declare
  -- TG_ARGV as tg__audit_row_change: resource type, key column ('' when the subject is the key), verbs
  v_actor text := compliance.current_actor();
  v_ip inet := compliance.current_client_ip();
  v_user_agent text := compliance.current_user_agent();
  -- one actor, one salt for the statement's rows: the actor part is the same in each, and an
  -- erasure of the actor redacts all of them together
  v_actor_salt bytea := uuid_send(gen_random_uuid());
  v_actor_digest bytea := compliance_private.audit_actor_digest(v_actor_salt, v_actor, v_ip, v_user_agent);
  v_consent boolean := tg_table_name = 'consent_records';
  -- a privileged request's rows say how its actor signed in (a subject's request sets nothing)
  v_authentication jsonb := case when compliance_private.current_authentication() is null then '{}'
                                 else jsonb_build_object('authentication', compliance_private.current_authentication()) end;
begin
  if compliance_private.in_any_bulk_operation() then
    return null;  -- the routine writes one summary entry with counts
  end if;
  -- once per statement and set-based: a bulk load of a million rows writes its million audit rows
  -- in one INSERT … SELECT instead of a million trigger calls
  execute format($q$
    insert into compliance.audit_logs (action, category, resource_type, resource_id, details, user_id,
      actor_id, ip_address, user_agent, subject_part_salt, subject_part_digest, actor_part_salt,
      actor_part_digest, personal_digest)
    select x.action, 'gdpr', $1, x.resource_id, x.details, x.subject, $2, $3, $4, x.salt, x.digest, $5, $6, sha256(x.digest || $6)
      from (select y.*, compliance_private.audit_subject_digest(y.salt, y.subject, null) as digest
              from (select %s as action, %s as resource_id, (%s) || $7 as details, r.user_id::text as subject,
                           uuid_send(gen_random_uuid()) as salt
                      from new_rows r) y) x$q$,
    case when v_consent then $s$case when r.granted then 'consent.granted' else 'consent.withdrawn' end$s$
         else quote_literal(tg_argv[0] || '.' || tg_argv[2]) end,
    case when tg_argv[1] = '' then 'null::text' else format('r.%I::text', tg_argv[1]) end,
    case when v_consent then $s$jsonb_build_object('purpose', r.purpose, 'policy_version', r.policy_version, 'source', r.source)$s$
         else $s$'{}'::jsonb$s$ end)
  using tg_argv[0], v_actor, v_ip, v_user_agent, v_actor_salt, v_actor_digest, v_authentication;
  return null;
end;
$_$;

ALTER FUNCTION compliance_private.tg__audit_inserted_rows() OWNER TO compliance_owner;

--
-- Name: FUNCTION tg__audit_inserted_rows(); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.tg__audit_inserted_rows() IS 'AFTER INSERT statement trigger (transition table new_rows) on every personal table: one audit row per inserted row, with the actor from the request context (consent records: consent.granted or consent.withdrawn with purpose, policy version and source; a privileged request adds how its actor signed in, authentication). Set-based, so a bulk load is audited at the cost of one INSERT … SELECT; the rows of one statement share the actor part''s salt. Same arguments as tg__audit_row_change, which audits updates.';

--
-- Name: tg__audit_row_change(); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.tg__audit_row_change() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  -- TG_ARGV: resource type, key column ('' when the subject is the key), verbs for
  -- insert / update / delete
  v_new compliance_private.hstore;
  v_changed text[];
  v_unchanged text[];
  v_action text;
  v_details jsonb := '{}';
  v_personal jsonb;
  v_subject_salt bytea;
  v_actor_salt bytea;
  v_subject text;
  v_actor text;
  v_ip inet;
  v_user_agent text;
  v_subject_digest bytea;
  v_actor_digest bytea;
begin
  if compliance_private.in_any_bulk_operation() then
    return null;  -- the routine writes one summary entry with counts
  end if;

  -- every step is a single expression (no query): this runs on every personal write. The
  -- triggering write already gave the transaction its id, so the row id comes after it.
  v_new := compliance_private.hstore(new);
  if tg_op = 'INSERT' then
    v_action := tg_argv[0] || '.' || tg_argv[2];
  else
    v_action := tg_argv[0] || '.' || tg_argv[3];
    v_changed := compliance_private.akeys(compliance_private.delete(
                   compliance_private.delete(v_new, compliance_private.hstore(old)), 'updated_at'::text));
    v_unchanged := compliance_private.akeys(compliance_private.delete(v_new, v_changed));
    v_personal := jsonb_build_object('old', to_jsonb(old) - v_unchanged, 'new', to_jsonb(new) - v_unchanged);
    v_details := jsonb_build_object('changed_fields', to_jsonb(v_changed));
  end if;
  if tg_table_name = 'consent_records' then
    v_action := case when compliance_private.fetchval(v_new, 'granted')::boolean
                     then 'consent.granted' else 'consent.withdrawn' end;
    v_details := jsonb_build_object('purpose', compliance_private.fetchval(v_new, 'purpose'),
                                    'policy_version', compliance_private.fetchval(v_new, 'policy_version'),
                                    'source', compliance_private.fetchval(v_new, 'source'));
  end if;

  -- a privileged request's rows say how its actor signed in (a subject's request sets nothing)
  -- (the setting is read first: a subject's request, the common case, pays no function call)
  if current_setting('compliance.authentication', true) <> '' and compliance_private.current_authentication() is not null then
    v_details := coalesce(v_details, '{}') || jsonb_build_object('authentication', compliance_private.current_authentication());
  end if;
  v_subject_salt := uuid_send(gen_random_uuid());
  v_actor_salt := uuid_send(gen_random_uuid());
  v_subject := compliance_private.fetchval(v_new, 'user_id');
  v_actor := compliance.current_actor();
  v_ip := compliance.current_client_ip();
  v_user_agent := compliance.current_user_agent();
  -- computed as plpgsql expressions: far cheaper than inside the INSERT's plan
  v_subject_digest := compliance_private.audit_subject_digest(v_subject_salt, v_subject, v_personal);
  v_actor_digest := compliance_private.audit_actor_digest(v_actor_salt, v_actor, v_ip, v_user_agent);
  insert into compliance.audit_logs (action, category, resource_type, resource_id, details, user_id,
    actor_id, ip_address, user_agent, personal_details, subject_part_salt, subject_part_digest,
    actor_part_salt, actor_part_digest, personal_digest)
  values (v_action, 'gdpr', tg_argv[0], compliance_private.fetchval(v_new, nullif(tg_argv[1], '')), v_details,
    v_subject, v_actor, v_ip, v_user_agent, v_personal, v_subject_salt, v_subject_digest, v_actor_salt,
    v_actor_digest, sha256(v_subject_digest || v_actor_digest));
  return null;
end;
$$;

ALTER FUNCTION compliance_private.tg__audit_row_change() OWNER TO compliance_owner;

--
-- Name: FUNCTION tg__audit_row_change(); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.tg__audit_row_change() IS 'AFTER UPDATE row trigger on every personal table (inserts are audited per statement by tg__audit_inserted_rows): one audit row per update, with the actor from the request context and, for updates, the changed field names (details.changed_fields, shortest name first) and their old and new values (personal part, GDPR Art. 16). Deletes are audited per statement by tg__audit_deleted_rows.';

--
-- Name: tg__refuse_foreign_key_value(); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.tg__refuse_foreign_key_value() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
declare
  -- TG_ARGV[0]: the key column a client may choose
  v_key text := to_jsonb(new) ->> tg_argv[0];
  v_taken boolean;
begin
  if not compliance_private.acting_for_one_subject() then
    return new;
  end if;
  execute format('select exists (select from %I.%I t where t.%I::text = $1 and t.user_id is distinct from $2)',
                 tg_table_schema, tg_table_name, tg_argv[0])
    into v_taken using v_key, compliance.current_subject();
  if v_taken then
    -- the same answer as writing a row for another subject: a duplicate key would tell the app
    -- role that another subject holds this id
    raise exception 'new row violates row-level security policy for table "%"', tg_table_name using errcode = '42501';
  end if;
  return new;
end;
$_$;

ALTER FUNCTION compliance_private.tg__refuse_foreign_key_value() OWNER TO compliance_owner;

--
-- Name: FUNCTION tg__refuse_foreign_key_value(); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.tg__refuse_foreign_key_value() IS 'BEFORE INSERT on tables whose key the app role may choose (conversations, sessions): a key another subject already holds is refused with 42501, as a row for another subject is, never with the 23505 that would tell the app role it exists. TG_ARGV[0]: the key column.';

--
-- Name: tg__set_updated_at(); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.tg__set_updated_at() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  new.updated_at := greatest(now(), old.updated_at + interval '1 microsecond');
  return new;
end;
$$;

ALTER FUNCTION compliance_private.tg__set_updated_at() OWNER TO compliance_owner;

--
-- Name: FUNCTION tg__set_updated_at(); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.tg__set_updated_at() IS 'BEFORE UPDATE trigger: keeps updated_at moving forward, even for two updates in one transaction.';

--
-- Name: tg_audit_logs__only_redaction(); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.tg_audit_logs__only_redaction() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  -- the statement trigger _010_refuse_change admitted this UPDATE only inside an erasure;
  -- each row may lose personal parts, whole, and nothing else may change
  if (new.id, new.occurred_at, new.xact_id, new.action, new.category, new.resource_type,
          new.resource_id, new.outcome, new.failure_reason, new.details, new.personal_digest,
          new.subject_part_digest, new.actor_part_digest)
         is not distinct from
         (old.id, old.occurred_at, old.xact_id, old.action, old.category, old.resource_type,
          old.resource_id, old.outcome, old.failure_reason, old.details, old.personal_digest,
          old.subject_part_digest, old.actor_part_digest)
     and new.redacted_at is not null
     and (case when old.subject_part_digest is null then
           -- layout 1: the personal part goes whole
           num_nonnulls(new.user_id, new.actor_id, new.ip_address, new.user_agent, new.personal_details,
                        new.personal_salt) = 0
         else
           new.personal_salt is null
           and ((new.user_id, new.personal_details, new.subject_part_salt)
                  is not distinct from (old.user_id, old.personal_details, old.subject_part_salt)
                or num_nonnulls(new.user_id, new.personal_details, new.subject_part_salt) = 0)
           and ((new.actor_id, new.ip_address, new.user_agent, new.actor_part_salt)
                  is not distinct from (old.actor_id, old.ip_address, old.user_agent, old.actor_part_salt)
                or num_nonnulls(new.actor_id, new.ip_address, new.user_agent, new.actor_part_salt) = 0)
         end) then
    return new;
  end if;
  perform compliance_private.raise_error('APPND',
    'audit rows are append-only; the only permitted change is erasure''s redaction of a personal part',
    'Use compliance.erase_subject to remove a subject''s personal data from the audit log.');
  return null;
end;
$$;

ALTER FUNCTION compliance_private.tg_audit_logs__only_redaction() OWNER TO compliance_owner;

--
-- Name: FUNCTION tg_audit_logs__only_redaction(); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.tg_audit_logs__only_redaction() IS 'BEFORE UPDATE row trigger on audit_logs: permits only the removal of whole personal parts (layout 1: the personal part and its salt; layout 2: the subject part and/or the actor part with its salt) and stamping redacted_at; the statement trigger admits UPDATEs only inside an erasure. Anything else is refused (APPND).';

--
-- Name: tg_audit_logs__refuse_change(); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.tg_audit_logs__refuse_change() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  if tg_op = 'UPDATE' and tg_relid <> 'compliance.audit_seals'::regclass
     and compliance_private.in_bulk_operation('erasure') then
    return null;  -- each changed row is then checked by tg_audit_logs__only_redaction
  end if;
  if tg_op = 'DELETE' and tg_relid = 'compliance.audit_seals'::regclass
     and compliance_private.in_bulk_operation('retention') then
    return null;  -- drop_expired_audit_partitions removes the seals of the rows it dropped
  end if;
  perform compliance_private.raise_error('APPND',
    format('%s on %s is refused: the audit log is append-only', tg_op, tg_table_name),
    'Audit rows are never changed or removed. Erasure redacts personal fields through compliance.erase_subject; retention drops audit partitions through compliance.apply_retention.');
  return null;
end;
$$;

ALTER FUNCTION compliance_private.tg_audit_logs__refuse_change() OWNER TO compliance_owner;

--
-- Name: FUNCTION tg_audit_logs__refuse_change(); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.tg_audit_logs__refuse_change() IS 'BEFORE UPDATE/DELETE/TRUNCATE statement trigger on audit_logs, its partitions and audit_seals: refuses every change (APPND) for every role, the owner included, except an UPDATE of audit rows inside an erasure (tg_audit_logs__only_redaction then checks each row) and a DELETE of seals inside audit retention.';

--
-- Name: tg_clock_override__audit(); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.tg_clock_override__audit() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  perform compliance_private.append_audit('retention.clock_overridden', 'security', 'clock', 'retention',
    jsonb_build_object('frozen_at', case when tg_op = 'DELETE' then null else new.frozen_at end,
                       'operation', lower(tg_op)));
  return null;
end;
$$;

ALTER FUNCTION compliance_private.tg_clock_override__audit() OWNER TO compliance_owner;

--
-- Name: FUNCTION tg_clock_override__audit(); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.tg_clock_override__audit() IS 'AFTER INSERT, UPDATE or DELETE on clock_override: audits every move of the retention clock.';

--
-- Name: tg_consent_records__append_only(); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.tg_consent_records__append_only() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  if tg_op = 'DELETE' and (
       compliance_private.in_any_bulk_operation()
       -- the cascade of a profile deletion: the subject is going away entirely
       or not exists (select from compliance.user_profiles p where p.user_id = old.user_id)) then
    return old;
  end if;
  perform compliance_private.raise_error('APPND',
    format('%s on consent_records is refused: consent history is append-only', tg_op),
    'Record a withdrawal with compliance.record_consent(user_id, purpose, false, policy_version) instead.');
  return null;
end;
$$;

ALTER FUNCTION compliance_private.tg_consent_records__append_only() OWNER TO compliance_owner;

--
-- Name: FUNCTION tg_consent_records__append_only(); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.tg_consent_records__append_only() IS 'BEFORE UPDATE/DELETE/TRUNCATE on consent_records: the history is append-only for every role, the owner included (APPND). Only erasure, retention and the cascade of a deleted profile remove rows.';

--
-- Name: tg_dsr_requests__set_due_at(); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.tg_dsr_requests__set_due_at() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  new.due_at := (timezone('UTC', new.received_at) + interval '1 month') at time zone 'UTC';
  return new;
end;
$$;

ALTER FUNCTION compliance_private.tg_dsr_requests__set_due_at() OWNER TO compliance_owner;

--
-- Name: FUNCTION tg_dsr_requests__set_due_at(); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.tg_dsr_requests__set_due_at() IS 'BEFORE INSERT OR UPDATE OF received_at on dsr_requests: the deadline is always one calendar month after receipt (UTC).';

--
-- Name: tg_legal_holds__lock_subject(); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.tg_legal_holds__lock_subject() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  perform from compliance.user_profiles p where p.user_id = new.user_id for no key update;
  return new;
end;
$$;

ALTER FUNCTION compliance_private.tg_legal_holds__lock_subject() OWNER TO compliance_owner;

--
-- Name: FUNCTION tg_legal_holds__lock_subject(); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.tg_legal_holds__lock_subject() IS 'BEFORE INSERT on legal_holds: locks the subject''s profile until the hold commits, so a running retention batch (which takes FOR SHARE on the profiles it deletes from) either waits for the hold or is waited for.';

--
-- Name: tg_retention_policies__audit(); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.tg_retention_policies__audit() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  perform compliance_private.append_audit('retention.policy_changed', 'soc2', 'retention_policy', new.category,
    jsonb_build_object(
      'old', jsonb_build_object('retention_period', old.retention_period, 'action', old.action, 'enabled', old.enabled, 'counted_from', old.counted_from),
      'new', jsonb_build_object('retention_period', new.retention_period, 'action', new.action, 'enabled', new.enabled, 'counted_from', new.counted_from)));
  return null;
end;
$$;

ALTER FUNCTION compliance_private.tg_retention_policies__audit() OWNER TO compliance_owner;

--
-- Name: FUNCTION tg_retention_policies__audit(); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.tg_retention_policies__audit() IS 'AFTER UPDATE on retention_policies: audits every policy change with its old and new values (SOC 2 PI1.4).';

--
-- Name: tg_user_profiles__refuse_delete_under_hold(); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.tg_user_profiles__refuse_delete_under_hold() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  if compliance.is_under_legal_hold(old.user_id) then
    perform compliance_private.raise_error('LHOLD',
      'subject is under legal hold; its data cannot be deleted',
      'Release the hold with compliance.release_legal_hold(user_id, reason) once the legal matter allows it.');
  end if;
  return old;
end;
$$;

ALTER FUNCTION compliance_private.tg_user_profiles__refuse_delete_under_hold() OWNER TO compliance_owner;

--
-- Name: FUNCTION tg_user_profiles__refuse_delete_under_hold(); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.tg_user_profiles__refuse_delete_under_hold() IS 'BEFORE DELETE on user_profiles: a subject under an active legal hold cannot be deleted by anyone (LHOLD).';

--
-- Name: tg_user_profiles__refuse_erased(); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.tg_user_profiles__refuse_erased() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_peppers bytea[];
  v_subject text;
begin
  -- lock first, then look: a running erasure of one of these ids finishes before the check,
  -- whose fresh snapshot then sees its tombstone
  if (select count(*) from (select from new_rows limit 65) n) > 64 then
    perform compliance_private.lock_all_subjects();
  else
    for v_subject in select n.user_id from new_rows n order by n.user_id loop
      perform compliance_private.lock_subject(v_subject);
    end loop;
  end if;
  if not exists (select from compliance_private.erased_subjects) then
    return null;
  end if;
  v_peppers := compliance_private.session_peppers();
  -- a join, so each new id is digested once (a hash join on the digest)
  if cardinality(v_peppers) <= 2 then
    select n.user_id into v_subject from new_rows n
      join compliance_private.erased_subjects e on e.subject_digest = compliance_private.subject_digest_with(v_peppers, n.user_id)
     limit 1;
  else
    select n.user_id into v_subject from new_rows n
      join compliance_private.erased_subjects e on e.subject_digest = compliance_private.subject_digest(n.user_id)
     limit 1;
  end if;
  if found then
    perform compliance_private.refuse_erased(v_subject);
  end if;
  return null;
end;
$$;

ALTER FUNCTION compliance_private.tg_user_profiles__refuse_erased() OWNER TO compliance_owner;

--
-- Name: FUNCTION tg_user_profiles__refuse_erased(); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.tg_user_profiles__refuse_erased() IS 'AFTER INSERT statement trigger on user_profiles (transition table new_rows): no profile can be created for an erased user id (ERASD), even concurrently with its erasure. It locks each new subject (lock_subject), or every subject at once for more than 64, then checks all new ids against the tombstones in one query, so a bulk load of a million profiles works.';

--
-- Name: tombstone_pepper_check(bytea); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.tombstone_pepper_check(pepper bytea) RETURNS bytea
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN sha256((convert_to('pgcomply tombstone pepper check'::text, 'UTF8'::name) || pepper));

ALTER FUNCTION compliance_private.tombstone_pepper_check(pepper bytea) OWNER TO compliance_owner;

--
-- Name: FUNCTION tombstone_pepper_check(pepper bytea); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.tombstone_pepper_check(pepper bytea) IS 'The check value stored for a pepper: tells the right pepper from a wrong one without revealing it.';

--
-- Name: untrusted_code_on(regclass); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.untrusted_code_on(relation regclass) RETURNS text[]
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  -- functions that run when pgcomply's routines read or write the table (its triggers, rules,
  -- constraints, defaults and generated columns, index expressions, policies, and its columns'
  -- domains), owned by a role that could change them: they would run with pgcomply's owner's rights
  select coalesce(array_agg(distinct p.oid::regprocedure::text order by p.oid::regprocedure::text), '{}')
    from pg_catalog.pg_depend d
    join pg_catalog.pg_proc p on d.refclassid = 'pg_catalog.pg_proc'::regclass and d.refobjid = p.oid
   where ((d.classid = 'pg_catalog.pg_trigger'::regclass and d.objid in (select t.oid from pg_catalog.pg_trigger t where t.tgrelid = relation))
       or (d.classid = 'pg_catalog.pg_rewrite'::regclass and d.objid in (select r.oid from pg_catalog.pg_rewrite r where r.ev_class = relation))
       or (d.classid = 'pg_catalog.pg_policy'::regclass and d.objid in (select o.oid from pg_catalog.pg_policy o where o.polrelid = relation))
       or (d.classid = 'pg_catalog.pg_attrdef'::regclass and d.objid in (select a.oid from pg_catalog.pg_attrdef a where a.adrelid = relation))
       or (d.classid = 'pg_catalog.pg_class'::regclass and d.objid in (select i.indexrelid from pg_catalog.pg_index i where i.indrelid = relation))
       or (d.classid = 'pg_catalog.pg_constraint'::regclass and d.objid in (
             select c.oid from pg_catalog.pg_constraint c
              where c.conrelid = relation
                 or c.contypid in (select a.atttypid from pg_catalog.pg_attribute a where a.attrelid = relation and a.attnum > 0))))
     and not exists (select from pg_catalog.pg_roles r where r.oid = p.proowner and (r.rolsuper or r.rolname = 'compliance_owner'));
$$;

ALTER FUNCTION compliance_private.untrusted_code_on(relation regclass) OWNER TO compliance_owner;

--
-- Name: FUNCTION untrusted_code_on(relation regclass); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.untrusted_code_on(relation regclass) IS 'Functions that would run while pgcomply''s routines read or write one of your tables (through its triggers, rules, constraints, defaults, generated columns, index expressions, policies or column domains) and that a role other than pgcomply''s owner or a superuser owns, and so could change: such a function would run with pgcomply''s owner''s rights. Registration refuses a table with any, and the row_level_security check fails on one.';

--
-- Name: written_by_its_routine(text, jsonb); Type: FUNCTION; Schema: compliance_private; Owner: compliance_owner
--

CREATE FUNCTION compliance_private.written_by_its_routine(action text, details jsonb) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN ((details ->> 'written_by'::text) = CASE action WHEN 'audit.partition_dropped'::text THEN 'compliance_private.drop_expired_audit_partitions'::text WHEN 'subject.erased'::text THEN 'compliance_private.erase_subject_core'::text ELSE NULL::text END);

ALTER FUNCTION compliance_private.written_by_its_routine(action text, details jsonb) OWNER TO compliance_owner;

--
-- Name: FUNCTION written_by_its_routine(action text, details jsonb); Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON FUNCTION compliance_private.written_by_its_routine(action text, details jsonb) IS 'Whether an accounting record (audit.partition_dropped, subject.erased) says it was written by the one routine that does that work (details.written_by, which append_audit takes from the call stack). Verification trusts records written after migration 000041 only then.';

--
-- Name: _private_jobs; Type: TABLE; Schema: graphile_worker; Owner: pgcomply_worker
--

CREATE TABLE graphile_worker._private_jobs (
    id bigint NOT NULL,
    job_queue_id integer,
    task_id integer NOT NULL,
    payload json DEFAULT '{}'::json NOT NULL,
    priority smallint DEFAULT 0 NOT NULL,
    run_at timestamp with time zone DEFAULT now() NOT NULL,
    attempts smallint DEFAULT 0 NOT NULL,
    max_attempts smallint DEFAULT 25 NOT NULL,
    last_error text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    key text,
    locked_at timestamp with time zone,
    locked_by text,
    revision integer DEFAULT 0 NOT NULL,
    flags jsonb,
    is_available boolean GENERATED ALWAYS AS (((locked_at IS NULL) AND (attempts < max_attempts))) STORED NOT NULL,
    CONSTRAINT jobs_key_check CHECK (((length(key) > 0) AND (length(key) <= 512))),
    CONSTRAINT jobs_max_attempts_check CHECK ((max_attempts >= 1))
);

ALTER TABLE graphile_worker._private_jobs OWNER TO pgcomply_worker;

--
-- Name: add_job(text, json, text, timestamp with time zone, integer, text, integer, text[], text); Type: FUNCTION; Schema: graphile_worker; Owner: pgcomply_worker
--

CREATE FUNCTION graphile_worker.add_job(identifier text, payload json DEFAULT NULL::json, queue_name text DEFAULT NULL::text, run_at timestamp with time zone DEFAULT NULL::timestamp with time zone, max_attempts integer DEFAULT NULL::integer, job_key text DEFAULT NULL::text, priority integer DEFAULT NULL::integer, flags text[] DEFAULT NULL::text[], job_key_mode text DEFAULT 'replace'::text) RETURNS graphile_worker._private_jobs
    LANGUAGE plpgsql
    AS $$
declare
  v_job "graphile_worker"._private_jobs;
begin
  if (job_key is null or job_key_mode is null or job_key_mode in ('replace', 'preserve_run_at')) then
    select * into v_job
    from "graphile_worker".add_jobs(
      ARRAY[(
        identifier,
        payload,
        queue_name,
        run_at,
        max_attempts::smallint,
        job_key,
        priority::smallint,
        flags
      )::"graphile_worker".job_spec],
      (job_key_mode = 'preserve_run_at')
    )
    limit 1;
    return v_job;
  elsif job_key_mode = 'unsafe_dedupe' then
    -- Ensure all the tasks exist
    insert into "graphile_worker"._private_tasks as tasks (identifier)
    values (add_job.identifier)
    on conflict do nothing;
    -- Ensure all the queues exist
    if add_job.queue_name is not null then
      insert into "graphile_worker"._private_job_queues as job_queues (queue_name)
      values (add_job.queue_name)
      on conflict do nothing;
    end if;
    -- Insert job, but if one already exists then do nothing, even if the
    -- existing job has already started (and thus represents an out-of-date
    -- world state). This is dangerous because it means that whatever state
    -- change triggered this add_job may not be acted upon (since it happened
    -- after the existing job started executing, but no further job is being
    -- scheduled), but it is useful in very rare circumstances for
    -- de-duplication. If in doubt, DO NOT USE THIS.
    insert into "graphile_worker"._private_jobs as jobs (
      job_queue_id,
      task_id,
      payload,
      run_at,
      max_attempts,
      key,
      priority,
      flags
    )
      select
        job_queues.id,
        tasks.id,
        coalesce(add_job.payload, '{}'::json),
        coalesce(add_job.run_at, now()),
        coalesce(add_job.max_attempts::smallint, 25::smallint),
        add_job.job_key,
        coalesce(add_job.priority::smallint, 0::smallint),
        (
          select jsonb_object_agg(flag, true)
          from unnest(add_job.flags) as item(flag)
        )
      from "graphile_worker"._private_tasks as tasks
      left join "graphile_worker"._private_job_queues as job_queues
      on job_queues.queue_name = add_job.queue_name
      where tasks.identifier = add_job.identifier
    on conflict (key)
      -- Bump the updated_at so that there's something to return
      do update set
        revision = jobs.revision + 1,
        updated_at = now()
      returning *
      into v_job;
    if v_job.revision = 0 then
      perform pg_notify('jobs:insert', '{"r":' || random()::text || ',"count":1}');
    end if;
    return v_job;
  else
    raise exception 'Invalid job_key_mode value, expected ''replace'', ''preserve_run_at'' or ''unsafe_dedupe''.' using errcode = 'GWBKM';
  end if;
end;
$$;

ALTER FUNCTION graphile_worker.add_job(identifier text, payload json, queue_name text, run_at timestamp with time zone, max_attempts integer, job_key text, priority integer, flags text[], job_key_mode text) OWNER TO pgcomply_worker;

--
-- Name: add_jobs(graphile_worker.job_spec[], boolean); Type: FUNCTION; Schema: graphile_worker; Owner: pgcomply_worker
--

CREATE FUNCTION graphile_worker.add_jobs(specs graphile_worker.job_spec[], job_key_preserve_run_at boolean DEFAULT false) RETURNS SETOF graphile_worker._private_jobs
    LANGUAGE plpgsql
    AS $$
begin
  -- Ensure all the tasks exist
  insert into "graphile_worker"._private_tasks as tasks (identifier)
  select distinct spec.identifier
  from unnest(specs) spec
  on conflict do nothing;
  -- Ensure all the queues exist
  insert into "graphile_worker"._private_job_queues as job_queues (queue_name)
  select distinct spec.queue_name
  from unnest(specs) spec
  where spec.queue_name is not null
  on conflict do nothing;
  -- Ensure any locked jobs have their key cleared - in the case of locked
  -- existing job create a new job instead as it must have already started
  -- executing (i.e. it's world state is out of date, and the fact add_job
  -- has been called again implies there's new information that needs to be
  -- acted upon).
  update "graphile_worker"._private_jobs as jobs
  set
    key = null,
    attempts = jobs.max_attempts,
    updated_at = now()
  from unnest(specs) spec
  where spec.job_key is not null
  and jobs.key = spec.job_key
  and is_available is not true;

  -- WARNING: this count is not 100% accurate; 'on conflict' clause will cause it to be an overestimate
  perform pg_notify('jobs:insert', '{"r":' || random()::text || ',"count":' || array_length(specs, 1)::text || '}');

  -- TODO: is there a risk that a conflict could occur depending on the
  -- isolation level?
  return query insert into "graphile_worker"._private_jobs as jobs (
    job_queue_id,
    task_id,
    payload,
    run_at,
    max_attempts,
    key,
    priority,
    flags
  )
    select
      job_queues.id,
      tasks.id,
      coalesce(spec.payload, '{}'::json),
      coalesce(spec.run_at, now()),
      coalesce(spec.max_attempts, 25),
      spec.job_key,
      coalesce(spec.priority, 0),
      (
        select jsonb_object_agg(flag, true)
        from unnest(spec.flags) as item(flag)
      )
    from unnest(specs) spec
    inner join "graphile_worker"._private_tasks as tasks
    on tasks.identifier = spec.identifier
    left join "graphile_worker"._private_job_queues as job_queues
    on job_queues.queue_name = spec.queue_name
  on conflict (key) do update set
    job_queue_id = excluded.job_queue_id,
    task_id = excluded.task_id,
    payload =
      case
      when json_typeof(jobs.payload) = 'array' and json_typeof(excluded.payload) = 'array' then
        (jobs.payload::jsonb || excluded.payload::jsonb)::json
      else
        excluded.payload
      end,
    max_attempts = excluded.max_attempts,
    run_at = (case
      when job_key_preserve_run_at is true and jobs.attempts = 0 then jobs.run_at
      else excluded.run_at
    end),
    priority = excluded.priority,
    revision = jobs.revision + 1,
    flags = excluded.flags,
    -- always reset error/retry state
    attempts = 0,
    last_error = null,
    updated_at = now()
  where jobs.locked_at is null
  returning *;
end;
$$;

ALTER FUNCTION graphile_worker.add_jobs(specs graphile_worker.job_spec[], job_key_preserve_run_at boolean) OWNER TO pgcomply_worker;

--
-- Name: complete_jobs(bigint[]); Type: FUNCTION; Schema: graphile_worker; Owner: pgcomply_worker
--

CREATE FUNCTION graphile_worker.complete_jobs(job_ids bigint[]) RETURNS SETOF graphile_worker._private_jobs
    LANGUAGE sql
    AS $$
  delete from "graphile_worker"._private_jobs as jobs
    where id = any(job_ids)
    and (
      locked_at is null
    or
      locked_at < now() - interval '4 hours'
    )
    returning *;
$$;

ALTER FUNCTION graphile_worker.complete_jobs(job_ids bigint[]) OWNER TO pgcomply_worker;

--
-- Name: force_unlock_workers(text[]); Type: FUNCTION; Schema: graphile_worker; Owner: pgcomply_worker
--

CREATE FUNCTION graphile_worker.force_unlock_workers(worker_ids text[]) RETURNS void
    LANGUAGE sql
    AS $$
update "graphile_worker"._private_jobs as jobs
set locked_at = null, locked_by = null
where locked_by = any(worker_ids);
update "graphile_worker"._private_job_queues as job_queues
set locked_at = null, locked_by = null
where locked_by = any(worker_ids);
$$;

ALTER FUNCTION graphile_worker.force_unlock_workers(worker_ids text[]) OWNER TO pgcomply_worker;

--
-- Name: permanently_fail_jobs(bigint[], text); Type: FUNCTION; Schema: graphile_worker; Owner: pgcomply_worker
--

CREATE FUNCTION graphile_worker.permanently_fail_jobs(job_ids bigint[], error_message text DEFAULT NULL::text) RETURNS SETOF graphile_worker._private_jobs
    LANGUAGE sql
    AS $$
  update "graphile_worker"._private_jobs as jobs
    set
      last_error = coalesce(error_message, 'Manually marked as failed'),
      attempts = max_attempts,
      updated_at = now()
    where id = any(job_ids)
    and (
      locked_at is null
    or
      locked_at < NOW() - interval '4 hours'
    )
    returning *;
$$;

ALTER FUNCTION graphile_worker.permanently_fail_jobs(job_ids bigint[], error_message text) OWNER TO pgcomply_worker;

--
-- Name: remove_job(text); Type: FUNCTION; Schema: graphile_worker; Owner: pgcomply_worker
--

CREATE FUNCTION graphile_worker.remove_job(job_key text) RETURNS graphile_worker._private_jobs
    LANGUAGE plpgsql STRICT
    AS $$
declare
  v_job "graphile_worker"._private_jobs;
begin
  -- Delete job if not locked
  delete from "graphile_worker"._private_jobs as jobs
    where key = job_key
    and (
      locked_at is null
    or
      locked_at < NOW() - interval '4 hours'
    )
  returning * into v_job;
  if not (v_job is null) then
    perform pg_notify('jobs:insert', '{"r":' || random()::text || ',"count":-1}');
    return v_job;
  end if;
  -- Otherwise prevent job from retrying, and clear the key
  update "graphile_worker"._private_jobs as jobs
  set
    key = null,
    attempts = jobs.max_attempts,
    updated_at = now()
  where key = job_key
  returning * into v_job;
  return v_job;
end;
$$;

ALTER FUNCTION graphile_worker.remove_job(job_key text) OWNER TO pgcomply_worker;

--
-- Name: reschedule_jobs(bigint[], timestamp with time zone, integer, integer, integer); Type: FUNCTION; Schema: graphile_worker; Owner: pgcomply_worker
--

CREATE FUNCTION graphile_worker.reschedule_jobs(job_ids bigint[], run_at timestamp with time zone DEFAULT NULL::timestamp with time zone, priority integer DEFAULT NULL::integer, attempts integer DEFAULT NULL::integer, max_attempts integer DEFAULT NULL::integer) RETURNS SETOF graphile_worker._private_jobs
    LANGUAGE sql
    AS $$
  update "graphile_worker"._private_jobs as jobs
    set
      run_at = coalesce(reschedule_jobs.run_at, jobs.run_at),
      priority = coalesce(reschedule_jobs.priority::smallint, jobs.priority),
      attempts = coalesce(reschedule_jobs.attempts::smallint, jobs.attempts),
      max_attempts = coalesce(reschedule_jobs.max_attempts::smallint, jobs.max_attempts),
      updated_at = now()
    where id = any(job_ids)
    and (
      locked_at is null
    or
      locked_at < NOW() - interval '4 hours'
    )
    returning *;
$$;

ALTER FUNCTION graphile_worker.reschedule_jobs(job_ids bigint[], run_at timestamp with time zone, priority integer, attempts integer, max_attempts integer) OWNER TO pgcomply_worker;

--
-- Name: access_grant_settings; Type: TABLE; Schema: compliance; Owner: compliance_owner
--

CREATE TABLE compliance.access_grant_settings (
    singleton boolean DEFAULT true NOT NULL,
    assignment_days integer DEFAULT 30 NOT NULL,
    assignment_days_max integer DEFAULT 30 NOT NULL,
    emergency_hours numeric DEFAULT 4 NOT NULL,
    emergency_review_hours integer DEFAULT 72 NOT NULL,
    CONSTRAINT access_grant_settings_days_bounded CHECK ((((assignment_days >= 1) AND (assignment_days <= assignment_days_max)) AND ((assignment_days_max >= 1) AND (assignment_days_max <= 366)))),
    CONSTRAINT access_grant_settings_emergency_at_most_four_hours CHECK (((emergency_hours > (0)::numeric) AND (emergency_hours <= (4)::numeric))),
    CONSTRAINT access_grant_settings_one_row CHECK (singleton),
    CONSTRAINT access_grant_settings_review_window CHECK (((emergency_review_hours >= 1) AND (emergency_review_hours <= 720)))
);

ALTER TABLE ONLY compliance.access_grant_settings FORCE ROW LEVEL SECURITY;

ALTER TABLE compliance.access_grant_settings OWNER TO compliance_owner;

--
-- Name: TABLE access_grant_settings; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON TABLE compliance.access_grant_settings IS 'One row: how long grants last and how soon an emergency access must be reviewed. A DPO changes it with UPDATE.';

--
-- Name: COLUMN access_grant_settings.singleton; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_grant_settings.singleton IS 'Always true: the table has one row.';

--
-- Name: COLUMN access_grant_settings.assignment_days; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_grant_settings.assignment_days IS 'How long an approved assignment grant lasts when the approver names no duration.';

--
-- Name: COLUMN access_grant_settings.assignment_days_max; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_grant_settings.assignment_days_max IS 'The longest an assignment grant may last; a longer request is refused (BADRG).';

--
-- Name: COLUMN access_grant_settings.emergency_hours; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_grant_settings.emergency_hours IS 'How long a break-glass grant lasts: at most 4 hours.';

--
-- Name: COLUMN access_grant_settings.emergency_review_hours; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_grant_settings.emergency_review_hours IS 'Within how many hours an approver other than the grantee must review an emergency access.';

--
-- Name: access_grants_id_seq; Type: SEQUENCE; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.access_grants ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME compliance.access_grants_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: SEQUENCE access_grants_id_seq; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON SEQUENCE compliance.access_grants_id_seq IS 'Numbers access grants in the order they were requested.';

--
-- Name: access_review_campaign_status; Type: VIEW; Schema: compliance; Owner: compliance_owner
--

CREATE VIEW compliance.access_review_campaign_status AS
SELECT
    NULL::bigint AS id,
    NULL::timestamp with time zone AS opened_at,
    NULL::timestamp with time zone AS due_at,
    NULL::timestamp with time zone AS completed_at,
    NULL::bigint AS items,
    NULL::bigint AS decided,
    NULL::bigint AS kept,
    NULL::bigint AS revoked,
    NULL::boolean AS overdue;

ALTER TABLE compliance.access_review_campaign_status OWNER TO compliance_owner;

--
-- Name: VIEW access_review_campaign_status; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON VIEW compliance.access_review_campaign_status IS 'Each access review campaign''s completion: items, how many are decided, kept and revoked, and whether it is past its due date unfinished.';

--
-- Name: COLUMN access_review_campaign_status.id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_review_campaign_status.id IS 'The campaign.';

--
-- Name: COLUMN access_review_campaign_status.opened_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_review_campaign_status.opened_at IS 'When its snapshot was taken.';

--
-- Name: COLUMN access_review_campaign_status.due_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_review_campaign_status.due_at IS 'When every item should be decided.';

--
-- Name: COLUMN access_review_campaign_status.completed_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_review_campaign_status.completed_at IS 'When the last item was decided; null while any is open.';

--
-- Name: COLUMN access_review_campaign_status.items; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_review_campaign_status.items IS 'Items in the snapshot.';

--
-- Name: COLUMN access_review_campaign_status.decided; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_review_campaign_status.decided IS 'Items decided.';

--
-- Name: COLUMN access_review_campaign_status.kept; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_review_campaign_status.kept IS 'Items kept.';

--
-- Name: COLUMN access_review_campaign_status.revoked; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_review_campaign_status.revoked IS 'Items revoked.';

--
-- Name: COLUMN access_review_campaign_status.overdue; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_review_campaign_status.overdue IS 'Unfinished and past its due date: the access_review check fails.';

--
-- Name: access_review_campaigns_id_seq; Type: SEQUENCE; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.access_review_campaigns ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME compliance.access_review_campaigns_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: SEQUENCE access_review_campaigns_id_seq; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON SEQUENCE compliance.access_review_campaigns_id_seq IS 'Numbers access review campaigns in order.';

--
-- Name: access_review_items_id_seq; Type: SEQUENCE; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.access_review_items ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME compliance.access_review_items_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: SEQUENCE access_review_items_id_seq; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON SEQUENCE compliance.access_review_items_id_seq IS 'Numbers access review items.';

--
-- Name: access_review_role_actions; Type: TABLE; Schema: compliance; Owner: compliance_owner
--

CREATE TABLE compliance.access_review_role_actions (
    role text NOT NULL,
    action text NOT NULL,
    CONSTRAINT access_review_role_actions_role_known CHECK ((role = ANY (ARRAY['dpo'::text, 'approver'::text, 'staff'::text])))
);

ALTER TABLE ONLY compliance.access_review_role_actions FORCE ROW LEVEL SECURITY;

ALTER TABLE compliance.access_review_role_actions OWNER TO compliance_owner;

--
-- Name: TABLE access_review_role_actions; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON TABLE compliance.access_review_role_actions IS 'Audit actions only one application role performs: an actor with such a row in the last 90 days used that role, for the access review. The PHI and grant functions record the role in details.actor_role and need no row here. A DBA adds one with an INSERT.';

--
-- Name: COLUMN access_review_role_actions.role; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_review_role_actions.role IS 'The application role the action needs: dpo, approver or staff.';

--
-- Name: COLUMN access_review_role_actions.action; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.access_review_role_actions.action IS 'The audit action (compliance.audit_logs.action).';

--
-- Name: alert_outbox_id_seq; Type: SEQUENCE; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.alert_outbox ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME compliance.alert_outbox_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: SEQUENCE alert_outbox_id_seq; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON SEQUENCE compliance.alert_outbox_id_seq IS 'Numbers alerts in the order they were raised.';

--
-- Name: audit_logs_default; Type: TABLE; Schema: compliance; Owner: compliance_owner
--

CREATE TABLE compliance.audit_logs_default (
    id bigint DEFAULT nextval('compliance_private.audit_logs_id_seq'::regclass) NOT NULL,
    occurred_at timestamp with time zone DEFAULT now() NOT NULL,
    xact_id xid8 DEFAULT pg_current_xact_id() NOT NULL,
    action text NOT NULL,
    category text NOT NULL,
    resource_type text,
    resource_id text,
    outcome text DEFAULT 'success'::text NOT NULL,
    failure_reason text,
    details jsonb DEFAULT '{}'::jsonb NOT NULL,
    user_id text,
    actor_id text,
    ip_address inet,
    user_agent text,
    personal_details jsonb,
    personal_salt bytea,
    personal_digest bytea NOT NULL,
    redacted_at timestamp with time zone,
    subject_part_salt bytea,
    subject_part_digest bytea,
    actor_part_salt bytea,
    actor_part_digest bytea
);

ALTER TABLE compliance.audit_logs_default OWNER TO compliance_owner;

--
-- Name: TABLE audit_logs_default; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON TABLE compliance.audit_logs_default IS 'Catches rows outside every monthly partition so no audit row is ever refused. compliance.ensure_audit_partitions keeps it empty in normal running.';

--
-- Name: backup_verifications; Type: TABLE; Schema: compliance; Owner: compliance_owner
--

CREATE TABLE compliance.backup_verifications (
    id bigint NOT NULL,
    verified_at timestamp with time zone DEFAULT now() NOT NULL,
    verified_by text DEFAULT compliance.current_actor(),
    file_name text NOT NULL,
    file_sha256 text NOT NULL,
    file_bytes bigint NOT NULL,
    archive_created_at timestamp with time zone NOT NULL,
    last_seal_no bigint,
    last_seal_hash text,
    rows_checked bigint NOT NULL,
    ok boolean NOT NULL,
    problems jsonb NOT NULL,
    CONSTRAINT backup_verifications_file_bytes_positive CHECK ((file_bytes > 0)),
    CONSTRAINT backup_verifications_ok_means_no_problem CHECK ((ok = (jsonb_array_length(problems) = 0))),
    CONSTRAINT backup_verifications_problems_array CHECK ((jsonb_typeof(problems) = 'array'::text)),
    CONSTRAINT backup_verifications_seal_hash_hex CHECK ((last_seal_hash ~ '^[0-9a-f]{64}$'::text)),
    CONSTRAINT backup_verifications_sha256_hex CHECK ((file_sha256 ~ '^[0-9a-f]{64}$'::text))
);

ALTER TABLE ONLY compliance.backup_verifications FORCE ROW LEVEL SECURITY;

ALTER TABLE compliance.backup_verifications OWNER TO compliance_owner;

--
-- Name: TABLE backup_verifications; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON TABLE compliance.backup_verifications IS 'Every backup pgcomply backup verify restored into a scratch database and checked, with what it found. The backup-age check reads the newest sound one. Written only through compliance.record_backup_verification.';

--
-- Name: COLUMN backup_verifications.id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.backup_verifications.id IS 'The verification.';

--
-- Name: COLUMN backup_verifications.verified_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.backup_verifications.verified_at IS 'When the check ran.';

--
-- Name: COLUMN backup_verifications.verified_by; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.backup_verifications.verified_by IS 'Who ran it (the CLI''s --actor, else the database login); emptied when that person is erased.';

--
-- Name: COLUMN backup_verifications.file_name; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.backup_verifications.file_name IS 'The archive''s file name as given to the CLI.';

--
-- Name: COLUMN backup_verifications.file_sha256; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.backup_verifications.file_sha256 IS 'SHA-256 (hex) of the archive''s bytes: which file was verified.';

--
-- Name: COLUMN backup_verifications.file_bytes; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.backup_verifications.file_bytes IS 'The archive''s size in bytes.';

--
-- Name: COLUMN backup_verifications.archive_created_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.backup_verifications.archive_created_at IS 'When pg_dump made the archive (its header): the backup''s age is counted from here.';

--
-- Name: COLUMN backup_verifications.last_seal_no; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.backup_verifications.last_seal_no IS 'The newest audit seal the backup holds (null when it holds none).';

--
-- Name: COLUMN backup_verifications.last_seal_hash; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.backup_verifications.last_seal_hash IS 'That seal''s hash (hex): an anchor log can place the backup in the chain.';

--
-- Name: COLUMN backup_verifications.rows_checked; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.backup_verifications.rows_checked IS 'Audit rows the independent verifier checked in the restored copy.';

--
-- Name: COLUMN backup_verifications.ok; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.backup_verifications.ok IS 'True when nothing was found: the chain verifies, and row-level security and grants match the live database.';

--
-- Name: COLUMN backup_verifications.problems; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.backup_verifications.problems IS 'What was found, [{kind, detail, ...}]: audit chain problems as verify_audit_log names them, missing_rls, grant_missing, grant_extra, restore_failed.';

--
-- Name: backup_verifications_id_seq; Type: SEQUENCE; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.backup_verifications ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME compliance.backup_verifications_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: SEQUENCE backup_verifications_id_seq; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON SEQUENCE compliance.backup_verifications_id_seq IS 'Numbers backup verifications in order.';

--
-- Name: breach_subjects; Type: TABLE; Schema: compliance; Owner: compliance_owner
--

CREATE TABLE compliance.breach_subjects (
    breach_id bigint NOT NULL,
    user_id text NOT NULL
);

ALTER TABLE ONLY compliance.breach_subjects FORCE ROW LEVEL SECURITY;

ALTER TABLE compliance.breach_subjects OWNER TO compliance_owner;

--
-- Name: TABLE breach_subjects; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON TABLE compliance.breach_subjects IS 'Who a breach affected, where known: each sees the breach notice in their own export; erasure removes them (the breach keeps its count).';

--
-- Name: COLUMN breach_subjects.breach_id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.breach_subjects.breach_id IS 'The breach.';

--
-- Name: COLUMN breach_subjects.user_id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.breach_subjects.user_id IS 'A subject it affected.';

--
-- Name: breaches_id_seq; Type: SEQUENCE; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.breaches ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME compliance.breaches_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: SEQUENCE breaches_id_seq; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON SEQUENCE compliance.breaches_id_seq IS 'Numbers breaches in the order they were registered.';

--
-- Name: check_runs; Type: TABLE; Schema: compliance; Owner: compliance_owner
--

CREATE TABLE compliance.check_runs (
    id bigint NOT NULL,
    started_at timestamp with time zone DEFAULT now() NOT NULL,
    finished_at timestamp with time zone,
    trigger text NOT NULL,
    passed integer DEFAULT 0 NOT NULL,
    failed integer DEFAULT 0 NOT NULL,
    not_applicable integer DEFAULT 0 NOT NULL,
    audit_high_water bigint NOT NULL,
    CONSTRAINT check_runs_trigger_known CHECK ((trigger = ANY (ARRAY['schedule'::text, 'demand'::text])))
);

ALTER TABLE ONLY compliance.check_runs FORCE ROW LEVEL SECURITY;

ALTER TABLE compliance.check_runs OWNER TO compliance_owner;

--
-- Name: TABLE check_runs; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON TABLE compliance.check_runs IS 'Each run of the compliance checks: when, why (the daily schedule or on demand), and how many passed, failed or could not be measured. Audited as compliance.checks_run.';

--
-- Name: COLUMN check_runs.id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.check_runs.id IS 'The run.';

--
-- Name: COLUMN check_runs.started_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.check_runs.started_at IS 'When it started.';

--
-- Name: COLUMN check_runs.finished_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.check_runs.finished_at IS 'When every check had been stored.';

--
-- Name: COLUMN check_runs.trigger; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.check_runs.trigger IS 'schedule (the worker, daily 06:00 UTC) or demand.';

--
-- Name: COLUMN check_runs.passed; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.check_runs.passed IS 'Checks that passed.';

--
-- Name: COLUMN check_runs.failed; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.check_runs.failed IS 'Checks that failed (each raised one alert).';

--
-- Name: COLUMN check_runs.not_applicable; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.check_runs.not_applicable IS 'Checks a data store cannot measure, with the reason in the result; never counted as a pass.';

--
-- Name: COLUMN check_runs.audit_high_water; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.check_runs.audit_high_water IS 'The newest audit row id when the run began: the next run counts findings after it.';

--
-- Name: check_runs_id_seq; Type: SEQUENCE; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.check_runs ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME compliance.check_runs_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: SEQUENCE check_runs_id_seq; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON SEQUENCE compliance.check_runs_id_seq IS 'Numbers check runs in order.';

--
-- Name: compliance_check_settings; Type: TABLE; Schema: compliance; Owner: compliance_owner
--

CREATE TABLE compliance.compliance_check_settings (
    singleton boolean DEFAULT true NOT NULL,
    uptime_target numeric DEFAULT 0.999 NOT NULL,
    uptime_window interval DEFAULT '30 days'::interval NOT NULL,
    seal_lag_seconds integer DEFAULT 60 NOT NULL,
    retention_grace interval DEFAULT '1 day'::interval NOT NULL,
    heartbeat_max_age interval DEFAULT '00:03:00'::interval NOT NULL,
    master_key_max_age interval DEFAULT '365 days'::interval NOT NULL,
    backup_max_age interval DEFAULT '26:00:00'::interval NOT NULL,
    anchor_max_age interval DEFAULT '02:00:00'::interval NOT NULL,
    anchor_key_fingerprint text,
    wal_archive_max_lag interval DEFAULT '00:05:00'::interval NOT NULL,
    restore_drill_max_age interval DEFAULT '8 days'::interval NOT NULL,
    recovery_time_objective interval DEFAULT '04:00:00'::interval NOT NULL,
    CONSTRAINT compliance_check_settings_anchor_key_fingerprint_hex CHECK (((anchor_key_fingerprint IS NULL) OR (anchor_key_fingerprint ~ '^[0-9a-f]{64}$'::text))),
    CONSTRAINT compliance_check_settings_anchor_max_age_positive CHECK ((anchor_max_age > '00:00:00'::interval)),
    CONSTRAINT compliance_check_settings_backup_max_age_positive CHECK ((backup_max_age > '00:00:00'::interval)),
    CONSTRAINT compliance_check_settings_one_row CHECK (singleton),
    CONSTRAINT compliance_check_settings_positive CHECK (((uptime_window > '00:00:00'::interval) AND (seal_lag_seconds > 0) AND (retention_grace >= '00:00:00'::interval) AND (heartbeat_max_age > '00:00:00'::interval) AND (master_key_max_age > '00:00:00'::interval))),
    CONSTRAINT compliance_check_settings_recovery_time_objective_positive CHECK ((recovery_time_objective > '00:00:00'::interval)),
    CONSTRAINT compliance_check_settings_restore_drill_max_age_positive CHECK ((restore_drill_max_age > '00:00:00'::interval)),
    CONSTRAINT compliance_check_settings_uptime_target_ratio CHECK (((uptime_target > (0)::numeric) AND (uptime_target <= (1)::numeric))),
    CONSTRAINT compliance_check_settings_wal_archive_max_lag_positive CHECK ((wal_archive_max_lag > '00:00:00'::interval))
);

ALTER TABLE ONLY compliance.compliance_check_settings FORCE ROW LEVEL SECURITY;

ALTER TABLE compliance.compliance_check_settings OWNER TO compliance_owner;

--
-- Name: TABLE compliance_check_settings; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON TABLE compliance.compliance_check_settings IS 'One row: the thresholds the compliance checks measure against. A DPO changes them with UPDATE; each run records the thresholds it used.';

--
-- Name: COLUMN compliance_check_settings.singleton; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.compliance_check_settings.singleton IS 'Always true: the table has one row.';

--
-- Name: COLUMN compliance_check_settings.uptime_target; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.compliance_check_settings.uptime_target IS 'The availability target (SOC 2 A1.2): 0.999 is 99.9%.';

--
-- Name: COLUMN compliance_check_settings.uptime_window; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.compliance_check_settings.uptime_window IS 'The window uptime is computed over (30 days).';

--
-- Name: COLUMN compliance_check_settings.seal_lag_seconds; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.compliance_check_settings.seal_lag_seconds IS 'The oldest unsealed audit row may be at most this old.';

--
-- Name: COLUMN compliance_check_settings.retention_grace; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.compliance_check_settings.retention_grace IS 'How long past its retention a row may stay before the backlog check fails.';

--
-- Name: COLUMN compliance_check_settings.heartbeat_max_age; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.compliance_check_settings.heartbeat_max_age IS 'The worker''s last heartbeat may be at most this old.';

--
-- Name: COLUMN compliance_check_settings.master_key_max_age; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.compliance_check_settings.master_key_max_age IS 'How long the newest PHI master key version may wrap data keys before rotation is due.';

--
-- Name: COLUMN compliance_check_settings.backup_max_age; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.compliance_check_settings.backup_max_age IS 'How old the newest backup verified by pgcomply backup verify may be (a daily backup with two hours to spare).';

--
-- Name: COLUMN compliance_check_settings.anchor_max_age; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.compliance_check_settings.anchor_max_age IS 'The anchors check fails when the newest anchor written outside the database is older than this (twice the worker''s hourly interval).';

--
-- Name: COLUMN compliance_check_settings.anchor_key_fingerprint; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.compliance_check_settings.anchor_key_fingerprint IS 'The anchor key (SHA-256 of its public key): record_anchor takes only anchors it signed, the anchors check counts only those. Set by the worker (compliance.set_anchor_key).';

--
-- Name: COLUMN compliance_check_settings.wal_archive_max_lag; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.compliance_check_settings.wal_archive_max_lag IS 'How long a completed WAL segment may wait for the archive before wal_archive_lag fails: the recovery point''s bound, well inside the seeds'' RPO of 1 hour.';

--
-- Name: COLUMN compliance_check_settings.restore_drill_max_age; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.compliance_check_settings.restore_drill_max_age IS 'The restore_drill check fails when the newest drill is older (default 8 days: the worker drills weekly, on Sundays after the full backup).';

--
-- Name: COLUMN compliance_check_settings.recovery_time_objective; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.compliance_check_settings.recovery_time_objective IS 'The recovery time objective (the seeds'': 4 hours): the restore_drill check fails when the newest drill, restore through verification, took longer.';

--
-- Name: consent_purposes; Type: TABLE; Schema: compliance; Owner: compliance_owner
--

CREATE TABLE compliance.consent_purposes (
    purpose text NOT NULL,
    description text NOT NULL,
    legal_basis text NOT NULL,
    active boolean DEFAULT true NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    policy_version text DEFAULT '1.0'::text NOT NULL,
    CONSTRAINT consent_purposes_key_shape CHECK ((purpose ~ '^[a-z][a-z0-9_]{0,62}$'::text)),
    CONSTRAINT consent_purposes_policy_version_length CHECK (((length(policy_version) >= 1) AND (length(policy_version) <= 64)))
);

ALTER TABLE compliance.consent_purposes OWNER TO compliance_owner;

--
-- Name: TABLE consent_purposes; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON TABLE compliance.consent_purposes IS 'The purposes a subject can consent to (GDPR Art. 6(1)(a)). Not personal data. A DBA adds a purpose with one INSERT; deactivate rather than delete, since consent records reference it.';

--
-- Name: COLUMN consent_purposes.purpose; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.consent_purposes.purpose IS 'Key used by the API (consent_type), lower snake case.';

--
-- Name: COLUMN consent_purposes.description; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.consent_purposes.description IS 'What the subject consents to, as shown to them.';

--
-- Name: COLUMN consent_purposes.legal_basis; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.consent_purposes.legal_basis IS 'The legal basis that this consent satisfies.';

--
-- Name: COLUMN consent_purposes.active; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.consent_purposes.active IS 'Whether new consent may be recorded for this purpose.';

--
-- Name: COLUMN consent_purposes.created_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.consent_purposes.created_at IS 'When the purpose was added.';

--
-- Name: COLUMN consent_purposes.policy_version; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.consent_purposes.policy_version IS 'The version of the text a subject is shown when asked for this consent now: the privacy center records a consent under it, so each consent record names what was agreed to. Raise it when the text changes.';

--
-- Name: consent_records_id_seq; Type: SEQUENCE; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.consent_records ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME compliance.consent_records_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: SEQUENCE consent_records_id_seq; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON SEQUENCE compliance.consent_records_id_seq IS 'Identifiers of consent_records rows.';

--
-- Name: current_consents; Type: VIEW; Schema: compliance; Owner: compliance_owner
--

CREATE VIEW compliance.current_consents WITH (security_invoker='true') AS
 SELECT DISTINCT ON (c.user_id, c.purpose) c.user_id,
    c.purpose,
    c.granted,
    c.policy_version,
    c.recorded_at,
    c.id AS consent_record_id
   FROM compliance.consent_records c
  ORDER BY c.user_id, c.purpose, c.recorded_at DESC, c.id DESC;

ALTER TABLE compliance.current_consents OWNER TO compliance_owner;

--
-- Name: VIEW current_consents; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON VIEW compliance.current_consents IS 'The latest consent record per subject and purpose: the consent in force. Row-level security applies (a subject sees its own).';

--
-- Name: COLUMN current_consents.user_id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.current_consents.user_id IS 'The data subject.';

--
-- Name: COLUMN current_consents.purpose; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.current_consents.purpose IS 'The purpose consented to or refused (consent_purposes.purpose).';

--
-- Name: COLUMN current_consents.granted; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.current_consents.granted IS 'The subject''s latest decision for the purpose: true granted, false withdrawn.';

--
-- Name: COLUMN current_consents.policy_version; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.current_consents.policy_version IS 'The policy version the latest decision was made under.';

--
-- Name: COLUMN current_consents.recorded_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.current_consents.recorded_at IS 'When the latest decision was recorded.';

--
-- Name: COLUMN current_consents.consent_record_id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.current_consents.consent_record_id IS 'The consent_records row holding the latest decision.';

--
-- Name: dsr_requests_id_seq; Type: SEQUENCE; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.dsr_requests ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME compliance.dsr_requests_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: SEQUENCE dsr_requests_id_seq; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON SEQUENCE compliance.dsr_requests_id_seq IS 'Identifiers of dsr_requests rows.';

--
-- Name: erased_consent_proofs_id_seq; Type: SEQUENCE; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.erased_consent_proofs ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME compliance.erased_consent_proofs_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: SEQUENCE erased_consent_proofs_id_seq; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON SEQUENCE compliance.erased_consent_proofs_id_seq IS 'Ids of erased_consent_proofs.';

--
-- Name: erasure_settings; Type: TABLE; Schema: compliance; Owner: compliance_owner
--

CREATE TABLE compliance.erasure_settings (
    singleton boolean DEFAULT true NOT NULL,
    keep_consent_proof boolean DEFAULT true NOT NULL,
    CONSTRAINT erasure_settings_one_row CHECK (singleton)
);

ALTER TABLE ONLY compliance.erasure_settings FORCE ROW LEVEL SECURITY;

ALTER TABLE compliance.erasure_settings OWNER TO compliance_owner;

--
-- Name: TABLE erasure_settings; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON TABLE compliance.erasure_settings IS 'One row: what erasure keeps. The DPO changes it with compliance.keep_consent_proof_after_erasure.';

--
-- Name: COLUMN erasure_settings.singleton; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.erasure_settings.singleton IS 'Always true: one row.';

--
-- Name: COLUMN erasure_settings.keep_consent_proof; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.erasure_settings.keep_consent_proof IS 'Whether erasure keeps the person''s consent records as pseudonymised proof (erased_consent_proofs); true by default.';

--
-- Name: evidence_packages_id_seq; Type: SEQUENCE; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.evidence_packages ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME compliance.evidence_packages_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: SEQUENCE evidence_packages_id_seq; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON SEQUENCE compliance.evidence_packages_id_seq IS 'Numbers evidence packages in order.';

--
-- Name: evidence_populations; Type: TABLE; Schema: compliance; Owner: compliance_owner
--

CREATE TABLE compliance.evidence_populations (
    name text NOT NULL,
    controls text[] NOT NULL,
    description text NOT NULL,
    query text NOT NULL,
    CONSTRAINT evidence_populations_has_controls CHECK ((cardinality(controls) > 0)),
    CONSTRAINT evidence_populations_name_format CHECK ((name ~ '^[a-z][a-z0-9_]{0,62}$'::text))
);

ALTER TABLE ONLY compliance.evidence_populations FORCE ROW LEVEL SECURITY;

ALTER TABLE compliance.evidence_populations OWNER TO compliance_owner;

--
-- Name: TABLE evidence_populations; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON TABLE compliance.evidence_populations IS 'The evidence populations an auditor can ask for: each a query over a period ($1 from, $2 to, half-open) that returns one row per item, with no personal data, and the controls it serves. Only the owner (a migration) changes them.';

--
-- Name: COLUMN evidence_populations.name; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.evidence_populations.name IS 'The population''s name (dsr_requests, phi_accesses, …).';

--
-- Name: COLUMN evidence_populations.controls; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.evidence_populations.controls IS 'The controls and articles it is evidence for.';

--
-- Name: COLUMN evidence_populations.description; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.evidence_populations.description IS 'What one row is.';

--
-- Name: COLUMN evidence_populations.query; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.evidence_populations.query IS 'The query text, recorded in every manifest: $1 is the period''s start (inclusive), $2 its end (exclusive).';

--
-- Name: health_record_categories; Type: TABLE; Schema: compliance; Owner: compliance_owner
--

CREATE TABLE compliance.health_record_categories (
    category text NOT NULL,
    description text NOT NULL,
    CONSTRAINT health_record_categories_name_format CHECK ((category ~ '^[a-z][a-z0-9_]{0,62}$'::text))
);

ALTER TABLE compliance.health_record_categories OWNER TO compliance_owner;

--
-- Name: TABLE health_record_categories; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON TABLE compliance.health_record_categories IS 'The kinds of health record pgcomply accepts. A DBA adds one with INSERT (name: lower case, digits, underscores); create_health_record refuses any other with PHICT and lists these.';

--
-- Name: COLUMN health_record_categories.category; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.health_record_categories.category IS 'The category name a record carries; bound into its encryption (associated data) and integrity code.';

--
-- Name: COLUMN health_record_categories.description; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.health_record_categories.description IS 'What records of this category hold.';

--
-- Name: health_records; Type: TABLE; Schema: compliance; Owner: compliance_owner
--

CREATE TABLE compliance.health_records (
    id uuid NOT NULL,
    user_id text NOT NULL,
    category text NOT NULL,
    classification text DEFAULT 'restricted'::text NOT NULL,
    recorded_by text,
    recorded_at timestamp with time zone DEFAULT date_trunc('milliseconds'::text, now()) NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    key_version integer NOT NULL,
    ciphertext bytea NOT NULL,
    integrity bytea NOT NULL,
    version integer DEFAULT 1 NOT NULL,
    integrity_scheme smallint DEFAULT 2 NOT NULL,
    CONSTRAINT health_records_ciphertext_size CHECK (((octet_length(ciphertext) >= 28) AND (octet_length(ciphertext) <= (1048576 + 28)))),
    CONSTRAINT health_records_classification_known CHECK ((classification = ANY (ARRAY['confidential'::text, 'restricted'::text]))),
    CONSTRAINT health_records_integrity_length CHECK ((octet_length(integrity) = 32)),
    CONSTRAINT health_records_integrity_scheme_known CHECK ((integrity_scheme = ANY (ARRAY[1, 2]))),
    CONSTRAINT health_records_recorded_at_milliseconds CHECK ((recorded_at = date_trunc('milliseconds'::text, recorded_at))),
    CONSTRAINT health_records_version_positive CHECK ((version >= 1))
);
ALTER TABLE ONLY compliance.health_records ALTER COLUMN ciphertext SET STORAGE EXTERNAL;

ALTER TABLE ONLY compliance.health_records FORCE ROW LEVEL SECURITY;

ALTER TABLE compliance.health_records OWNER TO compliance_owner;

--
-- Name: TABLE health_records; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON TABLE compliance.health_records IS 'Protected health information (HIPAA). The content is only ever here as AES-256-GCM ciphertext made by the server under the patient''s data key; PostgreSQL never sees plaintext or an unwrapped key. No client role reads the table: the PHI functions (read_health_records, create_health_record, …) decide who may and audit every access and every refusal.';

--
-- Name: COLUMN health_records.id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.health_records.id IS 'The record id, chosen by the server before encrypting: it is bound into the ciphertext''s associated data, so a ciphertext moved to another record fails to decrypt.';

--
-- Name: COLUMN health_records.user_id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.health_records.user_id IS 'The patient; the record goes with the profile.';

--
-- Name: COLUMN health_records.category; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.health_records.category IS 'A compliance.health_record_categories name; bound into the associated data.';

--
-- Name: COLUMN health_records.classification; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.health_records.classification IS 'confidential or restricted (the default): how tightly the record is held.';

--
-- Name: COLUMN health_records.recorded_by; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.health_records.recorded_by IS 'Who recorded it (the actor); emptied when that person is erased.';

--
-- Name: COLUMN health_records.recorded_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.health_records.recorded_at IS 'When it was recorded, to the millisecond; covered by the integrity code.';

--
-- Name: COLUMN health_records.updated_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.health_records.updated_at IS 'When its content or classification last changed.';

--
-- Name: COLUMN health_records.key_version; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.health_records.key_version IS 'Which of the patient''s data keys encrypted it (compliance_private.subject_keys).';

--
-- Name: COLUMN health_records.ciphertext; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.health_records.ciphertext IS 'nonce (12 bytes) || AES-256-GCM ciphertext || tag (16 bytes); associated data: record id, patient, category, key version.';

--
-- Name: COLUMN health_records.integrity; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.health_records.integrity IS 'HMAC-SHA256 over id, patient, category, classification, key version, recorded_at and ciphertext, under a key derived (HKDF) from the patient''s data key. Every read checks it.';

--
-- Name: COLUMN health_records.version; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.health_records.version IS 'The record''s version: 1 when created, one more at each update; covered by the integrity code (scheme 2) and recorded with it in the audit chain.';

--
-- Name: COLUMN health_records.integrity_scheme; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.health_records.integrity_scheme IS 'Which integrity code the record carries: 1, written before migration 000043, binds no version; 2 binds the version.';

--
-- Name: legal_holds_id_seq; Type: SEQUENCE; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.legal_holds ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME compliance.legal_holds_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: SEQUENCE legal_holds_id_seq; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON SEQUENCE compliance.legal_holds_id_seq IS 'Identifiers of legal_holds rows.';

--
-- Name: messages_id_seq; Type: SEQUENCE; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.messages ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME compliance.messages_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: SEQUENCE messages_id_seq; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON SEQUENCE compliance.messages_id_seq IS 'Identifiers of messages rows.';

--
-- Name: not_personal_columns; Type: TABLE; Schema: compliance; Owner: compliance_owner
--

CREATE TABLE compliance.not_personal_columns (
    relation regclass NOT NULL,
    column_name name NOT NULL,
    reason text NOT NULL,
    marked_by text,
    marked_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT not_personal_columns_reason_given CHECK (((length(TRIM(BOTH FROM reason)) >= 1) AND (length(TRIM(BOTH FROM reason)) <= 1000)))
);

ALTER TABLE ONLY compliance.not_personal_columns FORCE ROW LEVEL SECURITY;

ALTER TABLE compliance.not_personal_columns OWNER TO compliance_owner;

--
-- Name: TABLE not_personal_columns; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON TABLE compliance.not_personal_columns IS 'Columns of your tables a DPO or DBA marked as holding no personal data, and why (compliance.mark_not_personal): the data_map check stops naming them. Column * marks a whole table.';

--
-- Name: COLUMN not_personal_columns.relation; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.not_personal_columns.relation IS 'The table.';

--
-- Name: COLUMN not_personal_columns.column_name; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.not_personal_columns.column_name IS 'The column, or * for the whole table.';

--
-- Name: COLUMN not_personal_columns.reason; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.not_personal_columns.reason IS 'Why it holds no personal data.';

--
-- Name: COLUMN not_personal_columns.marked_by; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.not_personal_columns.marked_by IS 'Who marked it (the request context''s actor).';

--
-- Name: COLUMN not_personal_columns.marked_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.not_personal_columns.marked_at IS 'When.';

--
-- Name: personal_data_categories; Type: TABLE; Schema: compliance; Owner: compliance_owner
--

CREATE TABLE compliance.personal_data_categories (
    category text NOT NULL,
    description text NOT NULL,
    CONSTRAINT personal_data_categories_name CHECK ((category ~ '^[a-z][a-z_]{1,40}$'::text))
);

ALTER TABLE ONLY compliance.personal_data_categories FORCE ROW LEVEL SECURITY;

ALTER TABLE compliance.personal_data_categories OWNER TO compliance_owner;

--
-- Name: TABLE personal_data_categories; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON TABLE compliance.personal_data_categories IS 'The kinds of personal data a registered column holds (compliance.register_personal_table''s personal_columns), for the record of processing and the data map. A DBA adds one with an INSERT.';

--
-- Name: COLUMN personal_data_categories.category; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.personal_data_categories.category IS 'The name a registration uses.';

--
-- Name: COLUMN personal_data_categories.description; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.personal_data_categories.description IS 'What belongs in it.';

--
-- Name: phi_access_review_settings; Type: TABLE; Schema: compliance; Owner: compliance_owner
--

CREATE TABLE compliance.phi_access_review_settings (
    singleton boolean DEFAULT true NOT NULL,
    weekly_threshold integer DEFAULT 500 NOT NULL,
    baseline_factor numeric DEFAULT 3 NOT NULL,
    day_starts time without time zone DEFAULT '07:00:00'::time without time zone NOT NULL,
    day_ends time without time zone DEFAULT '19:00:00'::time without time zone NOT NULL,
    time_zone text DEFAULT 'UTC'::text NOT NULL,
    CONSTRAINT phi_access_review_settings_day_ordered CHECK ((day_starts < day_ends)),
    CONSTRAINT phi_access_review_settings_factor_above_one CHECK ((baseline_factor > (1)::numeric)),
    CONSTRAINT phi_access_review_settings_one_row CHECK (singleton),
    CONSTRAINT phi_access_review_settings_threshold_positive CHECK ((weekly_threshold > 0)),
    CONSTRAINT phi_access_review_settings_time_zone_known CHECK ((('2000-01-01 00:00:00+00'::timestamp with time zone AT TIME ZONE time_zone) IS NOT NULL))
);

ALTER TABLE ONLY compliance.phi_access_review_settings FORCE ROW LEVEL SECURITY;

ALTER TABLE compliance.phi_access_review_settings OWNER TO compliance_owner;

--
-- Name: TABLE phi_access_review_settings; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON TABLE compliance.phi_access_review_settings IS 'One row: what the unusual-access review (view phi_unusual_access, function review_phi_access) flags. A DPO changes it with UPDATE.';

--
-- Name: COLUMN phi_access_review_settings.singleton; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.phi_access_review_settings.singleton IS 'Always true: the table has one row.';

--
-- Name: COLUMN phi_access_review_settings.weekly_threshold; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.phi_access_review_settings.weekly_threshold IS 'An actor with more successful PHI accesses than this in the last 7 days is flagged.';

--
-- Name: COLUMN phi_access_review_settings.baseline_factor; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.phi_access_review_settings.baseline_factor IS 'An actor whose 7-day count exceeds this many times their own baseline (the 30 days before, scaled to 7) is flagged.';

--
-- Name: COLUMN phi_access_review_settings.day_starts; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.phi_access_review_settings.day_starts IS 'Workforce access before this local time is flagged.';

--
-- Name: COLUMN phi_access_review_settings.day_ends; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.phi_access_review_settings.day_ends IS 'Workforce access from this local time on is flagged.';

--
-- Name: COLUMN phi_access_review_settings.time_zone; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.phi_access_review_settings.time_zone IS 'The time zone day_starts and day_ends are read in (an IANA name).';

--
-- Name: phi_unusual_access; Type: VIEW; Schema: compliance; Owner: compliance_owner
--

CREATE VIEW compliance.phi_unusual_access AS
 WITH settings AS (
         SELECT s.weekly_threshold,
            s.baseline_factor,
            s.day_starts,
            s.day_ends,
            s.time_zone
           FROM compliance.phi_access_review_settings s
        ), access AS (
         SELECT a.id,
            a.occurred_at,
            a.user_id,
            a.actor_id,
            a.action,
            a.outcome,
            (a.details ->> 'actor_role'::text) AS actor_role
           FROM compliance.audit_logs a
          WHERE ((a.occurred_at >= (now() - '37 days'::interval)) AND (a.action = ANY (ARRAY['phi.read'::text, 'phi.created'::text, 'phi.updated'::text, 'phi.deleted'::text, 'phi.denied'::text, 'phi.integrity_failure'::text])))
        ), workforce AS (
         SELECT access.id,
            access.occurred_at,
            access.user_id,
            access.actor_id
           FROM access
          WHERE ((access.actor_role IS DISTINCT FROM 'patient'::text) AND (access.outcome = 'success'::text) AND (access.action <> 'phi.integrity_failure'::text))
        ), counts AS (
         SELECT workforce.actor_id,
            count(*) FILTER (WHERE (workforce.occurred_at >= (now() - '7 days'::interval))) AS last_week,
            count(*) FILTER (WHERE (workforce.occurred_at < (now() - '7 days'::interval))) AS baseline_month
           FROM workforce
          GROUP BY workforce.actor_id
        )
 SELECT 'over_threshold'::text AS finding,
    c.actor_id,
    NULL::text AS patient,
    c.last_week AS accesses,
    round((((c.baseline_month)::numeric * 7.0) / 30.0), 1) AS weekly_baseline,
    NULL::bigint AS audit_row_id,
    NULL::timestamp with time zone AS occurred_at
   FROM counts c,
    settings s
  WHERE (c.last_week > s.weekly_threshold)
UNION ALL
 SELECT 'over_baseline'::text AS finding,
    c.actor_id,
    NULL::text AS patient,
    c.last_week AS accesses,
    round((((c.baseline_month)::numeric * 7.0) / 30.0), 1) AS weekly_baseline,
    NULL::bigint AS audit_row_id,
    NULL::timestamp with time zone AS occurred_at
   FROM counts c,
    settings s
  WHERE ((c.baseline_month > 0) AND ((c.last_week)::numeric > (((s.baseline_factor * (c.baseline_month)::numeric) * 7.0) / 30.0)))
UNION ALL
 SELECT 'outside_hours'::text AS finding,
    w.actor_id,
    w.user_id AS patient,
    (1)::bigint AS accesses,
    NULL::numeric AS weekly_baseline,
    w.id AS audit_row_id,
    w.occurred_at
   FROM workforce w,
    settings s
  WHERE ((w.occurred_at >= (now() - '7 days'::interval)) AND ((((w.occurred_at AT TIME ZONE s.time_zone))::time without time zone < s.day_starts) OR (((w.occurred_at AT TIME ZONE s.time_zone))::time without time zone >= s.day_ends)))
UNION ALL
 SELECT
        CASE
            WHEN (a.action = 'phi.denied'::text) THEN 'refused'::text
            ELSE 'integrity_failure'::text
        END AS finding,
    a.actor_id,
    a.user_id AS patient,
    (1)::bigint AS accesses,
    NULL::numeric AS weekly_baseline,
    a.id AS audit_row_id,
    a.occurred_at
   FROM access a
  WHERE ((a.occurred_at >= (now() - '7 days'::interval)) AND (a.action = ANY (ARRAY['phi.denied'::text, 'phi.integrity_failure'::text])));

ALTER TABLE compliance.phi_unusual_access OWNER TO compliance_owner;

--
-- Name: VIEW phi_unusual_access; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON VIEW compliance.phi_unusual_access IS 'PHI access worth a second look, over the last 7 days (HIPAA §164.308(a)(1)(ii)(D) information system activity review): each workforce actor (anyone but the patient themself) with more successful accesses than weekly_threshold (over_threshold) or more than baseline_factor times their own baseline from the 30 days before (over_baseline), each workforce access outside day_starts..day_ends (outside_hours), every refused attempt (refused) and every record that failed its integrity check (integrity_failure). Settings: compliance.phi_access_review_settings. review_phi_access alerts on them daily.';

--
-- Name: COLUMN phi_unusual_access.finding; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.phi_unusual_access.finding IS 'over_threshold, over_baseline, outside_hours, refused or integrity_failure.';

--
-- Name: COLUMN phi_unusual_access.actor_id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.phi_unusual_access.actor_id IS 'Who accessed (NULL once erased).';

--
-- Name: COLUMN phi_unusual_access.patient; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.phi_unusual_access.patient IS 'Whose records, for a finding about one access; NULL for the counts.';

--
-- Name: COLUMN phi_unusual_access.accesses; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.phi_unusual_access.accesses IS 'Successful accesses by the actor in the last 7 days, or 1 for a finding about one access.';

--
-- Name: COLUMN phi_unusual_access.weekly_baseline; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.phi_unusual_access.weekly_baseline IS 'The actor''s accesses in the 30 days before the last 7, scaled to a week.';

--
-- Name: COLUMN phi_unusual_access.audit_row_id; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.phi_unusual_access.audit_row_id IS 'The audit row of the one access the finding is about; NULL for the counts.';

--
-- Name: COLUMN phi_unusual_access.occurred_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.phi_unusual_access.occurred_at IS 'When that access happened; NULL for the counts.';

--
-- Name: reports_id_seq; Type: SEQUENCE; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.reports ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME compliance.reports_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: SEQUENCE reports_id_seq; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON SEQUENCE compliance.reports_id_seq IS 'Numbers reports in order.';

--
-- Name: retention_policies; Type: TABLE; Schema: compliance; Owner: compliance_owner
--

CREATE TABLE compliance.retention_policies (
    category text NOT NULL,
    retention_period interval,
    counted_from text,
    legal_basis text NOT NULL,
    action text NOT NULL,
    enabled boolean DEFAULT true NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT retention_policies_action_known CHECK ((action = ANY (ARRAY['delete'::text, 'drop_partition'::text, 'until_erasure'::text]))),
    CONSTRAINT retention_policies_audit_log_floor CHECK (((category <> 'audit_logs'::text) OR (retention_period >= '6 years'::interval))),
    CONSTRAINT retention_policies_period_positive CHECK (((retention_period IS NULL) OR (retention_period > '00:00:00'::interval))),
    CONSTRAINT retention_policies_period_when_timed CHECK (((action = 'until_erasure'::text) = (retention_period IS NULL)))
);

ALTER TABLE compliance.retention_policies OWNER TO compliance_owner;

--
-- Name: TABLE retention_policies; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON TABLE compliance.retention_policies IS 'One row per data category (the table name): how long it is kept, counted from which column, why, and what happens then (delete rows in batches, drop whole audit partitions, or keep until erasure). A DBA changes a period with one UPDATE, which is audited (retention.policy_changed).';

--
-- Name: COLUMN retention_policies.category; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.retention_policies.category IS 'The table the policy governs.';

--
-- Name: COLUMN retention_policies.retention_period; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.retention_policies.retention_period IS 'How long rows are kept; NULL for until_erasure.';

--
-- Name: COLUMN retention_policies.counted_from; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.retention_policies.counted_from IS 'The timestamp column the period counts from.';

--
-- Name: COLUMN retention_policies.legal_basis; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.retention_policies.legal_basis IS 'Why this period (the regulation that requires or limits it).';

--
-- Name: COLUMN retention_policies.action; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.retention_policies.action IS 'delete (batched row deletion), drop_partition (whole monthly audit partitions) or until_erasure (kept until the subject is erased).';

--
-- Name: COLUMN retention_policies.enabled; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.retention_policies.enabled IS 'false pauses enforcement of this category.';

--
-- Name: COLUMN retention_policies.updated_at; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.retention_policies.updated_at IS 'When the policy last changed; maintained by trigger.';

--
-- Name: CONSTRAINT retention_policies_audit_log_floor ON retention_policies; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON CONSTRAINT retention_policies_audit_log_floor ON compliance.retention_policies IS 'HIPAA §164.316(b)(2)(i): the audit log is kept at least six years, so no policy change can make current audit partitions expire.';

--
-- Name: retention_due; Type: VIEW; Schema: compliance; Owner: compliance_owner
--

CREATE VIEW compliance.retention_due WITH (security_invoker='false') AS
 SELECT p.category,
    p.action,
    p.retention_period,
    p.counted_from,
    c.cutoff,
        CASE p.action
            WHEN 'delete'::text THEN ( SELECT count(*) AS count
               FROM compliance_private.retention_due_ids(p.category, c.cutoff, 2147483647) retention_due_ids(id))
            WHEN 'drop_partition'::text THEN ( SELECT count(*) AS count
               FROM compliance_private.expired_audit_partitions(c.cutoff) expired_audit_partitions(partition_name, range_end))
            ELSE NULL::bigint
        END AS due_now,
        CASE p.action
            WHEN 'delete'::text THEN 'rows'::text
            WHEN 'drop_partition'::text THEN 'partitions'::text
            ELSE NULL::text
        END AS unit
   FROM (compliance.retention_policies p
     CROSS JOIN LATERAL ( SELECT compliance_private.retention_cutoff(p.category, compliance_private.retention_now()) AS cutoff) c)
  WHERE p.enabled
  ORDER BY p.category;

ALTER TABLE compliance.retention_due OWNER TO compliance_owner;

--
-- Name: VIEW retention_due; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON VIEW compliance.retention_due IS 'What retention would remove now, per category: rows for delete policies (subjects under legal hold excluded), whole monthly partitions for the audit log.';

--
-- Name: COLUMN retention_due.category; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.retention_due.category IS 'The retention category (retention_policies.category).';

--
-- Name: COLUMN retention_due.action; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.retention_due.action IS 'What retention does: delete, drop_partition or until_erasure.';

--
-- Name: COLUMN retention_due.retention_period; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.retention_due.retention_period IS 'How long the category is kept.';

--
-- Name: COLUMN retention_due.counted_from; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.retention_due.counted_from IS 'The column the period counts from.';

--
-- Name: COLUMN retention_due.cutoff; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.retention_due.cutoff IS 'Rows older than this are due (retention''s clock minus the period).';

--
-- Name: COLUMN retention_due.due_now; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.retention_due.due_now IS 'How many rows (or audit partitions) would go now; subjects under legal hold excluded.';

--
-- Name: COLUMN retention_due.unit; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON COLUMN compliance.retention_due.unit IS 'What due_now counts: rows or partitions.';

--
-- Name: bulk_operations; Type: TABLE; Schema: compliance_private; Owner: compliance_owner
--

CREATE TABLE compliance_private.bulk_operations (
    xact_id xid8 NOT NULL,
    kind text NOT NULL,
    CONSTRAINT bulk_operations_kind_known CHECK ((kind = ANY (ARRAY['erasure'::text, 'retention'::text])))
);

ALTER TABLE compliance_private.bulk_operations OWNER TO compliance_owner;

--
-- Name: TABLE bulk_operations; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON TABLE compliance_private.bulk_operations IS 'Marks the transaction of a running erasure or retention batch (a row lives only inside that transaction). Row audit triggers skip per-row entries there because the routine writes one summary entry, and the append-only trigger permits redaction only inside an erasure. Only the owner can write it, so a client cannot forge the mark.';

--
-- Name: COLUMN bulk_operations.xact_id; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.bulk_operations.xact_id IS 'The transaction (pg_current_xact_id()) running the operation.';

--
-- Name: COLUMN bulk_operations.kind; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.bulk_operations.kind IS 'erasure or retention.';

--
-- Name: database_identity; Type: TABLE; Schema: compliance_private; Owner: compliance_owner
--

CREATE TABLE compliance_private.database_identity (
    singleton boolean DEFAULT true NOT NULL,
    database_id uuid DEFAULT gen_random_uuid() NOT NULL,
    system_identifier bigint NOT NULL,
    database_name text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT database_identity_one_row CHECK (singleton)
);

ALTER TABLE ONLY compliance_private.database_identity FORCE ROW LEVEL SECURITY;

ALTER TABLE compliance_private.database_identity OWNER TO compliance_owner;

--
-- Name: TABLE database_identity; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON TABLE compliance_private.database_identity IS 'This pgcomply database''s identity, made once by migration 000042: a dump carries it, a restore keeps it, so pgcomply backup verify can tell an archive of this database from one of another. Owner only.';

--
-- Name: COLUMN database_identity.singleton; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.database_identity.singleton IS 'Always true: one row.';

--
-- Name: COLUMN database_identity.database_id; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.database_identity.database_id IS 'A random id, the same in every backup and restore of this database.';

--
-- Name: COLUMN database_identity.system_identifier; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.database_identity.system_identifier IS 'The PostgreSQL cluster''s system identifier (pg_control_system()) where the database was when the identity was made.';

--
-- Name: COLUMN database_identity.database_name; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.database_identity.database_name IS 'The database''s name when the identity was made.';

--
-- Name: COLUMN database_identity.created_at; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.database_identity.created_at IS 'When the identity was made.';

--
-- Name: erased_subjects; Type: TABLE; Schema: compliance_private; Owner: compliance_owner
--

CREATE TABLE compliance_private.erased_subjects (
    subject_digest bytea NOT NULL,
    erased_at timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE compliance_private.erased_subjects OWNER TO compliance_owner;

--
-- Name: TABLE erased_subjects; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON TABLE compliance_private.erased_subjects IS 'Tombstones of erased subjects, by peppered hash (never the id itself), so a late write for an erased user id fails (ERASD) until compliance.reregister_subject.';

--
-- Name: COLUMN erased_subjects.subject_digest; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.erased_subjects.subject_digest IS 'compliance_private.subject_digest(user_id).';

--
-- Name: COLUMN erased_subjects.erased_at; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.erased_subjects.erased_at IS 'When the subject was erased.';

--
-- Name: expected_grants; Type: TABLE; Schema: compliance_private; Owner: compliance_owner
--

CREATE TABLE compliance_private.expected_grants (
    object_name text NOT NULL,
    grantee text NOT NULL,
    privilege text NOT NULL
);

ALTER TABLE ONLY compliance_private.expected_grants FORCE ROW LEVEL SECURITY;

ALTER TABLE compliance_private.expected_grants OWNER TO compliance_owner;

--
-- Name: TABLE expected_grants; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON TABLE compliance_private.expected_grants IS 'The grants on pgcomply''s objects as the migrations left them (record_expected_grants at the end of a migration that changes any). The privileges check fails on any difference.';

--
-- Name: COLUMN expected_grants.object_name; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.expected_grants.object_name IS 'The table, view, sequence, function or schema.';

--
-- Name: COLUMN expected_grants.grantee; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.expected_grants.grantee IS 'The role holding the privilege (PUBLIC for everyone).';

--
-- Name: COLUMN expected_grants.privilege; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.expected_grants.privilege IS 'SELECT, INSERT, UPDATE (with its columns), EXECUTE, USAGE, …';

--
-- Name: phi_access_review_progress; Type: TABLE; Schema: compliance_private; Owner: compliance_owner
--

CREATE TABLE compliance_private.phi_access_review_progress (
    singleton boolean DEFAULT true NOT NULL,
    reviewed_through bigint DEFAULT 0 NOT NULL,
    reviewed_at timestamp with time zone,
    CONSTRAINT phi_access_review_progress_one_row CHECK (singleton)
);

ALTER TABLE ONLY compliance_private.phi_access_review_progress FORCE ROW LEVEL SECURITY;

ALTER TABLE compliance_private.phi_access_review_progress OWNER TO compliance_owner;

--
-- Name: TABLE phi_access_review_progress; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON TABLE compliance_private.phi_access_review_progress IS 'The last audit row id the PHI access review has flagged single rows up to (it reads only sealed rows, so none can still appear below it).';

--
-- Name: COLUMN phi_access_review_progress.singleton; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.phi_access_review_progress.singleton IS 'Always true: the table has one row.';

--
-- Name: COLUMN phi_access_review_progress.reviewed_through; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.phi_access_review_progress.reviewed_through IS 'Audit rows up to this id have been reviewed for out-of-hours and refused access.';

--
-- Name: COLUMN phi_access_review_progress.reviewed_at; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.phi_access_review_progress.reviewed_at IS 'When the review last ran.';

--
-- Name: refusal_windows; Type: TABLE; Schema: compliance_private; Owner: compliance_owner
--

CREATE TABLE compliance_private.refusal_windows (
    client_ip inet,
    reason text NOT NULL,
    window_start timestamp with time zone NOT NULL,
    refusals integer DEFAULT 1 NOT NULL,
    audit_row_id bigint,
    CONSTRAINT refusal_windows_reason_known CHECK ((reason = ANY (ARRAY['invalid_token'::text, 'expired_token'::text, 'no_token'::text, 'forbidden'::text, 'session_expired'::text, 'insufficient_authentication'::text]))),
    CONSTRAINT refusal_windows_refusals_positive CHECK ((refusals > 0))
);

ALTER TABLE compliance_private.refusal_windows OWNER TO compliance_owner;

--
-- Name: TABLE refusal_windows; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON TABLE compliance_private.refusal_windows IS 'Refused API requests counted per client IP, reason and minute; audit_row_id is the security.request_refused row the first of them wrote. Owner-only: written through compliance.record_refusal. Kept 90 days.';

--
-- Name: COLUMN refusal_windows.client_ip; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.refusal_windows.client_ip IS 'The client the refusals came from (NULL if unknown).';

--
-- Name: COLUMN refusal_windows.reason; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.refusal_windows.reason IS 'invalid_token, expired_token, no_token, forbidden or session_expired.';

--
-- Name: COLUMN refusal_windows.window_start; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.refusal_windows.window_start IS 'The minute the refusals fell in.';

--
-- Name: COLUMN refusal_windows.refusals; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.refusal_windows.refusals IS 'How many requests from the client were refused for the reason in that minute.';

--
-- Name: COLUMN refusal_windows.audit_row_id; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.refusal_windows.audit_row_id IS 'The audit row written for the first refusal of the minute.';

--
-- Name: request_keys; Type: TABLE; Schema: compliance_private; Owner: compliance_owner
--

CREATE TABLE compliance_private.request_keys (
    key_digest bytea NOT NULL,
    claimed_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT request_keys_digest_length CHECK ((octet_length(key_digest) = 32))
);

ALTER TABLE ONLY compliance_private.request_keys FORCE ROW LEVEL SECURITY;

ALTER TABLE compliance_private.request_keys OWNER TO compliance_owner;

--
-- Name: TABLE request_keys; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON TABLE compliance_private.request_keys IS 'Idempotency-Keys API requests claimed (compliance.claim_request_key), as sha256(actor id, key): no one is named. Forgotten after a day.';

--
-- Name: COLUMN request_keys.key_digest; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.request_keys.key_digest IS 'sha256 of the actor''s id, a unit separator and the client''s Idempotency-Key.';

--
-- Name: COLUMN request_keys.claimed_at; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.request_keys.claimed_at IS 'When the request that carried the key committed.';

--
-- Name: service_minutes; Type: TABLE; Schema: compliance_private; Owner: compliance_owner
--

CREATE TABLE compliance_private.service_minutes (
    minute timestamp with time zone NOT NULL,
    probes_passed integer DEFAULT 0 NOT NULL,
    api_probes integer DEFAULT 0 NOT NULL,
    api_failures integer DEFAULT 0 NOT NULL,
    database_failures integer DEFAULT 0 NOT NULL,
    last_failure text,
    CONSTRAINT service_minutes_counts_not_negative CHECK (((probes_passed >= 0) AND (api_probes >= 0) AND (api_failures >= 0) AND (database_failures >= 0))),
    CONSTRAINT service_minutes_last_failure_length CHECK ((length(last_failure) <= 500))
);

ALTER TABLE ONLY compliance_private.service_minutes FORCE ROW LEVEL SECURITY;

ALTER TABLE compliance_private.service_minutes OWNER TO compliance_owner;

--
-- Name: TABLE service_minutes; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON TABLE compliance_private.service_minutes IS 'The worker''s service probes, counted per minute (compliance.record_service_probes). compliance.uptime reads them. Kept 400 days.';

--
-- Name: COLUMN service_minutes.minute; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.service_minutes.minute IS 'The minute (truncated) the probes fell in.';

--
-- Name: COLUMN service_minutes.probes_passed; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.service_minutes.probes_passed IS 'Probes in the minute that found the API answering (or not probed) and the primary writable.';

--
-- Name: COLUMN service_minutes.api_probes; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.service_minutes.api_probes IS 'Probes in the minute that asked the API''s /healthz (none when the worker has no SERVICE_HEALTH_URL).';

--
-- Name: COLUMN service_minutes.api_failures; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.service_minutes.api_failures IS 'Probes in the minute whose /healthz did not answer 200 in 5 s.';

--
-- Name: COLUMN service_minutes.database_failures; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.service_minutes.database_failures IS 'Probes in the minute that could not write to the primary (told once the worker reached it again).';

--
-- Name: COLUMN service_minutes.last_failure; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.service_minutes.last_failure IS 'What the newest failed probe of the minute saw.';

--
-- Name: settings; Type: TABLE; Schema: compliance_private; Owner: compliance_owner
--

CREATE TABLE compliance_private.settings (
    key text NOT NULL,
    value bytea NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE compliance_private.settings OWNER TO compliance_owner;

--
-- Name: TABLE settings; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON TABLE compliance_private.settings IS 'Installation secrets and settings that no client reads.';

--
-- Name: COLUMN settings.key; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.settings.key IS 'Setting name.';

--
-- Name: COLUMN settings.value; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.settings.value IS 'Setting value (bytes).';

--
-- Name: COLUMN settings.created_at; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.settings.created_at IS 'When it was set.';

--
-- Name: tombstone_peppers; Type: TABLE; Schema: compliance_private; Owner: compliance_owner
--

CREATE TABLE compliance_private.tombstone_peppers (
    "position" smallint NOT NULL,
    pepper_check bytea NOT NULL,
    added_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT tombstone_peppers_check_length CHECK ((octet_length(pepper_check) = 32)),
    CONSTRAINT tombstone_peppers_position_positive CHECK (("position" >= 1))
);

ALTER TABLE compliance_private.tombstone_peppers OWNER TO compliance_owner;

--
-- Name: TABLE tombstone_peppers; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON TABLE compliance_private.tombstone_peppers IS 'The peppers every tombstone was hashed under, in order, as check values only (the peppers live outside the database). A session''s compliance.tombstone_pepper keyring must match them one for one.';

--
-- Name: COLUMN tombstone_peppers."position"; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.tombstone_peppers."position" IS 'Order in the keyring: 1 is the first pepper, each rotation adds the next.';

--
-- Name: COLUMN tombstone_peppers.pepper_check; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.tombstone_peppers.pepper_check IS 'compliance_private.tombstone_pepper_check(pepper).';

--
-- Name: COLUMN tombstone_peppers.added_at; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.tombstone_peppers.added_at IS 'When the pepper was adopted or rotated in.';

--
-- Name: worker_heartbeats; Type: TABLE; Schema: compliance_private; Owner: compliance_owner
--

CREATE TABLE compliance_private.worker_heartbeats (
    beat_at timestamp with time zone NOT NULL,
    CONSTRAINT worker_heartbeats_whole_minutes CHECK ((beat_at = date_trunc('minute'::text, beat_at)))
);

ALTER TABLE ONLY compliance_private.worker_heartbeats FORCE ROW LEVEL SECURITY;

ALTER TABLE compliance_private.worker_heartbeats OWNER TO compliance_owner;

--
-- Name: TABLE worker_heartbeats; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON TABLE compliance_private.worker_heartbeats IS 'One row per minute in which a worker was alive (compliance.record_heartbeat, every minute): uptime counts the minutes without one as downtime. Kept for 400 days.';

--
-- Name: COLUMN worker_heartbeats.beat_at; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON COLUMN compliance_private.worker_heartbeats.beat_at IS 'The minute (truncated) a worker beat in.';

--
-- Name: current; Type: TABLE; Schema: graphile_migrate; Owner: compliance_owner
--

CREATE TABLE graphile_migrate.current (
    filename text DEFAULT 'current.sql'::text NOT NULL,
    content text NOT NULL,
    date timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE graphile_migrate.current OWNER TO compliance_owner;

--
-- Name: migrations; Type: TABLE; Schema: graphile_migrate; Owner: compliance_owner
--

CREATE TABLE graphile_migrate.migrations (
    hash text NOT NULL,
    previous_hash text,
    filename text NOT NULL,
    date timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE graphile_migrate.migrations OWNER TO compliance_owner;

--
-- Name: _private_job_queues; Type: TABLE; Schema: graphile_worker; Owner: pgcomply_worker
--

CREATE TABLE graphile_worker._private_job_queues (
    id integer NOT NULL,
    queue_name text NOT NULL,
    locked_at timestamp with time zone,
    locked_by text,
    is_available boolean GENERATED ALWAYS AS ((locked_at IS NULL)) STORED NOT NULL,
    CONSTRAINT job_queues_queue_name_check CHECK ((length(queue_name) <= 128))
);

ALTER TABLE graphile_worker._private_job_queues OWNER TO pgcomply_worker;

--
-- Name: _private_known_crontabs; Type: TABLE; Schema: graphile_worker; Owner: pgcomply_worker
--

CREATE TABLE graphile_worker._private_known_crontabs (
    identifier text NOT NULL,
    known_since timestamp with time zone NOT NULL,
    last_execution timestamp with time zone
);

ALTER TABLE graphile_worker._private_known_crontabs OWNER TO pgcomply_worker;

--
-- Name: _private_tasks; Type: TABLE; Schema: graphile_worker; Owner: pgcomply_worker
--

CREATE TABLE graphile_worker._private_tasks (
    id integer NOT NULL,
    identifier text NOT NULL,
    CONSTRAINT tasks_identifier_check CHECK ((length(identifier) <= 128))
);

ALTER TABLE graphile_worker._private_tasks OWNER TO pgcomply_worker;

--
-- Name: job_queues_id_seq; Type: SEQUENCE; Schema: graphile_worker; Owner: pgcomply_worker
--

ALTER TABLE graphile_worker._private_job_queues ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME graphile_worker.job_queues_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: jobs; Type: VIEW; Schema: graphile_worker; Owner: pgcomply_worker
--

CREATE VIEW graphile_worker.jobs AS
 SELECT jobs.id,
    job_queues.queue_name,
    tasks.identifier AS task_identifier,
    jobs.priority,
    jobs.run_at,
    jobs.attempts,
    jobs.max_attempts,
    jobs.last_error,
    jobs.created_at,
    jobs.updated_at,
    jobs.key,
    jobs.locked_at,
    jobs.locked_by,
    jobs.revision,
    jobs.flags
   FROM ((graphile_worker._private_jobs jobs
     JOIN graphile_worker._private_tasks tasks ON ((tasks.id = jobs.task_id)))
     LEFT JOIN graphile_worker._private_job_queues job_queues ON ((job_queues.id = jobs.job_queue_id)));

ALTER TABLE graphile_worker.jobs OWNER TO pgcomply_worker;

--
-- Name: jobs_id_seq1; Type: SEQUENCE; Schema: graphile_worker; Owner: pgcomply_worker
--

ALTER TABLE graphile_worker._private_jobs ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME graphile_worker.jobs_id_seq1
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: migrations; Type: TABLE; Schema: graphile_worker; Owner: pgcomply_worker
--

CREATE TABLE graphile_worker.migrations (
    id integer NOT NULL,
    ts timestamp with time zone DEFAULT now() NOT NULL,
    breaking boolean DEFAULT false NOT NULL
);

ALTER TABLE graphile_worker.migrations OWNER TO pgcomply_worker;

--
-- Name: tasks_id_seq; Type: SEQUENCE; Schema: graphile_worker; Owner: pgcomply_worker
--

ALTER TABLE graphile_worker._private_tasks ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME graphile_worker.tasks_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: audit_logs_default; Type: TABLE ATTACH; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.audit_logs ATTACH PARTITION compliance.audit_logs_default DEFAULT;

--
-- Name: access_grant_settings access_grant_settings_pkey; Type: CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.access_grant_settings
    ADD CONSTRAINT access_grant_settings_pkey PRIMARY KEY (singleton);

--
-- Name: access_grants access_grants_pkey; Type: CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.access_grants
    ADD CONSTRAINT access_grants_pkey PRIMARY KEY (id);

--
-- Name: access_review_campaigns access_review_campaigns_pkey; Type: CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.access_review_campaigns
    ADD CONSTRAINT access_review_campaigns_pkey PRIMARY KEY (id);

--
-- Name: access_review_items access_review_items_pkey; Type: CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.access_review_items
    ADD CONSTRAINT access_review_items_pkey PRIMARY KEY (id);

--
-- Name: access_review_role_actions access_review_role_actions_pkey; Type: CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.access_review_role_actions
    ADD CONSTRAINT access_review_role_actions_pkey PRIMARY KEY (action);

--
-- Name: alert_outbox alert_outbox_pkey; Type: CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.alert_outbox
    ADD CONSTRAINT alert_outbox_pkey PRIMARY KEY (id);

--
-- Name: audit_logs audit_logs_pkey; Type: CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.audit_logs
    ADD CONSTRAINT audit_logs_pkey PRIMARY KEY (id, occurred_at);

--
-- Name: audit_logs_default audit_logs_default_pkey; Type: CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.audit_logs_default
    ADD CONSTRAINT audit_logs_default_pkey PRIMARY KEY (id, occurred_at);

--
-- Name: audit_seals audit_seals_pkey; Type: CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.audit_seals
    ADD CONSTRAINT audit_seals_pkey PRIMARY KEY (seal_no);

--
-- Name: backup_verifications backup_verifications_pkey; Type: CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.backup_verifications
    ADD CONSTRAINT backup_verifications_pkey PRIMARY KEY (id);

--
-- Name: breach_subjects breach_subjects_pkey; Type: CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.breach_subjects
    ADD CONSTRAINT breach_subjects_pkey PRIMARY KEY (breach_id, user_id);

--
-- Name: breaches breaches_pkey; Type: CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.breaches
    ADD CONSTRAINT breaches_pkey PRIMARY KEY (id);

--
-- Name: check_results check_results_pkey; Type: CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.check_results
    ADD CONSTRAINT check_results_pkey PRIMARY KEY (run_id, check_name);

--
-- Name: check_runs check_runs_pkey; Type: CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.check_runs
    ADD CONSTRAINT check_runs_pkey PRIMARY KEY (id);

--
-- Name: compliance_check_settings compliance_check_settings_pkey; Type: CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.compliance_check_settings
    ADD CONSTRAINT compliance_check_settings_pkey PRIMARY KEY (singleton);

--
-- Name: consent_purposes consent_purposes_pkey; Type: CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.consent_purposes
    ADD CONSTRAINT consent_purposes_pkey PRIMARY KEY (purpose);

--
-- Name: consent_records consent_records_pkey; Type: CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.consent_records
    ADD CONSTRAINT consent_records_pkey PRIMARY KEY (id);

--
-- Name: conversations conversations_owner_key; Type: CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.conversations
    ADD CONSTRAINT conversations_owner_key UNIQUE (conversation_id, user_id);

--
-- Name: conversations conversations_pkey; Type: CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.conversations
    ADD CONSTRAINT conversations_pkey PRIMARY KEY (conversation_id);

--
-- Name: dsr_requests dsr_requests_pkey; Type: CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.dsr_requests
    ADD CONSTRAINT dsr_requests_pkey PRIMARY KEY (id);

--
-- Name: erased_consent_proofs erased_consent_proofs_pkey; Type: CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.erased_consent_proofs
    ADD CONSTRAINT erased_consent_proofs_pkey PRIMARY KEY (id);

--
-- Name: erasure_settings erasure_settings_pkey; Type: CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.erasure_settings
    ADD CONSTRAINT erasure_settings_pkey PRIMARY KEY (singleton);

--
-- Name: evidence_packages evidence_packages_pkey; Type: CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.evidence_packages
    ADD CONSTRAINT evidence_packages_pkey PRIMARY KEY (id);

--
-- Name: evidence_populations evidence_populations_pkey; Type: CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.evidence_populations
    ADD CONSTRAINT evidence_populations_pkey PRIMARY KEY (name);

--
-- Name: health_record_categories health_record_categories_pkey; Type: CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.health_record_categories
    ADD CONSTRAINT health_record_categories_pkey PRIMARY KEY (category);

--
-- Name: health_records health_records_pkey; Type: CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.health_records
    ADD CONSTRAINT health_records_pkey PRIMARY KEY (id);

--
-- Name: legal_holds legal_holds_pkey; Type: CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.legal_holds
    ADD CONSTRAINT legal_holds_pkey PRIMARY KEY (id);

--
-- Name: messages messages_pkey; Type: CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.messages
    ADD CONSTRAINT messages_pkey PRIMARY KEY (id);

--
-- Name: not_personal_columns not_personal_columns_pkey; Type: CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.not_personal_columns
    ADD CONSTRAINT not_personal_columns_pkey PRIMARY KEY (relation, column_name);

--
-- Name: personal_data_categories personal_data_categories_pkey; Type: CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.personal_data_categories
    ADD CONSTRAINT personal_data_categories_pkey PRIMARY KEY (category);

--
-- Name: personal_tables personal_tables_pkey; Type: CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.personal_tables
    ADD CONSTRAINT personal_tables_pkey PRIMARY KEY (relation);

--
-- Name: phi_access_review_settings phi_access_review_settings_pkey; Type: CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.phi_access_review_settings
    ADD CONSTRAINT phi_access_review_settings_pkey PRIMARY KEY (singleton);

--
-- Name: reports reports_pkey; Type: CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.reports
    ADD CONSTRAINT reports_pkey PRIMARY KEY (id);

--
-- Name: retention_policies retention_policies_pkey; Type: CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.retention_policies
    ADD CONSTRAINT retention_policies_pkey PRIMARY KEY (category);

--
-- Name: sessions sessions_pkey; Type: CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.sessions
    ADD CONSTRAINT sessions_pkey PRIMARY KEY (id);

--
-- Name: user_preferences user_preferences_pkey; Type: CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.user_preferences
    ADD CONSTRAINT user_preferences_pkey PRIMARY KEY (user_id);

--
-- Name: user_profiles user_profiles_pkey; Type: CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.user_profiles
    ADD CONSTRAINT user_profiles_pkey PRIMARY KEY (user_id);

--
-- Name: audit_seal_head audit_seal_head_pkey; Type: CONSTRAINT; Schema: compliance_private; Owner: compliance_owner
--

ALTER TABLE ONLY compliance_private.audit_seal_head
    ADD CONSTRAINT audit_seal_head_pkey PRIMARY KEY (singleton);

--
-- Name: bulk_operations bulk_operations_pkey; Type: CONSTRAINT; Schema: compliance_private; Owner: compliance_owner
--

ALTER TABLE ONLY compliance_private.bulk_operations
    ADD CONSTRAINT bulk_operations_pkey PRIMARY KEY (xact_id, kind);

--
-- Name: clock_override clock_override_pkey; Type: CONSTRAINT; Schema: compliance_private; Owner: compliance_owner
--

ALTER TABLE ONLY compliance_private.clock_override
    ADD CONSTRAINT clock_override_pkey PRIMARY KEY (singleton);

--
-- Name: database_identity database_identity_pkey; Type: CONSTRAINT; Schema: compliance_private; Owner: compliance_owner
--

ALTER TABLE ONLY compliance_private.database_identity
    ADD CONSTRAINT database_identity_pkey PRIMARY KEY (singleton);

--
-- Name: erased_subjects erased_subjects_pkey; Type: CONSTRAINT; Schema: compliance_private; Owner: compliance_owner
--

ALTER TABLE ONLY compliance_private.erased_subjects
    ADD CONSTRAINT erased_subjects_pkey PRIMARY KEY (subject_digest);

--
-- Name: expected_grants expected_grants_pkey; Type: CONSTRAINT; Schema: compliance_private; Owner: compliance_owner
--

ALTER TABLE ONLY compliance_private.expected_grants
    ADD CONSTRAINT expected_grants_pkey PRIMARY KEY (object_name, grantee, privilege);

--
-- Name: phi_access_review_progress phi_access_review_progress_pkey; Type: CONSTRAINT; Schema: compliance_private; Owner: compliance_owner
--

ALTER TABLE ONLY compliance_private.phi_access_review_progress
    ADD CONSTRAINT phi_access_review_progress_pkey PRIMARY KEY (singleton);

--
-- Name: refusal_windows refusal_windows_pkey; Type: CONSTRAINT; Schema: compliance_private; Owner: compliance_owner
--

ALTER TABLE ONLY compliance_private.refusal_windows
    ADD CONSTRAINT refusal_windows_pkey UNIQUE NULLS NOT DISTINCT (client_ip, reason, window_start);

--
-- Name: request_keys request_keys_pkey; Type: CONSTRAINT; Schema: compliance_private; Owner: compliance_owner
--

ALTER TABLE ONLY compliance_private.request_keys
    ADD CONSTRAINT request_keys_pkey PRIMARY KEY (key_digest);

--
-- Name: service_minutes service_minutes_pkey; Type: CONSTRAINT; Schema: compliance_private; Owner: compliance_owner
--

ALTER TABLE ONLY compliance_private.service_minutes
    ADD CONSTRAINT service_minutes_pkey PRIMARY KEY (minute);

--
-- Name: settings settings_pkey; Type: CONSTRAINT; Schema: compliance_private; Owner: compliance_owner
--

ALTER TABLE ONLY compliance_private.settings
    ADD CONSTRAINT settings_pkey PRIMARY KEY (key);

--
-- Name: standby_read_leases standby_read_leases_pkey; Type: CONSTRAINT; Schema: compliance_private; Owner: compliance_owner
--

ALTER TABLE ONLY compliance_private.standby_read_leases
    ADD CONSTRAINT standby_read_leases_pkey PRIMARY KEY (ticket);

--
-- Name: subject_keys subject_keys_pkey; Type: CONSTRAINT; Schema: compliance_private; Owner: compliance_owner
--

ALTER TABLE ONLY compliance_private.subject_keys
    ADD CONSTRAINT subject_keys_pkey PRIMARY KEY (user_id, key_version);

--
-- Name: tombstone_peppers tombstone_peppers_pkey; Type: CONSTRAINT; Schema: compliance_private; Owner: compliance_owner
--

ALTER TABLE ONLY compliance_private.tombstone_peppers
    ADD CONSTRAINT tombstone_peppers_pkey PRIMARY KEY ("position");

--
-- Name: worker_heartbeats worker_heartbeats_pkey; Type: CONSTRAINT; Schema: compliance_private; Owner: compliance_owner
--

ALTER TABLE ONLY compliance_private.worker_heartbeats
    ADD CONSTRAINT worker_heartbeats_pkey PRIMARY KEY (beat_at);

--
-- Name: current current_pkey; Type: CONSTRAINT; Schema: graphile_migrate; Owner: compliance_owner
--

ALTER TABLE ONLY graphile_migrate.current
    ADD CONSTRAINT current_pkey PRIMARY KEY (filename);

--
-- Name: migrations migrations_pkey; Type: CONSTRAINT; Schema: graphile_migrate; Owner: compliance_owner
--

ALTER TABLE ONLY graphile_migrate.migrations
    ADD CONSTRAINT migrations_pkey PRIMARY KEY (hash);

--
-- Name: _private_job_queues job_queues_pkey1; Type: CONSTRAINT; Schema: graphile_worker; Owner: pgcomply_worker
--

ALTER TABLE ONLY graphile_worker._private_job_queues
    ADD CONSTRAINT job_queues_pkey1 PRIMARY KEY (id);

--
-- Name: _private_job_queues job_queues_queue_name_key; Type: CONSTRAINT; Schema: graphile_worker; Owner: pgcomply_worker
--

ALTER TABLE ONLY graphile_worker._private_job_queues
    ADD CONSTRAINT job_queues_queue_name_key UNIQUE (queue_name);

--
-- Name: _private_jobs jobs_key_key1; Type: CONSTRAINT; Schema: graphile_worker; Owner: pgcomply_worker
--

ALTER TABLE ONLY graphile_worker._private_jobs
    ADD CONSTRAINT jobs_key_key1 UNIQUE (key);

--
-- Name: _private_jobs jobs_pkey1; Type: CONSTRAINT; Schema: graphile_worker; Owner: pgcomply_worker
--

ALTER TABLE ONLY graphile_worker._private_jobs
    ADD CONSTRAINT jobs_pkey1 PRIMARY KEY (id);

--
-- Name: _private_known_crontabs known_crontabs_pkey; Type: CONSTRAINT; Schema: graphile_worker; Owner: pgcomply_worker
--

ALTER TABLE ONLY graphile_worker._private_known_crontabs
    ADD CONSTRAINT known_crontabs_pkey PRIMARY KEY (identifier);

--
-- Name: migrations migrations_pkey; Type: CONSTRAINT; Schema: graphile_worker; Owner: pgcomply_worker
--

ALTER TABLE ONLY graphile_worker.migrations
    ADD CONSTRAINT migrations_pkey PRIMARY KEY (id);

--
-- Name: _private_tasks tasks_identifier_key; Type: CONSTRAINT; Schema: graphile_worker; Owner: pgcomply_worker
--

ALTER TABLE ONLY graphile_worker._private_tasks
    ADD CONSTRAINT tasks_identifier_key UNIQUE (identifier);

--
-- Name: _private_tasks tasks_pkey; Type: CONSTRAINT; Schema: graphile_worker; Owner: pgcomply_worker
--

ALTER TABLE ONLY graphile_worker._private_tasks
    ADD CONSTRAINT tasks_pkey PRIMARY KEY (id);

--
-- Name: access_grants_grantee_idx; Type: INDEX; Schema: compliance; Owner: compliance_owner
--

CREATE INDEX access_grants_grantee_idx ON compliance.access_grants USING btree (grantee, user_id) WHERE (revoked_at IS NULL);

--
-- Name: access_grants_open_review_idx; Type: INDEX; Schema: compliance; Owner: compliance_owner
--

CREATE INDEX access_grants_open_review_idx ON compliance.access_grants USING btree (review_due_at) WHERE ((kind = 'emergency'::text) AND (reviewed_at IS NULL));

--
-- Name: access_grants_pending_idx; Type: INDEX; Schema: compliance; Owner: compliance_owner
--

CREATE INDEX access_grants_pending_idx ON compliance.access_grants USING btree (requested_at) WHERE ((approved_at IS NULL) AND (denied_at IS NULL) AND (kind = 'assignment'::text));

--
-- Name: access_grants_user_id_idx; Type: INDEX; Schema: compliance; Owner: compliance_owner
--

CREATE INDEX access_grants_user_id_idx ON compliance.access_grants USING btree (user_id);

--
-- Name: access_review_items_campaign; Type: INDEX; Schema: compliance; Owner: compliance_owner
--

CREATE INDEX access_review_items_campaign ON compliance.access_review_items USING btree (campaign_id, kind, id);

--
-- Name: INDEX access_review_items_campaign; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON INDEX compliance.access_review_items_campaign IS 'A campaign''s worklist in order.';

--
-- Name: access_review_items_grant; Type: INDEX; Schema: compliance; Owner: compliance_owner
--

CREATE INDEX access_review_items_grant ON compliance.access_review_items USING btree (grant_id) WHERE (grant_id IS NOT NULL);

--
-- Name: INDEX access_review_items_grant; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON INDEX compliance.access_review_items_grant IS 'The reviews of a grant.';

--
-- Name: alert_outbox_due_idx; Type: INDEX; Schema: compliance; Owner: compliance_owner
--

CREATE INDEX alert_outbox_due_idx ON compliance.alert_outbox USING btree (next_attempt_at) WHERE (state = 'pending'::text);

--
-- Name: audit_logs_action_idx; Type: INDEX; Schema: compliance; Owner: compliance_owner
--

CREATE INDEX audit_logs_action_idx ON ONLY compliance.audit_logs USING btree (action, occurred_at);

--
-- Name: audit_logs_actor_id_idx; Type: INDEX; Schema: compliance; Owner: compliance_owner
--

CREATE INDEX audit_logs_actor_id_idx ON ONLY compliance.audit_logs USING btree (actor_id) WHERE (actor_id IS NOT NULL);

--
-- Name: audit_logs_default_action_occurred_at_idx; Type: INDEX; Schema: compliance; Owner: compliance_owner
--

CREATE INDEX audit_logs_default_action_occurred_at_idx ON compliance.audit_logs_default USING btree (action, occurred_at);

--
-- Name: audit_logs_default_actor_id_idx; Type: INDEX; Schema: compliance; Owner: compliance_owner
--

CREATE INDEX audit_logs_default_actor_id_idx ON compliance.audit_logs_default USING btree (actor_id) WHERE (actor_id IS NOT NULL);

--
-- Name: audit_logs_occurred_at_idx; Type: INDEX; Schema: compliance; Owner: compliance_owner
--

CREATE INDEX audit_logs_occurred_at_idx ON ONLY compliance.audit_logs USING brin (occurred_at);

--
-- Name: audit_logs_default_occurred_at_idx; Type: INDEX; Schema: compliance; Owner: compliance_owner
--

CREATE INDEX audit_logs_default_occurred_at_idx ON compliance.audit_logs_default USING brin (occurred_at);

--
-- Name: audit_logs_health_record_writes_idx; Type: INDEX; Schema: compliance; Owner: compliance_owner
--

CREATE INDEX audit_logs_health_record_writes_idx ON ONLY compliance.audit_logs USING btree (resource_id, id) WHERE ((resource_type = 'health_record'::text) AND (action = ANY (ARRAY['phi.created'::text, 'phi.updated'::text])));

--
-- Name: INDEX audit_logs_health_record_writes_idx; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON INDEX compliance.audit_logs_health_record_writes_idx IS 'Finds a health record''s newest write (read_health_records compares it with the stored version).';

--
-- Name: audit_logs_default_resource_id_id_idx; Type: INDEX; Schema: compliance; Owner: compliance_owner
--

CREATE INDEX audit_logs_default_resource_id_id_idx ON compliance.audit_logs_default USING btree (resource_id, id) WHERE ((resource_type = 'health_record'::text) AND (action = ANY (ARRAY['phi.created'::text, 'phi.updated'::text])));

--
-- Name: audit_logs_user_id_idx; Type: INDEX; Schema: compliance; Owner: compliance_owner
--

CREATE INDEX audit_logs_user_id_idx ON ONLY compliance.audit_logs USING btree (user_id, occurred_at) WHERE (user_id IS NOT NULL);

--
-- Name: audit_logs_default_user_id_occurred_at_idx; Type: INDEX; Schema: compliance; Owner: compliance_owner
--

CREATE INDEX audit_logs_default_user_id_occurred_at_idx ON compliance.audit_logs_default USING btree (user_id, occurred_at) WHERE (user_id IS NOT NULL);

--
-- Name: audit_logs_seal_order_idx; Type: INDEX; Schema: compliance; Owner: compliance_owner
--

CREATE INDEX audit_logs_seal_order_idx ON ONLY compliance.audit_logs USING btree (xact_id, id);

--
-- Name: audit_logs_default_xact_id_id_idx; Type: INDEX; Schema: compliance; Owner: compliance_owner
--

CREATE INDEX audit_logs_default_xact_id_id_idx ON compliance.audit_logs_default USING btree (xact_id, id);

--
-- Name: breach_subjects_user_id_idx; Type: INDEX; Schema: compliance; Owner: compliance_owner
--

CREATE INDEX breach_subjects_user_id_idx ON compliance.breach_subjects USING btree (user_id);

--
-- Name: consent_records_current_idx; Type: INDEX; Schema: compliance; Owner: compliance_owner
--

CREATE INDEX consent_records_current_idx ON compliance.consent_records USING btree (user_id, purpose, recorded_at DESC, id DESC) INCLUDE (granted);

--
-- Name: consent_records_purpose_idx; Type: INDEX; Schema: compliance; Owner: compliance_owner
--

CREATE INDEX consent_records_purpose_idx ON compliance.consent_records USING btree (purpose);

--
-- Name: consent_records_recorded_at_idx; Type: INDEX; Schema: compliance; Owner: compliance_owner
--

CREATE INDEX consent_records_recorded_at_idx ON compliance.consent_records USING btree (recorded_at);

--
-- Name: conversations_last_message_at_idx; Type: INDEX; Schema: compliance; Owner: compliance_owner
--

CREATE INDEX conversations_last_message_at_idx ON compliance.conversations USING btree (last_message_at);

--
-- Name: conversations_user_id_idx; Type: INDEX; Schema: compliance; Owner: compliance_owner
--

CREATE INDEX conversations_user_id_idx ON compliance.conversations USING btree (user_id, last_message_at DESC);

--
-- Name: dsr_requests_open_idx; Type: INDEX; Schema: compliance; Owner: compliance_owner
--

CREATE INDEX dsr_requests_open_idx ON compliance.dsr_requests USING btree (due_at) WHERE (completed_at IS NULL);

--
-- Name: dsr_requests_received_at_idx; Type: INDEX; Schema: compliance; Owner: compliance_owner
--

CREATE INDEX dsr_requests_received_at_idx ON compliance.dsr_requests USING btree (received_at);

--
-- Name: dsr_requests_user_id_idx; Type: INDEX; Schema: compliance; Owner: compliance_owner
--

CREATE INDEX dsr_requests_user_id_idx ON compliance.dsr_requests USING btree (user_id);

--
-- Name: erased_consent_proofs_recorded_at_idx; Type: INDEX; Schema: compliance; Owner: compliance_owner
--

CREATE INDEX erased_consent_proofs_recorded_at_idx ON compliance.erased_consent_proofs USING btree (recorded_at);

--
-- Name: erased_consent_proofs_subject_digest_idx; Type: INDEX; Schema: compliance; Owner: compliance_owner
--

CREATE INDEX erased_consent_proofs_subject_digest_idx ON compliance.erased_consent_proofs USING btree (subject_digest);

--
-- Name: health_records_recorded_by_idx; Type: INDEX; Schema: compliance; Owner: compliance_owner
--

CREATE INDEX health_records_recorded_by_idx ON compliance.health_records USING btree (recorded_by) WHERE (recorded_by IS NOT NULL);

--
-- Name: health_records_user_id_idx; Type: INDEX; Schema: compliance; Owner: compliance_owner
--

CREATE INDEX health_records_user_id_idx ON compliance.health_records USING btree (user_id, recorded_at);

--
-- Name: legal_holds_one_active_idx; Type: INDEX; Schema: compliance; Owner: compliance_owner
--

CREATE UNIQUE INDEX legal_holds_one_active_idx ON compliance.legal_holds USING btree (user_id) WHERE (released_at IS NULL);

--
-- Name: legal_holds_user_id_idx; Type: INDEX; Schema: compliance; Owner: compliance_owner
--

CREATE INDEX legal_holds_user_id_idx ON compliance.legal_holds USING btree (user_id);

--
-- Name: messages_conversation_idx; Type: INDEX; Schema: compliance; Owner: compliance_owner
--

CREATE INDEX messages_conversation_idx ON compliance.messages USING btree (conversation_id, user_id, id);

--
-- Name: messages_user_id_idx; Type: INDEX; Schema: compliance; Owner: compliance_owner
--

CREATE INDEX messages_user_id_idx ON compliance.messages USING btree (user_id);

--
-- Name: reports_period; Type: INDEX; Schema: compliance; Owner: compliance_owner
--

CREATE INDEX reports_period ON compliance.reports USING btree (kind, period_from, id);

--
-- Name: INDEX reports_period; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON INDEX compliance.reports_period IS 'The newest report of a month.';

--
-- Name: sessions_last_activity_at_idx; Type: INDEX; Schema: compliance; Owner: compliance_owner
--

CREATE INDEX sessions_last_activity_at_idx ON compliance.sessions USING btree (last_activity_at);

--
-- Name: sessions_user_id_idx; Type: INDEX; Schema: compliance; Owner: compliance_owner
--

CREATE INDEX sessions_user_id_idx ON compliance.sessions USING btree (user_id, last_activity_at DESC);

--
-- Name: request_keys_claimed_at_idx; Type: INDEX; Schema: compliance_private; Owner: compliance_owner
--

CREATE INDEX request_keys_claimed_at_idx ON compliance_private.request_keys USING btree (claimed_at);

--
-- Name: jobs_main_index; Type: INDEX; Schema: graphile_worker; Owner: pgcomply_worker
--

CREATE INDEX jobs_main_index ON graphile_worker._private_jobs USING btree (priority, run_at) INCLUDE (id, task_id, job_queue_id) WHERE (is_available = true);

--
-- Name: jobs_no_queue_index; Type: INDEX; Schema: graphile_worker; Owner: pgcomply_worker
--

CREATE INDEX jobs_no_queue_index ON graphile_worker._private_jobs USING btree (priority, run_at) INCLUDE (id, task_id) WHERE ((is_available = true) AND (job_queue_id IS NULL));

--
-- Name: audit_logs_default_action_occurred_at_idx; Type: INDEX ATTACH; Schema: compliance; Owner: compliance_owner
--

ALTER INDEX compliance.audit_logs_action_idx ATTACH PARTITION compliance.audit_logs_default_action_occurred_at_idx;

--
-- Name: audit_logs_default_actor_id_idx; Type: INDEX ATTACH; Schema: compliance; Owner: compliance_owner
--

ALTER INDEX compliance.audit_logs_actor_id_idx ATTACH PARTITION compliance.audit_logs_default_actor_id_idx;

--
-- Name: audit_logs_default_occurred_at_idx; Type: INDEX ATTACH; Schema: compliance; Owner: compliance_owner
--

ALTER INDEX compliance.audit_logs_occurred_at_idx ATTACH PARTITION compliance.audit_logs_default_occurred_at_idx;

--
-- Name: audit_logs_default_pkey; Type: INDEX ATTACH; Schema: compliance; Owner: compliance_owner
--

ALTER INDEX compliance.audit_logs_pkey ATTACH PARTITION compliance.audit_logs_default_pkey;

--
-- Name: audit_logs_default_resource_id_id_idx; Type: INDEX ATTACH; Schema: compliance; Owner: compliance_owner
--

ALTER INDEX compliance.audit_logs_health_record_writes_idx ATTACH PARTITION compliance.audit_logs_default_resource_id_id_idx;

--
-- Name: audit_logs_default_user_id_occurred_at_idx; Type: INDEX ATTACH; Schema: compliance; Owner: compliance_owner
--

ALTER INDEX compliance.audit_logs_user_id_idx ATTACH PARTITION compliance.audit_logs_default_user_id_occurred_at_idx;

--
-- Name: audit_logs_default_xact_id_id_idx; Type: INDEX ATTACH; Schema: compliance; Owner: compliance_owner
--

ALTER INDEX compliance.audit_logs_seal_order_idx ATTACH PARTITION compliance.audit_logs_default_xact_id_id_idx;

--
-- Name: access_review_campaign_status _RETURN; Type: RULE; Schema: compliance; Owner: compliance_owner
--

CREATE OR REPLACE VIEW compliance.access_review_campaign_status WITH (security_barrier='true') AS
 SELECT c.id,
    c.opened_at,
    c.due_at,
    c.completed_at,
    count(i.id) AS items,
    count(i.id) FILTER (WHERE (i.decided_at IS NOT NULL)) AS decided,
    count(i.id) FILTER (WHERE (i.decision = 'keep'::text)) AS kept,
    count(i.id) FILTER (WHERE (i.decision = 'revoke'::text)) AS revoked,
    ((c.completed_at IS NULL) AND (c.due_at < now())) AS overdue
   FROM (compliance.access_review_campaigns c
     LEFT JOIN compliance.access_review_items i ON ((i.campaign_id = c.id)))
  GROUP BY c.id;

--
-- Name: conversations _005_refuse_foreign_key_value; Type: TRIGGER; Schema: compliance; Owner: compliance_owner
--

CREATE TRIGGER _005_refuse_foreign_key_value BEFORE INSERT ON compliance.conversations FOR EACH ROW EXECUTE FUNCTION compliance_private.tg__refuse_foreign_key_value('conversation_id');

--
-- Name: sessions _005_refuse_foreign_key_value; Type: TRIGGER; Schema: compliance; Owner: compliance_owner
--

CREATE TRIGGER _005_refuse_foreign_key_value BEFORE INSERT ON compliance.sessions FOR EACH ROW EXECUTE FUNCTION compliance_private.tg__refuse_foreign_key_value('id');

--
-- Name: consent_records _010_append_only; Type: TRIGGER; Schema: compliance; Owner: compliance_owner
--

CREATE TRIGGER _010_append_only BEFORE DELETE OR UPDATE ON compliance.consent_records FOR EACH ROW EXECUTE FUNCTION compliance_private.tg_consent_records__append_only();

--
-- Name: audit_logs _010_refuse_change; Type: TRIGGER; Schema: compliance; Owner: compliance_owner
--

CREATE TRIGGER _010_refuse_change BEFORE DELETE OR UPDATE OR TRUNCATE ON compliance.audit_logs FOR EACH STATEMENT EXECUTE FUNCTION compliance_private.tg_audit_logs__refuse_change();

--
-- Name: audit_logs_default _010_refuse_change; Type: TRIGGER; Schema: compliance; Owner: compliance_owner
--

CREATE TRIGGER _010_refuse_change BEFORE DELETE OR UPDATE OR TRUNCATE ON compliance.audit_logs_default FOR EACH STATEMENT EXECUTE FUNCTION compliance_private.tg_audit_logs__refuse_change();

--
-- Name: audit_seals _010_refuse_change; Type: TRIGGER; Schema: compliance; Owner: compliance_owner
--

CREATE TRIGGER _010_refuse_change BEFORE DELETE OR UPDATE OR TRUNCATE ON compliance.audit_seals FOR EACH STATEMENT EXECUTE FUNCTION compliance_private.tg_audit_logs__refuse_change();

--
-- Name: user_profiles _010_refuse_erased; Type: TRIGGER; Schema: compliance; Owner: compliance_owner
--

CREATE TRIGGER _010_refuse_erased AFTER INSERT ON compliance.user_profiles REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION compliance_private.tg_user_profiles__refuse_erased();

--
-- Name: consent_records _011_append_only_truncate; Type: TRIGGER; Schema: compliance; Owner: compliance_owner
--

CREATE TRIGGER _011_append_only_truncate BEFORE TRUNCATE ON compliance.consent_records FOR EACH STATEMENT EXECUTE FUNCTION compliance_private.tg_consent_records__append_only();

--
-- Name: audit_logs _020_only_redaction; Type: TRIGGER; Schema: compliance; Owner: compliance_owner
--

CREATE TRIGGER _020_only_redaction BEFORE UPDATE ON compliance.audit_logs FOR EACH ROW EXECUTE FUNCTION compliance_private.tg_audit_logs__only_redaction();

--
-- Name: legal_holds _050_lock_subject; Type: TRIGGER; Schema: compliance; Owner: compliance_owner
--

CREATE TRIGGER _050_lock_subject BEFORE INSERT ON compliance.legal_holds FOR EACH ROW EXECUTE FUNCTION compliance_private.tg_legal_holds__lock_subject();

--
-- Name: user_profiles _050_refuse_delete_under_hold; Type: TRIGGER; Schema: compliance; Owner: compliance_owner
--

CREATE TRIGGER _050_refuse_delete_under_hold BEFORE DELETE ON compliance.user_profiles FOR EACH ROW EXECUTE FUNCTION compliance_private.tg_user_profiles__refuse_delete_under_hold();

--
-- Name: dsr_requests _100_set_due_at; Type: TRIGGER; Schema: compliance; Owner: compliance_owner
--

CREATE TRIGGER _100_set_due_at BEFORE INSERT OR UPDATE OF received_at ON compliance.dsr_requests FOR EACH ROW EXECUTE FUNCTION compliance_private.tg_dsr_requests__set_due_at();

--
-- Name: breaches _100_set_updated_at; Type: TRIGGER; Schema: compliance; Owner: compliance_owner
--

CREATE TRIGGER _100_set_updated_at BEFORE UPDATE ON compliance.breaches FOR EACH ROW EXECUTE FUNCTION compliance_private.tg__set_updated_at();

--
-- Name: health_records _100_set_updated_at; Type: TRIGGER; Schema: compliance; Owner: compliance_owner
--

CREATE TRIGGER _100_set_updated_at BEFORE UPDATE ON compliance.health_records FOR EACH ROW EXECUTE FUNCTION compliance_private.tg__set_updated_at();

--
-- Name: retention_policies _100_set_updated_at; Type: TRIGGER; Schema: compliance; Owner: compliance_owner
--

CREATE TRIGGER _100_set_updated_at BEFORE UPDATE ON compliance.retention_policies FOR EACH ROW EXECUTE FUNCTION compliance_private.tg__set_updated_at();

--
-- Name: user_preferences _100_set_updated_at; Type: TRIGGER; Schema: compliance; Owner: compliance_owner
--

CREATE TRIGGER _100_set_updated_at BEFORE UPDATE ON compliance.user_preferences FOR EACH ROW EXECUTE FUNCTION compliance_private.tg__set_updated_at();

--
-- Name: user_profiles _100_set_updated_at; Type: TRIGGER; Schema: compliance; Owner: compliance_owner
--

CREATE TRIGGER _100_set_updated_at BEFORE UPDATE ON compliance.user_profiles FOR EACH ROW EXECUTE FUNCTION compliance_private.tg__set_updated_at();

--
-- Name: consent_records _900_audit; Type: TRIGGER; Schema: compliance; Owner: compliance_owner
--

CREATE TRIGGER _900_audit AFTER UPDATE ON compliance.consent_records FOR EACH ROW EXECUTE FUNCTION compliance_private.tg__audit_row_change('consent', 'id', 'recorded', 'updated', 'deleted');

--
-- Name: conversations _900_audit; Type: TRIGGER; Schema: compliance; Owner: compliance_owner
--

CREATE TRIGGER _900_audit AFTER UPDATE ON compliance.conversations FOR EACH ROW EXECUTE FUNCTION compliance_private.tg__audit_row_change('conversation', 'conversation_id', 'created', 'updated', 'deleted');

--
-- Name: dsr_requests _900_audit; Type: TRIGGER; Schema: compliance; Owner: compliance_owner
--

CREATE TRIGGER _900_audit AFTER UPDATE ON compliance.dsr_requests FOR EACH ROW EXECUTE FUNCTION compliance_private.tg__audit_row_change('dsr_request', 'id', 'received', 'updated', 'deleted');

--
-- Name: legal_holds _900_audit; Type: TRIGGER; Schema: compliance; Owner: compliance_owner
--

CREATE TRIGGER _900_audit AFTER UPDATE ON compliance.legal_holds FOR EACH ROW EXECUTE FUNCTION compliance_private.tg__audit_row_change('legal_hold', 'id', 'placed', 'released', 'deleted');

--
-- Name: messages _900_audit; Type: TRIGGER; Schema: compliance; Owner: compliance_owner
--

CREATE TRIGGER _900_audit AFTER UPDATE ON compliance.messages FOR EACH ROW EXECUTE FUNCTION compliance_private.tg__audit_row_change('message', 'id', 'created', 'updated', 'deleted');

--
-- Name: retention_policies _900_audit; Type: TRIGGER; Schema: compliance; Owner: compliance_owner
--

CREATE TRIGGER _900_audit AFTER UPDATE ON compliance.retention_policies FOR EACH ROW EXECUTE FUNCTION compliance_private.tg_retention_policies__audit();

--
-- Name: sessions _900_audit; Type: TRIGGER; Schema: compliance; Owner: compliance_owner
--

CREATE TRIGGER _900_audit AFTER UPDATE ON compliance.sessions FOR EACH ROW EXECUTE FUNCTION compliance_private.tg__audit_row_change('session', 'id', 'created', 'updated', 'deleted');

--
-- Name: user_preferences _900_audit; Type: TRIGGER; Schema: compliance; Owner: compliance_owner
--

CREATE TRIGGER _900_audit AFTER UPDATE ON compliance.user_preferences FOR EACH ROW EXECUTE FUNCTION compliance_private.tg__audit_row_change('preferences', '', 'created', 'updated', 'deleted');

--
-- Name: user_profiles _900_audit; Type: TRIGGER; Schema: compliance; Owner: compliance_owner
--

CREATE TRIGGER _900_audit AFTER UPDATE ON compliance.user_profiles FOR EACH ROW EXECUTE FUNCTION compliance_private.tg__audit_row_change('profile', '', 'created', 'updated', 'deleted');

--
-- Name: consent_records _901_audit_deleted; Type: TRIGGER; Schema: compliance; Owner: compliance_owner
--

CREATE TRIGGER _901_audit_deleted AFTER DELETE ON compliance.consent_records REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION compliance_private.tg__audit_deleted_rows('consent', 'id', 'recorded', 'updated', 'deleted');

--
-- Name: conversations _901_audit_deleted; Type: TRIGGER; Schema: compliance; Owner: compliance_owner
--

CREATE TRIGGER _901_audit_deleted AFTER DELETE ON compliance.conversations REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION compliance_private.tg__audit_deleted_rows('conversation', 'conversation_id', 'created', 'updated', 'deleted');

--
-- Name: dsr_requests _901_audit_deleted; Type: TRIGGER; Schema: compliance; Owner: compliance_owner
--

CREATE TRIGGER _901_audit_deleted AFTER DELETE ON compliance.dsr_requests REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION compliance_private.tg__audit_deleted_rows('dsr_request', 'id', 'received', 'updated', 'deleted');

--
-- Name: legal_holds _901_audit_deleted; Type: TRIGGER; Schema: compliance; Owner: compliance_owner
--

CREATE TRIGGER _901_audit_deleted AFTER DELETE ON compliance.legal_holds REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION compliance_private.tg__audit_deleted_rows('legal_hold', 'id', 'placed', 'released', 'deleted');

--
-- Name: messages _901_audit_deleted; Type: TRIGGER; Schema: compliance; Owner: compliance_owner
--

CREATE TRIGGER _901_audit_deleted AFTER DELETE ON compliance.messages REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION compliance_private.tg__audit_deleted_rows('message', 'id', 'created', 'updated', 'deleted');

--
-- Name: sessions _901_audit_deleted; Type: TRIGGER; Schema: compliance; Owner: compliance_owner
--

CREATE TRIGGER _901_audit_deleted AFTER DELETE ON compliance.sessions REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION compliance_private.tg__audit_deleted_rows('session', 'id', 'created', 'updated', 'deleted');

--
-- Name: user_preferences _901_audit_deleted; Type: TRIGGER; Schema: compliance; Owner: compliance_owner
--

CREATE TRIGGER _901_audit_deleted AFTER DELETE ON compliance.user_preferences REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION compliance_private.tg__audit_deleted_rows('preferences', '', 'created', 'updated', 'deleted');

--
-- Name: user_profiles _901_audit_deleted; Type: TRIGGER; Schema: compliance; Owner: compliance_owner
--

CREATE TRIGGER _901_audit_deleted AFTER DELETE ON compliance.user_profiles REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION compliance_private.tg__audit_deleted_rows('profile', '', 'created', 'updated', 'deleted');

--
-- Name: consent_records _902_audit_inserted; Type: TRIGGER; Schema: compliance; Owner: compliance_owner
--

CREATE TRIGGER _902_audit_inserted AFTER INSERT ON compliance.consent_records REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION compliance_private.tg__audit_inserted_rows('consent', 'id', 'recorded', 'updated', 'deleted');

--
-- Name: conversations _902_audit_inserted; Type: TRIGGER; Schema: compliance; Owner: compliance_owner
--

CREATE TRIGGER _902_audit_inserted AFTER INSERT ON compliance.conversations REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION compliance_private.tg__audit_inserted_rows('conversation', 'conversation_id', 'created', 'updated', 'deleted');

--
-- Name: dsr_requests _902_audit_inserted; Type: TRIGGER; Schema: compliance; Owner: compliance_owner
--

CREATE TRIGGER _902_audit_inserted AFTER INSERT ON compliance.dsr_requests REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION compliance_private.tg__audit_inserted_rows('dsr_request', 'id', 'received', 'updated', 'deleted');

--
-- Name: legal_holds _902_audit_inserted; Type: TRIGGER; Schema: compliance; Owner: compliance_owner
--

CREATE TRIGGER _902_audit_inserted AFTER INSERT ON compliance.legal_holds REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION compliance_private.tg__audit_inserted_rows('legal_hold', 'id', 'placed', 'released', 'deleted');

--
-- Name: messages _902_audit_inserted; Type: TRIGGER; Schema: compliance; Owner: compliance_owner
--

CREATE TRIGGER _902_audit_inserted AFTER INSERT ON compliance.messages REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION compliance_private.tg__audit_inserted_rows('message', 'id', 'created', 'updated', 'deleted');

--
-- Name: sessions _902_audit_inserted; Type: TRIGGER; Schema: compliance; Owner: compliance_owner
--

CREATE TRIGGER _902_audit_inserted AFTER INSERT ON compliance.sessions REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION compliance_private.tg__audit_inserted_rows('session', 'id', 'created', 'updated', 'deleted');

--
-- Name: user_preferences _902_audit_inserted; Type: TRIGGER; Schema: compliance; Owner: compliance_owner
--

CREATE TRIGGER _902_audit_inserted AFTER INSERT ON compliance.user_preferences REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION compliance_private.tg__audit_inserted_rows('preferences', '', 'created', 'updated', 'deleted');

--
-- Name: user_profiles _902_audit_inserted; Type: TRIGGER; Schema: compliance; Owner: compliance_owner
--

CREATE TRIGGER _902_audit_inserted AFTER INSERT ON compliance.user_profiles REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION compliance_private.tg__audit_inserted_rows('profile', '', 'created', 'updated', 'deleted');

--
-- Name: clock_override _900_audit; Type: TRIGGER; Schema: compliance_private; Owner: compliance_owner
--

CREATE TRIGGER _900_audit AFTER INSERT OR DELETE OR UPDATE ON compliance_private.clock_override FOR EACH ROW EXECUTE FUNCTION compliance_private.tg_clock_override__audit();

--
-- Name: access_grants access_grants_patient_profile; Type: FK CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.access_grants
    ADD CONSTRAINT access_grants_patient_profile FOREIGN KEY (user_id) REFERENCES compliance.user_profiles(user_id) ON DELETE CASCADE;

--
-- Name: access_review_items access_review_items_about_grant; Type: FK CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.access_review_items
    ADD CONSTRAINT access_review_items_about_grant FOREIGN KEY (grant_id) REFERENCES compliance.access_grants(id);

--
-- Name: access_review_items access_review_items_in_campaign; Type: FK CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.access_review_items
    ADD CONSTRAINT access_review_items_in_campaign FOREIGN KEY (campaign_id) REFERENCES compliance.access_review_campaigns(id);

--
-- Name: breach_subjects breach_subjects_of_breach; Type: FK CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.breach_subjects
    ADD CONSTRAINT breach_subjects_of_breach FOREIGN KEY (breach_id) REFERENCES compliance.breaches(id) ON DELETE CASCADE;

--
-- Name: breach_subjects breach_subjects_subject_profile; Type: FK CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.breach_subjects
    ADD CONSTRAINT breach_subjects_subject_profile FOREIGN KEY (user_id) REFERENCES compliance.user_profiles(user_id) ON DELETE CASCADE;

--
-- Name: check_results check_results_of_run; Type: FK CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.check_results
    ADD CONSTRAINT check_results_of_run FOREIGN KEY (run_id) REFERENCES compliance.check_runs(id) ON DELETE CASCADE;

--
-- Name: consent_records consent_records_purpose_known; Type: FK CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.consent_records
    ADD CONSTRAINT consent_records_purpose_known FOREIGN KEY (purpose) REFERENCES compliance.consent_purposes(purpose) ON DELETE RESTRICT;

--
-- Name: consent_records consent_records_subject_profile; Type: FK CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.consent_records
    ADD CONSTRAINT consent_records_subject_profile FOREIGN KEY (user_id) REFERENCES compliance.user_profiles(user_id) ON DELETE CASCADE;

--
-- Name: conversations conversations_subject_profile; Type: FK CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.conversations
    ADD CONSTRAINT conversations_subject_profile FOREIGN KEY (user_id) REFERENCES compliance.user_profiles(user_id) ON DELETE CASCADE;

--
-- Name: dsr_requests dsr_requests_subject_profile; Type: FK CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.dsr_requests
    ADD CONSTRAINT dsr_requests_subject_profile FOREIGN KEY (user_id) REFERENCES compliance.user_profiles(user_id) ON DELETE SET NULL;

--
-- Name: health_records health_records_category_known; Type: FK CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.health_records
    ADD CONSTRAINT health_records_category_known FOREIGN KEY (category) REFERENCES compliance.health_record_categories(category);

--
-- Name: health_records health_records_patient_profile; Type: FK CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.health_records
    ADD CONSTRAINT health_records_patient_profile FOREIGN KEY (user_id) REFERENCES compliance.user_profiles(user_id) ON DELETE CASCADE;

--
-- Name: health_records health_records_under_subject_key; Type: FK CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.health_records
    ADD CONSTRAINT health_records_under_subject_key FOREIGN KEY (user_id, key_version) REFERENCES compliance_private.subject_keys(user_id, key_version) ON DELETE CASCADE;

--
-- Name: legal_holds legal_holds_subject_profile; Type: FK CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.legal_holds
    ADD CONSTRAINT legal_holds_subject_profile FOREIGN KEY (user_id) REFERENCES compliance.user_profiles(user_id) ON DELETE CASCADE;

--
-- Name: messages messages_in_own_conversation; Type: FK CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.messages
    ADD CONSTRAINT messages_in_own_conversation FOREIGN KEY (conversation_id, user_id) REFERENCES compliance.conversations(conversation_id, user_id) ON DELETE CASCADE;

--
-- Name: messages messages_subject_profile; Type: FK CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.messages
    ADD CONSTRAINT messages_subject_profile FOREIGN KEY (user_id) REFERENCES compliance.user_profiles(user_id) ON DELETE CASCADE;

--
-- Name: sessions sessions_subject_profile; Type: FK CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.sessions
    ADD CONSTRAINT sessions_subject_profile FOREIGN KEY (user_id) REFERENCES compliance.user_profiles(user_id) ON DELETE CASCADE;

--
-- Name: user_preferences user_preferences_subject_profile; Type: FK CONSTRAINT; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE ONLY compliance.user_preferences
    ADD CONSTRAINT user_preferences_subject_profile FOREIGN KEY (user_id) REFERENCES compliance.user_profiles(user_id) ON DELETE CASCADE;

--
-- Name: subject_keys subject_keys_patient_profile; Type: FK CONSTRAINT; Schema: compliance_private; Owner: compliance_owner
--

ALTER TABLE ONLY compliance_private.subject_keys
    ADD CONSTRAINT subject_keys_patient_profile FOREIGN KEY (user_id) REFERENCES compliance.user_profiles(user_id) ON DELETE CASCADE;

--
-- Name: migrations migrations_previous_hash_fkey; Type: FK CONSTRAINT; Schema: graphile_migrate; Owner: compliance_owner
--

ALTER TABLE ONLY graphile_migrate.migrations
    ADD CONSTRAINT migrations_previous_hash_fkey FOREIGN KEY (previous_hash) REFERENCES graphile_migrate.migrations(hash);

--
-- Name: access_grant_settings; Type: ROW SECURITY; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.access_grant_settings ENABLE ROW LEVEL SECURITY;

--
-- Name: access_grants; Type: ROW SECURITY; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.access_grants ENABLE ROW LEVEL SECURITY;

--
-- Name: access_review_campaigns; Type: ROW SECURITY; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.access_review_campaigns ENABLE ROW LEVEL SECURITY;

--
-- Name: access_review_items; Type: ROW SECURITY; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.access_review_items ENABLE ROW LEVEL SECURITY;

--
-- Name: access_review_role_actions; Type: ROW SECURITY; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.access_review_role_actions ENABLE ROW LEVEL SECURITY;

--
-- Name: alert_outbox; Type: ROW SECURITY; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.alert_outbox ENABLE ROW LEVEL SECURITY;

--
-- Name: audit_logs; Type: ROW SECURITY; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.audit_logs ENABLE ROW LEVEL SECURITY;

--
-- Name: backup_verifications; Type: ROW SECURITY; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.backup_verifications ENABLE ROW LEVEL SECURITY;

--
-- Name: breach_subjects; Type: ROW SECURITY; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.breach_subjects ENABLE ROW LEVEL SECURITY;

--
-- Name: breaches; Type: ROW SECURITY; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.breaches ENABLE ROW LEVEL SECURITY;

--
-- Name: check_results; Type: ROW SECURITY; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.check_results ENABLE ROW LEVEL SECURITY;

--
-- Name: check_runs; Type: ROW SECURITY; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.check_runs ENABLE ROW LEVEL SECURITY;

--
-- Name: compliance_check_settings; Type: ROW SECURITY; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.compliance_check_settings ENABLE ROW LEVEL SECURITY;

--
-- Name: consent_records; Type: ROW SECURITY; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.consent_records ENABLE ROW LEVEL SECURITY;

--
-- Name: conversations; Type: ROW SECURITY; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.conversations ENABLE ROW LEVEL SECURITY;

--
-- Name: breach_subjects dpo_every_subject; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY dpo_every_subject ON compliance.breach_subjects FOR SELECT TO compliance_dpo USING (true);

--
-- Name: POLICY dpo_every_subject ON breach_subjects; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY dpo_every_subject ON compliance.breach_subjects IS 'The DPO sees who every breach affected; changes go through the breach functions.';

--
-- Name: consent_records dpo_every_subject; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY dpo_every_subject ON compliance.consent_records TO compliance_dpo USING (true) WITH CHECK (true);

--
-- Name: POLICY dpo_every_subject ON consent_records; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY dpo_every_subject ON compliance.consent_records IS 'The DPO reaches every subject (reads; writes only where a grant allows).';

--
-- Name: conversations dpo_every_subject; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY dpo_every_subject ON compliance.conversations TO compliance_dpo USING (true) WITH CHECK (true);

--
-- Name: POLICY dpo_every_subject ON conversations; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY dpo_every_subject ON compliance.conversations IS 'The DPO reaches every subject (reads; writes only where a grant allows).';

--
-- Name: dsr_requests dpo_every_subject; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY dpo_every_subject ON compliance.dsr_requests TO compliance_dpo USING (true) WITH CHECK (true);

--
-- Name: POLICY dpo_every_subject ON dsr_requests; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY dpo_every_subject ON compliance.dsr_requests IS 'The DPO manages every request.';

--
-- Name: legal_holds dpo_every_subject; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY dpo_every_subject ON compliance.legal_holds TO compliance_dpo USING (true) WITH CHECK (true);

--
-- Name: POLICY dpo_every_subject ON legal_holds; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY dpo_every_subject ON compliance.legal_holds IS 'The DPO reaches every subject (reads; writes only where a grant allows).';

--
-- Name: messages dpo_every_subject; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY dpo_every_subject ON compliance.messages TO compliance_dpo USING (true) WITH CHECK (true);

--
-- Name: POLICY dpo_every_subject ON messages; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY dpo_every_subject ON compliance.messages IS 'The DPO reaches every subject (reads; writes only where a grant allows).';

--
-- Name: sessions dpo_every_subject; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY dpo_every_subject ON compliance.sessions TO compliance_dpo USING (true) WITH CHECK (true);

--
-- Name: POLICY dpo_every_subject ON sessions; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY dpo_every_subject ON compliance.sessions IS 'The DPO reaches every subject (reads; writes only where a grant allows).';

--
-- Name: user_preferences dpo_every_subject; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY dpo_every_subject ON compliance.user_preferences TO compliance_dpo USING (true) WITH CHECK (true);

--
-- Name: POLICY dpo_every_subject ON user_preferences; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY dpo_every_subject ON compliance.user_preferences IS 'The DPO reaches every subject (reads; writes only where a grant allows).';

--
-- Name: user_profiles dpo_every_subject; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY dpo_every_subject ON compliance.user_profiles TO compliance_dpo USING (true) WITH CHECK (true);

--
-- Name: POLICY dpo_every_subject ON user_profiles; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY dpo_every_subject ON compliance.user_profiles IS 'The DPO reaches every subject (reads; writes only where a grant allows).';

--
-- Name: dsr_requests; Type: ROW SECURITY; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.dsr_requests ENABLE ROW LEVEL SECURITY;

--
-- Name: erased_consent_proofs; Type: ROW SECURITY; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.erased_consent_proofs ENABLE ROW LEVEL SECURITY;

--
-- Name: erasure_settings; Type: ROW SECURITY; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.erasure_settings ENABLE ROW LEVEL SECURITY;

--
-- Name: evidence_packages; Type: ROW SECURITY; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.evidence_packages ENABLE ROW LEVEL SECURITY;

--
-- Name: evidence_populations; Type: ROW SECURITY; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.evidence_populations ENABLE ROW LEVEL SECURITY;

--
-- Name: health_records; Type: ROW SECURITY; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.health_records ENABLE ROW LEVEL SECURITY;

--
-- Name: legal_holds; Type: ROW SECURITY; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.legal_holds ENABLE ROW LEVEL SECURITY;

--
-- Name: messages; Type: ROW SECURITY; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.messages ENABLE ROW LEVEL SECURITY;

--
-- Name: not_personal_columns; Type: ROW SECURITY; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.not_personal_columns ENABLE ROW LEVEL SECURITY;

--
-- Name: access_grant_settings owner_routines; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY owner_routines ON compliance.access_grant_settings TO compliance_owner USING (true) WITH CHECK (true);

--
-- Name: POLICY owner_routines ON access_grant_settings; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY owner_routines ON compliance.access_grant_settings IS 'The grant functions (SECURITY DEFINER) read the settings.';

--
-- Name: access_grants owner_routines; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY owner_routines ON compliance.access_grants TO compliance_owner USING (true) WITH CHECK (true);

--
-- Name: POLICY owner_routines ON access_grants; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY owner_routines ON compliance.access_grants IS 'Grants change and are read only through the grant functions (SECURITY DEFINER, running as the owner).';

--
-- Name: access_review_campaigns owner_routines; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY owner_routines ON compliance.access_review_campaigns TO compliance_owner USING (true) WITH CHECK (true);

--
-- Name: POLICY owner_routines ON access_review_campaigns; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY owner_routines ON compliance.access_review_campaigns IS 'The access review functions (SECURITY DEFINER, running as the owner) reach every row.';

--
-- Name: access_review_items owner_routines; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY owner_routines ON compliance.access_review_items TO compliance_owner USING (true) WITH CHECK (true);

--
-- Name: POLICY owner_routines ON access_review_items; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY owner_routines ON compliance.access_review_items IS 'The access review functions (SECURITY DEFINER, running as the owner) reach every row.';

--
-- Name: access_review_role_actions owner_routines; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY owner_routines ON compliance.access_review_role_actions TO compliance_owner USING (true) WITH CHECK (true);

--
-- Name: POLICY owner_routines ON access_review_role_actions; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY owner_routines ON compliance.access_review_role_actions IS 'The access review functions (SECURITY DEFINER, running as the owner) reach every row.';

--
-- Name: alert_outbox owner_routines; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY owner_routines ON compliance.alert_outbox TO compliance_owner USING (true) WITH CHECK (true);

--
-- Name: POLICY owner_routines ON alert_outbox; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY owner_routines ON compliance.alert_outbox IS 'Alerts are written by raise_alert and delivered through claim_alerts and record_alert_delivery (SECURITY DEFINER, running as the owner).';

--
-- Name: audit_logs owner_routines; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY owner_routines ON compliance.audit_logs TO compliance_owner USING (true) WITH CHECK (true);

--
-- Name: POLICY owner_routines ON audit_logs; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY owner_routines ON compliance.audit_logs IS 'The SECURITY DEFINER routines (append, seal, verify, redact) run as the owner.';

--
-- Name: backup_verifications owner_routines; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY owner_routines ON compliance.backup_verifications TO compliance_owner USING (true) WITH CHECK (true);

--
-- Name: POLICY owner_routines ON backup_verifications; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY owner_routines ON compliance.backup_verifications IS 'compliance.record_backup_verification and erasure (SECURITY DEFINER, running as the owner) reach every row.';

--
-- Name: breach_subjects owner_routines; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY owner_routines ON compliance.breach_subjects TO compliance_owner USING (true) WITH CHECK (true);

--
-- Name: POLICY owner_routines ON breach_subjects; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY owner_routines ON compliance.breach_subjects IS 'The breach functions, erasure and the export (SECURITY DEFINER, running as the owner) reach every row.';

--
-- Name: breaches owner_routines; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY owner_routines ON compliance.breaches TO compliance_owner USING (true) WITH CHECK (true);

--
-- Name: POLICY owner_routines ON breaches; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY owner_routines ON compliance.breaches IS 'The breach functions, erasure and the export (SECURITY DEFINER, running as the owner) reach every row.';

--
-- Name: check_results owner_routines; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY owner_routines ON compliance.check_results TO compliance_owner USING (true) WITH CHECK (true);

--
-- Name: POLICY owner_routines ON check_results; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY owner_routines ON compliance.check_results IS 'The compliance-check routines (SECURITY DEFINER, running as the owner) reach every row.';

--
-- Name: check_runs owner_routines; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY owner_routines ON compliance.check_runs TO compliance_owner USING (true) WITH CHECK (true);

--
-- Name: POLICY owner_routines ON check_runs; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY owner_routines ON compliance.check_runs IS 'The compliance-check routines (SECURITY DEFINER, running as the owner) reach every row.';

--
-- Name: compliance_check_settings owner_routines; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY owner_routines ON compliance.compliance_check_settings TO compliance_owner USING (true) WITH CHECK (true);

--
-- Name: POLICY owner_routines ON compliance_check_settings; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY owner_routines ON compliance.compliance_check_settings IS 'The compliance-check routines (SECURITY DEFINER, running as the owner) reach every row.';

--
-- Name: consent_records owner_routines; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY owner_routines ON compliance.consent_records TO compliance_owner USING (true) WITH CHECK (true);

--
-- Name: POLICY owner_routines ON consent_records; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY owner_routines ON compliance.consent_records IS 'SECURITY DEFINER routines (erasure, export, retention) run as the owner and reach every row.';

--
-- Name: conversations owner_routines; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY owner_routines ON compliance.conversations TO compliance_owner USING (true) WITH CHECK (true);

--
-- Name: POLICY owner_routines ON conversations; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY owner_routines ON compliance.conversations IS 'SECURITY DEFINER routines (erasure, export, retention) run as the owner and reach every row.';

--
-- Name: dsr_requests owner_routines; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY owner_routines ON compliance.dsr_requests TO compliance_owner USING (true) WITH CHECK (true);

--
-- Name: POLICY owner_routines ON dsr_requests; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY owner_routines ON compliance.dsr_requests IS 'SECURITY DEFINER routines register and complete requests.';

--
-- Name: erased_consent_proofs owner_routines; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY owner_routines ON compliance.erased_consent_proofs TO compliance_owner USING (true) WITH CHECK (true);

--
-- Name: POLICY owner_routines ON erased_consent_proofs; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY owner_routines ON compliance.erased_consent_proofs IS 'Erasure writes the proofs, retention deletes them (SECURITY DEFINER, running as the owner).';

--
-- Name: erasure_settings owner_routines; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY owner_routines ON compliance.erasure_settings TO compliance_owner USING (true) WITH CHECK (true);

--
-- Name: POLICY owner_routines ON erasure_settings; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY owner_routines ON compliance.erasure_settings IS 'Erasure reads it and compliance.keep_consent_proof_after_erasure writes it (SECURITY DEFINER, running as the owner).';

--
-- Name: evidence_packages owner_routines; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY owner_routines ON compliance.evidence_packages TO compliance_owner USING (true) WITH CHECK (true);

--
-- Name: POLICY owner_routines ON evidence_packages; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY owner_routines ON compliance.evidence_packages IS 'The evidence functions (SECURITY DEFINER, running as the owner) reach every row.';

--
-- Name: evidence_populations owner_routines; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY owner_routines ON compliance.evidence_populations TO compliance_owner USING (true) WITH CHECK (true);

--
-- Name: POLICY owner_routines ON evidence_populations; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY owner_routines ON compliance.evidence_populations IS 'The evidence functions (SECURITY DEFINER, running as the owner) reach every row.';

--
-- Name: health_records owner_routines; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY owner_routines ON compliance.health_records TO compliance_owner USING (true) WITH CHECK (true);

--
-- Name: POLICY owner_routines ON health_records; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY owner_routines ON compliance.health_records IS 'Only the PHI functions (SECURITY DEFINER, running as the owner) reach health records; no client role has a policy here.';

--
-- Name: legal_holds owner_routines; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY owner_routines ON compliance.legal_holds TO compliance_owner USING (true) WITH CHECK (true);

--
-- Name: POLICY owner_routines ON legal_holds; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY owner_routines ON compliance.legal_holds IS 'SECURITY DEFINER routines (erasure, export, retention) run as the owner and reach every row.';

--
-- Name: messages owner_routines; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY owner_routines ON compliance.messages TO compliance_owner USING (true) WITH CHECK (true);

--
-- Name: POLICY owner_routines ON messages; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY owner_routines ON compliance.messages IS 'SECURITY DEFINER routines (erasure, export, retention) run as the owner and reach every row.';

--
-- Name: not_personal_columns owner_routines; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY owner_routines ON compliance.not_personal_columns TO compliance_owner USING (true) WITH CHECK (true);

--
-- Name: POLICY owner_routines ON not_personal_columns; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY owner_routines ON compliance.not_personal_columns IS 'compliance.mark_not_personal writes the markings and the data_map check reads them, as the owner.';

--
-- Name: personal_data_categories owner_routines; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY owner_routines ON compliance.personal_data_categories TO compliance_owner USING (true) WITH CHECK (true);

--
-- Name: POLICY owner_routines ON personal_data_categories; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY owner_routines ON compliance.personal_data_categories IS 'The registration routines read the categories.';

--
-- Name: personal_tables owner_routines; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY owner_routines ON compliance.personal_tables TO compliance_owner USING (true) WITH CHECK (true);

--
-- Name: POLICY owner_routines ON personal_tables; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY owner_routines ON compliance.personal_tables IS 'The registration routines, erasure, export and retention (SECURITY DEFINER, running as the owner) read and write the registry.';

--
-- Name: phi_access_review_settings owner_routines; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY owner_routines ON compliance.phi_access_review_settings TO compliance_owner USING (true) WITH CHECK (true);

--
-- Name: POLICY owner_routines ON phi_access_review_settings; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY owner_routines ON compliance.phi_access_review_settings IS 'The review (SECURITY DEFINER, running as the owner) reads the settings.';

--
-- Name: reports owner_routines; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY owner_routines ON compliance.reports TO compliance_owner USING (true) WITH CHECK (true);

--
-- Name: POLICY owner_routines ON reports; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY owner_routines ON compliance.reports IS 'The report functions (SECURITY DEFINER, running as the owner) reach every row.';

--
-- Name: sessions owner_routines; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY owner_routines ON compliance.sessions TO compliance_owner USING (true) WITH CHECK (true);

--
-- Name: POLICY owner_routines ON sessions; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY owner_routines ON compliance.sessions IS 'SECURITY DEFINER routines (erasure, export, retention) run as the owner and reach every row.';

--
-- Name: user_preferences owner_routines; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY owner_routines ON compliance.user_preferences TO compliance_owner USING (true) WITH CHECK (true);

--
-- Name: POLICY owner_routines ON user_preferences; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY owner_routines ON compliance.user_preferences IS 'SECURITY DEFINER routines (erasure, export, retention) run as the owner and reach every row.';

--
-- Name: user_profiles owner_routines; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY owner_routines ON compliance.user_profiles TO compliance_owner USING (true) WITH CHECK (true);

--
-- Name: POLICY owner_routines ON user_profiles; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY owner_routines ON compliance.user_profiles IS 'SECURITY DEFINER routines (erasure, export, retention) run as the owner and reach every row.';

--
-- Name: personal_data_categories; Type: ROW SECURITY; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.personal_data_categories ENABLE ROW LEVEL SECURITY;

--
-- Name: personal_tables; Type: ROW SECURITY; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.personal_tables ENABLE ROW LEVEL SECURITY;

--
-- Name: phi_access_review_settings; Type: ROW SECURITY; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.phi_access_review_settings ENABLE ROW LEVEL SECURITY;

--
-- Name: access_review_campaigns readers; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY readers ON compliance.access_review_campaigns FOR SELECT TO compliance_dpo, compliance_auditor USING (true);

--
-- Name: POLICY readers ON access_review_campaigns; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY readers ON compliance.access_review_campaigns IS 'The DPO and auditors read every row (the auditor only the columns granted to it); only the access review functions write.';

--
-- Name: access_review_items readers; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY readers ON compliance.access_review_items FOR SELECT TO compliance_dpo, compliance_auditor USING (true);

--
-- Name: POLICY readers ON access_review_items; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY readers ON compliance.access_review_items IS 'The DPO and auditors read every row (the auditor only the columns granted to it); only the access review functions write.';

--
-- Name: access_review_role_actions readers; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY readers ON compliance.access_review_role_actions FOR SELECT TO compliance_dpo, compliance_auditor USING (true);

--
-- Name: POLICY readers ON access_review_role_actions; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY readers ON compliance.access_review_role_actions IS 'The DPO and auditors read every row (the auditor only the columns granted to it); only the access review functions write.';

--
-- Name: alert_outbox readers; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY readers ON compliance.alert_outbox FOR SELECT TO compliance_dpo, compliance_auditor USING (true);

--
-- Name: POLICY readers ON alert_outbox; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY readers ON compliance.alert_outbox IS 'The DPO and auditors see every alert and its delivery (evidence that alerts went out).';

--
-- Name: backup_verifications readers; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY readers ON compliance.backup_verifications FOR SELECT TO compliance_dpo, compliance_auditor USING (true);

--
-- Name: POLICY readers ON backup_verifications; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY readers ON compliance.backup_verifications IS 'The DPO and auditors read every backup verification; only compliance.record_backup_verification writes.';

--
-- Name: breaches readers; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY readers ON compliance.breaches FOR SELECT TO compliance_dpo, compliance_auditor USING (true);

--
-- Name: POLICY readers ON breaches; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY readers ON compliance.breaches IS 'The DPO and auditors read the whole register; only the breach functions change it.';

--
-- Name: check_results readers; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY readers ON compliance.check_results FOR SELECT TO compliance_dpo, compliance_worker, compliance_auditor USING (true);

--
-- Name: POLICY readers ON check_results; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY readers ON compliance.check_results IS 'Check runs and results are evidence: the DPO, auditors and the worker read them all; only run_compliance_checks writes.';

--
-- Name: check_runs readers; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY readers ON compliance.check_runs FOR SELECT TO compliance_dpo, compliance_worker, compliance_auditor USING (true);

--
-- Name: POLICY readers ON check_runs; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY readers ON compliance.check_runs IS 'Check runs and results are evidence: the DPO, auditors and the worker read them all; only run_compliance_checks writes.';

--
-- Name: erased_consent_proofs readers; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY readers ON compliance.erased_consent_proofs FOR SELECT TO compliance_dpo, compliance_auditor USING (true);

--
-- Name: POLICY readers ON erased_consent_proofs; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY readers ON compliance.erased_consent_proofs IS 'The DPO and auditors read the proofs: they name no one.';

--
-- Name: erasure_settings readers; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY readers ON compliance.erasure_settings FOR SELECT TO compliance_dpo, compliance_auditor USING (true);

--
-- Name: POLICY readers ON erasure_settings; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY readers ON compliance.erasure_settings IS 'The DPO and auditors see what erasure keeps.';

--
-- Name: evidence_packages readers; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY readers ON compliance.evidence_packages FOR SELECT TO compliance_dpo, compliance_auditor USING (true);

--
-- Name: POLICY readers ON evidence_packages; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY readers ON compliance.evidence_packages IS 'The DPO and auditors read every row; only the owner and the evidence functions write.';

--
-- Name: evidence_populations readers; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY readers ON compliance.evidence_populations FOR SELECT TO compliance_dpo, compliance_auditor USING (true);

--
-- Name: POLICY readers ON evidence_populations; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY readers ON compliance.evidence_populations IS 'The DPO and auditors read every row; only the owner and the evidence functions write.';

--
-- Name: not_personal_columns readers; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY readers ON compliance.not_personal_columns FOR SELECT TO compliance_dpo, compliance_auditor USING (true);

--
-- Name: POLICY readers ON not_personal_columns; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY readers ON compliance.not_personal_columns IS 'The DPO and the auditor read which columns were marked not personal, by whom and why.';

--
-- Name: personal_data_categories readers; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY readers ON compliance.personal_data_categories FOR SELECT TO compliance_dpo, compliance_auditor USING (true);

--
-- Name: POLICY readers ON personal_data_categories; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY readers ON compliance.personal_data_categories IS 'The DPO and the auditor read the categories.';

--
-- Name: personal_tables readers; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY readers ON compliance.personal_tables FOR SELECT TO compliance_dpo, compliance_auditor USING (true);

--
-- Name: POLICY readers ON personal_tables; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY readers ON compliance.personal_tables IS 'The DPO and the auditor read the registry: which tables hold personal data, what erasure does to them, how long they are kept.';

--
-- Name: reports readers; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY readers ON compliance.reports FOR SELECT TO compliance_dpo, compliance_auditor USING (true);

--
-- Name: POLICY readers ON reports; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY readers ON compliance.reports IS 'The DPO and auditors read every report; only compliance.generate_monthly_report writes.';

--
-- Name: audit_logs readers_every_row; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY readers_every_row ON compliance.audit_logs FOR SELECT TO compliance_dpo, compliance_auditor USING (true);

--
-- Name: POLICY readers_every_row ON audit_logs; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY readers_every_row ON compliance.audit_logs IS 'The auditor and the DPO read the whole audit log.';

--
-- Name: reports; Type: ROW SECURITY; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.reports ENABLE ROW LEVEL SECURITY;

--
-- Name: access_grant_settings review_roles; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY review_roles ON compliance.access_grant_settings TO compliance_dpo, compliance_auditor, compliance_approver USING (true) WITH CHECK (true);

--
-- Name: POLICY review_roles ON access_grant_settings; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY review_roles ON compliance.access_grant_settings IS 'The one settings row is visible to the DPO, approvers and auditors; the grants decide that only the DPO may change it.';

--
-- Name: compliance_check_settings review_roles; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY review_roles ON compliance.compliance_check_settings TO compliance_dpo, compliance_worker, compliance_auditor USING (true) WITH CHECK (true);

--
-- Name: POLICY review_roles ON compliance_check_settings; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY review_roles ON compliance.compliance_check_settings IS 'The one settings row is visible to the DPO, worker and auditor; the grants decide that only the DPO may change it.';

--
-- Name: phi_access_review_settings review_roles; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY review_roles ON compliance.phi_access_review_settings TO compliance_dpo, compliance_worker, compliance_auditor USING (true) WITH CHECK (true);

--
-- Name: POLICY review_roles ON phi_access_review_settings; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY review_roles ON compliance.phi_access_review_settings IS 'The one settings row is visible to the DPO, worker and auditor; the grants decide that only the DPO may change it.';

--
-- Name: sessions; Type: ROW SECURITY; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.sessions ENABLE ROW LEVEL SECURITY;

--
-- Name: consent_records subject_own_rows; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY subject_own_rows ON compliance.consent_records TO compliance_app USING ((user_id = ( SELECT compliance.current_subject() AS current_subject))) WITH CHECK ((user_id = ( SELECT compliance.current_subject() AS current_subject)));

--
-- Name: POLICY subject_own_rows ON consent_records; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY subject_own_rows ON compliance.consent_records IS 'The API acting for a subject sees and changes only rows whose user_id is the request actor.';

--
-- Name: conversations subject_own_rows; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY subject_own_rows ON compliance.conversations TO compliance_app USING ((user_id = ( SELECT compliance.current_subject() AS current_subject))) WITH CHECK ((user_id = ( SELECT compliance.current_subject() AS current_subject)));

--
-- Name: POLICY subject_own_rows ON conversations; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY subject_own_rows ON compliance.conversations IS 'The API acting for a subject sees and changes only rows whose user_id is the request actor.';

--
-- Name: dsr_requests subject_own_rows; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY subject_own_rows ON compliance.dsr_requests FOR SELECT TO compliance_app USING ((user_id = ( SELECT compliance.current_subject() AS current_subject)));

--
-- Name: POLICY subject_own_rows ON dsr_requests; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY subject_own_rows ON compliance.dsr_requests IS 'A subject sees its own requests.';

--
-- Name: legal_holds subject_own_rows; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY subject_own_rows ON compliance.legal_holds TO compliance_app USING ((user_id = ( SELECT compliance.current_subject() AS current_subject))) WITH CHECK ((user_id = ( SELECT compliance.current_subject() AS current_subject)));

--
-- Name: POLICY subject_own_rows ON legal_holds; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY subject_own_rows ON compliance.legal_holds IS 'The API acting for a subject sees and changes only rows whose user_id is the request actor.';

--
-- Name: messages subject_own_rows; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY subject_own_rows ON compliance.messages TO compliance_app USING ((user_id = ( SELECT compliance.current_subject() AS current_subject))) WITH CHECK ((user_id = ( SELECT compliance.current_subject() AS current_subject)));

--
-- Name: POLICY subject_own_rows ON messages; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY subject_own_rows ON compliance.messages IS 'The API acting for a subject sees and changes only rows whose user_id is the request actor.';

--
-- Name: sessions subject_own_rows; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY subject_own_rows ON compliance.sessions TO compliance_app USING ((user_id = ( SELECT compliance.current_subject() AS current_subject))) WITH CHECK ((user_id = ( SELECT compliance.current_subject() AS current_subject)));

--
-- Name: POLICY subject_own_rows ON sessions; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY subject_own_rows ON compliance.sessions IS 'The API acting for a subject sees and changes only rows whose user_id is the request actor.';

--
-- Name: user_preferences subject_own_rows; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY subject_own_rows ON compliance.user_preferences TO compliance_app USING ((user_id = ( SELECT compliance.current_subject() AS current_subject))) WITH CHECK ((user_id = ( SELECT compliance.current_subject() AS current_subject)));

--
-- Name: POLICY subject_own_rows ON user_preferences; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY subject_own_rows ON compliance.user_preferences IS 'The API acting for a subject sees and changes only rows whose user_id is the request actor.';

--
-- Name: user_profiles subject_own_rows; Type: POLICY; Schema: compliance; Owner: compliance_owner
--

CREATE POLICY subject_own_rows ON compliance.user_profiles TO compliance_app USING ((user_id = ( SELECT compliance.current_subject() AS current_subject))) WITH CHECK ((user_id = ( SELECT compliance.current_subject() AS current_subject)));

--
-- Name: POLICY subject_own_rows ON user_profiles; Type: COMMENT; Schema: compliance; Owner: compliance_owner
--

COMMENT ON POLICY subject_own_rows ON compliance.user_profiles IS 'The API acting for a subject sees and changes only rows whose user_id is the request actor.';

--
-- Name: user_preferences; Type: ROW SECURITY; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.user_preferences ENABLE ROW LEVEL SECURITY;

--
-- Name: user_profiles; Type: ROW SECURITY; Schema: compliance; Owner: compliance_owner
--

ALTER TABLE compliance.user_profiles ENABLE ROW LEVEL SECURITY;

--
-- Name: database_identity; Type: ROW SECURITY; Schema: compliance_private; Owner: compliance_owner
--

ALTER TABLE compliance_private.database_identity ENABLE ROW LEVEL SECURITY;

--
-- Name: expected_grants; Type: ROW SECURITY; Schema: compliance_private; Owner: compliance_owner
--

ALTER TABLE compliance_private.expected_grants ENABLE ROW LEVEL SECURITY;

--
-- Name: database_identity owner_routines; Type: POLICY; Schema: compliance_private; Owner: compliance_owner
--

CREATE POLICY owner_routines ON compliance_private.database_identity TO compliance_owner USING (true) WITH CHECK (true);

--
-- Name: POLICY owner_routines ON database_identity; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON POLICY owner_routines ON compliance_private.database_identity IS 'Written once by migration 000042 (the owner); pgcomply backup verify reads it as the superuser. No application role reads it.';

--
-- Name: expected_grants owner_routines; Type: POLICY; Schema: compliance_private; Owner: compliance_owner
--

CREATE POLICY owner_routines ON compliance_private.expected_grants TO compliance_owner USING (true) WITH CHECK (true);

--
-- Name: POLICY owner_routines ON expected_grants; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON POLICY owner_routines ON compliance_private.expected_grants IS 'The compliance-check routines (SECURITY DEFINER, running as the owner) reach every row.';

--
-- Name: phi_access_review_progress owner_routines; Type: POLICY; Schema: compliance_private; Owner: compliance_owner
--

CREATE POLICY owner_routines ON compliance_private.phi_access_review_progress TO compliance_owner USING (true) WITH CHECK (true);

--
-- Name: POLICY owner_routines ON phi_access_review_progress; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON POLICY owner_routines ON compliance_private.phi_access_review_progress IS 'Only review_phi_access (SECURITY DEFINER) reads and moves the review''s progress.';

--
-- Name: request_keys owner_routines; Type: POLICY; Schema: compliance_private; Owner: compliance_owner
--

CREATE POLICY owner_routines ON compliance_private.request_keys TO compliance_owner USING (true) WITH CHECK (true);

--
-- Name: POLICY owner_routines ON request_keys; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON POLICY owner_routines ON compliance_private.request_keys IS 'Only the owner''s routines (claim_request_key, forget_request_keys) read and write the keys. No application role reaches the table.';

--
-- Name: service_minutes owner_routines; Type: POLICY; Schema: compliance_private; Owner: compliance_owner
--

CREATE POLICY owner_routines ON compliance_private.service_minutes TO compliance_owner USING (true) WITH CHECK (true);

--
-- Name: POLICY owner_routines ON service_minutes; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON POLICY owner_routines ON compliance_private.service_minutes IS 'Only the owner''s routines (record_service_probes, uptime, check_uptime) read and write the probes. No application role reaches the table.';

--
-- Name: standby_read_leases owner_routines; Type: POLICY; Schema: compliance_private; Owner: compliance_owner
--

CREATE POLICY owner_routines ON compliance_private.standby_read_leases TO compliance_owner USING (true) WITH CHECK (true);

--
-- Name: POLICY owner_routines ON standby_read_leases; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON POLICY owner_routines ON compliance_private.standby_read_leases IS 'Only the owner''s routines (lease_subject_export on the primary, the standby_* readers on a standby) read and write the leases. No application role reaches the table.';

--
-- Name: subject_keys owner_routines; Type: POLICY; Schema: compliance_private; Owner: compliance_owner
--

CREATE POLICY owner_routines ON compliance_private.subject_keys TO compliance_owner USING (true) WITH CHECK (true);

--
-- Name: POLICY owner_routines ON subject_keys; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON POLICY owner_routines ON compliance_private.subject_keys IS 'Only the PHI and key-rotation functions (SECURITY DEFINER, running as the owner) reach the wrapped data keys.';

--
-- Name: worker_heartbeats owner_routines; Type: POLICY; Schema: compliance_private; Owner: compliance_owner
--

CREATE POLICY owner_routines ON compliance_private.worker_heartbeats TO compliance_owner USING (true) WITH CHECK (true);

--
-- Name: POLICY owner_routines ON worker_heartbeats; Type: COMMENT; Schema: compliance_private; Owner: compliance_owner
--

COMMENT ON POLICY owner_routines ON compliance_private.worker_heartbeats IS 'The compliance-check routines (SECURITY DEFINER, running as the owner) reach every row.';

--
-- Name: phi_access_review_progress; Type: ROW SECURITY; Schema: compliance_private; Owner: compliance_owner
--

ALTER TABLE compliance_private.phi_access_review_progress ENABLE ROW LEVEL SECURITY;

--
-- Name: request_keys; Type: ROW SECURITY; Schema: compliance_private; Owner: compliance_owner
--

ALTER TABLE compliance_private.request_keys ENABLE ROW LEVEL SECURITY;

--
-- Name: service_minutes; Type: ROW SECURITY; Schema: compliance_private; Owner: compliance_owner
--

ALTER TABLE compliance_private.service_minutes ENABLE ROW LEVEL SECURITY;

--
-- Name: standby_read_leases; Type: ROW SECURITY; Schema: compliance_private; Owner: compliance_owner
--

ALTER TABLE compliance_private.standby_read_leases ENABLE ROW LEVEL SECURITY;

--
-- Name: subject_keys; Type: ROW SECURITY; Schema: compliance_private; Owner: compliance_owner
--

ALTER TABLE compliance_private.subject_keys ENABLE ROW LEVEL SECURITY;

--
-- Name: worker_heartbeats; Type: ROW SECURITY; Schema: compliance_private; Owner: compliance_owner
--

ALTER TABLE compliance_private.worker_heartbeats ENABLE ROW LEVEL SECURITY;

--
-- Name: _private_job_queues; Type: ROW SECURITY; Schema: graphile_worker; Owner: pgcomply_worker
--

ALTER TABLE graphile_worker._private_job_queues ENABLE ROW LEVEL SECURITY;

--
-- Name: _private_jobs; Type: ROW SECURITY; Schema: graphile_worker; Owner: pgcomply_worker
--

ALTER TABLE graphile_worker._private_jobs ENABLE ROW LEVEL SECURITY;

--
-- Name: _private_known_crontabs; Type: ROW SECURITY; Schema: graphile_worker; Owner: pgcomply_worker
--

ALTER TABLE graphile_worker._private_known_crontabs ENABLE ROW LEVEL SECURITY;

--
-- Name: _private_tasks; Type: ROW SECURITY; Schema: graphile_worker; Owner: pgcomply_worker
--

ALTER TABLE graphile_worker._private_tasks ENABLE ROW LEVEL SECURITY;

--
-- Name: SCHEMA compliance; Type: ACL; Schema: -; Owner: compliance_owner
--

GRANT USAGE ON SCHEMA compliance TO compliance_app;
GRANT USAGE ON SCHEMA compliance TO compliance_dpo;
GRANT USAGE ON SCHEMA compliance TO compliance_worker;
GRANT USAGE ON SCHEMA compliance TO compliance_auditor;
GRANT USAGE ON SCHEMA compliance TO compliance_staff;
GRANT USAGE ON SCHEMA compliance TO compliance_approver;

--
-- Name: SCHEMA compliance_private; Type: ACL; Schema: -; Owner: compliance_owner
--

GRANT USAGE ON SCHEMA compliance_private TO compliance_app;
GRANT USAGE ON SCHEMA compliance_private TO compliance_dpo;

--
-- Name: FUNCTION access_review_items_of(campaign_id bigint); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.access_review_items_of(campaign_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.access_review_items_of(campaign_id bigint) TO compliance_dpo;

--
-- Name: TABLE messages; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT,DELETE ON TABLE compliance.messages TO compliance_app;
GRANT SELECT ON TABLE compliance.messages TO compliance_dpo;

--
-- Name: COLUMN messages.conversation_id; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT INSERT(conversation_id) ON TABLE compliance.messages TO compliance_app;

--
-- Name: COLUMN messages.user_id; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT INSERT(user_id) ON TABLE compliance.messages TO compliance_app;

--
-- Name: COLUMN messages.role; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT INSERT(role) ON TABLE compliance.messages TO compliance_app;

--
-- Name: COLUMN messages.content; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT INSERT(content) ON TABLE compliance.messages TO compliance_app;

--
-- Name: FUNCTION add_message(conversation_id uuid, role text, content text); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.add_message(conversation_id uuid, role text, content text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.add_message(conversation_id uuid, role text, content text) TO compliance_app;
GRANT ALL ON FUNCTION compliance.add_message(conversation_id uuid, role text, content text) TO compliance_dpo;

--
-- Name: FUNCTION alert_counts(); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.alert_counts() FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.alert_counts() TO compliance_app;
GRANT ALL ON FUNCTION compliance.alert_counts() TO compliance_dpo;
GRANT ALL ON FUNCTION compliance.alert_counts() TO compliance_auditor;

--
-- Name: FUNCTION apply_retention(category text, batch_size integer, dry_run boolean); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.apply_retention(category text, batch_size integer, dry_run boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.apply_retention(category text, batch_size integer, dry_run boolean) TO compliance_worker;
GRANT ALL ON FUNCTION compliance.apply_retention(category text, batch_size integer, dry_run boolean) TO compliance_dpo;

--
-- Name: FUNCTION approve_access_request(grant_id bigint, days integer); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.approve_access_request(grant_id bigint, days integer) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.approve_access_request(grant_id bigint, days integer) TO compliance_approver;

--
-- Name: FUNCTION audit_digest(OUT seal_no bigint, OUT seal_hash text, OUT last_row_id bigint, OUT sealed_at timestamp with time zone); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.audit_digest(OUT seal_no bigint, OUT seal_hash text, OUT last_row_id bigint, OUT sealed_at timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.audit_digest(OUT seal_no bigint, OUT seal_hash text, OUT last_row_id bigint, OUT sealed_at timestamp with time zone) TO compliance_auditor;
GRANT ALL ON FUNCTION compliance.audit_digest(OUT seal_no bigint, OUT seal_hash text, OUT last_row_id bigint, OUT sealed_at timestamp with time zone) TO compliance_dpo;
GRANT ALL ON FUNCTION compliance.audit_digest(OUT seal_no bigint, OUT seal_hash text, OUT last_row_id bigint, OUT sealed_at timestamp with time zone) TO compliance_worker;

--
-- Name: FUNCTION audit_personal_fields(row_ids bigint[], reason text); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.audit_personal_fields(row_ids bigint[], reason text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.audit_personal_fields(row_ids bigint[], reason text) TO compliance_auditor;
GRANT ALL ON FUNCTION compliance.audit_personal_fields(row_ids bigint[], reason text) TO compliance_dpo;

--
-- Name: FUNCTION breach_deadlines(at timestamp with time zone); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.breach_deadlines(at timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.breach_deadlines(at timestamp with time zone) TO compliance_dpo;
GRANT ALL ON FUNCTION compliance.breach_deadlines(at timestamp with time zone) TO compliance_auditor;

--
-- Name: FUNCTION break_glass(patient text, reason text, scope text); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.break_glass(patient text, reason text, scope text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.break_glass(patient text, reason text, scope text) TO compliance_staff;

--
-- Name: FUNCTION check_history(runs integer); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.check_history(runs integer) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.check_history(runs integer) TO compliance_dpo;
GRANT ALL ON FUNCTION compliance.check_history(runs integer) TO compliance_auditor;

--
-- Name: FUNCTION claim_alerts(lease_seconds integer, max_rows integer); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.claim_alerts(lease_seconds integer, max_rows integer) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.claim_alerts(lease_seconds integer, max_rows integer) TO compliance_worker;

--
-- Name: FUNCTION claim_request_key(key text); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.claim_request_key(key text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.claim_request_key(key text) TO compliance_app;
GRANT ALL ON FUNCTION compliance.claim_request_key(key text) TO compliance_dpo;
GRANT ALL ON FUNCTION compliance.claim_request_key(key text) TO compliance_staff;
GRANT ALL ON FUNCTION compliance.claim_request_key(key text) TO compliance_approver;
GRANT ALL ON FUNCTION compliance.claim_request_key(key text) TO compliance_auditor;

--
-- Name: TABLE breaches; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT ON TABLE compliance.breaches TO compliance_dpo;
GRANT SELECT ON TABLE compliance.breaches TO compliance_auditor;

--
-- Name: FUNCTION close_breach(breach_id bigint, note text); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.close_breach(breach_id bigint, note text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.close_breach(breach_id bigint, note text) TO compliance_dpo;

--
-- Name: FUNCTION close_session(user_id text, session_id uuid); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.close_session(user_id text, session_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.close_session(user_id text, session_id uuid) TO compliance_app;
GRANT ALL ON FUNCTION compliance.close_session(user_id text, session_id uuid) TO compliance_dpo;

--
-- Name: TABLE dsr_requests; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT ON TABLE compliance.dsr_requests TO compliance_app;
GRANT SELECT ON TABLE compliance.dsr_requests TO compliance_dpo;

--
-- Name: COLUMN dsr_requests.status; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT UPDATE(status) ON TABLE compliance.dsr_requests TO compliance_dpo;

--
-- Name: COLUMN dsr_requests.completed_at; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT UPDATE(completed_at) ON TABLE compliance.dsr_requests TO compliance_dpo;

--
-- Name: COLUMN dsr_requests.handled_by; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT UPDATE(handled_by) ON TABLE compliance.dsr_requests TO compliance_dpo;

--
-- Name: COLUMN dsr_requests.notes; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT UPDATE(notes) ON TABLE compliance.dsr_requests TO compliance_dpo;

--
-- Name: FUNCTION complete_dsr(request_id bigint, status text, notes text); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.complete_dsr(request_id bigint, status text, notes text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.complete_dsr(request_id bigint, status text, notes text) TO compliance_dpo;

--
-- Name: TABLE consent_records; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT ON TABLE compliance.consent_records TO compliance_app;
GRANT SELECT ON TABLE compliance.consent_records TO compliance_dpo;

--
-- Name: COLUMN consent_records.user_id; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT INSERT(user_id) ON TABLE compliance.consent_records TO compliance_app;
GRANT INSERT(user_id) ON TABLE compliance.consent_records TO compliance_dpo;

--
-- Name: COLUMN consent_records.purpose; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT INSERT(purpose) ON TABLE compliance.consent_records TO compliance_app;
GRANT INSERT(purpose) ON TABLE compliance.consent_records TO compliance_dpo;

--
-- Name: COLUMN consent_records.granted; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT INSERT(granted) ON TABLE compliance.consent_records TO compliance_app;
GRANT INSERT(granted) ON TABLE compliance.consent_records TO compliance_dpo;

--
-- Name: COLUMN consent_records.policy_version; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT INSERT(policy_version) ON TABLE compliance.consent_records TO compliance_app;
GRANT INSERT(policy_version) ON TABLE compliance.consent_records TO compliance_dpo;

--
-- Name: COLUMN consent_records.source; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT INSERT(source) ON TABLE compliance.consent_records TO compliance_app;
GRANT INSERT(source) ON TABLE compliance.consent_records TO compliance_dpo;

--
-- Name: COLUMN consent_records.ip_address; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT INSERT(ip_address) ON TABLE compliance.consent_records TO compliance_app;
GRANT INSERT(ip_address) ON TABLE compliance.consent_records TO compliance_dpo;

--
-- Name: COLUMN consent_records.user_agent; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT INSERT(user_agent) ON TABLE compliance.consent_records TO compliance_app;
GRANT INSERT(user_agent) ON TABLE compliance.consent_records TO compliance_dpo;

--
-- Name: COLUMN consent_records.given_at; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT INSERT(given_at) ON TABLE compliance.consent_records TO compliance_app;
GRANT INSERT(given_at) ON TABLE compliance.consent_records TO compliance_dpo;

--
-- Name: FUNCTION consent_history(user_id text); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.consent_history(user_id text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.consent_history(user_id text) TO compliance_app;
GRANT ALL ON FUNCTION compliance.consent_history(user_id text) TO compliance_dpo;

--
-- Name: FUNCTION consent_records_between(from_time timestamp with time zone, to_time timestamp with time zone, after_id bigint, page_size integer); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.consent_records_between(from_time timestamp with time zone, to_time timestamp with time zone, after_id bigint, page_size integer) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.consent_records_between(from_time timestamp with time zone, to_time timestamp with time zone, after_id bigint, page_size integer) TO compliance_dpo;

--
-- Name: FUNCTION conversation_messages(conversation_id uuid, after_id bigint, page_size integer); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.conversation_messages(conversation_id uuid, after_id bigint, page_size integer) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.conversation_messages(conversation_id uuid, after_id bigint, page_size integer) TO compliance_app;
GRANT ALL ON FUNCTION compliance.conversation_messages(conversation_id uuid, after_id bigint, page_size integer) TO compliance_dpo;

--
-- Name: FUNCTION create_health_record(id uuid, patient text, category text, classification text, purpose text, key_version integer, recorded_at timestamp with time zone, ciphertext bytea, integrity bytea, new_wrapped_key bytea, new_kek_version integer); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.create_health_record(id uuid, patient text, category text, classification text, purpose text, key_version integer, recorded_at timestamp with time zone, ciphertext bytea, integrity bytea, new_wrapped_key bytea, new_kek_version integer) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.create_health_record(id uuid, patient text, category text, classification text, purpose text, key_version integer, recorded_at timestamp with time zone, ciphertext bytea, integrity bytea, new_wrapped_key bytea, new_kek_version integer) TO compliance_app;
GRANT ALL ON FUNCTION compliance.create_health_record(id uuid, patient text, category text, classification text, purpose text, key_version integer, recorded_at timestamp with time zone, ciphertext bytea, integrity bytea, new_wrapped_key bytea, new_kek_version integer) TO compliance_dpo;
GRANT ALL ON FUNCTION compliance.create_health_record(id uuid, patient text, category text, classification text, purpose text, key_version integer, recorded_at timestamp with time zone, ciphertext bytea, integrity bytea, new_wrapped_key bytea, new_kek_version integer) TO compliance_staff;

--
-- Name: FUNCTION current_actor(); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.current_actor() FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.current_actor() TO compliance_app;
GRANT ALL ON FUNCTION compliance.current_actor() TO compliance_dpo;
GRANT ALL ON FUNCTION compliance.current_actor() TO compliance_worker;
GRANT ALL ON FUNCTION compliance.current_actor() TO compliance_auditor;

--
-- Name: FUNCTION current_actor_roles(); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.current_actor_roles() FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.current_actor_roles() TO compliance_app;
GRANT ALL ON FUNCTION compliance.current_actor_roles() TO compliance_dpo;
GRANT ALL ON FUNCTION compliance.current_actor_roles() TO compliance_worker;
GRANT ALL ON FUNCTION compliance.current_actor_roles() TO compliance_auditor;

--
-- Name: FUNCTION current_client_ip(); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.current_client_ip() FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.current_client_ip() TO compliance_app;
GRANT ALL ON FUNCTION compliance.current_client_ip() TO compliance_dpo;
GRANT ALL ON FUNCTION compliance.current_client_ip() TO compliance_worker;
GRANT ALL ON FUNCTION compliance.current_client_ip() TO compliance_auditor;

--
-- Name: FUNCTION current_subject(); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.current_subject() FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.current_subject() TO compliance_app;
GRANT ALL ON FUNCTION compliance.current_subject() TO compliance_dpo;
GRANT ALL ON FUNCTION compliance.current_subject() TO compliance_worker;
GRANT ALL ON FUNCTION compliance.current_subject() TO compliance_auditor;

--
-- Name: FUNCTION current_user_agent(); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.current_user_agent() FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.current_user_agent() TO compliance_app;
GRANT ALL ON FUNCTION compliance.current_user_agent() TO compliance_dpo;
GRANT ALL ON FUNCTION compliance.current_user_agent() TO compliance_worker;
GRANT ALL ON FUNCTION compliance.current_user_agent() TO compliance_auditor;

--
-- Name: TABLE access_review_items; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT ON TABLE compliance.access_review_items TO compliance_dpo;

--
-- Name: COLUMN access_review_items.id; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT(id) ON TABLE compliance.access_review_items TO compliance_auditor;

--
-- Name: COLUMN access_review_items.campaign_id; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT(campaign_id) ON TABLE compliance.access_review_items TO compliance_auditor;

--
-- Name: COLUMN access_review_items.kind; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT(kind) ON TABLE compliance.access_review_items TO compliance_auditor;

--
-- Name: COLUMN access_review_items.login_name; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT(login_name) ON TABLE compliance.access_review_items TO compliance_auditor;

--
-- Name: COLUMN access_review_items.grant_id; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT(grant_id) ON TABLE compliance.access_review_items TO compliance_auditor;

--
-- Name: COLUMN access_review_items.roles; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT(roles) ON TABLE compliance.access_review_items TO compliance_auditor;

--
-- Name: COLUMN access_review_items.last_used_at; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT(last_used_at) ON TABLE compliance.access_review_items TO compliance_auditor;

--
-- Name: COLUMN access_review_items.decision; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT(decision) ON TABLE compliance.access_review_items TO compliance_auditor;

--
-- Name: COLUMN access_review_items.decided_at; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT(decided_at) ON TABLE compliance.access_review_items TO compliance_auditor;

--
-- Name: FUNCTION decide_access_review_item(item_id bigint, decision text, note text); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.decide_access_review_item(item_id bigint, decision text, note text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.decide_access_review_item(item_id bigint, decision text, note text) TO compliance_dpo;

--
-- Name: FUNCTION delete_health_record(id uuid, purpose text); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.delete_health_record(id uuid, purpose text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.delete_health_record(id uuid, purpose text) TO compliance_app;
GRANT ALL ON FUNCTION compliance.delete_health_record(id uuid, purpose text) TO compliance_dpo;
GRANT ALL ON FUNCTION compliance.delete_health_record(id uuid, purpose text) TO compliance_staff;

--
-- Name: FUNCTION deny_access_request(grant_id bigint, note text); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.deny_access_request(grant_id bigint, note text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.deny_access_request(grant_id bigint, note text) TO compliance_approver;

--
-- Name: FUNCTION emergency_review_queue(); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.emergency_review_queue() FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.emergency_review_queue() TO compliance_approver;
GRANT ALL ON FUNCTION compliance.emergency_review_queue() TO compliance_dpo;

--
-- Name: FUNCTION ensure_audit_partitions(months_ahead integer, months_back integer); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.ensure_audit_partitions(months_ahead integer, months_back integer) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.ensure_audit_partitions(months_ahead integer, months_back integer) TO compliance_worker;
GRANT ALL ON FUNCTION compliance.ensure_audit_partitions(months_ahead integer, months_back integer) TO compliance_dpo;

--
-- Name: TABLE user_profiles; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT ON TABLE compliance.user_profiles TO compliance_app;
GRANT SELECT ON TABLE compliance.user_profiles TO compliance_dpo;

--
-- Name: COLUMN user_profiles.user_id; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT INSERT(user_id) ON TABLE compliance.user_profiles TO compliance_app;
GRANT INSERT(user_id) ON TABLE compliance.user_profiles TO compliance_dpo;

--
-- Name: COLUMN user_profiles.username; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT INSERT(username),UPDATE(username) ON TABLE compliance.user_profiles TO compliance_app;
GRANT INSERT(username),UPDATE(username) ON TABLE compliance.user_profiles TO compliance_dpo;

--
-- Name: COLUMN user_profiles.email; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT INSERT(email),UPDATE(email) ON TABLE compliance.user_profiles TO compliance_app;
GRANT INSERT(email),UPDATE(email) ON TABLE compliance.user_profiles TO compliance_dpo;

--
-- Name: COLUMN user_profiles.full_name; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT INSERT(full_name),UPDATE(full_name) ON TABLE compliance.user_profiles TO compliance_app;
GRANT INSERT(full_name),UPDATE(full_name) ON TABLE compliance.user_profiles TO compliance_dpo;

--
-- Name: COLUMN user_profiles.metadata; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT INSERT(metadata),UPDATE(metadata) ON TABLE compliance.user_profiles TO compliance_app;
GRANT INSERT(metadata),UPDATE(metadata) ON TABLE compliance.user_profiles TO compliance_dpo;

--
-- Name: FUNCTION ensure_profile(user_id text, username text, email text, full_name text); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.ensure_profile(user_id text, username text, email text, full_name text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.ensure_profile(user_id text, username text, email text, full_name text) TO compliance_app;
GRANT ALL ON FUNCTION compliance.ensure_profile(user_id text, username text, email text, full_name text) TO compliance_dpo;

--
-- Name: FUNCTION erase_my_data(reason text, confirm boolean); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.erase_my_data(reason text, confirm boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.erase_my_data(reason text, confirm boolean) TO compliance_app;

--
-- Name: FUNCTION erase_subject(user_id text, reason text, confirm boolean); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.erase_subject(user_id text, reason text, confirm boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.erase_subject(user_id text, reason text, confirm boolean) TO compliance_dpo;

--
-- Name: TABLE erased_consent_proofs; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT ON TABLE compliance.erased_consent_proofs TO compliance_dpo;
GRANT SELECT ON TABLE compliance.erased_consent_proofs TO compliance_auditor;

--
-- Name: FUNCTION erased_consent_proof(user_id text); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.erased_consent_proof(user_id text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.erased_consent_proof(user_id text) TO compliance_dpo;

--
-- Name: FUNCTION erasure_journal(since timestamp with time zone); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.erasure_journal(since timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.erasure_journal(since timestamp with time zone) TO compliance_dpo;
GRANT ALL ON FUNCTION compliance.erasure_journal(since timestamp with time zone) TO compliance_auditor;
GRANT ALL ON FUNCTION compliance.erasure_journal(since timestamp with time zone) TO compliance_worker;

--
-- Name: FUNCTION evidence_population(name text, period_from timestamp with time zone, period_to timestamp with time zone); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.evidence_population(name text, period_from timestamp with time zone, period_to timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.evidence_population(name text, period_from timestamp with time zone, period_to timestamp with time zone) TO compliance_dpo;
GRANT ALL ON FUNCTION compliance.evidence_population(name text, period_from timestamp with time zone, period_to timestamp with time zone) TO compliance_auditor;

--
-- Name: FUNCTION evidence_sample(name text, period_from timestamp with time zone, period_to timestamp with time zone, size integer, seed text); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.evidence_sample(name text, period_from timestamp with time zone, period_to timestamp with time zone, size integer, seed text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.evidence_sample(name text, period_from timestamp with time zone, period_to timestamp with time zone, size integer, seed text) TO compliance_dpo;
GRANT ALL ON FUNCTION compliance.evidence_sample(name text, period_from timestamp with time zone, period_to timestamp with time zone, size integer, seed text) TO compliance_auditor;

--
-- Name: FUNCTION export_my_data(kind text); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.export_my_data(kind text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.export_my_data(kind text) TO compliance_app;

--
-- Name: FUNCTION export_subject(user_id text, kind text); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.export_subject(user_id text, kind text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.export_subject(user_id text, kind text) TO compliance_dpo;

--
-- Name: FUNCTION find_subjects(query text, max_rows integer); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.find_subjects(query text, max_rows integer) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.find_subjects(query text, max_rows integer) TO compliance_dpo;

--
-- Name: FUNCTION forget_request_keys(); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.forget_request_keys() FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.forget_request_keys() TO compliance_worker;

--
-- Name: TABLE reports; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT ON TABLE compliance.reports TO compliance_dpo;
GRANT SELECT ON TABLE compliance.reports TO compliance_auditor;

--
-- Name: FUNCTION generate_monthly_report(month date); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.generate_monthly_report(month date) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.generate_monthly_report(month date) TO compliance_dpo;
GRANT ALL ON FUNCTION compliance.generate_monthly_report(month date) TO compliance_auditor;
GRANT ALL ON FUNCTION compliance.generate_monthly_report(month date) TO compliance_worker;

--
-- Name: FUNCTION grant_access(grantee text, patient text, scope text, purpose text, reason text, days integer); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.grant_access(grantee text, patient text, scope text, purpose text, reason text, days integer) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.grant_access(grantee text, patient text, scope text, purpose text, reason text, days integer) TO compliance_approver;

--
-- Name: FUNCTION has_consent(user_id text, purpose text); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.has_consent(user_id text, purpose text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.has_consent(user_id text, purpose text) TO compliance_app;
GRANT ALL ON FUNCTION compliance.has_consent(user_id text, purpose text) TO compliance_dpo;

--
-- Name: FUNCTION is_under_legal_hold(user_id text); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.is_under_legal_hold(user_id text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.is_under_legal_hold(user_id text) TO compliance_dpo;
GRANT ALL ON FUNCTION compliance.is_under_legal_hold(user_id text) TO compliance_worker;

--
-- Name: FUNCTION keep_consent_proof_after_erasure(keep boolean); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.keep_consent_proof_after_erasure(keep boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.keep_consent_proof_after_erasure(keep boolean) TO compliance_dpo;

--
-- Name: FUNCTION last_anchor(OUT anchored_at timestamp with time zone, OUT seal_no bigint, OUT seal_hash text, OUT key_id text, OUT destination text, OUT seals_since bigint); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.last_anchor(OUT anchored_at timestamp with time zone, OUT seal_no bigint, OUT seal_hash text, OUT key_id text, OUT destination text, OUT seals_since bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.last_anchor(OUT anchored_at timestamp with time zone, OUT seal_no bigint, OUT seal_hash text, OUT key_id text, OUT destination text, OUT seals_since bigint) TO compliance_dpo;
GRANT ALL ON FUNCTION compliance.last_anchor(OUT anchored_at timestamp with time zone, OUT seal_no bigint, OUT seal_hash text, OUT key_id text, OUT destination text, OUT seals_since bigint) TO compliance_auditor;

--
-- Name: FUNCTION lease_subject_export(user_id text, kind text); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.lease_subject_export(user_id text, kind text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.lease_subject_export(user_id text, kind text) TO compliance_dpo;

--
-- Name: FUNCTION list_conversations(user_id text); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.list_conversations(user_id text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.list_conversations(user_id text) TO compliance_app;
GRANT ALL ON FUNCTION compliance.list_conversations(user_id text) TO compliance_dpo;

--
-- Name: FUNCTION log_event(action text, category text, resource_type text, resource_id text, details jsonb, subject_id text, personal_details jsonb, outcome text, failure_reason text); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.log_event(action text, category text, resource_type text, resource_id text, details jsonb, subject_id text, personal_details jsonb, outcome text, failure_reason text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.log_event(action text, category text, resource_type text, resource_id text, details jsonb, subject_id text, personal_details jsonb, outcome text, failure_reason text) TO compliance_app;
GRANT ALL ON FUNCTION compliance.log_event(action text, category text, resource_type text, resource_id text, details jsonb, subject_id text, personal_details jsonb, outcome text, failure_reason text) TO compliance_dpo;
GRANT ALL ON FUNCTION compliance.log_event(action text, category text, resource_type text, resource_id text, details jsonb, subject_id text, personal_details jsonb, outcome text, failure_reason text) TO compliance_worker;

--
-- Name: FUNCTION mark_not_personal(relation regclass, column_name text, reason text); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.mark_not_personal(relation regclass, column_name text, reason text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.mark_not_personal(relation regclass, column_name text, reason text) TO compliance_dpo;

--
-- Name: FUNCTION my_access_grants(); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.my_access_grants() FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.my_access_grants() TO compliance_staff;

--
-- Name: TABLE access_review_campaigns; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT ON TABLE compliance.access_review_campaigns TO compliance_dpo;
GRANT SELECT ON TABLE compliance.access_review_campaigns TO compliance_auditor;

--
-- Name: FUNCTION open_access_review(due_in interval); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.open_access_review(due_in interval) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.open_access_review(due_in interval) TO compliance_dpo;
GRANT ALL ON FUNCTION compliance.open_access_review(due_in interval) TO compliance_worker;

--
-- Name: FUNCTION open_breach(discovered_at timestamp with time zone, description text, data_categories text[], affected_count integer, risk_assessment text, affected_user_ids text[]); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.open_breach(discovered_at timestamp with time zone, description text, data_categories text[], affected_count integer, risk_assessment text, affected_user_ids text[]) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.open_breach(discovered_at timestamp with time zone, description text, data_categories text[], affected_count integer, risk_assessment text, affected_user_ids text[]) TO compliance_dpo;

--
-- Name: FUNCTION open_request(actor text, roles text[], client_ip inet, user_agent text, session_id uuid, idle_timeout interval, username text, email text, full_name text, authentication jsonb); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.open_request(actor text, roles text[], client_ip inet, user_agent text, session_id uuid, idle_timeout interval, username text, email text, full_name text, authentication jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.open_request(actor text, roles text[], client_ip inet, user_agent text, session_id uuid, idle_timeout interval, username text, email text, full_name text, authentication jsonb) TO compliance_app;

--
-- Name: TABLE dsr_open_requests; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT ON TABLE compliance.dsr_open_requests TO compliance_dpo;

--
-- Name: FUNCTION open_requests(); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.open_requests() FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.open_requests() TO compliance_dpo;

--
-- Name: FUNCTION pending_access_requests(); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.pending_access_requests() FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.pending_access_requests() TO compliance_approver;

--
-- Name: FUNCTION phi_access(patient text, purpose text, intent text, record_id uuid); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.phi_access(patient text, purpose text, intent text, record_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.phi_access(patient text, purpose text, intent text, record_id uuid) TO compliance_app;
GRANT ALL ON FUNCTION compliance.phi_access(patient text, purpose text, intent text, record_id uuid) TO compliance_dpo;
GRANT ALL ON FUNCTION compliance.phi_access(patient text, purpose text, intent text, record_id uuid) TO compliance_staff;

--
-- Name: FUNCTION phi_access_log(before_id bigint, page_size integer, others_only boolean); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.phi_access_log(before_id bigint, page_size integer, others_only boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.phi_access_log(before_id bigint, page_size integer, others_only boolean) TO compliance_app;

--
-- Name: FUNCTION phi_audit_events(patient text, since timestamp with time zone, after_id bigint, max_rows integer); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.phi_audit_events(patient text, since timestamp with time zone, after_id bigint, max_rows integer) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.phi_audit_events(patient text, since timestamp with time zone, after_id bigint, max_rows integer) TO compliance_dpo;
GRANT ALL ON FUNCTION compliance.phi_audit_events(patient text, since timestamp with time zone, after_id bigint, max_rows integer) TO compliance_auditor;

--
-- Name: FUNCTION phi_key_versions(); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.phi_key_versions() FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.phi_key_versions() TO compliance_app;
GRANT ALL ON FUNCTION compliance.phi_key_versions() TO compliance_worker;

--
-- Name: TABLE legal_holds; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT ON TABLE compliance.legal_holds TO compliance_dpo;

--
-- Name: FUNCTION place_legal_hold(user_id text, reason text); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.place_legal_hold(user_id text, reason text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.place_legal_hold(user_id text, reason text) TO compliance_dpo;

--
-- Name: FUNCTION read_health_records(patient text, purpose text, record_ids uuid[]); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.read_health_records(patient text, purpose text, record_ids uuid[]) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.read_health_records(patient text, purpose text, record_ids uuid[]) TO compliance_app;
GRANT ALL ON FUNCTION compliance.read_health_records(patient text, purpose text, record_ids uuid[]) TO compliance_dpo;
GRANT ALL ON FUNCTION compliance.read_health_records(patient text, purpose text, record_ids uuid[]) TO compliance_staff;

--
-- Name: TABLE alert_outbox; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT ON TABLE compliance.alert_outbox TO compliance_dpo;

--
-- Name: COLUMN alert_outbox.id; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT(id) ON TABLE compliance.alert_outbox TO compliance_auditor;

--
-- Name: COLUMN alert_outbox.topic; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT(topic) ON TABLE compliance.alert_outbox TO compliance_auditor;

--
-- Name: COLUMN alert_outbox.payload; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT(payload) ON TABLE compliance.alert_outbox TO compliance_auditor;

--
-- Name: COLUMN alert_outbox.created_at; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT(created_at) ON TABLE compliance.alert_outbox TO compliance_auditor;

--
-- Name: COLUMN alert_outbox.state; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT(state) ON TABLE compliance.alert_outbox TO compliance_auditor;

--
-- Name: COLUMN alert_outbox.attempts; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT(attempts) ON TABLE compliance.alert_outbox TO compliance_auditor;

--
-- Name: COLUMN alert_outbox.next_attempt_at; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT(next_attempt_at) ON TABLE compliance.alert_outbox TO compliance_auditor;

--
-- Name: COLUMN alert_outbox.last_attempt_at; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT(last_attempt_at) ON TABLE compliance.alert_outbox TO compliance_auditor;

--
-- Name: COLUMN alert_outbox.last_error; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT(last_error) ON TABLE compliance.alert_outbox TO compliance_auditor;

--
-- Name: COLUMN alert_outbox.delivered_at; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT(delivered_at) ON TABLE compliance.alert_outbox TO compliance_auditor;

--
-- Name: COLUMN alert_outbox.delivered_via; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT(delivered_via) ON TABLE compliance.alert_outbox TO compliance_auditor;

--
-- Name: FUNCTION record_alert_delivery(alert_id bigint, outcome text, error text, retry_in_seconds integer); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.record_alert_delivery(alert_id bigint, outcome text, error text, retry_in_seconds integer) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.record_alert_delivery(alert_id bigint, outcome text, error text, retry_in_seconds integer) TO compliance_worker;

--
-- Name: FUNCTION record_anchor(seal_no bigint, seal_hash text, key_fingerprint text, signature text, signed jsonb, destination text); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.record_anchor(seal_no bigint, seal_hash text, key_fingerprint text, signature text, signed jsonb, destination text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.record_anchor(seal_no bigint, seal_hash text, key_fingerprint text, signature text, signed jsonb, destination text) TO compliance_worker;
GRANT ALL ON FUNCTION compliance.record_anchor(seal_no bigint, seal_hash text, key_fingerprint text, signature text, signed jsonb, destination text) TO compliance_dpo;
GRANT ALL ON FUNCTION compliance.record_anchor(seal_no bigint, seal_hash text, key_fingerprint text, signature text, signed jsonb, destination text) TO compliance_auditor;

--
-- Name: FUNCTION record_archive_check(ok boolean, error text); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.record_archive_check(ok boolean, error text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.record_archive_check(ok boolean, error text) TO compliance_worker;

--
-- Name: FUNCTION record_backup(result jsonb); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.record_backup(result jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.record_backup(result jsonb) TO compliance_worker;

--
-- Name: FUNCTION record_backup_verification(file_name text, file_sha256 text, file_bytes bigint, archive_created_at timestamp with time zone, last_seal_no bigint, last_seal_hash text, rows_checked bigint, problems jsonb); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.record_backup_verification(file_name text, file_sha256 text, file_bytes bigint, archive_created_at timestamp with time zone, last_seal_no bigint, last_seal_hash text, rows_checked bigint, problems jsonb) FROM PUBLIC;

--
-- Name: FUNCTION record_breach_notification(breach_id bigint, recipient text, notified_at timestamp with time zone); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.record_breach_notification(breach_id bigint, recipient text, notified_at timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.record_breach_notification(breach_id bigint, recipient text, notified_at timestamp with time zone) TO compliance_dpo;

--
-- Name: FUNCTION record_consent(user_id text, purpose text, granted boolean, policy_version text, source text); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.record_consent(user_id text, purpose text, granted boolean, policy_version text, source text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.record_consent(user_id text, purpose text, granted boolean, policy_version text, source text) TO compliance_app;
GRANT ALL ON FUNCTION compliance.record_consent(user_id text, purpose text, granted boolean, policy_version text, source text) TO compliance_dpo;

--
-- Name: TABLE evidence_packages; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT ON TABLE compliance.evidence_packages TO compliance_dpo;
GRANT SELECT ON TABLE compliance.evidence_packages TO compliance_auditor;

--
-- Name: FUNCTION record_evidence_package(period_from timestamp with time zone, period_to timestamp with time zone, manifest jsonb); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.record_evidence_package(period_from timestamp with time zone, period_to timestamp with time zone, manifest jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.record_evidence_package(period_from timestamp with time zone, period_to timestamp with time zone, manifest jsonb) TO compliance_dpo;
GRANT ALL ON FUNCTION compliance.record_evidence_package(period_from timestamp with time zone, period_to timestamp with time zone, manifest jsonb) TO compliance_auditor;

--
-- Name: FUNCTION record_heartbeat(); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.record_heartbeat() FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.record_heartbeat() TO compliance_worker;

--
-- Name: TABLE personal_tables; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT ON TABLE compliance.personal_tables TO compliance_dpo;
GRANT SELECT ON TABLE compliance.personal_tables TO compliance_auditor;

--
-- Name: FUNCTION record_phi_key_rotation(kek_version integer, rewrapped integer); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.record_phi_key_rotation(kek_version integer, rewrapped integer) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.record_phi_key_rotation(kek_version integer, rewrapped integer) TO compliance_worker;

--
-- Name: FUNCTION record_refusal(reason text, client_ip inet, user_agent text, detail text); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.record_refusal(reason text, client_ip inet, user_agent text, detail text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.record_refusal(reason text, client_ip inet, user_agent text, detail text) TO compliance_app;

--
-- Name: FUNCTION record_restore_drill(result jsonb); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.record_restore_drill(result jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.record_restore_drill(result jsonb) TO compliance_worker;

--
-- Name: FUNCTION record_service_probes(probes jsonb); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.record_service_probes(probes jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.record_service_probes(probes jsonb) TO compliance_worker;

--
-- Name: FUNCTION register_dsr(user_id text, kind text, notes text); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.register_dsr(user_id text, kind text, notes text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.register_dsr(user_id text, kind text, notes text) TO compliance_dpo;

--
-- Name: FUNCTION register_personal_table(relation regclass, subject_column text, personal_columns jsonb, erasure text, anonymize jsonb, kept_basis text, retention_period interval, retention_from text, retention_basis text, subject_reads boolean, subject_via regclass, application_roles regrole[]); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.register_personal_table(relation regclass, subject_column text, personal_columns jsonb, erasure text, anonymize jsonb, kept_basis text, retention_period interval, retention_from text, retention_basis text, subject_reads boolean, subject_via regclass, application_roles regrole[]) FROM PUBLIC;

--
-- Name: FUNCTION release_legal_hold(user_id text); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.release_legal_hold(user_id text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.release_legal_hold(user_id text) TO compliance_dpo;

--
-- Name: FUNCTION replay_erasures(journal jsonb, reason text); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.replay_erasures(journal jsonb, reason text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.replay_erasures(journal jsonb, reason text) TO compliance_dpo;

--
-- Name: FUNCTION report_phi_integrity_failure(record_id uuid, purpose text, failed_check text); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.report_phi_integrity_failure(record_id uuid, purpose text, failed_check text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.report_phi_integrity_failure(record_id uuid, purpose text, failed_check text) TO compliance_app;
GRANT ALL ON FUNCTION compliance.report_phi_integrity_failure(record_id uuid, purpose text, failed_check text) TO compliance_dpo;
GRANT ALL ON FUNCTION compliance.report_phi_integrity_failure(record_id uuid, purpose text, failed_check text) TO compliance_staff;

--
-- Name: FUNCTION report_standby_integrity_failure(ticket uuid, record_id uuid, failed_check text); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.report_standby_integrity_failure(ticket uuid, record_id uuid, failed_check text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.report_standby_integrity_failure(ticket uuid, record_id uuid, failed_check text) TO compliance_dpo;

--
-- Name: FUNCTION request_access(patient text, scope text, purpose text, reason text); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.request_access(patient text, scope text, purpose text, reason text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.request_access(patient text, scope text, purpose text, reason text) TO compliance_staff;

--
-- Name: FUNCTION reregister_subject(user_id text, reason text); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.reregister_subject(user_id text, reason text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.reregister_subject(user_id text, reason text) TO compliance_dpo;

--
-- Name: FUNCTION review_emergency_access(grant_id bigint, outcome text, note text); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.review_emergency_access(grant_id bigint, outcome text, note text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.review_emergency_access(grant_id bigint, outcome text, note text) TO compliance_approver;

--
-- Name: FUNCTION review_phi_access(); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.review_phi_access() FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.review_phi_access() TO compliance_worker;

--
-- Name: FUNCTION revoke_access_grant(grant_id bigint, note text); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.revoke_access_grant(grant_id bigint, note text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.revoke_access_grant(grant_id bigint, note text) TO compliance_approver;
GRANT ALL ON FUNCTION compliance.revoke_access_grant(grant_id bigint, note text) TO compliance_dpo;

--
-- Name: FUNCTION rewrap_subject_key(user_id text, key_version integer, wrapped_by integer, wrapped_key bytea, kek_version integer); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.rewrap_subject_key(user_id text, key_version integer, wrapped_by integer, wrapped_key bytea, kek_version integer) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.rewrap_subject_key(user_id text, key_version integer, wrapped_by integer, wrapped_key bytea, kek_version integer) TO compliance_worker;

--
-- Name: TABLE check_results; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT ON TABLE compliance.check_results TO compliance_dpo;
GRANT SELECT ON TABLE compliance.check_results TO compliance_auditor;
GRANT SELECT ON TABLE compliance.check_results TO compliance_worker;

--
-- Name: FUNCTION run_compliance_checks(trigger text, require_tls boolean, full_verification boolean); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.run_compliance_checks(trigger text, require_tls boolean, full_verification boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.run_compliance_checks(trigger text, require_tls boolean, full_verification boolean) TO compliance_worker;
GRANT ALL ON FUNCTION compliance.run_compliance_checks(trigger text, require_tls boolean, full_verification boolean) TO compliance_dpo;

--
-- Name: FUNCTION schema_version(); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.schema_version() FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.schema_version() TO compliance_dpo;
GRANT ALL ON FUNCTION compliance.schema_version() TO compliance_auditor;

--
-- Name: FUNCTION seal_audit_log(max_rows_per_seal integer, max_seals integer); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.seal_audit_log(max_rows_per_seal integer, max_seals integer) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.seal_audit_log(max_rows_per_seal integer, max_seals integer) TO compliance_worker;
GRANT ALL ON FUNCTION compliance.seal_audit_log(max_rows_per_seal integer, max_seals integer) TO compliance_dpo;

--
-- Name: FUNCTION set_anchor_key(key_fingerprint text); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.set_anchor_key(key_fingerprint text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.set_anchor_key(key_fingerprint text) TO compliance_worker;

--
-- Name: TABLE user_preferences; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT,DELETE ON TABLE compliance.user_preferences TO compliance_app;
GRANT SELECT ON TABLE compliance.user_preferences TO compliance_dpo;

--
-- Name: COLUMN user_preferences.user_id; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT INSERT(user_id) ON TABLE compliance.user_preferences TO compliance_app;
GRANT INSERT(user_id) ON TABLE compliance.user_preferences TO compliance_dpo;

--
-- Name: COLUMN user_preferences.preferences; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT INSERT(preferences),UPDATE(preferences) ON TABLE compliance.user_preferences TO compliance_app;
GRANT INSERT(preferences),UPDATE(preferences) ON TABLE compliance.user_preferences TO compliance_dpo;

--
-- Name: FUNCTION set_preferences(user_id text, preferences jsonb, merge boolean); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.set_preferences(user_id text, preferences jsonb, merge boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.set_preferences(user_id text, preferences jsonb, merge boolean) TO compliance_app;
GRANT ALL ON FUNCTION compliance.set_preferences(user_id text, preferences jsonb, merge boolean) TO compliance_dpo;

--
-- Name: FUNCTION set_request_context(actor text, roles text[], client_ip inet, user_agent text); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.set_request_context(actor text, roles text[], client_ip inet, user_agent text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.set_request_context(actor text, roles text[], client_ip inet, user_agent text) TO compliance_app;
GRANT ALL ON FUNCTION compliance.set_request_context(actor text, roles text[], client_ip inet, user_agent text) TO compliance_dpo;
GRANT ALL ON FUNCTION compliance.set_request_context(actor text, roles text[], client_ip inet, user_agent text) TO compliance_worker;
GRANT ALL ON FUNCTION compliance.set_request_context(actor text, roles text[], client_ip inet, user_agent text) TO compliance_auditor;
GRANT ALL ON FUNCTION compliance.set_request_context(actor text, roles text[], client_ip inet, user_agent text) TO compliance_staff;
GRANT ALL ON FUNCTION compliance.set_request_context(actor text, roles text[], client_ip inet, user_agent text) TO compliance_approver;

--
-- Name: FUNCTION standby_health_records(ticket uuid, user_id text); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.standby_health_records(ticket uuid, user_id text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.standby_health_records(ticket uuid, user_id text) TO compliance_dpo;

--
-- Name: FUNCTION standby_subject_export(ticket uuid, user_id text); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.standby_subject_export(ticket uuid, user_id text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.standby_subject_export(ticket uuid, user_id text) TO compliance_dpo;

--
-- Name: TABLE conversations; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT,DELETE ON TABLE compliance.conversations TO compliance_app;
GRANT SELECT ON TABLE compliance.conversations TO compliance_dpo;

--
-- Name: COLUMN conversations.conversation_id; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT INSERT(conversation_id) ON TABLE compliance.conversations TO compliance_app;

--
-- Name: COLUMN conversations.user_id; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT INSERT(user_id) ON TABLE compliance.conversations TO compliance_app;

--
-- Name: COLUMN conversations.title; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT INSERT(title),UPDATE(title) ON TABLE compliance.conversations TO compliance_app;

--
-- Name: COLUMN conversations.last_message_at; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT UPDATE(last_message_at) ON TABLE compliance.conversations TO compliance_app;

--
-- Name: COLUMN conversations.archived; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT INSERT(archived),UPDATE(archived) ON TABLE compliance.conversations TO compliance_app;

--
-- Name: COLUMN conversations.metadata; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT INSERT(metadata),UPDATE(metadata) ON TABLE compliance.conversations TO compliance_app;

--
-- Name: FUNCTION start_conversation(user_id text, title text, metadata jsonb); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.start_conversation(user_id text, title text, metadata jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.start_conversation(user_id text, title text, metadata jsonb) TO compliance_app;
GRANT ALL ON FUNCTION compliance.start_conversation(user_id text, title text, metadata jsonb) TO compliance_dpo;

--
-- Name: FUNCTION subject_access_log(user_id text, before_id bigint, page_size integer, others_only boolean); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.subject_access_log(user_id text, before_id bigint, page_size integer, others_only boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.subject_access_log(user_id text, before_id bigint, page_size integer, others_only boolean) TO compliance_dpo;

--
-- Name: FUNCTION subject_consents(user_id text); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.subject_consents(user_id text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.subject_consents(user_id text) TO compliance_dpo;

--
-- Name: FUNCTION subject_keys_to_rewrap(kek_version integer, max_rows integer); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.subject_keys_to_rewrap(kek_version integer, max_rows integer) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.subject_keys_to_rewrap(kek_version integer, max_rows integer) TO compliance_worker;

--
-- Name: FUNCTION subject_overview(user_id text); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.subject_overview(user_id text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.subject_overview(user_id text) TO compliance_dpo;

--
-- Name: TABLE sessions; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT ON TABLE compliance.sessions TO compliance_app;
GRANT SELECT ON TABLE compliance.sessions TO compliance_dpo;

--
-- Name: COLUMN sessions.id; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT INSERT(id) ON TABLE compliance.sessions TO compliance_app;

--
-- Name: COLUMN sessions.user_id; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT INSERT(user_id) ON TABLE compliance.sessions TO compliance_app;

--
-- Name: COLUMN sessions.last_activity_at; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT UPDATE(last_activity_at) ON TABLE compliance.sessions TO compliance_app;

--
-- Name: COLUMN sessions.ended_at; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT UPDATE(ended_at) ON TABLE compliance.sessions TO compliance_app;

--
-- Name: COLUMN sessions.ip_address; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT INSERT(ip_address) ON TABLE compliance.sessions TO compliance_app;

--
-- Name: COLUMN sessions.user_agent; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT INSERT(user_agent) ON TABLE compliance.sessions TO compliance_app;

--
-- Name: FUNCTION touch_session(user_id text, session_id uuid, idle_timeout interval); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.touch_session(user_id text, session_id uuid, idle_timeout interval) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.touch_session(user_id text, session_id uuid, idle_timeout interval) TO compliance_app;
GRANT ALL ON FUNCTION compliance.touch_session(user_id text, session_id uuid, idle_timeout interval) TO compliance_dpo;

--
-- Name: FUNCTION unregister_personal_table(relation regclass, reason text); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.unregister_personal_table(relation regclass, reason text) FROM PUBLIC;

--
-- Name: FUNCTION update_breach(breach_id bigint, changes jsonb); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.update_breach(breach_id bigint, changes jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.update_breach(breach_id bigint, changes jsonb) TO compliance_dpo;

--
-- Name: FUNCTION update_health_record(id uuid, purpose text, classification text, key_version integer, version integer, ciphertext bytea, integrity bytea); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.update_health_record(id uuid, purpose text, classification text, key_version integer, version integer, ciphertext bytea, integrity bytea) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.update_health_record(id uuid, purpose text, classification text, key_version integer, version integer, ciphertext bytea, integrity bytea) TO compliance_app;
GRANT ALL ON FUNCTION compliance.update_health_record(id uuid, purpose text, classification text, key_version integer, version integer, ciphertext bytea, integrity bytea) TO compliance_dpo;
GRANT ALL ON FUNCTION compliance.update_health_record(id uuid, purpose text, classification text, key_version integer, version integer, ciphertext bytea, integrity bytea) TO compliance_staff;

--
-- Name: FUNCTION update_profile(user_id text, patch jsonb); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.update_profile(user_id text, patch jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.update_profile(user_id text, patch jsonb) TO compliance_app;
GRANT ALL ON FUNCTION compliance.update_profile(user_id text, patch jsonb) TO compliance_dpo;

--
-- Name: FUNCTION uptime(window_length interval, at timestamp with time zone); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.uptime(window_length interval, at timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.uptime(window_length interval, at timestamp with time zone) TO compliance_worker;
GRANT ALL ON FUNCTION compliance.uptime(window_length interval, at timestamp with time zone) TO compliance_dpo;
GRANT ALL ON FUNCTION compliance.uptime(window_length interval, at timestamp with time zone) TO compliance_auditor;
GRANT ALL ON FUNCTION compliance.uptime(window_length interval, at timestamp with time zone) TO compliance_app;

--
-- Name: FUNCTION verify_audit_log(from_seal bigint, from_hash bytea, OUT ok boolean, OUT seals_checked bigint, OUT rows_checked bigint, OUT unsealed_rows bigint, OUT problems jsonb, OUT incremental boolean, OUT last_seal_no bigint, OUT last_seal_hash bytea, OUT notes jsonb); Type: ACL; Schema: compliance; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance.verify_audit_log(from_seal bigint, from_hash bytea, OUT ok boolean, OUT seals_checked bigint, OUT rows_checked bigint, OUT unsealed_rows bigint, OUT problems jsonb, OUT incremental boolean, OUT last_seal_no bigint, OUT last_seal_hash bytea, OUT notes jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance.verify_audit_log(from_seal bigint, from_hash bytea, OUT ok boolean, OUT seals_checked bigint, OUT rows_checked bigint, OUT unsealed_rows bigint, OUT problems jsonb, OUT incremental boolean, OUT last_seal_no bigint, OUT last_seal_hash bytea, OUT notes jsonb) TO compliance_auditor;
GRANT ALL ON FUNCTION compliance.verify_audit_log(from_seal bigint, from_hash bytea, OUT ok boolean, OUT seals_checked bigint, OUT rows_checked bigint, OUT unsealed_rows bigint, OUT problems jsonb, OUT incremental boolean, OUT last_seal_no bigint, OUT last_seal_hash bytea, OUT notes jsonb) TO compliance_dpo;
GRANT ALL ON FUNCTION compliance.verify_audit_log(from_seal bigint, from_hash bytea, OUT ok boolean, OUT seals_checked bigint, OUT rows_checked bigint, OUT unsealed_rows bigint, OUT problems jsonb, OUT incremental boolean, OUT last_seal_no bigint, OUT last_seal_hash bytea, OUT notes jsonb) TO compliance_worker;

--
-- Name: FUNCTION access_log_entries(subject text, others_only boolean, before_id bigint, page_size integer); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.access_log_entries(subject text, others_only boolean, before_id bigint, page_size integer) FROM PUBLIC;

--
-- Name: FUNCTION acting_for_one_subject(); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.acting_for_one_subject() FROM PUBLIC;

--
-- Name: FUNCTION active_access_grant(patient text, intent text, purpose text); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.active_access_grant(patient text, intent text, purpose text) FROM PUBLIC;

--
-- Name: FUNCTION adopt_tombstone_pepper(); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.adopt_tombstone_pepper() FROM PUBLIC;

--
-- Name: FUNCTION append_audit(action text, category text, resource_type text, resource_id text, details jsonb, user_id text, personal_details jsonb, outcome text, failure_reason text, actor_id text, include_client boolean); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.append_audit(action text, category text, resource_type text, resource_id text, details jsonb, user_id text, personal_details jsonb, outcome text, failure_reason text, actor_id text, include_client boolean) FROM PUBLIC;

--
-- Name: FUNCTION audit_access_grant(action text, grant_row compliance.access_grants, note text); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.audit_access_grant(action text, grant_row compliance.access_grants, note text) FROM PUBLIC;

--
-- Name: FUNCTION hash_field(value text); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.hash_field(value text) FROM PUBLIC;

--
-- Name: FUNCTION audit_actor_digest(salt bytea, actor_id text, ip_address inet, user_agent text); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.audit_actor_digest(salt bytea, actor_id text, ip_address inet, user_agent text) FROM PUBLIC;

--
-- Name: FUNCTION audit_breach(action text, breach compliance.breaches, changes jsonb); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.audit_breach(action text, breach compliance.breaches, changes jsonb) FROM PUBLIC;

--
-- Name: TABLE audit_seals; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT,DELETE,TRUNCATE,UPDATE ON TABLE compliance.audit_seals TO compliance_auditor;
GRANT SELECT,DELETE,TRUNCATE,UPDATE ON TABLE compliance.audit_seals TO compliance_dpo;
GRANT SELECT,DELETE,TRUNCATE,UPDATE ON TABLE compliance.audit_seals TO compliance_worker;
GRANT DELETE,TRUNCATE,UPDATE ON TABLE compliance.audit_seals TO compliance_app;

--
-- Name: FUNCTION audit_chain_bounds(OUT layout2_from bigint, OUT layout1_end_xact xid8, OUT layout1_end_id bigint, OUT layout2_end bigint); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.audit_chain_bounds(OUT layout2_from bigint, OUT layout1_end_xact xid8, OUT layout1_end_id bigint, OUT layout2_end bigint) FROM PUBLIC;

--
-- Name: FUNCTION audit_claims_contradicted(layout2_from bigint, layout2_end bigint, marker bigint); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.audit_claims_contradicted(layout2_from bigint, layout2_end bigint, marker bigint) FROM PUBLIC;

--
-- Name: FUNCTION audit_first_kept(dropping regclass, layout2_from bigint, OUT v1_xact xid8, OUT v1_id bigint, OUT v2_id bigint); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.audit_first_kept(dropping regclass, layout2_from bigint, OUT v1_xact xid8, OUT v1_id bigint, OUT v2_id bigint) FROM PUBLIC;

--
-- Name: FUNCTION audit_personal_digest(salt bytea, user_id text, actor_id text, ip_address inet, user_agent text, personal_details jsonb); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.audit_personal_digest(salt bytea, user_id text, actor_id text, ip_address inet, user_agent text, personal_details jsonb) FROM PUBLIC;

--
-- Name: FUNCTION audit_row_hash(id bigint, occurred_at timestamp with time zone, xact_id xid8, action text, category text, resource_type text, resource_id text, outcome text, failure_reason text, details jsonb, personal_digest bytea); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.audit_row_hash(id bigint, occurred_at timestamp with time zone, xact_id xid8, action text, category text, resource_type text, resource_id text, outcome text, failure_reason text, details jsonb, personal_digest bytea) FROM PUBLIC;

--
-- Name: FUNCTION audit_subject_digest(salt bytea, user_id text, personal_details jsonb); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.audit_subject_digest(salt bytea, user_id text, personal_details jsonb) FROM PUBLIC;

--
-- Name: TABLE audit_logs; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT,DELETE,TRUNCATE,UPDATE ON TABLE compliance.audit_logs TO compliance_app;
GRANT SELECT,DELETE,TRUNCATE,UPDATE ON TABLE compliance.audit_logs TO compliance_dpo;
GRANT SELECT,DELETE,TRUNCATE,UPDATE ON TABLE compliance.audit_logs TO compliance_worker;
GRANT DELETE,TRUNCATE,UPDATE ON TABLE compliance.audit_logs TO compliance_auditor;

--
-- Name: COLUMN audit_logs.id; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT(id) ON TABLE compliance.audit_logs TO compliance_auditor;

--
-- Name: COLUMN audit_logs.occurred_at; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT(occurred_at) ON TABLE compliance.audit_logs TO compliance_auditor;

--
-- Name: COLUMN audit_logs.xact_id; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT(xact_id) ON TABLE compliance.audit_logs TO compliance_auditor;

--
-- Name: COLUMN audit_logs.action; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT(action) ON TABLE compliance.audit_logs TO compliance_auditor;

--
-- Name: COLUMN audit_logs.category; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT(category) ON TABLE compliance.audit_logs TO compliance_auditor;

--
-- Name: COLUMN audit_logs.resource_type; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT(resource_type) ON TABLE compliance.audit_logs TO compliance_auditor;

--
-- Name: COLUMN audit_logs.resource_id; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT(resource_id) ON TABLE compliance.audit_logs TO compliance_auditor;

--
-- Name: COLUMN audit_logs.outcome; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT(outcome) ON TABLE compliance.audit_logs TO compliance_auditor;

--
-- Name: COLUMN audit_logs.failure_reason; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT(failure_reason) ON TABLE compliance.audit_logs TO compliance_auditor;

--
-- Name: COLUMN audit_logs.details; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT(details) ON TABLE compliance.audit_logs TO compliance_auditor;

--
-- Name: COLUMN audit_logs.personal_digest; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT(personal_digest) ON TABLE compliance.audit_logs TO compliance_auditor;

--
-- Name: COLUMN audit_logs.redacted_at; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT(redacted_at) ON TABLE compliance.audit_logs TO compliance_auditor;

--
-- Name: COLUMN audit_logs.subject_part_digest; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT(subject_part_digest) ON TABLE compliance.audit_logs TO compliance_auditor;

--
-- Name: COLUMN audit_logs.actor_part_digest; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT(actor_part_digest) ON TABLE compliance.audit_logs TO compliance_auditor;

--
-- Name: FUNCTION audit_log_checks_between(from_xact xid8, from_id bigint, to_xact xid8, to_id bigint, below_id bigint); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.audit_log_checks_between(from_xact xid8, from_id bigint, to_xact xid8, to_id bigint, below_id bigint) FROM PUBLIC;

--
-- Name: FUNCTION audit_parts_missing(have text, need text); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.audit_parts_missing(have text, need text) FROM PUBLIC;

--
-- Name: FUNCTION audit_problem_detail(kind text); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.audit_problem_detail(kind text) FROM PUBLIC;

--
-- Name: FUNCTION audit_seal_hash(previous_hash bytea, seal_no bigint, last_xact_id xid8, last_row_id bigint, row_count integer, row_hashes bytea); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.audit_seal_hash(previous_hash bytea, seal_no bigint, last_xact_id xid8, last_row_id bigint, row_count integer, row_hashes bytea) FROM PUBLIC;

--
-- Name: FUNCTION audit_seal_hash_v2(previous_hash bytea, seal_no bigint, first_row_id bigint, last_row_id bigint, row_count integer, row_hashes bytea); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.audit_seal_hash_v2(previous_hash bytea, seal_no bigint, first_row_id bigint, last_row_id bigint, row_count integer, row_hashes bytea) FROM PUBLIC;

--
-- Name: FUNCTION audit_seal_hash_of(seal compliance.audit_seals); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.audit_seal_hash_of(seal compliance.audit_seals) FROM PUBLIC;

--
-- Name: FUNCTION audit_seal_rows(seal compliance.audit_seals, from_xact xid8, from_id bigint, layout2_from bigint); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.audit_seal_rows(seal compliance.audit_seals, from_xact xid8, from_id bigint, layout2_from bigint) FROM PUBLIC;

--
-- Name: FUNCTION begin_bulk_operation(kind text); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.begin_bulk_operation(kind text) FROM PUBLIC;

--
-- Name: FUNCTION check_access_review(context jsonb); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.check_access_review(context jsonb) FROM PUBLIC;

--
-- Name: FUNCTION check_anchors(context jsonb); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.check_anchors(context jsonb) FROM PUBLIC;

--
-- Name: FUNCTION check_audit_chain(context jsonb); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.check_audit_chain(context jsonb) FROM PUBLIC;

--
-- Name: FUNCTION check_backup_age(context jsonb); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.check_backup_age(context jsonb) FROM PUBLIC;

--
-- Name: FUNCTION check_breach_deadlines(context jsonb); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.check_breach_deadlines(context jsonb) FROM PUBLIC;

--
-- Name: FUNCTION check_client_tls(context jsonb); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.check_client_tls(context jsonb) FROM PUBLIC;

--
-- Name: FUNCTION check_data_map(context jsonb); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.check_data_map(context jsonb) FROM PUBLIC;

--
-- Name: FUNCTION check_emergency_reviews(context jsonb); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.check_emergency_reviews(context jsonb) FROM PUBLIC;

--
-- Name: FUNCTION check_grant_request(patient text, scope text, purpose text, reason text, kind text); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.check_grant_request(patient text, scope text, purpose text, reason text, kind text) FROM PUBLIC;

--
-- Name: FUNCTION check_master_key_age(context jsonb); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.check_master_key_age(context jsonb) FROM PUBLIC;

--
-- Name: FUNCTION check_outside_the_database(context jsonb); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.check_outside_the_database(context jsonb) FROM PUBLIC;

--
-- Name: FUNCTION check_overdue_requests(context jsonb); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.check_overdue_requests(context jsonb) FROM PUBLIC;

--
-- Name: FUNCTION check_password_encryption(context jsonb); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.check_password_encryption(context jsonb) FROM PUBLIC;

--
-- Name: FUNCTION check_phi_findings(context jsonb); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.check_phi_findings(context jsonb) FROM PUBLIC;

--
-- Name: FUNCTION check_privileged_mfa(context jsonb); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.check_privileged_mfa(context jsonb) FROM PUBLIC;

--
-- Name: FUNCTION check_privileges(context jsonb); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.check_privileges(context jsonb) FROM PUBLIC;

--
-- Name: FUNCTION check_restore_drill(context jsonb); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.check_restore_drill(context jsonb) FROM PUBLIC;

--
-- Name: FUNCTION check_retention_backlog(context jsonb); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.check_retention_backlog(context jsonb) FROM PUBLIC;

--
-- Name: FUNCTION check_row_level_security(context jsonb); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.check_row_level_security(context jsonb) FROM PUBLIC;

--
-- Name: FUNCTION check_seal_lag(context jsonb); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.check_seal_lag(context jsonb) FROM PUBLIC;

--
-- Name: FUNCTION check_uptime(context jsonb); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.check_uptime(context jsonb) FROM PUBLIC;

--
-- Name: FUNCTION check_wal_archive_lag(context jsonb); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.check_wal_archive_lag(context jsonb) FROM PUBLIC;

--
-- Name: FUNCTION check_worker_heartbeat(context jsonb); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.check_worker_heartbeat(context jsonb) FROM PUBLIC;

--
-- Name: FUNCTION current_authentication(); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.current_authentication() FROM PUBLIC;

--
-- Name: FUNCTION current_grants(); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.current_grants() FROM PUBLIC;

--
-- Name: FUNCTION describe_interval(value interval); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.describe_interval(value interval) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance_private.describe_interval(value interval) TO compliance_app;
GRANT ALL ON FUNCTION compliance_private.describe_interval(value interval) TO compliance_dpo;

--
-- Name: FUNCTION drop_expired_audit_partitions(cutoff timestamp with time zone, dry_run boolean); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.drop_expired_audit_partitions(cutoff timestamp with time zone, dry_run boolean) FROM PUBLIC;

--
-- Name: FUNCTION end_bulk_operation(); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.end_bulk_operation() FROM PUBLIC;

--
-- Name: FUNCTION erase_registered_rows(user_id text); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.erase_registered_rows(user_id text) FROM PUBLIC;

--
-- Name: FUNCTION erase_subject_core(user_id text, reason text, confirm boolean, requested_by text); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.erase_subject_core(user_id text, reason text, confirm boolean, requested_by text) FROM PUBLIC;

--
-- Name: FUNCTION expired_audit_partitions(cutoff timestamp with time zone); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.expired_audit_partitions(cutoff timestamp with time zone) FROM PUBLIC;

--
-- Name: FUNCTION export_subject_core(user_id text, kind text); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.export_subject_core(user_id text, kind text) FROM PUBLIC;

--
-- Name: FUNCTION grant_duration(days integer); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.grant_duration(days integer) FROM PUBLIC;

--
-- Name: FUNCTION grant_for_decision(grant_id bigint, wanted text); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.grant_for_decision(grant_id bigint, wanted text) FROM PUBLIC;

--
-- Name: FUNCTION handler_for(user_id text); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.handler_for(user_id text) FROM PUBLIC;

--
-- Name: FUNCTION health_record_rows(patient text, record_ids uuid[]); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.health_record_rows(patient text, record_ids uuid[]) FROM PUBLIC;

--
-- Name: FUNCTION in_any_bulk_operation(); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.in_any_bulk_operation() FROM PUBLIC;

--
-- Name: FUNCTION in_bulk_operation(kind text); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.in_bulk_operation(kind text) FROM PUBLIC;

--
-- Name: FUNCTION is_erased(user_id text); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.is_erased(user_id text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance_private.is_erased(user_id text) TO compliance_dpo;

--
-- Name: FUNCTION is_reserved_action(action text); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.is_reserved_action(action text) FROM PUBLIC;

--
-- Name: FUNCTION lock_all_subjects(); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.lock_all_subjects() FROM PUBLIC;

--
-- Name: FUNCTION lock_subject(user_id text); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.lock_subject(user_id text) FROM PUBLIC;

--
-- Name: FUNCTION log_phi_access(action text, patient text, purpose text, intent text, record_ids uuid[], outcome text, failure_reason text, written jsonb); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.log_phi_access(action text, patient text, purpose text, intent text, record_ids uuid[], outcome text, failure_reason text, written jsonb) FROM PUBLIC;

--
-- Name: FUNCTION monthly_report_content(period_from timestamp with time zone, period_to timestamp with time zone); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.monthly_report_content(period_from timestamp with time zone, period_to timestamp with time zone) FROM PUBLIC;

--
-- Name: FUNCTION older_transaction_running(horizon xid8); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.older_transaction_running(horizon xid8) FROM PUBLIC;

--
-- Name: FUNCTION parse_keyring(keyring text); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.parse_keyring(keyring text) FROM PUBLIC;

--
-- Name: FUNCTION phi_caller_role(); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.phi_caller_role() FROM PUBLIC;

--
-- Name: FUNCTION phi_check(patient text, purpose text, intent text, record_id uuid); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.phi_check(patient text, purpose text, intent text, record_id uuid) FROM PUBLIC;

--
-- Name: FUNCTION protect_audit_relation(relation regclass); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.protect_audit_relation(relation regclass) FROM PUBLIC;

--
-- Name: FUNCTION raise_alert(topic text, payload jsonb, user_id text, actor_id text); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.raise_alert(topic text, payload jsonb, user_id text, actor_id text) FROM PUBLIC;

--
-- Name: FUNCTION raise_error(code text, message text, hint text); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.raise_error(code text, message text, hint text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance_private.raise_error(code text, message text, hint text) TO compliance_app;
GRANT ALL ON FUNCTION compliance_private.raise_error(code text, message text, hint text) TO compliance_dpo;

--
-- Name: FUNCTION record_completed_dsr(user_id text, kind text, handled_by text); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.record_completed_dsr(user_id text, kind text, handled_by text) FROM PUBLIC;

--
-- Name: FUNCTION record_expected_grants(); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.record_expected_grants() FROM PUBLIC;

--
-- Name: FUNCTION refuse_erased(user_id text); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.refuse_erased(user_id text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance_private.refuse_erased(user_id text) TO compliance_app;
GRANT ALL ON FUNCTION compliance_private.refuse_erased(user_id text) TO compliance_dpo;

--
-- Name: FUNCTION refuse_personal_outside(details jsonb, resource_id text, user_id text, actor_id text); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.refuse_personal_outside(details jsonb, resource_id text, user_id text, actor_id text) FROM PUBLIC;

--
-- Name: FUNCTION registered_rows_of(user_id text); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.registered_rows_of(user_id text) FROM PUBLIC;

--
-- Name: FUNCTION require_context_subject(); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.require_context_subject() FROM PUBLIC;

--
-- Name: FUNCTION require_known_failed_check(failed_check text); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.require_known_failed_check(failed_check text) FROM PUBLIC;

--
-- Name: FUNCTION require_subject(user_id text); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.require_subject(user_id text) FROM PUBLIC;
GRANT ALL ON FUNCTION compliance_private.require_subject(user_id text) TO compliance_app;
GRANT ALL ON FUNCTION compliance_private.require_subject(user_id text) TO compliance_dpo;

--
-- Name: FUNCTION retention_cutoff(category text, as_of timestamp with time zone); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.retention_cutoff(category text, as_of timestamp with time zone) FROM PUBLIC;

--
-- Name: FUNCTION retention_due_ids(category text, cutoff timestamp with time zone, max_rows integer); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.retention_due_ids(category text, cutoff timestamp with time zone, max_rows integer) FROM PUBLIC;

--
-- Name: FUNCTION retention_now(); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.retention_now() FROM PUBLIC;

--
-- Name: FUNCTION retention_row_subjects(category text, ids text[]); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.retention_row_subjects(category text, ids text[]) FROM PUBLIC;

--
-- Name: FUNCTION rotate_tombstone_pepper(); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.rotate_tombstone_pepper() FROM PUBLIC;

--
-- Name: FUNCTION session_peppers(extra integer); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.session_peppers(extra integer) FROM PUBLIC;

--
-- Name: FUNCTION staff_refusal(patient text, intent text, purpose text); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.staff_refusal(patient text, intent text, purpose text) FROM PUBLIC;

--
-- Name: FUNCTION standby_lease(ticket uuid, user_id text); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.standby_lease(ticket uuid, user_id text) FROM PUBLIC;

--
-- Name: FUNCTION subject_digest(user_id text); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.subject_digest(user_id text) FROM PUBLIC;

--
-- Name: FUNCTION subject_digest_with(peppers bytea[], user_id text); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.subject_digest_with(peppers bytea[], user_id text) FROM PUBLIC;

--
-- Name: FUNCTION subject_document(user_id text); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.subject_document(user_id text) FROM PUBLIC;

--
-- Name: FUNCTION subject_fits(type_name text, user_id text); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.subject_fits(type_name text, user_id text) FROM PUBLIC;

--
-- Name: FUNCTION tg__audit_deleted_rows(); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.tg__audit_deleted_rows() FROM PUBLIC;

--
-- Name: FUNCTION tg__audit_inserted_rows(); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.tg__audit_inserted_rows() FROM PUBLIC;

--
-- Name: FUNCTION tg__audit_row_change(); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.tg__audit_row_change() FROM PUBLIC;

--
-- Name: FUNCTION tg__refuse_foreign_key_value(); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.tg__refuse_foreign_key_value() FROM PUBLIC;

--
-- Name: FUNCTION tg__set_updated_at(); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.tg__set_updated_at() FROM PUBLIC;
GRANT ALL ON FUNCTION compliance_private.tg__set_updated_at() TO compliance_app;
GRANT ALL ON FUNCTION compliance_private.tg__set_updated_at() TO compliance_dpo;
GRANT ALL ON FUNCTION compliance_private.tg__set_updated_at() TO compliance_worker;

--
-- Name: FUNCTION tg_audit_logs__only_redaction(); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.tg_audit_logs__only_redaction() FROM PUBLIC;
GRANT ALL ON FUNCTION compliance_private.tg_audit_logs__only_redaction() TO compliance_app;
GRANT ALL ON FUNCTION compliance_private.tg_audit_logs__only_redaction() TO compliance_dpo;
GRANT ALL ON FUNCTION compliance_private.tg_audit_logs__only_redaction() TO compliance_worker;
GRANT ALL ON FUNCTION compliance_private.tg_audit_logs__only_redaction() TO compliance_auditor;

--
-- Name: FUNCTION tg_audit_logs__refuse_change(); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.tg_audit_logs__refuse_change() FROM PUBLIC;
GRANT ALL ON FUNCTION compliance_private.tg_audit_logs__refuse_change() TO compliance_app;
GRANT ALL ON FUNCTION compliance_private.tg_audit_logs__refuse_change() TO compliance_dpo;
GRANT ALL ON FUNCTION compliance_private.tg_audit_logs__refuse_change() TO compliance_worker;
GRANT ALL ON FUNCTION compliance_private.tg_audit_logs__refuse_change() TO compliance_auditor;

--
-- Name: FUNCTION tg_clock_override__audit(); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.tg_clock_override__audit() FROM PUBLIC;

--
-- Name: FUNCTION tg_consent_records__append_only(); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.tg_consent_records__append_only() FROM PUBLIC;

--
-- Name: FUNCTION tg_dsr_requests__set_due_at(); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.tg_dsr_requests__set_due_at() FROM PUBLIC;
GRANT ALL ON FUNCTION compliance_private.tg_dsr_requests__set_due_at() TO compliance_app;
GRANT ALL ON FUNCTION compliance_private.tg_dsr_requests__set_due_at() TO compliance_dpo;

--
-- Name: FUNCTION tg_legal_holds__lock_subject(); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.tg_legal_holds__lock_subject() FROM PUBLIC;

--
-- Name: FUNCTION tg_retention_policies__audit(); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.tg_retention_policies__audit() FROM PUBLIC;

--
-- Name: FUNCTION tg_user_profiles__refuse_delete_under_hold(); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.tg_user_profiles__refuse_delete_under_hold() FROM PUBLIC;
GRANT ALL ON FUNCTION compliance_private.tg_user_profiles__refuse_delete_under_hold() TO compliance_app;
GRANT ALL ON FUNCTION compliance_private.tg_user_profiles__refuse_delete_under_hold() TO compliance_dpo;
GRANT ALL ON FUNCTION compliance_private.tg_user_profiles__refuse_delete_under_hold() TO compliance_worker;

--
-- Name: FUNCTION tg_user_profiles__refuse_erased(); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.tg_user_profiles__refuse_erased() FROM PUBLIC;

--
-- Name: FUNCTION tombstone_pepper_check(pepper bytea); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.tombstone_pepper_check(pepper bytea) FROM PUBLIC;

--
-- Name: FUNCTION untrusted_code_on(relation regclass); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.untrusted_code_on(relation regclass) FROM PUBLIC;

--
-- Name: FUNCTION written_by_its_routine(action text, details jsonb); Type: ACL; Schema: compliance_private; Owner: compliance_owner
--

REVOKE ALL ON FUNCTION compliance_private.written_by_its_routine(action text, details jsonb) FROM PUBLIC;

--
-- Name: TABLE access_grant_settings; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT ON TABLE compliance.access_grant_settings TO compliance_dpo;
GRANT SELECT ON TABLE compliance.access_grant_settings TO compliance_approver;
GRANT SELECT ON TABLE compliance.access_grant_settings TO compliance_auditor;

--
-- Name: COLUMN access_grant_settings.assignment_days; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT UPDATE(assignment_days) ON TABLE compliance.access_grant_settings TO compliance_dpo;

--
-- Name: COLUMN access_grant_settings.assignment_days_max; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT UPDATE(assignment_days_max) ON TABLE compliance.access_grant_settings TO compliance_dpo;

--
-- Name: COLUMN access_grant_settings.emergency_hours; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT UPDATE(emergency_hours) ON TABLE compliance.access_grant_settings TO compliance_dpo;

--
-- Name: COLUMN access_grant_settings.emergency_review_hours; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT UPDATE(emergency_review_hours) ON TABLE compliance.access_grant_settings TO compliance_dpo;

--
-- Name: TABLE access_review_campaign_status; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT ON TABLE compliance.access_review_campaign_status TO compliance_dpo;
GRANT SELECT ON TABLE compliance.access_review_campaign_status TO compliance_auditor;

--
-- Name: TABLE access_review_role_actions; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT ON TABLE compliance.access_review_role_actions TO compliance_dpo;
GRANT SELECT ON TABLE compliance.access_review_role_actions TO compliance_auditor;

--
-- Name: TABLE backup_verifications; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT ON TABLE compliance.backup_verifications TO compliance_dpo;
GRANT SELECT ON TABLE compliance.backup_verifications TO compliance_auditor;

--
-- Name: TABLE breach_subjects; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT ON TABLE compliance.breach_subjects TO compliance_dpo;

--
-- Name: TABLE check_runs; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT ON TABLE compliance.check_runs TO compliance_dpo;
GRANT SELECT ON TABLE compliance.check_runs TO compliance_auditor;
GRANT SELECT ON TABLE compliance.check_runs TO compliance_worker;

--
-- Name: TABLE compliance_check_settings; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT ON TABLE compliance.compliance_check_settings TO compliance_dpo;
GRANT SELECT ON TABLE compliance.compliance_check_settings TO compliance_worker;
GRANT SELECT ON TABLE compliance.compliance_check_settings TO compliance_auditor;

--
-- Name: COLUMN compliance_check_settings.uptime_target; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT UPDATE(uptime_target) ON TABLE compliance.compliance_check_settings TO compliance_dpo;

--
-- Name: COLUMN compliance_check_settings.uptime_window; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT UPDATE(uptime_window) ON TABLE compliance.compliance_check_settings TO compliance_dpo;

--
-- Name: COLUMN compliance_check_settings.seal_lag_seconds; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT UPDATE(seal_lag_seconds) ON TABLE compliance.compliance_check_settings TO compliance_dpo;

--
-- Name: COLUMN compliance_check_settings.retention_grace; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT UPDATE(retention_grace) ON TABLE compliance.compliance_check_settings TO compliance_dpo;

--
-- Name: COLUMN compliance_check_settings.heartbeat_max_age; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT UPDATE(heartbeat_max_age) ON TABLE compliance.compliance_check_settings TO compliance_dpo;

--
-- Name: COLUMN compliance_check_settings.master_key_max_age; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT UPDATE(master_key_max_age) ON TABLE compliance.compliance_check_settings TO compliance_dpo;

--
-- Name: TABLE consent_purposes; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT ON TABLE compliance.consent_purposes TO compliance_app;
GRANT SELECT ON TABLE compliance.consent_purposes TO compliance_dpo;
GRANT SELECT ON TABLE compliance.consent_purposes TO compliance_auditor;

--
-- Name: TABLE current_consents; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT ON TABLE compliance.current_consents TO compliance_app;
GRANT SELECT ON TABLE compliance.current_consents TO compliance_dpo;

--
-- Name: TABLE erasure_settings; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT ON TABLE compliance.erasure_settings TO compliance_dpo;
GRANT SELECT ON TABLE compliance.erasure_settings TO compliance_auditor;

--
-- Name: TABLE evidence_populations; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT ON TABLE compliance.evidence_populations TO compliance_dpo;
GRANT SELECT ON TABLE compliance.evidence_populations TO compliance_auditor;

--
-- Name: TABLE health_record_categories; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT ON TABLE compliance.health_record_categories TO compliance_app;
GRANT SELECT ON TABLE compliance.health_record_categories TO compliance_dpo;
GRANT SELECT ON TABLE compliance.health_record_categories TO compliance_staff;
GRANT SELECT ON TABLE compliance.health_record_categories TO compliance_auditor;

--
-- Name: TABLE not_personal_columns; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT ON TABLE compliance.not_personal_columns TO compliance_dpo;
GRANT SELECT ON TABLE compliance.not_personal_columns TO compliance_auditor;

--
-- Name: TABLE personal_data_categories; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT ON TABLE compliance.personal_data_categories TO compliance_dpo;
GRANT SELECT ON TABLE compliance.personal_data_categories TO compliance_auditor;

--
-- Name: TABLE phi_access_review_settings; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT ON TABLE compliance.phi_access_review_settings TO compliance_dpo;
GRANT SELECT ON TABLE compliance.phi_access_review_settings TO compliance_worker;
GRANT SELECT ON TABLE compliance.phi_access_review_settings TO compliance_auditor;

--
-- Name: COLUMN phi_access_review_settings.weekly_threshold; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT UPDATE(weekly_threshold) ON TABLE compliance.phi_access_review_settings TO compliance_dpo;

--
-- Name: COLUMN phi_access_review_settings.baseline_factor; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT UPDATE(baseline_factor) ON TABLE compliance.phi_access_review_settings TO compliance_dpo;

--
-- Name: COLUMN phi_access_review_settings.day_starts; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT UPDATE(day_starts) ON TABLE compliance.phi_access_review_settings TO compliance_dpo;

--
-- Name: COLUMN phi_access_review_settings.day_ends; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT UPDATE(day_ends) ON TABLE compliance.phi_access_review_settings TO compliance_dpo;

--
-- Name: COLUMN phi_access_review_settings.time_zone; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT UPDATE(time_zone) ON TABLE compliance.phi_access_review_settings TO compliance_dpo;

--
-- Name: TABLE phi_unusual_access; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT ON TABLE compliance.phi_unusual_access TO compliance_dpo;
GRANT SELECT ON TABLE compliance.phi_unusual_access TO compliance_worker;

--
-- Name: TABLE retention_policies; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT ON TABLE compliance.retention_policies TO compliance_dpo;
GRANT SELECT ON TABLE compliance.retention_policies TO compliance_worker;
GRANT SELECT ON TABLE compliance.retention_policies TO compliance_auditor;

--
-- Name: COLUMN retention_policies.retention_period; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT UPDATE(retention_period) ON TABLE compliance.retention_policies TO compliance_dpo;

--
-- Name: COLUMN retention_policies.legal_basis; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT UPDATE(legal_basis) ON TABLE compliance.retention_policies TO compliance_dpo;

--
-- Name: COLUMN retention_policies.enabled; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT UPDATE(enabled) ON TABLE compliance.retention_policies TO compliance_dpo;

--
-- Name: TABLE retention_due; Type: ACL; Schema: compliance; Owner: compliance_owner
--

GRANT SELECT ON TABLE compliance.retention_due TO compliance_dpo;
GRANT SELECT ON TABLE compliance.retention_due TO compliance_worker;
GRANT SELECT ON TABLE compliance.retention_due TO compliance_auditor;

--
-- Name: DEFAULT PRIVILEGES FOR FUNCTIONS; Type: DEFAULT ACL; Schema: -; Owner: compliance_owner
--

ALTER DEFAULT PRIVILEGES FOR ROLE compliance_owner REVOKE ALL ON FUNCTIONS  FROM PUBLIC;

--
-- PostgreSQL database dump complete
--
