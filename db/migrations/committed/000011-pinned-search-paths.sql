--! Previous: sha1:7f11145b334beb3d7c0a6c547a809baf3ad3aa44
--! Hash: sha1:aa944e035e815dd5bc271c8a4231dbf6ac9f47db
--! Message: pinned-search-paths

-- Every pgcomply function resolves names the same way whoever calls it (issue #12, item 1).
--
-- A function without a pinned search_path resolves unqualified names through its caller's
-- search_path. A login that could create a schema named after a request role (the default
-- path starts with "$user") could then slip its own array_to_string or set_config into
-- set_request_context, which runs inside every API request. Setup no longer lets any login
-- create schemas; this migration closes the other half: no function depends on the
-- caller's search_path.
--
-- Two ways, chosen per function:
-- 1. The small SQL helpers that PostgreSQL inlines into the statements that call them (the
--    request context read by every row-level security policy, the audit hash layout run per
--    row by the sealer and the verifier) get SQL-standard bodies (RETURN / BEGIN ATOMIC).
--    Such a body is parsed when the function is created and stores the objects it uses by
--    OID, so there is nothing left to resolve at call time, and it still inlines. A
--    SET search_path clause would stop the inlining.
-- 2. Every other function gets search_path = pg_catalog, pg_temp: built-ins first, and the
--    session's temporary schema last (PostgreSQL never looks up functions or operators there).
--    The SECURITY DEFINER functions lose public from their path: nothing of pgcomply lives there.

create or replace function compliance.current_subject() returns text
  language sql
  stable
  parallel safe
return nullif(current_setting('compliance.actor', true), '');

create or replace function compliance.current_actor() returns text
  language sql
  stable
  parallel safe
return coalesce(nullif(current_setting('compliance.actor', true), ''), session_user::text);

create or replace function compliance.current_actor_roles() returns text[]
  language sql
  stable
  parallel safe
return coalesce(string_to_array(nullif(current_setting('compliance.actor_roles', true), ''), ','), '{}');

create or replace function compliance.current_client_ip() returns inet
  language sql
  stable
  parallel safe
return nullif(current_setting('compliance.client_ip', true), '')::inet;

create or replace function compliance.current_user_agent() returns text
  language sql
  stable
  parallel safe
return nullif(current_setting('compliance.user_agent', true), '');

create or replace function compliance_private.hash_field(value text) returns bytea
  language sql
  stable
  parallel safe
return case when value is null then '\xffffffff'::bytea
            else int4send(octet_length(value)) || convert_to(value, 'UTF8') end;

create or replace function compliance_private.audit_personal_digest(
  salt bytea,
  user_id text,
  actor_id text,
  ip_address inet,
  user_agent text,
  personal_details jsonb
) returns bytea
  language sql
  stable
  parallel safe
return sha256(salt
  || compliance_private.hash_field(user_id)
  || compliance_private.hash_field(actor_id)
  || compliance_private.hash_field(host(ip_address))
  || compliance_private.hash_field(user_agent)
  || compliance_private.hash_field(personal_details::text));

create or replace function compliance_private.audit_row_hash(
  id bigint,
  occurred_at timestamptz,
  xact_id xid8,
  action text,
  category text,
  resource_type text,
  resource_id text,
  outcome text,
  failure_reason text,
  details jsonb,
  personal_digest bytea
) returns bytea
  language sql
  stable
  parallel safe
return sha256(int8send(id)
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

create or replace function compliance_private.audit_seal_hash(
  previous_hash bytea,
  seal_no bigint,
  last_xact_id xid8,
  last_row_id bigint,
  row_count integer,
  row_hashes bytea
) returns bytea
  language sql
  stable
  parallel safe
return sha256(previous_hash || int8send(seal_no) || int8send(last_xact_id::text::bigint)
              || int8send(last_row_id) || int8send(row_count::bigint) || row_hashes);

create or replace function compliance_private.audit_log_checks_between(
  from_xact xid8,
  from_id bigint,
  to_xact xid8,
  to_id bigint
) returns setof compliance_private.audit_log_checks
  language sql
  stable
begin atomic
  -- three ranges, each with bounds a B-tree scan can stop at: the rest of the first
  -- transaction, the transactions strictly between, the start of the last one
  select * from compliance_private.audit_log_checks c
   where c.xact_id = from_xact and c.id > from_id
     and c.id <= case when from_xact = to_xact then to_id else 9223372036854775807 end
  union all
  select * from compliance_private.audit_log_checks c
   where c.xact_id > from_xact and c.xact_id < to_xact
  union all
  select * from compliance_private.audit_log_checks c
   where from_xact < to_xact and c.xact_id = to_xact and c.id <= to_id;
end;

do $pin$
declare
  v_function regprocedure;
begin
  for v_function in
    select p.oid::regprocedure
      from pg_catalog.pg_proc p
     where p.pronamespace in ('compliance'::regnamespace, 'compliance_private'::regnamespace)
       and p.prosqlbody is null
       -- hstore's C functions belong to the extension, which PostgreSQL manages
       and not exists (select from pg_catalog.pg_depend d
                        where d.classid = 'pg_catalog.pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
  loop
    execute format('alter function %s set search_path to pg_catalog, pg_temp', v_function);
  end loop;
end
$pin$;
