--! Previous: sha1:1821009079fd41c20856f281724a7f8223fc4c4b
--! Hash: sha1:d626e27adc758435bb49c3e29870185a3c61cfe7
--! Message: console-reads

-- What the privacy center and DPO console read (issue #22): the policy version each consent
-- purpose is currently asked under, finding a subject, and the compliance checks' latest results
-- with their history.

alter table compliance.consent_purposes add column policy_version text not null default '1.0',
  add constraint consent_purposes_policy_version_length check (length(policy_version) between 1 and 64);
comment on column compliance.consent_purposes.policy_version is
  'The version of the text a subject is shown when asked for this consent now: the privacy center records a consent under it, so each consent record names what was agreed to. Raise it when the text changes.';

-- included from fixtures/console/find_subjects.sql
-- compliance.find_subjects(query text, max_rows integer): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.find_subjects(query text, max_rows integer DEFAULT 20)
 RETURNS TABLE(user_id text, username text, email text, created_at timestamp with time zone, legal_hold_reason text,
   legal_hold_placed_at timestamp with time zone, open_requests integer)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_pattern text;
  v_rows bigint;
begin
  if query is null or length(btrim(query)) < 2 or length(query) > 320 then
    perform compliance_private.raise_error('BADRG', 'search with 2 to 320 characters of a user id, username or e-mail address');
  end if;
  if max_rows is null or max_rows < 1 or max_rows > 100 then
    perform compliance_private.raise_error('BADRG', 'max_rows must be between 1 and 100');
  end if;
  -- the query is matched literally: the LIKE wildcards in it are escaped
  v_pattern := '%' || replace(replace(replace(btrim(query), chr(92), chr(92) || chr(92)), '%', chr(92) || '%'), '_', chr(92) || '_') || '%';
  return query
    select p.user_id, p.username, p.email, p.created_at, h.reason, h.placed_at,
           (select count(*)::int from compliance.dsr_requests r where r.user_id = p.user_id and r.completed_at is null)
      from compliance.user_profiles p
      left join lateral (select l.reason, l.placed_at from compliance.legal_holds l
                          where l.user_id = p.user_id and l.released_at is null order by l.placed_at desc limit 1) h on true
     where p.user_id ilike v_pattern or p.username ilike v_pattern or p.email ilike v_pattern
     order by p.user_id
     limit max_rows;
  get diagnostics v_rows = row_count;
  perform compliance.log_event('subject.searched', 'gdpr', 'user_profiles', null,
    jsonb_build_object('procedure', 'find_subjects', 'rows', v_rows));
end;
$function$;

comment on function compliance.find_subjects(query text, max_rows integer) is
  'DPO: subjects whose user id, username or e-mail address contains query (2 to 320 characters, matched literally, case-insensitive), at most max_rows (1 to 100), with an active legal hold and the number of open requests. Audited as subject.searched with the number of rows (never the query, which may be personal data). Errors: BADRG.';

revoke all on function compliance.find_subjects(text, integer) from public;
grant execute on function compliance.find_subjects(text, integer) to compliance_dpo;

-- included from fixtures/console/check_history.sql
-- compliance.check_history(runs integer): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.check_history(runs integer DEFAULT 14)
 RETURNS TABLE(check_name text, run_id bigint, started_at timestamp with time zone, trigger text, status text, detail text,
   measured jsonb, threshold jsonb)
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  if runs is null or runs < 1 or runs > 400 then
    perform compliance_private.raise_error('BADRG', 'runs must be between 1 and 400');
  end if;
  return query
    select c.check_name, r.id, r.started_at, r.trigger, c.status, c.detail, c.measured, c.threshold
      from (select x.id, x.started_at, x.trigger from compliance.check_runs x order by x.id desc limit runs) r
      join compliance.check_results c on c.run_id = r.id
     order by c.check_name, r.id desc;
end;
$function$;

comment on function compliance.check_history(runs integer) is
  'DPO and auditors: every check''s result in the newest runs (1 to 400) compliance check runs, newest first per check: the compliance page''s latest status and history. Errors: BADRG.';

revoke all on function compliance.check_history(integer) from public;
grant execute on function compliance.check_history(integer) to compliance_dpo, compliance_auditor;

select compliance_private.record_expected_grants();
