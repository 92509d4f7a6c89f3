--! Previous: sha1:7d8d828a64ea53ca6a263013d163ee410b2a2e8e
--! Hash: sha1:43d9c5868d3ec2ce406e4d09199774972a706cc4
--! Message: subject-rights

-- Subject rights: data procedures, access and portability export, rectification, atomic
-- erasure with tombstones, legal holds, and the register of data subject requests.

------------------------------------------------------------------------------------------
-- Installation secret and tombstones
------------------------------------------------------------------------------------------

create table compliance_private.settings (
  key        text        not null,
  value      bytea       not null,
  created_at timestamptz not null default now(),
  constraint settings_pkey primary key (key)
);
comment on table compliance_private.settings is 'Installation secrets and settings that no client reads.';
comment on column compliance_private.settings.key is 'Setting name.';
comment on column compliance_private.settings.value is 'Setting value (bytes).';
comment on column compliance_private.settings.created_at is 'When it was set.';
insert into compliance_private.settings (key, value)
  values ('subject_pepper', uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()));

create function compliance_private.subject_digest(user_id text) returns bytea
  language sql
  stable
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  select sha256(s.value || convert_to(user_id, 'UTF8'))
    from compliance_private.settings s where s.key = 'subject_pepper';
$$;
comment on function compliance_private.subject_digest(text) is
  'Peppered hash of a user id: lets pgcomply recognise an erased subject without keeping the id.';

create table compliance_private.erased_subjects (
  subject_digest bytea       not null,
  erased_at      timestamptz not null default now(),
  constraint erased_subjects_pkey primary key (subject_digest)
);
comment on table compliance_private.erased_subjects is
  'Tombstones of erased subjects, by peppered hash (never the id itself), so a late write for an erased user id fails (ERASD) until compliance.reregister_subject.';
comment on column compliance_private.erased_subjects.subject_digest is 'compliance_private.subject_digest(user_id).';
comment on column compliance_private.erased_subjects.erased_at is 'When the subject was erased.';

create function compliance_private.lock_subject(user_id text) returns void
  language sql
  volatile
as $$
  select pg_advisory_xact_lock(hashtextextended('pgcomply.subject:' || user_id, 0));
$$;
comment on function compliance_private.lock_subject(text) is
  'Transaction-level lock on one subject id, taken by erasure and by profile creation so neither can slip past the other.';

create function compliance_private.is_erased(user_id text) returns boolean
  language sql
  stable
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  select exists (select from compliance_private.erased_subjects e
                 where e.subject_digest = compliance_private.subject_digest(user_id));
$$;
comment on function compliance_private.is_erased(text) is 'Whether a tombstone exists for this user id.';

create function compliance_private.refuse_erased(user_id text) returns void
  language plpgsql
  volatile
as $$
begin
  if compliance_private.is_erased(user_id) then
    perform compliance_private.raise_error('ERASD',
      'this subject was erased; no data can be stored for it',
      'If the person registers again, a DPO calls compliance.reregister_subject(user_id, reason) first.');
  end if;
end;
$$;
comment on function compliance_private.refuse_erased(text) is 'Raises ERASD when the user id has a tombstone.';

create function compliance_private.require_subject(user_id text) returns void
  language plpgsql
  volatile
as $$
begin
  if user_id is null or not exists (select from compliance.user_profiles p where p.user_id = require_subject.user_id) then
    perform compliance_private.refuse_erased(user_id);
    perform compliance_private.raise_error('UNKSJ', format('no subject with user id %s', coalesce(user_id, 'NULL')),
      'Check the user id; a subject exists once its profile was created.');
  end if;
end;
$$;
comment on function compliance_private.require_subject(text) is
  'Raises ERASD for an erased subject and UNKSJ for an unknown one; returns quietly when the profile exists and is visible.';

create function compliance_private.require_context_subject() returns text
  language plpgsql
  stable
as $$
begin
  if compliance.current_subject() is null then
    perform compliance_private.raise_error('NOCTX', 'no subject in the request context',
      'Call compliance.set_request_context(actor => ''user:...'') first.');
  end if;
  return compliance.current_subject();
end;
$$;
comment on function compliance_private.require_context_subject() is
  'The request actor for the self-service functions; NOCTX when no context is set.';

