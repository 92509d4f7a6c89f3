--! Previous: sha1:1ae06971d8dcc26ad4f64d8165f0925bf40fc124
--! Hash: sha1:55ff4e1e36720de2ed038a44e7126f00fc42541a
--! Message: incremental-audit-verification

-- Incremental audit verification (issue #19): verify_audit_log can start from a checkpoint, the
-- last seal a passing verification reached, recorded as an audit.verified row (so the checkpoint
-- is itself sealed into the chain); the daily check then costs what the day's rows cost. A full
-- verification stays one flag away.

drop function compliance.verify_audit_log();
-- included from fixtures/audit/verify_audit_log.sql
-- compliance.verify_audit_log(from_seal bigint, from_hash bytea, OUT ok boolean, OUT seals_checked bigint, OUT rows_checked bigint, OUT unsealed_rows bigint, OUT problems jsonb, OUT incremental boolean, OUT last_seal_no bigint, OUT last_seal_hash bytea): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.verify_audit_log(from_seal bigint DEFAULT NULL::bigint, from_hash bytea DEFAULT NULL::bytea, OUT ok boolean, OUT seals_checked bigint, OUT rows_checked bigint, OUT unsealed_rows bigint, OUT problems jsonb, OUT incremental boolean, OUT last_seal_no bigint, OUT last_seal_hash bytea)
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
begin
  seals_checked := 0;
  rows_checked := 0;
  problems := '[]';
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
    if v_seal.layout = 2 and v_seal.first_row_id <> coalesce(v_next_id, v_bounds.layout2_from) then
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
                when compliance_private.audit_parts_missing(e.parts, f.parts) then 'unaccounted_redaction'
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
    problems := problems || jsonb_build_object('kind', v_problem.kind, 'seal_no', null, 'row_id', v_problem.id,
      'detail', compliance_private.audit_problem_detail(v_problem.kind));
  end loop;

  ok := jsonb_array_length(problems) = 0;
  last_seal_no := v_expected_no - 1;
  last_seal_hash := v_previous_hash;
end;
$function$;

comment on function compliance.verify_audit_log(from_seal bigint, from_hash bytea, OUT ok boolean, OUT seals_checked bigint, OUT rows_checked bigint, OUT unsealed_rows bigint, OUT problems jsonb, OUT incremental boolean, OUT last_seal_no bigint, OUT last_seal_hash bytea) is
  'Recomputes the whole seal chain, every row hash and every personal digest, from the chain''s own records only; or, given a checkpoint (from_seal and the from_hash it had when verified), only the seals after it and the rows they and the unsealed tail hold, so the cost follows the rows added since (redactions of older rows and layout-1 rows are then left to a full run). Returns ok, how many seals and rows it checked, how many rows are not sealed yet (their personal parts are checked, their presence is not proven), and problems: a JSON array of {kind, seal_no, row_id, detail}. kind: deleted_row, forged_row, altered_row, reordered_row, digest_mismatch, redacted_not_empty, unaccounted_redaction, unredacted_row, altered_seal, broken_chain, missing_seal, unaccounted_gap; whether it ran incrementally; and the last seal it verified with its hash, the next checkpoint. db/AUDIT_HASHING.md says what it proves and what it cannot see.';

-- included from fixtures/checks/check_audit_chain.sql
-- compliance_private.check_audit_chain(context jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.check_audit_chain(context jsonb)
 RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_full boolean := coalesce((context ->> 'full_verification')::boolean, false);
  v_sealed_end bigint := coalesce((select s.last_row_id from compliance.audit_seals s where s.layout = 2 order by s.seal_no desc limit 1), 0);
  v_from_seal bigint;
  v_from_hash bytea;
  v_result record;
begin
  -- the checkpoint is the newest audit.verified row that is itself sealed: anchored in the chain
  if not v_full then
    select (a.details ->> 'seal_no')::bigint, decode(a.details ->> 'seal_hash', 'hex')
      into v_from_seal, v_from_hash
      from compliance.audit_logs a
     where a.action = 'audit.verified' and a.outcome = 'success' and a.id <= v_sealed_end
     order by a.id desc limit 1;
  end if;
  select * into v_result from compliance.verify_audit_log(v_from_seal, v_from_hash);
  status := case when v_result.ok then 'pass' else 'fail' end;
  measured := jsonb_build_object('incremental', v_result.incremental, 'from_seal', case when v_result.incremental then v_from_seal end,
    'seals_checked', v_result.seals_checked, 'rows_checked', v_result.rows_checked,
    'unsealed_rows', v_result.unsealed_rows, 'problems', jsonb_array_length(v_result.problems),
    'first_problems', (select coalesce(jsonb_agg(p), '[]') from (select p from jsonb_array_elements(v_result.problems) p limit 5) x));
  threshold := jsonb_build_object('problems', 0);
  detail := case when v_result.ok then format('%s seals and %s rows verify%s', v_result.seals_checked, v_result.rows_checked,
                                              case when v_result.incremental then format(' (after seal %s)', v_from_seal) else ' (the whole chain)' end)
                 else format('%s problem(s) in the audit chain', jsonb_array_length(v_result.problems)) end;
  evidence := case when v_result.incremental
                   then format('select * from compliance.verify_audit_log(%s, %L::bytea)', v_from_seal, v_from_hash)
                   else 'select * from compliance.verify_audit_log()' end;
  -- the next run starts here; the row is sealed like any other, which anchors it
  if v_result.ok and v_result.last_seal_no > 0 then
    perform compliance_private.append_audit('audit.verified', 'soc2', 'audit_seal', v_result.last_seal_no::text,
      jsonb_build_object('seal_no', v_result.last_seal_no, 'seal_hash', encode(v_result.last_seal_hash, 'hex'),
        'incremental', v_result.incremental, 'seals_checked', v_result.seals_checked, 'rows_checked', v_result.rows_checked));
  end if;
  return next;
end;
$function$;

comment on function compliance_private.check_audit_chain(context jsonb) is
  'Compliance check: the audit chain verifies. Incrementally, from the newest sealed audit.verified row (the checkpoint, anchored in the chain), so the daily cost follows the day''s rows; the whole chain when context full_verification is true or no checkpoint exists. A passing run writes the next checkpoint.';

-- included from fixtures/checks/alert_counts.sql
-- compliance.alert_counts(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.alert_counts()
 RETURNS TABLE(topic text, state text, alerts bigint)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select a.topic, a.state, count(*) from compliance.alert_outbox a group by a.topic, a.state order by a.topic, a.state;
$function$;

comment on function compliance.alert_counts() is
  'How many alerts the outbox holds by topic and delivery state (pending, delivered, failed), and nothing about whom they name: what /metrics exports as pgcomply_alerts_total (delivered, failed) and pgcomply_alerts_pending.';

drop function compliance.run_compliance_checks(text, boolean);
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
                                'phi_findings', 'breach_deadlines', 'row_level_security', 'privileges', 'password_encryption', 'client_tls',
                                'master_key_age', 'backup_age', 'worker_heartbeat', 'uptime', 'outside_the_database'] loop
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

revoke all on function compliance.verify_audit_log(bigint, bytea), compliance.run_compliance_checks(text, boolean, boolean) from public;
grant execute on function compliance.verify_audit_log(bigint, bytea) to compliance_auditor, compliance_dpo, compliance_worker;
grant execute on function compliance.run_compliance_checks(text, boolean, boolean) to compliance_worker, compliance_dpo;

select compliance_private.record_expected_grants();
