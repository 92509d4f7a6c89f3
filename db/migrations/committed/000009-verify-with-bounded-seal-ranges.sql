--! Previous: sha1:af5939821279108a2bea30cc866bd615ed9b1c0c
--! Hash: sha1:e663988437e5ff1342f029bd5503e824d251ae4f
--! Message: verify-with-bounded-seal-ranges

-- Verification reads each seal's rows with index bounds that stop where the seal ends
-- (issue #8, P7). A row comparison (xact_id, id) <= (x, n) does not end a B-tree scan inside
-- the group of rows with xact_id = x, so a seal inside one large transaction (a bulk import,
-- a backfill) scanned that whole group: for a 1M-row transaction, 100 seals each walked up to
-- a million index entries. And a deleted or forged row no longer makes every later row of its
-- seal look reordered: positions are compared among the rows both the seal and the table hold.

create function compliance_private.audit_log_checks_between(
  from_xact xid8, from_id bigint, to_xact xid8, to_id bigint
) returns setof compliance_private.audit_log_checks
  language sql
  stable
as $$
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
$$;
comment on function compliance_private.audit_log_checks_between(xid8, bigint, xid8, bigint) is
  'The audit_log_checks rows after (from_xact, from_id) up to and including (to_xact, to_id) in seal order, read with index bounds that end where the range ends (a row comparison alone does not stop a B-tree scan inside one transaction''s rows).';

create or replace function compliance.verify_audit_log(
  out ok boolean, out seals_checked bigint, out rows_checked bigint, out problems jsonb
)
  language plpgsql
  stable
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_head compliance_private.audit_seal_head;
  v_seal compliance.audit_seals;
  v_expected_no bigint;
  v_previous_hash bytea;
  v_from_xact xid8;
  v_from_id bigint;
  v_problem record;
  v_count integer;
  v_hashes bytea;
  v_digest_bad boolean;
begin
  seals_checked := 0;
  rows_checked := 0;
  problems := '[]';
  select * into strict v_head from compliance_private.audit_seal_head;
  v_expected_no := v_head.anchor_seal_no + 1;
  v_previous_hash := v_head.anchor_hash;
  v_from_xact := '0'::xid8;
  v_from_id := 0;
  if v_head.anchor_seal_no > 0 then
    select s.last_xact_id, s.last_row_id into v_from_xact, v_from_id
      from compliance.audit_seals s where s.seal_no = v_head.anchor_seal_no;
  end if;

  for v_seal in
    select * from compliance.audit_seals s where s.seal_no > v_head.anchor_seal_no order by s.seal_no
  loop
    seals_checked := seals_checked + 1;
    if v_seal.seal_no <> v_expected_no then
      problems := problems || jsonb_build_object('kind', 'missing_seal', 'seal_no', v_expected_no,
        'detail', format('seals %s to %s are missing', v_expected_no, v_seal.seal_no - 1));
    end if;
    if v_seal.previous_hash <> v_previous_hash then
      problems := problems || jsonb_build_object('kind', 'broken_chain', 'seal_no', v_seal.seal_no,
        'detail', 'previous_hash does not match the hash of the seal before it');
    end if;
    if compliance_private.audit_seal_hash(v_seal.previous_hash, v_seal.seal_no, v_seal.last_xact_id,
         v_seal.last_row_id, v_seal.row_count, v_seal.row_hashes) <> v_seal.seal_hash then
      problems := problems || jsonb_build_object('kind', 'altered_seal', 'seal_no', v_seal.seal_no,
        'detail', 'the seal''s contents do not match its seal_hash');
    end if;

    -- recompute the seal's row hashes in order; only a mismatch needs the row-by-row
    -- comparison, which names what differs
    select count(*)::integer, coalesce(string_agg(r.row_hash, ''::bytea order by r.xact_id, r.id), ''::bytea),
           coalesce(bool_or(r.digest_mismatch), false)
      into v_count, v_hashes, v_digest_bad
      from compliance_private.audit_log_checks_between(v_from_xact, v_from_id,
             v_seal.last_xact_id, v_seal.last_row_id) r;
    rows_checked := rows_checked + v_count;

    if v_count <> v_seal.row_count or v_hashes <> v_seal.row_hashes or v_digest_bad then
      for v_problem in
        with sealed as (
          select u.id, u.ord, substring(v_seal.row_hashes from (u.ord::integer - 1) * 32 + 1 for 32) as row_hash
            from unnest(v_seal.row_ids) with ordinality as u(id, ord)
        ), present as (
          select c.id, c.xact_id, c.row_hash, c.digest_mismatch
            from compliance_private.audit_log_checks_between(v_from_xact, v_from_id,
                   v_seal.last_xact_id, v_seal.last_row_id) c
        ), matched as (
          -- positions among the rows both sides hold, so a deleted or forged row does not
          -- make every row after it look moved
          select s.id, row_number() over (order by s.ord) as sealed_ord,
                 row_number() over (order by p.xact_id, p.id) as present_ord
            from sealed s join present p on p.id = s.id
        )
        select coalesce(s.id, p.id) as id,
               case when p.id is null then 'deleted_row'
                    when s.id is null then 'forged_row'
                    when p.row_hash <> s.row_hash then 'altered_row'
                    when m.sealed_ord <> m.present_ord then 'reordered_row'
                    when p.digest_mismatch then 'digest_mismatch'
               end as kind
          from sealed s
          full join present p on p.id = s.id
          left join matched m on m.id = s.id
      loop
        continue when v_problem.kind is null;
        problems := problems || jsonb_build_object('kind', v_problem.kind, 'seal_no', v_seal.seal_no,
          'row_id', v_problem.id, 'detail', case v_problem.kind
            when 'deleted_row' then 'a sealed row is missing'
            when 'forged_row' then 'a row in the sealed range is not in the seal'
            when 'altered_row' then 'the row no longer matches its sealed hash'
            when 'reordered_row' then 'the row is not where the seal put it'
            else 'the personal part no longer matches personal_digest' end);
      end loop;
    end if;

    v_expected_no := v_seal.seal_no + 1;
    v_previous_hash := v_seal.seal_hash;
    v_from_xact := v_seal.last_xact_id;
    v_from_id := v_seal.last_row_id;
  end loop;

  if v_head.last_seal_no >= v_expected_no then
    problems := problems || jsonb_build_object('kind', 'missing_seal', 'seal_no', v_expected_no,
      'detail', format('the chain ends at seal %s but seal %s was made', v_expected_no - 1, v_head.last_seal_no));
  elsif v_head.last_seal_no > v_head.anchor_seal_no and v_head.last_hash <> v_previous_hash then
    problems := problems || jsonb_build_object('kind', 'broken_chain', 'seal_no', v_head.last_seal_no,
      'detail', 'the newest seal''s hash differs from the one recorded when it was made');
  end if;

  -- rows not sealed yet: only their personal digests can be checked
  for v_problem in
    select c.id from compliance_private.audit_log_checks c
     where (c.xact_id, c.id) > (v_from_xact, v_from_id) and c.digest_mismatch
  loop
    problems := problems || jsonb_build_object('kind', 'digest_mismatch', 'seal_no', null,
      'row_id', v_problem.id, 'detail', 'the personal part no longer matches personal_digest');
  end loop;
  rows_checked := rows_checked + (select count(*) from compliance.audit_logs a
                                   where (a.xact_id, a.id) > (v_from_xact, v_from_id));

  ok := jsonb_array_length(problems) = 0;
end;
$$;
comment on function compliance.verify_audit_log() is
  'Recomputes every seal after the retention anchor and every row hash and personal digest. Returns ok, how many seals and rows it checked, and problems: a JSON array of {kind, seal_no, row_id, detail} where kind is deleted_row, forged_row, altered_row, reordered_row, digest_mismatch, altered_seal, broken_chain or missing_seal. Redacted rows verify: the hashes never cover the personal part itself.';
grant execute on function compliance.verify_audit_log() to compliance_auditor, compliance_dpo, compliance_worker;
