--! Previous: sha1:67e928310cb31e7fe59d05659c18b466c41d7a41
--! Hash: sha1:2b871dfe9abc68bee54d65a6dfd5b8e4e14b742d
--! Message: The unusual-access review keeps a horizon per audit chain and reads its recent findings once, so it runs on a Citus cluster; the findings about one access name their chain

-- The review moved one horizon through the chain '' and looked for each count finding's recent
-- alert with a correlated sub-select, which Citus does not plan. One horizon per chain now, and
-- the alerts of the last 20 hours read once.
create table compliance_private.phi_access_review_horizons (
  placement text not null,
  reviewed_through bigint not null default 0,
  reviewed_at timestamptz,
  constraint phi_access_review_horizons_pkey primary key (placement)
);
comment on table compliance_private.phi_access_review_horizons is
  'How far compliance.review_phi_access has reviewed single PHI accesses, per audit chain ('''' on a single node, one per shard on a Citus cluster): the id of the last row it reviewed there, always a sealed one. Not personal data.';
comment on column compliance_private.phi_access_review_horizons.placement is 'The chain (compliance.audit_chains).';
comment on column compliance_private.phi_access_review_horizons.reviewed_through is 'The last audit row id of the chain that has been reviewed.';
comment on column compliance_private.phi_access_review_horizons.reviewed_at is 'When the review last moved it.';
alter table compliance_private.phi_access_review_horizons enable row level security;
alter table compliance_private.phi_access_review_horizons force row level security;
-- included from fixtures/health/phi_access_review_horizons.owner_routines.sql
-- policy owner_routines on compliance_private.phi_access_review_horizons: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance_private.phi_access_review_horizons;
create policy owner_routines on compliance_private.phi_access_review_horizons as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance_private.phi_access_review_horizons is 'Only review_phi_access reads and moves the horizons. No application role reaches the table.';

-- row by row: on a Citus cluster an INSERT … SELECT from a table of Citus's is a COPY, which
-- row-level security refuses
do $$
declare
  v_progress record;
begin
  for v_progress in select p.* from compliance_private.phi_access_review_progress p loop
    insert into compliance_private.phi_access_review_horizons (placement, reviewed_through, reviewed_at)
    values ('', v_progress.reviewed_through, v_progress.reviewed_at);
  end loop;
end;
$$;
drop table compliance_private.phi_access_review_progress;

-- included from fixtures/health/phi_unusual_access.sql
-- view compliance.phi_unusual_access: its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE VIEW compliance.phi_unusual_access AS
 WITH settings AS (
         SELECT s.weekly_threshold, s.baseline_factor, s.day_starts, s.day_ends, s.time_zone
           FROM compliance.phi_access_review_settings s
        ), access AS (
         SELECT a.id, a.occurred_at, a.user_id, a.actor_id, a.action, a.outcome,
            (a.details ->> 'actor_role'::text) AS actor_role, a.placement
           FROM compliance.audit_logs a
          WHERE ((a.occurred_at >= (now() - '37 days'::interval))
            AND (a.action = ANY (ARRAY['phi.read'::text, 'phi.created'::text, 'phi.updated'::text, 'phi.deleted'::text, 'phi.denied'::text, 'phi.integrity_failure'::text])))
        ), workforce AS (
         SELECT access.id, access.occurred_at, access.user_id, access.actor_id, access.placement
           FROM access
          WHERE ((access.actor_role IS DISTINCT FROM 'patient'::text) AND (access.outcome = 'success'::text)
            AND (access.action <> 'phi.integrity_failure'::text))
        ), counts AS (
         SELECT workforce.actor_id,
            count(*) FILTER (WHERE (workforce.occurred_at >= (now() - '7 days'::interval))) AS last_week,
            count(*) FILTER (WHERE (workforce.occurred_at < (now() - '7 days'::interval))) AS baseline_month
           FROM workforce
          GROUP BY workforce.actor_id
        )
 SELECT 'over_threshold'::text AS finding, c.actor_id, NULL::text AS patient, c.last_week AS accesses,
    round((((c.baseline_month)::numeric * 7.0) / 30.0), 1) AS weekly_baseline, NULL::bigint AS audit_row_id,
    NULL::timestamp with time zone AS occurred_at, NULL::text AS chain
   FROM counts c, settings s
  WHERE (c.last_week > s.weekly_threshold)
UNION ALL
 SELECT 'over_baseline'::text AS finding, c.actor_id, NULL::text AS patient, c.last_week AS accesses,
    round((((c.baseline_month)::numeric * 7.0) / 30.0), 1) AS weekly_baseline, NULL::bigint AS audit_row_id,
    NULL::timestamp with time zone AS occurred_at, NULL::text AS chain
   FROM counts c, settings s
  WHERE ((c.baseline_month > 0) AND ((c.last_week)::numeric > (((s.baseline_factor * (c.baseline_month)::numeric) * 7.0) / 30.0)))
UNION ALL
 SELECT 'outside_hours'::text AS finding, w.actor_id, w.user_id AS patient, 1::bigint AS accesses,
    NULL::numeric AS weekly_baseline, w.id AS audit_row_id, w.occurred_at, w.placement AS chain
   FROM workforce w, settings s
  WHERE ((w.occurred_at >= (now() - '7 days'::interval))
    AND ((((w.occurred_at AT TIME ZONE s.time_zone))::time without time zone < s.day_starts)
      OR (((w.occurred_at AT TIME ZONE s.time_zone))::time without time zone >= s.day_ends)))
UNION ALL
 SELECT (CASE WHEN (a.action = 'phi.denied'::text) THEN 'refused'::text ELSE 'integrity_failure'::text END) AS finding,
    a.actor_id, a.user_id AS patient, 1::bigint AS accesses, NULL::numeric AS weekly_baseline, a.id AS audit_row_id, a.occurred_at,
    a.placement AS chain
   FROM access a
  WHERE ((a.occurred_at >= (now() - '7 days'::interval)) AND (a.action = ANY (ARRAY['phi.denied'::text, 'phi.integrity_failure'::text])));

comment on view compliance.phi_unusual_access is
  'PHI access worth a second look, over the last 7 days (HIPAA §164.308(a)(1)(ii)(D) information system activity review): each workforce actor (anyone but the patient themself) with more successful accesses than weekly_threshold (over_threshold) or more than baseline_factor times their own baseline from the 30 days before (over_baseline), each workforce access outside day_starts..day_ends (outside_hours), every refused attempt (refused) and every record that failed its integrity check (integrity_failure). Settings: compliance.phi_access_review_settings. review_phi_access alerts on them daily.';
comment on column compliance.phi_unusual_access.finding is 'over_threshold, over_baseline, outside_hours, refused or integrity_failure.';
comment on column compliance.phi_unusual_access.actor_id is 'Who accessed (NULL once erased).';
comment on column compliance.phi_unusual_access.patient is 'Whose records, for a finding about one access; NULL for the counts.';
comment on column compliance.phi_unusual_access.accesses is 'Successful accesses by the actor in the last 7 days, or 1 for a finding about one access.';
comment on column compliance.phi_unusual_access.weekly_baseline is 'The actor''s accesses in the 30 days before the last 7, scaled to a week.';
comment on column compliance.phi_unusual_access.audit_row_id is 'The audit row of the one access the finding is about; NULL for the counts.';
comment on column compliance.phi_unusual_access.occurred_at is 'When that access happened; NULL for the counts.';
comment on column compliance.phi_unusual_access.chain is 'The audit chain that row is in ('''' on a single node, a shard''s placement key on a Citus cluster); NULL for the counts.';

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
  v_chain text;
  v_through bigint;
  v_sealed bigint;
  -- each chain's [reviewed through, sealed through]
  v_horizons jsonb := '{}';
  v_recent jsonb;
  v_found record;
