--! Previous: sha1:7e44bf92a82a1a306c98bf46a9086221feab33ac
--! Hash: sha1:9bcf7055e6a640b6ec4d072cbed33dbbb658492b
--! Message: Service uptime from the worker's probes of the API and the primary

-- Service uptime (SOC 2 A1.2) measures the service: the worker probes the API's /healthz and
-- writes to the primary every 15 s. A minute is up when a probe passed in it and none failed.

create table compliance_private.service_minutes (
  minute timestamptz not null,
  probes_passed integer not null default 0,
  api_probes integer not null default 0,
  api_failures integer not null default 0,
  database_failures integer not null default 0,
  last_failure text,
  constraint service_minutes_pkey primary key (minute),
  constraint service_minutes_counts_not_negative check (probes_passed >= 0 and api_probes >= 0 and api_failures >= 0 and database_failures >= 0),
  constraint service_minutes_last_failure_length check (length(last_failure) <= 500)
);
comment on table compliance_private.service_minutes is
  'The worker''s service probes, counted per minute (compliance.record_service_probes). compliance.uptime reads them. Kept 400 days.';
comment on column compliance_private.service_minutes.minute is 'The minute (truncated) the probes fell in.';
comment on column compliance_private.service_minutes.probes_passed is 'Probes in the minute that found the API answering (or not probed) and the primary writable.';
comment on column compliance_private.service_minutes.api_probes is 'Probes in the minute that asked the API''s /healthz (none when the worker has no SERVICE_HEALTH_URL).';
comment on column compliance_private.service_minutes.api_failures is 'Probes in the minute whose /healthz did not answer 200 in 5 s.';
comment on column compliance_private.service_minutes.database_failures is 'Probes in the minute that could not write to the primary (told once the worker reached it again).';
comment on column compliance_private.service_minutes.last_failure is 'What the newest failed probe of the minute saw.';
alter table compliance_private.service_minutes enable row level security;
alter table compliance_private.service_minutes force row level security;
-- included from fixtures/checks/service_minutes.owner_routines.sql
-- policy owner_routines on compliance_private.service_minutes: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance_private.service_minutes;
create policy owner_routines on compliance_private.service_minutes as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance_private.service_minutes is 'Only the owner''s routines (record_service_probes, uptime, check_uptime) read and write the probes. No application role reaches the table.';

-- included from fixtures/checks/record_service_probes.sql
-- compliance.record_service_probes(probes jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.record_service_probes(probes jsonb)
 RETURNS integer
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

comment on function compliance.record_service_probes(probes jsonb) is
  'The worker''s service probes (every 15 s): did the API answer /healthz, and could the worker write to the primary. A passing probe counts in the current minute; a failed one names its instant (up to an hour back, since a probe that could not reach the primary is told after it returns) and makes its minute down. compliance.uptime counts the minutes. Worker role only. Errors: BADRG.';

-- included from fixtures/checks/uptime.sql
-- compliance.uptime(window_length interval, at timestamp with time zone): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.uptime(window_length interval DEFAULT '30 days'::interval, at timestamp with time zone DEFAULT now())
 RETURNS TABLE(ratio numeric, minutes_up bigint, minutes_counted bigint, counted_from timestamp with time zone, counted_to timestamp with time zone)
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

comment on function compliance.uptime(window_length interval, at timestamp with time zone) is
  'Service uptime over the window ending at at (30 days by default), SOC 2 A1.2: the share of whole minutes, from the window''s start or the first record, whichever is later, that were up. A minute is up when a worker probe passed in it and none failed: the API answered /healthz and the worker could write to the primary (compliance.record_service_probes). A minute with no probe is down, so a dead worker is downtime too; before the first probe, a minute with the worker''s heartbeat is up. /metrics exports it as pgcomply_sla_uptime_ratio.';

-- included from fixtures/checks/check_uptime.sql
-- compliance_private.check_uptime(context jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.check_uptime(context jsonb)
 RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

comment on function compliance_private.check_uptime(context jsonb) is
  'Compliance check: service uptime over uptime_window (compliance.uptime: the worker''s probes of the API and the primary every 15 s, a minute without a passing probe or with a failed one is down) reaches uptime_target (SOC 2 A1.2). Says how many minutes the API and the primary were down, and when the API was not probed at all.';

revoke all on function compliance.record_service_probes(jsonb) from public;
grant execute on function compliance.record_service_probes(jsonb) to compliance_worker;

select compliance_private.record_expected_grants();
