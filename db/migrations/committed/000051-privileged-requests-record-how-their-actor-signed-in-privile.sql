--! Previous: sha1:1476aec49d25efed21df8d2cbf20d26c4d63eef6
--! Hash: sha1:fe623a796fd5a064464373a2ede05c3e971d002b
--! Message: Privileged requests record how their actor signed in; privileged_mfa check, privileged_actions population, mfa_enabled_users

-- Who is really acting: a privileged API request records what its token proved (amr, acr, mfa,
-- auth_time) in every audit row it writes; a refusal for too little assurance is recorded; the
-- privileged_mfa check and the privileged_actions population count them, and the monthly report
-- states the users whose privileged requests proved multi-factor authentication.

alter table compliance_private.refusal_windows drop constraint refusal_windows_reason_known,
  add constraint refusal_windows_reason_known
    check (reason in ('invalid_token', 'expired_token', 'no_token', 'forbidden', 'session_expired', 'insufficient_authentication'));
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
$function$;

comment on function compliance.record_refusal(reason text, client_ip inet, user_agent text, detail text) is
  'The server records a refused request here (reasons: invalid_token, expired_token, no_token, forbidden, session_expired, insufficient_authentication: a privileged role without multi-factor authentication or a grave action without a recent sign-in), in a transaction of its own: counted per client IP, reason and minute; the first of each minute writes a security.request_refused audit row (reason; IP, user agent and detail in its personal part). Returns whether it wrote one.';