create function compliance_private.tg_user_profiles__refuse_erased() returns trigger
  language plpgsql
  volatile
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  -- waits for a running erasure of the same id, then sees its tombstone
  perform compliance_private.lock_subject(new.user_id);
  perform compliance_private.refuse_erased(new.user_id);
  return new;
end;
$$;
comment on function compliance_private.tg_user_profiles__refuse_erased() is
  'BEFORE INSERT on user_profiles: a profile cannot be created for an erased user id (ERASD), even concurrently with its erasure.';
create trigger _010_refuse_erased before insert on compliance.user_profiles
  for each row execute function compliance_private.tg_user_profiles__refuse_erased();

------------------------------------------------------------------------------------------
-- Application events
------------------------------------------------------------------------------------------

create function compliance.log_event(
  action text,
  category text,
  resource_type text default null,
  resource_id text default null,
  details jsonb default '{}',
  subject_id text default null,
  personal_details jsonb default null,
  outcome text default 'success',
  failure_reason text default null
) returns bigint
  language plpgsql
  volatile
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  if subject_id is not null then
    -- holds the subject against a concurrent erasure until this transaction ends, so an
    -- event about a subject cannot outlive that subject's erasure
    perform from compliance.user_profiles p where p.user_id = log_event.subject_id for key share;
    if not found then
      perform compliance_private.refuse_erased(subject_id);
    end if;
  end if;
  return compliance_private.append_audit(log_event.action, log_event.category,
    log_event.resource_type, log_event.resource_id, log_event.details, log_event.subject_id,
    log_event.personal_details, log_event.outcome, log_event.failure_reason);
end;
$$;
comment on function compliance.log_event(text, text, text, text, jsonb, text, jsonb, text, text) is
  'Appends an application event to the audit log (PHI access with the patient id in personal_details, logins, exports). details must not hold personal data: it survives erasure; put identifying values in subject_id and personal_details. The actor, client IP and user agent come from the request context. Returns the new row id. Errors: ERASD for an erased subject.';
grant execute on function compliance.log_event(text, text, text, text, jsonb, text, jsonb, text, text)
  to compliance_app, compliance_dpo, compliance_worker;

------------------------------------------------------------------------------------------
-- Register of data subject requests
------------------------------------------------------------------------------------------

create table compliance.dsr_requests (
  id           bigint      generated always as identity,
  user_id      text,
  kind         text        not null,
  status       text        not null default 'received',
  received_at  timestamptz not null default now(),
  due_at       timestamptz not null,
  completed_at timestamptz,
  handled_by   text,
  notes        text,
  constraint dsr_requests_pkey primary key (id),
  constraint dsr_requests_user_id_fkey foreign key (user_id)
    references compliance.user_profiles (user_id) on delete set null,
  constraint dsr_requests_kind_known check (kind in ('access', 'rectification', 'erasure', 'portability', 'restriction', 'objection')),
  constraint dsr_requests_status_known check (status in ('received', 'in_progress', 'completed', 'rejected')),
  constraint dsr_requests_completed_when_closed check ((status in ('completed', 'rejected')) = (completed_at is not null)),
  constraint dsr_requests_notes_length check (length(notes) <= 2000)
);
comment on table compliance.dsr_requests is
  'Register of data subject requests (GDPR Art. 12(3): answer within one month). Kept 7 years (retention policy dsr_requests). After the subject''s erasure a request keeps its kind and dates but no identity (user_id set NULL, notes removed).';
comment on column compliance.dsr_requests.id is 'Request number.';
comment on column compliance.dsr_requests.user_id is 'Personal: the requesting subject; NULL once the subject is erased.';
comment on column compliance.dsr_requests.kind is 'access, rectification, erasure, portability, restriction or objection.';
comment on column compliance.dsr_requests.status is 'received, in_progress, completed or rejected.';
comment on column compliance.dsr_requests.received_at is 'When the request arrived.';
comment on column compliance.dsr_requests.due_at is 'Statutory deadline: received_at plus one calendar month (UTC).';
comment on column compliance.dsr_requests.completed_at is 'When it was completed or rejected.';
comment on column compliance.dsr_requests.handled_by is 'Personal: who handled it (actor).';
comment on column compliance.dsr_requests.notes is 'Personal: free-text notes; removed at erasure.';

