--! Previous: sha1:0b85e42b98a69a54e86decdae681cd1a03671006
--! Hash: sha1:d2c92c42cd33d2449adeefb75e052a29e3adbb8b
--! Message: audit-layout-2

-- Audit layout 2 (issue #13, items 1 to 4): verification trusts only the chain's own records.
--
-- 1. Where the chain starts. Verification used to start after an anchor kept in the mutable
--    row compliance_private.audit_seal_head: move it forward, delete older rows and seals, and
--    the log verified. Now retention removes the seals whose rows it dropped and records, in its
--    own audit.partition_dropped row, the last seal removed, its hash and end, and the dropped
--    rows of the seals it kept. A chain that does not start at seal 1 must start where a sealed
--    drop record says; a sealed row may be missing only when a sealed drop record names it.
-- 2. Redaction. A redacted part must be empty, and every redacted part must be accounted for
--    by a sealed erasure, whose audit row lists the rows it redacted (subject and actor parts
--    apart). Each other redacted part, and each listed part that is not redacted, is named by row.
-- 3. Attribution. The personal part is split: the subject's fields (user_id, personal_details)
--    and the actor's (actor_id, ip_address, user_agent) each have a salt and a digest, and
--    personal_digest = sha256(subject_part_digest || actor_part_digest). Erasure redacts the
--    subject part of the subject's rows and the actor part only where the subject acted, so a
--    DPO who exported or erased someone's data stays on record. Rows written before keep layout
--    1 (one digest) and verify as before.
-- 4. Restore. Seals followed (xact_id, id), and transaction ids restart on a new cluster, so
--    after a restore new rows fell inside the sealed range. Layout-2 seals cover id ranges: ids
--    come from a sequence that a restore carries over. An id is taken only after its
--    transaction has an id of its own, so the sealer may seal every id it has seen once every
--    transaction older than its own has ended (db/AUDIT_HASHING.md).

------------------------------------------------------------------------------------------
-- Row layout 2: a subject part and an actor part
------------------------------------------------------------------------------------------

alter table compliance.audit_logs
  add column subject_part_salt bytea,
  add column subject_part_digest bytea,
  add column actor_part_salt bytea,
  add column actor_part_digest bytea;
comment on column compliance.audit_logs.subject_part_salt is
  'Layout 2: random salt of subject_part_digest; NULL once erasure redacted the subject part (user_id, personal_details). NULL on layout-1 rows.';
comment on column compliance.audit_logs.subject_part_digest is
  'Layout 2: sha256(subject_part_salt || user_id || personal_details), kept after redaction. NULL marks a layout-1 row.';
comment on column compliance.audit_logs.actor_part_salt is
  'Layout 2: random salt of actor_part_digest; NULL once erasure redacted the actor part (actor_id, ip_address, user_agent).';
comment on column compliance.audit_logs.actor_part_digest is
  'Layout 2: sha256(actor_part_salt || actor_id || ip_address || user_agent), kept after redaction.';
comment on column compliance.audit_logs.personal_salt is
  'Layout 1 only: random salt of personal_digest; NULL after redaction so the digest cannot be used to guess the erased values. NULL on layout-2 rows, whose parts have their own salts.';
comment on column compliance.audit_logs.personal_digest is
  'Covered by the row hash. Layout 1: sha256(personal_salt || personal part). Layout 2: sha256(subject_part_digest || actor_part_digest). Kept after redaction.';
comment on column compliance.audit_logs.redacted_at is
  'When an erasure last removed a part of this row''s personal data; NULL if none was removed.';

create function compliance_private.audit_subject_digest(salt bytea, user_id text, personal_details jsonb)
  returns bytea
  language sql
  stable
  parallel safe
  return sha256(salt || compliance_private.hash_field(user_id) || compliance_private.hash_field(personal_details::text));
comment on function compliance_private.audit_subject_digest(bytea, text, jsonb) is
  'Layout 2: the digest of an audit row''s subject part (db/AUDIT_HASHING.md).';

create function compliance_private.audit_actor_digest(salt bytea, actor_id text, ip_address inet, user_agent text)
  returns bytea
  language sql
  stable
  parallel safe
  return sha256(salt || compliance_private.hash_field(actor_id) || compliance_private.hash_field(host(ip_address))
                || compliance_private.hash_field(user_agent));
comment on function compliance_private.audit_actor_digest(bytea, text, inet, text) is
  'Layout 2: the digest of an audit row''s actor part (db/AUDIT_HASHING.md).';

------------------------------------------------------------------------------------------
-- Writing layout 2
------------------------------------------------------------------------------------------

create or replace function compliance_private.append_audit(
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
  set search_path to pg_catalog, pg_temp
as $$
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
$$;

create or replace function compliance_private.tg__audit_row_change() returns trigger
  language plpgsql
  volatile
  security definer
  set search_path to pg_catalog, pg_temp
as $$
declare
  -- TG_ARGV: resource type, key column ('' when the subject is the key), verbs for
  -- insert / update / delete
  v_new compliance_private.hstore;
  v_changed text[];
  v_unchanged text[];
  v_action text;
  v_details jsonb := '{}';
  v_personal jsonb;
  v_subject_salt bytea;
  v_actor_salt bytea;
  v_subject text;
  v_actor text;
  v_ip inet;
  v_user_agent text;
  v_subject_digest bytea;
  v_actor_digest bytea;
begin
  if compliance_private.in_any_bulk_operation() then
    return null;  -- the routine writes one summary entry with counts
  end if;

  -- every step is a single expression (no query): this runs on every personal write. The
  -- triggering write already gave the transaction its id, so the row id comes after it.
  v_new := compliance_private.hstore(new);
  if tg_op = 'INSERT' then
    v_action := tg_argv[0] || '.' || tg_argv[2];
  else
    v_action := tg_argv[0] || '.' || tg_argv[3];
    v_changed := compliance_private.akeys(compliance_private.delete(
                   compliance_private.delete(v_new, compliance_private.hstore(old)), 'updated_at'::text));
    v_unchanged := compliance_private.akeys(compliance_private.delete(v_new, v_changed));
    v_personal := jsonb_build_object('old', to_jsonb(old) - v_unchanged, 'new', to_jsonb(new) - v_unchanged);
    v_details := jsonb_build_object('changed_fields', to_jsonb(v_changed));
  end if;
  if tg_table_name = 'consent_records' then
    v_action := case when compliance_private.fetchval(v_new, 'granted')::boolean
                     then 'consent.granted' else 'consent.withdrawn' end;
    v_details := jsonb_build_object('purpose', compliance_private.fetchval(v_new, 'purpose'),
                                    'policy_version', compliance_private.fetchval(v_new, 'policy_version'),
                                    'source', compliance_private.fetchval(v_new, 'source'));
  end if;

  v_subject_salt := uuid_send(gen_random_uuid());
  v_actor_salt := uuid_send(gen_random_uuid());
  v_subject := compliance_private.fetchval(v_new, 'user_id');
  v_actor := compliance.current_actor();
  v_ip := compliance.current_client_ip();
  v_user_agent := compliance.current_user_agent();
  -- computed as plpgsql expressions: far cheaper than inside the INSERT's plan
  v_subject_digest := compliance_private.audit_subject_digest(v_subject_salt, v_subject, v_personal);
  v_actor_digest := compliance_private.audit_actor_digest(v_actor_salt, v_actor, v_ip, v_user_agent);
  insert into compliance.audit_logs (action, category, resource_type, resource_id, details, user_id,
    actor_id, ip_address, user_agent, personal_details, subject_part_salt, subject_part_digest,
    actor_part_salt, actor_part_digest, personal_digest)
  values (v_action, 'gdpr', tg_argv[0], compliance_private.fetchval(v_new, nullif(tg_argv[1], '')), v_details,
    v_subject, v_actor, v_ip, v_user_agent, v_personal, v_subject_salt, v_subject_digest, v_actor_salt,
    v_actor_digest, sha256(v_subject_digest || v_actor_digest));
  return null;
end;
$$;

create or replace function compliance_private.tg__audit_deleted_rows() returns trigger
  language plpgsql
  volatile
  security definer
  set search_path to pg_catalog, pg_temp
as $$
begin
  -- once per statement, so an erasure or a retention batch deleting thousands of rows pays
  -- for one check, not one per row
  if compliance_private.in_any_bulk_operation() then
    return null;
  end if;
  insert into compliance.audit_logs (action, category, resource_type, resource_id, details, user_id,
    actor_id, ip_address, user_agent, subject_part_salt, subject_part_digest, actor_part_salt,
    actor_part_digest, personal_digest)
  select y.action, 'gdpr', y.resource_type, y.resource_id, '{}', y.subject, y.actor, y.ip, y.agent,
         y.subject_salt, y.subject_digest, y.actor_salt, y.actor_digest, sha256(y.subject_digest || y.actor_digest)
    from (select x.*,
                 compliance_private.audit_subject_digest(x.subject_salt, x.subject, null) as subject_digest,
                 compliance_private.audit_actor_digest(x.actor_salt, x.actor, x.ip, x.agent) as actor_digest
            from (select tg_argv[0] || '.' || tg_argv[4] as action, tg_argv[0] as resource_type,
                         to_jsonb(o) ->> nullif(tg_argv[1], '') as resource_id, to_jsonb(o) ->> 'user_id' as subject,
                         uuid_send(gen_random_uuid()) as subject_salt, uuid_send(gen_random_uuid()) as actor_salt,
                         compliance.current_actor() as actor, compliance.current_client_ip() as ip,
                         compliance.current_user_agent() as agent
                    from old_rows o) x) y;
  return null;
end;
$$;

create or replace function compliance_private.tg_audit_logs__only_redaction() returns trigger
  language plpgsql
  volatile
  security definer
  set search_path to pg_catalog, pg_temp
as $$
begin
  -- the statement trigger _010_refuse_change admitted this UPDATE only inside an erasure;
  -- each row may lose personal parts, whole, and nothing else may change
  if (new.id, new.occurred_at, new.xact_id, new.action, new.category, new.resource_type,
          new.resource_id, new.outcome, new.failure_reason, new.details, new.personal_digest,
          new.subject_part_digest, new.actor_part_digest)
         is not distinct from
         (old.id, old.occurred_at, old.xact_id, old.action, old.category, old.resource_type,
          old.resource_id, old.outcome, old.failure_reason, old.details, old.personal_digest,
          old.subject_part_digest, old.actor_part_digest)
     and new.redacted_at is not null
     and (case when old.subject_part_digest is null then
           -- layout 1: the personal part goes whole
           num_nonnulls(new.user_id, new.actor_id, new.ip_address, new.user_agent, new.personal_details,
                        new.personal_salt) = 0
         else
           new.personal_salt is null
           and ((new.user_id, new.personal_details, new.subject_part_salt)
                  is not distinct from (old.user_id, old.personal_details, old.subject_part_salt)
                or num_nonnulls(new.user_id, new.personal_details, new.subject_part_salt) = 0)
           and ((new.actor_id, new.ip_address, new.user_agent, new.actor_part_salt)
                  is not distinct from (old.actor_id, old.ip_address, old.user_agent, old.actor_part_salt)
                or num_nonnulls(new.actor_id, new.ip_address, new.user_agent, new.actor_part_salt) = 0)
         end) then
    return new;
  end if;
  perform compliance_private.raise_error('APPND',
    'audit rows are append-only; the only permitted change is erasure''s redaction of a personal part',
    'Use compliance.erase_subject to remove a subject''s personal data from the audit log.');
  return null;
end;
$$;
comment on function compliance_private.tg_audit_logs__only_redaction() is
  'BEFORE UPDATE row trigger on audit_logs: permits only the removal of whole personal parts (layout 1: the personal part and its salt; layout 2: the subject part and/or the actor part with its salt) and stamping redacted_at; the statement trigger admits UPDATEs only inside an erasure. Anything else is refused (APPND).';

------------------------------------------------------------------------------------------
-- Row checks for both layouts
------------------------------------------------------------------------------------------

drop function compliance_private.audit_log_checks_between(xid8, bigint, xid8, bigint);
drop view compliance_private.audit_log_checks;

create view compliance_private.audit_log_checks as
  select a.xact_id, a.id, a.tableoid,
         compliance_private.audit_row_hash(a.id, a.occurred_at, a.xact_id, a.action, a.category,
           a.resource_type, a.resource_id, a.outcome, a.failure_reason, a.details, a.personal_digest) as row_hash,
         case when a.subject_part_digest is null then
                case when a.personal_salt is null then
                       case when num_nonnulls(a.user_id, a.actor_id, a.ip_address, a.user_agent, a.personal_details) > 0
                            then 'redacted_not_empty' end
                     when compliance_private.audit_personal_digest(a.personal_salt, a.user_id, a.actor_id,
                            a.ip_address, a.user_agent, a.personal_details) <> a.personal_digest
                       then 'digest_mismatch' end
              when a.actor_part_digest is null
                or sha256(a.subject_part_digest || a.actor_part_digest) <> a.personal_digest then 'digest_mismatch'
              when a.subject_part_salt is null and num_nonnulls(a.user_id, a.personal_details) > 0 then 'redacted_not_empty'
              when a.actor_part_salt is null and num_nonnulls(a.actor_id, a.ip_address, a.user_agent) > 0 then 'redacted_not_empty'
              when a.subject_part_salt is not null
               and compliance_private.audit_subject_digest(a.subject_part_salt, a.user_id, a.personal_details)
                   <> a.subject_part_digest then 'digest_mismatch'
              when a.actor_part_salt is not null
               and compliance_private.audit_actor_digest(a.actor_part_salt, a.actor_id, a.ip_address, a.user_agent)
                   <> a.actor_part_digest then 'digest_mismatch'
         end as personal_problem,
         case when a.subject_part_digest is null then a.personal_salt is null
              else a.subject_part_salt is null end as subject_redacted,
         case when a.subject_part_digest is null then a.personal_salt is null
              else a.actor_part_salt is null end as actor_redacted
    from compliance.audit_logs a;
comment on view compliance_private.audit_log_checks is
  'Each audit row''s hash (what a seal covers), what is wrong with its personal part (digest_mismatch: a part no longer matches its digest; redacted_not_empty: a redacted part still holds data; NULL: nothing), and which parts are redacted (layout 1: both or neither). The sealer and the verifier read it with bounds on id or (xact_id, id) so an index is used.';

create function compliance_private.audit_log_checks_between(
  from_xact xid8, from_id bigint, to_xact xid8, to_id bigint, below_id bigint
) returns setof compliance_private.audit_log_checks
  language sql
  stable
begin atomic
  -- three ranges, each with bounds a B-tree scan can stop at: the rest of the first
  -- transaction, the transactions strictly between, the start of the last one
  select * from compliance_private.audit_log_checks c
   where c.xact_id = from_xact and c.id > from_id
     and c.id <= case when from_xact = to_xact then to_id else 9223372036854775807 end and c.id < below_id
  union all
  select * from compliance_private.audit_log_checks c
   where c.xact_id > from_xact and c.xact_id < to_xact and c.id < below_id
  union all
  select * from compliance_private.audit_log_checks c
   where from_xact < to_xact and c.xact_id = to_xact and c.id <= to_id and c.id < below_id;
end;
comment on function compliance_private.audit_log_checks_between(xid8, bigint, xid8, bigint, bigint) is
  'Layout-1 seals: the audit_log_checks rows after (from_xact, from_id) up to and including (to_xact, to_id) in (xact_id, id) order and with an id below below_id (where layout 2 begins), read with index bounds that end where the range ends.';

------------------------------------------------------------------------------------------
-- Seal layout 2: id ranges
------------------------------------------------------------------------------------------

alter table compliance.audit_seals
  add column layout smallint not null default 1,
  add column first_row_id bigint,
  alter column last_xact_id drop not null,
  add constraint audit_seals_layout_known check (
    (layout = 1 and last_xact_id is not null and first_row_id is null)
    or (layout = 2 and last_xact_id is null and first_row_id is not null and first_row_id <= last_row_id));
comment on column compliance.audit_seals.layout is
  '1: the seal covers the rows after the previous seal''s (last_xact_id, last_row_id) in (xact_id, id) order. 2: it covers the rows with ids first_row_id to last_row_id. db/AUDIT_HASHING.md.';
comment on column compliance.audit_seals.first_row_id is 'Layout 2: the first id of the range covered (the previous layout-2 seal''s last_row_id + 1).';
comment on column compliance.audit_seals.last_xact_id is 'Layout 1: transaction id of the last row covered. NULL in layout 2.';
comment on column compliance.audit_seals.last_row_id is 'Layout 1: id of the last row covered. Layout 2: the last id of the range covered (not necessarily a row: ids of rolled-back rows are covered too).';
comment on column compliance.audit_seals.previous_hash is 'seal_hash of the previous seal (32 zero bytes for seal 1).';
comment on table compliance.audit_seals is
  'Hash chain over the audit log (db/AUDIT_HASHING.md). Seal n hashes the previous seal''s hash, its own range and its rows'' hashes. Append-only (APPND) except that retention removes the seals whose rows it dropped, recording the last one in its audit.partition_dropped row. Not personal data.';

create function compliance_private.audit_seal_hash_v2(
  previous_hash bytea, seal_no bigint, first_row_id bigint, last_row_id bigint, row_count integer, row_hashes bytea
) returns bytea
  language sql
  stable
  parallel safe
  return sha256('\x00000002'::bytea || previous_hash || int8send(seal_no) || int8send(first_row_id)
                || int8send(last_row_id) || int8send(row_count::bigint) || row_hashes);
comment on function compliance_private.audit_seal_hash_v2(bytea, bigint, bigint, bigint, integer, bytea) is
  'The hash of a layout-2 seal (db/AUDIT_HASHING.md).';

create function compliance_private.audit_seal_hash_of(seal compliance.audit_seals) returns bytea
  language sql
  stable
  return case seal.layout
    when 1 then compliance_private.audit_seal_hash(seal.previous_hash, seal.seal_no, seal.last_xact_id,
                  seal.last_row_id, seal.row_count, seal.row_hashes)
    when 2 then compliance_private.audit_seal_hash_v2(seal.previous_hash, seal.seal_no, seal.first_row_id,
                  seal.last_row_id, seal.row_count, seal.row_hashes)
  end;
comment on function compliance_private.audit_seal_hash_of(compliance.audit_seals) is
  'Recomputes a stored seal''s hash by its layout.';

------------------------------------------------------------------------------------------
-- The last layout-1 seals, then the head for layout 2
------------------------------------------------------------------------------------------

-- no writer may hold uncommitted audit rows while the rest of layout 1 is sealed: under this
-- lock every row present is committed, so all of them can be sealed in (xact_id, id) order
lock table compliance.audit_logs in exclusive mode;

do $seal_rest$
declare
  v_head compliance_private.audit_seal_head;
  v_count integer;
  v_ids bigint[];
  v_hashes bytea;
  v_last_xact xid8;
  v_hash bytea;
begin
  select * into strict v_head from compliance_private.audit_seal_head for update;
  loop
    select count(*)::integer, array_agg(b.id order by b.xact_id, b.id),
           string_agg(b.row_hash, ''::bytea order by b.xact_id, b.id),
           (array_agg(b.xact_id order by b.xact_id desc, b.id desc))[1]
      into v_count, v_ids, v_hashes, v_last_xact
      from (select c.id, c.xact_id, c.row_hash from compliance_private.audit_log_checks c
             where (c.xact_id, c.id) > (v_head.last_xact_id, v_head.last_row_id)
             order by c.xact_id, c.id limit 10000) b;
    exit when v_count = 0;
    v_head.last_seal_no := v_head.last_seal_no + 1;
    v_hash := compliance_private.audit_seal_hash(v_head.last_hash, v_head.last_seal_no, v_last_xact,
                v_ids[v_count], v_count, v_hashes);
    insert into compliance.audit_seals (seal_no, last_xact_id, last_row_id, row_count, row_ids, row_hashes,
                                        previous_hash, seal_hash)
    values (v_head.last_seal_no, v_last_xact, v_ids[v_count], v_count, v_ids, v_hashes, v_head.last_hash, v_hash);
    v_head.last_xact_id := v_last_xact;
    v_head.last_row_id := v_ids[v_count];
    v_head.last_hash := v_hash;
  end loop;
  update compliance_private.audit_seal_head
     set last_seal_no = v_head.last_seal_no, last_xact_id = v_head.last_xact_id,
         last_row_id = v_head.last_row_id, last_hash = v_head.last_hash;
end
$seal_rest$;

alter table compliance_private.audit_seal_head
  add column next_row_id bigint,
  add column pending_row_id bigint,
  add column pending_xact_id xid8;
-- layout 2 starts after every id handed out so far (none is held by an open transaction: see
-- the lock above)
update compliance_private.audit_seal_head
   set next_row_id = (select case when s.is_called then s.last_value + 1 else s.last_value end
                        from compliance_private.audit_logs_id_seq s);
alter table compliance_private.audit_seal_head
  alter column next_row_id set not null,
  drop column last_xact_id,
  drop column last_row_id,
  add constraint audit_seal_head_pending_whole check ((pending_row_id is null) = (pending_xact_id is null));
comment on table compliance_private.audit_seal_head is
  'Where sealing continues: the newest seal and its hash, the first id not yet sealed, and a pending horizon. One row; its lock serializes sealers, never writers. Verification does not read it except to notice newest seals that went missing.';
comment on column compliance_private.audit_seal_head.next_row_id is 'The first id the next seal covers.';
comment on column compliance_private.audit_seal_head.pending_row_id is
  'Every id up to this one may be sealed once every transaction older than pending_xact_id has ended.';
comment on column compliance_private.audit_seal_head.pending_xact_id is
  'A sealer''s own transaction id, taken after it read pending_row_id from the id sequence. Ignored when it is newer than the current transaction (after a restore onto another cluster).';

-- rows redacted and rows dropped before this migration are accounted for by its own row,
-- so verification can hold every later redaction and gap to its erasure or drop record
do $adopt$
declare
  v_head compliance_private.audit_seal_head;
  v_anchor bigint;
begin
  select * into strict v_head from compliance_private.audit_seal_head;
  perform compliance_private.append_audit('audit.layout_upgraded', 'system', 'audit_log', '2',
    jsonb_build_object(
      'first_row_id', v_head.next_row_id,
      'redacted_subject_rows', coalesce((select jsonb_agg(a.id order by a.id) from compliance.audit_logs a
                                          where a.personal_salt is null), '[]'),
      'redacted_actor_rows', '[]'::jsonb,
      'dropped_rows_in_kept_seals', coalesce((
        select jsonb_agg(u.id order by u.id)
          from compliance.audit_seals s cross join unnest(s.row_ids) u(id)
         where s.seal_no <= v_head.anchor_seal_no
           and not exists (select from compliance.audit_logs a where a.id = u.id)), '[]')),
    null, null, 'success', null, null, false);
end
$adopt$;

alter table compliance_private.audit_seal_head
  drop column anchor_seal_no,
  drop column anchor_hash;

------------------------------------------------------------------------------------------
-- Sealing in id order
------------------------------------------------------------------------------------------

create or replace function compliance.seal_audit_log(max_rows_per_seal integer default 10000, max_seals integer default 100)
  returns integer
  language plpgsql
  volatile
  security definer
  set search_path to pg_catalog, pg_temp
as $$
declare
  v_seen bigint;
  v_head compliance_private.audit_seal_head;
  v_own xid8;
  v_xmin xid8;
  v_limit bigint;
  v_seals integer := 0;
  v_count integer;
  v_ids bigint[];
  v_hashes bytea;
  v_last bigint;
  v_hash bytea;
begin
  if max_rows_per_seal not between 1 and 1000000 or max_seals < 1 then
    perform compliance_private.raise_error('BADRG', 'max_rows_per_seal must be 1..1000000 and max_seals at least 1');
  end if;
  -- every id handed out so far; each was taken by a transaction that already had its id
  select case when s.is_called then s.last_value else s.last_value - 1 end into v_seen
    from compliance_private.audit_logs_id_seq s;
  -- serializes sealers only: writers never touch this row. Locking it gives us a transaction
  -- id newer than that of every transaction holding an id up to v_seen.
  select * into strict v_head from compliance_private.audit_seal_head for update;
  v_own := pg_current_xact_id();
  v_xmin := pg_snapshot_xmin(pg_current_snapshot());

  if v_xmin >= v_own then
    v_limit := v_seen;              -- nothing older than us is running: every id seen is final
    v_head.pending_row_id := null;
    v_head.pending_xact_id := null;
  elsif v_head.pending_xact_id <= v_own and v_xmin >= v_head.pending_xact_id then
    v_limit := v_head.pending_row_id;  -- an earlier run's horizon has come of age
    v_head.pending_row_id := v_seen;
    v_head.pending_xact_id := v_own;
  else
    v_limit := v_head.next_row_id - 1;
    if v_head.pending_xact_id is null or v_head.pending_xact_id > v_own then
      -- none yet, or recorded on another cluster before a restore
      v_head.pending_row_id := v_seen;
      v_head.pending_xact_id := v_own;
    end if;
  end if;

  while v_seals < max_seals and v_head.next_row_id <= v_limit loop
    select count(*)::integer, array_agg(b.id order by b.id), string_agg(b.row_hash, ''::bytea order by b.id)
      into v_count, v_ids, v_hashes
      from (select c.id, c.row_hash
              from compliance_private.audit_log_checks c
             where c.id >= v_head.next_row_id and c.id <= v_limit
             order by c.id
             limit max_rows_per_seal) b;
    if v_count = 0 then
      v_head.next_row_id := v_limit + 1;  -- only ids of rolled-back rows: nothing to seal
      exit;
    end if;
    -- a full seal ends at its last row; the last one covers the range up to the limit
    v_last := case when v_count = max_rows_per_seal then v_ids[v_count] else v_limit end;
    v_head.last_seal_no := v_head.last_seal_no + 1;
    v_hash := compliance_private.audit_seal_hash_v2(v_head.last_hash, v_head.last_seal_no,
                v_head.next_row_id, v_last, v_count, v_hashes);
    insert into compliance.audit_seals (seal_no, layout, first_row_id, last_row_id, row_count, row_ids,
                                        row_hashes, previous_hash, seal_hash)
    values (v_head.last_seal_no, 2, v_head.next_row_id, v_last, v_count, v_ids, v_hashes,
            v_head.last_hash, v_hash);
    v_head.next_row_id := v_last + 1;
    v_head.last_hash := v_hash;
    v_seals := v_seals + 1;
  end loop;

  update compliance_private.audit_seal_head
     set last_seal_no = v_head.last_seal_no, last_hash = v_head.last_hash, next_row_id = v_head.next_row_id,
         pending_row_id = v_head.pending_row_id, pending_xact_id = v_head.pending_xact_id;
  return v_seals;
end;
$$;
comment on function compliance.seal_audit_log(integer, integer) is
  'Seals audit rows in id order into new audit_seals (at most max_rows_per_seal rows each, at most max_seals per call): every id handed out before the call once no older transaction is still running, otherwise up to the horizon an earlier call recorded. Takes no lock that a writer waits for; concurrent sealers wait for each other. Survives a restore onto another cluster (db/AUDIT_HASHING.md). Returns the number of seals made. The worker runs it every few seconds.';

------------------------------------------------------------------------------------------
-- Where a row lies in the chain
------------------------------------------------------------------------------------------

create function compliance_private.audit_chain_bounds(
  out layout2_from bigint, out layout1_end_xact xid8, out layout1_end_id bigint, out layout2_end bigint
)
  language sql
  stable
begin atomic
  -- ids from layout2_from on are sealed in id order; below it in (xact_id, id) order
  select coalesce((select s.first_row_id from compliance.audit_seals s where s.layout = 2 order by s.seal_no limit 1),
                  (select h.next_row_id from compliance_private.audit_seal_head h)),
         (select s.last_xact_id from compliance.audit_seals s where s.layout = 1 order by s.seal_no desc limit 1),
         (select s.last_row_id from compliance.audit_seals s where s.layout = 1 order by s.seal_no desc limit 1),
         (select s.last_row_id from compliance.audit_seals s where s.layout = 2 order by s.seal_no desc limit 1);
end;
comment on function compliance_private.audit_chain_bounds() is
  'Where layout 2 begins (the first layout-2 seal''s first id), where the layout-1 seals end and where the layout-2 seals end.';

create function compliance_private.audit_seal_rows(
  seal compliance.audit_seals, from_xact xid8, from_id bigint, layout2_from bigint
) returns setof compliance_private.audit_log_checks
  language sql
  stable
begin atomic
  select * from compliance_private.audit_log_checks_between(from_xact, from_id, seal.last_xact_id, seal.last_row_id, layout2_from)
   where seal.layout = 1
  union all
  select * from compliance_private.audit_log_checks c
   where seal.layout = 2 and c.id >= seal.first_row_id and c.id <= seal.last_row_id;
end;
comment on function compliance_private.audit_seal_rows(compliance.audit_seals, xid8, bigint, bigint) is
  'The rows present in a seal''s range: layout 1 after (from_xact, from_id), the previous seal''s end, and below layout2_from; layout 2 its id range.';

------------------------------------------------------------------------------------------
-- Verification from the chain's own records
------------------------------------------------------------------------------------------

create function compliance_private.audit_parts_missing(have text, need text) returns boolean
  language sql
  immutable
  return (strpos(coalesce(need, ''), 'a') > 0 and strpos(coalesce(have, ''), 'a') = 0)
      or (strpos(coalesce(need, ''), 's') > 0 and strpos(coalesce(have, ''), 's') = 0);
comment on function compliance_private.audit_parts_missing(text, text) is
  'Whether need names a personal part (a: actor, s: subject) that have does not.';

create function compliance_private.audit_problem_detail(kind text) returns text
  language sql
  immutable
  return case kind
    when 'deleted_row' then 'a sealed row is missing, and no sealed drop record removed it'
    when 'forged_row' then 'a row in the sealed range is not in the seal'
    when 'altered_row' then 'the row no longer matches its sealed hash'
    when 'reordered_row' then 'the row is not where the seal put it'
    when 'digest_mismatch' then 'the personal part no longer matches its digest'
    when 'redacted_not_empty' then 'a redacted personal part still holds data'
    when 'unaccounted_redaction' then 'a personal part is redacted that no sealed erasure lists'
    when 'unredacted_row' then 'a sealed erasure lists this row''s personal part as redacted, and it is not'
  end;
comment on function compliance_private.audit_problem_detail(text) is
  'The sentence verify_audit_log() gives with each kind of row finding.';

drop function compliance.verify_audit_log();
create function compliance.verify_audit_log(
  out ok boolean, out seals_checked bigint, out rows_checked bigint, out unsealed_rows bigint, out problems jsonb
)
  language plpgsql
  stable
  security definer
  set search_path to pg_catalog, pg_temp
as $$
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
begin
  seals_checked := 0;
  rows_checked := 0;
  problems := '[]';
  select * into strict v_bounds from compliance_private.audit_chain_bounds();

  -- what sealed records account for: only rows inside the layout-2 seals count, and of the
  -- upgrade records only the first (a later one would be a forgery)
  with accounting as (
    select a.id, a.action, a.details from compliance.audit_logs a
     where a.action in ('audit.partition_dropped', 'subject.erased', 'audit.layout_upgraded')
       and a.outcome = 'success' and a.id >= v_bounds.layout2_from and a.id <= v_bounds.layout2_end
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

  -- where the chain starts: at seal 1, or where a sealed drop record says it removed seals
  select * into v_first from compliance.audit_seals s order by s.seal_no limit 1;
  v_previous_hash := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
  v_expected_no := 1;
  if v_first.seal_no > 1 then
    v_expected_no := v_first.seal_no;
    v_previous_hash := v_first.previous_hash;
    select (a.details -> 'seal_end' ->> 'xact_id')::xid8 as xact_id, (a.details -> 'seal_end' ->> 'row_id')::bigint as row_id
      into v_start
      from compliance.audit_logs a
     where a.action = 'audit.partition_dropped' and a.id >= v_bounds.layout2_from and a.id <= v_bounds.layout2_end
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

  for v_seal in select * from compliance.audit_seals s order by s.seal_no loop
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
    if v_seal.layout = 2 and v_seal.first_row_id <> coalesce(v_next_id, v_bounds.layout2_from) then
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
  -- began, so one is a forgery (or a row of a removed seal that retention did not drop)
  for v_problem in
    select a.id from compliance.audit_logs a
     where a.id < v_bounds.layout2_from
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
                when compliance_private.audit_parts_missing(e.parts, f.parts) then 'unaccounted_redaction'
                when compliance_private.audit_parts_missing(f.parts, e.parts) then 'unredacted_row'
           end as kind
      from (select jsonb_object_keys(v_redacted) as id union select jsonb_object_keys(v_expected)) k
      cross join lateral (select v_redacted ->> k.id as parts) f
      cross join lateral (select v_expected ->> k.id as parts) e
     where f.parts is not null or exists (select from compliance.audit_logs a where a.id = k.id::bigint)
     order by 1
  loop
    continue when v_problem.kind is null;
    problems := problems || jsonb_build_object('kind', v_problem.kind, 'seal_no', null, 'row_id', v_problem.id,
      'detail', compliance_private.audit_problem_detail(v_problem.kind));
  end loop;

  ok := jsonb_array_length(problems) = 0;
end;
$$;
comment on function compliance.verify_audit_log() is
  'Recomputes the whole seal chain, every row hash and every personal digest, from the chain''s own records only. Returns ok, how many seals and rows it checked, how many rows are not sealed yet (their personal parts are checked, their presence is not proven), and problems: a JSON array of {kind, seal_no, row_id, detail}. kind: deleted_row, forged_row, altered_row, reordered_row, digest_mismatch, redacted_not_empty, unaccounted_redaction, unredacted_row, altered_seal, broken_chain, missing_seal, unaccounted_gap. db/AUDIT_HASHING.md says what it proves and what it cannot see.';
grant execute on function compliance.verify_audit_log() to compliance_auditor, compliance_dpo, compliance_worker;

------------------------------------------------------------------------------------------
-- Retention removes the seals of the rows it drops, and says so in the chain
------------------------------------------------------------------------------------------

create or replace function compliance_private.tg_audit_logs__refuse_change() returns trigger
  language plpgsql
  volatile
  security definer
  set search_path to pg_catalog, pg_temp
as $$
begin
  if tg_op = 'UPDATE' and tg_relid <> 'compliance.audit_seals'::regclass
     and compliance_private.in_bulk_operation('erasure') then
    return null;  -- each changed row is then checked by tg_audit_logs__only_redaction
  end if;
  if tg_op = 'DELETE' and tg_relid = 'compliance.audit_seals'::regclass
     and compliance_private.in_bulk_operation('retention') then
    return null;  -- drop_expired_audit_partitions removes the seals of the rows it dropped
  end if;
  perform compliance_private.raise_error('APPND',
    format('%s on %s is refused: the audit log is append-only', tg_op, tg_table_name),
    'Audit rows are never changed or removed. Erasure redacts personal fields through compliance.erase_subject; retention drops audit partitions through compliance.apply_retention.');
  return null;
end;
$$;
comment on function compliance_private.tg_audit_logs__refuse_change() is
  'BEFORE UPDATE/DELETE/TRUNCATE statement trigger on audit_logs, its partitions and audit_seals: refuses every change (APPND) for every role, the owner included, except an UPDATE of audit rows inside an erasure (tg_audit_logs__only_redaction then checks each row) and a DELETE of seals inside audit retention.';

create function compliance_private.audit_first_kept(dropping regclass, layout2_from bigint,
  out v1_xact xid8, out v1_id bigint, out v2_id bigint)
  language plpgsql
  stable
  set search_path to pg_catalog, pg_temp
as $$
declare
  v_partition regclass;
  v_row record;
begin
  -- partition by partition, each with its own index, so the partition being dropped is never read
  for v_partition in
    select i.inhrelid::regclass from pg_inherits i
     where i.inhparent = 'compliance.audit_logs'::regclass and i.inhrelid <> dropping
  loop
    execute format('select a.xact_id, a.id from %s a where a.id < $1 order by a.xact_id, a.id limit 1', v_partition)
      into v_row using layout2_from;
    if v_row.id is not null and (v1_id is null or (v_row.xact_id, v_row.id) < (v1_xact, v1_id)) then
      v1_xact := v_row.xact_id;
      v1_id := v_row.id;
    end if;
    execute format('select min(a.id) as id from %s a where a.id >= $1', v_partition) into v_row using layout2_from;
    if v_row.id is not null and (v2_id is null or v_row.id < v2_id) then
      v2_id := v_row.id;
    end if;
  end loop;
end;
$$;
comment on function compliance_private.audit_first_kept(regclass, bigint) is
  'The first audit row, in seal order, outside the partition being dropped: in layout 1 by (xact_id, id) below layout2_from, in layout 2 by id.';

create or replace function compliance_private.drop_expired_audit_partitions(cutoff timestamptz, dry_run boolean)
  returns jsonb
  language plpgsql
  volatile
  set search_path to pg_catalog, pg_temp
as $$
declare
  v_partition record;
  v_relid regclass;
  v_head compliance_private.audit_seal_head;
  v_bounds record;
  v_kept record;
  v_last_removed compliance.audit_seals;
  v_kept_rows jsonb;
  v_dropped jsonb := '[]';
  v_unsealed boolean;
  v_rows bigint;
  v_drop_started timestamptz;
begin
  for v_partition in select * from compliance_private.expired_audit_partitions(cutoff) loop
    select * into strict v_head from compliance_private.audit_seal_head for update;
    v_relid := format('compliance.%I', v_partition.partition_name)::regclass;
    execute format('select exists (select from %s a where a.id >= $1)', v_relid) into v_unsealed using v_head.next_row_id;
    if v_unsealed then
      raise warning 'audit partition % holds unsealed rows; not dropped (run compliance.seal_audit_log())', v_partition.partition_name;
      continue;
    end if;
    execute format('select count(*) from %s', v_relid) into v_rows;

    -- the seals all of whose rows go with this partition (or went before): those before the
    -- first row that stays, in chain order
    select * into strict v_bounds from compliance_private.audit_chain_bounds();
    select * into strict v_kept from compliance_private.audit_first_kept(v_relid, v_bounds.layout2_from);
    select * into v_last_removed from compliance.audit_seals s
     where case when s.layout = 1 then v_kept.v1_id is null or (s.last_xact_id, s.last_row_id) < (v_kept.v1_xact, v_kept.v1_id)
                else v_kept.v1_id is null and (v_kept.v2_id is null or s.last_row_id < v_kept.v2_id) end
     order by s.seal_no desc limit 1;
    -- this partition's rows that kept seals still list: verification must know they went
    execute format($q$
      select coalesce(jsonb_agg(a.id order by a.id), '[]') from %s a
       where case when a.id >= $1 then $2 is null or $2 = 1 or a.id > $4
                  else $2 is null or ($2 = 1 and (a.xact_id, a.id) > ($3, $4)) end$q$, v_relid)
      into v_kept_rows
      using v_bounds.layout2_from, v_last_removed.layout, v_last_removed.last_xact_id, v_last_removed.last_row_id;

    v_drop_started := clock_timestamp();
    if not dry_run then
      -- the only step that locks writers out (ACCESS EXCLUSIVE on the parent), and it is brief
      execute format('drop table %s', v_relid);
      if v_last_removed.seal_no is not null then
        perform compliance_private.begin_bulk_operation('retention');
        delete from compliance.audit_seals s where s.seal_no <= v_last_removed.seal_no;
        perform compliance_private.end_bulk_operation();
      end if;
      perform compliance_private.append_audit('audit.partition_dropped', 'system', 'audit_partition',
        v_partition.partition_name,
        jsonb_build_object('rows', v_rows, 'range_end', v_partition.range_end,
          'seals_removed_through', v_last_removed.seal_no,
          'seal_hash', encode(v_last_removed.seal_hash, 'hex'),
          'seal_end', jsonb_build_object('xact_id', v_last_removed.last_xact_id, 'row_id', v_last_removed.last_row_id),
          'dropped_rows_in_kept_seals', v_kept_rows));
    end if;
    v_dropped := v_dropped || jsonb_build_object('partition', v_partition.partition_name, 'rows', v_rows,
      'seals_removed_through', v_last_removed.seal_no, 'rows_in_kept_seals', jsonb_array_length(v_kept_rows),
      'drop_ms', round((extract(epoch from clock_timestamp() - v_drop_started) * 1000)::numeric, 3));
  end loop;
  return v_dropped;
end;
$$;
comment on function compliance_private.drop_expired_audit_partitions(timestamptz, boolean) is
  'Drops whole audit partitions older than cutoff once every row in them is sealed, removes the seals all of whose rows are gone, and audits each drop (audit.partition_dropped) with the last seal removed, its hash and end, and the ids of dropped rows that kept seals still list: the records verification accepts for a chain that no longer starts at seal 1.';

------------------------------------------------------------------------------------------
-- Erasure redacts parts, and lists them
------------------------------------------------------------------------------------------

create or replace function compliance_private.erase_subject_core(user_id text, reason text, confirm boolean, requested_by text)
  returns jsonb
  language plpgsql
  volatile
  set search_path to pg_catalog, pg_temp
as $$
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
$$;
