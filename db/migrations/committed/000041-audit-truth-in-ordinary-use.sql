--! Previous: sha1:cb842d089f2d52aaad4cd3e40e7f005b7e489196
--! Hash: sha1:031764d7e64078f1a71a33ef0707d407534432bf
--! Message: audit-truth-in-ordinary-use

-- Audit truth in ordinary use. The sealer kept the ids of rolled-back rows out of every seal when
-- they were all it found, so the next seal started past a gap and the chain failed for good after
-- an ordinary refusal: now those ids stay inside the next seal's range. Gaps it left before are
-- recorded once, here, and listed by verification as such. An erasure not sealed yet is pending,
-- not a finding. compliance.log_event no longer writes the actions verification and the checks
-- trust (RSRVD).

-- included from fixtures/audit/seal_audit_log.sql
-- compliance.seal_audit_log(max_rows_per_seal integer, max_seals integer): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.seal_audit_log(max_rows_per_seal integer DEFAULT 10000, max_seals integer DEFAULT 100)
 RETURNS integer
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_seen bigint;
  v_head compliance_private.audit_seal_head;
  v_own xid8;
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

  if not compliance_private.older_transaction_running(v_own) then
    v_limit := v_seen;              -- nothing older than us is running: every id seen is final
    v_head.pending_row_id := null;
    v_head.pending_xact_id := null;
  elsif v_head.pending_xact_id <= v_own and not compliance_private.older_transaction_running(v_head.pending_xact_id) then
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
      -- only ids of rolled-back rows so far: the next seal's range starts here and covers them,
      -- so every id belongs to exactly one seal's range and the ranges stay contiguous
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
$function$;

comment on function compliance.seal_audit_log(max_rows_per_seal integer, max_seals integer) is
  'Seals audit rows in id order into new audit_seals (at most max_rows_per_seal rows each, at most max_seals per call): every id handed out before the call once no older transaction is still running, otherwise up to the horizon an earlier call recorded. Takes no lock that a writer waits for; concurrent sealers wait for each other. Ids of rolled-back rows stay inside the range of the next seal that has rows, so the ranges are contiguous. Survives a restore onto another cluster (db/AUDIT_HASHING.md). Returns the number of seals made. The worker runs it every few seconds.';