create index dsr_requests_user_id_idx on compliance.dsr_requests (user_id);
create index dsr_requests_open_idx on compliance.dsr_requests (due_at) where completed_at is null;
create index dsr_requests_received_at_idx on compliance.dsr_requests (received_at);

create function compliance_private.tg_dsr_requests__set_due_at() returns trigger
  language plpgsql
  volatile
as $$
begin
  new.due_at := (timezone('UTC', new.received_at) + interval '1 month') at time zone 'UTC';
  return new;
end;
$$;
comment on function compliance_private.tg_dsr_requests__set_due_at() is
  'BEFORE INSERT OR UPDATE OF received_at on dsr_requests: the deadline is always one calendar month after receipt (UTC).';
grant execute on function compliance_private.tg_dsr_requests__set_due_at() to compliance_app, compliance_dpo;
create trigger _100_set_due_at before insert or update of received_at on compliance.dsr_requests
  for each row execute function compliance_private.tg_dsr_requests__set_due_at();
create trigger _900_audit after insert or update on compliance.dsr_requests
  for each row execute function compliance_private.tg__audit_row_change('dsr_request', 'id', 'received', 'updated', 'deleted');
create trigger _901_audit_deleted after delete on compliance.dsr_requests referencing old table as old_rows
  for each statement execute function compliance_private.tg__audit_deleted_rows('dsr_request', 'id', 'received', 'updated', 'deleted');

alter table compliance.dsr_requests enable row level security;
alter table compliance.dsr_requests force row level security;
create policy subject_own_rows on compliance.dsr_requests for select to compliance_app
  using (user_id = (select compliance.current_subject()));
comment on policy subject_own_rows on compliance.dsr_requests is 'A subject sees its own requests.';
create policy dpo_every_subject on compliance.dsr_requests for all to compliance_dpo using (true) with check (true);
comment on policy dpo_every_subject on compliance.dsr_requests is 'The DPO manages every request.';
create policy owner_routines on compliance.dsr_requests for all to compliance_owner using (true) with check (true);
comment on policy owner_routines on compliance.dsr_requests is 'SECURITY DEFINER routines register and complete requests.';
grant select on compliance.dsr_requests to compliance_app, compliance_dpo;
grant update (status, completed_at, handled_by, notes) on compliance.dsr_requests to compliance_dpo;

create view compliance.dsr_open_requests with (security_invoker = true) as
  select r.id, r.user_id, r.kind, r.status, r.received_at, r.due_at,
         r.due_at < now() as overdue,
         greatest(0, extract(day from r.due_at - now()))::integer as days_left
    from compliance.dsr_requests r
   where r.completed_at is null
   order by r.due_at;
comment on view compliance.dsr_open_requests is
  'Requests not yet completed, earliest deadline first, with overdue and days_left: what a DPO must answer next.';
grant select on compliance.dsr_open_requests to compliance_dpo;

create function compliance.register_dsr(user_id text, kind text, notes text default null)
  returns compliance.dsr_requests
  language plpgsql
  volatile
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_request compliance.dsr_requests;
begin
  perform compliance_private.require_subject(user_id);
  insert into compliance.dsr_requests (user_id, kind, notes, status)
    values (register_dsr.user_id, register_dsr.kind, register_dsr.notes, 'received')
    returning * into v_request;
  return v_request;
end;
$$;
comment on function compliance.register_dsr(text, text, text) is
  'Registers a data subject request received now; due_at is one calendar month later. Errors: UNKSJ, ERASD.';
grant execute on function compliance.register_dsr(text, text, text) to compliance_dpo;

create function compliance.complete_dsr(request_id bigint, status text default 'completed', notes text default null)
  returns compliance.dsr_requests
  language plpgsql
  volatile
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_request compliance.dsr_requests;
begin
  if status not in ('completed', 'rejected') then
    perform compliance_private.raise_error('BADRG', 'status must be completed or rejected');
  end if;
  update compliance.dsr_requests r
     set status = complete_dsr.status, completed_at = now(), handled_by = compliance.current_actor(),
         notes = coalesce(complete_dsr.notes, r.notes)
   where r.id = request_id and r.completed_at is null
  returning * into v_request;
  if not found then
    perform compliance_private.raise_error('NODSR', format('no open request %s', request_id),
      'See compliance.dsr_open_requests for the open requests.');
  end if;
  return v_request;
