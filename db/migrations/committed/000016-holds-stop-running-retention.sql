--! Previous: sha1:1be2f9b3b189b18dc43a66bcb971ff6770b382e4
--! Hash: sha1:0b85e42b98a69a54e86decdae681cd1a03671006
--! Message: holds-stop-running-retention

-- A legal hold placed while a retention batch runs stops the batch (issue #13, item 5).
--
-- The batch chose its rows, holds excluded, then deleted them; a hold that committed in
-- between did not stop the deletion (all 4,000 of a held subject's conversations went, in 8
-- of 8 runs). Now placing a hold locks the subject's profile FOR NO KEY UPDATE (a trigger, so
-- every way of inserting a hold does), and the batch takes FOR SHARE on the profiles of the
-- subjects it is about to delete from: it waits for a hold in flight, and a hold placed
-- later waits for the batch. Each DELETE checks holds once more after that wait.

create or replace function compliance_private.tg_legal_holds__lock_subject() returns trigger
  language plpgsql
  volatile
  security definer
  set search_path to pg_catalog, pg_temp
as $$
begin
  perform from compliance.user_profiles p where p.user_id = new.user_id for no key update;
  return new;
end;
$$;
comment on function compliance_private.tg_legal_holds__lock_subject() is
  'BEFORE INSERT on legal_holds: locks the subject''s profile until the hold commits, so a running retention batch (which takes FOR SHARE on the profiles it deletes from) either waits for the hold or is waited for.';
drop trigger if exists _050_lock_subject on compliance.legal_holds;
create trigger _050_lock_subject before insert on compliance.legal_holds
  for each row execute function compliance_private.tg_legal_holds__lock_subject();

create or replace function compliance_private.retention_row_subjects(category text, ids text[])
  returns table (user_id text)
  language plpgsql
  stable
  set search_path to pg_catalog, pg_temp
as $$
begin
  case category
    when 'conversations' then
      return query select distinct c.user_id from compliance.conversations c where c.conversation_id = any (ids::uuid[]);
    when 'sessions' then
      return query select distinct s.user_id from compliance.sessions s where s.id = any (ids::uuid[]);
    when 'consent_records' then
      return query select distinct c.user_id from compliance.consent_records c where c.id = any (ids::bigint[]);
    when 'dsr_requests' then
      return query select distinct r.user_id from compliance.dsr_requests r where r.id = any (ids::bigint[]) and r.user_id is not null;
    else
      perform compliance_private.raise_error('RETCT', format('category %s is not deleted row by row', category));
  end case;
end;
$$;
comment on function compliance_private.retention_row_subjects(text, text[]) is
  'The subjects whose rows of a row-deleted category a retention batch is about to delete (keys as retention_due_ids returns them).';

create or replace function compliance.apply_retention(
  category text,
  batch_size integer default 1000,
  dry_run boolean default false
) returns jsonb
  language plpgsql
  volatile
  security definer
  set search_path to pg_catalog, pg_temp
as $$
declare
  v_policy compliance.retention_policies;
  v_cutoff timestamptz;
  v_ids text[];
  v_deleted bigint := 0;
  v_messages bigint := 0;
  v_result jsonb;
begin
  if batch_size not between 1 and 100000 then
    perform compliance_private.raise_error('BADRG', 'batch_size must be between 1 and 100000');
  end if;
  v_cutoff := compliance_private.retention_cutoff(category, compliance_private.retention_now());
  select * into strict v_policy from compliance.retention_policies p where p.category = apply_retention.category;

  if not v_policy.enabled or v_policy.action = 'until_erasure' then
    v_result := jsonb_build_object('category', category, 'dry_run', dry_run, 'skipped',
      case when v_policy.enabled then 'kept until erasure' else 'policy disabled' end, 'deleted', 0);
  elsif v_policy.action = 'drop_partition' then
    v_result := jsonb_build_object('category', category, 'dry_run', dry_run, 'cutoff', v_cutoff,
      'partitions', compliance_private.drop_expired_audit_partitions(v_cutoff, dry_run));
    v_result := v_result || jsonb_build_object('deleted', (select coalesce(sum((p ->> 'rows')::bigint), 0)
                                                          from jsonb_array_elements(v_result -> 'partitions') p));
  else
    if dry_run then
      select count(*) into v_deleted from compliance_private.retention_due_ids(category, v_cutoff, 2147483647);
    else
      perform compliance_private.begin_bulk_operation('retention');
      select array_agg(d.id) into v_ids from compliance_private.retention_due_ids(category, v_cutoff, batch_size) d;
      v_ids := coalesce(v_ids, '{}');
      -- A hold being placed on one of these subjects holds its profile FOR NO KEY UPDATE
      -- (tg_legal_holds__lock_subject): wait for it, and keep new holds out until this batch
      -- commits. Each DELETE then checks holds again, in its own snapshot, after the wait.
      perform from compliance.user_profiles p
       where p.user_id in (select s.user_id from compliance_private.retention_row_subjects(category, v_ids) s)
       order by p.user_id
         for share;
      case category
        when 'conversations' then
          select count(*) into v_messages from compliance.messages m
           where m.conversation_id = any (v_ids::uuid[])
             and not exists (select from compliance.legal_holds h where h.user_id = m.user_id and h.released_at is null);
          delete from compliance.conversations c where c.conversation_id = any (v_ids::uuid[])
             and not exists (select from compliance.legal_holds h where h.user_id = c.user_id and h.released_at is null);
        when 'sessions' then
          delete from compliance.sessions s where s.id = any (v_ids::uuid[])
             and not exists (select from compliance.legal_holds h where h.user_id = s.user_id and h.released_at is null);
        when 'consent_records' then
          delete from compliance.consent_records c where c.id = any (v_ids::bigint[])
             and not exists (select from compliance.legal_holds h where h.user_id = c.user_id and h.released_at is null);
        when 'dsr_requests' then
          delete from compliance.dsr_requests r where r.id = any (v_ids::bigint[])
             and not exists (select from compliance.legal_holds h where h.user_id = r.user_id and h.released_at is null);
      end case;
      get diagnostics v_deleted = row_count;
      perform compliance_private.end_bulk_operation();
    end if;
    v_result := jsonb_build_object('category', category, 'dry_run', dry_run, 'cutoff', v_cutoff,
      'deleted', v_deleted, 'batch_size', batch_size);
    if category = 'conversations' and not dry_run then
      v_result := v_result || jsonb_build_object('messages_deleted', v_messages);
    end if;
  end if;

  perform compliance_private.append_audit('retention.applied', 'system', 'retention_policy', category, v_result);
  return v_result;
end;
$$;
