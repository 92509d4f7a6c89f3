--! Previous: sha1:87558e8866a88fcc37a887e47b47f164874a578e
--! Hash: sha1:419962b4ef5747a31f43862006750bee3c4d79ee
--! Message: refused-requests-leave-a-trace

-- Refused requests leave a trace (issue #15, item 4): a bad or expired token, a forbidden
-- operation, an expired session. Each is counted per source, reason and minute; the first of
-- each minute also writes a security audit row with the reason, the client IP and user agent,
-- so a flood adds one row a minute per source, not one per request.

create table compliance_private.refusal_windows (
  client_ip     inet,
  reason        text        not null,
  window_start  timestamptz not null,
  refusals      integer     not null default 1,
  audit_row_id  bigint,
  constraint refusal_windows_pkey unique nulls not distinct (client_ip, reason, window_start),
  constraint refusal_windows_reason_known check (reason in ('invalid_token', 'expired_token', 'no_token', 'forbidden', 'session_expired')),
  constraint refusal_windows_refusals_positive check (refusals > 0)
);
comment on table compliance_private.refusal_windows is
  'Refused API requests counted per client IP, reason and minute; audit_row_id is the security.request_refused row the first of them wrote. Owner-only: written through compliance.record_refusal. Kept 90 days.';
comment on column compliance_private.refusal_windows.client_ip is 'The client the refusals came from (NULL if unknown).';
comment on column compliance_private.refusal_windows.reason is 'invalid_token, expired_token, no_token, forbidden or session_expired.';
comment on column compliance_private.refusal_windows.window_start is 'The minute the refusals fell in.';
comment on column compliance_private.refusal_windows.refusals is 'How many requests from the client were refused for the reason in that minute.';
comment on column compliance_private.refusal_windows.audit_row_id is 'The audit row written for the first refusal of the minute.';

create function compliance.record_refusal(reason text, client_ip inet default null, user_agent text default null, detail text default null)
  returns boolean
  language plpgsql
  volatile
  security definer
  set search_path to pg_catalog, pg_temp
as $$
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
$$;
comment on function compliance.record_refusal(text, inet, text, text) is
  'The server records a refused request here, in a transaction of its own: counted per client IP, reason and minute; the first of each minute writes a security.request_refused audit row (reason; IP, user agent and detail in its personal part). Returns whether it wrote one.';
revoke execute on function compliance.record_refusal(text, inet, text, text) from public;
grant execute on function compliance.record_refusal(text, inet, text, text) to compliance_app;
