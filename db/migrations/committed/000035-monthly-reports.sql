--! Previous: sha1:af0bceabe43193e49fb6a4b52ff9f55a32b5fa6b
--! Hash: sha1:26be6430bd3999522ee9e6a06086aae6ae5e32a7
--! Message: monthly-reports

-- The monthly compliance report (issue #20): computed from the data for a calendar month, stored as
-- JSON with its SHA-256 in the audit chain; each figure names the evidence population it came
-- from, and three populations are added so that every figure has one.

create table compliance.reports (
  id             bigint      generated always as identity,
  kind           text        not null,
  period_from    timestamptz not null,
  period_to      timestamptz not null,
  generated_at   timestamptz not null default now(),
  generated_by   text,
  complete       boolean     not null,
  content        jsonb       not null,
  content_sha256 text        not null,
  constraint reports_pkey primary key (id),
  constraint reports_kind_known check (kind in ('monthly')),
  constraint reports_period_ordered check (period_from < period_to),
  constraint reports_content_hash check (content_sha256 = encode(sha256(convert_to(content::text, 'UTF8')), 'hex'))
);
comment on table compliance.reports is
  'Compliance reports as computed (compliance.generate_monthly_report): the content JSON and its SHA-256, which is also in the audit chain (report.generated), so a report altered afterwards no longer matches. A month reported again gets a new row; the newest is current.';
comment on column compliance.reports.id is 'The report.';
comment on column compliance.reports.kind is 'monthly.';
comment on column compliance.reports.period_from is 'The period''s start (inclusive): the month''s first instant, UTC.';
comment on column compliance.reports.period_to is 'The period''s end (exclusive).';
comment on column compliance.reports.generated_at is 'When it was computed.';
comment on column compliance.reports.generated_by is 'Who asked for it (null for the worker''s monthly run); emptied when that person is erased.';
comment on column compliance.reports.complete is 'False when computed before the period ended.';
comment on column compliance.reports.content is 'The report: {period, gdpr, retention, soc2, hipaa, audit_chain, breaches}, each figure {value, population}.';
comment on column compliance.reports.content_sha256 is 'SHA-256 (hex) of the content''s text as stored.';
comment on sequence compliance.reports_id_seq is 'Numbers reports in order.';
create index reports_period on compliance.reports (kind, period_from, id);
comment on index compliance.reports_period is 'The newest report of a month.';
alter table compliance.reports enable row level security;
alter table compliance.reports force row level security;
grant select on compliance.reports to compliance_dpo, compliance_auditor;

insert into compliance.evidence_populations (name, controls, description, query) values
  ('evidence_packages', '{SOC 2 CC7.2}', 'An evidence package produced in the period, with its manifest''s hash.',
   'select p.id, p.generated_at, p.period_from, p.period_to, p.manifest_sha256 from compliance.evidence_packages p where p.generated_at >= $1 and p.generated_at < $2 order by p.id'),
  ('phi_unusual_access', '{HIPAA §164.308(a)(1)(ii)(D),HIPAA §164.312(b)}', 'An unusual-access finding of the daily PHI access review in the period (never whose).',
   'select a.id as audit_row_id, a.occurred_at, a.details ->> ''finding'' as finding, a.details ->> ''accesses'' as accesses, a.details ->> ''weekly_baseline'' as weekly_baseline from compliance.audit_logs a where a.action = ''phi.unusual_access'' and a.occurred_at >= $1 and a.occurred_at < $2 order by a.id'),
  ('worker_heartbeats', '{SOC 2 A1.2}', 'A minute in the period in which the worker was alive: uptime is these over the minutes counted.',
   'select h.beat_at from compliance_private.worker_heartbeats h where h.beat_at >= $1 and h.beat_at < $2 order by h.beat_at');

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
      'last_anchor', (select jsonb_build_object('seal_no', s.seal_no, 'seal_hash', encode(s.seal_hash, 'hex'), 'sealed_at', s.sealed_at, 'last_row_id', s.last_row_id)
                        from compliance.audit_seals s where s.sealed_at < period_to order by s.seal_no desc limit 1)),
    'breaches', jsonb_build_object('population', 'breaches', 'value', (select count(*) from breaches),
      'items', coalesce((select jsonb_agg(jsonb_build_object('id', b.id, 'discovered_at', b.discovered_at, 'status', b.status,
                 'affected_count', b.affected_count, 'notified_authority_at', b.notified_authority_at,
                 'notified_individuals_at', b.notified_individuals_at, 'closed_at', b.closed_at) order by b.id) from breaches b), '[]')));
$function$;

comment on function compliance_private.monthly_report_content(period_from timestamp with time zone, period_to timestamp with time zone) is
  'Computes the monthly report''s content for [period_from, period_to) from the data: GDPR (requests received, completed, overdue, median days to complete, erasures, consent grants and withdrawals per purpose and week), retention deletions per category, SOC 2 (check pass rates, uptime, access reviews, evidence packages), HIPAA (PHI accesses and refusals, integrity failures, unusual-access findings, emergency access and its reviews), the audit chain''s latest verification and last anchor, and breaches. Each figure names the evidence population it was counted from. No names.';

-- included from fixtures/reports/generate_monthly_report.sql
-- compliance.generate_monthly_report(month date): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.generate_monthly_report(month date DEFAULT ((date_trunc('month'::text, (now() AT TIME ZONE 'UTC'::text)) - '1 mon'::interval))::date)
 RETURNS compliance.reports
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
  return v_row;
end;
$function$;

comment on function compliance.generate_monthly_report(month date) is
  'Computes the report of the calendar month (UTC) holding month (the previous month by default), stores it in compliance.reports and writes its SHA-256 into the audit chain (report.generated). A month still running gives a report marked complete = false. The worker runs it on day 1 at 09:00 UTC; the DPO or an auditor on demand. Errors: BADRG (no month, or one not begun).';

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

-- included from fixtures/access/reports.owner_routines.sql
-- policy owner_routines on compliance.reports: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance.reports;
create policy owner_routines on compliance.reports as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance.reports is 'The report functions (SECURITY DEFINER, running as the owner) reach every row.';

-- included from fixtures/access/reports.readers.sql
-- policy readers on compliance.reports: its current definition (db/CONVENTIONS.md).

drop policy if exists readers on compliance.reports;
create policy readers on compliance.reports as permissive for select to compliance_dpo, compliance_auditor
  using (true);
comment on policy readers on compliance.reports is 'The DPO and auditors read every report; only compliance.generate_monthly_report writes.';

revoke all on function compliance_private.monthly_report_content(timestamptz, timestamptz) from public;
revoke all on function compliance.generate_monthly_report(date) from public;
grant execute on function compliance.generate_monthly_report(date) to compliance_dpo, compliance_auditor, compliance_worker;

select compliance_private.record_expected_grants();
