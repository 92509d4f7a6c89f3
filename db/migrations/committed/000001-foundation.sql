--! Previous: -
--! Hash: sha1:9dc6487fd5da25e6afa417f35337e3484c29f5af
--! Message: foundation

-- Foundation: schemas, request context, personal-data tables, row-level security.
-- Runs as compliance_owner (pgcomply_migrator's sessions start as it).

create schema compliance;
comment on schema compliance is
  'pgcomply public surface: personal-data tables a role may read and the functions a client may call. See db/README.md.';
create schema compliance_private;
comment on schema compliance_private is
  'pgcomply internals (helpers, sealing state, secrets). No client role can read or write a table in it; the app and DPO roles may call the few helper functions granted to them.';

revoke all on schema compliance_private from public;
grant usage on schema compliance to compliance_app, compliance_dpo, compliance_worker, compliance_auditor;

-- Functions are executable by PUBLIC by default; pgcomply grants each one explicitly.
-- (Only the role-wide form can revoke the built-in default; a per-schema one cannot.)
alter default privileges for role compliance_owner revoke execute on functions from public;

------------------------------------------------------------------------------------------
-- Errors
------------------------------------------------------------------------------------------

create function compliance_private.raise_error(code text, message text, hint text default null)
  returns void
  language plpgsql
  immutable
  parallel safe
as $$
begin
  raise exception using errcode = code, message = message, hint = coalesce(hint, '');
end;
$$;
comment on function compliance_private.raise_error(text, text, text) is
  'Raises a pgcomply error with one of the SQLSTATEs listed in db/ERROR_CODES.md.';

------------------------------------------------------------------------------------------
-- Request context
------------------------------------------------------------------------------------------

create function compliance.set_request_context(
  actor text,
  roles text[] default '{}',
  client_ip inet default null,
  user_agent text default null
) returns void
  language sql
  volatile
as $$
  select
    set_config('compliance.actor', coalesce(actor, ''), true),
    set_config('compliance.actor_roles', coalesce(array_to_string(roles, ','), ''), true),
    set_config('compliance.client_ip', coalesce(client_ip::text, ''), true),
    set_config('compliance.user_agent', coalesce(left(user_agent, 512), ''), true);
$$;
comment on function compliance.set_request_context(text, text[], inet, text) is
  'Sets who is acting for the rest of the current transaction: the actor (a subject user id such as user:alice), the actor''s roles, client IP and user agent. Row-level security and the audit log read it. The server calls it first in every request transaction; a DBA may call it to act for a subject.';

create function compliance.current_subject() returns text
  language sql
  stable
  parallel safe
as $$
  select nullif(current_setting('compliance.actor', true), '');
$$;
comment on function compliance.current_subject() is
  'The user id of the actor set by set_request_context, or NULL when no context is set. Row-level security compares rows with it, so no context means no rows.';

create function compliance.current_actor() returns text
  language sql
  stable
  parallel safe
as $$
  select coalesce(nullif(current_setting('compliance.actor', true), ''), session_user::text);
$$;
comment on function compliance.current_actor() is
  'Who the audit log records as acting: the request context''s actor, or the database login (session_user) when a DBA calls SQL directly without a context.';

create function compliance.current_actor_roles() returns text[]
  language sql
  stable
  parallel safe
as $$
  select coalesce(string_to_array(nullif(current_setting('compliance.actor_roles', true), ''), ','), '{}');
$$;
comment on function compliance.current_actor_roles() is
  'The application roles of the actor (from the token), as set by set_request_context.';

create function compliance.current_client_ip() returns inet
  language sql
  stable
  parallel safe
as $$
  select nullif(current_setting('compliance.client_ip', true), '')::inet;
$$;
comment on function compliance.current_client_ip() is
  'The client IP address of the current request, or NULL outside a request.';

create function compliance.current_user_agent() returns text
  language sql
  stable
  parallel safe
as $$
  select nullif(current_setting('compliance.user_agent', true), '');
$$;
comment on function compliance.current_user_agent() is
  'The user agent of the current request, or NULL outside a request.';

grant execute on function
  compliance.set_request_context(text, text[], inet, text),
  compliance.current_subject(),
  compliance.current_actor(),
  compliance.current_actor_roles(),
  compliance.current_client_ip(),
  compliance.current_user_agent()
to compliance_app, compliance_dpo, compliance_worker, compliance_auditor;

------------------------------------------------------------------------------------------
-- Shared trigger: updated_at
------------------------------------------------------------------------------------------

create function compliance_private.tg__set_updated_at() returns trigger
  language plpgsql
  volatile
as $$
begin
  new.updated_at := greatest(now(), old.updated_at + interval '1 microsecond');
  return new;
end;
$$;
comment on function compliance_private.tg__set_updated_at() is
  'BEFORE UPDATE trigger: keeps updated_at moving forward, even for two updates in one transaction.';
grant execute on function compliance_private.tg__set_updated_at() to compliance_app, compliance_dpo, compliance_worker;

------------------------------------------------------------------------------------------
-- Profiles
------------------------------------------------------------------------------------------

create table compliance.user_profiles (
  user_id    text        not null,
  username   text,
  email      text,
  full_name  text,
  metadata   jsonb       not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint user_profiles_pkey primary key (user_id),
  constraint user_profiles_user_id_length check (length(user_id) between 1 and 256),
  constraint user_profiles_username_length check (length(username) <= 256),
  constraint user_profiles_email_shape check (email is null or (length(email) <= 320 and email like '%_@_%')),
  constraint user_profiles_full_name_length check (length(full_name) <= 512),
  constraint user_profiles_metadata_object check (jsonb_typeof(metadata) = 'object')
);
comment on table compliance.user_profiles is
  'One row per data subject. Personal data (GDPR Art. 4(1)); kept until erasure (compliance.erase_subject). Every other personal table references it with ON DELETE CASCADE.';
comment on column compliance.user_profiles.user_id is 'Personal: the subject''s identifier as issued by the identity provider (e.g. user:alice).';
comment on column compliance.user_profiles.username is 'Personal: preferred username from the identity provider.';
comment on column compliance.user_profiles.email is 'Personal: e-mail address.';
comment on column compliance.user_profiles.full_name is 'Personal: full name.';
comment on column compliance.user_profiles.metadata is 'Personal: free-form attributes about the subject (JSON object).';
comment on column compliance.user_profiles.created_at is 'When the profile was created.';
comment on column compliance.user_profiles.updated_at is 'When the profile last changed; maintained by trigger.';

create trigger _100_set_updated_at before update on compliance.user_profiles
  for each row execute function compliance_private.tg__set_updated_at();

------------------------------------------------------------------------------------------
-- Preferences
------------------------------------------------------------------------------------------

create table compliance.user_preferences (
  user_id     text        not null,
  preferences jsonb       not null default '{}',
  updated_at  timestamptz not null default now(),
  constraint user_preferences_pkey primary key (user_id),
  constraint user_preferences_user_id_fkey foreign key (user_id)
    references compliance.user_profiles (user_id) on delete cascade,
  constraint user_preferences_object check (jsonb_typeof(preferences) = 'object')
);
comment on table compliance.user_preferences is
  'A subject''s preferences (one JSON object per subject). Personal data; kept until erasure.';
comment on column compliance.user_preferences.user_id is 'Personal: the subject (references user_profiles; the primary key doubles as the foreign-key index).';
comment on column compliance.user_preferences.preferences is 'Personal: the preferences as a JSON object.';
comment on column compliance.user_preferences.updated_at is 'When the preferences last changed; maintained by trigger.';

create trigger _100_set_updated_at before update on compliance.user_preferences
  for each row execute function compliance_private.tg__set_updated_at();

------------------------------------------------------------------------------------------
-- Consent
------------------------------------------------------------------------------------------

create table compliance.consent_purposes (
  purpose     text        not null,
  description text        not null,
  legal_basis text        not null,
  active      boolean     not null default true,
  created_at  timestamptz not null default now(),
  constraint consent_purposes_pkey primary key (purpose),
  constraint consent_purposes_key_shape check (purpose ~ '^[a-z][a-z0-9_]{0,62}$')
);
comment on table compliance.consent_purposes is
  'The purposes a subject can consent to (GDPR Art. 6(1)(a)). Not personal data. A DBA adds a purpose with one INSERT; deactivate rather than delete, since consent records reference it.';
comment on column compliance.consent_purposes.purpose is 'Key used by the API (consent_type), lower snake case.';
comment on column compliance.consent_purposes.description is 'What the subject consents to, as shown to them.';
comment on column compliance.consent_purposes.legal_basis is 'The legal basis that this consent satisfies.';
comment on column compliance.consent_purposes.active is 'Whether new consent may be recorded for this purpose.';
comment on column compliance.consent_purposes.created_at is 'When the purpose was added.';

insert into compliance.consent_purposes (purpose, description, legal_basis) values
  ('analytics',   'Usage analytics to improve the service',              'GDPR Art. 6(1)(a) consent'),
  ('marketing',   'Marketing communications',                           'GDPR Art. 6(1)(a) consent'),
  ('third_party', 'Sharing data with named third parties',              'GDPR Art. 6(1)(a) consent'),
  ('profiling',   'Automated profiling and personalisation (Art. 22)',  'GDPR Art. 6(1)(a) and Art. 22(2)(c) explicit consent');

create table compliance.consent_records (
  id             bigint      generated always as identity,
  user_id        text        not null,
  purpose        text        not null,
  granted        boolean     not null,
  policy_version text        not null,
  source         text        not null default 'api',
  recorded_at    timestamptz not null default now(),
  ip_address     inet,
  user_agent     text,
  constraint consent_records_pkey primary key (id),
  constraint consent_records_user_id_fkey foreign key (user_id)
    references compliance.user_profiles (user_id) on delete cascade,
  constraint consent_records_purpose_fkey foreign key (purpose)
    references compliance.consent_purposes (purpose) on delete restrict,
  constraint consent_records_source_known check (source in ('api', 'import', 'dba')),
  constraint consent_records_policy_version_length check (length(policy_version) between 1 and 64),
  constraint consent_records_user_agent_length check (length(user_agent) <= 512)
);
comment on table compliance.consent_records is
  'Append-only consent history (GDPR Art. 7(1): the controller must be able to demonstrate consent). Each grant or withdrawal is a new row with its evidence. Kept 7 years (retention policy consent_records) or until erasure; no role may update or delete a row otherwise.';
comment on column compliance.consent_records.id is 'Surrogate key; orders records made in the same instant.';
comment on column compliance.consent_records.user_id is 'Personal: the subject who gave or withdrew consent.';
comment on column compliance.consent_records.purpose is 'The purpose (consent_purposes.purpose).';
comment on column compliance.consent_records.granted is 'true for a grant, false for a withdrawal.';
comment on column compliance.consent_records.policy_version is 'Version of the privacy notice the subject saw.';
comment on column compliance.consent_records.source is 'How the record arrived: api, import or dba.';
comment on column compliance.consent_records.recorded_at is 'When consent was given or withdrawn.';
comment on column compliance.consent_records.ip_address is 'Personal: client IP address of the request that recorded it (evidence).';
comment on column compliance.consent_records.user_agent is 'Personal: user agent of the request that recorded it (evidence).';

-- latest record per subject and purpose, index-only for has_consent()
create index consent_records_current_idx on compliance.consent_records
  (user_id, purpose, recorded_at desc, id desc) include (granted);
create index consent_records_purpose_idx on compliance.consent_records (purpose);
create index consent_records_recorded_at_idx on compliance.consent_records (recorded_at);

------------------------------------------------------------------------------------------
-- Conversations and messages
------------------------------------------------------------------------------------------

create table compliance.conversations (
  conversation_id uuid        not null default gen_random_uuid(),
  user_id         text        not null,
  title           text,
  created_at      timestamptz not null default now(),
  last_message_at timestamptz not null default now(),
  archived        boolean     not null default false,
  metadata        jsonb       not null default '{}',
  constraint conversations_pkey primary key (conversation_id),
  constraint conversations_owner_key unique (conversation_id, user_id),
  constraint conversations_user_id_fkey foreign key (user_id)
    references compliance.user_profiles (user_id) on delete cascade,
  constraint conversations_title_length check (length(title) <= 512),
  constraint conversations_metadata_object check (jsonb_typeof(metadata) = 'object')
);
comment on table compliance.conversations is
  'A subject''s conversations. Personal data; deleted 90 days after the last message (retention policy conversations), with their messages.';
comment on column compliance.conversations.conversation_id is 'Conversation identifier.';
comment on column compliance.conversations.user_id is 'Personal: the subject who owns the conversation.';
comment on column compliance.conversations.title is 'Personal: title, may contain anything the subject wrote.';
comment on column compliance.conversations.created_at is 'When the conversation started.';
comment on column compliance.conversations.last_message_at is 'When the last message was added; retention counts from it.';
comment on column compliance.conversations.archived is 'Whether the subject archived the conversation.';
comment on column compliance.conversations.metadata is 'Personal: free-form attributes (JSON object).';

create index conversations_user_id_idx on compliance.conversations (user_id, last_message_at desc);
create index conversations_last_message_at_idx on compliance.conversations (last_message_at);

create table compliance.messages (
  id              bigint      generated always as identity,
  conversation_id uuid        not null,
  user_id         text        not null,
  role            text        not null,
  content         text        not null,
  created_at      timestamptz not null default now(),
  constraint messages_pkey primary key (id),
  constraint messages_conversation_fkey foreign key (conversation_id, user_id)
    references compliance.conversations (conversation_id, user_id) on delete cascade,
  constraint messages_user_id_fkey foreign key (user_id)
    references compliance.user_profiles (user_id) on delete cascade,
  constraint messages_role_known check (role in ('user', 'assistant', 'system', 'tool')),
  constraint messages_content_length check (length(content) <= 100000)
);
comment on table compliance.messages is
  'One row per message of a conversation. Personal data; goes with its conversation.';
comment on column compliance.messages.id is 'Message identifier; orders messages.';
comment on column compliance.messages.conversation_id is 'The conversation (with user_id, a composite foreign key, so a message always belongs to its conversation''s subject).';
comment on column compliance.messages.user_id is 'Personal: the subject who owns the conversation (kept on the row so row-level security needs no join).';
comment on column compliance.messages.role is 'Who wrote it: user, assistant, system or tool.';
comment on column compliance.messages.content is 'Personal: the message text.';
comment on column compliance.messages.created_at is 'When the message was added.';

create index messages_conversation_idx on compliance.messages (conversation_id, user_id, id);
create index messages_user_id_idx on compliance.messages (user_id);

------------------------------------------------------------------------------------------
-- Sessions
------------------------------------------------------------------------------------------

create table compliance.sessions (
  id               uuid        not null default gen_random_uuid(),
  user_id          text        not null,
  created_at       timestamptz not null default now(),
  last_activity_at timestamptz not null default now(),
  ended_at         timestamptz,
  ip_address       inet,
  user_agent       text,
  constraint sessions_pkey primary key (id),
  constraint sessions_user_id_fkey foreign key (user_id)
    references compliance.user_profiles (user_id) on delete cascade,
  constraint sessions_user_agent_length check (length(user_agent) <= 512),
  constraint sessions_end_after_start check (ended_at is null or ended_at >= created_at)
);
comment on table compliance.sessions is
  'A subject''s authenticated sessions (HIPAA §164.312(a)(2)(iii) automatic logoff after 15 minutes of inactivity). Personal data; deleted 90 days after last activity.';
comment on column compliance.sessions.id is 'Session identifier.';
comment on column compliance.sessions.user_id is 'Personal: the subject.';
comment on column compliance.sessions.created_at is 'When the session started.';
comment on column compliance.sessions.last_activity_at is 'Last request in the session; retention and the inactivity timeout count from it.';
comment on column compliance.sessions.ended_at is 'When the session was closed (logout or timeout); NULL while open.';
comment on column compliance.sessions.ip_address is 'Personal: client IP address at session start.';
comment on column compliance.sessions.user_agent is 'Personal: user agent at session start.';

create index sessions_user_id_idx on compliance.sessions (user_id, last_activity_at desc);
create index sessions_last_activity_at_idx on compliance.sessions (last_activity_at);

------------------------------------------------------------------------------------------
-- Legal holds
------------------------------------------------------------------------------------------

create table compliance.legal_holds (
  id          bigint      generated always as identity,
  user_id     text        not null,
  reason      text        not null,
  placed_at   timestamptz not null default now(),
  placed_by   text        not null default compliance.current_actor(),
  released_at timestamptz,
  released_by text,
  constraint legal_holds_pkey primary key (id),
  constraint legal_holds_user_id_fkey foreign key (user_id)
    references compliance.user_profiles (user_id) on delete cascade,
  constraint legal_holds_reason_length check (length(reason) between 1 and 1000),
  constraint legal_holds_release_after_place check (released_at is null or released_at >= placed_at)
);
comment on table compliance.legal_holds is
  'Legal holds (GDPR Art. 17(3)(e)): while a hold is active (released_at is NULL) the subject cannot be erased and retention skips the subject''s data. Deleting a profile under an active hold is refused (LHOLD).';
comment on column compliance.legal_holds.id is 'Hold identifier.';
comment on column compliance.legal_holds.user_id is 'Personal: the subject under hold.';
comment on column compliance.legal_holds.reason is 'Personal (may name the matter): why the data must be kept.';
comment on column compliance.legal_holds.placed_at is 'When the hold was placed.';
comment on column compliance.legal_holds.placed_by is 'Personal: who placed it (actor).';
comment on column compliance.legal_holds.released_at is 'When it was released; NULL while active.';
comment on column compliance.legal_holds.released_by is 'Personal: who released it (actor).';

create unique index legal_holds_one_active_idx on compliance.legal_holds (user_id) where released_at is null;
create index legal_holds_user_id_idx on compliance.legal_holds (user_id);

create function compliance.is_under_legal_hold(user_id text) returns boolean
  language sql
  stable
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  select exists (
    select from compliance.legal_holds h
    where h.user_id = is_under_legal_hold.user_id and h.released_at is null
  );
$$;
comment on function compliance.is_under_legal_hold(text) is
  'Whether the subject has an active legal hold. Readable by every role so retention and erasure can honour holds without reading the hold''s details.';
grant execute on function compliance.is_under_legal_hold(text) to compliance_app, compliance_dpo, compliance_worker;

create function compliance_private.tg_user_profiles__refuse_delete_under_hold() returns trigger
  language plpgsql
  volatile
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  if compliance.is_under_legal_hold(old.user_id) then
    perform compliance_private.raise_error('LHOLD',
      'subject is under legal hold; its data cannot be deleted',
      'Release the hold with compliance.release_legal_hold(user_id, reason) once the legal matter allows it.');
  end if;
  return old;
end;
$$;
comment on function compliance_private.tg_user_profiles__refuse_delete_under_hold() is
  'BEFORE DELETE on user_profiles: a subject under an active legal hold cannot be deleted by anyone (LHOLD).';
grant execute on function compliance_private.tg_user_profiles__refuse_delete_under_hold() to compliance_app, compliance_dpo, compliance_worker;

create trigger _050_refuse_delete_under_hold before delete on compliance.user_profiles
  for each row execute function compliance_private.tg_user_profiles__refuse_delete_under_hold();

------------------------------------------------------------------------------------------
-- Row-level security and grants
------------------------------------------------------------------------------------------

-- compliance_app: a subject sees and changes only its own rows.
-- compliance_dpo: reads every subject; changes go through the documented functions.
-- compliance_owner: the SECURITY DEFINER routines (erasure, export, retention) run as it.
-- compliance_worker, compliance_auditor: no direct access; retention runs through functions.
do $rls$
declare
  v_table text;
begin
  foreach v_table in array array['user_profiles', 'user_preferences', 'consent_records',
                                 'conversations', 'messages', 'sessions', 'legal_holds'] loop
    execute format('alter table compliance.%I enable row level security', v_table);
    execute format('alter table compliance.%I force row level security', v_table);
    execute format($p$create policy subject_own_rows on compliance.%I for all to compliance_app
                       using (user_id = (select compliance.current_subject()))
                       with check (user_id = (select compliance.current_subject()))$p$, v_table);
    execute format($p$create policy dpo_every_subject on compliance.%I for all to compliance_dpo
                       using (true) with check (true)$p$, v_table);
    execute format($p$create policy owner_routines on compliance.%I for all to compliance_owner
                       using (true) with check (true)$p$, v_table);
    execute format($c$comment on policy subject_own_rows on compliance.%I is
                       'The API acting for a subject sees and changes only rows whose user_id is the request actor.'$c$, v_table);
    execute format($c$comment on policy dpo_every_subject on compliance.%I is
                       'The DPO reaches every subject (reads; writes only where a grant allows).'$c$, v_table);
    execute format($c$comment on policy owner_routines on compliance.%I is
                       'SECURITY DEFINER routines (erasure, export, retention) run as the owner and reach every row.'$c$, v_table);
    execute format('grant select on compliance.%I to compliance_app, compliance_dpo', v_table);
  end loop;
end
$rls$;

grant insert (user_id, username, email, full_name, metadata) on compliance.user_profiles to compliance_app, compliance_dpo;
grant update (username, email, full_name, metadata) on compliance.user_profiles to compliance_app, compliance_dpo;

grant insert (user_id, preferences) on compliance.user_preferences to compliance_app, compliance_dpo;
grant update (preferences) on compliance.user_preferences to compliance_app, compliance_dpo;
grant delete on compliance.user_preferences to compliance_app;

grant insert (user_id, purpose, granted, policy_version, source, ip_address, user_agent)
  on compliance.consent_records to compliance_app, compliance_dpo;

grant insert (conversation_id, user_id, title, archived, metadata) on compliance.conversations to compliance_app;
grant update (title, archived, metadata, last_message_at) on compliance.conversations to compliance_app;
grant delete on compliance.conversations to compliance_app;

grant insert (conversation_id, user_id, role, content) on compliance.messages to compliance_app;
grant delete on compliance.messages to compliance_app;

grant insert (id, user_id, ip_address, user_agent) on compliance.sessions to compliance_app;
grant update (last_activity_at, ended_at) on compliance.sessions to compliance_app;

grant select on compliance.consent_purposes to compliance_app, compliance_dpo, compliance_auditor;

-- a hold may name a legal matter: only the DPO reads holds
revoke select on compliance.legal_holds from compliance_app;