end;
$$;
comment on function compliance.complete_dsr(bigint, text, text) is
  'Closes an open request as completed or rejected, recording who handled it. Errors: NODSR, BADRG.';
grant execute on function compliance.complete_dsr(bigint, text, text) to compliance_dpo;

create function compliance_private.record_completed_dsr(user_id text, kind text, handled_by text) returns bigint
  language sql
  volatile
as $$
  insert into compliance.dsr_requests (user_id, kind, status, completed_at, handled_by)
    values (user_id, kind, 'completed', now(), handled_by)
  returning id;
$$;
comment on function compliance_private.record_completed_dsr(text, text, text) is
  'Registers a request answered on the spot (an export or an erasure); handled_by is self-service when the subject served itself.';

create function compliance_private.handler_for(user_id text) returns text
  language sql
  stable
as $$
  select case when compliance.current_subject() = user_id then 'self-service' else compliance.current_actor() end;
$$;
comment on function compliance_private.handler_for(text) is
  'Who handled a request about user_id: self-service when the subject acted for itself (so the register never names the subject twice), else the actor.';

------------------------------------------------------------------------------------------
-- Data procedures (SECURITY INVOKER: row-level security decides whose rows)
------------------------------------------------------------------------------------------

create function compliance.ensure_profile(user_id text, username text default null, email text default null, full_name text default null)
  returns compliance.user_profiles
  language plpgsql
  volatile
as $$
declare
  v_profile compliance.user_profiles;
begin
  select * into v_profile from compliance.user_profiles p where p.user_id = ensure_profile.user_id;
  if found then
    return v_profile;
  end if;
  insert into compliance.user_profiles (user_id, username, email, full_name)
    values (ensure_profile.user_id, ensure_profile.username, ensure_profile.email, ensure_profile.full_name)
    on conflict on constraint user_profiles_pkey do nothing
    returning * into v_profile;
  if not found then
    select * into strict v_profile from compliance.user_profiles p where p.user_id = ensure_profile.user_id;
  end if;
  return v_profile;
end;
$$;
comment on function compliance.ensure_profile(text, text, text, text) is
  'Returns the subject''s profile, creating it from the identity provider''s claims on first sight. Errors: ERASD for an erased user id.';

create function compliance.update_profile(user_id text, patch jsonb)
  returns compliance.user_profiles
  language plpgsql
  volatile
as $$
declare
  v_unknown text[];
  v_profile compliance.user_profiles;
begin
  if patch is null or jsonb_typeof(patch) <> 'object' then
    perform compliance_private.raise_error('BADFL', 'patch must be a JSON object');
  end if;
  select array_agg(k order by k) into v_unknown
    from jsonb_object_keys(patch) k where k not in ('username', 'email', 'full_name', 'metadata');
  if v_unknown is not null then
    perform compliance_private.raise_error('BADFL',
      format('unknown profile field(s): %s', array_to_string(v_unknown, ', ')),
      'A profile has username, email, full_name and metadata.');
  end if;
  perform compliance_private.require_subject(user_id);
  update compliance.user_profiles p set
    username  = case when patch ? 'username'  then patch ->> 'username'  else p.username end,
    email     = case when patch ? 'email'     then patch ->> 'email'     else p.email end,
    full_name = case when patch ? 'full_name' then patch ->> 'full_name' else p.full_name end,
    metadata  = case when patch ? 'metadata'  then coalesce(patch -> 'metadata', '{}') else p.metadata end
  where p.user_id = update_profile.user_id
  returning * into v_profile;
  return v_profile;
end;
$$;
comment on function compliance.update_profile(text, jsonb) is
  'Rectification (GDPR Art. 16): applies a patch of known fields (username, email, full_name, metadata); the audit log records the old and new values. Errors: BADFL for an unknown field, UNKSJ, ERASD.';

create function compliance.set_preferences(user_id text, preferences jsonb, merge boolean default true)
  returns compliance.user_preferences
  language plpgsql
  volatile
as $$
declare
  v_row compliance.user_preferences;
