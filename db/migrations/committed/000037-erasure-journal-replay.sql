--! Previous: sha1:30540265a2b0b52a5cd0287d39101555b7cfe2c0
--! Hash: sha1:8e89388ed7b383e0b5e4d15ce631c1067d12cbed
--! Message: erasure-journal-replay

-- The erasure journal and its replay (issue #21): anchors carry the peppered digests of erased
-- subjects outside the database; after restoring an older backup, replay_erasures erases again
-- whoever the backup brought back.

-- included from fixtures/anchors/erasure_journal.sql
-- compliance.erasure_journal(since timestamp with time zone): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.erasure_journal(since timestamp with time zone DEFAULT '-infinity'::timestamp with time zone)
 RETURNS TABLE(subject_digest text, erased_at timestamp with time zone)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select encode(e.subject_digest, 'hex'), e.erased_at from compliance_private.erased_subjects e
   where e.erased_at > erasure_journal.since order by e.erased_at, e.subject_digest;
$function$;

comment on function compliance.erasure_journal(since timestamp with time zone) is
  'The erasures after since: each erased subject''s peppered digest (hex, never the id) and when. Anchors carry it outside the database, so that erasures undone by restoring an older backup can be replayed (compliance.replay_erasures). For the DPO, auditors and the worker.';

-- included from fixtures/anchors/replay_erasures.sql
-- compliance.replay_erasures(journal jsonb, reason text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.replay_erasures(journal jsonb, reason text DEFAULT 'erasure replayed after a restore'::text)
 RETURNS TABLE(subject_digest text, erased_at timestamp with time zone, outcome text)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_entry jsonb;
  v_digest bytea;
  v_user_id text;
begin
  if journal is null or jsonb_typeof(journal) <> 'array' then
    perform compliance_private.raise_error('BADRG', 'the journal must be an array of {subject_digest, erased_at}');
  end if;
  for v_entry in select e from jsonb_array_elements(journal) e loop
    if v_entry ->> 'subject_digest' is null or v_entry ->> 'subject_digest' !~ '^[0-9a-f]{64}$' then
      perform compliance_private.raise_error('BADRG', format('not a journal entry: %s', v_entry));
    end if;
    v_digest := decode(v_entry ->> 'subject_digest', 'hex');
    subject_digest := v_entry ->> 'subject_digest';
    erased_at := (v_entry ->> 'erased_at')::timestamptz;
    if exists (select from compliance_private.erased_subjects t where t.subject_digest = v_digest) then
      outcome := 'already_erased';
    else
      -- the id is known only by its digest: compare every subject this database holds
      select p.user_id into v_user_id from compliance.user_profiles p
       where compliance_private.subject_digest(p.user_id) = v_digest limit 1;
      if v_user_id is null then
        insert into compliance_private.erased_subjects (subject_digest, erased_at) values (v_digest, replay_erasures.erased_at);
        outcome := 'tombstoned';
      else
        begin
          perform compliance_private.erase_subject_core(v_user_id, reason, true, 'dpo');
          outcome := 'erased';
        exception when sqlstate 'LHOLD' then
          -- a hold in the restored data: the DPO decides, the replay says so
          outcome := 'held';
        end;
      end if;
    end if;
    return next;
  end loop;
end;
$function$;

comment on function compliance.replay_erasures(journal jsonb, reason text) is
  'After restoring an older backup: erases again every subject whose peppered digest the journal lists (from anchors, compliance.erasure_journal) and who is back in the data; restores the tombstone of one who is not; reports per entry erased, tombstoned, already_erased, or held (under a legal hold in the restored data: not erased, for the DPO to decide). Needs the same tombstone pepper. For the DPO. Errors: BADRG, PEPPR.';

revoke all on function compliance.erasure_journal(timestamptz), compliance.replay_erasures(jsonb, text) from public;
grant execute on function compliance.erasure_journal(timestamptz) to compliance_dpo, compliance_auditor, compliance_worker;
grant execute on function compliance.replay_erasures(jsonb, text) to compliance_dpo;

select compliance_private.record_expected_grants();
