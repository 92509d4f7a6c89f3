--! Previous: sha1:2b647821e0cd0d4d52bd48e70b5031d2733f7d3b
--! Hash: sha1:af5939821279108a2bea30cc866bd615ed9b1c0c
--! Message: open-request

-- Opening a request in one statement (issue #8, P6): the API's request transaction used to
-- send set_request_context, ensure_profile and touch_session as three round trips after SET
-- ROLE; open_request does all three, so the server can pipeline BEGIN, SET ROLE and this
-- call in one write.

create function compliance.open_request(
  actor text,
  roles text[],
  client_ip inet,
  user_agent text,
  session_id uuid,
  idle_timeout interval default interval '15 minutes',
  username text default null,
  email text default null,
  full_name text default null
) returns void
  language plpgsql
  volatile
as $$
begin
  perform compliance.set_request_context(actor, roles, client_ip, user_agent);
  -- first sight of a subject creates its profile from the identity provider's claims
  perform compliance.ensure_profile(actor, username, email, full_name);
  perform compliance.touch_session(actor, session_id, idle_timeout);
end;
$$;
comment on function compliance.open_request(text, text[], inet, text, uuid, interval, text, text, text) is
  'The first call of an API request transaction, after SET LOCAL ROLE compliance_app: sets the request context (the actor is the authenticated subject), creates the subject''s profile on first sight (ensure_profile) and records activity in its session (touch_session). Errors: ERASD for an erased subject, SESXP for an idle or closed session.';
grant execute on function compliance.open_request(text, text[], inet, text, uuid, interval, text, text, text) to compliance_app;
