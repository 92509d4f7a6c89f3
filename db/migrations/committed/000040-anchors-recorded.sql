--! Previous: sha1:d626e27adc758435bb49c3e29870185a3c61cfe7
--! Hash: sha1:9d756ad795cf67025e64a53cd57d16450eae223f
--! Message: anchors-recorded

-- Anchors recorded in the chain (issue #22's "last anchor"): every anchor written outside the
-- database (pgcomply anchor, the worker's hourly publish_anchor) leaves an audit.anchored row,
-- and the DPO console shows the newest.

-- included from fixtures/anchors/record_anchor.sql
-- compliance.record_anchor(seal_no bigint, seal_hash text, key_id text, erasures integer, destination text): its current definition.
-- Change it here and include this file in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.record_anchor(seal_no bigint, seal_hash text, key_id text, erasures integer, destination text)
 RETURNS bigint
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  if key_id is null or key_id !~ '^[0-9A-Za-z_-]{1,64}$' or erasures is null or erasures < 0
     or destination is null or length(destination) not between 1 and 1024 then
    perform compliance_private.raise_error('BADRG', 'an anchor needs the signing key''s id, the number of erasures it carries and where it was written');
  end if;
  if not exists (select from compliance.audit_seals s where s.seal_no = record_anchor.seal_no and encode(s.seal_hash, 'hex') = record_anchor.seal_hash) then
    perform compliance_private.raise_error('BADRG', format('seal %s with hash %s is not in the chain: an anchor names a seal as it is', record_anchor.seal_no, record_anchor.seal_hash));
  end if;
  return compliance_private.append_audit('audit.anchored', 'soc2', 'audit_seal', record_anchor.seal_no::text,
    jsonb_build_object('seal_no', record_anchor.seal_no, 'seal_hash', record_anchor.seal_hash, 'key_id', record_anchor.key_id,
      'erasures', record_anchor.erasures, 'destination', record_anchor.destination));
end;
$function$;

comment on function compliance.record_anchor(seal_no bigint, seal_hash text, key_id text, erasures integer, destination text) is
  'Records in the audit chain that an anchor was written outside the database (pgcomply anchor, the worker''s hourly publish_anchor): the seal it names, which must be in the chain with that hash, the signing key''s id, how many erasure journal entries it carries and where it was written. compliance.last_anchor reads the newest. For the worker, the DPO and auditors. Errors: BADRG.';

revoke all on function compliance.record_anchor(bigint, text, text, integer, text) from public;
grant execute on function compliance.record_anchor(bigint, text, text, integer, text) to compliance_worker, compliance_dpo, compliance_auditor;

-- included from fixtures/anchors/last_anchor.sql
-- compliance.last_anchor(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.last_anchor(OUT anchored_at timestamp with time zone, OUT seal_no bigint, OUT seal_hash text,
  OUT key_id text, OUT destination text, OUT seals_since bigint)
 RETURNS record
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select a.occurred_at, (a.details ->> 'seal_no')::bigint, a.details ->> 'seal_hash', a.details ->> 'key_id', a.details ->> 'destination',
         (select count(*) from compliance.audit_seals s where s.seal_no > (a.details ->> 'seal_no')::bigint)
    from compliance.audit_logs a
   where a.action = 'audit.anchored' and a.outcome = 'success'
   order by a.id desc limit 1;
$function$;

comment on function compliance.last_anchor(OUT anchored_at timestamp with time zone, OUT seal_no bigint, OUT seal_hash text, OUT key_id text, OUT destination text, OUT seals_since bigint) is
  'The newest anchor recorded by compliance.record_anchor: when, which seal and hash, the signing key''s id, where it was written, and how many seals were made since (what the next anchor will cover). All NULL when none was. For the DPO and auditors.';

revoke all on function compliance.last_anchor() from public;
grant execute on function compliance.last_anchor() to compliance_dpo, compliance_auditor;

select compliance_private.record_expected_grants();
