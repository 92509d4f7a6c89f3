--! Previous: sha1:031764d7e64078f1a71a33ef0707d407534432bf
--! Hash: sha1:a3a4ba7e70d8df7db47c054698b1cb5362bf1438
--! Message: second-review

-- A second review's findings: alerts that reach someone (unusual PHI access at once, a report
-- ready, a review opened).

-- included from fixtures/health/review_phi_access.sql
-- compliance.review_phi_access(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.review_phi_access()
 RETURNS TABLE(finding text, actor_id text, accesses bigint, weekly_baseline numeric, audit_row_id bigint, alert_row_id bigint)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

comment on function compliance.review_phi_access() is
  'The daily review of PHI access (worker job phi_unusual_access): writes a phi.unusual_access audit row about the actor for each finding of compliance.phi_unusual_access not alerted yet (single accesses once; counts once a day while over) and returns them for the alert. Reads single accesses only up to the newest seal, so a late-committing row is reviewed next time, never skipped. Each finding is also raised at once as a phi.unusual_access alert in the outbox.';

-- included from fixtures/access-reviews/open_access_review.sql
-- compliance.open_access_review(due_in interval): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.open_access_review(due_in interval DEFAULT '7 days'::interval)
 RETURNS compliance.access_review_campaigns
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

comment on function compliance.open_access_review(due_in interval) is
  'Opens an access review campaign (SOC 2 CC6.2, CC6.3): a snapshot, taken now, of every database login with the pgcomply roles it can use, every application actor who acted as dpo, approver or staff in the last 90 days (from the audit log: the action''s role in access_review_role_actions, or the actor_role the PHI and grant functions record), and every access grant in force. Due in due_in (7 days). The worker opens one every Monday at 09:00 UTC; a DPO on demand. Audited as access_review.opened with the counts. Errors: BADRG. Raises an access_review.opened alert for the reviewers.';

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
  -- the DPO and the auditors learn that it is there to read
  perform compliance_private.raise_alert('report.ready',
    jsonb_build_object('report_id', v_row.id, 'kind', v_row.kind, 'period_from', v_row.period_from, 'period_to', v_row.period_to,
      'complete', v_row.complete, 'content_sha256', v_row.content_sha256));
  return v_row;
end;
$function$;

comment on function compliance.generate_monthly_report(month date) is
  'Computes the report of the calendar month (UTC) holding month (the previous month by default), stores it in compliance.reports and writes its SHA-256 into the audit chain (report.generated). A month still running gives a report marked complete = false. The worker runs it on day 1 at 09:00 UTC; the DPO or an auditor on demand. Errors: BADRG (no month, or one not begun). Raises a report.ready alert.';

-- HHS hears of every breach: with the individuals at 500 or more, in the yearly log otherwise.
drop function compliance.breach_deadlines(timestamptz);
-- included from fixtures/breaches/breach_deadlines.sql
-- compliance.breach_deadlines(at timestamp with time zone): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.breach_deadlines(at timestamp with time zone DEFAULT now())
 RETURNS TABLE(breach_id bigint, status text, discovered_at timestamp with time zone, affected_count integer, authority_due_at timestamp with time zone, authority text, authority_hours_left numeric, individuals_due_at timestamp with time zone, individuals text, individuals_hours_left numeric, hhs_and_media_required boolean, hhs text, media text, hhs_due_at timestamp with time zone)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
         case when d.notified_authority_at is not null then 'notified' when d.authority_due <= at then 'overdue'
              when d.authority_due <= at + interval '24 hours' then 'due_within_24h' else 'pending' end,
         round(extract(epoch from d.authority_due - at) / 3600, 1),
         d.individuals_due,
         case when d.notified_individuals_at is not null then 'notified' when d.individuals_due <= at then 'overdue'
              when d.individuals_due <= at + interval '24 hours' then 'due_within_24h' else 'pending' end,
         round(extract(epoch from d.individuals_due - at) / 3600, 1),
         d.affected_count >= 500,
         case when d.notified_hhs_at is not null then 'notified' when d.hhs_due <= at then 'overdue'
              when d.hhs_due <= at + interval '24 hours' then 'due_within_24h' else 'pending' end,
         case when d.affected_count < 500 then 'not_required' when d.notified_media_at is not null then 'notified'
              when d.individuals_due <= at then 'overdue' else 'pending' end,
         d.hhs_due
    from d
   order by least(case when d.notified_authority_at is null then d.authority_due end,
                  case when d.notified_individuals_at is null then d.individuals_due end) nulls last, d.id;
$function$;

comment on function compliance.breach_deadlines(at timestamp with time zone) is
  'Every breach with its deadlines as at the instant given (now by default): the supervisory authority 72 hours after discovery (GDPR Art. 33), individuals 60 days after (HIPAA §164.404; GDPR Art. 34 "without undue delay"), HHS and the media within the same 60 days when 500 or more are affected (HIPAA §164.406-408(b)), HHS alone in the yearly log when fewer are, within 60 days after the end of the calendar year of discovery (§164.408(c), hhs_due_at); each notified, overdue, due_within_24h or pending, with the hours left. Most urgent first.';

revoke all on function compliance.breach_deadlines(timestamptz) from public;
grant execute on function compliance.breach_deadlines(timestamptz) to compliance_dpo, compliance_auditor;
-- included from fixtures/checks/check_breach_deadlines.sql
-- compliance_private.check_breach_deadlines(context jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.check_breach_deadlines(context jsonb)
 RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

comment on function compliance_private.check_breach_deadlines(context jsonb) is
  'Compliance check: no breach notification (authority, individuals, HHS, media) is overdue or due within 24 hours without having been made.';

-- Whose backup is it? A database's identity, made once and carried by every dump of it, so that
-- pgcomply backup verify can refuse an archive of another pgcomply database.
create table compliance_private.database_identity (
  singleton boolean not null default true,
  database_id uuid not null default gen_random_uuid(),
  system_identifier bigint not null,
  database_name text not null,
  created_at timestamptz not null default now(),
  constraint database_identity_pkey primary key (singleton),
  constraint database_identity_one_row check (singleton)
);
comment on table compliance_private.database_identity is
  'This pgcomply database''s identity, made once by migration 000042: a dump carries it, a restore keeps it, so pgcomply backup verify can tell an archive of this database from one of another. Owner only.';
comment on column compliance_private.database_identity.singleton is 'Always true: one row.';
comment on column compliance_private.database_identity.database_id is 'A random id, the same in every backup and restore of this database.';
comment on column compliance_private.database_identity.system_identifier is 'The PostgreSQL cluster''s system identifier (pg_control_system()) where the database was when the identity was made.';
comment on column compliance_private.database_identity.database_name is 'The database''s name when the identity was made.';
comment on column compliance_private.database_identity.created_at is 'When the identity was made.';
alter table compliance_private.database_identity enable row level security;
alter table compliance_private.database_identity force row level security;
-- included from fixtures/access/database_identity.owner_routines.sql
-- policy owner_routines on compliance_private.database_identity: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance_private.database_identity;
create policy owner_routines on compliance_private.database_identity as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance_private.database_identity is 'Written once by migration 000042 (the owner); pgcomply backup verify reads it as the superuser. No application role reads it.';

insert into compliance_private.database_identity (system_identifier, database_name)
select s.system_identifier, current_database() from pg_control_system() s;

-- No oracles: the workforce cannot tell an erased patient from one who never existed, and the app
-- role cannot learn that another subject holds a conversation or session id.
-- included from fixtures/workforce/check_grant_request.sql
-- compliance_private.check_grant_request(patient text, scope text, purpose text, reason text, kind text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.check_grant_request(patient text, scope text, purpose text, reason text, kind text)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

comment on function compliance_private.check_grant_request(patient text, scope text, purpose text, reason text, kind text) is
  'The checks every new grant passes: a known scope and a purpose that fits the kind (BADRG), a reason (GRRSN: at least 20 characters for an emergency), a patient who exists (UNKSJ, also for an erased patient, whom the workforce must not tell from one who never existed), held against erasure until the transaction ends.';

-- included from fixtures/health/phi_access.sql
-- compliance.phi_access(patient text, purpose text, intent text, record_id uuid): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.phi_access(patient text, purpose text, intent text, record_id uuid DEFAULT NULL::uuid)
 RETURNS TABLE(allowed boolean, reason text, key_version integer, wrapped_key bytea, kek_version integer, category text, recorded_at timestamp with time zone)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_reason text := compliance_private.phi_check(patient, purpose, intent, record_id);
begin
  if v_reason is not null then
    -- the workforce learns nothing of who exists: an unknown (or erased) patient reads as a
    -- patient they hold no grant for; the phi.denied row keeps the real reason for the DPO
    if v_reason = 'unknown_patient' and compliance_private.phi_caller_role() in ('staff', 'approver') then
      v_reason := 'no_active_grant';
    end if;
    return query select false, v_reason, null::integer, null::bytea, null::integer, null::text, null::timestamptz;
    return;
  end if;
  return query
    select true, null::text, k.key_version, k.wrapped_key, k.kek_version, h.category,
           coalesce(h.recorded_at, date_trunc('milliseconds', now()))
      from (select) one
      left join lateral (select k.key_version, k.wrapped_key, k.kek_version from compliance_private.subject_keys k
                          where k.user_id = phi_access.patient order by k.key_version desc limit 1) k on true
      left join compliance.health_records h on h.id = phi_access.record_id;
end;
$function$;

comment on function compliance.phi_access(patient text, purpose text, intent text, record_id uuid) is
  'Asks whether the caller may read, create, update or delete (intent) the patient''s health records for a purpose of use (treatment, payment, operations, emergency, patient_request). One row: allowed and, when it is, the patient''s newest wrapped data key (NULL before the first record; the server makes one), the record''s category and recorded_at for an update (else the database''s time, to the millisecond). A refusal returns allowed = false with the reason (to staff, an unknown or erased patient reads as no_active_grant; the audit row keeps unknown_patient) and writes a phi.denied audit row, without raising: commit, and the refusal stays on record. The server calls it before a write whose patient key it does not hold, and after a read that returned nothing, to learn why.';

-- included from fixtures/subject-rights/tg__refuse_foreign_key_value.sql
-- compliance_private.tg__refuse_foreign_key_value(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.tg__refuse_foreign_key_value()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

comment on function compliance_private.tg__refuse_foreign_key_value() is
  'BEFORE INSERT on tables whose key the app role may choose (conversations, sessions): a key another subject already holds is refused with 42501, as a row for another subject is, never with the 23505 that would tell the app role it exists. TG_ARGV[0]: the key column.';

revoke all on function compliance_private.tg__refuse_foreign_key_value() from public;
create trigger _005_refuse_foreign_key_value before insert on compliance.conversations
  for each row execute function compliance_private.tg__refuse_foreign_key_value('conversation_id');
create trigger _005_refuse_foreign_key_value before insert on compliance.sessions
  for each row execute function compliance_private.tg__refuse_foreign_key_value('id');

-- Anchors nobody signed are not anchors: record_anchor keeps the signature, what was signed and
-- the key's fingerprint, and takes only the configured key's; verify --anchors and doctor check
-- the signatures (PostgreSQL has no Ed25519).
alter table compliance.compliance_check_settings add column anchor_key_fingerprint text;
alter table compliance.compliance_check_settings add constraint compliance_check_settings_anchor_key_fingerprint_hex
  check (anchor_key_fingerprint is null or anchor_key_fingerprint ~ '^[0-9a-f]{64}$');
comment on column compliance.compliance_check_settings.anchor_key_fingerprint is 'The anchor key (SHA-256 of its public key): record_anchor takes only anchors it signed, the anchors check counts only those. Set by the worker (compliance.set_anchor_key).';
drop function compliance.record_anchor(bigint, text, text, integer, text);
-- included from fixtures/anchors/record_anchor.sql
-- compliance.record_anchor(seal_no bigint, seal_hash text, key_fingerprint text, signature text, signed jsonb, destination text): its current definition.
-- Change it here and include this file in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.record_anchor(seal_no bigint, seal_hash text, key_fingerprint text, signature text, signed jsonb, destination text)
 RETURNS bigint
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

comment on function compliance.record_anchor(seal_no bigint, seal_hash text, key_fingerprint text, signature text, signed jsonb, destination text) is
  'Records in the audit chain that an anchor of this seal was written outside the database (pgcomply anchor, the worker at start and hourly): the seal must be in the chain with that hash; the anchor carries what was signed, the Ed25519 signature and the signing key''s fingerprint (SHA-256 of its SubjectPublicKeyInfo), which must be the configured anchor key once one is set (compliance.set_anchor_key). PostgreSQL cannot check an Ed25519 signature: pgcomply verify --anchors and pgcomply doctor check each recorded anchor''s signature against the public key. Audited as audit.anchored, with whether the worker''s login recorded it. Errors: BADRG.';

revoke all on function compliance.record_anchor(bigint, text, text, text, jsonb, text) from public;
grant execute on function compliance.record_anchor(bigint, text, text, text, jsonb, text) to compliance_worker, compliance_dpo, compliance_auditor;
-- included from fixtures/anchors/set_anchor_key.sql
-- compliance.set_anchor_key(key_fingerprint text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.set_anchor_key(key_fingerprint text)
 RETURNS void
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

comment on function compliance.set_anchor_key(key_fingerprint text) is
  'Sets the anchor key: from then on compliance.record_anchor takes only anchors signed with the key of this fingerprint, and the anchors check counts only those. The worker calls it with ANCHOR_SIGNING_KEY''s public key before it records an anchor; a change is audited (audit.anchor_key_set). Errors: BADRG.';

revoke all on function compliance.set_anchor_key(text) from public;
grant execute on function compliance.set_anchor_key(text) to compliance_worker;
-- included from fixtures/checks/check_anchors.sql
-- compliance_private.check_anchors(context jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.check_anchors(context jsonb)
 RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

comment on function compliance_private.check_anchors(context jsonb) is
  'Compliance check: an anchor (the newest seal, signed and written outside the database, recorded as audit.anchored) was written less than anchor_max_age ago (twice the worker''s hourly interval). Only anchors signed with the configured anchor key (compliance.set_anchor_key) and recorded by a login of the worker count, since a DPO or auditor session can record an anchor nobody signed; their Ed25519 signatures are checked by pgcomply verify --anchors and pgcomply doctor, since PostgreSQL cannot. Fails when the newest is older, or when none was ever written for a chain older than that; not_applicable only while the chain is younger.';

-- The review of a break-glass access outlives the patient: erasure keeps an emergency grant not
-- reviewed yet, without the patient.
alter table compliance.access_grants alter column user_id drop not null;
alter table compliance.access_grants add constraint access_grants_patient_known_or_erased_emergency
  check (user_id is not null or kind = 'emergency');
comment on column compliance.access_grants.user_id is 'The patient. NULL only on an emergency grant whose patient was erased before its review: the review stays due, without the patient.';
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
$function$;

comment on function compliance_private.erase_subject_core(user_id text, reason text, confirm boolean, requested_by text) is
  'The erasure transaction; see compliance.erase_subject.';

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
  'DPO: erases a subject (GDPR Art. 17) in one transaction or not at all: locks the subject, deletes every personal row (profile, preferences, consents, conversations, messages, sessions, released holds), strips identity from its requests and from the legal holds it placed or released, keeps an emergency access not reviewed yet without the patient (the review outlives the data), removes its part of the audit rows about it and the actor''s part where it acted (listing those rows in the subject.erased row, which carries counts and no identity), and leaves a tombstone so later writes for the id fail (ERASD). Returns a receipt with counts per table. Errors: CONFM without confirm => true, LHOLD under legal hold, UNKSJ unknown subject, ERASD already erased, BADRG without a reason.';

-- Proof of consent outlives erasure (GDPR Art. 7(1), 17(3)(e)): pseudonymised under the
-- tombstone's digest, for the consent records' retention period, unless the DPO turns it off.
create table compliance.erasure_settings (
  singleton boolean not null default true,
  keep_consent_proof boolean not null default true,
  constraint erasure_settings_pkey primary key (singleton),
  constraint erasure_settings_one_row check (singleton)
);
comment on table compliance.erasure_settings is 'One row: what erasure keeps. The DPO changes it with compliance.keep_consent_proof_after_erasure.';
comment on column compliance.erasure_settings.singleton is 'Always true: one row.';
comment on column compliance.erasure_settings.keep_consent_proof is 'Whether erasure keeps the person''s consent records as pseudonymised proof (erased_consent_proofs); true by default.';
alter table compliance.erasure_settings enable row level security;
alter table compliance.erasure_settings force row level security;
-- included from fixtures/access/erasure_settings.owner_routines.sql
-- policy owner_routines on compliance.erasure_settings: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance.erasure_settings;
create policy owner_routines on compliance.erasure_settings as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance.erasure_settings is 'Erasure reads it and compliance.keep_consent_proof_after_erasure writes it (SECURITY DEFINER, running as the owner).';

-- included from fixtures/access/erasure_settings.readers.sql
-- policy readers on compliance.erasure_settings: its current definition (db/CONVENTIONS.md).

drop policy if exists readers on compliance.erasure_settings;
create policy readers on compliance.erasure_settings as permissive for select to compliance_dpo, compliance_auditor
  using (true);
comment on policy readers on compliance.erasure_settings is 'The DPO and auditors see what erasure keeps.';

insert into compliance.erasure_settings default values;
grant select on compliance.erasure_settings to compliance_dpo, compliance_auditor;

create table compliance.erased_consent_proofs (
  id bigint generated always as identity,
  subject_digest bytea not null,
  purpose text not null,
  granted boolean not null,
  policy_version text not null,
  source text not null,
  recorded_at timestamptz not null,
  given_at timestamptz,
  erased_at timestamptz not null default now(),
  constraint erased_consent_proofs_pkey primary key (id)
);
create index erased_consent_proofs_subject_digest_idx on compliance.erased_consent_proofs (subject_digest);
create index erased_consent_proofs_recorded_at_idx on compliance.erased_consent_proofs (recorded_at);
comment on table compliance.erased_consent_proofs is 'Consent records of erased people, kept as proof of consent (GDPR Art. 7(1)) for the defence of legal claims (Art. 17(3)(e)): no id, no IP address, no user agent; the person is found again only through the tombstone pepper (compliance.erased_consent_proof). Deleted with the consent records'' retention; not kept when the DPO turned it off.';
comment on column compliance.erased_consent_proofs.id is 'Row id.';
comment on column compliance.erased_consent_proofs.subject_digest is 'The erased person''s peppered digest, as their tombstone holds it.';
comment on column compliance.erased_consent_proofs.purpose is 'The purpose consented to or withdrawn.';
comment on column compliance.erased_consent_proofs.granted is 'Granted (true) or withdrawn (false).';
comment on column compliance.erased_consent_proofs.policy_version is 'The privacy notice version it was given under.';
comment on column compliance.erased_consent_proofs.source is 'api, import or dba.';
comment on column compliance.erased_consent_proofs.recorded_at is 'When pgcomply recorded the consent; retention counts from here.';
comment on column compliance.erased_consent_proofs.given_at is 'When the person gave it, as imported evidence said (NULL: recorded_at).';
comment on column compliance.erased_consent_proofs.erased_at is 'When the person was erased.';
comment on sequence compliance.erased_consent_proofs_id_seq is 'Ids of erased_consent_proofs.';
alter table compliance.erased_consent_proofs enable row level security;
alter table compliance.erased_consent_proofs force row level security;
-- included from fixtures/access/erased_consent_proofs.owner_routines.sql
-- policy owner_routines on compliance.erased_consent_proofs: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance.erased_consent_proofs;
create policy owner_routines on compliance.erased_consent_proofs as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance.erased_consent_proofs is 'Erasure writes the proofs, retention deletes them (SECURITY DEFINER, running as the owner).';

-- included from fixtures/access/erased_consent_proofs.readers.sql
-- policy readers on compliance.erased_consent_proofs: its current definition (db/CONVENTIONS.md).

drop policy if exists readers on compliance.erased_consent_proofs;
create policy readers on compliance.erased_consent_proofs as permissive for select to compliance_dpo, compliance_auditor
  using (true);
comment on policy readers on compliance.erased_consent_proofs is 'The DPO and auditors read the proofs: they name no one.';

grant select on compliance.erased_consent_proofs to compliance_dpo, compliance_auditor;
-- included from fixtures/consent/erased_consent_proof.sql
-- compliance.erased_consent_proof(user_id text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.erased_consent_proof(user_id text)
 RETURNS SETOF compliance.erased_consent_proofs
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  -- the lookup itself is a processing of the erased person's pseudonym: on record
  perform compliance_private.append_audit('consent.erased_proof_read', 'gdpr', 'erased_consent_proofs', null,
    jsonb_build_object('procedure', 'erased_consent_proof'));
  return query select p.* from compliance.erased_consent_proofs p
                where p.subject_digest = compliance_private.subject_digest(erased_consent_proof.user_id)
                order by p.recorded_at, p.id;
end;
$function$;

comment on function compliance.erased_consent_proof(user_id text) is
  'DPO: the consent records an erasure kept as proof (GDPR Art. 7(1), 17(3)(e)) for a person who now claims, found by the id they give (through the tombstone pepper); the proofs themselves hold no id. Audited as consent.erased_proof_read. Errors: PEPPR without the pepper.';

revoke all on function compliance.erased_consent_proof(text) from public;
grant execute on function compliance.erased_consent_proof(text) to compliance_dpo;
-- included from fixtures/consent/keep_consent_proof_after_erasure.sql
-- compliance.keep_consent_proof_after_erasure(keep boolean): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.keep_consent_proof_after_erasure(keep boolean)
 RETURNS void
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  if keep is null then
    perform compliance_private.raise_error('BADRG', 'say true or false');
  end if;
  update compliance.erasure_settings s set keep_consent_proof = keep_consent_proof_after_erasure.keep;
  perform compliance_private.append_audit('consent.proof_after_erasure_set', 'gdpr', 'erasure_settings', null,
    jsonb_build_object('keep_consent_proof', keep));
end;
$function$;

comment on function compliance.keep_consent_proof_after_erasure(keep boolean) is
  'DPO: whether erasure keeps the erased person''s consent records as pseudonymised proof (erased_consent_proofs, for the consent records'' retention period); true by default. Turning it off affects later erasures only; proofs already kept expire with retention. Audited. Errors: BADRG.';

revoke all on function compliance.keep_consent_proof_after_erasure(boolean) from public;
grant execute on function compliance.keep_consent_proof_after_erasure(boolean) to compliance_dpo;
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
  v_proofs bigint := 0;
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
  'Applies one category''s retention policy as of compliance_private.retention_now() (the database clock; only the owner can move it, for tests): deletes at most batch_size due rows, each checked again as it is deleted (conversations take their messages; consent records take the expired proofs erasure kept, erased_consent_proofs), or drops the expired audit partitions and removes the seals of their rows; subjects under legal hold are skipped, and an audit month holding a held subject''s rows is kept. dry_run deletes nothing and reports how many rows are due in total. Each call writes one retention.applied audit row with the counts. Returns {category, dry_run, cutoff, deleted, ...}; call again while deleted = batch_size. Errors: RETCT unknown category, BADRG.';

-- The chain shows which routine wrote each record verification trusts (details.written_by, from
-- the call stack), and verification trusts a drop or erasure record written since migration
-- 000041 only from the routine that does that work.
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
  'Writes one audit row for the routines and log_event: checks the row rules (action dotted lower case, a known category and outcome, a failure_reason only with a failure, details a JSON object: BADRG otherwise), adds to a reserved action''s details the routine that called it (written_by, from the call stack: verification trusts a drop or erasure record only from its own routine), fills the actor, client IP and user agent (unless include_client is false) from the request context, salts and digests the personal part. The row triggers write the same columns inline, because a nested call costs every personal write.';

-- included from fixtures/audit/written_by_its_routine.sql
-- compliance_private.written_by_its_routine(action text, details jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.written_by_its_routine(action text, details jsonb)
 RETURNS boolean
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
RETURN ((details ->> 'written_by'::text) = CASE action WHEN 'audit.partition_dropped'::text THEN 'compliance_private.drop_expired_audit_partitions'::text WHEN 'subject.erased'::text THEN 'compliance_private.erase_subject_core'::text ELSE NULL::text END);

comment on function compliance_private.written_by_its_routine(action text, details jsonb) is
  'Whether an accounting record (audit.partition_dropped, subject.erased) says it was written by the one routine that does that work (details.written_by, which append_audit takes from the call stack). Verification trusts records written after migration 000041 only then.';

revoke all on function compliance_private.written_by_its_routine(text, jsonb) from public;
-- included from fixtures/audit/verify_audit_log.sql
-- compliance.verify_audit_log(from_seal bigint, from_hash bytea, OUT ok boolean, OUT seals_checked bigint, OUT rows_checked bigint, OUT unsealed_rows bigint, OUT problems jsonb, OUT incremental boolean, OUT last_seal_no bigint, OUT last_seal_hash bytea, OUT notes jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.verify_audit_log(from_seal bigint DEFAULT NULL::bigint, from_hash bytea DEFAULT NULL::bytea, OUT ok boolean, OUT seals_checked bigint, OUT rows_checked bigint, OUT unsealed_rows bigint, OUT problems jsonb, OUT incremental boolean, OUT last_seal_no bigint, OUT last_seal_hash bytea, OUT notes jsonb)
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
$function$;

comment on function compliance.verify_audit_log(from_seal bigint, from_hash bytea, OUT ok boolean, OUT seals_checked bigint, OUT rows_checked bigint, OUT unsealed_rows bigint, OUT problems jsonb, OUT incremental boolean, OUT last_seal_no bigint, OUT last_seal_hash bytea, OUT notes jsonb) is
  'Recomputes the whole seal chain, every row hash and every personal digest, from the chain''s own records only; or, given a checkpoint (from_seal and the from_hash it had when verified), only the seals after it and the rows they and the unsealed tail hold, so the cost follows the rows added since (redactions of older rows and layout-1 rows are then left to a full run). Returns ok, how many seals and rows it checked, how many rows are not sealed yet (their personal parts are checked, their presence is not proven), and problems: a JSON array of {kind, seal_no, row_id, detail}. kind: deleted_row, forged_row, altered_row, reordered_row, digest_mismatch, redacted_not_empty, unaccounted_redaction, unredacted_row, altered_seal, broken_chain, missing_seal, unaccounted_gap; whether it ran incrementally; the last seal it verified with its hash, the next checkpoint; and notes, which do not fail it: pending_redaction (an erasure not sealed yet redacted the row) and unsealed_id_range (ids the sealer skipped before migration 000041, listed by the record that migration wrote; a row found there is forged_row). db/AUDIT_HASHING.md says what it proves and what it cannot see.';

select compliance_private.record_expected_grants();
