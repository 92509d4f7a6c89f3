--! Previous: sha1:f9bb78961b8efcd87598169297f18869407b81a2
--! Hash: sha1:1c62c85da8c36d0b010b889338b31d949c69f3af
--! Message: Retention reaches your registered tables

-- Retention reaches your registered tables: each is a retention category by its name, with the
-- policy row registration writes (migration 000060), applied in bounded batches as pgcomply's own.

-- included from fixtures/retention/retention_due_ids.sql
-- compliance_private.retention_due_ids(category text, cutoff timestamp with time zone, max_rows integer): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.retention_due_ids(category text, cutoff timestamp with time zone, max_rows integer)
 RETURNS TABLE(id text)
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_table compliance.personal_tables;
  v_sql record;
begin
  select * into v_table from compliance.personal_tables t where t.relation::text = category;
  if found then
    v_sql := compliance.personal_table_sql(v_table.relation);
  end if;
  -- subjects under an active legal hold keep everything
  case category
    when 'conversations' then
      return query select c.conversation_id::text from compliance.conversations c
        where c.last_message_at < cutoff
          and not exists (select from compliance.legal_holds h where h.user_id = c.user_id and h.released_at is null)
        order by c.last_message_at limit max_rows;
    when 'sessions' then
      return query select s.id::text from compliance.sessions s
        where s.last_activity_at < cutoff
          and not exists (select from compliance.legal_holds h where h.user_id = s.user_id and h.released_at is null)
        order by s.last_activity_at limit max_rows;
    when 'consent_records' then
      -- the record in force (latest per subject and purpose) is proof of a current consent: kept
      return query select c.id::text from compliance.consent_records c
        where c.recorded_at < cutoff
          and exists (select from compliance.consent_records n
                       where n.user_id = c.user_id and n.purpose = c.purpose
                         and (n.recorded_at, n.id) > (c.recorded_at, c.id))
          and not exists (select from compliance.legal_holds h where h.user_id = c.user_id and h.released_at is null)
        order by c.recorded_at limit max_rows;
    when 'dsr_requests' then
      return query select r.id::text from compliance.dsr_requests r
        where r.received_at < cutoff and r.completed_at is not null
          and not exists (select from compliance.legal_holds h where h.user_id = r.user_id and h.released_at is null)
        order by r.received_at limit max_rows;
    else
      if not exists (select from compliance.personal_tables t where t.relation::text = category) then
        perform compliance_private.raise_error('RETCT', format('category %s is not deleted row by row', category));
      end if;
      -- one of your registered tables: its retention column, its subject through the foreign key too
      return query execute format('select %s from %s r where r.%I < $1 and not exists (select from compliance.legal_holds h where h.user_id = %s and h.released_at is null) order by r.%I limit $2',
        v_sql.key_of_row, category, v_table.retention_from, v_sql.subject_of_row, v_table.retention_from) using cutoff, max_rows;
  end case;
end;
$function$;

comment on function compliance_private.retention_due_ids(category text, cutoff timestamp with time zone, max_rows integer) is
  'Keys of the rows of a row-deleted category that are due (older than cutoff, not under legal hold), oldest first, at most max_rows. A registered table of yours is a category by its name (schema.table), counted from its retention_from column.';

-- included from fixtures/retention/retention_row_subjects.sql
-- compliance_private.retention_row_subjects(category text, ids text[]): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.retention_row_subjects(category text, ids text[])
 RETURNS TABLE(user_id text)
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_table compliance.personal_tables;
  v_sql record;
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
      select * into v_table from compliance.personal_tables t where t.relation::text = category;
      if not found then
        perform compliance_private.raise_error('RETCT', format('category %s is not deleted row by row', category));
      end if;
      v_sql := compliance.personal_table_sql(v_table.relation);
      return query execute format('select distinct s.subject from (select %s as subject from %s r where %s) s where s.subject is not null',
        v_sql.subject_of_row, category, v_sql.key_in_ids) using ids;
  end case;
end;
$function$;

comment on function compliance_private.retention_row_subjects(category text, ids text[]) is
  'The subjects whose rows of a row-deleted category a retention batch is about to delete (keys as retention_due_ids returns them), your registered tables included.';

