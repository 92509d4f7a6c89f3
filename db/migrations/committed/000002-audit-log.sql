--! Previous: sha1:9dc6487fd5da25e6afa417f35337e3484c29f5af
--! Hash: sha1:7d8d828a64ea53ca6a263013d163ee410b2a2e8e
--! Message: audit-log

-- Audit log: append-only, tamper-evident (hash-chained seals), sealed without write-path
-- locks, personal fields erasable. Byte layout of the hashes: db/AUDIT_HASHING.md.

------------------------------------------------------------------------------------------
-- Bulk operations (erasure, retention) that the row triggers treat specially
------------------------------------------------------------------------------------------

create table compliance_private.bulk_operations (
  xact_id xid8 not null,
  kind    text not null,
  constraint bulk_operations_pkey primary key (xact_id, kind),
  constraint bulk_operations_kind_known check (kind in ('erasure', 'retention'))
);
comment on table compliance_private.bulk_operations is
  'Marks the transaction of a running erasure or retention batch (a row lives only inside that transaction). Row audit triggers skip per-row entries there because the routine writes one summary entry, and the append-only trigger permits redaction only inside an erasure. Only the owner can write it, so a client cannot forge the mark.';
comment on column compliance_private.bulk_operations.xact_id is 'The transaction (pg_current_xact_id()) running the operation.';
comment on column compliance_private.bulk_operations.kind is 'erasure or retention.';

create function compliance_private.in_bulk_operation(kind text) returns boolean
  language plpgsql
  stable
as $$
begin
  -- the setting is only a hint that keeps ordinary writes free of a lookup; anyone can set
  -- it, so the owner-only table is the proof
  if current_setting('compliance_private.bulk_operation', true) is distinct from kind then
    return false;
  end if;
  return exists (select from compliance_private.bulk_operations b
                  where b.xact_id = pg_current_xact_id() and b.kind = in_bulk_operation.kind);
end;
$$;
comment on function compliance_private.in_bulk_operation(text) is
  'Whether the current transaction is an erasure or retention batch: the session setting compliance_private.bulk_operation names it and bulk_operations (writable only by the owner) proves it.';

create function compliance_private.in_any_bulk_operation() returns boolean
  language plpgsql
  stable
as $$
declare
  v_kind text := current_setting('compliance_private.bulk_operation', true);
begin
  return v_kind in ('erasure', 'retention') and compliance_private.in_bulk_operation(v_kind);
end;
$$;
comment on function compliance_private.in_any_bulk_operation() is
  'Whether the current transaction is an erasure or a retention batch; without the hint setting it answers without a lookup, so the row audit trigger can ask on every write.';

create function compliance_private.begin_bulk_operation(kind text) returns void
  language sql
  volatile
as $$
  insert into compliance_private.bulk_operations (xact_id, kind) values (pg_current_xact_id(), kind) on conflict do nothing;
  select set_config('compliance_private.bulk_operation', kind, true);
$$;
comment on function compliance_private.begin_bulk_operation(text) is
  'Marks the current transaction as an erasure or retention batch (see bulk_operations).';

create function compliance_private.end_bulk_operation() returns void
  language sql
  volatile
as $$
  delete from compliance_private.bulk_operations b where b.xact_id = pg_current_xact_id();
  select set_config('compliance_private.bulk_operation', '', true);
$$;
comment on function compliance_private.end_bulk_operation() is
  'Ends the mark of begin_bulk_operation before the transaction writes its own summary audit row.';

------------------------------------------------------------------------------------------
-- The table
------------------------------------------------------------------------------------------

create sequence compliance_private.audit_logs_id_seq as bigint;
comment on sequence compliance_private.audit_logs_id_seq is 'Identifiers of audit_logs rows.';