begin
  if preferences is null or jsonb_typeof(preferences) <> 'object' then
    perform compliance_private.raise_error('BADFL', 'preferences must be a JSON object');
  end if;
  perform compliance_private.require_subject(user_id);
  insert into compliance.user_preferences as p (user_id, preferences)
    values (set_preferences.user_id, set_preferences.preferences)
    on conflict on constraint user_preferences_pkey do update
      set preferences = case when set_preferences.merge then p.preferences || excluded.preferences
                             else excluded.preferences end
  returning * into v_row;
  return v_row;
end;
$$;
comment on function compliance.set_preferences(text, jsonb, boolean) is
  'Sets a subject''s preferences: merged into the existing object (merge => true) or replacing it. Errors: BADFL, UNKSJ, ERASD.';

create function compliance.start_conversation(user_id text, title text default null, metadata jsonb default '{}')
  returns compliance.conversations
  language plpgsql
  volatile
as $$
declare
  v_row compliance.conversations;
begin
  perform compliance_private.require_subject(user_id);
  insert into compliance.conversations (user_id, title, metadata)
    values (start_conversation.user_id, start_conversation.title, coalesce(start_conversation.metadata, '{}'))
  returning * into v_row;
  return v_row;
end;
$$;
comment on function compliance.start_conversation(text, text, jsonb) is
  'Starts a conversation for a subject. Errors: UNKSJ, ERASD.';

create function compliance.add_message(conversation_id uuid, role text, content text)
  returns compliance.messages
  language plpgsql
  volatile
as $$
declare
  v_conversation compliance.conversations;
  v_row compliance.messages;
begin
  select * into v_conversation from compliance.conversations c
   where c.conversation_id = add_message.conversation_id for no key update;
  if not found then
    perform compliance_private.raise_error('NOCNV', format('no conversation %s', conversation_id),
      'The conversation does not exist or belongs to someone else.');
  end if;
  insert into compliance.messages (conversation_id, user_id, role, content)
    values (add_message.conversation_id, v_conversation.user_id, add_message.role, add_message.content)
  returning * into v_row;
  update compliance.conversations c set last_message_at = v_row.created_at
   where c.conversation_id = add_message.conversation_id;
  return v_row;
end;
$$;
comment on function compliance.add_message(uuid, text, text) is
  'Adds a message to a conversation and moves its last_message_at (retention counts from it). Errors: NOCNV.';

create function compliance.list_conversations(user_id text)
  returns table (conversation_id uuid, title text, created_at timestamptz, last_message_at timestamptz,
                 archived boolean, message_count bigint)
  language sql
  stable
as $$
  select c.conversation_id, c.title, c.created_at, c.last_message_at, c.archived,
         (select count(*) from compliance.messages m
           where m.conversation_id = c.conversation_id and m.user_id = c.user_id)
    from compliance.conversations c
   where c.user_id = list_conversations.user_id
   order by c.last_message_at desc;
$$;
comment on function compliance.list_conversations(text) is
  'A subject''s conversations, most recent first, with message counts.';

create function compliance.touch_session(user_id text, session_id uuid, idle_timeout interval default interval '15 minutes')
  returns compliance.sessions
  language plpgsql
  volatile
as $$
declare
  v_row compliance.sessions;
begin
  perform compliance_private.require_subject(user_id);
  select * into v_row from compliance.sessions s
   where s.id = session_id and s.user_id = touch_session.user_id for no key update;
  if not found then
    -- parallel first requests of one session: one inserts, the others find its row
    insert into compliance.sessions (id, user_id, ip_address, user_agent)
      values (session_id, touch_session.user_id, compliance.current_client_ip(), compliance.current_user_agent())
      on conflict on constraint sessions_pkey do nothing
    returning * into v_row;
    if found then
      return v_row;
    end if;
    select * into v_row from compliance.sessions s
     where s.id = session_id and s.user_id = touch_session.user_id for no key update;
    if not found then
      perform compliance_private.raise_error('SESXP', 'this session belongs to someone else', 'Sign in again.');
    end if;
  end if;
  if v_row.ended_at is not null or v_row.last_activity_at < now() - idle_timeout then
    perform compliance_private.raise_error('SESXP', 'session expired due to inactivity',
      'Sign in again (HIPAA automatic logoff after 15 minutes of inactivity).');
  end if;
  update compliance.sessions s set last_activity_at = now() where s.id = session_id
    returning * into v_row;
  return v_row;
end;
$$;
comment on function compliance.touch_session(text, uuid, interval) is
  'Records activity in a session, opening it on first use. A session idle longer than idle_timeout (default 15 minutes, HIPAA automatic logoff) or closed refuses further use (SESXP).';