-- included from fixtures/retention/apply_retention.sql
-- compliance.apply_retention(category text, batch_size integer, dry_run boolean): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.apply_retention(category text, batch_size integer DEFAULT 1000, dry_run boolean DEFAULT false)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_policy compliance.retention_policies;
  v_cutoff timestamptz;
  v_ids text[];
  v_deleted bigint := 0;
  v_messages bigint := 0;
  v_proofs bigint := 0;
  v_result jsonb;
  v_table compliance.personal_tables;
  v_sql record;
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
      -- each DELETE checks again that its row is still due: a writer that was holding the row
      -- (a new message moves last_message_at) commits first, and the row then stays
      case category
        when 'conversations' then
          with gone as (
            delete from compliance.conversations c where c.conversation_id = any (v_ids::uuid[])
               and c.last_message_at < v_cutoff
               and not exists (select from compliance.legal_holds h where h.user_id = c.user_id and h.released_at is null)
            returning c.conversation_id
          )
          -- the messages go with their conversation (ON DELETE CASCADE, at the statement's end);
          -- this count reads them from the statement's snapshot
          select (select count(*) from gone),
                 (select count(*) from compliance.messages m where m.conversation_id in (select g.conversation_id from gone g))
            into v_deleted, v_messages;
        when 'sessions' then
          delete from compliance.sessions s where s.id = any (v_ids::uuid[])
             and s.last_activity_at < v_cutoff
             and not exists (select from compliance.legal_holds h where h.user_id = s.user_id and h.released_at is null);
          get diagnostics v_deleted = row_count;
        when 'consent_records' then
          delete from compliance.consent_records c where c.id = any (v_ids::bigint[])
             and c.recorded_at < v_cutoff
             and not exists (select from compliance.legal_holds h where h.user_id = c.user_id and h.released_at is null);
          get diagnostics v_deleted = row_count;
        when 'dsr_requests' then
          delete from compliance.dsr_requests r where r.id = any (v_ids::bigint[])
             and r.received_at < v_cutoff and r.completed_at is not null
             and not exists (select from compliance.legal_holds h where h.user_id = r.user_id and h.released_at is null);
          get diagnostics v_deleted = row_count;
        else
          -- one of your registered tables (retention_due_ids refused any other category)
          select * into strict v_table from compliance.personal_tables t where t.relation::text = category;
          v_sql := compliance.personal_table_sql(v_table.relation);
          execute format('delete from %s r where %s and r.%I < $2 and not exists (select from compliance.legal_holds h where h.user_id = %s and h.released_at is null)',
            category, v_sql.key_in_ids, v_table.retention_from, v_sql.subject_of_row) using v_ids, v_cutoff;
          get diagnostics v_deleted = row_count;
      end case;
      perform compliance_private.end_bulk_operation();
    end if;
    v_result := jsonb_build_object('category', category, 'dry_run', dry_run, 'cutoff', v_cutoff,
      'deleted', v_deleted, 'batch_size', batch_size);
    if category = 'conversations' and not dry_run then
      v_result := v_result || jsonb_build_object('messages_deleted', v_messages);
    end if;
    if category = 'consent_records' and not dry_run then
      -- the proofs erasure kept expire with the consent records they stand for
      delete from compliance.erased_consent_proofs p where p.recorded_at < v_cutoff;
      get diagnostics v_proofs = row_count;
      v_result := v_result || jsonb_build_object('erased_consent_proofs_deleted', v_proofs);
    end if;
  end if;

  perform compliance_private.append_audit('retention.applied', 'system', 'retention_policy', category, v_result);
  return v_result;
end;
$function$;

comment on function compliance.apply_retention(category text, batch_size integer, dry_run boolean) is
  'Applies one category''s retention policy as of compliance_private.retention_now() (the database clock; only the owner can move it, for tests): deletes at most batch_size due rows, each checked again as it is deleted (conversations take their messages; consent records take the expired proofs erasure kept, erased_consent_proofs), or drops the expired audit partitions and removes the seals of their rows; your registered tables are categories by name (schema.table), their rows deleted by their retention_from column; subjects under legal hold are skipped, and an audit month holding a held subject''s rows is kept. dry_run deletes nothing and reports how many rows are due in total. Each call writes one retention.applied audit row with the counts. Returns {category, dry_run, cutoff, deleted, ...}; call again while deleted = batch_size. Errors: RETCT unknown category, BADRG.';
