--! Previous: sha1:d2bbe89aed912d7a24c804fd18be1070b260b4bb
--! Hash: sha1:6b357dc527091104a866412b0213c5e0dbd46902
--! Message: Only the API server's login is believed about how a privileged actor signed in

-- Only the API server's login is believed about how a privileged actor signed in: any session can
-- set compliance.authentication, so current_authentication() honours it only from a member of
-- compliance_app, and every audit path (append_audit, both row triggers) asks it.
-- included from fixtures/context/current_authentication.sql
-- compliance_private.current_authentication(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.current_authentication()
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  -- any login can set the setting; only the API server's (a member of compliance_app, as
  -- open_request needs) is believed, so a worker or a DBA's session cannot pass as a signed-in DPO
  select case when pg_has_role(session_user, 'compliance_app', 'MEMBER')
              then nullif(current_setting('compliance.authentication', true), '')::jsonb end;
$function$;

comment on function compliance_private.current_authentication() is
  'What the request''s token proved, as open_request recorded it for a privileged request: {amr, acr, mfa, auth_time}; NULL for a subject''s request and for SQL called without the API (the CLI, a DBA), whose login is the authentication. The setting is believed only from a login that is a member of compliance_app (the API server''s): any session can set a setting, and a worker''s or a DBA''s must not count as a privileged action proved by multi-factor sign-in.';

-- included from fixtures/audit/append_audit.sql
-- compliance_private.append_audit(action text, category text, resource_type text, resource_id text, details jsonb, user_id text, personal_details jsonb, outcome text, failure_reason text, actor_id text, include_client boolean): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.append_audit(action text, category text, resource_type text DEFAULT NULL::text, resource_id text DEFAULT NULL::text, details jsonb DEFAULT '{}'::jsonb, user_id text DEFAULT NULL::text, personal_details jsonb DEFAULT NULL::jsonb, outcome text DEFAULT 'success'::text, failure_reason text DEFAULT NULL::text, actor_id text DEFAULT compliance.current_actor(), include_client boolean DEFAULT true)
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
$function$;

comment on function compliance_private.append_audit(action text, category text, resource_type text, resource_id text, details jsonb, user_id text, personal_details jsonb, outcome text, failure_reason text, actor_id text, include_client boolean) is
  'Writes one audit row for the routines and log_event: checks the row rules (action dotted lower case, a known category and outcome, a failure_reason only with a failure, details a JSON object: BADRG otherwise), adds to a reserved action''s details the routine that called it, and to a privileged API request''s rows how its actor signed in (authentication: amr, acr, mfa, auth_time) (written_by, from the call stack: verification trusts a drop or erasure record only from its own routine), fills the actor, client IP and user agent (unless include_client is false) from the request context, salts and digests the personal part. The row triggers write the same columns inline, because a nested call costs every personal write.';

-- included from fixtures/audit/tg__audit_row_change.sql
-- compliance_private.tg__audit_row_change(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.tg__audit_row_change()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

comment on function compliance_private.tg__audit_row_change() is
  'AFTER UPDATE row trigger on every personal table (inserts are audited per statement by tg__audit_inserted_rows): one audit row per update, with the actor from the request context and, for updates, the changed field names (details.changed_fields, shortest name first) and their old and new values (personal part, GDPR Art. 16). Deletes are audited per statement by tg__audit_deleted_rows.';