create function compliance.close_session(user_id text, session_id uuid) returns boolean
  language sql
  volatile
as $$
  update compliance.sessions s set ended_at = greatest(now(), s.created_at)
   where s.id = session_id and s.user_id = close_session.user_id and s.ended_at is null
  returning true;
$$;
comment on function compliance.close_session(text, uuid) is 'Closes a session (logout). Returns NULL when there was no open session.';

grant execute on function
  compliance.ensure_profile(text, text, text, text),
  compliance.update_profile(text, jsonb),
  compliance.set_preferences(text, jsonb, boolean),
  compliance.start_conversation(text, text, jsonb),
  compliance.add_message(uuid, text, text),
  compliance.list_conversations(text),
  compliance.touch_session(text, uuid, interval),
  compliance.close_session(text, uuid)
to compliance_app, compliance_dpo;

-- the invoker-rights procedures above call these helpers
grant usage on schema compliance_private to compliance_app, compliance_dpo;
grant execute on function
  compliance_private.raise_error(text, text, text),
  compliance_private.require_subject(text),
  compliance_private.refuse_erased(text)
to compliance_app, compliance_dpo;
grant execute on function compliance_private.is_erased(text), compliance_private.subject_digest(text)
  to compliance_app, compliance_dpo;

------------------------------------------------------------------------------------------
-- Access and portability (GDPR Art. 15, 20)
------------------------------------------------------------------------------------------

create function compliance_private.subject_document(user_id text) returns jsonb
  language sql
  stable
as $$
  select jsonb_build_object(
    'subject_id', p.user_id,
    'generated_at', now(),
    'profile', jsonb_build_object('user_id', p.user_id, 'username', p.username, 'email', p.email,
      'full_name', p.full_name, 'metadata', p.metadata, 'created_at', p.created_at, 'updated_at', p.updated_at),
    'preferences', (select to_jsonb(pr) - 'user_id' from compliance.user_preferences pr where pr.user_id = p.user_id),
    'consents', coalesce((
      select jsonb_agg(jsonb_build_object('id', c.id, 'purpose', c.purpose, 'granted', c.granted,
               'policy_version', c.policy_version, 'source', c.source, 'recorded_at', c.recorded_at,
               'ip_address', host(c.ip_address), 'user_agent', c.user_agent) order by c.purpose, c.recorded_at, c.id)
        from compliance.consent_records c where c.user_id = p.user_id), '[]'),
    'conversations', coalesce((
      select jsonb_agg(jsonb_build_object('conversation_id', cv.conversation_id, 'title', cv.title,
               'created_at', cv.created_at, 'last_message_at', cv.last_message_at, 'archived', cv.archived,
               'metadata', cv.metadata,
               'messages', coalesce((select jsonb_agg(jsonb_build_object('id', m.id, 'role', m.role,
                                       'content', m.content, 'created_at', m.created_at) order by m.id)
                                       from compliance.messages m
                                      where m.conversation_id = cv.conversation_id and m.user_id = cv.user_id), '[]'))
             order by cv.created_at, cv.conversation_id)
        from compliance.conversations cv where cv.user_id = p.user_id), '[]'),
    'sessions', coalesce((
      select jsonb_agg(jsonb_build_object('id', s.id, 'created_at', s.created_at,
               'last_activity_at', s.last_activity_at, 'ended_at', s.ended_at,
               'ip_address', host(s.ip_address), 'user_agent', s.user_agent) order by s.created_at, s.id)
        from compliance.sessions s where s.user_id = p.user_id), '[]'),
    'audit_trail', coalesce((
      select jsonb_agg(jsonb_build_object('id', a.id, 'occurred_at', a.occurred_at, 'action', a.action,
               'category', a.category, 'resource_type', a.resource_type, 'resource_id', a.resource_id,
               'outcome', a.outcome, 'failure_reason', a.failure_reason, 'details', a.details,
               'actor_id', a.actor_id, 'ip_address', host(a.ip_address), 'user_agent', a.user_agent,
               'personal_details', a.personal_details) order by a.occurred_at, a.id)
        from compliance.audit_logs a where a.user_id = p.user_id or a.actor_id = p.user_id), '[]'),
    'dsr_requests', coalesce((
      select jsonb_agg(jsonb_build_object('id', r.id, 'kind', r.kind, 'status', r.status,
               'received_at', r.received_at, 'due_at', r.due_at, 'completed_at', r.completed_at) order by r.id)
        from compliance.dsr_requests r where r.user_id = p.user_id), '[]'))
  from compliance.user_profiles p
  where p.user_id = subject_document.user_id;