create table compliance.audit_logs (
  id               bigint      not null default nextval('compliance_private.audit_logs_id_seq'),
  occurred_at      timestamptz not null default now(),
  xact_id          xid8        not null default pg_current_xact_id(),
  action           text        not null,
  category         text        not null,
  resource_type    text,
  resource_id      text,
  outcome          text        not null default 'success',
  failure_reason   text,
  details          jsonb       not null default '{}',
  user_id          text,
  actor_id         text,
  ip_address       inet,
  user_agent       text,
  personal_details jsonb,
  personal_salt    bytea,
  personal_digest  bytea       not null,
  redacted_at      timestamptz,
  constraint audit_logs_pkey primary key (id, occurred_at),
  constraint audit_logs_action_shape check (action ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$'),
  constraint audit_logs_category_known check (category in ('gdpr', 'hipaa', 'soc2', 'security', 'system')),
  constraint audit_logs_outcome_known check (outcome in ('success', 'failure')),
  constraint audit_logs_failure_reason_with_failure check (failure_reason is null or outcome = 'failure'),
  constraint audit_logs_details_object check (jsonb_typeof(details) = 'object'),
  constraint audit_logs_digest_length check (octet_length(personal_digest) = 32),
  constraint audit_logs_redaction_complete check (
    redacted_at is null or (user_id is null and actor_id is null and ip_address is null
                            and user_agent is null and personal_details is null and personal_salt is null))
) partition by range (occurred_at);
comment on table compliance.audit_logs is
  'Append-only, tamper-evident audit trail (HIPAA §164.312(b), SOC 2 CC6.6/CC7.2, GDPR Art. 5(2)); kept 7 years, dropped a monthly partition at a time. Each row has a non-personal part (covered by the seal hashes) and a personal part (user_id, actor_id, ip_address, user_agent, personal_details) covered only through personal_digest, so erasure can remove the personal part and the chain still verifies. UPDATE, DELETE and TRUNCATE are refused for every role (APPND). Write with compliance.log_event().';
comment on column compliance.audit_logs.id is 'Row identifier (sequence); ties rows in the same transaction.';
comment on column compliance.audit_logs.occurred_at is 'When it happened (transaction start time); the partition key.';
comment on column compliance.audit_logs.xact_id is 'The inserting transaction (pg_current_xact_id()); the sealer orders and seals rows by (xact_id, id).';
comment on column compliance.audit_logs.action is 'What happened, dotted: profile.updated, consent.granted, phi.access, subject.erased, ...';
comment on column compliance.audit_logs.category is 'gdpr, hipaa, soc2, security or system.';
comment on column compliance.audit_logs.resource_type is 'Kind of resource acted on (profile, conversation, message, ...).';
comment on column compliance.audit_logs.resource_id is 'Identifier of the resource; never a user id (the subject is in user_id).';
comment on column compliance.audit_logs.outcome is 'success or failure.';
comment on column compliance.audit_logs.failure_reason is 'Why it failed (only with outcome failure).';
comment on column compliance.audit_logs.details is 'Non-personal details (field names changed, counts, purposes). Never personal data: it is kept after erasure.';
comment on column compliance.audit_logs.user_id is 'Personal: the data subject the event is about. NULL after redaction.';
comment on column compliance.audit_logs.actor_id is 'Personal: who acted (request actor or database login). NULL after redaction.';
comment on column compliance.audit_logs.ip_address is 'Personal: client IP address. NULL after redaction.';
comment on column compliance.audit_logs.user_agent is 'Personal: client user agent. NULL after redaction.';
comment on column compliance.audit_logs.personal_details is 'Personal: details that identify someone, e.g. old and new values of a rectification, a patient id. NULL after redaction.';
comment on column compliance.audit_logs.personal_salt is 'Random per-row salt of personal_digest; NULL after redaction so the digest cannot be used to guess the erased values.';
comment on column compliance.audit_logs.personal_digest is 'sha256(personal_salt || personal part); covered by the row hash, kept after redaction.';
comment on column compliance.audit_logs.redacted_at is 'When erasure removed the personal part; NULL otherwise.';

create table compliance.audit_logs_default partition of compliance.audit_logs default;
comment on table compliance.audit_logs_default is
  'Catches rows outside every monthly partition so no audit row is ever refused. compliance.ensure_audit_partitions keeps it empty in normal running.';

create index audit_logs_action_idx on compliance.audit_logs (action, occurred_at);
-- rows arrive in time order: a BRIN index costs writers almost nothing
create index audit_logs_occurred_at_idx on compliance.audit_logs using brin (occurred_at);
create index audit_logs_user_id_idx on compliance.audit_logs (user_id, occurred_at) where user_id is not null;
create index audit_logs_actor_id_idx on compliance.audit_logs (actor_id) where actor_id is not null;
create index audit_logs_seal_order_idx on compliance.audit_logs (xact_id, id);

------------------------------------------------------------------------------------------
-- Canonical bytes and hashes (db/AUDIT_HASHING.md)
------------------------------------------------------------------------------------------

create function compliance_private.hash_field(value text) returns bytea
  language sql
  stable
  parallel safe
as $$
  select case when value is null then '\xffffffff'::bytea
              else int4send(octet_length(value)) || convert_to(value, 'UTF8') end;
$$;
comment on function compliance_private.hash_field(text) is
  'Canonical bytes of one text field: 4-byte big-endian byte length then UTF-8, or ffffffff for NULL. Declared STABLE only because convert_to is (so the planner can inline it); in a UTF8 database the result depends on no setting.';

create function compliance_private.audit_personal_digest(
  salt bytea, user_id text, actor_id text, ip_address inet, user_agent text, personal_details jsonb
) returns bytea
  language sql
  stable
  parallel safe
as $$
  select sha256(salt
    || compliance_private.hash_field(user_id)
    || compliance_private.hash_field(actor_id)
    || compliance_private.hash_field(host(ip_address))
    || compliance_private.hash_field(user_agent)
    || compliance_private.hash_field(personal_details::text));
$$;
comment on function compliance_private.audit_personal_digest(bytea, text, text, inet, text, jsonb) is
  'personal_digest of an audit row: sha256 over the salt and the personal fields'' canonical bytes.';

create function compliance_private.audit_row_hash(
  id bigint, occurred_at timestamptz, xact_id xid8, action text, category text,
  resource_type text, resource_id text, outcome text, failure_reason text, details jsonb,
  personal_digest bytea
) returns bytea
  language sql
  stable
  parallel safe
as $$
  select sha256(int8send(id)
    || int8send((extract(epoch from occurred_at) * 1000000)::bigint)
    || int8send(xact_id::text::bigint)
    || compliance_private.hash_field(action)
    || compliance_private.hash_field(category)
    || compliance_private.hash_field(resource_type)
    || compliance_private.hash_field(resource_id)
    || compliance_private.hash_field(outcome)
    || compliance_private.hash_field(failure_reason)
    || compliance_private.hash_field(details::text)
    || personal_digest);
$$;
comment on function compliance_private.audit_row_hash(bigint, timestamptz, xid8, text, text, text, text, text, text, jsonb, bytea) is
  'Hash of an audit row''s non-personal part plus personal_digest; what a seal covers. Timestamps as integer microseconds, integers as int8send, so the bytes do not depend on TimeZone or DateStyle.';

------------------------------------------------------------------------------------------
-- Appending
------------------------------------------------------------------------------------------

create function compliance_private.append_audit(
  action text,
  category text,
  resource_type text default null,
  resource_id text default null,
  details jsonb default '{}',
  user_id text default null,
  personal_details jsonb default null,
  outcome text default 'success',
  failure_reason text default null,
  actor_id text default compliance.current_actor(),
  include_client boolean default true
) returns bigint
  language plpgsql
  volatile
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_salt bytea := uuid_send(gen_random_uuid());
  v_ip inet := case when include_client then compliance.current_client_ip() end;
  v_user_agent text := case when include_client then compliance.current_user_agent() end;
  v_id bigint;
  v_digest bytea;
begin
  v_digest := compliance_private.audit_personal_digest(v_salt, append_audit.user_id, append_audit.actor_id,
    v_ip, v_user_agent, append_audit.personal_details);
  insert into compliance.audit_logs (action, category, resource_type, resource_id, outcome,
    failure_reason, details, user_id, actor_id, ip_address, user_agent, personal_details,
    personal_salt, personal_digest)
  values (append_audit.action, append_audit.category, append_audit.resource_type,
    append_audit.resource_id, append_audit.outcome, append_audit.failure_reason,
    coalesce(append_audit.details, '{}'), append_audit.user_id, append_audit.actor_id, v_ip,
    v_user_agent, append_audit.personal_details, v_salt, v_digest)
  returning id into v_id;
  return v_id;
end;
$$;
comment on function compliance_private.append_audit(text, text, text, text, jsonb, text, jsonb, text, text, text, boolean) is
  'Writes one audit row for the routines and log_event: fills the actor, client IP and user agent (unless include_client is false) from the request context, salts and digests the personal part. The row triggers write the same columns inline, because a nested call costs every personal write.';

------------------------------------------------------------------------------------------
-- Row triggers on the personal tables
------------------------------------------------------------------------------------------

create function compliance_private.tg__audit_row_change() returns trigger
  language plpgsql
  volatile
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  -- TG_ARGV: resource type, key column ('' when the subject is the key), verbs for
  -- insert / update / delete
  v_row jsonb;
  v_old jsonb;
  v_changed text[];
  v_action text;
  v_details jsonb := '{}';
  v_personal jsonb;
  v_salt bytea;
  v_subject text;
  v_actor text;
  v_ip inet;
  v_user_agent text;
  v_digest bytea;
begin
  if compliance_private.in_any_bulk_operation() then
    return null;  -- the routine writes one summary entry with counts
  end if;

  -- kept to one statement per row besides the insert: this runs on every personal write
  if tg_op = 'INSERT' then
    v_row := to_jsonb(new);
    v_action := tg_argv[0] || '.' || tg_argv[2];
  else
    v_row := to_jsonb(new);
    v_old := to_jsonb(old);
    v_action := tg_argv[0] || '.' || tg_argv[3];
    select coalesce(array_agg(n.key order by n.key), '{}'),
           jsonb_build_object('old', coalesce(jsonb_object_agg(n.key, v_old -> n.key), '{}'),
                              'new', coalesce(jsonb_object_agg(n.key, n.value), '{}'))
      into v_changed, v_personal
      from jsonb_each(v_row) n
     where n.key <> 'updated_at' and n.value is distinct from v_old -> n.key;
    v_details := jsonb_build_object('changed_fields', to_jsonb(v_changed));
  end if;
  if tg_table_name = 'consent_records' then
    v_action := case when (v_row ->> 'granted')::boolean then 'consent.granted' else 'consent.withdrawn' end;
    v_details := jsonb_build_object('purpose', v_row -> 'purpose', 'policy_version', v_row -> 'policy_version',
                                    'source', v_row -> 'source');
  end if;

  v_salt := uuid_send(gen_random_uuid());
  v_subject := v_row ->> 'user_id';
  v_actor := compliance.current_actor();
  v_ip := compliance.current_client_ip();
  v_user_agent := compliance.current_user_agent();
  -- computed as a plpgsql expression: far cheaper than inside the INSERT's plan
  v_digest := compliance_private.audit_personal_digest(v_salt, v_subject, v_actor, v_ip, v_user_agent, v_personal);
  insert into compliance.audit_logs (action, category, resource_type, resource_id, details, user_id,
    actor_id, ip_address, user_agent, personal_details, personal_salt, personal_digest)
  values (v_action, 'gdpr', tg_argv[0], v_row ->> nullif(tg_argv[1], ''), v_details, v_subject,
    v_actor, v_ip, v_user_agent, v_personal, v_salt, v_digest);
  return null;
end;
$$;
comment on function compliance_private.tg__audit_row_change() is
  'AFTER INSERT OR UPDATE row trigger on every personal table: one audit row per insert and update, with the actor from the request context and, for updates, the changed field names (details) and their old and new values (personal part, GDPR Art. 16). Deletes are audited per statement by tg__audit_deleted_rows.';

create function compliance_private.tg__audit_deleted_rows() returns trigger
  language plpgsql
  volatile
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  -- once per statement, so an erasure or a retention batch deleting thousands of rows pays
  -- for one check, not one per row
  if compliance_private.in_any_bulk_operation() then
    return null;
  end if;
  insert into compliance.audit_logs (action, category, resource_type, resource_id, details, user_id,
    actor_id, ip_address, user_agent, personal_salt, personal_digest)
  select tg_argv[0] || '.' || tg_argv[4], 'gdpr', tg_argv[0], x.r ->> nullif(tg_argv[1], ''), '{}', x.r ->> 'user_id',
         x.actor, x.ip, x.agent, x.salt,
         compliance_private.audit_personal_digest(x.salt, x.r ->> 'user_id', x.actor, x.ip, x.agent, null)
    from (select to_jsonb(o) as r, uuid_send(gen_random_uuid()) as salt, compliance.current_actor() as actor,
                 compliance.current_client_ip() as ip, compliance.current_user_agent() as agent
            from old_rows o) x;
  return null;
end;
$$;
comment on function compliance_private.tg__audit_deleted_rows() is
  'AFTER DELETE statement trigger (transition table old_rows) on every personal table: one audit row per deleted row, with the actor from the request context. Same arguments as tg__audit_row_change.';

do $audit$
declare
  v_spec text[];
begin
  foreach v_spec slice 1 in array array[
    ['user_profiles', 'profile', '', 'created', 'updated', 'deleted'],
    ['user_preferences', 'preferences', '', 'created', 'updated', 'deleted'],
    ['consent_records', 'consent', 'id', 'recorded', 'updated', 'deleted'],
    ['conversations', 'conversation', 'conversation_id', 'created', 'updated', 'deleted'],
    ['messages', 'message', 'id', 'created', 'updated', 'deleted'],
    ['sessions', 'session', 'id', 'created', 'updated', 'deleted'],
    ['legal_holds', 'legal_hold', 'id', 'placed', 'released', 'deleted']]
  loop
    execute format('create trigger _900_audit after insert or update on compliance.%I for each row
                    execute function compliance_private.tg__audit_row_change(%L, %L, %L, %L, %L)',
                   v_spec[1], v_spec[2], v_spec[3], v_spec[4], v_spec[5], v_spec[6]);
    execute format('create trigger _901_audit_deleted after delete on compliance.%I referencing old table as old_rows
                    for each statement execute function compliance_private.tg__audit_deleted_rows(%L, %L, %L, %L, %L)',
                   v_spec[1], v_spec[2], v_spec[3], v_spec[4], v_spec[5], v_spec[6]);
  end loop;
end
$audit$;

------------------------------------------------------------------------------------------
-- Append-only enforcement
------------------------------------------------------------------------------------------

create function compliance_private.tg_audit_logs__refuse_change() returns trigger
  language plpgsql
  volatile
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  if tg_op = 'UPDATE' and compliance_private.in_bulk_operation('erasure') then
    return null;  -- statement level: each row is checked by tg_audit_logs__only_redaction
  end if;
  perform compliance_private.raise_error('APPND',
    format('%s on %s is refused: the audit log is append-only', tg_op, tg_table_name),
    'Audit rows are never changed or removed. Erasure redacts personal fields through compliance.erase_subject; retention drops whole partitions through compliance.apply_retention.');
  return null;
end;
$$;
comment on function compliance_private.tg_audit_logs__refuse_change() is
  'BEFORE UPDATE/DELETE/TRUNCATE statement trigger on audit_logs, its partitions and audit_seals: refuses every change (APPND) for every role, the owner included, except the redaction an erasure performs.';

create function compliance_private.tg_audit_logs__only_redaction() returns trigger
  language plpgsql
  volatile
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  -- the statement trigger _010_refuse_change already admitted this UPDATE only inside an
  -- erasure; each row may change in one way alone
  if (new.id, new.occurred_at, new.xact_id, new.action, new.category, new.resource_type,
          new.resource_id, new.outcome, new.failure_reason, new.details, new.personal_digest)
         is not distinct from
         (old.id, old.occurred_at, old.xact_id, old.action, old.category, old.resource_type,
          old.resource_id, old.outcome, old.failure_reason, old.details, old.personal_digest)
     and new.user_id is null and new.actor_id is null and new.ip_address is null
     and new.user_agent is null and new.personal_details is null and new.personal_salt is null
     and new.redacted_at is not null then
    return new;
  end if;
  perform compliance_private.raise_error('APPND',
    'audit rows are append-only; the only permitted change is erasure''s redaction of the personal part',
    'Use compliance.erase_subject to remove a subject''s personal data from the audit log.');
  return null;
end;
$$;
comment on function compliance_private.tg_audit_logs__only_redaction() is
  'BEFORE UPDATE row trigger on audit_logs: permits only setting the personal part and salt to NULL and stamping redacted_at (the statement trigger admits UPDATEs only inside an erasure); anything else is refused (APPND).';

grant execute on function compliance_private.tg_audit_logs__refuse_change(),
  compliance_private.tg_audit_logs__only_redaction()
  to compliance_app, compliance_dpo, compliance_worker, compliance_auditor;

create function compliance_private.protect_audit_relation(relation regclass) returns void
  language plpgsql
  volatile
as $$
begin
  execute format('create trigger _010_refuse_change before update or delete or truncate on %s
                  for each statement execute function compliance_private.tg_audit_logs__refuse_change()', relation);
end;
$$;
comment on function compliance_private.protect_audit_relation(regclass) is
  'Adds the append-only statement trigger to an audit relation (statement triggers are not inherited by partitions, so every partition gets its own).';

select compliance_private.protect_audit_relation('compliance.audit_logs');
select compliance_private.protect_audit_relation('compliance.audit_logs_default');
create trigger _020_only_redaction before update on compliance.audit_logs
  for each row execute function compliance_private.tg_audit_logs__only_redaction();

------------------------------------------------------------------------------------------
-- Monthly partitions
------------------------------------------------------------------------------------------

create function compliance.ensure_audit_partitions(months_ahead integer default 3, months_back integer default 0)
  returns setof text
  language plpgsql
  volatile
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_month date;
  v_name text;
begin
  if months_ahead not between 0 and 120 or months_back not between 0 and 120 then
    perform compliance_private.raise_error('BADRG', 'months_ahead and months_back must be between 0 and 120');
  end if;
  for v_month in
    select generate_series(date_trunc('month', now() - make_interval(months => months_back)),
                           date_trunc('month', now() + make_interval(months => months_ahead)),
                           interval '1 month')::date
  loop
    v_name := format('audit_logs_y%sm%s', to_char(v_month, 'YYYY'), to_char(v_month, 'MM'));
    continue when to_regclass('compliance.' || v_name) is not null;
    if exists (select from compliance.audit_logs_default d
               where d.occurred_at >= v_month and d.occurred_at < (v_month + interval '1 month')) then
      raise warning 'audit_logs_default holds rows for %; partition % not created', to_char(v_month, 'YYYY-MM'), v_name;
      continue;
    end if;
    execute format('create table compliance.%I partition of compliance.audit_logs for values from (%L) to (%L)',
                   v_name, v_month::timestamptz, (v_month + interval '1 month')::timestamptz);
    perform compliance_private.protect_audit_relation(format('compliance.%I', v_name)::regclass);
    execute format('comment on table compliance.%I is %L', v_name,
                   format('Audit rows of %s (monthly partition of compliance.audit_logs).', to_char(v_month, 'YYYY-MM')));
    return next v_name;
  end loop;
end;
$$;
comment on function compliance.ensure_audit_partitions(integer, integer) is
  'Creates the monthly audit_logs partitions from months_back before to months_ahead after the current month, so inserts never land in the default partition. Idempotent; the worker runs it daily. Returns the partitions it created.';
grant execute on function compliance.ensure_audit_partitions(integer, integer) to compliance_worker, compliance_dpo;

select compliance.ensure_audit_partitions(3, 1);

------------------------------------------------------------------------------------------
-- Sealing
------------------------------------------------------------------------------------------

create view compliance_private.audit_log_checks as
  select a.xact_id, a.id,
         compliance_private.audit_row_hash(a.id, a.occurred_at, a.xact_id, a.action, a.category,
           a.resource_type, a.resource_id, a.outcome, a.failure_reason, a.details, a.personal_digest) as row_hash,
         a.redacted_at is null
           and compliance_private.audit_personal_digest(a.personal_salt, a.user_id, a.actor_id,
                 a.ip_address, a.user_agent, a.personal_details) is distinct from a.personal_digest as digest_mismatch
    from compliance.audit_logs a;
comment on view compliance_private.audit_log_checks is
  'Each audit row''s hash (what a seal covers) and whether its personal part still matches personal_digest; the sealer and the verifier read both from here, filtering on (xact_id, id) so the seal-order index is used.';


create table compliance.audit_seals (
  seal_no       bigint      not null,
  last_xact_id  xid8        not null,
  last_row_id   bigint      not null,
  row_count     integer     not null,
  row_ids       bigint[]    not null,
  row_hashes    bytea       not null,
  previous_hash bytea       not null,
  seal_hash     bytea       not null,
  sealed_at     timestamptz not null default now(),
  constraint audit_seals_pkey primary key (seal_no),
  constraint audit_seals_counts_agree check (row_count = cardinality(row_ids) and octet_length(row_hashes) = 32 * row_count),
  constraint audit_seals_hash_length check (octet_length(previous_hash) = 32 and octet_length(seal_hash) = 32)
);
comment on table compliance.audit_seals is
  'Hash chain over the audit log. Seal n covers the rows after seal n-1''s position up to (last_xact_id, last_row_id) in (xact_id, id) order: seal_hash = sha256(previous_hash || seal_no || last_xact_id || last_row_id || row_count || row_hashes). Append-only (APPND). Not personal data.';
comment on column compliance.audit_seals.seal_no is 'Position in the chain, from 1.';
comment on column compliance.audit_seals.last_xact_id is 'Transaction id of the last row covered.';
comment on column compliance.audit_seals.last_row_id is 'Id of the last row covered.';
comment on column compliance.audit_seals.row_count is 'Number of rows covered.';
comment on column compliance.audit_seals.row_ids is 'Ids of the rows covered, in seal order, so verification can name a deleted row.';
comment on column compliance.audit_seals.row_hashes is 'The rows'' hashes (32 bytes each, in seal order), so verification can name an altered row.';
comment on column compliance.audit_seals.previous_hash is 'seal_hash of the previous seal (32 zero bytes for seal 1, or the retention anchor).';
comment on column compliance.audit_seals.seal_hash is 'This seal''s hash; the latest one is what compliance.audit_digest() returns for anchoring outside the database.';
comment on column compliance.audit_seals.sealed_at is 'When the seal was made.';

select compliance_private.protect_audit_relation('compliance.audit_seals');

create table compliance_private.audit_seal_head (
  singleton         boolean not null default true,
  last_seal_no      bigint  not null default 0,
  last_xact_id      xid8    not null default '0'::xid8,
  last_row_id       bigint  not null default 0,
  last_hash         bytea   not null default '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea,
  anchor_seal_no    bigint  not null default 0,
  anchor_hash       bytea   not null default '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea,
  constraint audit_seal_head_pkey primary key (singleton),
  constraint audit_seal_head_singleton check (singleton)
);
comment on table compliance_private.audit_seal_head is
  'Where sealing continues (last seal, position, hash) and where verification starts (anchor: the last seal whose rows retention dropped). One row; its lock serializes sealers, never writers.';
comment on column compliance_private.audit_seal_head.singleton is 'Always true: the table has one row.';
comment on column compliance_private.audit_seal_head.last_seal_no is 'Number of the newest seal.';
comment on column compliance_private.audit_seal_head.last_xact_id is 'Transaction id of the last sealed row.';
comment on column compliance_private.audit_seal_head.last_row_id is 'Id of the last sealed row.';
comment on column compliance_private.audit_seal_head.last_hash is 'Hash of the newest seal.';
comment on column compliance_private.audit_seal_head.anchor_seal_no is 'Verification starts after this seal (0: from the beginning).';
comment on column compliance_private.audit_seal_head.anchor_hash is 'Hash of the anchor seal, the expected previous_hash of the first verified seal.';
insert into compliance_private.audit_seal_head default values;

create function compliance_private.audit_seal_hash(
  previous_hash bytea, seal_no bigint, last_xact_id xid8, last_row_id bigint, row_count integer, row_hashes bytea
) returns bytea
  language sql
  stable
  parallel safe
as $$
  select sha256(previous_hash || int8send(seal_no) || int8send(last_xact_id::text::bigint)
                || int8send(last_row_id) || int8send(row_count::bigint) || row_hashes);
$$;
comment on function compliance_private.audit_seal_hash(bytea, bigint, xid8, bigint, integer, bytea) is
  'The hash of one seal (db/AUDIT_HASHING.md).';

create function compliance.seal_audit_log(max_rows_per_seal integer default 10000, max_seals integer default 100)
  returns integer
  language plpgsql
  volatile
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_head compliance_private.audit_seal_head;
  v_xmin xid8;
  v_seals integer := 0;
  v_count integer;
  v_ids bigint[];
  v_hashes bytea;
  v_last_xact xid8;
  v_last_id bigint;
  v_hash bytea;
begin
  if max_rows_per_seal not between 1 and 1000000 or max_seals < 1 then
    perform compliance_private.raise_error('BADRG', 'max_rows_per_seal must be 1..1000000 and max_seals at least 1');
  end if;
  -- serializes sealers only: writers never touch this row
  select * into strict v_head from compliance_private.audit_seal_head for update;
  -- every transaction older than the snapshot's xmin has ended, so no row with a smaller
  -- xact_id can appear later: those rows can be sealed for good
  v_xmin := pg_snapshot_xmin(pg_current_snapshot());

  while v_seals < max_seals loop
    select count(*)::integer,
           array_agg(b.id order by b.xact_id, b.id),
           string_agg(b.row_hash, ''::bytea order by b.xact_id, b.id),
           (array_agg(b.xact_id order by b.xact_id desc, b.id desc))[1]
      into v_count, v_ids, v_hashes, v_last_xact
      from (select c.id, c.xact_id, c.row_hash
              from compliance_private.audit_log_checks c
             where (c.xact_id, c.id) > (v_head.last_xact_id, v_head.last_row_id)
               and c.xact_id < v_xmin
             order by c.xact_id, c.id
             limit max_rows_per_seal) b;
    exit when v_count = 0;
    v_last_id := v_ids[v_count];

    v_head.last_seal_no := v_head.last_seal_no + 1;
    v_hash := compliance_private.audit_seal_hash(v_head.last_hash, v_head.last_seal_no,
                v_last_xact, v_last_id, v_count, v_hashes);
    insert into compliance.audit_seals (seal_no, last_xact_id, last_row_id, row_count, row_ids,
                                        row_hashes, previous_hash, seal_hash)
    values (v_head.last_seal_no, v_last_xact, v_last_id, v_count, v_ids, v_hashes,
            v_head.last_hash, v_hash);
    v_head.last_xact_id := v_last_xact;
    v_head.last_row_id := v_last_id;
    v_head.last_hash := v_hash;
    v_seals := v_seals + 1;
    exit when v_count < max_rows_per_seal;
  end loop;

  if v_seals > 0 then
    update compliance_private.audit_seal_head
       set last_seal_no = v_head.last_seal_no, last_xact_id = v_head.last_xact_id,
           last_row_id = v_head.last_row_id, last_hash = v_head.last_hash;
  end if;
  return v_seals;
end;
$$;
comment on function compliance.seal_audit_log(integer, integer) is
  'Seals every audit row whose transaction is older than the current snapshot''s xmin, in (xact_id, id) order, into new audit_seals (at most max_rows_per_seal rows each, at most max_seals per call). Takes no lock that a writer waits for; concurrent sealers wait for each other. Returns the number of seals made. The worker runs it every few seconds.';
grant execute on function compliance.seal_audit_log(integer, integer) to compliance_worker, compliance_dpo;

------------------------------------------------------------------------------------------
-- Verification
------------------------------------------------------------------------------------------

create function compliance.verify_audit_log(
  out ok boolean, out seals_checked bigint, out rows_checked bigint, out problems jsonb
)
  language plpgsql
  stable
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_head compliance_private.audit_seal_head;
  v_seal compliance.audit_seals;
  v_expected_no bigint;
  v_previous_hash bytea;
  v_from_xact xid8;
  v_from_id bigint;
  v_problem record;
  v_count integer;
  v_hashes bytea;
  v_digest_bad boolean;
begin
  seals_checked := 0;
  rows_checked := 0;
  problems := '[]';
  select * into strict v_head from compliance_private.audit_seal_head;
  v_expected_no := v_head.anchor_seal_no + 1;
  v_previous_hash := v_head.anchor_hash;
  v_from_xact := '0'::xid8;
  v_from_id := 0;
  if v_head.anchor_seal_no > 0 then
    select s.last_xact_id, s.last_row_id into v_from_xact, v_from_id
      from compliance.audit_seals s where s.seal_no = v_head.anchor_seal_no;
  end if;

  for v_seal in
    select * from compliance.audit_seals s where s.seal_no > v_head.anchor_seal_no order by s.seal_no
  loop
    seals_checked := seals_checked + 1;
    if v_seal.seal_no <> v_expected_no then
      problems := problems || jsonb_build_object('kind', 'missing_seal', 'seal_no', v_expected_no,
        'detail', format('seals %s to %s are missing', v_expected_no, v_seal.seal_no - 1));
    end if;
    if v_seal.previous_hash <> v_previous_hash then
      problems := problems || jsonb_build_object('kind', 'broken_chain', 'seal_no', v_seal.seal_no,
        'detail', 'previous_hash does not match the hash of the seal before it');
    end if;
    if compliance_private.audit_seal_hash(v_seal.previous_hash, v_seal.seal_no, v_seal.last_xact_id,
         v_seal.last_row_id, v_seal.row_count, v_seal.row_hashes) <> v_seal.seal_hash then
      problems := problems || jsonb_build_object('kind', 'altered_seal', 'seal_no', v_seal.seal_no,
        'detail', 'the seal''s contents do not match its seal_hash');
    end if;

    -- recompute the seal's row hashes in order; only a mismatch needs the row-by-row
    -- comparison, which names what differs
    select count(*)::integer, coalesce(string_agg(r.row_hash, ''::bytea order by r.xact_id, r.id), ''::bytea),
           coalesce(bool_or(r.digest_mismatch), false)
      into v_count, v_hashes, v_digest_bad
      from compliance_private.audit_log_checks r
     where (r.xact_id, r.id) > (v_from_xact, v_from_id)
       and (r.xact_id, r.id) <= (v_seal.last_xact_id, v_seal.last_row_id);
    rows_checked := rows_checked + v_count;

    if v_count <> v_seal.row_count or v_hashes <> v_seal.row_hashes or v_digest_bad then
      for v_problem in
        with sealed as (
          select u.id, u.ord, substring(v_seal.row_hashes from (u.ord::integer - 1) * 32 + 1 for 32) as row_hash
            from unnest(v_seal.row_ids) with ordinality as u(id, ord)
        ), present as (
          select c.id, row_number() over (order by c.xact_id, c.id) as ord, c.row_hash, c.digest_mismatch
            from compliance_private.audit_log_checks c
           where (c.xact_id, c.id) > (v_from_xact, v_from_id)
             and (c.xact_id, c.id) <= (v_seal.last_xact_id, v_seal.last_row_id)
        )
        select coalesce(s.id, p.id) as id,
               case when p.id is null then 'deleted_row'
                    when s.id is null then 'forged_row'
                    when p.row_hash <> s.row_hash then 'altered_row'
                    when p.ord <> s.ord then 'reordered_row'
                    when p.digest_mismatch then 'digest_mismatch'
               end as kind
          from sealed s
          full join present p on p.id = s.id
      loop
        continue when v_problem.kind is null;
        problems := problems || jsonb_build_object('kind', v_problem.kind, 'seal_no', v_seal.seal_no,
          'row_id', v_problem.id, 'detail', case v_problem.kind
            when 'deleted_row' then 'a sealed row is missing'
            when 'forged_row' then 'a row in the sealed range is not in the seal'
            when 'altered_row' then 'the row no longer matches its sealed hash'
            when 'reordered_row' then 'the row is not where the seal put it'
            else 'the personal part no longer matches personal_digest' end);
      end loop;
    end if;

    v_expected_no := v_seal.seal_no + 1;
    v_previous_hash := v_seal.seal_hash;
    v_from_xact := v_seal.last_xact_id;
    v_from_id := v_seal.last_row_id;
  end loop;

  if v_head.last_seal_no >= v_expected_no then
    problems := problems || jsonb_build_object('kind', 'missing_seal', 'seal_no', v_expected_no,
      'detail', format('the chain ends at seal %s but seal %s was made', v_expected_no - 1, v_head.last_seal_no));
  elsif v_head.last_seal_no > v_head.anchor_seal_no and v_head.last_hash <> v_previous_hash then
    problems := problems || jsonb_build_object('kind', 'broken_chain', 'seal_no', v_head.last_seal_no,
      'detail', 'the newest seal''s hash differs from the one recorded when it was made');
  end if;

  -- rows not sealed yet: only their personal digests can be checked
  for v_problem in
    select c.id from compliance_private.audit_log_checks c
     where (c.xact_id, c.id) > (v_from_xact, v_from_id) and c.digest_mismatch
  loop
    problems := problems || jsonb_build_object('kind', 'digest_mismatch', 'seal_no', null,
      'row_id', v_problem.id, 'detail', 'the personal part no longer matches personal_digest');
  end loop;
  rows_checked := rows_checked + (select count(*) from compliance.audit_logs a
                                   where (a.xact_id, a.id) > (v_from_xact, v_from_id));

  ok := jsonb_array_length(problems) = 0;
end;
$$;
comment on function compliance.verify_audit_log() is
  'Recomputes every seal after the retention anchor and every row hash and personal digest. Returns ok, how many seals and rows it checked, and problems: a JSON array of {kind, seal_no, row_id, detail} where kind is deleted_row, forged_row, altered_row, reordered_row, digest_mismatch, altered_seal, broken_chain or missing_seal. Redacted rows verify: the hashes never cover the personal part itself.';
grant execute on function compliance.verify_audit_log() to compliance_auditor, compliance_dpo, compliance_worker;

create function compliance.audit_digest(
  out seal_no bigint, out seal_hash text, out last_row_id bigint, out sealed_at timestamptz
)
  language sql
  stable
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  select s.seal_no, encode(s.seal_hash, 'hex'), s.last_row_id, s.sealed_at
    from compliance.audit_seals s order by s.seal_no desc limit 1;
$$;
comment on function compliance.audit_digest() is
  'The newest seal''s number and hash (hex). Record it outside the database (a ticket, a notary, a WORM bucket): a rewrite of the whole chain then shows as a different hash for the same seal number.';
grant execute on function compliance.audit_digest() to compliance_auditor, compliance_dpo, compliance_worker;

------------------------------------------------------------------------------------------
-- Access
------------------------------------------------------------------------------------------

-- Every role holds UPDATE, DELETE and TRUNCATE so that any attempt meets the APPND
-- refusal (rather than a generic permission error); row-level security shows the app and
-- the worker no rows at all.
alter table compliance.audit_logs enable row level security;
alter table compliance.audit_logs force row level security;
create policy readers_every_row on compliance.audit_logs for select
  to compliance_auditor, compliance_dpo using (true);
comment on policy readers_every_row on compliance.audit_logs is 'The auditor and the DPO read the whole audit log.';
create policy owner_routines on compliance.audit_logs for all to compliance_owner using (true) with check (true);
comment on policy owner_routines on compliance.audit_logs is 'The SECURITY DEFINER routines (append, seal, verify, redact) run as the owner.';

grant select, update, delete, truncate on compliance.audit_logs
  to compliance_app, compliance_dpo, compliance_worker, compliance_auditor;
grant select on compliance.audit_seals to compliance_auditor, compliance_dpo, compliance_worker;
grant update, delete, truncate on compliance.audit_seals
  to compliance_app, compliance_dpo, compliance_worker, compliance_auditor;