begin
  -- one review at a time
  lock table compliance_private.phi_access_review_horizons in exclusive mode;
  -- single rows only up to each chain's sealed end (one chain on a single node, one per shard on a
  -- Citus cluster): every row below it has committed or never will, so moving past it skips none
  -- (db/AUDIT_HASHING.md)
  for v_chain in select c.placement from compliance.audit_chains() c(placement) loop
    v_sealed := null;
    v_through := null;
    select s.last_row_id into v_sealed from compliance.audit_seals s
     where s.placement = v_chain and s.layout = 2 order by s.seal_no desc limit 1;
    select h.reviewed_through into v_through from compliance_private.phi_access_review_horizons h where h.placement = v_chain;
    v_horizons := v_horizons || jsonb_build_object(v_chain, jsonb_build_array(coalesce(v_through, 0), coalesce(v_sealed, 0)));
  end loop;
  -- the counts once a day per actor and kind while they stay over: those raised in the last 20
  -- hours, read once
  select coalesce(jsonb_agg(distinct jsonb_build_array(a.user_id, a.details ->> 'finding')), '[]') into v_recent
    from compliance.audit_logs a
   where a.action = 'phi.unusual_access' and a.occurred_at >= now() - interval '20 hours';
  for v_found in select u.* from compliance.phi_unusual_access u order by u.audit_row_id nulls first, u.actor_id loop
    if v_found.audit_row_id is null then
      continue when v_recent @> jsonb_build_array(jsonb_build_array(v_found.actor_id, v_found.finding));
    else
      continue when v_found.audit_row_id <= (v_horizons -> v_found.chain ->> 0)::bigint
                 or v_found.audit_row_id > (v_horizons -> v_found.chain ->> 1)::bigint;
    end if;
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
  insert into compliance_private.phi_access_review_horizons as h (placement, reviewed_through, reviewed_at)
  select c.key, greatest((c.value ->> 0)::bigint, (c.value ->> 1)::bigint), now() from jsonb_each(v_horizons) c
  on conflict on constraint phi_access_review_horizons_pkey do update
     set reviewed_through = excluded.reviewed_through, reviewed_at = excluded.reviewed_at;
end;
$function$;

comment on function compliance.review_phi_access() is
  'The daily review of PHI access (worker job phi_unusual_access): writes a phi.unusual_access audit row about the actor for each finding of compliance.phi_unusual_access not alerted yet (single accesses once; counts once a day while over) and returns them for the alert. Reads single accesses only up to the newest seal of their chain (one per shard on a Citus cluster), so a late-committing row is reviewed next time, never skipped. Each finding is also raised at once as a phi.unusual_access alert in the outbox.';