$$;
comment on function compliance_private.subject_document(text) is
  'Everything held about one subject as one JSON document (sections: profile, preferences, consents, conversations with messages, sessions, audit_trail, dsr_requests). NULL for an unknown subject.';

create function compliance_private.export_subject_core(user_id text, kind text) returns jsonb
  language plpgsql
  volatile
as $$
declare
  v_document jsonb;
  v_request_id bigint;
begin
  if kind not in ('access', 'portability') then
    perform compliance_private.raise_error('BADRG', 'kind must be access or portability');
  end if;
  perform compliance_private.require_subject(user_id);
  v_request_id := compliance_private.record_completed_dsr(user_id, kind, compliance_private.handler_for(user_id));
  perform compliance_private.append_audit('subject.exported', 'gdpr', 'dsr_request', v_request_id::text,
    jsonb_build_object('kind', kind), user_id);
  v_document := compliance_private.subject_document(user_id);
  return v_document;
end;
$$;
comment on function compliance_private.export_subject_core(text, text) is
  'Registers and completes an access or portability request, audits it and returns the subject document.';

create function compliance.export_subject(user_id text, kind text default 'access') returns jsonb
  language sql
  volatile
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  select compliance_private.export_subject_core(user_id, kind);
$$;
comment on function compliance.export_subject(text, text) is
  'DPO: everything held about any subject as JSON (GDPR Art. 15 access, Art. 20 portability: kind access or portability). Registers the request as completed and audits the export. Errors: UNKSJ for an unknown subject (never an empty document), ERASD for an erased one.';
grant execute on function compliance.export_subject(text, text) to compliance_dpo;

create function compliance.export_my_data(kind text default 'access') returns jsonb
  language plpgsql
  volatile
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  return compliance_private.export_subject_core(compliance_private.require_context_subject(), kind);
end;
$$;
comment on function compliance.export_my_data(text) is
  'The request actor''s own data as JSON (self-service Art. 15/20). Errors: NOCTX, UNKSJ, ERASD.';
grant execute on function compliance.export_my_data(text) to compliance_app;

------------------------------------------------------------------------------------------
-- Legal holds (GDPR Art. 17(3)(e))
------------------------------------------------------------------------------------------

create function compliance.place_legal_hold(user_id text, reason text) returns compliance.legal_holds
  language plpgsql
  volatile
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_hold compliance.legal_holds;
begin
  perform compliance_private.require_subject(user_id);
  if compliance.is_under_legal_hold(user_id) then
    perform compliance_private.raise_error('HOLDA', 'the subject is already under an active legal hold',
      'Release it first, or keep the existing hold.');
  end if;
  insert into compliance.legal_holds (user_id, reason) values (place_legal_hold.user_id, place_legal_hold.reason)
    returning * into v_hold;
  return v_hold;
end;
$$;
comment on function compliance.place_legal_hold(text, text) is
  'DPO: places a legal hold; erasure is refused (LHOLD) and retention skips the subject until it is released. Audited as legal_hold.placed. Errors: UNKSJ, ERASD, HOLDA.';

create function compliance.release_legal_hold(user_id text) returns compliance.legal_holds
  language plpgsql
  volatile
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_hold compliance.legal_holds;
begin
  update compliance.legal_holds h set released_at = now(), released_by = compliance.current_actor()
   where h.user_id = release_legal_hold.user_id and h.released_at is null
  returning * into v_hold;
  if not found then
    perform compliance_private.raise_error('NOHLD', 'the subject has no active legal hold');
  end if;
  return v_hold;
end;
$$;
comment on function compliance.release_legal_hold(text) is
  'DPO: releases the subject''s active legal hold. Audited as legal_hold.released. Errors: NOHLD.';
grant execute on function compliance.place_legal_hold(text, text), compliance.release_legal_hold(text) to compliance_dpo;

------------------------------------------------------------------------------------------
-- Erasure (GDPR Art. 17)
------------------------------------------------------------------------------------------

