--! Previous: sha1:83551e891afc88ce9a1df9233d630c8b9fc113c2
--! Hash: sha1:1476aec49d25efed21df8d2cbf20d26c4d63eef6
--! Message: client_tls measures TLS versions and fails below TLS 1.3; the monthly report states them

-- TLS to the database, measured: client_tls lists the TLS version of every client connection and,
-- with REQUIRE_TLS, fails on one below TLS 1.3; the monthly report states the versions seen.
-- included from fixtures/checks/check_client_tls.sql
-- compliance_private.check_client_tls(context jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.check_client_tls(context jsonb)
 RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

comment on function compliance_private.check_client_tls(context jsonb) is
  'Compliance check: with REQUIRE_TLS (context require_tls), every client connection to this database uses TLS 1.3 (pg_stat_ssl): none without TLS, none on an older version; measured lists the connections per version either way. Without REQUIRE_TLS, not_applicable.';

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
          where p.generated_at >= period_from and p.generated_at < period_to), 'population', 'evidence_packages')),
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
  'Computes the monthly report''s content for [period_from, period_to) from the data: GDPR (requests received, completed, overdue, median days to complete, erasures, consent grants and withdrawals per purpose and week), retention deletions per category, SOC 2 (check pass rates, uptime, access reviews, evidence packages), HIPAA (PHI accesses and refusals, integrity failures, unusual-access findings, emergency access and its reviews), the audit chain''s latest verification, newest seal and last anchor written outside the database, the TLS versions seen on database connections (client_tls runs), and breaches. Each figure names the evidence population it was counted from. No names.';
