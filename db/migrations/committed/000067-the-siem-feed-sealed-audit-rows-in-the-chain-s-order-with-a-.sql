--! Previous: sha1:3447a2126f13f1271fad3e43d6362c376e309cde
--! Hash: sha1:f4927cec46ae33aa3db55407d9bfe1bc9c6ca3cb
--! Message: The SIEM feed: sealed audit rows in the chain's order with a cursor, and the siem_lag check

-- The SIEM feed: sealed audit rows, PHI access included, delivered by the worker in the chain's
-- order over syslog (RFC 5424 over TLS, RFC 5425), at least once, resuming from the last
-- acknowledged event after any restart. Its lag is a metric and the siem_lag check.

create table if not exists compliance_private.siem_cursor (
  singleton boolean not null default true,
  seal_no bigint not null,
  seal_position integer not null,
  acknowledged_at timestamptz,
  last_error text,
  last_error_at timestamptz,
  constraint siem_cursor_pkey primary key (singleton),
  constraint siem_cursor_one_row check (singleton),
  constraint siem_cursor_position_not_negative check (seal_no >= 0 and seal_position >= 0),
  constraint siem_cursor_last_error_length check (length(last_error) <= 1000)
);
comment on table compliance_private.siem_cursor is
  'Where the SIEM feed stands: the last event the SIEM has (a seal and a position in it). One row, made when a worker with SIEM_SYSLOG_URL first asks for events. Not personal data.';
comment on column compliance_private.siem_cursor.singleton is 'Always true: the feed has one cursor.';
comment on column compliance_private.siem_cursor.seal_no is 'The seal of the last acknowledged event (0: none yet).';
comment on column compliance_private.siem_cursor.seal_position is 'Its position in that seal (1 is the seal''s first row).';
comment on column compliance_private.siem_cursor.acknowledged_at is 'When the cursor last moved.';
comment on column compliance_private.siem_cursor.last_error is 'Why the SIEM could not be reached, last time it could not.';
comment on column compliance_private.siem_cursor.last_error_at is 'When that was.';
alter table compliance_private.siem_cursor enable row level security;
alter table compliance_private.siem_cursor force row level security;
-- included from fixtures/siem/siem_cursor.owner_routines.sql
-- policy owner_routines on compliance_private.siem_cursor: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance_private.siem_cursor;
create policy owner_routines on compliance_private.siem_cursor as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance_private.siem_cursor is 'Only the feed''s routines (siem_events, acknowledge_siem, record_siem_failure, siem_lag, check_siem_lag) read and move the cursor. No application role reaches the table.';

alter table compliance.compliance_check_settings add column if not exists siem_max_lag interval not null default interval '5 minutes';
comment on column compliance.compliance_check_settings.siem_max_lag is 'How far behind the SIEM feed may be before the siem_lag check fails.';
grant update (siem_max_lag) on compliance.compliance_check_settings to compliance_dpo;

-- included from fixtures/siem/siem_events.sql
-- compliance.siem_events(max_rows integer): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.siem_events(max_rows integer DEFAULT 500)
 RETURNS TABLE(seal_no bigint, seal_position integer, seal_rows integer, seal_hash text, id bigint, row_hash text, occurred_at timestamp with time zone, action text, category text, outcome text, failure_reason text, resource_type text, resource_id text, details jsonb, actor text)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_cursor compliance_private.siem_cursor;
begin
  if max_rows is null or max_rows not between 1 and 10000 then
    perform compliance_private.raise_error('BADRG', 'max_rows must be 1 to 10000');
  end if;
  -- the feed starts at the first seal there is when it is first asked
  insert into compliance_private.siem_cursor (seal_no, seal_position) values (0, 0)
  on conflict on constraint siem_cursor_pkey do nothing;
  select * into v_cursor from compliance_private.siem_cursor;
  -- sealed rows only, in the chain's order: each event carries its seal, and the order never
  -- changes after the fact (row ids commit out of order; seals do not)
  return query
    select s.seal_no, u.ord::integer, s.row_count, encode(s.seal_hash, 'hex'), a.id,
           encode(substring(s.row_hashes from ((u.ord - 1) * 32 + 1)::integer for 32), 'hex'),
           a.occurred_at, a.action, a.category, a.outcome, a.failure_reason, a.resource_type, a.resource_id, a.details,
           -- who acted on someone else's data (staff, a DPO); never the subject's own id, which
           -- erasure must reach and a SIEM keeps out of its reach
           case when a.actor_id is distinct from a.user_id then a.actor_id end
      from compliance.audit_seals s
      cross join lateral unnest(s.row_ids) with ordinality u(row_id, ord)
      join compliance.audit_logs a on a.id = u.row_id
     where s.seal_no >= v_cursor.seal_no
       and (s.seal_no, u.ord) > (v_cursor.seal_no, v_cursor.seal_position::bigint)
     order by s.seal_no, u.ord
     limit max_rows;
end;
$function$;

comment on function compliance.siem_events(max_rows integer) is
  'The SIEM feed''s next events after its cursor: sealed audit rows in the chain''s order (PHI access included), each with its row hash, its seal, the seal''s row count and hash, so the SIEM can check it has every row of each seal. An event carries the row''s non-personal part and, where someone acted on another''s data, that actor; never the subject''s id. Worker role only. Errors: BADRG.';

