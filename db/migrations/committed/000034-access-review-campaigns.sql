--! Previous: sha1:5757c77f85e0c7eecb0442f5342bd4d3d6051a71
--! Hash: sha1:af0bceabe43193e49fb6a4b52ff9f55a32b5fa6b
--! Message: access-review-campaigns

-- Access review campaigns (issue #20, SOC 2 CC6.2/CC6.3): a weekly snapshot of who can reach the
-- data (database logins and their pgcomply roles, application actors who acted as dpo, approver
-- or staff in 90 days, access grants in force); a reviewer keeps or revokes each item, never
-- their own or one they granted; an unfinished campaign past its due date fails a daily check.

create table compliance.access_review_role_actions (
  role   text not null,
  action text not null,
  constraint access_review_role_actions_pkey primary key (action),
  constraint access_review_role_actions_role_known check (role in ('dpo', 'approver', 'staff'))
);
comment on table compliance.access_review_role_actions is
  'Audit actions only one application role performs: an actor with such a row in the last 90 days used that role, for the access review. The PHI and grant functions record the role in details.actor_role and need no row here. A DBA adds one with an INSERT.';
comment on column compliance.access_review_role_actions.role is 'The application role the action needs: dpo, approver or staff.';
comment on column compliance.access_review_role_actions.action is 'The audit action (compliance.audit_logs.action).';
insert into compliance.access_review_role_actions (role, action) values
  ('dpo', 'dsr.register_read'), ('dpo', 'subject.messages_read'), ('dpo', 'subject.consents_read'),
  ('dpo', 'consent.records_read'), ('dpo', 'breach.opened'), ('dpo', 'breach.updated'), ('dpo', 'breach.notified'),
  ('dpo', 'breach.closed'), ('dpo', 'retention.policy_changed'), ('dpo', 'access_review.decided');
alter table compliance.access_review_role_actions enable row level security;
alter table compliance.access_review_role_actions force row level security;
grant select on compliance.access_review_role_actions to compliance_dpo, compliance_auditor;

create table compliance.access_review_campaigns (
  id           bigint      generated always as identity,
  opened_at    timestamptz not null default now(),
  due_at       timestamptz not null,
  opened_by    text,
  completed_at timestamptz,
  constraint access_review_campaigns_pkey primary key (id),
  constraint access_review_campaigns_due_after_opening check (due_at > opened_at),
  constraint access_review_campaigns_completed_after_opening check (completed_at is null or completed_at >= opened_at)
);
comment on table compliance.access_review_campaigns is
  'Access review campaigns (SOC 2 CC6.2, CC6.3): each a snapshot of who could reach the data when it was opened (compliance.open_access_review), reviewed item by item.';
comment on column compliance.access_review_campaigns.id is 'The campaign.';
comment on column compliance.access_review_campaigns.opened_at is 'When the snapshot was taken.';
comment on column compliance.access_review_campaigns.due_at is 'When every item should be decided; unfinished after it, the access_review check fails.';
comment on column compliance.access_review_campaigns.opened_by is 'The actor who opened it (null for the worker''s weekly run); emptied when that person is erased.';
comment on column compliance.access_review_campaigns.completed_at is 'When its last item was decided.';
comment on sequence compliance.access_review_campaigns_id_seq is 'Numbers access review campaigns in order.';
alter table compliance.access_review_campaigns enable row level security;
alter table compliance.access_review_campaigns force row level security;
grant select on compliance.access_review_campaigns to compliance_dpo, compliance_auditor;

create table compliance.access_review_items (
  id           bigint      generated always as identity,
  campaign_id  bigint      not null,
  kind         text        not null,
  login_name   text,
  actor_id     text,
  grant_id     bigint,
  roles        text[]      not null default '{}',
  granted_by   text,
  last_used_at timestamptz,
  decision     text,
  note         text,
  decided_by   text,
  decided_at   timestamptz,
  constraint access_review_items_pkey primary key (id),
  constraint access_review_items_campaign_fkey foreign key (campaign_id) references compliance.access_review_campaigns (id),
  constraint access_review_items_grant_fkey foreign key (grant_id) references compliance.access_grants (id),
  constraint access_review_items_kind_known check (kind in ('database_login', 'application_actor', 'access_grant')),
  constraint access_review_items_kind_fields check (
    (kind = 'database_login' and login_name is not null and actor_id is null and grant_id is null)
    or (kind = 'application_actor' and login_name is null and grant_id is null)
    or (kind = 'access_grant' and login_name is null and grant_id is not null)),
  constraint access_review_items_decision_known check (decision is null or decision in ('keep', 'revoke')),
  constraint access_review_items_decision_complete check ((decision is null) = (decided_at is null) and (decision is null) = (note is null)),
  constraint access_review_items_not_by_granter check (decided_by is null or granted_by is null or decided_by <> granted_by),
  constraint access_review_items_not_by_holder check (decided_by is null or actor_id is null or decided_by <> actor_id)
);
comment on table compliance.access_review_items is
  'One item of an access review campaign: a database login with the pgcomply roles it can use, an application actor with the roles it used in the last 90 days, or an access grant in force; and the reviewer''s keep or revoke with a note. Written only by compliance.open_access_review and decide_access_review_item.';
comment on column compliance.access_review_items.id is 'The item.';
comment on column compliance.access_review_items.campaign_id is 'Its campaign.';
comment on column compliance.access_review_items.kind is 'database_login, application_actor or access_grant.';
comment on column compliance.access_review_items.login_name is 'For a database login: its role name.';
comment on column compliance.access_review_items.actor_id is 'For an application actor: the actor; for an access grant: its grantee. Emptied when that person is erased.';
comment on column compliance.access_review_items.grant_id is 'For an access grant: the grant.';
comment on column compliance.access_review_items.roles is 'The pgcomply roles the login can use, the application roles the actor used, or the grant''s scope.';
comment on column compliance.access_review_items.granted_by is 'Who granted it, where the log knows (an access grant''s approver, the grantee for break-glass): never its reviewer. Emptied when that person is erased.';
comment on column compliance.access_review_items.last_used_at is 'For an application actor: the last audit row in which it used one of its roles.';
comment on column compliance.access_review_items.decision is 'keep or revoke; null until decided.';
comment on column compliance.access_review_items.note is 'Why, in the reviewer''s words.';
comment on column compliance.access_review_items.decided_by is 'The reviewer. Emptied when that person is erased.';
comment on column compliance.access_review_items.decided_at is 'When it was decided.';
comment on sequence compliance.access_review_items_id_seq is 'Numbers access review items.';
create index access_review_items_campaign on compliance.access_review_items (campaign_id, kind, id);
comment on index compliance.access_review_items_campaign is 'A campaign''s worklist in order.';
create index access_review_items_grant on compliance.access_review_items (grant_id) where grant_id is not null;
comment on index compliance.access_review_items_grant is 'The reviews of a grant.';
alter table compliance.access_review_items enable row level security;
alter table compliance.access_review_items force row level security;
grant select on compliance.access_review_items to compliance_dpo;
-- the auditor sees what was reviewed and decided, not who
grant select (id, campaign_id, kind, login_name, grant_id, roles, last_used_at, decision, decided_at) on compliance.access_review_items to compliance_auditor;

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
  return v_campaign;
end;
$function$;

comment on function compliance.open_access_review(due_in interval) is
  'Opens an access review campaign (SOC 2 CC6.2, CC6.3): a snapshot, taken now, of every database login with the pgcomply roles it can use, every application actor who acted as dpo, approver or staff in the last 90 days (from the audit log: the action''s role in access_review_role_actions, or the actor_role the PHI and grant functions record), and every access grant in force. Due in due_in (7 days). The worker opens one every Monday at 09:00 UTC; a DPO on demand. Audited as access_review.opened with the counts. Errors: BADRG.';

-- included from fixtures/access-reviews/access_review_items_of.sql
-- compliance.access_review_items_of(campaign_id bigint): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.access_review_items_of(campaign_id bigint)
 RETURNS TABLE(id bigint, kind text, login_name text, actor_id text, grant_id bigint, roles text[], granted_by text, last_used_at timestamp with time zone, decision text, note text, decided_by text, decided_at timestamp with time zone, dba_action text)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select i.id, i.kind, i.login_name, i.actor_id, i.grant_id, i.roles, i.granted_by, i.last_used_at,
         i.decision, i.note, i.decided_by, i.decided_at,
         -- a role membership revoked in review is a DBA's statement to run
         case when i.kind = 'database_login' and i.decision = 'revoke'
              then (select string_agg(format('REVOKE %I FROM %I;', r, i.login_name), ' ' order by r) from unnest(i.roles) r) end
    from compliance.access_review_items i
   where i.campaign_id = access_review_items_of.campaign_id
   order by i.kind, i.id;
$function$;

comment on function compliance.access_review_items_of(campaign_id bigint) is
  'The DPO''s worklist for one access review campaign: every item with its roles, who granted it where known, its decision and note, and for a database login to revoke, the REVOKE statements a DBA runs (pgcomply does not change role memberships itself).';

-- included from fixtures/access-reviews/decide_access_review_item.sql
-- compliance.decide_access_review_item(item_id bigint, decision text, note text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.decide_access_review_item(item_id bigint, decision text, note text)
 RETURNS compliance.access_review_items
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

comment on function compliance.decide_access_review_item(item_id bigint, decision text, note text) is
  'The DPO records keep or revoke, with a note, for one item of an access review campaign. Revoking an access grant ends it at once (compliance.revoke_access_grant); revoking a database role membership is left to a DBA (the item''s dba_action says what to run). The reviewer may not be the one who granted the access, nor the one who holds it. The last decision completes the campaign. Audited as access_review.decided (and access_review.completed). Errors: BADRG, RVNOT, RVSTA (decided already), RVSLF (own or self-granted access), and the grant''s GRSTA.';

-- included from fixtures/access-reviews/access_review_campaign_status.sql
-- compliance.access_review_campaign_status: its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

create or replace view compliance.access_review_campaign_status with (security_barrier) as
select c.id, c.opened_at, c.due_at, c.completed_at,
       count(i.id) as items,
       count(i.id) filter (where i.decided_at is not null) as decided,
       count(i.id) filter (where i.decision = 'keep') as kept,
       count(i.id) filter (where i.decision = 'revoke') as revoked,
       c.completed_at is null and c.due_at < now() as overdue
  from compliance.access_review_campaigns c
  left join compliance.access_review_items i on i.campaign_id = c.id
 group by c.id;

comment on view compliance.access_review_campaign_status is 'Each access review campaign''s completion: items, how many are decided, kept and revoked, and whether it is past its due date unfinished.';
comment on column compliance.access_review_campaign_status.id is 'The campaign.';
comment on column compliance.access_review_campaign_status.opened_at is 'When its snapshot was taken.';
comment on column compliance.access_review_campaign_status.due_at is 'When every item should be decided.';
comment on column compliance.access_review_campaign_status.completed_at is 'When the last item was decided; null while any is open.';
comment on column compliance.access_review_campaign_status.items is 'Items in the snapshot.';
comment on column compliance.access_review_campaign_status.decided is 'Items decided.';
comment on column compliance.access_review_campaign_status.kept is 'Items kept.';
comment on column compliance.access_review_campaign_status.revoked is 'Items revoked.';
comment on column compliance.access_review_campaign_status.overdue is 'Unfinished and past its due date: the access_review check fails.';

-- included from fixtures/checks/check_access_review.sql
-- compliance_private.check_access_review(context jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.check_access_review(context jsonb)
 RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

comment on function compliance_private.check_access_review(context jsonb) is
  'Compliance check (SOC 2 CC6.2): no access review campaign is unfinished past its due date; not_applicable before the first campaign.';

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
                                'master_key_age', 'backup_age', 'worker_heartbeat', 'uptime', 'outside_the_database'] loop
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

-- included from fixtures/access/access_review_role_actions.owner_routines.sql
-- policy owner_routines on compliance.access_review_role_actions: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance.access_review_role_actions;
create policy owner_routines on compliance.access_review_role_actions as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance.access_review_role_actions is 'The access review functions (SECURITY DEFINER, running as the owner) reach every row.';

-- included from fixtures/access/access_review_role_actions.readers.sql
-- policy readers on compliance.access_review_role_actions: its current definition (db/CONVENTIONS.md).

drop policy if exists readers on compliance.access_review_role_actions;
create policy readers on compliance.access_review_role_actions as permissive for select to compliance_dpo, compliance_auditor
  using (true);
comment on policy readers on compliance.access_review_role_actions is 'The DPO and auditors read every row (the auditor only the columns granted to it); only the access review functions write.';

-- included from fixtures/access/access_review_campaigns.owner_routines.sql
-- policy owner_routines on compliance.access_review_campaigns: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance.access_review_campaigns;
create policy owner_routines on compliance.access_review_campaigns as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance.access_review_campaigns is 'The access review functions (SECURITY DEFINER, running as the owner) reach every row.';

-- included from fixtures/access/access_review_campaigns.readers.sql
-- policy readers on compliance.access_review_campaigns: its current definition (db/CONVENTIONS.md).

drop policy if exists readers on compliance.access_review_campaigns;
create policy readers on compliance.access_review_campaigns as permissive for select to compliance_dpo, compliance_auditor
  using (true);
comment on policy readers on compliance.access_review_campaigns is 'The DPO and auditors read every row (the auditor only the columns granted to it); only the access review functions write.';

-- included from fixtures/access/access_review_items.owner_routines.sql
-- policy owner_routines on compliance.access_review_items: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance.access_review_items;
create policy owner_routines on compliance.access_review_items as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance.access_review_items is 'The access review functions (SECURITY DEFINER, running as the owner) reach every row.';

-- included from fixtures/access/access_review_items.readers.sql
-- policy readers on compliance.access_review_items: its current definition (db/CONVENTIONS.md).

drop policy if exists readers on compliance.access_review_items;
create policy readers on compliance.access_review_items as permissive for select to compliance_dpo, compliance_auditor
  using (true);
comment on policy readers on compliance.access_review_items is 'The DPO and auditors read every row (the auditor only the columns granted to it); only the access review functions write.';

insert into compliance.evidence_populations (name, controls, description, query) values
  ('access_reviews', '{SOC 2 CC6.2,SOC 2 CC6.3}', 'An access review item of a campaign opened in the period, with its decision (never who).',
   'select c.id as campaign_id, c.opened_at, c.due_at, c.completed_at, i.id as item_id, i.kind, i.login_name, i.grant_id, i.roles, i.decision, i.decided_at from compliance.access_review_campaigns c join compliance.access_review_items i on i.campaign_id = c.id where c.opened_at >= $1 and c.opened_at < $2 order by c.id, i.id');

grant select on compliance.access_review_campaign_status to compliance_dpo, compliance_auditor;
revoke all on function compliance.open_access_review(interval), compliance.decide_access_review_item(bigint, text, text),
  compliance.access_review_items_of(bigint) from public;
grant execute on function compliance.open_access_review(interval) to compliance_dpo, compliance_worker;
grant execute on function compliance.decide_access_review_item(bigint, text, text), compliance.access_review_items_of(bigint) to compliance_dpo;

select compliance_private.record_expected_grants();