-- included from fixtures/context/current_authentication.sql
-- compliance_private.current_authentication(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.current_authentication()
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select nullif(current_setting('compliance.authentication', true), '')::jsonb;
$function$;

comment on function compliance_private.current_authentication() is
  'What the request''s token proved, as open_request recorded it for a privileged request: {amr, acr, mfa, auth_time}; NULL for a subject''s request and for SQL called without the API (the CLI, a DBA), whose login is the authentication.';

revoke all on function compliance_private.current_authentication() from public;

drop function compliance.open_request(text, text[], inet, text, uuid, interval, text, text, text);
-- included from fixtures/context/open_request.sql
-- compliance.open_request(actor text, roles text[], client_ip inet, user_agent text, session_id uuid, idle_timeout interval, username text, email text, full_name text, authentication jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.open_request(actor text, roles text[], client_ip inet, user_agent text, session_id uuid, idle_timeout interval DEFAULT '00:15:00'::interval, username text DEFAULT NULL::text, email text DEFAULT NULL::text, full_name text DEFAULT NULL::text, authentication jsonb DEFAULT NULL::jsonb)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

comment on function compliance.open_request(actor text, roles text[], client_ip inet, user_agent text, session_id uuid, idle_timeout interval, username text, email text, full_name text, authentication jsonb) is
  'The first call of an API request transaction, after SET LOCAL ROLE compliance_app: sets the request context (the actor is the authenticated subject), creates the subject''s profile on first sight (ensure_profile) and records activity in its session (touch_session). authentication: what the token proved for a privileged request ({amr, acr, mfa, auth_time}, server/auth/assurance.ts), written into every audit row of the request; NULL for a subject''s own request. Errors: ERASD for an erased subject, SESXP for an idle or closed session.';

revoke all on function compliance.open_request(text, text[], inet, text, uuid, interval, text, text, text, jsonb) from public;
grant execute on function compliance.open_request(text, text[], inet, text, uuid, interval, text, text, text, jsonb) to compliance_app;

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
  if compliance_private.current_authentication() is not null then
    details := details || jsonb_build_object('authentication', compliance_private.current_authentication());
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
  if current_setting('compliance.authentication', true) <> '' then
    v_details := coalesce(v_details, '{}') || jsonb_build_object('authentication', current_setting('compliance.authentication')::jsonb);
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

-- included from fixtures/audit/tg__audit_inserted_rows.sql
-- compliance_private.tg__audit_inserted_rows(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.tg__audit_inserted_rows()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

comment on function compliance_private.tg__audit_inserted_rows() is
  'AFTER INSERT statement trigger (transition table new_rows) on every personal table: one audit row per inserted row, with the actor from the request context (consent records: consent.granted or consent.withdrawn with purpose, policy version and source; a privileged request adds how its actor signed in, authentication). Set-based, so a bulk load is audited at the cost of one INSERT … SELECT; the rows of one statement share the actor part''s salt. Same arguments as tg__audit_row_change, which audits updates.';

-- included from fixtures/checks/check_privileged_mfa.sql
-- compliance_private.check_privileged_mfa(context jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.check_privileged_mfa(context jsonb)
 RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

comment on function compliance_private.check_privileged_mfa(context jsonb) is
  'Compliance check (SOC 2 CC6.1, HIPAA §164.312(d)): every privileged action since the last run (audit rows written under a privileged API request, which carry authentication) was taken with multi-factor authentication; not_applicable when none was. SQL called without the API (the CLI, a DBA) authenticates with its database login and is not counted.';

revoke all on function compliance_private.check_privileged_mfa(jsonb) from public;
-- included from fixtures/checks/run_compliance_checks.sql
-- compliance.run_compliance_checks(trigger text, require_tls boolean, full_verification boolean): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.run_compliance_checks(trigger text DEFAULT 'demand'::text, require_tls boolean DEFAULT false, full_verification boolean DEFAULT false)
 RETURNS SETOF compliance.check_results
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
                                'master_key_age', 'backup_age', 'anchors', 'worker_heartbeat', 'uptime', 'outside_the_database', 'privileged_mfa'] loop
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
$function$;

comment on function compliance.run_compliance_checks(trigger text, require_tls boolean, full_verification boolean) is
  'Runs every compliance check (compliance_private.check_*) now, stores a run and its results, raises one compliance.check_failed alert per failing check in the outbox, and audits the run (compliance.checks_run, with the results'' hash). require_tls: whether the deployment requires TLS (REQUIRE_TLS), for the client_tls check; full_verification: verify the whole audit chain rather than from the last checkpoint. Returns the results. The worker runs it daily at 06:00 UTC; a DPO on demand.';

-- included from fixtures/reports/monthly_report_content.sql
-- compliance_private.monthly_report_content(period_from timestamp with time zone, period_to timestamp with time zone): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.monthly_report_content(period_from timestamp with time zone, period_to timestamp with time zone)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
    'breaches', jsonb_build_object('population', 'breaches', 'value', (select count(*) from breaches),
      'items', coalesce((select jsonb_agg(jsonb_build_object('id', b.id, 'discovered_at', b.discovered_at, 'status', b.status,
                 'affected_count', b.affected_count, 'notified_authority_at', b.notified_authority_at,
                 'notified_individuals_at', b.notified_individuals_at, 'closed_at', b.closed_at) order by b.id) from breaches b), '[]')));
$function$;

comment on function compliance_private.monthly_report_content(period_from timestamp with time zone, period_to timestamp with time zone) is
  'Computes the monthly report''s content for [period_from, period_to) from the data: GDPR (requests received, completed, overdue, median days to complete, erasures, consent grants and withdrawals per purpose and week), retention deletions per category, SOC 2 (check pass rates, uptime, access reviews, evidence packages, the users whose privileged requests proved multi-factor authentication over 90 days), HIPAA (PHI accesses and refusals, integrity failures, unusual-access findings, emergency access and its reviews), the audit chain''s latest verification, newest seal and last anchor written outside the database, the TLS versions seen on database connections (client_tls runs), and breaches. Each figure names the evidence population it was counted from. No names.';

insert into compliance.evidence_populations (name, controls, description, query) values
  ('privileged_actions', '{SOC 2 CC6.1,HIPAA 164.312(d)}',
   'An audit row written by a privileged API request (a DPO, staff member, approver or auditor) in the period, with how its actor signed in: the amr and acr of the token, whether they prove multi-factor authentication, and the sign-in time (never who).',
   'select a.id, a.occurred_at, a.action, a.outcome, a.details -> ''authentication'' -> ''amr'' as amr, a.details -> ''authentication'' ->> ''acr'' as acr, (a.details -> ''authentication'' ->> ''mfa'')::boolean as mfa, a.details -> ''authentication'' ->> ''auth_time'' as auth_time from compliance.audit_logs a where a.details ? ''authentication'' and a.occurred_at >= $1 and a.occurred_at < $2 order by a.id');

select compliance_private.record_expected_grants();