-- included from fixtures/siem/acknowledge_siem.sql
-- compliance.acknowledge_siem(seal_no bigint, seal_position integer): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.acknowledge_siem(seal_no bigint, seal_position integer)
 RETURNS void
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  if seal_no is null or seal_position is null or seal_position < 1
     or not exists (select from compliance.audit_seals s where s.seal_no = acknowledge_siem.seal_no and s.row_count >= acknowledge_siem.seal_position) then
    perform compliance_private.raise_error('BADRG', 'acknowledge an event the feed sent: its seal_no and seal_position');
  end if;
  -- never backwards: a late acknowledgement of an earlier batch changes nothing
  update compliance_private.siem_cursor c
     set seal_no = acknowledge_siem.seal_no, seal_position = acknowledge_siem.seal_position, acknowledged_at = now(), last_error = null
   where (c.seal_no, c.seal_position) < (acknowledge_siem.seal_no, acknowledge_siem.seal_position);
end;
$function$;

comment on function compliance.acknowledge_siem(seal_no bigint, seal_position integer) is
  'The worker moves the SIEM feed''s cursor past an event the SIEM has (it stayed connected for a while after the event was written); the feed resumes after it on any restart. Never moves backwards. Worker role only. Errors: BADRG.';

-- included from fixtures/siem/record_siem_failure.sql
-- compliance.record_siem_failure(error text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.record_siem_failure(error text)
 RETURNS void
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  update compliance_private.siem_cursor c set last_error = left(coalesce(error, 'no error given'), 1000), last_error_at = now();
$function$;

comment on function compliance.record_siem_failure(error text) is
  'The worker records why the SIEM could not be reached; siem_lag and the siem_lag check show it. Worker role only.';

-- included from fixtures/siem/siem_lag.sql
-- compliance.siem_lag(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.siem_lag()
 RETURNS TABLE(feeding boolean, lag_seconds numeric, oldest_unsent_at timestamp with time zone, acknowledged_at timestamp with time zone, last_error text, last_error_at timestamp with time zone)
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_cursor compliance_private.siem_cursor;
begin
  select * into v_cursor from compliance_private.siem_cursor;
  feeding := found;
  if feeding then
    -- the oldest sealed row the SIEM does not have yet: how far behind the feed is
    select min(a.occurred_at) into oldest_unsent_at
      from compliance.audit_seals s
      cross join lateral unnest(s.row_ids) with ordinality u(row_id, ord)
      join compliance.audit_logs a on a.id = u.row_id
     where s.seal_no >= v_cursor.seal_no and (s.seal_no, u.ord) > (v_cursor.seal_no, v_cursor.seal_position::bigint)
       and s.seal_no <= (select min(n.seal_no) + 10 from compliance.audit_seals n
                          where (n.seal_no, n.row_count::bigint) > (v_cursor.seal_no, v_cursor.seal_position::bigint));
    lag_seconds := coalesce(round(extract(epoch from now() - oldest_unsent_at)::numeric, 3), 0);
    acknowledged_at := v_cursor.acknowledged_at;
    last_error := v_cursor.last_error;
    last_error_at := v_cursor.last_error_at;
  end if;
  return next;
end;
$function$;

comment on function compliance.siem_lag() is
  'How far the SIEM feed is behind: the age of the oldest sealed audit row it has not delivered (0 when it has them all), when it last acknowledged, and its last error. feeding is false until a worker with SIEM_SYSLOG_URL has started the feed. /metrics exports it as pgcomply_siem_lag_seconds.';

-- included from fixtures/siem/check_siem_lag.sql
-- compliance_private.check_siem_lag(context jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.check_siem_lag(context jsonb)
 RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_lag record;
  v_max interval := (select s.siem_max_lag from compliance.compliance_check_settings s);
begin
  select * into v_lag from compliance.siem_lag();
  threshold := jsonb_build_object('max_lag_seconds', extract(epoch from v_max));
  measured := jsonb_build_object('feeding', v_lag.feeding, 'lag_seconds', v_lag.lag_seconds, 'acknowledged_at', v_lag.acknowledged_at, 'last_error', v_lag.last_error);
  evidence := 'select * from compliance.siem_lag()';
  if not v_lag.feeding then
    status := 'not_applicable';
    detail := 'no SIEM feed runs (the worker''s SIEM_SYSLOG_URL is not set): the audit trail stays in this database and its anchors';
  elsif v_lag.lag_seconds > extract(epoch from v_max) then
    status := 'fail';
    detail := format('the SIEM is %s s behind (at most %s s allowed)%s', v_lag.lag_seconds, extract(epoch from v_max),
      coalesce(format('; last error %s: %s', v_lag.last_error_at, v_lag.last_error), ''));
  else
    status := 'pass';
    detail := format('the SIEM is %s s behind (at most %s s allowed)', v_lag.lag_seconds, extract(epoch from v_max));
  end if;
  return next;
end;
$function$;

comment on function compliance_private.check_siem_lag(context jsonb) is
  'Compliance check: the SIEM feed has every sealed audit row older than siem_max_lag (5 minutes by default). Not applicable while no feed runs.';

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
                                'master_key_age', 'backup_age', 'anchors', 'worker_heartbeat', 'uptime', 'outside_the_database', 'privileged_mfa', 'wal_archive_lag', 'restore_drill', 'data_map', 'processing_record', 'dsr_propagation', 'database_audit', 'siem_lag'] loop
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

revoke all on function compliance.siem_events(integer) from public;
revoke all on function compliance.acknowledge_siem(bigint, integer) from public;
revoke all on function compliance.record_siem_failure(text) from public;
revoke all on function compliance.siem_lag() from public;
revoke all on function compliance_private.check_siem_lag(jsonb) from public;
grant execute on function compliance.siem_events(integer) to compliance_worker;
grant execute on function compliance.acknowledge_siem(bigint, integer) to compliance_worker;
grant execute on function compliance.record_siem_failure(text) to compliance_worker;
grant execute on function compliance.siem_lag() to compliance_app, compliance_dpo, compliance_auditor, compliance_worker;

select compliance_private.record_expected_grants();