drop function if exists compliance.verify_audit_log(bigint, bytea);
-- included from fixtures/audit/verify_audit_log.sql
-- compliance.verify_audit_log(from_seal bigint, from_hash bytea, OUT ok boolean, OUT seals_checked bigint, OUT rows_checked bigint, OUT unsealed_rows bigint, OUT problems jsonb, OUT incremental boolean, OUT last_seal_no bigint, OUT last_seal_hash bytea, OUT notes jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.verify_audit_log(from_seal bigint DEFAULT NULL::bigint, from_hash bytea DEFAULT NULL::bytea, OUT ok boolean, OUT seals_checked bigint, OUT rows_checked bigint, OUT unsealed_rows bigint, OUT problems jsonb, OUT incremental boolean, OUT last_seal_no bigint, OUT last_seal_hash bytea, OUT notes jsonb)
 RETURNS record
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
  v_checkpoint compliance.audit_seals;
  v_range_from bigint := 0;  -- incremental: the first row id the checked seals cover
  v_pending jsonb;   -- {id: 'a' | 's' | 'as'}: the parts erasures not sealed yet redacted
  v_gaps jsonb;      -- [{from, to, seal_no}]: ranges the sealer left out before migration 000041
  v_gap jsonb;
begin
  seals_checked := 0;
  rows_checked := 0;
  problems := '[]';
  notes := '[]';
  select * into strict v_bounds from compliance_private.audit_chain_bounds();
  -- from a checkpoint (a seal verified before, whose hash the caller kept anchored): only what
  -- was sealed after it. A checkpoint that is gone or not layout 2 means a full verification.
  if from_seal is not null then
    select * into v_checkpoint from compliance.audit_seals s where s.seal_no = from_seal and s.layout = 2;
  end if;
  incremental := v_checkpoint.seal_no is not null and from_hash is not null;

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

  -- erasures written but not sealed yet: their redactions are pending, not findings; they
  -- excuse a redaction and never accuse a row (once sealed they count like any other)
  select coalesce(jsonb_object_agg(p.id, p.parts), '{}') into v_pending
    from (select x.id, string_agg(distinct x.part, '' order by x.part) as parts
            from (select e.id, 's' as part from compliance.audit_logs a
                    cross join jsonb_array_elements_text(a.details -> 'redacted_subject_rows') e(id)
                   where a.action = 'subject.erased' and a.outcome = 'success'
                     and a.id > coalesce(v_bounds.layout2_end, v_bounds.layout2_from - 1)
                  union all
                  select e.id, 'a' from compliance.audit_logs a
                    cross join jsonb_array_elements_text(a.details -> 'redacted_actor_rows') e(id)
                   where a.action = 'subject.erased' and a.outcome = 'success'
                     and a.id > coalesce(v_bounds.layout2_end, v_bounds.layout2_from - 1)) x
           group by x.id) p;

  -- id ranges no seal covered: before migration 000041 the sealer skipped ids of rolled-back rows
  -- when they were all it found. Only the record that migration wrote counts (the action is
  -- reserved: no login role can write it), and only for the seals it names.
  select coalesce(a.details -> 'gaps', '[]') into v_gaps from compliance.audit_logs a
   where a.id = (select min(u.id) from compliance.audit_logs u where u.action = 'audit.sealer_gaps_recorded');
  v_gaps := coalesce(v_gaps, '[]');

  -- where the chain starts: at seal 1, or where a sealed drop record says it removed seals
  select * into v_first from compliance.audit_seals s order by s.seal_no limit 1;
  v_previous_hash := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
  v_expected_no := 1;
  if incremental then
    -- the checkpoint's own row must still hash as it did when it was verified
    if v_checkpoint.seal_hash <> from_hash then
      problems := problems || jsonb_build_object('kind', 'altered_seal', 'seal_no', v_checkpoint.seal_no,
        'detail', 'the seal''s hash differs from the one recorded when it was last verified');
    end if;
    v_expected_no := v_checkpoint.seal_no + 1;
    v_previous_hash := from_hash;
    v_next_id := v_checkpoint.last_row_id + 1;
    v_range_from := v_next_id;
  elsif v_first.seal_no > 1 then
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

  for v_seal in select * from compliance.audit_seals s where s.seal_no >= v_expected_no or not incremental order by s.seal_no loop
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
    v_gap := null;
    if v_seal.layout = 2 and v_seal.first_row_id > coalesce(v_next_id, v_bounds.layout2_from) then
      select g into v_gap from jsonb_array_elements(v_gaps) g
       where (g ->> 'seal_no')::bigint = v_seal.seal_no
         and (g ->> 'from')::bigint = coalesce(v_next_id, v_bounds.layout2_from)
         and (g ->> 'to')::bigint = v_seal.first_row_id - 1;
    end if;
    if v_gap is not null then
      notes := notes || jsonb_build_object('kind', 'unsealed_id_range', 'seal_no', v_seal.seal_no,
        'from', v_gap -> 'from', 'to', v_gap -> 'to',
        'detail', 'ids no seal covers: before migration 000041 the sealer skipped ids of rolled-back rows');
      -- the range held no row when it was skipped; a row there now was put there since
      for v_problem in
        select a.id from compliance.audit_logs a
         where a.id between (v_gap ->> 'from')::bigint and (v_gap ->> 'to')::bigint
      loop
        problems := problems || jsonb_build_object('kind', 'forged_row', 'seal_no', v_seal.seal_no, 'row_id', v_problem.id,
          'detail', 'the row lies in an id range that no seal covers');
      end loop;
    elsif v_seal.layout = 2 and v_seal.first_row_id <> coalesce(v_next_id, v_bounds.layout2_from) then
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
  -- began, so one is a forgery (or a row of a removed seal that retention did not drop); a full
  -- verification's question, as it reads the oldest rows
  for v_problem in
    select a.id from compliance.audit_logs a
     where not incremental and a.id < v_bounds.layout2_from
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
                when compliance_private.audit_parts_missing(e.parts, f.parts)
                  then case when compliance_private.audit_parts_missing(coalesce(e.parts, '') || coalesce(v_pending ->> k.id, ''), f.parts)
                            then 'unaccounted_redaction' else 'pending_redaction' end
                when compliance_private.audit_parts_missing(f.parts, e.parts) then 'unredacted_row'
           end as kind
      from (select jsonb_object_keys(v_redacted) as id union select jsonb_object_keys(v_expected)) k
      cross join lateral (select v_redacted ->> k.id as parts) f
      cross join lateral (select v_expected ->> k.id as parts) e
     where (f.parts is not null or exists (select from compliance.audit_logs a where a.id = k.id::bigint))
       -- incremental: only the rows the checked seals and the unsealed tail hold
       and k.id::bigint >= v_range_from
     order by 1
  loop
    continue when v_problem.kind is null;
    if v_problem.kind = 'pending_redaction' then
      notes := notes || jsonb_build_object('kind', 'pending_redaction', 'seal_no', null, 'row_id', v_problem.id,
        'detail', 'redacted by an erasure whose record is not sealed yet; it counts once the worker seals it');
      continue;
    end if;
    problems := problems || jsonb_build_object('kind', v_problem.kind, 'seal_no', null, 'row_id', v_problem.id,
      'detail', compliance_private.audit_problem_detail(v_problem.kind));
  end loop;

  ok := jsonb_array_length(problems) = 0;
  last_seal_no := v_expected_no - 1;
  last_seal_hash := v_previous_hash;
end;
$function$;

comment on function compliance.verify_audit_log(from_seal bigint, from_hash bytea, OUT ok boolean, OUT seals_checked bigint, OUT rows_checked bigint, OUT unsealed_rows bigint, OUT problems jsonb, OUT incremental boolean, OUT last_seal_no bigint, OUT last_seal_hash bytea, OUT notes jsonb) is
  'Recomputes the whole seal chain, every row hash and every personal digest, from the chain''s own records only; or, given a checkpoint (from_seal and the from_hash it had when verified), only the seals after it and the rows they and the unsealed tail hold, so the cost follows the rows added since (redactions of older rows and layout-1 rows are then left to a full run). Returns ok, how many seals and rows it checked, how many rows are not sealed yet (their personal parts are checked, their presence is not proven), and problems: a JSON array of {kind, seal_no, row_id, detail}. kind: deleted_row, forged_row, altered_row, reordered_row, digest_mismatch, redacted_not_empty, unaccounted_redaction, unredacted_row, altered_seal, broken_chain, missing_seal, unaccounted_gap; whether it ran incrementally; the last seal it verified with its hash, the next checkpoint; and notes, which do not fail it: pending_redaction (an erasure not sealed yet redacted the row) and unsealed_id_range (ids the sealer skipped before migration 000041, listed by the record that migration wrote; a row found there is forged_row). db/AUDIT_HASHING.md says what it proves and what it cannot see.';

revoke all on function compliance.verify_audit_log(bigint, bytea) from public;
grant execute on function compliance.verify_audit_log(bigint, bytea) to compliance_auditor, compliance_dpo, compliance_worker;

-- included from fixtures/audit/is_reserved_action.sql
-- compliance_private.is_reserved_action(action text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.is_reserved_action(action text)
 RETURNS boolean
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
RETURN ((split_part(action, '.'::text, 1) = ANY (ARRAY['audit'::text, 'subject'::text, 'retention'::text, 'report'::text, 'backup'::text, 'evidence'::text, 'compliance'::text, 'access_review'::text, 'tombstone'::text, 'security'::text, 'consent'::text, 'profile'::text, 'preferences'::text, 'conversation'::text, 'message'::text, 'session'::text, 'dsr_request'::text, 'legal_hold'::text, 'breach'::text, 'access_grant'::text, 'phi'::text])) AND (action <> ALL (ARRAY['phi.access'::text, 'subject.consents_read'::text, 'consent.records_read'::text, 'subject.messages_read'::text, 'subject.searched'::text])));

comment on function compliance_private.is_reserved_action(action text) is
  'Whether an audit action belongs to pgcomply''s own routines and triggers (audit.*, subject.*, retention.*, report.*, backup.*, phi.*, …): verification, the checks and the reports trust these rows, so only the routine that does the work writes them, never compliance.log_event (RSRVD). Not reserved: phi.access (the application''s own PHI event) and the read receipts that routines running with the caller''s rights write through log_event (subject.consents_read, consent.records_read, subject.messages_read, subject.searched); nothing trusts those to account for anything.';

revoke all on function compliance_private.is_reserved_action(text) from public;
-- included from fixtures/audit/log_event.sql
-- compliance.log_event(action text, category text, resource_type text, resource_id text, details jsonb, subject_id text, personal_details jsonb, outcome text, failure_reason text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.log_event(action text, category text, resource_type text DEFAULT NULL::text, resource_id text DEFAULT NULL::text, details jsonb DEFAULT '{}'::jsonb, subject_id text DEFAULT NULL::text, personal_details jsonb DEFAULT NULL::jsonb, outcome text DEFAULT 'success'::text, failure_reason text DEFAULT NULL::text)
 RETURNS bigint
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  -- verification, the checks and the reports trust these actions: a login role that could write
  -- one could, for example, account for a deleted sealed row
  if compliance_private.is_reserved_action(log_event.action) then
    perform compliance_private.raise_error('RSRVD', format('the action %L is reserved for pgcomply''s own routines', log_event.action),
      'Name your event in a namespace of your own (note.added, login.failed); pgcomply writes its own records itself.');
  end if;
  if subject_id is not null and compliance_private.acting_for_one_subject()
     and subject_id is distinct from compliance.current_subject() then
    perform compliance_private.raise_error('OTHSJ',
      'the app role may log events only about the subject it acts for',
      'Leave subject_id empty or set it to the request''s own subject; events about other subjects are written by the DPO or the worker.');
  end if;
  if subject_id is not null then
    -- holds the subject against a concurrent erasure until this transaction ends, so an
    -- event about a subject cannot outlive that subject's erasure
    perform from compliance.user_profiles p where p.user_id = log_event.subject_id for key share;
    if not found then
      perform compliance_private.refuse_erased(subject_id);
    end if;
  end if;
  return compliance_private.append_audit(log_event.action, log_event.category,
    log_event.resource_type, log_event.resource_id, log_event.details, log_event.subject_id,
    log_event.personal_details, log_event.outcome, log_event.failure_reason);
end;
$function$;

comment on function compliance.log_event(action text, category text, resource_type text, resource_id text, details jsonb, subject_id text, personal_details jsonb, outcome text, failure_reason text) is
  'Appends an application event to the audit log (PHI access with the patient id in personal_details, logins, exports). details must not hold personal data: it survives erasure; put identifying values in subject_id and personal_details. The actor, client IP and user agent come from the request context. The app role may name only its own subject (OTHSJ). Returns the new row id. Actions pgcomply''s own routines write (audit.*, subject.*, retention.*, report.*, backup.*, phi.* but phi.access, …) are refused: RSRVD. Errors: ERASD for an erased subject, OTHSJ, RSRVD, BADRG.';

-- the gaps the old sealer left between layout-2 seals, written once; the seal head continues
-- right after the newest seal, so the next seal also covers ids it skipped at the end
do $$
declare
  v_gaps jsonb;
begin
  if exists (select from compliance.audit_logs a where a.action = 'audit.sealer_gaps_recorded') then
    return;
  end if;
  select coalesce(jsonb_agg(jsonb_build_object('seal_no', s.seal_no, 'from', p.last_row_id + 1, 'to', s.first_row_id - 1)
                            order by s.seal_no), '[]')
    into v_gaps
    from compliance.audit_seals s
    join compliance.audit_seals p on p.seal_no = s.seal_no - 1 and p.layout = 2
   where s.layout = 2 and s.first_row_id > p.last_row_id + 1;
  update compliance_private.audit_seal_head h
     set next_row_id = (select s.last_row_id + 1 from compliance.audit_seals s where s.layout = 2 order by s.seal_no desc limit 1)
   where exists (select from compliance.audit_seals s where s.layout = 2);
  perform compliance_private.append_audit('audit.sealer_gaps_recorded', 'system', 'audit_seal', null,
    jsonb_build_object('gaps', v_gaps, 'migration', '000041'), null, null, 'success', null, null, false);
end;
$$;


-- Bulk loads: a DBA adopting pgcomply loads a million subjects in one transaction. Profile
-- creation locked each subject until commit (one lock-table slot each: out of shared memory at
-- about 20,000); past 64 subjects a transaction now takes one every-subject lock instead. Inserts
-- are audited per statement, set-based, and new ids are checked against the tombstones in one query.
-- included from fixtures/subject-rights/lock_all_subjects.sql
-- compliance_private.lock_all_subjects(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.lock_all_subjects()
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  -- one slot of the lock table for any number of subjects; holding it again costs nothing
  perform pg_advisory_xact_lock(hashtextextended('pgcomply.every-subject', 0));
  perform set_config('compliance_private.subjects_locked', '64', true);
end;
$function$;

comment on function compliance_private.lock_all_subjects() is
  'Transaction-level lock on every subject at once (the every-subject lock, exclusive), for a statement that creates many profiles: an erasure or a single profile creation (lock_subject, which takes it shared) waits for the transaction, and it waits for them.';

-- included from fixtures/subject-rights/lock_subject.sql
-- compliance_private.lock_subject(user_id text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.lock_subject(user_id text)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  -- a hint only: whatever a session sets it to, the locks taken stay correct, never fewer
  v_taken integer := coalesce(nullif(current_setting('compliance_private.subjects_locked', true), '')::integer, 0);
begin
  -- each lock holds a slot of the shared lock table until commit: past a few dozen subjects one
  -- transaction takes the lock on every subject instead (a bulk load of a million fits)
  if v_taken >= 64 then
    perform compliance_private.lock_all_subjects();
    return;
  end if;
  if v_taken = 0 then
    perform pg_advisory_xact_lock_shared(hashtextextended('pgcomply.every-subject', 0));
  end if;
  perform pg_advisory_xact_lock(hashtextextended('pgcomply.subject:' || lock_subject.user_id, 0));
  perform set_config('compliance_private.subjects_locked', (v_taken + 1)::text, true);
end;
$function$;

comment on function compliance_private.lock_subject(user_id text) is
  'Transaction-level lock on one subject id, taken by erasure and by profile creation so neither can slip past the other. Each takes the every-subject lock shared first; after 64 subjects in one transaction it takes the every-subject lock exclusively instead (lock_all_subjects), so a bulk load does not run out of shared memory.';

revoke all on function compliance_private.lock_all_subjects(), compliance_private.lock_subject(text) from public;
-- included from fixtures/tombstones/subject_digest_with.sql
-- compliance_private.subject_digest_with(peppers bytea[], user_id text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.subject_digest_with(peppers bytea[], user_id text)
 RETURNS bytea
 LANGUAGE sql
 STABLE PARALLEL SAFE
RETURN CASE cardinality(peppers) WHEN 1 THEN sha256((peppers[1] || convert_to(user_id, 'UTF8'::name))) WHEN 2 THEN sha256((peppers[2] || sha256((peppers[1] || convert_to(user_id, 'UTF8'::name))))) ELSE NULL::bytea END;

comment on function compliance_private.subject_digest_with(peppers bytea[], user_id text) is
  'subject_digest for a keyring the caller already checked (session_peppers()), as one expression, so a statement can digest a million ids without a function call each (STABLE only because convert_to is, so the planner inlines it): keyrings of one or two peppers; NULL for more (the caller then uses subject_digest).';

revoke all on function compliance_private.subject_digest_with(bytea[], text) from public;
-- included from fixtures/tombstones/tg_user_profiles__refuse_erased.sql
-- compliance_private.tg_user_profiles__refuse_erased(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.tg_user_profiles__refuse_erased()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_peppers bytea[];
  v_subject text;
begin
  -- lock first, then look: a running erasure of one of these ids finishes before the check,
  -- whose fresh snapshot then sees its tombstone
  if (select count(*) from (select from new_rows limit 65) n) > 64 then
    perform compliance_private.lock_all_subjects();
  else
    for v_subject in select n.user_id from new_rows n order by n.user_id loop
      perform compliance_private.lock_subject(v_subject);
    end loop;
  end if;
  if not exists (select from compliance_private.erased_subjects) then
    return null;
  end if;
  v_peppers := compliance_private.session_peppers();
  -- a join, so each new id is digested once (a hash join on the digest)
  if cardinality(v_peppers) <= 2 then
    select n.user_id into v_subject from new_rows n
      join compliance_private.erased_subjects e on e.subject_digest = compliance_private.subject_digest_with(v_peppers, n.user_id)
     limit 1;
  else
    select n.user_id into v_subject from new_rows n
      join compliance_private.erased_subjects e on e.subject_digest = compliance_private.subject_digest(n.user_id)
     limit 1;
  end if;
  if found then
    perform compliance_private.refuse_erased(v_subject);
  end if;
  return null;
end;
$function$;

comment on function compliance_private.tg_user_profiles__refuse_erased() is
  'AFTER INSERT statement trigger on user_profiles (transition table new_rows): no profile can be created for an erased user id (ERASD), even concurrently with its erasure. It locks each new subject (lock_subject), or every subject at once for more than 64, then checks all new ids against the tombstones in one query, so a bulk load of a million profiles works.';

drop trigger _010_refuse_erased on compliance.user_profiles;
create trigger _010_refuse_erased after insert on compliance.user_profiles referencing new table as new_rows
  for each statement execute function compliance_private.tg_user_profiles__refuse_erased();

-- included from fixtures/audit/tg__audit_inserted_rows.sql
-- compliance_private.tg__audit_inserted_rows(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.tg__audit_inserted_rows()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  -- TG_ARGV as tg__audit_row_change: resource type, key column ('' when the subject is the key), verbs
  v_actor text := compliance.current_actor();
  v_ip inet := compliance.current_client_ip();
  v_user_agent text := compliance.current_user_agent();
  -- one actor, one salt for the statement's rows: the actor part is the same in each, and an
  -- erasure of the actor redacts all of them together
  v_actor_salt bytea := uuid_send(gen_random_uuid());
  v_actor_digest bytea := compliance_private.audit_actor_digest(v_actor_salt, v_actor, v_ip, v_user_agent);
  v_consent boolean := tg_table_name = 'consent_records';
begin
  if compliance_private.in_any_bulk_operation() then
    return null;  -- the routine writes one summary entry with counts
  end if;
  -- once per statement and set-based: a bulk load of a million rows writes its million audit rows
  -- in one INSERT … SELECT instead of a million trigger calls
  execute format($q$
    insert into compliance.audit_logs (action, category, resource_type, resource_id, details, user_id,
      actor_id, ip_address, user_agent, subject_part_salt, subject_part_digest, actor_part_salt,
      actor_part_digest, personal_digest)
    select x.action, 'gdpr', $1, x.resource_id, x.details, x.subject, $2, $3, $4, x.salt, x.digest, $5, $6, sha256(x.digest || $6)
      from (select y.*, compliance_private.audit_subject_digest(y.salt, y.subject, null) as digest
              from (select %s as action, %s as resource_id, %s as details, r.user_id::text as subject,
                           uuid_send(gen_random_uuid()) as salt
                      from new_rows r) y) x$q$,
    case when v_consent then $s$case when r.granted then 'consent.granted' else 'consent.withdrawn' end$s$
         else quote_literal(tg_argv[0] || '.' || tg_argv[2]) end,
    case when tg_argv[1] = '' then 'null::text' else format('r.%I::text', tg_argv[1]) end,
    case when v_consent then $s$jsonb_build_object('purpose', r.purpose, 'policy_version', r.policy_version, 'source', r.source)$s$
         else $s$'{}'::jsonb$s$ end)
  using tg_argv[0], v_actor, v_ip, v_user_agent, v_actor_salt, v_actor_digest;
  return null;
end;
$function$;

comment on function compliance_private.tg__audit_inserted_rows() is
  'AFTER INSERT statement trigger (transition table new_rows) on every personal table: one audit row per inserted row, with the actor from the request context (consent records: consent.granted or consent.withdrawn with purpose, policy version and source). Set-based, so a bulk load is audited at the cost of one INSERT … SELECT; the rows of one statement share the actor part''s salt. Same arguments as tg__audit_row_change, which audits updates.';

-- included from fixtures/audit/tg__audit_row_change.sql
-- compliance_private.tg__audit_row_change(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.tg__audit_row_change()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

comment on function compliance_private.tg__audit_row_change() is
  'AFTER UPDATE row trigger on every personal table (inserts are audited per statement by tg__audit_inserted_rows): one audit row per update, with the actor from the request context and, for updates, the changed field names (details.changed_fields, shortest name first) and their old and new values (personal part, GDPR Art. 16). Deletes are audited per statement by tg__audit_deleted_rows.';

revoke all on function compliance_private.tg__audit_inserted_rows() from public;
do $$
declare
  v_trigger record;
begin
  for v_trigger in
    select c.relname, pg_get_triggerdef(t.oid) as definition,
           substring(pg_get_triggerdef(t.oid) from 'tg__audit_row_change\((.*)\)$') as arguments
      from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = 'compliance' and t.tgname = '_900_audit' and t.tgfoid = 'compliance_private.tg__audit_row_change'::regproc
  loop
    execute format('drop trigger _900_audit on compliance.%I', v_trigger.relname);
    execute format('create trigger _900_audit after update on compliance.%I for each row execute function compliance_private.tg__audit_row_change(%s)',
                   v_trigger.relname, v_trigger.arguments);
    execute format('create trigger _902_audit_inserted after insert on compliance.%I referencing new table as new_rows for each statement execute function compliance_private.tg__audit_inserted_rows(%s)',
                   v_trigger.relname, v_trigger.arguments);
  end loop;
end;
$$;


-- Imported consents keep the evidence they came with: when the person gave them (given_at), next
-- to when pgcomply recorded them (recorded_at, which nobody sets).
alter table compliance.consent_records add column given_at timestamptz;
alter table compliance.consent_records add constraint consent_records_given_before_recorded check (given_at is null or given_at <= recorded_at);
comment on column compliance.consent_records.given_at is 'When the person gave or withdrew the consent, as imported evidence says (pgcomply import consents); NULL when it is recorded_at. Never after recorded_at.';
grant insert (given_at) on compliance.consent_records to compliance_app, compliance_dpo;


-- Tamper evidence on by default: the worker anchors at start and hourly, and a check named
-- anchors fails when the newest anchor is older than twice that interval.
alter table compliance.compliance_check_settings add column anchor_max_age interval not null default interval '2 hours';
alter table compliance.compliance_check_settings add constraint compliance_check_settings_anchor_max_age_positive check (anchor_max_age > interval '0');
comment on column compliance.compliance_check_settings.anchor_max_age is 'The anchors check fails when the newest anchor written outside the database is older than this (twice the worker''s hourly interval).';
-- included from fixtures/checks/check_anchors.sql
-- compliance_private.check_anchors(context jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.check_anchors(context jsonb)
 RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_limit interval := (select s.anchor_max_age from compliance.compliance_check_settings s);
  v_last timestamptz;
  v_seal bigint;
  v_first_seal timestamptz;
begin
  threshold := jsonb_build_object('max_age_hours', round(extract(epoch from v_limit) / 3600, 2));
  evidence := $q$select occurred_at, details from compliance.audit_logs where action = 'audit.anchored' and outcome = 'success' order by id desc$q$;
  select a.occurred_at, (a.details ->> 'seal_no')::bigint into v_last, v_seal
    from compliance.audit_logs a where a.action = 'audit.anchored' and a.outcome = 'success' order by a.id desc limit 1;
  select s.sealed_at into v_first_seal from compliance.audit_seals s order by s.seal_no limit 1;
  if v_last is null and (v_first_seal is null or v_first_seal > now() - v_limit) then
    -- a chain younger than the limit owes no anchor yet
    status := 'not_applicable';
    measured := jsonb_build_object('anchors', 0, 'first_seal_at', v_first_seal);
    detail := format('no anchor yet; the first is due within %s of the first seal (the worker writes one at start and hourly)', v_limit);
    return next;
    return;
  end if;
  measured := jsonb_build_object('last_anchor_at', v_last, 'seal_no', v_seal,
    'age_hours', round(extract(epoch from now() - v_last) / 3600, 2));
  status := case when v_last >= now() - v_limit then 'pass' else 'fail' end;
  detail := case
    when v_last is null then format('no anchor was ever written outside the database, and the chain is older than %s: tamper evidence is off (set ANCHOR_DIR and the signing key, run the worker)', v_limit)
    when status = 'pass' then format('the newest anchor (seal %s) was written at %s', v_seal, v_last)
    else format('the newest anchor (seal %s) was written at %s, longer ago than %s: is the worker publishing anchors?', v_seal, v_last, v_limit) end;
  return next;
end;
$function$;

comment on function compliance_private.check_anchors(context jsonb) is
  'Compliance check: an anchor (the newest seal, signed and written outside the database, recorded as audit.anchored) was written less than anchor_max_age ago (twice the worker''s hourly interval). Fails when the newest is older, or when none was ever written for a chain older than that; not_applicable only while the chain is younger.';

revoke all on function compliance_private.check_anchors(jsonb) from public;
-- included from fixtures/checks/run_compliance_checks.sql
-- compliance.run_compliance_checks(trigger text, require_tls boolean, full_verification boolean): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.run_compliance_checks(trigger text DEFAULT 'demand'::text, require_tls boolean DEFAULT false, full_verification boolean DEFAULT false)
 RETURNS SETOF compliance.check_results
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_run compliance.check_runs;
  v_since bigint;
  v_context jsonb;
  v_name text;
  v_result record;
  v_row compliance.check_results;
begin
  if trigger is null or trigger not in ('schedule', 'demand') then
    perform compliance_private.raise_error('BADRG', format('trigger %L is unknown', trigger), 'Use schedule or demand.');
  end if;
  -- findings are counted from where the last run began
  select r.audit_high_water into v_since from compliance.check_runs r order by r.id desc limit 1;
  insert into compliance.check_runs as r (trigger, audit_high_water)
  values (run_compliance_checks.trigger, coalesce((select max(a.id) from compliance.audit_logs a), 0))
  returning r.* into v_run;
  v_context := jsonb_build_object('since_audit_id', coalesce(v_since, 0), 'require_tls', coalesce(require_tls, false),
    'full_verification', coalesce(full_verification, false));
  foreach v_name in array array['audit_chain', 'seal_lag', 'retention_backlog', 'overdue_requests', 'emergency_reviews',
                                'phi_findings', 'breach_deadlines', 'access_review', 'row_level_security', 'privileges', 'password_encryption', 'client_tls',
                                'master_key_age', 'backup_age', 'anchors', 'worker_heartbeat', 'uptime', 'outside_the_database'] loop
    execute format('select * from compliance_private.check_%s($1)', v_name) into v_result using v_context;
    insert into compliance.check_results as c (run_id, check_name, status, measured, threshold, detail, evidence)
    values (v_run.id, v_name, v_result.status, v_result.measured, v_result.threshold, v_result.detail, v_result.evidence)
    returning c.* into v_row;
    -- one alert per failing check per run, in this transaction
    if v_row.status = 'fail' then
      perform compliance_private.raise_alert('compliance.check_failed',
        jsonb_build_object('run_id', v_run.id, 'check', v_name, 'measured', v_row.measured, 'threshold', v_row.threshold));
    end if;
    return next v_row;
  end loop;
  update compliance.check_runs r
     set finished_at = clock_timestamp(),
         passed = (select count(*) from compliance.check_results c where c.run_id = v_run.id and c.status = 'pass'),
         failed = (select count(*) from compliance.check_results c where c.run_id = v_run.id and c.status = 'fail'),
         not_applicable = (select count(*) from compliance.check_results c where c.run_id = v_run.id and c.status = 'not_applicable')
   where r.id = v_run.id
  returning r.* into v_run;
  perform compliance_private.append_audit('compliance.checks_run', 'soc2', 'check_run', v_run.id::text,
    jsonb_build_object('trigger', v_run.trigger, 'passed', v_run.passed, 'failed', v_run.failed,
      'not_applicable', v_run.not_applicable,
      'failed_checks', (select coalesce(jsonb_agg(c.check_name order by c.check_name), '[]') from compliance.check_results c
                         where c.run_id = v_run.id and c.status = 'fail'),
      -- the results themselves are anchored in the chain by their hash
      'results_sha256', encode(sha256(convert_to((select jsonb_agg(to_jsonb(c) order by c.check_name)::text
                                                  from compliance.check_results c where c.run_id = v_run.id), 'UTF8')), 'hex')));
end;
$function$;

comment on function compliance.run_compliance_checks(trigger text, require_tls boolean, full_verification boolean) is
  'Runs every compliance check (compliance_private.check_*) now, stores a run and its results, raises one compliance.check_failed alert per failing check in the outbox, and audits the run (compliance.checks_run, with the results'' hash). require_tls: whether the deployment requires TLS (REQUIRE_TLS), for the client_tls check; full_verification: verify the whole audit chain rather than from the last checkpoint. Returns the results. The worker runs it daily at 06:00 UTC; a DPO on demand.';

select compliance_private.record_expected_grants();
