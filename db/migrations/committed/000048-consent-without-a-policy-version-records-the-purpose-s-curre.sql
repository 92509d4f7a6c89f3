--! Previous: sha1:5ae36ecce8ba5258fe17faf7b3047d8acfd588a7
--! Hash: sha1:aea369701ea9db63be07548aa887727fba561cd3
--! Message: Consent without a policy version records the purpose's current one

-- A consent recorded without a policy version records the version its purpose is asked under now
-- (consent_purposes.policy_version): the API defaulted to the placeholder 'unversioned', which
-- proves nothing about what the person agreed to.
-- included from fixtures/consent/record_consent.sql
-- compliance.record_consent(user_id text, purpose text, granted boolean, policy_version text, source text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.record_consent(user_id text, purpose text, granted boolean, policy_version text, source text DEFAULT 'api'::text)
 RETURNS compliance.consent_records
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_row compliance.consent_records;
begin
  if granted is null then
    perform compliance_private.raise_error('BADRG', 'granted must be true or false');
  end if;
  if not exists (select from compliance.consent_purposes p where p.purpose = record_consent.purpose and p.active) then
    perform compliance_private.raise_error('PURPS',
      format('unknown or inactive consent purpose %s; valid purposes: %s', coalesce(purpose, 'NULL'),
        (select string_agg(p.purpose, ', ' order by p.purpose) from compliance.consent_purposes p where p.active)),
      'A DBA adds purposes to compliance.consent_purposes.');
  end if;
  perform compliance_private.require_subject(user_id);
  insert into compliance.consent_records (user_id, purpose, granted, policy_version, source, ip_address, user_agent)
    values (record_consent.user_id, record_consent.purpose, record_consent.granted,
            -- unnamed: the version the purpose is asked under now, never a placeholder
            coalesce(record_consent.policy_version,
                     (select p.policy_version from compliance.consent_purposes p where p.purpose = record_consent.purpose)),
            record_consent.source,
            compliance.current_client_ip(), compliance.current_user_agent())
  returning * into v_row;
  return v_row;
end;
$function$;

comment on function compliance.record_consent(user_id text, purpose text, granted boolean, policy_version text, source text) is
  'Records a grant (granted => true) or withdrawal (false) of consent for a purpose, with the privacy notice version (NULL: the version the purpose is asked under now, consent_purposes.policy_version), the source (api, import, dba) and, as evidence, the client IP and user agent of the request context (GDPR Art. 7(1)). Withdrawing is the same call as granting (Art. 7(3)). Audited as consent.granted / consent.withdrawn. Errors: PURPS unknown or inactive purpose, UNKSJ, ERASD.';
