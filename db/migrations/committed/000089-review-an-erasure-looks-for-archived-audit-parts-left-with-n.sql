--! Previous: sha1:dc615d0cb53ee1709b7290769598263f7aaa466b
--! Hash: sha1:98b346e5d757a76a9277d1b09ba4a8b8895ffa33
--! Message: Review: an erasure looks for archived audit parts left with nothing personal only when it redacted some; the compliance checks and the monthly report run on a Citus cluster, and the checks refuse to start while a worker does not answer (NODES)

-- Found on review: moved into its own routine, the deletion of archived parts left with nothing
-- personal ran on every erasure, and no index finds the parts this transaction redacted, so each
-- erasure read every archived part of its chain. It runs only after a redaction, as before.
-- included from fixtures/subject-rights/redact_archived_parts_in.sql
-- compliance_private.redact_archived_parts_in(placement text, person text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.redact_archived_parts_in(placement text, person text)
 RETURNS bigint
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_count bigint;
begin
  -- under the erasure's mark on the shard's own node, as redact_audit_rows_in
  perform compliance_private.begin_bulk_operation('erasure', array[redact_archived_parts_in.placement]);
  update compliance.audit_archived_parts a
     set user_id = case when a.user_id = redact_archived_parts_in.person or a.subject_part_digest is null then null else a.user_id end,
         personal_details = case when a.user_id = redact_archived_parts_in.person or a.subject_part_digest is null then null else a.personal_details end,
         subject_part_salt = case when a.user_id = redact_archived_parts_in.person then null else a.subject_part_salt end,
         actor_id = case when a.actor_id = redact_archived_parts_in.person or a.subject_part_digest is null then null else a.actor_id end,
         ip_address = case when a.actor_id = redact_archived_parts_in.person or a.subject_part_digest is null then null else a.ip_address end,
         user_agent = case when a.actor_id = redact_archived_parts_in.person or a.subject_part_digest is null then null else a.user_agent end,
         actor_part_salt = case when a.actor_id = redact_archived_parts_in.person then null else a.actor_part_salt end,
         personal_salt = null,
         redacted_at = now()
   where a.placement = redact_archived_parts_in.placement
     and (a.user_id = redact_archived_parts_in.person or a.actor_id = redact_archived_parts_in.person);
  get diagnostics v_count = row_count;
  -- a row left with no personal part goes: the bundle holds the rest of it and its digests (only
  -- when there was one: no index finds this transaction's redactions, and most erasures have none)
  if v_count > 0 then
    delete from compliance.audit_archived_parts a
     where a.placement = redact_archived_parts_in.placement and a.redacted_at = now()
       and num_nonnulls(a.user_id, a.actor_id, a.ip_address, a.user_agent, a.personal_details) = 0;
  end if;
  return v_count;
end;
$function$;

comment on function compliance_private.redact_archived_parts_in(placement text, person text) is
  'Part of an erasure: in one chain (placement), the same redaction as redact_audit_rows_in for the personal parts of audit rows whose month went to the cold archive; a part left with nothing personal is deleted. Returns how many parts changed.';

-- finish_erasure_elsewhere_core runs only on a Citus cluster, where setup resets a pinned generic
-- plan (Citus cannot route one), so it pins none
-- included from fixtures/subject-rights/finish_erasure_elsewhere_core.sql
-- compliance_private.finish_erasure_elsewhere_core(chain text, request_id bigint): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.finish_erasure_elsewhere_core(chain text, request_id bigint)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_person text;
  v_queued_at timestamptz;
  v_counts jsonb;
  v_acted_in text;
  v_rows record;
  v_redacted bigint := 0;
  v_subject_rows jsonb := '[]';
  v_actor_rows jsonb := '[]';
  v_archived bigint := 0;
begin
  -- taken off the list first: a second caller waits for this transaction, then finds nothing
  delete from compliance_private.erasures_finishing_elsewhere e
   where e.placement = finish_erasure_elsewhere_core.chain and e.request_id = finish_erasure_elsewhere_core.request_id
  returning e.person, e.queued_at into v_person, v_queued_at;
  if not found then
    return null;
  end if;

  v_counts := compliance_private.erase_person_as_actor(v_person);
  -- the audit rows and archived parts outside the subject's own chain, which the erasure cleared:
  -- where they acted, and where rows about them were written before the cluster (the chain '')
  for v_acted_in in select distinct a.placement from compliance.audit_logs a
                     where (a.user_id = v_person or a.actor_id = v_person) and a.placement <> finish_erasure_elsewhere_core.chain
                     order by 1 loop
    select * into v_rows from compliance_private.redact_audit_rows_in(v_acted_in, v_person);
    v_redacted := v_redacted + v_rows.redacted;
    v_subject_rows := v_subject_rows || v_rows.subject_rows;
    v_actor_rows := v_actor_rows || v_rows.actor_rows;
  end loop;
  for v_acted_in in select distinct a.placement from compliance.audit_archived_parts a
                     where (a.user_id = v_person or a.actor_id = v_person) and a.placement <> finish_erasure_elsewhere_core.chain
                     order by 1 loop
    v_archived := v_archived + compliance_private.redact_archived_parts_in(v_acted_in, v_person);
  end loop;
  perform compliance_private.end_bulk_operation();

  -- beside the erasure's own record, in the subject's chain; counts and row ids, never identity
  perform compliance_private.append_audit('subject.erased_elsewhere', 'gdpr', 'dsr_request', finish_erasure_elsewhere_core.request_id::text,
    jsonb_build_object('anonymised', v_counts, 'audit_rows_redacted', v_redacted,
                       'redacted_subject_rows', v_subject_rows, 'redacted_actor_rows', v_actor_rows,
                       'archived_audit_rows_redacted', v_archived, 'erased_at', v_queued_at),
    null, null, 'success', null, compliance.current_actor(), false, finish_erasure_elsewhere_core.chain);
  return jsonb_build_object('dsr_request_id', finish_erasure_elsewhere_core.request_id, 'anonymised', v_counts,
                            'audit_rows_redacted', v_redacted, 'archived_audit_rows_redacted', v_archived);
end;
$function$;

comment on function compliance_private.finish_erasure_elsewhere_core(chain text, request_id bigint) is
  'The second transaction of an erasure on a Citus cluster (the first, erase_subject_core, stays on the subject''s node): clears the erased person wherever they acted on someone else''s rows, and redacts the audit rows and archived parts about or by them in other chains (those written before the cluster was set up are in the chain ''''). It writes a subject.erased_elsewhere record listing the rows it redacted, in the subject''s chain, which verification trusts like the erasure''s own. Returns null when that erasure is not waiting (finished already, or never queued).';

-- The run of every check failed on a Citus cluster from its first statement: Citus refuses a
-- subquery inside INSERT … VALUES, and volatile functions or subqueries inside an UPDATE of a
-- distributed table. Three routines read first and write plain values, or read the held
-- subjects apart from the requests they cannot be joined with; and a run with a silent worker
-- refuses to start, naming it, where it failed on the first row it could not write.
-- included from fixtures/citus/nodes_not_answering.sql
-- compliance_private.nodes_not_answering(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.nodes_not_answering()
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_silent jsonb := '[]';
begin
  if compliance_private.is_distributed() then
    -- dynamic: the function exists only where Citus is installed
    execute $q$select coalesce(jsonb_agg(w.nodename || ':' || w.nodeport order by w.nodename, w.nodeport) filter (where not w.success), '[]')
                from pg_catalog.run_command_on_workers('select 1') w$q$ into v_silent;
  end if;
  return v_silent;
end;
$function$;

comment on function compliance_private.nodes_not_answering() is
  'On a Citus cluster, the workers that do not answer a trivial query now, as host:port (a JSON array); always [] on a single node. The audit_chain check names them, and a check run refuses to start while any is silent (NODES).';

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
  v_chains text[] := array(select c from compliance.audit_chains() c);
  -- a Citus cluster's chains, one per shard, and its root chain; a single node has one chain
  v_per_shard boolean := cardinality(v_chains) > 1;
  v_chain text;
  v_sealed_end bigint;
  v_from_seal bigint;
  v_from_hash bytea;
  v_result record;
  v_roots record;
  v_roots_checked bigint;
  v_silent jsonb := '[]';
  v_checkpoints jsonb := '[]';
  -- where this check's own audit.verified rows go (its actor's chain, '' on a single node): the
  -- checkpoints are read there alone
  v_kept_in text := compliance_private.placement_of(compliance.current_actor());
  v_checkpoint jsonb;
  v_ok boolean := true;
  v_incremental boolean := true;
  v_seals bigint := 0;
  v_rows bigint := 0;
  v_unsealed bigint := 0;
  v_problems jsonb := '[]';
  v_unreachable jsonb := '[]';
  v_single_from bigint;
  v_single_hash bytea;
begin
  -- on a Citus cluster: which workers answer at all (a chain's verification also reads the
  -- accounting records every chain holds, so one silent node leaves every chain unproven)
  if v_per_shard then
    v_silent := compliance_private.nodes_not_answering();
  end if;
  -- each chain on its own: one on a single node, one per shard on a Citus cluster, where a chain
  -- that cannot be verified fails the check by name
  foreach v_chain in array v_chains loop
    begin
      v_from_seal := null;
      v_from_hash := null;
      -- a plain read into a variable: Citus cannot plan a sub-select with a parameter in an expression
      select s.last_row_id into v_sealed_end from compliance.audit_seals s
       where s.placement = v_chain and s.layout = 2 order by s.seal_no desc limit 1;
      v_sealed_end := coalesce(v_sealed_end, 0);
      -- the checkpoint is the newest audit.verified row of this chain that is itself sealed: anchored
      if not v_full then
        select (a.details ->> 'seal_no')::bigint, decode(a.details ->> 'seal_hash', 'hex')
          into v_from_seal, v_from_hash
          from compliance.audit_logs a
         where a.placement = v_kept_in
           and a.action = 'audit.verified' and a.outcome = 'success' and coalesce(a.details ->> 'placement', '') = v_chain
           and case when a.placement = v_chain then a.id <= v_sealed_end else compliance_private.audit_row_sealed(a.placement, a.id) end
         order by a.id desc limit 1;
      end if;
      select * into v_result from compliance.verify_audit_log(v_from_seal, v_from_hash, v_chain);
    exception when others then
      if not v_per_shard then
        raise;  -- a single node's own failure is not a node that did not answer
      end if;
      v_ok := false;
      v_unreachable := v_unreachable || jsonb_build_object('placement', v_chain, 'error', sqlerrm);
      continue;
    end;
    v_ok := v_ok and v_result.ok;
    v_incremental := v_incremental and v_result.incremental;
    v_seals := v_seals + v_result.seals_checked;
    v_rows := v_rows + v_result.rows_checked;
    v_unsealed := v_unsealed + v_result.unsealed_rows;
    v_problems := v_problems || case when not v_per_shard then v_result.problems
                                     else (select coalesce(jsonb_agg(p || jsonb_build_object('placement', v_chain)), '[]')
                                             from jsonb_array_elements(v_result.problems) p) end;
    v_single_from := v_from_seal;
    v_single_hash := v_from_hash;
    -- the next run starts here; the row is sealed like any other, which anchors it
    if v_result.ok and v_result.last_seal_no > 0 then
      v_checkpoints := v_checkpoints || jsonb_build_array(
        jsonb_build_object('seal_no', v_result.last_seal_no, 'seal_hash', encode(v_result.last_seal_hash, 'hex'),
          'incremental', v_result.incremental, 'seals_checked', v_result.seals_checked, 'rows_checked', v_result.rows_checked)
        || case when v_chain = '' then '{}'::jsonb else jsonb_build_object('placement', v_chain) end);
    end if;
  end loop;
  -- with chains per shard, the root chain too
  if v_per_shard then
    begin
      select * into v_roots from compliance.verify_audit_roots();
      v_ok := v_ok and v_roots.ok;
      v_problems := v_problems || v_roots.problems;
      v_roots_checked := v_roots.roots_checked;
    exception when others then
      v_ok := false;
      v_unreachable := v_unreachable || jsonb_build_object('placement', null, 'error', sqlerrm);
    end;
  end if;

  -- written after every read: on a Citus cluster a transaction may not read, as this caller, the
  -- shards the owner's routine wrote in it
  for v_checkpoint in select c from jsonb_array_elements(v_checkpoints) c loop
    perform compliance_private.append_audit('audit.verified', 'soc2', 'audit_seal', v_checkpoint ->> 'seal_no', v_checkpoint);
  end loop;

  status := case when v_ok and v_silent = '[]' then 'pass' else 'fail' end;
  measured := jsonb_build_object('incremental', v_incremental,
    'from_seal', case when not v_per_shard and v_incremental then v_single_from end,
    'seals_checked', v_seals, 'rows_checked', v_rows, 'unsealed_rows', v_unsealed, 'problems', jsonb_array_length(v_problems),
    'first_problems', (select coalesce(jsonb_agg(p), '[]') from (select p from jsonb_array_elements(v_problems) p limit 5) x))
    || case when not v_per_shard then '{}'::jsonb
            else jsonb_build_object('chains', cardinality(v_chains), 'roots_checked', v_roots_checked, 'unreachable', v_unreachable,
                                    'nodes_not_answering', v_silent) end;
  threshold := jsonb_build_object('problems', 0)
    || case when not v_per_shard then '{}'::jsonb else jsonb_build_object('unreachable', '[]'::jsonb, 'nodes_not_answering', '[]'::jsonb) end;
  detail := case when v_ok then format('%s seals and %s rows verify%s', v_seals, v_rows,
                                       case when v_per_shard then format(' in %s chains, and %s roots', cardinality(v_chains), v_roots_checked)
                                            when v_incremental then format(' (after seal %s)', v_single_from) else ' (the whole chain)' end)
                 when jsonb_array_length(v_silent) > 0
                   then format('%s worker(s) did not answer (%s): %s chain(s) could not be verified', jsonb_array_length(v_silent),
                               (select string_agg(n, ', ') from jsonb_array_elements_text(v_silent) n), jsonb_array_length(v_unreachable))
                 when jsonb_array_length(v_unreachable) > 0
                   then format('%s chain(s) could not be verified: %s', jsonb_array_length(v_unreachable),
                               (select string_agg(coalesce(u ->> 'placement', 'the roots'), ', ') from jsonb_array_elements(v_unreachable) u))
                 else format('%s problem(s) in the audit chain', jsonb_array_length(v_problems)) end;
  evidence := case when v_per_shard
                   then 'select c, v.* from compliance.audit_chains() c, compliance.verify_audit_log(null, null, c) v; select * from compliance.verify_audit_roots()'
                   when v_incremental then format('select * from compliance.verify_audit_log(%s, %L::bytea)', v_single_from, v_single_hash)
                   else 'select * from compliance.verify_audit_log()' end;
  return next;
end;
$function$;

comment on function compliance_private.check_audit_chain(context jsonb) is
  'Compliance check: the audit chain verifies (on a Citus cluster, each shard''s chain and the root chain; a worker that does not answer fails the check, named in measured.nodes_not_answering, with the chains left unverified in measured.unreachable). Incrementally, from the newest sealed audit.verified row (the checkpoint, anchored in the chain), so the daily cost follows the day''s rows; the whole chain when context full_verification is true or no checkpoint exists. A passing run writes the next checkpoint.';

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
  v_high_water bigint;
  v_silent jsonb;
  v_passed integer;
  v_failed integer;
  v_not_applicable integer;
  v_finished_at timestamptz;
  v_context jsonb;
  v_name text;
  v_result record;
  v_row compliance.check_results;
begin
  if trigger is null or trigger not in ('schedule', 'demand') then
    perform compliance_private.raise_error('BADRG', format('trigger %L is unknown', trigger), 'Use schedule or demand.');
  end if;
  -- on a Citus cluster a silent worker leaves its shards unread and its copy of the results
  -- table unwritable: no check may pass, and the run could not be recorded, so it says which
  v_silent := compliance_private.nodes_not_answering();
  if v_silent <> '[]' then
    perform compliance_private.raise_error('NODES',
      format('the compliance checks cannot run: these workers of the Citus cluster do not answer: %s',
             (select string_agg(n, ', ') from jsonb_array_elements_text(v_silent) n)),
      'No check passes while a worker is silent. Bring it back (docs/CITUS.md); compliance_private.check_audit_chain(''{}'') names the chains it holds.');
  end if;
  -- findings are counted from where the last run began
  select r.audit_high_water into v_since from compliance.check_runs r order by r.id desc limit 1;
  -- read first: on a Citus cluster an INSERT may not hold a subquery
  select coalesce(max(a.id), 0) into v_high_water from compliance.audit_logs a;
  insert into compliance.check_runs as r (trigger, audit_high_water)
  values (run_compliance_checks.trigger, v_high_water)
  returning r.* into v_run;
  v_context := jsonb_build_object('since_audit_id', coalesce(v_since, 0), 'require_tls', coalesce(require_tls, false),
    'full_verification', coalesce(full_verification, false));
  foreach v_name in array array['audit_chain', 'seal_lag', 'retention_backlog', 'overdue_requests', 'emergency_reviews',
                                'phi_findings', 'breach_deadlines', 'access_review', 'row_level_security', 'privileges', 'password_encryption', 'client_tls',
                                'master_key_age', 'backup_age', 'anchors', 'worker_heartbeat', 'uptime', 'outside_the_database', 'privileged_mfa', 'wal_archive_lag', 'restore_drill', 'data_map', 'processing_record', 'dsr_propagation', 'database_audit', 'siem_lag', 'audit_archive'] loop
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
  -- counted and timed first: on a Citus cluster an UPDATE may hold neither a subquery nor clock_timestamp()
  select count(*) filter (where c.status = 'pass'), count(*) filter (where c.status = 'fail'),
         count(*) filter (where c.status = 'not_applicable'), clock_timestamp()
    into v_passed, v_failed, v_not_applicable, v_finished_at
    from compliance.check_results c where c.run_id = v_run.id;
  update compliance.check_runs r
     set finished_at = v_finished_at, passed = v_passed, failed = v_failed, not_applicable = v_not_applicable
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
  'Runs every compliance check (compliance_private.check_*) now, stores a run and its results, raises one compliance.check_failed alert per failing check in the outbox, and audits the run (compliance.checks_run, with the results'' hash). require_tls: whether the deployment requires TLS (REQUIRE_TLS), for the client_tls check; full_verification: verify the whole audit chain rather than from the last checkpoint. Returns the results. On a Citus cluster it refuses to start while a worker does not answer (NODES, naming them): no check passes then. The worker runs it daily at 06:00 UTC; a DPO on demand.';

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
      -- the subjects held, read apart: on a Citus cluster the requests sit by their subject's
      -- placement and the holds by the subject, so the two cannot be joined
      return query select r.id::text from compliance.dsr_requests r
        where r.received_at < cutoff and r.completed_at is not null
          and not coalesce(r.user_id = any (array(select h.user_id from compliance.legal_holds h where h.released_at is null)), false)
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

-- included from fixtures/processing/holds_rows.sql
-- compliance_private.holds_rows(relation regclass): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.holds_rows(relation regclass)
 RETURNS boolean
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_found boolean;
begin
  -- a table pgcomply may not read is taken to hold some: the record must name it
  if not pg_catalog.has_table_privilege(relation, 'SELECT') then
    return true;
  end if;
  -- a column to select: Citus cannot plan an empty select list over a distributed table
  execute format('select exists (select 1 from %s)', relation) into v_found;
  return v_found;
end;
$function$;

comment on function compliance_private.holds_rows(relation regclass) is
  'Whether a table holds any row now (one it may not read counts as holding some): a table holds personal data for the record of processing once it holds a row.';

-- The monthly report failed on a Citus cluster too: Citus cannot plan a SQL function's parameters,
-- nor a subquery in the select list over its shards. It reads each distributed table into a
-- materialized CTE of plain rows. Written in PL/pgSQL, it also counts the evidence packages
-- generated in the report's period, where the packages' own period columns had taken the place
-- of the function's parameters of the same name.
-- included from fixtures/reports/monthly_report_content.sql
-- compliance_private.monthly_report_content(period_from timestamp with time zone, period_to timestamp with time zone): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.monthly_report_content(period_from timestamp with time zone, period_to timestamp with time zone)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
#variable_conflict use_variable
begin
  -- PL/pgSQL, not SQL: Citus cannot plan a SQL function's parameters. And the period is this
  -- call's wherever a table has a column of the same name (evidence_packages.period_from), which in
  -- a SQL function the column would have won. Every read of a table distributed on a Citus
  -- cluster is a materialized CTE of plain rows: Citus reads those from the shards, and the
  -- figures are computed from them where the query runs (Citus cannot push down a subquery in the
  -- select list over its shards).
  -- every figure is {value, population}: the evidence population (compliance.evidence_populations)
  -- over the same period holds the rows it was counted from
  return (with requests as materialized (
    select r.* from compliance.dsr_requests r where r.received_at >= period_from and r.received_at < period_to
  ), audit as materialized (
    select a.action, a.resource_id, a.outcome, a.details, a.occurred_at from compliance.audit_logs a
     where a.occurred_at >= period_from and a.occurred_at < period_to
       and a.action in ('subject.erased', 'retention.applied', 'phi.read', 'phi.created', 'phi.updated', 'phi.deleted',
                        'phi.denied', 'phi.integrity_failure', 'phi.unusual_access')
  ), consent as materialized (
    select c.purpose, date_trunc('week', c.recorded_at, 'UTC') as week, c.granted from compliance.consent_records c
     where c.recorded_at >= period_from and c.recorded_at < period_to
  ), checks as (
    select c.check_name, c.status from compliance.check_runs r join compliance.check_results c on c.run_id = r.id
     where r.started_at >= period_from and r.started_at < period_to
  ), emergencies as materialized (
    select g.* from compliance.access_grants g where g.kind = 'emergency' and g.requested_at >= period_from and g.requested_at < period_to
  ), campaigns as (
    select s.* from compliance.access_review_campaign_status s where s.opened_at >= period_from and s.opened_at < period_to
  ), breaches as (
    select b.* from compliance.breaches b where b.discovered_at >= period_from and b.discovered_at < period_to
  ), privileged as materialized (
    select a.actor_id, a.details from compliance.audit_logs a
     where a.details ? 'authentication' and a.occurred_at >= period_to - interval '90 days' and a.occurred_at < period_to
  ), last_anchor as materialized (
    select a.occurred_at, a.details from compliance.audit_logs a
     where a.action = 'audit.anchored' and a.outcome = 'success' and a.occurred_at < period_to
     order by a.id desc limit 1
  ), newest_seal as materialized (
    select s.seal_no, s.seal_hash, s.sealed_at, s.last_row_id from compliance.audit_seals s
     where s.sealed_at < period_to order by s.seal_no desc limit 1
  ), recovery_rows as materialized (
    select a.action, a.outcome, a.details from compliance.audit_logs a
     where a.occurred_at >= period_from and a.occurred_at < period_to and a.action in ('backup.taken', 'backup.failed', 'backup.drill')
  )
  select jsonb_build_object(
    'period', jsonb_build_object('from', period_from, 'to', period_to),
    'gdpr', jsonb_build_object(
      'requests_received', jsonb_build_object('value', (select count(*) from requests), 'population', 'dsr_requests'),
      'requests_completed', jsonb_build_object('value', (select count(*) from requests r where r.completed_at is not null), 'population', 'dsr_requests'),
      'requests_overdue', jsonb_build_object('value', (select count(*) from requests r
          where r.completed_at > r.due_at or (r.completed_at is null and r.due_at < least(now(), period_to))), 'population', 'dsr_requests'),
      'median_days_to_complete', jsonb_build_object('value', (select round(percentile_cont(0.5) within group
          (order by extract(epoch from r.completed_at - r.received_at) / 86400)::numeric, 1) from requests r where r.completed_at is not null),
        'population', 'dsr_requests'),
      'erasures', jsonb_build_object('value', (select count(*) from audit a where a.action = 'subject.erased'), 'population', 'erasures'),
      'consent_trend', jsonb_build_object('population', 'consent_changes', 'weeks', coalesce((
        select jsonb_agg(jsonb_build_object('purpose', c.purpose, 'week', c.week, 'granted', c.granted_count, 'withdrawn', c.withdrawn_count)
                         order by c.purpose, c.week)
          from (select c.purpose, c.week, count(*) filter (where c.granted) as granted_count, count(*) filter (where not c.granted) as withdrawn_count
                  from consent c group by c.purpose, c.week) c), '[]'))),
    'retention', jsonb_build_object('population', 'retention_runs', 'deleted_per_category', coalesce((
      select jsonb_agg(jsonb_build_object('category', d.category, 'deleted', d.deleted) order by d.category)
        from (select a.resource_id as category, sum((a.details ->> 'deleted')::bigint) as deleted from audit a
               where a.action = 'retention.applied' and jsonb_typeof(a.details -> 'deleted') = 'number'
                 and coalesce(a.details ->> 'dry_run', 'false') = 'false'
               group by a.resource_id) d), '[]')),
    'soc2', jsonb_build_object(
      'check_pass_rates', jsonb_build_object('population', 'verification_results', 'checks', coalesce((
        select jsonb_agg(jsonb_build_object('check', c.check_name, 'runs', c.runs, 'passed', c.passed, 'failed', c.failed,
                 'not_applicable', c.not_applicable, 'pass_rate', case when c.runs > c.not_applicable then round(c.passed::numeric / (c.runs - c.not_applicable), 4) end)
                 order by c.check_name)
          from (select c.check_name, count(*) as runs, count(*) filter (where c.status = 'pass') as passed,
                       count(*) filter (where c.status = 'fail') as failed, count(*) filter (where c.status = 'not_applicable') as not_applicable
                  from checks c group by c.check_name) c), '[]')),
      -- no minute counted is no measurement, not 100%
      'uptime', (select jsonb_build_object('value', case when u.minutes_counted > 0 then u.ratio end, 'minutes_up', u.minutes_up, 'minutes_counted', u.minutes_counted, 'population', 'worker_heartbeats')
                   from compliance.uptime(least(period_to, now()) - period_from, least(period_to, now())) u),
      'access_reviews', jsonb_build_object('population', 'access_reviews',
        'campaigns', (select count(*) from campaigns), 'completed', (select count(*) from campaigns c where c.completed_at is not null),
        'overdue', (select count(*) from campaigns c where c.overdue),
        'items', (select coalesce(sum(c.items), 0) from campaigns c), 'decided', (select coalesce(sum(c.decided), 0) from campaigns c),
        'revoked', (select coalesce(sum(c.revoked), 0) from campaigns c)),
      'evidence_packages', jsonb_build_object('value', (select count(*) from compliance.evidence_packages p
          where p.generated_at >= period_from and p.generated_at < period_to), 'population', 'evidence_packages'),
      -- the seeds' mfa_enabled_users, counted from what tokens proved over the 90 days before the
      -- period's end: not_applicable (a null value with the reason) until tokens carry amr
      'mfa_enabled_users', (select case when count(*) filter (where jsonb_array_length(a.details -> 'authentication' -> 'amr') > 0) = 0
                                     then jsonb_build_object('value', null, 'not_applicable', 'no privileged request in the 90 days carried amr or acr claims', 'population', 'privileged_actions')
                                     else jsonb_build_object('value', count(distinct a.actor_id) filter (where (a.details -> 'authentication' ->> 'mfa')::boolean),
                                       'privileged_users', count(distinct a.actor_id), 'population', 'privileged_actions') end
                              from privileged a)),
    'hipaa', jsonb_build_object(
      'phi_accesses', jsonb_build_object('value', (select count(*) from audit a where a.action in ('phi.read', 'phi.created', 'phi.updated', 'phi.deleted')), 'population', 'phi_accesses'),
      'phi_refused', jsonb_build_object('value', (select count(*) from audit a where a.action = 'phi.denied'), 'population', 'phi_accesses'),
      'integrity_failures', jsonb_build_object('value', (select count(*) from audit a where a.action = 'phi.integrity_failure'), 'population', 'phi_accesses'),
      'unusual_access_findings', jsonb_build_object('value', (select count(*) from audit a where a.action = 'phi.unusual_access'), 'population', 'phi_unusual_access'),
      'emergency_access', jsonb_build_object('population', 'access_grants', 'value', (select count(*) from emergencies),
        'reviewed', (select count(*) from emergencies g where g.reviewed_at is not null),
        'inappropriate', (select count(*) from emergencies g where g.review_outcome = 'inappropriate'),
        'review_overdue', (select count(*) from emergencies g where g.reviewed_at is null and g.review_due_at < now()))),
    'audit_chain', jsonb_build_object('population', 'verification_results',
      'latest_verification', (select jsonb_build_object('status', c.status, 'detail', c.detail, 'at', r.started_at)
                                from compliance.check_runs r join compliance.check_results c on c.run_id = r.id and c.check_name = 'audit_chain'
                               where r.started_at < period_to order by r.id desc limit 1),
      'newest_seal', (select jsonb_build_object('seal_no', s.seal_no, 'seal_hash', encode(s.seal_hash, 'hex'), 'sealed_at', s.sealed_at, 'last_row_id', s.last_row_id)
                        from newest_seal s),
      -- an anchor written outside the database, as compliance.record_anchor recorded it; null when none was
      'last_anchor', (select jsonb_build_object('anchored_at', a.occurred_at, 'seal_no', (a.details ->> 'seal_no')::bigint, 'seal_hash', a.details ->> 'seal_hash',
                                                'key_id', a.details ->> 'key_id', 'destination', a.details ->> 'destination')
                        from last_anchor a)),
    -- the TLS versions the client_tls check saw on the database's connections, with how many of
    -- the month's check runs saw each ("none": a connection without TLS)
    'tls', jsonb_build_object('population', 'verification_results',
      'database_versions_seen', coalesce((
        select jsonb_object_agg(v.version, v.runs order by v.version)
          from (select k as version, count(*) as runs
                  from compliance.check_runs r
                  join compliance.check_results c on c.run_id = r.id and c.check_name = 'client_tls'
                  cross join lateral jsonb_object_keys(coalesce(c.measured -> 'versions', '{}')) k
                 where r.started_at >= period_from and r.started_at < period_to
                 group by k) v), '{}')),
    -- recovery: the backups the worker recorded, the restore drills and their recovery time, and the
    -- recovery point wal_archive_lag measured; a figure with nothing measured is null with the reason
    'recovery', (select jsonb_build_object(
        'backups', jsonb_build_object('population', 'backups',
          'value', count(*) filter (where a.action = 'backup.taken' and a.details ->> 'written_by' = 'compliance.record_backup'),
          'full', count(*) filter (where a.action = 'backup.taken' and a.details ->> 'written_by' = 'compliance.record_backup' and a.details ->> 'type' = 'full'),
          'failed', count(*) filter (where a.action = 'backup.failed' and a.details ->> 'written_by' = 'compliance.record_backup')),
        'restore_drills', jsonb_build_object('population', 'restore_drills',
          'value', count(*) filter (where a.action = 'backup.drill' and a.details ->> 'written_by' = 'compliance.record_restore_drill'),
          'passed', count(*) filter (where a.action = 'backup.drill' and a.details ->> 'written_by' = 'compliance.record_restore_drill' and a.outcome = 'success'),
          'max_rto_seconds', max((a.details ->> 'rto_seconds')::numeric) filter (where a.action = 'backup.drill' and a.details ->> 'written_by' = 'compliance.record_restore_drill' and a.outcome = 'success'),
          'rto_objective_seconds', (select extract(epoch from s.recovery_time_objective)::int from compliance.compliance_check_settings s)),
        'recovery_point', (select case when count(*) = 0
                                 then jsonb_build_object('value', null, 'not_applicable', 'no wal_archive_lag check measured continuous archiving in the period', 'population', 'recovery_points')
                                 else jsonb_build_object('population', 'recovery_points', 'runs', count(*), 'failed_runs', count(*) filter (where c.status = 'fail'),
                                   'value', max((c.measured ->> 'lag_seconds')::numeric),
                                   'threshold_seconds', (select extract(epoch from s.wal_archive_max_lag)::int from compliance.compliance_check_settings s), 'rpo_seconds', 3600) end
                             from compliance.check_runs r join compliance.check_results c on c.run_id = r.id and c.check_name = 'wal_archive_lag'
                            where r.started_at >= period_from and r.started_at < period_to and c.status <> 'not_applicable'))
      from recovery_rows a),
    'breaches', jsonb_build_object('population', 'breaches', 'value', (select count(*) from breaches),
      'items', coalesce((select jsonb_agg(jsonb_build_object('id', b.id, 'discovered_at', b.discovered_at, 'status', b.status,
                 'affected_count', b.affected_count, 'notified_authority_at', b.notified_authority_at,
                 'notified_individuals_at', b.notified_individuals_at, 'closed_at', b.closed_at) order by b.id) from breaches b), '[]'))));
end;
$function$;

comment on function compliance_private.monthly_report_content(period_from timestamp with time zone, period_to timestamp with time zone) is
  'Computes the monthly report''s content for [period_from, period_to) from the data: GDPR (requests received, completed, overdue, median days to complete, erasures, consent grants and withdrawals per purpose and week), retention deletions per category, SOC 2 (check pass rates, uptime, access reviews, evidence packages, the users whose privileged requests proved multi-factor authentication over 90 days), HIPAA (PHI accesses and refusals, integrity failures, unusual-access findings, emergency access and its reviews), the audit chain''s latest verification, newest seal and last anchor written outside the database, the TLS versions seen on database connections (client_tls runs), recovery (backups taken and failed, restore drills with their largest recovery time against the objective, the largest recovery point wal_archive_lag measured), and breaches. Each figure names the evidence population it was counted from. No names.';