create function compliance_private.erase_subject_core(user_id text, reason text, confirm boolean, requested_by text)
  returns jsonb
  language plpgsql
  volatile
as $$
declare
  v_counts jsonb := '{}';
  v_count bigint;
  v_redacted bigint;
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

  -- the subject lock first, then the row lock: profile creation takes the same order
  perform compliance_private.lock_subject(user_id);
  perform from compliance.user_profiles p where p.user_id = erase_subject_core.user_id for update;
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
  foreach v_table in array array['messages', 'conversations', 'consent_records', 'sessions',
                                 'user_preferences', 'legal_holds'] loop
    execute format('delete from compliance.%I t where t.user_id = $1', v_table) using user_id;
    get diagnostics v_count = row_count;
    v_counts := v_counts || jsonb_build_object(v_table, v_count);
  end loop;

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

  update compliance.audit_logs a
     set user_id = null, actor_id = null, ip_address = null, user_agent = null,
         personal_details = null, personal_salt = null, redacted_at = now()
   where (a.user_id = erase_subject_core.user_id or a.actor_id = erase_subject_core.user_id)
     and a.redacted_at is null;
  get diagnostics v_redacted = row_count;

  insert into compliance_private.erased_subjects (subject_digest) values (compliance_private.subject_digest(user_id));
  perform compliance_private.end_bulk_operation();

  -- counts, never identity: no subject, and no actor or client when the subject asked
  perform compliance_private.append_audit('subject.erased', 'gdpr', 'dsr_request', v_request_id::text,
    jsonb_build_object('deleted', v_counts, 'audit_rows_redacted', v_redacted, 'requested_by', requested_by),
    null, jsonb_build_object('reason', reason), 'success', null,
    case when requested_by = 'subject' then null else compliance.current_actor() end,
    requested_by <> 'subject');

  return jsonb_build_object('erased', true, 'erased_at', now(), 'dsr_request_id', v_request_id,
    'deleted', v_counts, 'audit_rows_redacted', v_redacted);
end;
$$;
comment on function compliance_private.erase_subject_core(text, text, boolean, text) is
  'The erasure transaction; see compliance.erase_subject.';

create function compliance.erase_subject(user_id text, reason text, confirm boolean default false) returns jsonb
  language sql
  volatile
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  select compliance_private.erase_subject_core(user_id, reason, confirm, 'dpo');
$$;
comment on function compliance.erase_subject(text, text, boolean) is
  'DPO: erases a subject (GDPR Art. 17) in one transaction or not at all: locks the subject, deletes every personal row (profile, preferences, consents, conversations, messages, sessions, released holds), strips identity from its requests, redacts its audit rows (as subject and as actor), leaves a tombstone so later writes for the id fail (ERASD), and audits subject.erased with counts only. Returns a receipt with counts per table. Errors: CONFM without confirm => true, LHOLD under legal hold, UNKSJ unknown subject, ERASD already erased, BADRG without a reason.';
grant execute on function compliance.erase_subject(text, text, boolean) to compliance_dpo;

create function compliance.erase_my_data(reason text, confirm boolean default false) returns jsonb
  language plpgsql
  volatile
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  return compliance_private.erase_subject_core(compliance_private.require_context_subject(), reason, confirm, 'subject');
end;
$$;
comment on function compliance.erase_my_data(text, boolean) is
  'The request actor erases its own data (self-service Art. 17); same transaction and errors as compliance.erase_subject.';
grant execute on function compliance.erase_my_data(text, boolean) to compliance_app;

create function compliance.reregister_subject(user_id text, reason text) returns boolean
  language plpgsql
  volatile
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  delete from compliance_private.erased_subjects e where e.subject_digest = compliance_private.subject_digest(user_id);
  if not found then
    perform compliance_private.raise_error('NOTER', 'that user id has no erasure tombstone');
  end if;
  perform compliance_private.append_audit('subject.reregistered', 'gdpr', null, null, '{}', null,
    jsonb_build_object('reason', reason));
  return true;
end;
$$;
comment on function compliance.reregister_subject(text, text) is
  'DPO: removes the erasure tombstone of a user id so the person can register again. Errors: NOTER.';
grant execute on function compliance.reregister_subject(text, text) to compliance_dpo;
