--! Previous: sha1:c5caf0f9be135b07d32c7ee534374e12ff295d98
--! Hash: sha1:1bcb37c5cc01f888f4ce82618da694be3de158c7
--! Message: definitions-in-fixtures

-- The current definition of every function, view and policy moves to a file of its own under
-- db/migrations/fixtures/<area>/ (issue #16). This migration re-creates each from its file,
-- unchanged: pg_dump --schema-only is identical before and after. From now on a migration that
-- changes one of them edits its file and includes it (db/CONVENTIONS.md).


-- context
-- included from fixtures/context/acting_for_one_subject.sql
-- compliance_private.acting_for_one_subject(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.acting_for_one_subject()
 RETURNS boolean
 LANGUAGE sql
 STABLE PARALLEL SAFE
RETURN ((current_setting('role'::text) = 'compliance_app'::text) OR (CURRENT_USER = 'compliance_app'::name));

comment on function compliance_private.acting_for_one_subject() is
  'Whether the caller is the app role (entered with SET ROLE compliance_app, so this holds inside SECURITY DEFINER functions too), which may learn about and act for the request context''s subject only.';

-- included from fixtures/context/current_actor.sql
-- compliance.current_actor(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.current_actor()
 RETURNS text
 LANGUAGE sql
 STABLE PARALLEL SAFE
RETURN COALESCE(NULLIF(current_setting('compliance.actor'::text, true), ''::text), (SESSION_USER)::text);

comment on function compliance.current_actor() is
  'Who the audit log records as acting: the request context''s actor, or the database login (session_user) when a DBA calls SQL directly without a context.';

-- included from fixtures/context/current_actor_roles.sql
-- compliance.current_actor_roles(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.current_actor_roles()
 RETURNS text[]
 LANGUAGE sql
 STABLE PARALLEL SAFE
RETURN COALESCE(string_to_array(NULLIF(current_setting('compliance.actor_roles'::text, true), ''::text), ','::text), '{}'::text[]);

comment on function compliance.current_actor_roles() is
  'The application roles of the actor (from the token), as set by set_request_context.';

-- included from fixtures/context/current_client_ip.sql
-- compliance.current_client_ip(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.current_client_ip()
 RETURNS inet
 LANGUAGE sql
 STABLE PARALLEL SAFE
RETURN (NULLIF(current_setting('compliance.client_ip'::text, true), ''::text))::inet;

comment on function compliance.current_client_ip() is
  'The client IP address of the current request, or NULL outside a request.';

-- included from fixtures/context/current_subject.sql
-- compliance.current_subject(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.current_subject()
 RETURNS text
 LANGUAGE sql
 STABLE PARALLEL SAFE
RETURN NULLIF(current_setting('compliance.actor'::text, true), ''::text);

comment on function compliance.current_subject() is
  'The user id of the actor set by set_request_context, or NULL when no context is set. Row-level security compares rows with it, so no context means no rows.';

-- included from fixtures/context/current_user_agent.sql
-- compliance.current_user_agent(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.current_user_agent()
 RETURNS text
 LANGUAGE sql
 STABLE PARALLEL SAFE
RETURN NULLIF(current_setting('compliance.user_agent'::text, true), ''::text);

comment on function compliance.current_user_agent() is
  'The user agent of the current request, or NULL outside a request.';

-- included from fixtures/context/describe_interval.sql
-- compliance_private.describe_interval(value interval): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.describe_interval(value interval)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE
RETURN CASE WHEN (value < '00:01:00'::interval) THEN format('%s seconds'::text, (EXTRACT(epoch FROM value))::bigint) WHEN ((value < '01:00:00'::interval) AND (EXTRACT(second FROM value) = (0)::numeric)) THEN format('%s minute%s'::text, ((EXTRACT(epoch FROM value))::bigint / 60), CASE WHEN ((EXTRACT(epoch FROM value))::bigint = 60) THEN ''::text ELSE 's'::text END) ELSE (value)::text END;

comment on function compliance_private.describe_interval(value interval) is
  'An interval in words for messages: 45 seconds, 1 minute, 15 minutes; longer ones in PostgreSQL''s own form.';

-- included from fixtures/context/open_request.sql
-- compliance.open_request(actor text, roles text[], client_ip inet, user_agent text, session_id uuid, idle_timeout interval, username text, email text, full_name text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.open_request(actor text, roles text[], client_ip inet, user_agent text, session_id uuid, idle_timeout interval DEFAULT '00:15:00'::interval, username text DEFAULT NULL::text, email text DEFAULT NULL::text, full_name text DEFAULT NULL::text)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  perform compliance.set_request_context(actor, roles, client_ip, user_agent);
  -- first sight of a subject creates its profile from the identity provider's claims
  perform compliance.ensure_profile(actor, username, email, full_name);
  perform compliance.touch_session(actor, session_id, idle_timeout);
end;
$function$;

comment on function compliance.open_request(actor text, roles text[], client_ip inet, user_agent text, session_id uuid, idle_timeout interval, username text, email text, full_name text) is
  'The first call of an API request transaction, after SET LOCAL ROLE compliance_app: sets the request context (the actor is the authenticated subject), creates the subject''s profile on first sight (ensure_profile) and records activity in its session (touch_session). Errors: ERASD for an erased subject, SESXP for an idle or closed session.';

-- included from fixtures/context/raise_error.sql
-- compliance_private.raise_error(code text, message text, hint text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.raise_error(code text, message text, hint text DEFAULT NULL::text)
 RETURNS void
 LANGUAGE plpgsql
 IMMUTABLE PARALLEL SAFE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  raise exception using errcode = code, message = message, hint = coalesce(hint, '');
end;
$function$;

comment on function compliance_private.raise_error(code text, message text, hint text) is
  'Raises a pgcomply error with one of the SQLSTATEs listed in db/ERROR_CODES.md.';

-- included from fixtures/context/require_context_subject.sql
-- compliance_private.require_context_subject(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.require_context_subject()
 RETURNS text
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  if compliance.current_subject() is null then
    perform compliance_private.raise_error('NOCTX', 'no subject in the request context',
      'Call compliance.set_request_context(actor => ''user:...'') first.');
  end if;
  return compliance.current_subject();
end;
$function$;

comment on function compliance_private.require_context_subject() is
  'The request actor for the self-service functions; NOCTX when no context is set.';

-- included from fixtures/context/require_subject.sql
-- compliance_private.require_subject(user_id text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.require_subject(user_id text)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  if user_id is null or not exists (select from compliance.user_profiles p where p.user_id = require_subject.user_id) then
    perform compliance_private.refuse_erased(user_id);
    perform compliance_private.raise_error('UNKSJ', format('no subject with user id %s', coalesce(user_id, 'NULL')),
      'Check the user id; a subject exists once its profile was created.');
  end if;
end;
$function$;

comment on function compliance_private.require_subject(user_id text) is
  'Raises ERASD for an erased subject and UNKSJ for an unknown one; returns quietly when the profile exists and is visible.';

-- included from fixtures/context/set_request_context.sql
-- compliance.set_request_context(actor text, roles text[], client_ip inet, user_agent text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.set_request_context(actor text, roles text[] DEFAULT '{}'::text[], client_ip inet DEFAULT NULL::inet, user_agent text DEFAULT NULL::text)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  -- the server switches to compliance_dpo for a token with the dpo role; a context that says
  -- otherwise is a server bug acting with rights its caller does not have
  if current_user = 'compliance_dpo' and not coalesce('dpo' = any (roles), false) then
    perform compliance_private.raise_error('DPORL', 'the DPO role needs an actor whose roles include dpo',
      'Set the request context with roles => ''{dpo}'' for a data protection officer, or act as compliance_app.');
  end if;
  perform set_config('compliance.actor', coalesce(actor, ''), true),
          set_config('compliance.actor_roles', coalesce(array_to_string(roles, ','), ''), true),
          set_config('compliance.client_ip', coalesce(client_ip::text, ''), true),
          set_config('compliance.user_agent', coalesce(left(user_agent, 512), ''), true);
end;
$function$;

comment on function compliance.set_request_context(actor text, roles text[], client_ip inet, user_agent text) is
  'Sets who is acting in this transaction (actor, their roles, client IP and user agent); every audit row reads them. As compliance_dpo, the roles must include dpo (DPORL otherwise).';

-- included from fixtures/context/tg__set_updated_at.sql
-- compliance_private.tg__set_updated_at(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.tg__set_updated_at()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  new.updated_at := greatest(now(), old.updated_at + interval '1 microsecond');
  return new;
end;
$function$;

comment on function compliance_private.tg__set_updated_at() is
  'BEFORE UPDATE trigger: keeps updated_at moving forward, even for two updates in one transaction.';

-- tombstones
-- included from fixtures/tombstones/adopt_tombstone_pepper.sql
-- compliance_private.adopt_tombstone_pepper(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.adopt_tombstone_pepper()
 RETURNS text
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

comment on function compliance_private.adopt_tombstone_pepper() is
  'Setup step, owner only: records check values for the session''s tombstone keyring and removes the pepper older versions kept in compliance_private.settings (refusing if existing tombstones need that pepper and the session brought another). Idempotent: afterwards it only checks the keyring. Errors: PEPPR.';

-- included from fixtures/tombstones/is_erased.sql
-- compliance_private.is_erased(user_id text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.is_erased(user_id text)
 RETURNS boolean
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select exists (select from compliance_private.erased_subjects e
                 where e.subject_digest = compliance_private.subject_digest(user_id));
$function$;

comment on function compliance_private.is_erased(user_id text) is
  'Whether a tombstone exists for this user id.';

-- included from fixtures/tombstones/parse_keyring.sql
-- compliance_private.parse_keyring(keyring text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.parse_keyring(keyring text)
 RETURNS bytea[]
 LANGUAGE plpgsql
 IMMUTABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

comment on function compliance_private.parse_keyring(keyring text) is
  'The peppers of a keyring (hex, separated by commas, oldest first). Errors: PEPPR when malformed.';

-- included from fixtures/tombstones/refuse_erased.sql
-- compliance_private.refuse_erased(user_id text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.refuse_erased(user_id text)
 RETURNS void
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

comment on function compliance_private.refuse_erased(user_id text) is
  'Raises ERASD when the user id has a tombstone. The app role gets an answer only about the subject it acts for; for any other id it returns quietly.';

-- included from fixtures/tombstones/rotate_tombstone_pepper.sql
-- compliance_private.rotate_tombstone_pepper(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.rotate_tombstone_pepper()
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

comment on function compliance_private.rotate_tombstone_pepper() is
  'Owner only: adds a pepper. Call it in a session whose keyring is the current one plus the new pepper at the end; every tombstone is hashed once more under the new pepper, so a dump and any single leaked pepper no longer confirm an erased id. From then on every session needs the longer keyring. Errors: PEPPR.';

-- included from fixtures/tombstones/session_peppers.sql
-- compliance_private.session_peppers(extra integer): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.session_peppers(extra integer DEFAULT 0)
 RETURNS bytea[]
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

comment on function compliance_private.session_peppers(extra integer) is
  'The session''s tombstone keyring (compliance.tombstone_pepper), checked against compliance_private.tombstone_peppers; extra => 1 admits one new pepper during a rotation. Errors: PEPPR when it is missing, malformed or wrong.';

-- included from fixtures/tombstones/subject_digest.sql
-- compliance_private.subject_digest(user_id text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.subject_digest(user_id text)
 RETURNS bytea
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_digest bytea := convert_to(user_id, 'UTF8');
  v_pepper bytea;
begin
  foreach v_pepper in array compliance_private.session_peppers() loop
    v_digest := sha256(v_pepper || v_digest);
  end loop;
  return v_digest;
end;
$function$;

comment on function compliance_private.subject_digest(user_id text) is
  'Peppered hash of a user id (the session''s keyring applied in turn): lets pgcomply recognise an erased subject without keeping the id. Owner only. Errors: PEPPR.';

-- included from fixtures/tombstones/tg_user_profiles__refuse_erased.sql
-- compliance_private.tg_user_profiles__refuse_erased(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.tg_user_profiles__refuse_erased()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  -- waits for a running erasure of the same id, then sees its tombstone
  perform compliance_private.lock_subject(new.user_id);
  perform compliance_private.refuse_erased(new.user_id);
  return new;
end;
$function$;

comment on function compliance_private.tg_user_profiles__refuse_erased() is
  'BEFORE INSERT on user_profiles: a profile cannot be created for an erased user id (ERASD), even concurrently with its erasure.';

-- included from fixtures/tombstones/tombstone_pepper_check.sql
-- compliance_private.tombstone_pepper_check(pepper bytea): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.tombstone_pepper_check(pepper bytea)
 RETURNS bytea
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
RETURN sha256((convert_to('pgcomply tombstone pepper check'::text, 'UTF8'::name) || pepper));

comment on function compliance_private.tombstone_pepper_check(pepper bytea) is
  'The check value stored for a pepper: tells the right pepper from a wrong one without revealing it.';

-- audit
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
  v_subject_salt bytea := uuid_send(gen_random_uuid());
  v_actor_salt bytea := uuid_send(gen_random_uuid());
  v_subject_digest bytea;
  v_actor_digest bytea;
  v_id bigint;
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
  'Writes one audit row for the routines and log_event: checks the row rules (action dotted lower case, a known category and outcome, a failure_reason only with a failure, details a JSON object: BADRG otherwise), fills the actor, client IP and user agent (unless include_client is false) from the request context, salts and digests the personal part. The row triggers write the same columns inline, because a nested call costs every personal write.';

-- included from fixtures/audit/audit_actor_digest.sql
-- compliance_private.audit_actor_digest(salt bytea, actor_id text, ip_address inet, user_agent text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.audit_actor_digest(salt bytea, actor_id text, ip_address inet, user_agent text)
 RETURNS bytea
 LANGUAGE sql
 STABLE PARALLEL SAFE
RETURN sha256((((salt || compliance_private.hash_field(actor_id)) || compliance_private.hash_field(host(ip_address))) || compliance_private.hash_field(user_agent)));

comment on function compliance_private.audit_actor_digest(salt bytea, actor_id text, ip_address inet, user_agent text) is
  'Layout 2: the digest of an audit row''s actor part (db/AUDIT_HASHING.md).';

-- included from fixtures/audit/audit_chain_bounds.sql
-- compliance_private.audit_chain_bounds(OUT layout2_from bigint, OUT layout1_end_xact xid8, OUT layout1_end_id bigint, OUT layout2_end bigint): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.audit_chain_bounds(OUT layout2_from bigint, OUT layout1_end_xact xid8, OUT layout1_end_id bigint, OUT layout2_end bigint)
 RETURNS record
 LANGUAGE sql
 STABLE
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

comment on function compliance_private.audit_chain_bounds(OUT layout2_from bigint, OUT layout1_end_xact xid8, OUT layout1_end_id bigint, OUT layout2_end bigint) is
  'Where layout 2 begins (the first layout-2 seal''s first id), where the layout-1 seals end and where the layout-2 seals end.';

-- included from fixtures/audit/audit_digest.sql
-- compliance.audit_digest(OUT seal_no bigint, OUT seal_hash text, OUT last_row_id bigint, OUT sealed_at timestamp with time zone): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.audit_digest(OUT seal_no bigint, OUT seal_hash text, OUT last_row_id bigint, OUT sealed_at timestamp with time zone)
 RETURNS record
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select s.seal_no, encode(s.seal_hash, 'hex'), s.last_row_id, s.sealed_at
    from compliance.audit_seals s order by s.seal_no desc limit 1;
$function$;

comment on function compliance.audit_digest(OUT seal_no bigint, OUT seal_hash text, OUT last_row_id bigint, OUT sealed_at timestamp with time zone) is
  'The newest seal''s number and hash (hex). Record it outside the database (a ticket, a notary, a WORM bucket): a rewrite of the whole chain then shows as a different hash for the same seal number.';

-- included from fixtures/audit/audit_first_kept.sql
-- compliance_private.audit_first_kept(dropping regclass, layout2_from bigint, OUT v1_xact xid8, OUT v1_id bigint, OUT v2_id bigint): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.audit_first_kept(dropping regclass, layout2_from bigint, OUT v1_xact xid8, OUT v1_id bigint, OUT v2_id bigint)
 RETURNS record
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

comment on function compliance_private.audit_first_kept(dropping regclass, layout2_from bigint, OUT v1_xact xid8, OUT v1_id bigint, OUT v2_id bigint) is
  'The first audit row, in seal order, outside the partition being dropped: in layout 1 by (xact_id, id) below layout2_from, in layout 2 by id.';

-- included from fixtures/audit/audit_log_checks.sql
-- compliance_private.audit_log_checks: the view's current definition (db/CONVENTIONS.md).

create or replace view compliance_private.audit_log_checks as
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

comment on view compliance_private.audit_log_checks is
  'Each audit row''s hash (what a seal covers), what is wrong with its personal part (digest_mismatch: a part no longer matches its digest; redacted_not_empty: a redacted part still holds data; NULL: nothing), and which parts are redacted (layout 1: both or neither). The sealer and the verifier read it by id ranges (layout-2 seals) or (xact_id, id) ranges (layout-1 seals) so an index is used.';
comment on column compliance_private.audit_log_checks.xact_id is 'The row''s transaction id (audit_logs.xact_id).';
comment on column compliance_private.audit_log_checks.id is 'The row''s id (audit_logs.id).';
comment on column compliance_private.audit_log_checks.tableoid is 'The partition holding the row.';
comment on column compliance_private.audit_log_checks.row_hash is 'The row''s hash, what a seal covers (db/AUDIT_HASHING.md).';
comment on column compliance_private.audit_log_checks.personal_problem is 'NULL, digest_mismatch or redacted_not_empty.';
comment on column compliance_private.audit_log_checks.subject_redacted is 'Whether the subject part is redacted (layout 1: the whole personal part).';
comment on column compliance_private.audit_log_checks.actor_redacted is 'Whether the actor part is redacted (layout 1: the whole personal part).';

-- included from fixtures/audit/audit_log_checks_between.sql
-- compliance_private.audit_log_checks_between(from_xact xid8, from_id bigint, to_xact xid8, to_id bigint, below_id bigint): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.audit_log_checks_between(from_xact xid8, from_id bigint, to_xact xid8, to_id bigint, below_id bigint)
 RETURNS SETOF compliance_private.audit_log_checks
 LANGUAGE sql
 STABLE
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

comment on function compliance_private.audit_log_checks_between(from_xact xid8, from_id bigint, to_xact xid8, to_id bigint, below_id bigint) is
  'Layout-1 seals: the audit_log_checks rows after (from_xact, from_id) up to and including (to_xact, to_id) in (xact_id, id) order and with an id below below_id (where layout 2 begins), read with index bounds that end where the range ends.';

-- included from fixtures/audit/audit_parts_missing.sql
-- compliance_private.audit_parts_missing(have text, need text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.audit_parts_missing(have text, need text)
 RETURNS boolean
 LANGUAGE sql
 IMMUTABLE
RETURN (((strpos(COALESCE(need, ''::text), 'a'::text) > 0) AND (strpos(COALESCE(have, ''::text), 'a'::text) = 0)) OR ((strpos(COALESCE(need, ''::text), 's'::text) > 0) AND (strpos(COALESCE(have, ''::text), 's'::text) = 0)));

comment on function compliance_private.audit_parts_missing(have text, need text) is
  'Whether need names a personal part (a: actor, s: subject) that have does not.';

-- included from fixtures/audit/audit_personal_digest.sql
-- compliance_private.audit_personal_digest(salt bytea, user_id text, actor_id text, ip_address inet, user_agent text, personal_details jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.audit_personal_digest(salt bytea, user_id text, actor_id text, ip_address inet, user_agent text, personal_details jsonb)
 RETURNS bytea
 LANGUAGE sql
 STABLE PARALLEL SAFE
RETURN sha256((((((salt || compliance_private.hash_field(user_id)) || compliance_private.hash_field(actor_id)) || compliance_private.hash_field(host(ip_address))) || compliance_private.hash_field(user_agent)) || compliance_private.hash_field((personal_details)::text)));

comment on function compliance_private.audit_personal_digest(salt bytea, user_id text, actor_id text, ip_address inet, user_agent text, personal_details jsonb) is
  'personal_digest of an audit row: sha256 over the salt and the personal fields'' canonical bytes.';

-- included from fixtures/audit/audit_personal_fields.sql
-- compliance.audit_personal_fields(row_ids bigint[], reason text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.audit_personal_fields(row_ids bigint[], reason text)
 RETURNS TABLE(id bigint, user_id text, actor_id text, ip_address inet, user_agent text, personal_details jsonb)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

comment on function compliance.audit_personal_fields(row_ids bigint[], reason text) is
  'Auditor or DPO: the personal columns of up to 1000 audit rows, for a stated reason; the read is audited (audit.personal_fields_read, with the row ids, the reason in its personal part). The auditor cannot select these columns otherwise.';

-- included from fixtures/audit/audit_problem_detail.sql
-- compliance_private.audit_problem_detail(kind text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.audit_problem_detail(kind text)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE
RETURN CASE kind WHEN 'deleted_row'::text THEN 'a sealed row is missing, and no sealed drop record removed it'::text WHEN 'forged_row'::text THEN 'a row in the sealed range is not in the seal'::text WHEN 'altered_row'::text THEN 'the row no longer matches its sealed hash'::text WHEN 'reordered_row'::text THEN 'the row is not where the seal put it'::text WHEN 'digest_mismatch'::text THEN 'the personal part no longer matches its digest'::text WHEN 'redacted_not_empty'::text THEN 'a redacted personal part still holds data'::text WHEN 'unaccounted_redaction'::text THEN 'a personal part is redacted that no sealed erasure lists'::text WHEN 'unredacted_row'::text THEN 'a sealed erasure lists this row''s personal part as redacted, and it is not'::text ELSE NULL::text END;

comment on function compliance_private.audit_problem_detail(kind text) is
  'The sentence verify_audit_log() gives with each kind of row finding.';

-- included from fixtures/audit/audit_row_hash.sql
-- compliance_private.audit_row_hash(id bigint, occurred_at timestamp with time zone, xact_id xid8, action text, category text, resource_type text, resource_id text, outcome text, failure_reason text, details jsonb, personal_digest bytea): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.audit_row_hash(id bigint, occurred_at timestamp with time zone, xact_id xid8, action text, category text, resource_type text, resource_id text, outcome text, failure_reason text, details jsonb, personal_digest bytea)
 RETURNS bytea
 LANGUAGE sql
 STABLE PARALLEL SAFE
RETURN sha256(((((((((((int8send(id) || int8send(((EXTRACT(epoch FROM occurred_at) * (1000000)::numeric))::bigint)) || int8send(((xact_id)::text)::bigint)) || compliance_private.hash_field(action)) || compliance_private.hash_field(category)) || compliance_private.hash_field(resource_type)) || compliance_private.hash_field(resource_id)) || compliance_private.hash_field(outcome)) || compliance_private.hash_field(failure_reason)) || compliance_private.hash_field((details)::text)) || personal_digest));

comment on function compliance_private.audit_row_hash(id bigint, occurred_at timestamp with time zone, xact_id xid8, action text, category text, resource_type text, resource_id text, outcome text, failure_reason text, details jsonb, personal_digest bytea) is
  'Hash of an audit row''s non-personal part plus personal_digest; what a seal covers. Timestamps as integer microseconds, integers as int8send, so the bytes do not depend on TimeZone or DateStyle.';

-- included from fixtures/audit/audit_seal_hash.sql
-- compliance_private.audit_seal_hash(previous_hash bytea, seal_no bigint, last_xact_id xid8, last_row_id bigint, row_count integer, row_hashes bytea): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.audit_seal_hash(previous_hash bytea, seal_no bigint, last_xact_id xid8, last_row_id bigint, row_count integer, row_hashes bytea)
 RETURNS bytea
 LANGUAGE sql
 STABLE PARALLEL SAFE
RETURN sha256((((((previous_hash || int8send(seal_no)) || int8send(((last_xact_id)::text)::bigint)) || int8send(last_row_id)) || int8send((row_count)::bigint)) || row_hashes));

comment on function compliance_private.audit_seal_hash(previous_hash bytea, seal_no bigint, last_xact_id xid8, last_row_id bigint, row_count integer, row_hashes bytea) is
  'The hash of one seal (db/AUDIT_HASHING.md).';

-- included from fixtures/audit/audit_seal_hash_of.sql
-- compliance_private.audit_seal_hash_of(seal compliance.audit_seals): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.audit_seal_hash_of(seal compliance.audit_seals)
 RETURNS bytea
 LANGUAGE sql
 STABLE
RETURN CASE (seal).layout WHEN 1 THEN compliance_private.audit_seal_hash((seal).previous_hash, (seal).seal_no, (seal).last_xact_id, (seal).last_row_id, (seal).row_count, (seal).row_hashes) WHEN 2 THEN compliance_private.audit_seal_hash_v2((seal).previous_hash, (seal).seal_no, (seal).first_row_id, (seal).last_row_id, (seal).row_count, (seal).row_hashes) ELSE NULL::bytea END;

comment on function compliance_private.audit_seal_hash_of(seal compliance.audit_seals) is
  'Recomputes a stored seal''s hash by its layout.';

-- included from fixtures/audit/audit_seal_hash_v2.sql
-- compliance_private.audit_seal_hash_v2(previous_hash bytea, seal_no bigint, first_row_id bigint, last_row_id bigint, row_count integer, row_hashes bytea): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.audit_seal_hash_v2(previous_hash bytea, seal_no bigint, first_row_id bigint, last_row_id bigint, row_count integer, row_hashes bytea)
 RETURNS bytea
 LANGUAGE sql
 STABLE PARALLEL SAFE
RETURN sha256((((((('\x00000002'::bytea || previous_hash) || int8send(seal_no)) || int8send(first_row_id)) || int8send(last_row_id)) || int8send((row_count)::bigint)) || row_hashes));

comment on function compliance_private.audit_seal_hash_v2(previous_hash bytea, seal_no bigint, first_row_id bigint, last_row_id bigint, row_count integer, row_hashes bytea) is
  'The hash of a layout-2 seal (db/AUDIT_HASHING.md).';

-- included from fixtures/audit/audit_seal_rows.sql
-- compliance_private.audit_seal_rows(seal compliance.audit_seals, from_xact xid8, from_id bigint, layout2_from bigint): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.audit_seal_rows(seal compliance.audit_seals, from_xact xid8, from_id bigint, layout2_from bigint)
 RETURNS SETOF compliance_private.audit_log_checks
 LANGUAGE sql
 STABLE
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

comment on function compliance_private.audit_seal_rows(seal compliance.audit_seals, from_xact xid8, from_id bigint, layout2_from bigint) is
  'The rows present in a seal''s range: layout 1 after (from_xact, from_id), the previous seal''s end, and below layout2_from; layout 2 its id range.';

-- included from fixtures/audit/audit_subject_digest.sql
-- compliance_private.audit_subject_digest(salt bytea, user_id text, personal_details jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.audit_subject_digest(salt bytea, user_id text, personal_details jsonb)
 RETURNS bytea
 LANGUAGE sql
 STABLE PARALLEL SAFE
RETURN sha256(((salt || compliance_private.hash_field(user_id)) || compliance_private.hash_field((personal_details)::text)));

comment on function compliance_private.audit_subject_digest(salt bytea, user_id text, personal_details jsonb) is
  'Layout 2: the digest of an audit row''s subject part (db/AUDIT_HASHING.md).';

-- included from fixtures/audit/begin_bulk_operation.sql
-- compliance_private.begin_bulk_operation(kind text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.begin_bulk_operation(kind text)
 RETURNS void
 LANGUAGE sql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  insert into compliance_private.bulk_operations (xact_id, kind) values (pg_current_xact_id(), kind) on conflict do nothing;
  select set_config('compliance_private.bulk_operation', kind, true);
$function$;

comment on function compliance_private.begin_bulk_operation(kind text) is
  'Marks the current transaction as an erasure or retention batch (see bulk_operations).';

-- included from fixtures/audit/end_bulk_operation.sql
-- compliance_private.end_bulk_operation(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.end_bulk_operation()
 RETURNS void
 LANGUAGE sql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  delete from compliance_private.bulk_operations b where b.xact_id = pg_current_xact_id();
  select set_config('compliance_private.bulk_operation', '', true);
$function$;

comment on function compliance_private.end_bulk_operation() is
  'Ends the mark of begin_bulk_operation before the transaction writes its own summary audit row.';

-- included from fixtures/audit/ensure_audit_partitions.sql
-- compliance.ensure_audit_partitions(months_ahead integer, months_back integer): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.ensure_audit_partitions(months_ahead integer DEFAULT 3, months_back integer DEFAULT 0)
 RETURNS SETOF text
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

comment on function compliance.ensure_audit_partitions(months_ahead integer, months_back integer) is
  'Creates the monthly audit_logs partitions from months_back before to months_ahead after the current month, so inserts never land in the default partition. Idempotent; the worker runs it daily. Returns the partitions it created.';

-- included from fixtures/audit/hash_field.sql
-- compliance_private.hash_field(value text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.hash_field(value text)
 RETURNS bytea
 LANGUAGE sql
 STABLE PARALLEL SAFE
RETURN CASE WHEN (value IS NULL) THEN '\xffffffff'::bytea ELSE (int4send(octet_length(value)) || convert_to(value, 'UTF8'::name)) END;

comment on function compliance_private.hash_field(value text) is
  'Canonical bytes of one text field: 4-byte big-endian byte length then UTF-8, or ffffffff for NULL. Declared STABLE only because convert_to is (so the planner can inline it); in a UTF8 database the result depends on no setting.';

-- included from fixtures/audit/in_any_bulk_operation.sql
-- compliance_private.in_any_bulk_operation(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.in_any_bulk_operation()
 RETURNS boolean
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_kind text := current_setting('compliance_private.bulk_operation', true);
begin
  -- nested, not AND-ed: an expression that calls PL/pgSQL costs ~20 µs even unevaluated
  if v_kind in ('erasure', 'retention') then
    return compliance_private.in_bulk_operation(v_kind);
  end if;
  return false;
end;
$function$;

comment on function compliance_private.in_any_bulk_operation() is
  'Whether the current transaction is an erasure or a retention batch; without the hint setting it answers without a lookup, so the row audit trigger can ask on every write.';

-- included from fixtures/audit/in_bulk_operation.sql
-- compliance_private.in_bulk_operation(kind text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.in_bulk_operation(kind text)
 RETURNS boolean
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  -- the setting is only a hint that keeps ordinary writes free of a lookup; anyone can set
  -- it, so the owner-only table is the proof
  if current_setting('compliance_private.bulk_operation', true) is distinct from kind then
    return false;
  end if;
  return exists (select from compliance_private.bulk_operations b
                  where b.xact_id = pg_current_xact_id() and b.kind = in_bulk_operation.kind);
end;
$function$;

comment on function compliance_private.in_bulk_operation(kind text) is
  'Whether the current transaction is an erasure or retention batch: the session setting compliance_private.bulk_operation names it and bulk_operations (writable only by the owner) proves it.';

-- included from fixtures/audit/log_event.sql
-- compliance.log_event(action text, category text, resource_type text, resource_id text, details jsonb, subject_id text, personal_details jsonb, outcome text, failure_reason text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.log_event(action text, category text, resource_type text DEFAULT NULL::text, resource_id text DEFAULT NULL::text, details jsonb DEFAULT '{}'::jsonb, subject_id text DEFAULT NULL::text, personal_details jsonb DEFAULT NULL::jsonb, outcome text DEFAULT 'success'::text, failure_reason text DEFAULT NULL::text)
 RETURNS bigint
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
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
$function$;

comment on function compliance.log_event(action text, category text, resource_type text, resource_id text, details jsonb, subject_id text, personal_details jsonb, outcome text, failure_reason text) is
  'Appends an application event to the audit log (PHI access with the patient id in personal_details, logins, exports). details must not hold personal data: it survives erasure; put identifying values in subject_id and personal_details. The actor, client IP and user agent come from the request context. The app role may name only its own subject (OTHSJ). Returns the new row id. Errors: ERASD for an erased subject, OTHSJ, BADRG.';

-- included from fixtures/audit/older_transaction_running.sql
-- compliance_private.older_transaction_running(horizon xid8): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.older_transaction_running(horizon xid8)
 RETURNS boolean
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

comment on function compliance_private.older_transaction_running(horizon xid8) is
  'Whether a transaction of this database older than horizon (its id lower) is still running or prepared. The sealer''s test that every id it read from the sequence is final (db/AUDIT_HASHING.md); transactions of other databases of the cluster do not count.';

-- included from fixtures/audit/protect_audit_relation.sql
-- compliance_private.protect_audit_relation(relation regclass): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.protect_audit_relation(relation regclass)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  execute format('create trigger _010_refuse_change before update or delete or truncate on %s
                  for each statement execute function compliance_private.tg_audit_logs__refuse_change()', relation);
end;
$function$;

comment on function compliance_private.protect_audit_relation(relation regclass) is
  'Adds the append-only statement trigger to an audit relation (statement triggers are not inherited by partitions, so every partition gets its own).';

-- included from fixtures/audit/record_refusal.sql
-- compliance.record_refusal(reason text, client_ip inet, user_agent text, detail text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.record_refusal(reason text, client_ip inet DEFAULT NULL::inet, user_agent text DEFAULT NULL::text, detail text DEFAULT NULL::text)
 RETURNS boolean
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_first boolean;
  v_row bigint;
begin
  if reason is null or reason not in ('invalid_token', 'expired_token', 'no_token', 'forbidden', 'session_expired') then
    perform compliance_private.raise_error('BADRG', format('refusal reason %L is unknown', reason),
      'Use invalid_token, expired_token, no_token, forbidden or session_expired.');
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
$function$;

comment on function compliance.record_refusal(reason text, client_ip inet, user_agent text, detail text) is
  'The server records a refused request here, in a transaction of its own: counted per client IP, reason and minute; the first of each minute writes a security.request_refused audit row (reason; IP, user agent and detail in its personal part). Returns whether it wrote one.';

-- included from fixtures/audit/refuse_personal_outside.sql
-- compliance_private.refuse_personal_outside(details jsonb, resource_id text, user_id text, actor_id text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.refuse_personal_outside(details jsonb, resource_id text, user_id text, actor_id text)
 RETURNS void
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
    if v_text ~ '[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}' then
      perform compliance_private.raise_error('PERSD', format('%s holds an e-mail address', v_field),
        'details and resource_id are kept after erasure: put identifying values in personal_details.');
    end if;
  end loop;
end;
$function$;

comment on function compliance_private.refuse_personal_outside(details jsonb, resource_id text, user_id text, actor_id text) is
  'Refuses (PERSD) audit details or a resource id that contain the subject''s or the actor''s id (3 characters or more) or an e-mail address: those fields survive erasure.';

-- included from fixtures/audit/seal_audit_log.sql
-- compliance.seal_audit_log(max_rows_per_seal integer, max_seals integer): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.seal_audit_log(max_rows_per_seal integer DEFAULT 10000, max_seals integer DEFAULT 100)
 RETURNS integer
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
      v_head.next_row_id := v_limit + 1;  -- only ids of rolled-back rows: nothing to seal
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
$function$;

comment on function compliance.seal_audit_log(max_rows_per_seal integer, max_seals integer) is
  'Seals audit rows in id order into new audit_seals (at most max_rows_per_seal rows each, at most max_seals per call): every id handed out before the call once no older transaction is still running, otherwise up to the horizon an earlier call recorded. Takes no lock that a writer waits for; concurrent sealers wait for each other. Survives a restore onto another cluster (db/AUDIT_HASHING.md). Returns the number of seals made. The worker runs it every few seconds.';

-- included from fixtures/audit/tg__audit_deleted_rows.sql
-- compliance_private.tg__audit_deleted_rows(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.tg__audit_deleted_rows()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

comment on function compliance_private.tg__audit_deleted_rows() is
  'AFTER DELETE statement trigger (transition table old_rows) on every personal table: one audit row per deleted row, with the actor from the request context. Same arguments as tg__audit_row_change.';

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
  'AFTER INSERT OR UPDATE row trigger on every personal table: one audit row per insert and update, with the actor from the request context and, for updates, the changed field names (details.changed_fields, shortest name first) and their old and new values (personal part, GDPR Art. 16). Deletes are audited per statement by tg__audit_deleted_rows.';

-- included from fixtures/audit/tg_audit_logs__only_redaction.sql
-- compliance_private.tg_audit_logs__only_redaction(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.tg_audit_logs__only_redaction()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

comment on function compliance_private.tg_audit_logs__only_redaction() is
  'BEFORE UPDATE row trigger on audit_logs: permits only the removal of whole personal parts (layout 1: the personal part and its salt; layout 2: the subject part and/or the actor part with its salt) and stamping redacted_at; the statement trigger admits UPDATEs only inside an erasure. Anything else is refused (APPND).';

-- included from fixtures/audit/tg_audit_logs__refuse_change.sql
-- compliance_private.tg_audit_logs__refuse_change(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.tg_audit_logs__refuse_change()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

comment on function compliance_private.tg_audit_logs__refuse_change() is
  'BEFORE UPDATE/DELETE/TRUNCATE statement trigger on audit_logs, its partitions and audit_seals: refuses every change (APPND) for every role, the owner included, except an UPDATE of audit rows inside an erasure (tg_audit_logs__only_redaction then checks each row) and a DELETE of seals inside audit retention.';

-- included from fixtures/audit/verify_audit_log.sql
-- compliance.verify_audit_log(OUT ok boolean, OUT seals_checked bigint, OUT rows_checked bigint, OUT unsealed_rows bigint, OUT problems jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.verify_audit_log(OUT ok boolean, OUT seals_checked bigint, OUT rows_checked bigint, OUT unsealed_rows bigint, OUT problems jsonb)
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
begin
  seals_checked := 0;
  rows_checked := 0;
  problems := '[]';
  select * into strict v_bounds from compliance_private.audit_chain_bounds();

  -- what sealed records account for: only rows inside the layout-2 seals count, and of the
  -- upgrade records only the first (a later one would be a forgery)
  with accounting as (
    select a.id, a.action, a.details from compliance.audit_logs a
     where a.action in ('audit.partition_dropped', 'subject.erased', 'audit.layout_upgraded')
       and a.outcome = 'success' and a.id >= v_bounds.layout2_from and a.id <= v_bounds.layout2_end
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

  -- where the chain starts: at seal 1, or where a sealed drop record says it removed seals
  select * into v_first from compliance.audit_seals s order by s.seal_no limit 1;
  v_previous_hash := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
  v_expected_no := 1;
  if v_first.seal_no > 1 then
    v_expected_no := v_first.seal_no;
    v_previous_hash := v_first.previous_hash;
    select (a.details -> 'seal_end' ->> 'xact_id')::xid8 as xact_id, (a.details -> 'seal_end' ->> 'row_id')::bigint as row_id
      into v_start
      from compliance.audit_logs a
     where a.action = 'audit.partition_dropped' and a.id >= v_bounds.layout2_from and a.id <= v_bounds.layout2_end
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

  for v_seal in select * from compliance.audit_seals s order by s.seal_no loop
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
    if v_seal.layout = 2 and v_seal.first_row_id <> coalesce(v_next_id, v_bounds.layout2_from) then
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
  -- began, so one is a forgery (or a row of a removed seal that retention did not drop)
  for v_problem in
    select a.id from compliance.audit_logs a
     where a.id < v_bounds.layout2_from
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
                when compliance_private.audit_parts_missing(e.parts, f.parts) then 'unaccounted_redaction'
                when compliance_private.audit_parts_missing(f.parts, e.parts) then 'unredacted_row'
           end as kind
      from (select jsonb_object_keys(v_redacted) as id union select jsonb_object_keys(v_expected)) k
      cross join lateral (select v_redacted ->> k.id as parts) f
      cross join lateral (select v_expected ->> k.id as parts) e
     where f.parts is not null or exists (select from compliance.audit_logs a where a.id = k.id::bigint)
     order by 1
  loop
    continue when v_problem.kind is null;
    problems := problems || jsonb_build_object('kind', v_problem.kind, 'seal_no', null, 'row_id', v_problem.id,
      'detail', compliance_private.audit_problem_detail(v_problem.kind));
  end loop;

  ok := jsonb_array_length(problems) = 0;
end;
$function$;

comment on function compliance.verify_audit_log(OUT ok boolean, OUT seals_checked bigint, OUT rows_checked bigint, OUT unsealed_rows bigint, OUT problems jsonb) is
  'Recomputes the whole seal chain, every row hash and every personal digest, from the chain''s own records only. Returns ok, how many seals and rows it checked, how many rows are not sealed yet (their personal parts are checked, their presence is not proven), and problems: a JSON array of {kind, seal_no, row_id, detail}. kind: deleted_row, forged_row, altered_row, reordered_row, digest_mismatch, redacted_not_empty, unaccounted_redaction, unredacted_row, altered_seal, broken_chain, missing_seal, unaccounted_gap. db/AUDIT_HASHING.md says what it proves and what it cannot see.';

-- subject-rights
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
$function$;

comment on function compliance.add_message(conversation_id uuid, role text, content text) is
  'Adds a message to a conversation and moves its last_message_at (retention counts from it). Errors: NOCNV.';

-- included from fixtures/subject-rights/close_session.sql
-- compliance.close_session(user_id text, session_id uuid): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.close_session(user_id text, session_id uuid)
 RETURNS boolean
 LANGUAGE sql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  update compliance.sessions s set ended_at = greatest(now(), s.created_at)
   where s.id = session_id and s.user_id = close_session.user_id and s.ended_at is null
  returning true;
$function$;

comment on function compliance.close_session(user_id text, session_id uuid) is
  'Closes a session (logout). Returns NULL when there was no open session.';

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
$function$;

comment on function compliance.complete_dsr(request_id bigint, status text, notes text) is
  'Closes an open request as completed or rejected, recording who handled it. Errors: NODSR, BADRG.';

-- included from fixtures/subject-rights/conversation_messages.sql
-- compliance.conversation_messages(conversation_id uuid, after_id bigint, page_size integer): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.conversation_messages(conversation_id uuid, after_id bigint DEFAULT 0, page_size integer DEFAULT 100)
 RETURNS TABLE(id bigint, role text, content text, created_at timestamp with time zone)
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  if page_size not between 1 and 1000 or after_id is null or after_id < 0 then
    perform compliance_private.raise_error('BADRG', 'page_size must be 1..1000 and after_id at least 0',
      'Page with after_id: the id of the last message of the previous page.');
  end if;
  -- row-level security decides whose conversations the caller sees
  if not exists (select from compliance.conversations c where c.conversation_id = conversation_messages.conversation_id) then
    perform compliance_private.raise_error('NOCNV', format('no conversation %s', conversation_id),
      'The conversation does not exist or belongs to someone else.');
  end if;
  return query
    select m.id, m.role, m.content, m.created_at
      from compliance.messages m
     where m.conversation_id = conversation_messages.conversation_id and m.id > after_id
     order by m.id
     limit page_size;
end;
$function$;

comment on function compliance.conversation_messages(conversation_id uuid, after_id bigint, page_size integer) is
  'The messages of one conversation in the order they were added, page_size (1..1000) at a time after the message id after_id. Row-level security limits the app to its subject''s conversations. Errors: NOCNV when the caller cannot see the conversation, BADRG for a bad page.';

-- included from fixtures/subject-rights/dsr_open_requests.sql
-- compliance.dsr_open_requests: the view's current definition (db/CONVENTIONS.md).

create or replace view compliance.dsr_open_requests with (security_invoker=true) as
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

comment on view compliance.dsr_open_requests is
  'Requests not yet completed, earliest deadline first, with overdue and days_left: what a DPO must answer next.';
comment on column compliance.dsr_open_requests.id is 'The request''s id (dsr_requests.id).';
comment on column compliance.dsr_open_requests.user_id is 'The data subject who asked.';
comment on column compliance.dsr_open_requests.kind is 'access, portability, rectification, erasure, restriction or objection.';
comment on column compliance.dsr_open_requests.status is 'received or in_progress (open requests only).';
comment on column compliance.dsr_open_requests.received_at is 'When the request arrived; the one-month deadline counts from it.';
comment on column compliance.dsr_open_requests.due_at is 'When the answer is due (GDPR Art. 12(3): one month, extendable).';
comment on column compliance.dsr_open_requests.overdue is 'Whether due_at has passed.';
comment on column compliance.dsr_open_requests.days_left is 'Whole days until due_at (0 once due or overdue).';

-- included from fixtures/subject-rights/ensure_profile.sql
-- compliance.ensure_profile(user_id text, username text, email text, full_name text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.ensure_profile(user_id text, username text DEFAULT NULL::text, email text DEFAULT NULL::text, full_name text DEFAULT NULL::text)
 RETURNS compliance.user_profiles
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

comment on function compliance.ensure_profile(user_id text, username text, email text, full_name text) is
  'Returns the subject''s profile, creating it from the identity provider''s claims on first sight. Errors: ERASD for an erased user id.';

-- included from fixtures/subject-rights/erase_my_data.sql
-- compliance.erase_my_data(reason text, confirm boolean): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.erase_my_data(reason text, confirm boolean DEFAULT false)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  return compliance_private.erase_subject_core(compliance_private.require_context_subject(), reason, confirm, 'subject');
end;
$function$;

comment on function compliance.erase_my_data(reason text, confirm boolean) is
  'The request actor erases its own data (self-service Art. 17); same transaction and errors as compliance.erase_subject.';

-- included from fixtures/subject-rights/erase_subject.sql
-- compliance.erase_subject(user_id text, reason text, confirm boolean): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.erase_subject(user_id text, reason text, confirm boolean DEFAULT false)
 RETURNS jsonb
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select compliance_private.erase_subject_core(user_id, reason, confirm, 'dpo');
$function$;

comment on function compliance.erase_subject(user_id text, reason text, confirm boolean) is
  'DPO: erases a subject (GDPR Art. 17) in one transaction or not at all: locks the subject, deletes every personal row (profile, preferences, consents, conversations, messages, sessions, released holds), strips identity from its requests and from the legal holds it placed or released, removes its part of the audit rows about it and the actor''s part where it acted (listing those rows in the subject.erased row, which carries counts and no identity), and leaves a tombstone so later writes for the id fail (ERASD). Returns a receipt with counts per table. Errors: CONFM without confirm => true, LHOLD under legal hold, UNKSJ unknown subject, ERASD already erased, BADRG without a reason.';

-- included from fixtures/subject-rights/erase_subject_core.sql
-- compliance_private.erase_subject_core(user_id text, reason text, confirm boolean, requested_by text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.erase_subject_core(user_id text, reason text, confirm boolean, requested_by text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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

  -- children before the profile so each count is exact
  foreach v_table in array array['messages', 'conversations', 'consent_records', 'sessions',
                                 'user_preferences', 'legal_holds'] loop
    execute format('delete from compliance.%I t where t.user_id = $1', v_table) using user_id;
    get diagnostics v_count = row_count;
    v_counts := v_counts || jsonb_build_object(v_table, v_count);
  end loop;

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
$function$;

comment on function compliance_private.erase_subject_core(user_id text, reason text, confirm boolean, requested_by text) is
  'The erasure transaction; see compliance.erase_subject.';

-- included from fixtures/subject-rights/export_my_data.sql
-- compliance.export_my_data(kind text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.export_my_data(kind text DEFAULT 'access'::text)
 RETURNS json
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  return compliance_private.export_subject_core(compliance_private.require_context_subject(), kind);
end;
$function$;

comment on function compliance.export_my_data(kind text) is
  'The request actor''s own data as JSON (self-service Art. 15/20). Errors: NOCTX, UNKSJ, ERASD.';

-- included from fixtures/subject-rights/export_subject.sql
-- compliance.export_subject(user_id text, kind text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.export_subject(user_id text, kind text DEFAULT 'access'::text)
 RETURNS json
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select compliance_private.export_subject_core(user_id, kind);
$function$;

comment on function compliance.export_subject(user_id text, kind text) is
  'DPO: everything held about any subject as JSON (GDPR Art. 15 access, Art. 20 portability: kind access or portability). Registers the request as completed and audits the export. Errors: UNKSJ for an unknown subject (never an empty document), ERASD for an erased one.';

-- included from fixtures/subject-rights/export_subject_core.sql
-- compliance_private.export_subject_core(user_id text, kind text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.export_subject_core(user_id text, kind text)
 RETURNS json
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

comment on function compliance_private.export_subject_core(user_id text, kind text) is
  'Registers and completes an access or portability request, audits it and returns the subject document.';

-- included from fixtures/subject-rights/handler_for.sql
-- compliance_private.handler_for(user_id text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.handler_for(user_id text)
 RETURNS text
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select case when compliance.current_subject() = user_id then 'self-service' else compliance.current_actor() end;
$function$;

comment on function compliance_private.handler_for(user_id text) is
  'Who handled a request about user_id: self-service when the subject acted for itself (so the register never names the subject twice), else the actor.';

-- included from fixtures/subject-rights/is_under_legal_hold.sql
-- compliance.is_under_legal_hold(user_id text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.is_under_legal_hold(user_id text)
 RETURNS boolean
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select exists (
    select from compliance.legal_holds h
    where h.user_id = is_under_legal_hold.user_id and h.released_at is null
  );
$function$;

comment on function compliance.is_under_legal_hold(user_id text) is
  'Whether the subject has an active legal hold. Readable by every role so retention and erasure can honour holds without reading the hold''s details.';

-- included from fixtures/subject-rights/list_conversations.sql
-- compliance.list_conversations(user_id text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.list_conversations(user_id text)
 RETURNS TABLE(conversation_id uuid, title text, created_at timestamp with time zone, last_message_at timestamp with time zone, archived boolean, message_count bigint)
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select c.conversation_id, c.title, c.created_at, c.last_message_at, c.archived,
         (select count(*) from compliance.messages m
           where m.conversation_id = c.conversation_id and m.user_id = c.user_id)
    from compliance.conversations c
   where c.user_id = list_conversations.user_id
   order by c.last_message_at desc;
$function$;

comment on function compliance.list_conversations(user_id text) is
  'A subject''s conversations, most recent first, with message counts.';

-- included from fixtures/subject-rights/lock_subject.sql
-- compliance_private.lock_subject(user_id text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.lock_subject(user_id text)
 RETURNS void
 LANGUAGE sql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select pg_advisory_xact_lock(hashtextextended('pgcomply.subject:' || user_id, 0));
$function$;

comment on function compliance_private.lock_subject(user_id text) is
  'Transaction-level lock on one subject id, taken by erasure and by profile creation so neither can slip past the other.';

-- included from fixtures/subject-rights/open_requests.sql
-- compliance.open_requests(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.open_requests()
 RETURNS SETOF compliance.dsr_open_requests
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_rows bigint;
begin
  return query select * from compliance.dsr_open_requests r order by r.due_at;
  get diagnostics v_rows = row_count;
  perform compliance.log_event('dsr.register_read', 'gdpr', 'dsr_register', null,
    jsonb_build_object('procedure', 'open_requests', 'rows', v_rows));
end;
$function$;

comment on function compliance.open_requests() is
  'DPO: the open data subject requests, the soonest due first (the dsr_open_requests view, read and audited as dsr.register_read).';

-- included from fixtures/subject-rights/place_legal_hold.sql
-- compliance.place_legal_hold(user_id text, reason text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.place_legal_hold(user_id text, reason text)
 RETURNS compliance.legal_holds
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

comment on function compliance.place_legal_hold(user_id text, reason text) is
  'DPO: places a legal hold; erasure is refused (LHOLD) and retention skips the subject until it is released. Audited as legal_hold.placed. Errors: UNKSJ, ERASD, HOLDA.';

-- included from fixtures/subject-rights/record_completed_dsr.sql
-- compliance_private.record_completed_dsr(user_id text, kind text, handled_by text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.record_completed_dsr(user_id text, kind text, handled_by text)
 RETURNS bigint
 LANGUAGE sql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  insert into compliance.dsr_requests (user_id, kind, status, completed_at, handled_by)
    values (user_id, kind, 'completed', now(), handled_by)
  returning id;
$function$;

comment on function compliance_private.record_completed_dsr(user_id text, kind text, handled_by text) is
  'Registers a request answered on the spot (an export or an erasure); handled_by is self-service when the subject served itself.';

-- included from fixtures/subject-rights/register_dsr.sql
-- compliance.register_dsr(user_id text, kind text, notes text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.register_dsr(user_id text, kind text, notes text DEFAULT NULL::text)
 RETURNS compliance.dsr_requests
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_request compliance.dsr_requests;
begin
  perform compliance_private.require_subject(user_id);
  insert into compliance.dsr_requests (user_id, kind, notes, status)
    values (register_dsr.user_id, register_dsr.kind, register_dsr.notes, 'received')
    returning * into v_request;
  return v_request;
end;
$function$;

comment on function compliance.register_dsr(user_id text, kind text, notes text) is
  'Registers a data subject request received now; due_at is one calendar month later. Errors: UNKSJ, ERASD.';

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
begin
  update compliance.legal_holds h set released_at = now(), released_by = compliance.current_actor()
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

-- included from fixtures/subject-rights/reregister_subject.sql
-- compliance.reregister_subject(user_id text, reason text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.reregister_subject(user_id text, reason text)
 RETURNS boolean
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  delete from compliance_private.erased_subjects e where e.subject_digest = compliance_private.subject_digest(user_id);
  if not found then
    perform compliance_private.raise_error('NOTER', 'that user id has no erasure tombstone');
  end if;
  perform compliance_private.append_audit('subject.reregistered', 'gdpr', null, null, '{}', null,
    jsonb_build_object('reason', reason));
  return true;
end;
$function$;

comment on function compliance.reregister_subject(user_id text, reason text) is
  'DPO: removes the erasure tombstone of a user id so the person can register again. Errors: NOTER.';

-- included from fixtures/subject-rights/set_preferences.sql
-- compliance.set_preferences(user_id text, preferences jsonb, merge boolean): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.set_preferences(user_id text, preferences jsonb, merge boolean DEFAULT true)
 RETURNS compliance.user_preferences
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

comment on function compliance.set_preferences(user_id text, preferences jsonb, merge boolean) is
  'Sets a subject''s preferences: merged into the existing object (merge => true) or replacing it. Errors: BADFL, UNKSJ, ERASD.';

-- included from fixtures/subject-rights/start_conversation.sql
-- compliance.start_conversation(user_id text, title text, metadata jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.start_conversation(user_id text, title text DEFAULT NULL::text, metadata jsonb DEFAULT '{}'::jsonb)
 RETURNS compliance.conversations
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_row compliance.conversations;
begin
  perform compliance_private.require_subject(user_id);
  insert into compliance.conversations (user_id, title, metadata)
    values (start_conversation.user_id, start_conversation.title, coalesce(start_conversation.metadata, '{}'))
  returning * into v_row;
  return v_row;
end;
$function$;

comment on function compliance.start_conversation(user_id text, title text, metadata jsonb) is
  'Starts a conversation for a subject. Errors: UNKSJ, ERASD.';

-- included from fixtures/subject-rights/subject_document.sql
-- compliance_private.subject_document(user_id text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.subject_document(user_id text)
 RETURNS json
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
    'dsr_requests', coalesce((
      select json_agg(x order by x.id)
        from (select r.id, r.kind, r.status, r.received_at, r.due_at, r.completed_at
                from compliance.dsr_requests r where r.user_id = p.user_id) x), '[]'))
  from compliance.user_profiles p
  where p.user_id = subject_document.user_id);
end;
$function$;

comment on function compliance_private.subject_document(user_id text) is
  'Everything held about one subject as one JSON document (sections: profile, preferences, consents, conversations with messages, sessions, audit_trail, dsr_requests). NULL for an unknown subject.';

-- included from fixtures/subject-rights/tg_dsr_requests__set_due_at.sql
-- compliance_private.tg_dsr_requests__set_due_at(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.tg_dsr_requests__set_due_at()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  new.due_at := (timezone('UTC', new.received_at) + interval '1 month') at time zone 'UTC';
  return new;
end;
$function$;

comment on function compliance_private.tg_dsr_requests__set_due_at() is
  'BEFORE INSERT OR UPDATE OF received_at on dsr_requests: the deadline is always one calendar month after receipt (UTC).';

-- included from fixtures/subject-rights/tg_legal_holds__lock_subject.sql
-- compliance_private.tg_legal_holds__lock_subject(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.tg_legal_holds__lock_subject()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  perform from compliance.user_profiles p where p.user_id = new.user_id for no key update;
  return new;
end;
$function$;

comment on function compliance_private.tg_legal_holds__lock_subject() is
  'BEFORE INSERT on legal_holds: locks the subject''s profile until the hold commits, so a running retention batch (which takes FOR SHARE on the profiles it deletes from) either waits for the hold or is waited for.';

-- included from fixtures/subject-rights/tg_user_profiles__refuse_delete_under_hold.sql
-- compliance_private.tg_user_profiles__refuse_delete_under_hold(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.tg_user_profiles__refuse_delete_under_hold()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  if compliance.is_under_legal_hold(old.user_id) then
    perform compliance_private.raise_error('LHOLD',
      'subject is under legal hold; its data cannot be deleted',
      'Release the hold with compliance.release_legal_hold(user_id, reason) once the legal matter allows it.');
  end if;
  return old;
end;
$function$;

comment on function compliance_private.tg_user_profiles__refuse_delete_under_hold() is
  'BEFORE DELETE on user_profiles: a subject under an active legal hold cannot be deleted by anyone (LHOLD).';

-- included from fixtures/subject-rights/touch_session.sql
-- compliance.touch_session(user_id text, session_id uuid, idle_timeout interval): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.touch_session(user_id text, session_id uuid, idle_timeout interval DEFAULT '00:15:00'::interval)
 RETURNS compliance.sessions
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

comment on function compliance.touch_session(user_id text, session_id uuid, idle_timeout interval) is
  'Records activity in a session, opening it on first use. A session idle longer than idle_timeout (default 15 minutes, HIPAA automatic logoff) or closed refuses further use (SESXP).';

-- included from fixtures/subject-rights/update_profile.sql
-- compliance.update_profile(user_id text, patch jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.update_profile(user_id text, patch jsonb)
 RETURNS compliance.user_profiles
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

comment on function compliance.update_profile(user_id text, patch jsonb) is
  'Rectification (GDPR Art. 16): applies a patch of known fields (username, email, full_name, metadata); the audit log records the old and new values. Errors: BADFL for an unknown field, UNKSJ, ERASD.';

-- consent
-- included from fixtures/consent/consent_history.sql
-- compliance.consent_history(user_id text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.consent_history(user_id text)
 RETURNS SETOF compliance.consent_records
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select * from compliance.consent_records c
   where c.user_id = consent_history.user_id
   order by c.recorded_at, c.id;
$function$;

comment on function compliance.consent_history(user_id text) is
  'Every consent record of the subject, oldest first: the proof of consent (Art. 7(1)). Also in the subject export.';

-- included from fixtures/consent/consent_records_between.sql
-- compliance.consent_records_between(from_time timestamp with time zone, to_time timestamp with time zone, after_id bigint, page_size integer): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.consent_records_between(from_time timestamp with time zone, to_time timestamp with time zone, after_id bigint DEFAULT 0, page_size integer DEFAULT 1000)
 RETURNS SETOF compliance.consent_records
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

comment on function compliance.consent_records_between(from_time timestamp with time zone, to_time timestamp with time zone, after_id bigint, page_size integer) is
  'DPO: every consent record of every subject recorded in [from_time, to_time), in id order, page_size (1..10000) at a time after after_id: the all-subject evidence export. Audited (consent.records_read, with the range). Errors: BADRG.';

-- included from fixtures/consent/current_consents.sql
-- compliance.current_consents: the view's current definition (db/CONVENTIONS.md).

create or replace view compliance.current_consents with (security_invoker=true) as
 SELECT DISTINCT ON (c.user_id, c.purpose) c.user_id,
    c.purpose,
    c.granted,
    c.policy_version,
    c.recorded_at,
    c.id AS consent_record_id
   FROM compliance.consent_records c
  ORDER BY c.user_id, c.purpose, c.recorded_at DESC, c.id DESC;

comment on view compliance.current_consents is
  'The latest consent record per subject and purpose: the consent in force. Row-level security applies (a subject sees its own).';
comment on column compliance.current_consents.user_id is 'The data subject.';
comment on column compliance.current_consents.purpose is 'The purpose consented to or refused (consent_purposes.purpose).';
comment on column compliance.current_consents.granted is 'The subject''s latest decision for the purpose: true granted, false withdrawn.';
comment on column compliance.current_consents.policy_version is 'The policy version the latest decision was made under.';
comment on column compliance.current_consents.recorded_at is 'When the latest decision was recorded.';
comment on column compliance.current_consents.consent_record_id is 'The consent_records row holding the latest decision.';

-- included from fixtures/consent/has_consent.sql
-- compliance.has_consent(user_id text, purpose text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.has_consent(user_id text, purpose text)
 RETURNS boolean
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select coalesce((
    select c.granted from compliance.consent_records c
     where c.user_id = has_consent.user_id and c.purpose = has_consent.purpose
     order by c.recorded_at desc, c.id desc
     limit 1), false);
$function$;

comment on function compliance.has_consent(user_id text, purpose text) is
  'Whether the subject''s consent for the purpose is in force: false when never given or withdrawn. One index probe (consent_records_current_idx), cheap enough for every request.';

-- included from fixtures/consent/record_consent.sql
-- compliance.record_consent(user_id text, purpose text, granted boolean, policy_version text, source text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.record_consent(user_id text, purpose text, granted boolean, policy_version text, source text DEFAULT 'api'::text)
 RETURNS compliance.consent_records
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
            record_consent.policy_version, record_consent.source,
            compliance.current_client_ip(), compliance.current_user_agent())
  returning * into v_row;
  return v_row;
end;
$function$;

comment on function compliance.record_consent(user_id text, purpose text, granted boolean, policy_version text, source text) is
  'Records a grant (granted => true) or withdrawal (false) of consent for a purpose, with the privacy notice version, the source (api, import, dba) and, as evidence, the client IP and user agent of the request context (GDPR Art. 7(1)). Withdrawing is the same call as granting (Art. 7(3)). Audited as consent.granted / consent.withdrawn. Errors: PURPS unknown or inactive purpose, UNKSJ, ERASD.';

-- included from fixtures/consent/subject_consents.sql
-- compliance.subject_consents(user_id text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.subject_consents(user_id text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

comment on function compliance.subject_consents(user_id text) is
  'DPO: a subject''s current consent per purpose and every consent record (GDPR Art. 7(1) evidence), as JSON {current, history}. Audited (subject.consents_read). Errors: UNKSJ, ERASD.';

-- included from fixtures/consent/tg_consent_records__append_only.sql
-- compliance_private.tg_consent_records__append_only(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.tg_consent_records__append_only()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

comment on function compliance_private.tg_consent_records__append_only() is
  'BEFORE UPDATE/DELETE/TRUNCATE on consent_records: the history is append-only for every role, the owner included (APPND). Only erasure, retention and the cascade of a deleted profile remove rows.';

-- retention
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
  v_policy compliance.retention_policies;
  v_cutoff timestamptz;
  v_ids text[];
  v_deleted bigint := 0;
  v_messages bigint := 0;
  v_result jsonb;
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
      end case;
      perform compliance_private.end_bulk_operation();
    end if;
    v_result := jsonb_build_object('category', category, 'dry_run', dry_run, 'cutoff', v_cutoff,
      'deleted', v_deleted, 'batch_size', batch_size);
    if category = 'conversations' and not dry_run then
      v_result := v_result || jsonb_build_object('messages_deleted', v_messages);
    end if;
  end if;

  perform compliance_private.append_audit('retention.applied', 'system', 'retention_policy', category, v_result);
  return v_result;
end;
$function$;

comment on function compliance.apply_retention(category text, batch_size integer, dry_run boolean) is
  'Applies one category''s retention policy as of compliance_private.retention_now() (the database clock; only the owner can move it, for tests): deletes at most batch_size due rows, each checked again as it is deleted (conversations take their messages), or drops the expired audit partitions and removes the seals of their rows; subjects under legal hold are skipped, and an audit month holding a held subject''s rows is kept. dry_run deletes nothing and reports how many rows are due in total. Each call writes one retention.applied audit row with the counts. Returns {category, dry_run, cutoff, deleted, ...}; call again while deleted = batch_size. Errors: RETCT unknown category, BADRG.';

-- included from fixtures/retention/drop_expired_audit_partitions.sql
-- compliance_private.drop_expired_audit_partitions(cutoff timestamp with time zone, dry_run boolean): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.drop_expired_audit_partitions(cutoff timestamp with time zone, dry_run boolean)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

comment on function compliance_private.drop_expired_audit_partitions(cutoff timestamp with time zone, dry_run boolean) is
  'Drops whole audit partitions older than cutoff once every row in them is sealed, removes the seals all of whose rows are gone, and audits each drop (audit.partition_dropped) with the last seal removed, its hash and end, and the ids of dropped rows that kept seals still list: the records verification accepts for a chain that no longer starts at seal 1.';

-- included from fixtures/retention/expired_audit_partitions.sql
-- compliance_private.expired_audit_partitions(cutoff timestamp with time zone): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.expired_audit_partitions(cutoff timestamp with time zone)
 RETURNS TABLE(partition_name text, range_end timestamp with time zone)
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

comment on function compliance_private.expired_audit_partitions(cutoff timestamp with time zone) is
  'Monthly audit partitions whose whole range ends on or before cutoff.';

-- included from fixtures/retention/retention_cutoff.sql
-- compliance_private.retention_cutoff(category text, as_of timestamp with time zone): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.retention_cutoff(category text, as_of timestamp with time zone)
 RETURNS timestamp with time zone
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

comment on function compliance_private.retention_cutoff(category text, as_of timestamp with time zone) is
  'Rows counted from before this instant are due under the category''s policy (NULL for until_erasure). Errors: RETCT.';

-- included from fixtures/retention/retention_due.sql
-- compliance.retention_due: the view's current definition (db/CONVENTIONS.md).

create or replace view compliance.retention_due with (security_invoker=false) as
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

comment on view compliance.retention_due is
  'What retention would remove now, per category: rows for delete policies (subjects under legal hold excluded), whole monthly partitions for the audit log.';
comment on column compliance.retention_due.category is 'The retention category (retention_policies.category).';
comment on column compliance.retention_due.action is 'What retention does: delete, drop_partition or until_erasure.';
comment on column compliance.retention_due.retention_period is 'How long the category is kept.';
comment on column compliance.retention_due.counted_from is 'The column the period counts from.';
comment on column compliance.retention_due.cutoff is 'Rows older than this are due (retention''s clock minus the period).';
comment on column compliance.retention_due.due_now is 'How many rows (or audit partitions) would go now; subjects under legal hold excluded.';
comment on column compliance.retention_due.unit is 'What due_now counts: rows or partitions.';

-- included from fixtures/retention/retention_due_ids.sql
-- compliance_private.retention_due_ids(category text, cutoff timestamp with time zone, max_rows integer): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.retention_due_ids(category text, cutoff timestamp with time zone, max_rows integer)
 RETURNS TABLE(id text)
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
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
      perform compliance_private.raise_error('RETCT', format('category %s is not deleted row by row', category));
  end case;
end;
$function$;

comment on function compliance_private.retention_due_ids(category text, cutoff timestamp with time zone, max_rows integer) is
  'Keys of the rows of a row-deleted category that are due (older than cutoff, not under legal hold), oldest first, at most max_rows.';

-- included from fixtures/retention/retention_now.sql
-- compliance_private.retention_now(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.retention_now()
 RETURNS timestamp with time zone
 LANGUAGE sql
 STABLE PARALLEL SAFE
RETURN COALESCE((SELECT o.frozen_at FROM compliance_private.clock_override o), now());

comment on function compliance_private.retention_now() is
  'The instant retention counts from: now(), or the owner''s frozen clock (compliance_private.clock_override) in tests.';

-- included from fixtures/retention/retention_row_subjects.sql
-- compliance_private.retention_row_subjects(category text, ids text[]): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.retention_row_subjects(category text, ids text[])
 RETURNS TABLE(user_id text)
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
      perform compliance_private.raise_error('RETCT', format('category %s is not deleted row by row', category));
  end case;
end;
$function$;

comment on function compliance_private.retention_row_subjects(category text, ids text[]) is
  'The subjects whose rows of a row-deleted category a retention batch is about to delete (keys as retention_due_ids returns them).';

-- included from fixtures/retention/tg_clock_override__audit.sql
-- compliance_private.tg_clock_override__audit(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.tg_clock_override__audit()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  perform compliance_private.append_audit('retention.clock_overridden', 'security', 'clock', 'retention',
    jsonb_build_object('frozen_at', case when tg_op = 'DELETE' then null else new.frozen_at end,
                       'operation', lower(tg_op)));
  return null;
end;
$function$;

comment on function compliance_private.tg_clock_override__audit() is
  'AFTER INSERT, UPDATE or DELETE on clock_override: audits every move of the retention clock.';

-- included from fixtures/retention/tg_retention_policies__audit.sql
-- compliance_private.tg_retention_policies__audit(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.tg_retention_policies__audit()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  perform compliance_private.append_audit('retention.policy_changed', 'soc2', 'retention_policy', new.category,
    jsonb_build_object(
      'old', jsonb_build_object('retention_period', old.retention_period, 'action', old.action, 'enabled', old.enabled, 'counted_from', old.counted_from),
      'new', jsonb_build_object('retention_period', new.retention_period, 'action', new.action, 'enabled', new.enabled, 'counted_from', new.counted_from)));
  return null;
end;
$function$;

comment on function compliance_private.tg_retention_policies__audit() is
  'AFTER UPDATE on retention_policies: audits every policy change with its old and new values (SOC 2 PI1.4).';

-- access
-- included from fixtures/access/audit_logs.owner_routines.sql
-- policy owner_routines on compliance.audit_logs: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance.audit_logs;
create policy owner_routines on compliance.audit_logs as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance.audit_logs is 'The SECURITY DEFINER routines (append, seal, verify, redact) run as the owner.';

-- included from fixtures/access/audit_logs.readers_every_row.sql
-- policy readers_every_row on compliance.audit_logs: its current definition (db/CONVENTIONS.md).

drop policy if exists readers_every_row on compliance.audit_logs;
create policy readers_every_row on compliance.audit_logs as permissive for select to compliance_auditor, compliance_dpo
  using (true);
comment on policy readers_every_row on compliance.audit_logs is 'The auditor and the DPO read the whole audit log.';

-- included from fixtures/access/consent_records.dpo_every_subject.sql
-- policy dpo_every_subject on compliance.consent_records: its current definition (db/CONVENTIONS.md).

drop policy if exists dpo_every_subject on compliance.consent_records;
create policy dpo_every_subject on compliance.consent_records as permissive for all to compliance_dpo
  using (true)
  with check (true);
comment on policy dpo_every_subject on compliance.consent_records is 'The DPO reaches every subject (reads; writes only where a grant allows).';

-- included from fixtures/access/consent_records.owner_routines.sql
-- policy owner_routines on compliance.consent_records: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance.consent_records;
create policy owner_routines on compliance.consent_records as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance.consent_records is 'SECURITY DEFINER routines (erasure, export, retention) run as the owner and reach every row.';

-- included from fixtures/access/consent_records.subject_own_rows.sql
-- policy subject_own_rows on compliance.consent_records: its current definition (db/CONVENTIONS.md).

drop policy if exists subject_own_rows on compliance.consent_records;
create policy subject_own_rows on compliance.consent_records as permissive for all to compliance_app
  using ((user_id = ( SELECT compliance.current_subject() AS current_subject)))
  with check ((user_id = ( SELECT compliance.current_subject() AS current_subject)));
comment on policy subject_own_rows on compliance.consent_records is 'The API acting for a subject sees and changes only rows whose user_id is the request actor.';

-- included from fixtures/access/conversations.dpo_every_subject.sql
-- policy dpo_every_subject on compliance.conversations: its current definition (db/CONVENTIONS.md).

drop policy if exists dpo_every_subject on compliance.conversations;
create policy dpo_every_subject on compliance.conversations as permissive for all to compliance_dpo
  using (true)
  with check (true);
comment on policy dpo_every_subject on compliance.conversations is 'The DPO reaches every subject (reads; writes only where a grant allows).';

-- included from fixtures/access/conversations.owner_routines.sql
-- policy owner_routines on compliance.conversations: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance.conversations;
create policy owner_routines on compliance.conversations as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance.conversations is 'SECURITY DEFINER routines (erasure, export, retention) run as the owner and reach every row.';

-- included from fixtures/access/conversations.subject_own_rows.sql
-- policy subject_own_rows on compliance.conversations: its current definition (db/CONVENTIONS.md).

drop policy if exists subject_own_rows on compliance.conversations;
create policy subject_own_rows on compliance.conversations as permissive for all to compliance_app
  using ((user_id = ( SELECT compliance.current_subject() AS current_subject)))
  with check ((user_id = ( SELECT compliance.current_subject() AS current_subject)));
comment on policy subject_own_rows on compliance.conversations is 'The API acting for a subject sees and changes only rows whose user_id is the request actor.';

-- included from fixtures/access/dsr_requests.dpo_every_subject.sql
-- policy dpo_every_subject on compliance.dsr_requests: its current definition (db/CONVENTIONS.md).

drop policy if exists dpo_every_subject on compliance.dsr_requests;
create policy dpo_every_subject on compliance.dsr_requests as permissive for all to compliance_dpo
  using (true)
  with check (true);
comment on policy dpo_every_subject on compliance.dsr_requests is 'The DPO manages every request.';

-- included from fixtures/access/dsr_requests.owner_routines.sql
-- policy owner_routines on compliance.dsr_requests: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance.dsr_requests;
create policy owner_routines on compliance.dsr_requests as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance.dsr_requests is 'SECURITY DEFINER routines register and complete requests.';

-- included from fixtures/access/dsr_requests.subject_own_rows.sql
-- policy subject_own_rows on compliance.dsr_requests: its current definition (db/CONVENTIONS.md).

drop policy if exists subject_own_rows on compliance.dsr_requests;
create policy subject_own_rows on compliance.dsr_requests as permissive for select to compliance_app
  using ((user_id = ( SELECT compliance.current_subject() AS current_subject)));
comment on policy subject_own_rows on compliance.dsr_requests is 'A subject sees its own requests.';

-- included from fixtures/access/legal_holds.dpo_every_subject.sql
-- policy dpo_every_subject on compliance.legal_holds: its current definition (db/CONVENTIONS.md).

drop policy if exists dpo_every_subject on compliance.legal_holds;
create policy dpo_every_subject on compliance.legal_holds as permissive for all to compliance_dpo
  using (true)
  with check (true);
comment on policy dpo_every_subject on compliance.legal_holds is 'The DPO reaches every subject (reads; writes only where a grant allows).';

-- included from fixtures/access/legal_holds.owner_routines.sql
-- policy owner_routines on compliance.legal_holds: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance.legal_holds;
create policy owner_routines on compliance.legal_holds as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance.legal_holds is 'SECURITY DEFINER routines (erasure, export, retention) run as the owner and reach every row.';

-- included from fixtures/access/legal_holds.subject_own_rows.sql
-- policy subject_own_rows on compliance.legal_holds: its current definition (db/CONVENTIONS.md).

drop policy if exists subject_own_rows on compliance.legal_holds;
create policy subject_own_rows on compliance.legal_holds as permissive for all to compliance_app
  using ((user_id = ( SELECT compliance.current_subject() AS current_subject)))
  with check ((user_id = ( SELECT compliance.current_subject() AS current_subject)));
comment on policy subject_own_rows on compliance.legal_holds is 'The API acting for a subject sees and changes only rows whose user_id is the request actor.';

-- included from fixtures/access/messages.dpo_every_subject.sql
-- policy dpo_every_subject on compliance.messages: its current definition (db/CONVENTIONS.md).

drop policy if exists dpo_every_subject on compliance.messages;
create policy dpo_every_subject on compliance.messages as permissive for all to compliance_dpo
  using (true)
  with check (true);
comment on policy dpo_every_subject on compliance.messages is 'The DPO reaches every subject (reads; writes only where a grant allows).';

-- included from fixtures/access/messages.owner_routines.sql
-- policy owner_routines on compliance.messages: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance.messages;
create policy owner_routines on compliance.messages as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance.messages is 'SECURITY DEFINER routines (erasure, export, retention) run as the owner and reach every row.';

-- included from fixtures/access/messages.subject_own_rows.sql
-- policy subject_own_rows on compliance.messages: its current definition (db/CONVENTIONS.md).

drop policy if exists subject_own_rows on compliance.messages;
create policy subject_own_rows on compliance.messages as permissive for all to compliance_app
  using ((user_id = ( SELECT compliance.current_subject() AS current_subject)))
  with check ((user_id = ( SELECT compliance.current_subject() AS current_subject)));
comment on policy subject_own_rows on compliance.messages is 'The API acting for a subject sees and changes only rows whose user_id is the request actor.';

-- included from fixtures/access/sessions.dpo_every_subject.sql
-- policy dpo_every_subject on compliance.sessions: its current definition (db/CONVENTIONS.md).

drop policy if exists dpo_every_subject on compliance.sessions;
create policy dpo_every_subject on compliance.sessions as permissive for all to compliance_dpo
  using (true)
  with check (true);
comment on policy dpo_every_subject on compliance.sessions is 'The DPO reaches every subject (reads; writes only where a grant allows).';

-- included from fixtures/access/sessions.owner_routines.sql
-- policy owner_routines on compliance.sessions: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance.sessions;
create policy owner_routines on compliance.sessions as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance.sessions is 'SECURITY DEFINER routines (erasure, export, retention) run as the owner and reach every row.';

-- included from fixtures/access/sessions.subject_own_rows.sql
-- policy subject_own_rows on compliance.sessions: its current definition (db/CONVENTIONS.md).

drop policy if exists subject_own_rows on compliance.sessions;
create policy subject_own_rows on compliance.sessions as permissive for all to compliance_app
  using ((user_id = ( SELECT compliance.current_subject() AS current_subject)))
  with check ((user_id = ( SELECT compliance.current_subject() AS current_subject)));
comment on policy subject_own_rows on compliance.sessions is 'The API acting for a subject sees and changes only rows whose user_id is the request actor.';

-- included from fixtures/access/user_preferences.dpo_every_subject.sql
-- policy dpo_every_subject on compliance.user_preferences: its current definition (db/CONVENTIONS.md).

drop policy if exists dpo_every_subject on compliance.user_preferences;
create policy dpo_every_subject on compliance.user_preferences as permissive for all to compliance_dpo
  using (true)
  with check (true);
comment on policy dpo_every_subject on compliance.user_preferences is 'The DPO reaches every subject (reads; writes only where a grant allows).';

-- included from fixtures/access/user_preferences.owner_routines.sql
-- policy owner_routines on compliance.user_preferences: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance.user_preferences;
create policy owner_routines on compliance.user_preferences as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance.user_preferences is 'SECURITY DEFINER routines (erasure, export, retention) run as the owner and reach every row.';

-- included from fixtures/access/user_preferences.subject_own_rows.sql
-- policy subject_own_rows on compliance.user_preferences: its current definition (db/CONVENTIONS.md).

drop policy if exists subject_own_rows on compliance.user_preferences;
create policy subject_own_rows on compliance.user_preferences as permissive for all to compliance_app
  using ((user_id = ( SELECT compliance.current_subject() AS current_subject)))
  with check ((user_id = ( SELECT compliance.current_subject() AS current_subject)));
comment on policy subject_own_rows on compliance.user_preferences is 'The API acting for a subject sees and changes only rows whose user_id is the request actor.';

-- included from fixtures/access/user_profiles.dpo_every_subject.sql
-- policy dpo_every_subject on compliance.user_profiles: its current definition (db/CONVENTIONS.md).

drop policy if exists dpo_every_subject on compliance.user_profiles;
create policy dpo_every_subject on compliance.user_profiles as permissive for all to compliance_dpo
  using (true)
  with check (true);
comment on policy dpo_every_subject on compliance.user_profiles is 'The DPO reaches every subject (reads; writes only where a grant allows).';

-- included from fixtures/access/user_profiles.owner_routines.sql
-- policy owner_routines on compliance.user_profiles: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance.user_profiles;
create policy owner_routines on compliance.user_profiles as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance.user_profiles is 'SECURITY DEFINER routines (erasure, export, retention) run as the owner and reach every row.';

-- included from fixtures/access/user_profiles.subject_own_rows.sql
-- policy subject_own_rows on compliance.user_profiles: its current definition (db/CONVENTIONS.md).

drop policy if exists subject_own_rows on compliance.user_profiles;
create policy subject_own_rows on compliance.user_profiles as permissive for all to compliance_app
  using ((user_id = ( SELECT compliance.current_subject() AS current_subject)))
  with check ((user_id = ( SELECT compliance.current_subject() AS current_subject)));
comment on policy subject_own_rows on compliance.user_profiles is 'The API acting for a subject sees and changes only rows whose user_id is the request actor.';
