--! Previous: sha1:43d9c5868d3ec2ce406e4d09199774972a706cc4
--! Hash: sha1:e2d7f262526b6b0425948a92d091002ddb3d7149
--! Message: consent

-- Consent management: recording with evidence, append-only history, current state.

create function compliance_private.tg_consent_records__append_only() returns trigger
  language plpgsql
  volatile
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  if tg_op = 'DELETE' and (
       compliance_private.in_any_bulk_operation()
       -- the cascade of a profile deletion: the subject is going away entirely
       or not exists (select from compliance.user_profiles p where p.user_id = old.user_id)) then
    return old;
  end if;
  perform compliance_private.raise_error('APPND',
    format('%s on consent_records is refused: consent history is append-only', tg_op),
    'Record a withdrawal with compliance.record_consent(user_id, purpose, false, policy_version) instead.');
  return null;
end;
$$;
comment on function compliance_private.tg_consent_records__append_only() is
  'BEFORE UPDATE/DELETE/TRUNCATE on consent_records: the history is append-only for every role, the owner included (APPND). Only erasure, retention and the cascade of a deleted profile remove rows.';

create trigger _010_append_only before update or delete on compliance.consent_records
  for each row execute function compliance_private.tg_consent_records__append_only();
create trigger _011_append_only_truncate before truncate on compliance.consent_records
  for each statement execute function compliance_private.tg_consent_records__append_only();

create function compliance.record_consent(
  user_id text,
  purpose text,
  granted boolean,
  policy_version text,
  source text default 'api'
) returns compliance.consent_records
  language plpgsql
  volatile
as $$
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
            record_consent.policy_version, record_consent.source,
            compliance.current_client_ip(), compliance.current_user_agent())
  returning * into v_row;
  return v_row;
end;
$$;
comment on function compliance.record_consent(text, text, boolean, text, text) is
  'Records a grant (granted => true) or withdrawal (false) of consent for a purpose, with the privacy notice version, the source (api, import, dba) and, as evidence, the client IP and user agent of the request context (GDPR Art. 7(1)). Withdrawing is the same call as granting (Art. 7(3)). Audited as consent.granted / consent.withdrawn. Errors: PURPS unknown or inactive purpose, UNKSJ, ERASD.';

create view compliance.current_consents with (security_invoker = true) as
  select distinct on (c.user_id, c.purpose)
         c.user_id, c.purpose, c.granted, c.policy_version, c.recorded_at, c.id as consent_record_id
    from compliance.consent_records c
   order by c.user_id, c.purpose, c.recorded_at desc, c.id desc;
comment on view compliance.current_consents is
  'The latest consent record per subject and purpose: the consent in force. Row-level security applies (a subject sees its own).';

create function compliance.has_consent(user_id text, purpose text) returns boolean
  language sql
  stable
as $$
  select coalesce((
    select c.granted from compliance.consent_records c
     where c.user_id = has_consent.user_id and c.purpose = has_consent.purpose
     order by c.recorded_at desc, c.id desc
     limit 1), false);
$$;
comment on function compliance.has_consent(text, text) is
  'Whether the subject''s consent for the purpose is in force: false when never given or withdrawn. One index probe (consent_records_current_idx), cheap enough for every request.';

create function compliance.consent_history(user_id text) returns setof compliance.consent_records
  language sql
  stable
as $$
  select * from compliance.consent_records c
   where c.user_id = consent_history.user_id
   order by c.recorded_at, c.id;
$$;
comment on function compliance.consent_history(text) is
  'Every consent record of the subject, oldest first: the proof of consent (Art. 7(1)). Also in the subject export.';

create function compliance.consent_records_between(
  from_time timestamptz, to_time timestamptz, after_id bigint default 0, page_size integer default 1000
) returns setof compliance.consent_records
  language plpgsql
  stable
as $$
begin
  if page_size not between 1 and 10000 then
    perform compliance_private.raise_error('BADRG', 'page_size must be between 1 and 10000');
  end if;
  return query
    select * from compliance.consent_records c
     where c.recorded_at >= from_time and c.recorded_at < to_time and c.id > after_id
     order by c.id
     limit page_size;
end;
$$;
comment on function compliance.consent_records_between(timestamptz, timestamptz, bigint, integer) is
  'DPO: consent records made in [from_time, to_time), one page at a time ordered by id; pass the last id of a page as after_id to get the next.';

grant execute on function
  compliance.record_consent(text, text, boolean, text, text),
  compliance.has_consent(text, text),
  compliance.consent_history(text)
to compliance_app, compliance_dpo;
grant execute on function compliance.consent_records_between(timestamptz, timestamptz, bigint, integer) to compliance_dpo;
grant select on compliance.current_consents to compliance_app, compliance_dpo;
