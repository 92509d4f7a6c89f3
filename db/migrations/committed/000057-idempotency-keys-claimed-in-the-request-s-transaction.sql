--! Previous: sha1:5c20d6a2fabc24a182fff4a1ed19369420b3170e
--! Hash: sha1:7e44bf92a82a1a306c98bf46a9086221feab33ac
--! Message: Idempotency-Keys claimed in the request's transaction

-- Idempotency-Keys: an API request that carries one claims it in its own transaction, so a retry
-- after a failover that hid whether the first attempt committed is applied once (RPLAY otherwise).

create table compliance_private.request_keys (
  key_digest bytea not null,
  claimed_at timestamptz not null default now(),
  constraint request_keys_pkey primary key (key_digest),
  constraint request_keys_digest_length check (octet_length(key_digest) = 32)
);
comment on table compliance_private.request_keys is
  'Idempotency-Keys API requests claimed (compliance.claim_request_key), as sha256(actor id, key): no one is named. Forgotten after a day.';
comment on column compliance_private.request_keys.key_digest is 'sha256 of the actor''s id, a unit separator and the client''s Idempotency-Key.';
comment on column compliance_private.request_keys.claimed_at is 'When the request that carried the key committed.';
create index request_keys_claimed_at_idx on compliance_private.request_keys (claimed_at);
alter table compliance_private.request_keys enable row level security;
alter table compliance_private.request_keys force row level security;
-- included from fixtures/requests/request_keys.owner_routines.sql
-- policy owner_routines on compliance_private.request_keys: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance_private.request_keys;
create policy owner_routines on compliance_private.request_keys as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance_private.request_keys is 'Only the owner''s routines (claim_request_key, forget_request_keys) read and write the keys. No application role reaches the table.';

-- included from fixtures/requests/claim_request_key.sql
-- compliance.claim_request_key(key text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.claim_request_key(key text)
 RETURNS void
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  if key is null or length(key) not between 8 and 200 then
    perform compliance_private.raise_error('BADRG', 'an Idempotency-Key has 8 to 200 characters (a UUID will do)');
  end if;
  -- the actor's id and the key, digested: the table names no one, and one actor's key is not another's
  insert into compliance_private.request_keys (key_digest)
  values (sha256(convert_to(coalesce(compliance.current_actor(), '') || chr(31) || key, 'UTF8')))
  on conflict on constraint request_keys_pkey do nothing;
  if not found then
    perform compliance_private.raise_error('RPLAY', 'this request (its Idempotency-Key) was applied already; it is not applied again',
      'Nothing to do: the first attempt committed. Use a new key for a new request.');
  end if;
end;
$function$;

comment on function compliance.claim_request_key(key text) is
  'Called in an API request''s transaction when the client sent an Idempotency-Key: records the key (digested with the actor''s id) in the same transaction as the request''s writes, so a retry after an unknown outcome (a failover while committing) is refused with RPLAY when the first attempt committed, and applied when it did not. Keys are forgotten after a day (compliance.forget_request_keys). Errors: BADRG, RPLAY.';

revoke all on function compliance.claim_request_key(text) from public;
grant execute on function compliance.claim_request_key(text) to compliance_app, compliance_dpo, compliance_staff, compliance_approver, compliance_auditor;
-- included from fixtures/requests/forget_request_keys.sql
-- compliance.forget_request_keys(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.forget_request_keys()
 RETURNS bigint
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  with forgotten as (delete from compliance_private.request_keys k where k.claimed_at < now() - interval '1 day' returning 1)
  select count(*) from forgotten;
$function$;

comment on function compliance.forget_request_keys() is
  'Forgets Idempotency-Keys claimed more than a day ago (a client retries within minutes); the worker calls it daily with partition maintenance. Returns how many. For the worker.';

revoke all on function compliance.forget_request_keys() from public;
grant execute on function compliance.forget_request_keys() to compliance_worker;

select compliance_private.record_expected_grants();
