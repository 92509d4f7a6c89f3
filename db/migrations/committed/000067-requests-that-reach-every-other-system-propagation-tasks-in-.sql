--! Previous: sha1:ee7eaa543502706184ba5de0a6ff96ae19dd1919
--! Hash: sha1:694f5383ca023c5fc032f3d9e0532ee10709b90a
--! Message: Requests that reach every other system: propagation tasks in the request's transaction, confirmed by the connector, a signed callback or the DPO

-- Requests that reach every other system: an erasure, export, rectification or restriction
-- creates one task per system that receives it, in the request's transaction. The worker
-- delivers webhook and SCIM tasks; a system confirms by its answer or a signed callback, the DPO
-- by hand. The request completes when every task is confirmed; dsr_propagation checks deadlines.

create table if not exists compliance.propagation_tasks (
  id bigint generated always as identity,
  request_id bigint,
  system text not null,
  kind text not null,
  user_id text,
  state text not null default 'pending',
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  last_attempt_at timestamptz,
  last_error text,
  response text,
  created_at timestamptz not null default now(),
  due_at timestamptz not null,
  confirmed_at timestamptz,
  confirmed_via text,
  confirmed_by text,
  confirmation_note text,
  constraint propagation_tasks_pkey primary key (id),
  constraint propagation_tasks_request_id_fkey foreign key (request_id) references compliance.dsr_requests (id) on delete set null,
  constraint propagation_tasks_system_fkey foreign key (system) references compliance.processing_systems (system) on delete restrict,
  constraint propagation_tasks_kind_known check (kind in ('erasure', 'export', 'rectification', 'restriction')),
  constraint propagation_tasks_state_known check (state in ('pending', 'awaiting_confirmation', 'confirmed', 'failed', 'cancelled')),
  constraint propagation_tasks_confirmed_when check ((state = 'confirmed') = (confirmed_at is not null)),
  constraint propagation_tasks_confirmed_via_known check (confirmed_via in ('connector', 'callback', 'manual')),
  constraint propagation_tasks_attempts_not_negative check (attempts >= 0),
  constraint propagation_tasks_last_error_length check (length(last_error) <= 2000),
  constraint propagation_tasks_response_length check (length(response) <= 65536),
  constraint propagation_tasks_note_length check (length(confirmation_note) <= 2000)
);
create index if not exists propagation_tasks_due_idx on compliance.propagation_tasks (next_attempt_at) where state = 'pending';
create index if not exists propagation_tasks_open_idx on compliance.propagation_tasks (due_at) where state in ('pending', 'awaiting_confirmation', 'failed');
create index if not exists propagation_tasks_request_id_idx on compliance.propagation_tasks (request_id);
create index if not exists propagation_tasks_system_idx on compliance.propagation_tasks (system);
create index if not exists propagation_tasks_user_id_idx on compliance.propagation_tasks (user_id);
comment on table compliance.propagation_tasks is
  'The outbox of requests to other systems (GDPR Art. 17(2), 19, 28(3)(e)): one task per system per erasure, export, rectification or restriction, created in the request''s transaction. The worker delivers webhook and SCIM tasks with a lease (a dead worker''s task is delivered again, never lost); manual tasks wait for the DPO. Kept with the request; an erased subject''s id stays only until its system confirms.';
comment on column compliance.propagation_tasks.id is 'The task; the webhook body and the callback carry it.';
comment on column compliance.propagation_tasks.request_id is 'The data subject request it carries (compliance.dsr_requests).';
comment on column compliance.propagation_tasks.system is 'The system told (compliance.processing_systems).';
comment on column compliance.propagation_tasks.kind is 'erasure, export, rectification or restriction.';
comment on column compliance.propagation_tasks.user_id is 'Personal: the subject, as the system knows it. For an erasure, kept only until the system confirms; emptied by the subject''s erasure otherwise.';
comment on column compliance.propagation_tasks.state is 'pending (the worker delivers it), awaiting_confirmation (delivered or manual: a callback or the DPO confirms), confirmed, failed (delivery gave up: the DPO retries or confirms by hand), cancelled (superseded by the subject''s erasure).';
comment on column compliance.propagation_tasks.attempts is 'Delivery attempts so far.';
comment on column compliance.propagation_tasks.next_attempt_at is 'When the worker may try again (a claim leases it until then).';
comment on column compliance.propagation_tasks.last_attempt_at is 'When it was last tried.';
comment on column compliance.propagation_tasks.last_error is 'What went wrong last time.';
comment on column compliance.propagation_tasks.response is 'Personal where the system put it there: the system''s last answer as it came (a SCIM error body, an exported record), up to 64 KiB. Emptied by the subject''s erasure.';
comment on column compliance.propagation_tasks.created_at is 'When the request was made.';
comment on column compliance.propagation_tasks.due_at is 'By when the system must confirm (its confirm_within): the dsr_propagation check fails after.';
comment on column compliance.propagation_tasks.confirmed_at is 'When it was confirmed.';
comment on column compliance.propagation_tasks.confirmed_via is 'connector (the system''s answer), callback (its signed callback), manual (the DPO).';
comment on column compliance.propagation_tasks.confirmed_by is 'Personal: for a manual confirmation, the DPO.';
comment on column compliance.propagation_tasks.confirmation_note is 'How it was confirmed: the callback''s outcome or the DPO''s note.';
alter table compliance.propagation_tasks enable row level security;
alter table compliance.propagation_tasks force row level security;
-- included from fixtures/processing/propagation_tasks.owner_routines.sql
-- policy owner_routines on compliance.propagation_tasks: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance.propagation_tasks;
create policy owner_routines on compliance.propagation_tasks as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance.propagation_tasks is 'Tasks are created in the transaction of their request and change only through the routines: the worker''s claim and attempts, a system''s verified callback, the DPO''s confirmation or retry. Each change is audited.';

-- included from fixtures/processing/propagation_tasks.dpo_every_subject.sql
-- policy dpo_every_subject on compliance.propagation_tasks: its current definition (db/CONVENTIONS.md).

drop policy if exists dpo_every_subject on compliance.propagation_tasks;
create policy dpo_every_subject on compliance.propagation_tasks as permissive for select to compliance_dpo
  using (true);
comment on policy dpo_every_subject on compliance.propagation_tasks is 'The DPO follows every request to every system.';

-- included from fixtures/processing/propagation_tasks.subject_own_rows.sql
-- policy subject_own_rows on compliance.propagation_tasks: its current definition (db/CONVENTIONS.md).

drop policy if exists subject_own_rows on compliance.propagation_tasks;
create policy subject_own_rows on compliance.propagation_tasks as permissive for select to compliance_app
  using ((user_id = ( SELECT compliance.current_subject() AS current_subject)));
comment on policy subject_own_rows on compliance.propagation_tasks is 'A subject learns which systems its requests were sent to (GDPR Art. 19).';

grant select on compliance.propagation_tasks to compliance_dpo;
grant select (id, request_id, system, kind, user_id, state, created_at, due_at, confirmed_at) on compliance.propagation_tasks to compliance_app;

-- included from fixtures/processing/propagate_request.sql
-- compliance_private.propagate_request(request_id bigint, user_id text, kind text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.propagate_request(request_id bigint, user_id text, kind text)
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_systems text[];
begin
  -- pgcomply does not know which of the subject's records each system holds, so every system
  -- that receives this kind of request is asked; one that holds nothing says so. A system asked
  -- already and not done yet is not asked again for the same kind.
  with created as (
    insert into compliance.propagation_tasks (request_id, system, kind, user_id, due_at, state)
    select propagate_request.request_id, s.system, propagate_request.kind, propagate_request.user_id, now() + s.confirm_within,
           case when s.connector = 'manual' then 'awaiting_confirmation' else 'pending' end
      from compliance.processing_systems s
     where s.connector <> 'none' and propagate_request.kind = any (s.request_kinds)
       and not exists (select from compliance.propagation_tasks t
                        where t.user_id = propagate_request.user_id and t.system = s.system and t.kind = propagate_request.kind
                          and t.state in ('pending', 'awaiting_confirmation', 'failed'))
    returning system)
  select coalesce(array_agg(c.system order by c.system), '{}') into v_systems from created c;
  if cardinality(v_systems) = 0 then
    return 0;
  end if;
  update compliance.dsr_requests r set status = 'in_progress', completed_at = null where r.id = propagate_request.request_id;
  -- an erased subject is named nowhere new: the tasks carry the id until each system confirms
  perform compliance_private.append_audit('propagation.requested', 'gdpr', 'dsr_request', request_id::text,
    jsonb_build_object('kind', kind, 'systems', to_jsonb(v_systems)), case when kind <> 'erasure' then user_id end);
  return cardinality(v_systems);
end;
$function$;

comment on function compliance_private.propagate_request(request_id bigint, user_id text, kind text) is
  'Creates, in the request''s transaction, one propagation task per system that receives this kind of request (GDPR Art. 19, 28(3)(e)): the worker delivers webhook and SCIM tasks, a manual system waits for the DPO. The request stays in progress until every task is confirmed (compliance_private.settle_request). Audited (propagation.requested). Returns how many tasks it created.';

-- included from fixtures/processing/settle_request.sql
-- compliance_private.settle_request(request_id bigint): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.settle_request(request_id bigint)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  -- the request is done when the last system confirmed; the row lock orders two last confirmations
  perform from compliance.dsr_requests r where r.id = settle_request.request_id and r.status = 'in_progress' for update;
  if found and not exists (select from compliance.propagation_tasks t
                            where t.request_id = settle_request.request_id and t.state in ('pending', 'awaiting_confirmation', 'failed')) then
    update compliance.dsr_requests r set status = 'completed', completed_at = now() where r.id = settle_request.request_id;
  end if;
end;
$function$;

comment on function compliance_private.settle_request(request_id bigint) is
  'Completes a request whose every propagation task is confirmed (or cancelled by a later erasure).';

-- included from fixtures/processing/confirm_task.sql
-- compliance_private.confirm_task(task compliance.propagation_tasks, via text, note text, response text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.confirm_task(task compliance.propagation_tasks, via text, note text, response text DEFAULT NULL::text)
 RETURNS compliance.propagation_tasks
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_task compliance.propagation_tasks;
begin
  update compliance.propagation_tasks t
     set state = 'confirmed', confirmed_at = now(), confirmed_via = via,
         confirmed_by = case when via = 'manual' then compliance.current_actor() end,
         confirmation_note = left(note, 2000), response = coalesce(left(confirm_task.response, 65536), t.response),
         -- an erased subject's id was kept only until the system confirmed
         user_id = case when t.kind = 'erasure' then null else t.user_id end
   where t.id = task.id
  returning t.* into v_task;
  perform compliance_private.append_audit('propagation.confirmed', 'gdpr', 'propagation_task', v_task.id::text,
    jsonb_build_object('system', v_task.system, 'kind', v_task.kind, 'request_id', v_task.request_id, 'via', via, 'attempts', v_task.attempts),
    v_task.user_id);
  perform compliance_private.settle_request(v_task.request_id);
  return v_task;
end;
$function$;

comment on function compliance_private.confirm_task(task compliance.propagation_tasks, via text, note text, response text) is
  'Marks a propagation task confirmed (by the connector''s answer, a verified callback, or the DPO by hand), drops an erased subject''s id from it, audits it (propagation.confirmed) and completes the request when it was the last.';

-- included from fixtures/processing/claim_propagation_tasks.sql
-- compliance.claim_propagation_tasks(lease_seconds integer, max_rows integer): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.claim_propagation_tasks(lease_seconds integer DEFAULT 60, max_rows integer DEFAULT 20)
 RETURNS TABLE(id bigint, request_id bigint, system text, kind text, user_id text, attempts integer, connector text, endpoint_url text, created_at timestamp with time zone)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  if lease_seconds is null or lease_seconds not between 1 and 3600 or max_rows is null or max_rows not between 1 and 1000 then
    perform compliance_private.raise_error('BADRG', 'lease_seconds must be 1 to 3600 and max_rows 1 to 1000');
  end if;
  -- a claim is a lease, committed before anything is sent: a worker that dies mid-delivery
  -- leaves the task to the next one when the lease ends, so a task may be delivered twice
  -- (the body's task id tells a system) but is never lost
  return query
    with claimed as (
      update compliance.propagation_tasks t
         set attempts = t.attempts + 1, last_attempt_at = now(), next_attempt_at = now() + make_interval(secs => lease_seconds)
       where t.id in (select d.id from compliance.propagation_tasks d
                       join compliance.processing_systems s on s.system = d.system and s.connector in ('webhook', 'scim')
                      where d.state = 'pending' and d.next_attempt_at <= now()
                      order by d.next_attempt_at, d.id
                      limit max_rows
                        for update of d skip locked)
      returning t.*)
    select c.id, c.request_id, c.system, c.kind, c.user_id, c.attempts, s.connector, s.endpoint_url, c.created_at
      from claimed c join compliance.processing_systems s on s.system = c.system
     order by c.id;
end;
$function$;

comment on function compliance.claim_propagation_tasks(lease_seconds integer, max_rows integer) is
  'The worker takes up to max_rows due webhook and SCIM tasks, leasing each for lease_seconds (a task whose worker dies is due again when the lease ends) and counting the attempt. Commit the claim before delivering. Worker role only. Errors: BADRG.';

-- included from fixtures/processing/record_propagation_attempt.sql
-- compliance.record_propagation_attempt(task_id bigint, outcome text, response text, error text, retry_in_seconds integer): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.record_propagation_attempt(task_id bigint, outcome text, response text DEFAULT NULL::text, error text DEFAULT NULL::text, retry_in_seconds integer DEFAULT NULL::integer)
 RETURNS compliance.propagation_tasks
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_task compliance.propagation_tasks;
begin
  if outcome is null or outcome not in ('confirmed', 'delivered', 'retry', 'failed') then
    perform compliance_private.raise_error('BADRG', format('outcome %L is unknown', outcome), 'Use confirmed, delivered, retry or failed.');
  end if;
  if outcome = 'retry' and (retry_in_seconds is null or retry_in_seconds not between 1 and 86400) then
    perform compliance_private.raise_error('BADRG', 'a retry needs retry_in_seconds between 1 and 86400');
  end if;
  select * into v_task from compliance.propagation_tasks t where t.id = task_id for update;
  if not found then
    perform compliance_private.raise_error('PRTSK', format('no propagation task %s', coalesce(task_id::text, 'NULL')));
  end if;
  -- the system may have called back before the worker got here: its confirmation stands
  if v_task.state <> 'pending' then
    return v_task;
  end if;
  if outcome = 'confirmed' then
    return compliance_private.confirm_task(v_task, 'connector', left(error, 2000), response);
  end if;
  update compliance.propagation_tasks t
     set state = case outcome when 'delivered' then 'awaiting_confirmation' when 'failed' then 'failed' else 'pending' end,
         next_attempt_at = case when outcome = 'retry' then now() + make_interval(secs => retry_in_seconds) else t.next_attempt_at end,
         last_error = case when outcome = 'delivered' then left(error, 2000) else left(coalesce(error, 'no error given'), 2000) end,
         response = coalesce(left(record_propagation_attempt.response, 65536), t.response)
   where t.id = v_task.id
  returning t.* into v_task;
  if outcome = 'failed' then
    perform compliance_private.append_audit('propagation.failed', 'gdpr', 'propagation_task', v_task.id::text,
      jsonb_build_object('system', v_task.system, 'kind', v_task.kind, 'request_id', v_task.request_id, 'attempts', v_task.attempts),
      v_task.user_id, outcome => 'failure', failure_reason => 'delivery_failed');
  end if;
  return v_task;
end;
$function$;

comment on function compliance.record_propagation_attempt(task_id bigint, outcome text, response text, error text, retry_in_seconds integer) is
  'The worker records what became of delivering a task: confirmed (the system did it and said so, or a SCIM read-back found the user gone), delivered (accepted; its signed callback or the DPO confirms), retry (after retry_in_seconds), or failed for good (audited as propagation.failed; the DPO retries or confirms by hand). response is the system''s answer as it came (up to 64 KiB), error what went wrong. A task confirmed meanwhile by callback is left as it is. Worker role only. Errors: BADRG, PRTSK.';

-- included from fixtures/processing/record_propagation_callback.sql
-- compliance.record_propagation_callback(task_id bigint, outcome text, response text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.record_propagation_callback(task_id bigint, outcome text, response text DEFAULT NULL::text)
 RETURNS compliance.propagation_tasks
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_task compliance.propagation_tasks;
begin
  if outcome is null or outcome not in ('done', 'nothing_held') then
    perform compliance_private.raise_error('BADRG', format('outcome %L is unknown', outcome), 'A system confirms with done, or nothing_held when it held nothing of the subject.');
  end if;
  select * into v_task from compliance.propagation_tasks t where t.id = task_id for update;
  -- the caller is the system the API server verified the signature of: it confirms its own tasks only
  if not found or compliance.current_actor() is distinct from 'system:' || v_task.system
     or v_task.state not in ('pending', 'awaiting_confirmation', 'failed') then
    perform compliance_private.raise_error('PRTSK', format('no task %s awaiting this system''s confirmation', coalesce(task_id::text, 'NULL')));
  end if;
  return compliance_private.confirm_task(v_task, 'callback', outcome, response);
end;
$function$;

comment on function compliance.record_propagation_callback(task_id bigint, outcome text, response text) is
  'A system confirms a request it was sent (POST /api/v1/propagation/callback): done, or nothing_held. Only the API server calls it, as compliance_receiver, after checking the callback''s signature with the system''s own secret; the request context''s actor is system:<key>, and a system confirms its own tasks only. A task confirmed already is refused, so a replayed callback changes nothing. Errors: BADRG, PRTSK.';

-- included from fixtures/processing/confirm_propagation.sql
-- compliance.confirm_propagation(task_id bigint, note text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.confirm_propagation(task_id bigint, note text)
 RETURNS compliance.propagation_tasks
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_task compliance.propagation_tasks;
begin
  if nullif(trim(note), '') is null or length(note) > 2000 then
    perform compliance_private.raise_error('BADRG', 'say how the system confirmed (1 to 2000 characters): who, when, by which channel');
  end if;
  select * into v_task from compliance.propagation_tasks t where t.id = task_id for update;
  if not found or v_task.state not in ('pending', 'awaiting_confirmation', 'failed') then
    perform compliance_private.raise_error('PRTSK', format('no task %s awaiting confirmation', coalesce(task_id::text, 'NULL')));
  end if;
  return compliance_private.confirm_task(v_task, 'manual', trim(note));
end;
$function$;

comment on function compliance.confirm_propagation(task_id bigint, note text) is
  'DPO: records by hand that a system carried out a request (a manual system, or one that confirmed outside pgcomply), with a note saying how. Audited (propagation.confirmed, via manual); the request completes when it was the last task. Errors: BADRG without a note, PRTSK not awaiting confirmation.';

-- included from fixtures/processing/retry_propagation.sql
-- compliance.retry_propagation(task_id bigint): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.retry_propagation(task_id bigint)
 RETURNS compliance.propagation_tasks
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_task compliance.propagation_tasks;
begin
  update compliance.propagation_tasks t set state = 'pending', next_attempt_at = now()
   where t.id = task_id and t.state = 'failed'
  returning t.* into v_task;
  if not found then
    perform compliance_private.raise_error('PRTSK', format('no failed task %s', coalesce(task_id::text, 'NULL')));
  end if;
  perform compliance_private.append_audit('propagation.retried', 'gdpr', 'propagation_task', v_task.id::text,
    jsonb_build_object('system', v_task.system, 'kind', v_task.kind, 'request_id', v_task.request_id), v_task.user_id);
  return v_task;
end;
$function$;

comment on function compliance.retry_propagation(task_id bigint) is
  'DPO: sends a task that failed for good once more (after the system was fixed). Audited (propagation.retried). Errors: PRTSK not failed.';

-- included from fixtures/processing/check_dsr_propagation.sql
-- compliance_private.check_dsr_propagation(context jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.check_dsr_propagation(context jsonb)
 RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_receiving bigint := (select count(*) from compliance.processing_systems s where s.connector <> 'none');
  v_open bigint;
  v_failed bigint;
  v_overdue jsonb;
begin
  select count(*), count(*) filter (where t.state = 'failed'),
         coalesce(jsonb_agg(jsonb_build_object('task', t.id, 'system', t.system, 'kind', t.kind, 'due_at', t.due_at) order by t.due_at)
                    filter (where t.due_at < now()), '[]')
    into v_open, v_failed, v_overdue
    from compliance.propagation_tasks t where t.state in ('pending', 'awaiting_confirmation', 'failed');
  measured := jsonb_build_object('systems_receiving_requests', v_receiving, 'open_tasks', v_open, 'failed_tasks', v_failed, 'overdue', v_overdue);
  threshold := jsonb_build_object('overdue', '[]'::jsonb);
  evidence := 'select * from compliance.propagation_tasks where state in (''pending'', ''awaiting_confirmation'', ''failed'') and due_at < now()';
  if jsonb_array_length(v_overdue) > 0 then
    status := 'fail';
    detail := format('%s requests to other systems are unconfirmed past their deadline: %s', jsonb_array_length(v_overdue),
      (select string_agg(format('task %s (%s to %s, due %s)', o->>'task', o->>'kind', o->>'system', o->>'due_at'), ', ')
         from jsonb_array_elements(v_overdue) o));
  elsif v_receiving = 0 and v_open = 0 then
    status := 'not_applicable';
    detail := 'no system in the record of processing receives requests: erasure and export stop at this database';
  else
    status := 'pass';
    detail := format('%s open requests to other systems, none past its deadline (%s failed, awaiting the DPO)', v_open, v_failed);
  end if;
  return next;
end;
$function$;

comment on function compliance_private.check_dsr_propagation(context jsonb) is
  'Compliance check: every request sent to another system (GDPR Art. 19, 28(3)(e)) is confirmed before its deadline (the system''s confirm_within). Fails naming each task past it; not applicable while no system receives requests.';

-- included from fixtures/processing/complete_restriction.sql
-- compliance_private.complete_restriction(request compliance.dsr_requests): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.complete_restriction(request compliance.dsr_requests)
 RETURNS compliance.dsr_requests
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_request compliance.dsr_requests;
begin
  perform compliance_private.start_processing_limit(request.user_id, 'restriction', null, request.id);
  update compliance.dsr_requests r
     set status = 'completed', completed_at = now(), handled_by = coalesce(r.handled_by, compliance.current_actor())
   where r.id = request.id;
  -- every system that receives restrictions restricts too (Art. 19); until each confirms, the request is in progress
  perform compliance_private.propagate_request(request.id, request.user_id, 'restriction');
  select * into v_request from compliance.dsr_requests r where r.id = request.id;
  return v_request;
end;
$function$;

comment on function compliance_private.complete_restriction(request compliance.dsr_requests) is
  'Puts a restriction request in force: the restriction of all processing, and the request completed, or in progress until every system that receives restrictions confirmed.';

-- included from fixtures/subject-rights/complete_dsr.sql
-- compliance.complete_dsr(request_id bigint, status text, notes text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.complete_dsr(request_id bigint, status text DEFAULT 'completed'::text, notes text DEFAULT NULL::text)
 RETURNS compliance.dsr_requests
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_request compliance.dsr_requests;
begin
  if status not in ('completed', 'rejected') then
    perform compliance_private.raise_error('BADRG', 'status must be completed or rejected');
  end if;
  select * into v_request from compliance.dsr_requests r where r.id = request_id and r.completed_at is null for update;
  if not found then
    perform compliance_private.raise_error('NODSR', format('no open request %s', request_id),
      'See compliance.dsr_open_requests for the open requests.');
  end if;
  if exists (select from compliance.propagation_tasks t where t.request_id = v_request.id and t.state in ('pending', 'awaiting_confirmation', 'failed')) then
    perform compliance_private.raise_error('PRPND', format('request %s waits for other systems to confirm it', v_request.id),
      'It completes when the last system confirms; confirm one by hand with compliance.confirm_propagation(task_id, note).');
  end if;
  if complete_dsr.notes is not null then
    update compliance.dsr_requests r set notes = complete_dsr.notes where r.id = v_request.id returning r.* into v_request;
  end if;
  -- an objection or a restriction takes effect as the DPO completes it, in this transaction
  if status = 'completed' and v_request.user_id is not null then
    if v_request.kind = 'objection' then
      perform compliance_private.start_processing_limit(v_request.user_id, 'objection', v_request.processing_activity, v_request.id);
    elsif v_request.kind = 'restriction' then
      return compliance_private.complete_restriction(v_request);
    end if;
  end if;
  update compliance.dsr_requests r
     set status = complete_dsr.status, completed_at = now(), handled_by = compliance.current_actor()
   where r.id = v_request.id
  returning r.* into v_request;
  -- a rectification reaches every system that receives rectifications (Art. 16, 19)
  if status = 'completed' and v_request.kind = 'rectification' and v_request.user_id is not null
     and compliance_private.propagate_request(v_request.id, v_request.user_id, 'rectification') > 0 then
    select * into v_request from compliance.dsr_requests r where r.id = v_request.id;
  end if;
  return v_request;
end;
$function$;

comment on function compliance.complete_dsr(request_id bigint, status text, notes text) is
  'Closes an open request as completed or rejected, recording who handled it. Completing an objection puts it in force for its activity (or for every activity on legitimate interest when it names none); completing a restriction restricts all processing of the subject (compliance.processing_permitted, permitted_subjects), audited. A completed restriction or rectification is sent to every system that receives it and stays in progress until each confirmed. Errors: NODSR, BADRG, PRPND (still waiting for other systems).';

-- included from fixtures/subject-rights/erase_subject_core.sql
-- compliance_private.erase_subject_core(user_id text, reason text, confirm boolean, requested_by text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.erase_subject_core(user_id text, reason text, confirm boolean, requested_by text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
 SET plan_cache_mode TO 'force_generic_plan'
 SET jit TO 'off'
AS $function$
declare
  v_counts jsonb := '{}';
  v_count bigint;
  v_redacted bigint;
  v_subject_rows jsonb;
  v_actor_rows jsonb;
  v_request_id bigint;
  v_tasks integer;
  v_table text;
begin
  if confirm is not true then
    perform compliance_private.raise_error('CONFM', 'erasure needs confirm => true',
      'Erasure deletes every personal row of the subject and cannot be undone; call again with confirm => true.');
  end if;
  if reason is null or length(trim(reason)) = 0 or length(reason) > 1000 then
    perform compliance_private.raise_error('BADRG', 'give a reason (1 to 1000 characters) for the erasure');
  end if;

  -- the subject lock first, then the row lock: profile creation takes the same order. The
  -- row lock excludes other erasures and profile updates but not the key-share locks that a
  -- writer's foreign-key checks take, so a writer already holding one of the subject's rows
  -- can finish (its rows go with the profile's cascade) instead of deadlocking with us.
  perform compliance_private.lock_subject(user_id);
  perform from compliance.user_profiles p where p.user_id = erase_subject_core.user_id for no key update;
  if not found then
    perform compliance_private.refuse_erased(user_id);
    perform compliance_private.raise_error('UNKSJ', 'no subject with that user id', 'Check the user id.');
  end if;
  if compliance.is_under_legal_hold(user_id) then
    perform compliance_private.raise_error('LHOLD', 'subject is under legal hold; erasure is refused',
      'GDPR Art. 17(3)(e): a DPO releases the hold with compliance.release_legal_hold(user_id) when the matter allows.');
  end if;

  perform compliance_private.begin_bulk_operation('erasure');

  -- the duty to review a break-glass access outlives the patient's data (HIPAA
  -- §164.308(a)(1)(ii)(D)): an emergency grant not reviewed yet stays, without the patient
  update compliance.access_grants g set user_id = null
   where g.user_id = erase_subject_core.user_id and g.kind = 'emergency' and g.reviewed_at is null;
  get diagnostics v_count = row_count;
  v_counts := v_counts || jsonb_build_object('emergency_reviews_kept', v_count);

  -- proof of consent (GDPR Art. 7(1)) outlives the person, pseudonymised under the tombstone's
  -- digest, for the defence of legal claims (Art. 17(3)(e)), unless the DPO turned it off: no id,
  -- no IP address, no user agent
  if coalesce((select s.keep_consent_proof from compliance.erasure_settings s), true) then
    insert into compliance.erased_consent_proofs (subject_digest, purpose, granted, policy_version, source, recorded_at, given_at)
    select compliance_private.subject_digest(erase_subject_core.user_id), c.purpose, c.granted, c.policy_version, c.source, c.recorded_at, c.given_at
      from compliance.consent_records c where c.user_id = erase_subject_core.user_id order by c.recorded_at, c.id;
    get diagnostics v_count = row_count;
    v_counts := v_counts || jsonb_build_object('consent_proofs_kept', v_count);
  end if;

  -- your registered tables first: their rows may reference the profile (FKBLK when an
  -- unregistered table's foreign key would block, and nothing is changed)
  v_counts := v_counts || jsonb_build_object('registered_tables', compliance_private.erase_registered_rows(user_id));
  update compliance.personal_tables t set registered_by = null where t.registered_by = erase_subject_core.user_id;
  update compliance.not_personal_columns n set marked_by = null where n.marked_by = erase_subject_core.user_id;

  -- children before the profile so each count is exact
  foreach v_table in array array['health_records', 'access_grants', 'breach_subjects', 'messages', 'conversations', 'consent_records', 'sessions',
                                 'user_preferences', 'legal_holds', 'processing_limits'] loop
    execute format('delete from compliance.%I t where t.user_id = $1', v_table) using user_id;
    get diagnostics v_count = row_count;
    v_counts := v_counts || jsonb_build_object(v_table, v_count);
  end loop;
  -- crypto-shredding: without the wrapped data key, the patient's ciphertext that WAL, replicas
  -- or a later restore may still hold cannot be decrypted with the live database's keys
  delete from compliance_private.subject_keys k where k.user_id = erase_subject_core.user_id;
  get diagnostics v_count = row_count;
  v_counts := v_counts || jsonb_build_object('subject_keys', v_count);

  delete from compliance.user_profiles p where p.user_id = erase_subject_core.user_id;
  get diagnostics v_count = row_count;
  v_counts := v_counts || jsonb_build_object('user_profiles', v_count);

  -- the register keeps each request's kind and dates, never who asked
  v_request_id := compliance_private.record_completed_dsr(null, 'erasure', compliance_private.handler_for(user_id));
  -- every other system is asked to erase too (Art. 17(2), 19); the tasks keep the id until each
  -- confirms. What older tasks still waited for is superseded, and their answers go with the subject.
  update compliance.propagation_tasks t
     set state = case when t.state in ('pending', 'awaiting_confirmation', 'failed') then 'cancelled' else t.state end,
         confirmation_note = case when t.state in ('pending', 'awaiting_confirmation', 'failed') then 'superseded by the subject''s erasure' else t.confirmation_note end,
         user_id = null, response = null
   where t.user_id = erase_subject_core.user_id;
  get diagnostics v_count = row_count;
  v_counts := v_counts || jsonb_build_object('propagation_tasks_anonymised', v_count);
  update compliance.propagation_tasks t set confirmed_by = null where t.confirmed_by = erase_subject_core.user_id;
  v_tasks := compliance_private.propagate_request(v_request_id, user_id, 'erasure');
  update compliance.dsr_requests r
     set user_id = case when r.user_id = erase_subject_core.user_id then null else r.user_id end,
         notes = case when r.user_id = erase_subject_core.user_id then null else r.notes end,
         handled_by = case when r.handled_by = erase_subject_core.user_id then null else r.handled_by end
   where r.user_id = erase_subject_core.user_id or r.handled_by = erase_subject_core.user_id;
  get diagnostics v_count = row_count;
  v_counts := v_counts || jsonb_build_object('dsr_requests_anonymised', v_count);

  -- other patients' records keep their content, never who recorded them
  update compliance.health_records h set recorded_by = null where h.recorded_by = erase_subject_core.user_id;
  get diagnostics v_count = row_count;
  v_counts := v_counts || jsonb_build_object('health_records_anonymised', v_count);

  -- other patients' grants keep their dates and terms, never who held, asked for or decided them
  update compliance.access_grants g
     set grantee = nullif(g.grantee, erase_subject_core.user_id),
         requested_by = nullif(g.requested_by, erase_subject_core.user_id),
         approved_by = nullif(g.approved_by, erase_subject_core.user_id),
         denied_by = nullif(g.denied_by, erase_subject_core.user_id),
         revoked_by = nullif(g.revoked_by, erase_subject_core.user_id),
         reviewed_by = nullif(g.reviewed_by, erase_subject_core.user_id)
   where erase_subject_core.user_id in (g.grantee, g.requested_by, g.approved_by, g.denied_by, g.revoked_by, g.reviewed_by);
  get diagnostics v_count = row_count;
  v_counts := v_counts || jsonb_build_object('access_grants_anonymised', v_count);
  update compliance.breaches b
     set opened_by = nullif(b.opened_by, erase_subject_core.user_id), closed_by = nullif(b.closed_by, erase_subject_core.user_id)
   where erase_subject_core.user_id in (b.opened_by, b.closed_by);
  update compliance.alert_outbox a
     set user_id = nullif(a.user_id, erase_subject_core.user_id), actor_id = nullif(a.actor_id, erase_subject_core.user_id)
   where erase_subject_core.user_id in (a.user_id, a.actor_id);
  get diagnostics v_count = row_count;
  v_counts := v_counts || jsonb_build_object('alerts_anonymised', v_count);

  -- reviews, packages and reports keep what was decided and produced, never by or about whom
  update compliance.access_review_items i
     set actor_id = nullif(i.actor_id, erase_subject_core.user_id), granted_by = nullif(i.granted_by, erase_subject_core.user_id),
         decided_by = nullif(i.decided_by, erase_subject_core.user_id)
   where erase_subject_core.user_id in (i.actor_id, i.granted_by, i.decided_by);
  get diagnostics v_count = row_count;
  v_counts := v_counts || jsonb_build_object('access_review_items_anonymised', v_count);
  update compliance.access_review_campaigns c set opened_by = null where c.opened_by = erase_subject_core.user_id;
  update compliance.evidence_packages p set generated_by = null where p.generated_by = erase_subject_core.user_id;
  update compliance.reports r set generated_by = null where r.generated_by = erase_subject_core.user_id;
  update compliance.backup_verifications b set verified_by = null where b.verified_by = erase_subject_core.user_id;

  -- holds on other subjects keep their dates and reasons, never who placed or released them
  update compliance.legal_holds h
     set placed_by = case when h.placed_by = erase_subject_core.user_id then null else h.placed_by end,
         released_by = case when h.released_by = erase_subject_core.user_id then null else h.released_by end
   where h.placed_by = erase_subject_core.user_id or h.released_by = erase_subject_core.user_id;
  get diagnostics v_count = row_count;
  v_counts := v_counts || jsonb_build_object('legal_holds_anonymised', v_count);

  -- the subject's part of rows about them, the actor's part of rows where they acted: a DPO who
  -- handled the subject stays on record. Layout-1 rows have one personal part and lose it whole.
  with targets as (
    select a.id, a.occurred_at, a.user_id = erase_subject_core.user_id as subject,
           coalesce(a.actor_id = erase_subject_core.user_id, false) as actor, a.subject_part_digest is null as layout1
      from compliance.audit_logs a
     where a.user_id = erase_subject_core.user_id or a.actor_id = erase_subject_core.user_id
  ), redacted as (
    update compliance.audit_logs a
       set user_id = case when t.subject or t.layout1 then null else a.user_id end,
           personal_details = case when t.subject or t.layout1 then null else a.personal_details end,
           subject_part_salt = case when t.subject then null else a.subject_part_salt end,
           actor_id = case when t.actor or t.layout1 then null else a.actor_id end,
           ip_address = case when t.actor or t.layout1 then null else a.ip_address end,
           user_agent = case when t.actor or t.layout1 then null else a.user_agent end,
           actor_part_salt = case when t.actor then null else a.actor_part_salt end,
           personal_salt = null,
           redacted_at = now()
      from targets t
     where a.id = t.id and a.occurred_at = t.occurred_at
    returning a.id, t.subject, t.actor
  )
  select count(*), coalesce(jsonb_agg(r.id order by r.id) filter (where r.subject), '[]'),
         coalesce(jsonb_agg(r.id order by r.id) filter (where r.actor), '[]')
    into v_redacted, v_subject_rows, v_actor_rows
    from redacted r;

  insert into compliance_private.erased_subjects (subject_digest) values (compliance_private.subject_digest(user_id));
  perform compliance_private.end_bulk_operation();

  -- counts, never identity: no subject, and no actor or client when the subject asked
  perform compliance_private.append_audit('subject.erased', 'gdpr', 'dsr_request', v_request_id::text,
    -- the rows it redacted, so verification can tell these redactions from any other
    jsonb_build_object('deleted', v_counts, 'audit_rows_redacted', v_redacted, 'requested_by', requested_by,
                       'redacted_subject_rows', v_subject_rows, 'redacted_actor_rows', v_actor_rows),
    null, jsonb_build_object('reason', reason), 'success', null,
    case when requested_by = 'subject' then null else compliance.current_actor() end,
    requested_by <> 'subject');

  return jsonb_build_object('erased', true, 'erased_at', now(), 'dsr_request_id', v_request_id,
    'deleted', v_counts, 'audit_rows_redacted', v_redacted,
    'other_systems', (select coalesce(jsonb_agg(jsonb_build_object('system', t.system, 'name', s.name, 'task_id', t.id, 'state', t.state) order by t.system), '[]')
                        from compliance.propagation_tasks t join compliance.processing_systems s on s.system = t.system
                       where t.request_id = v_request_id));
end;
$function$;

comment on function compliance_private.erase_subject_core(user_id text, reason text, confirm boolean, requested_by text) is
  'The erasure transaction; see compliance.erase_subject. Its statements run on generic plans (plan_cache_mode), without JIT compilation (a generic plan''s row estimates over a million subjects passed jit_above_cost, and compiling took longer than the erasure): a custom plan over every audit partition costs more to make than to run, and made a connection''s first five erasures twice as slow as the rest.';

-- included from fixtures/subject-rights/export_subject_core.sql
-- compliance_private.export_subject_core(user_id text, kind text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.export_subject_core(user_id text, kind text)
 RETURNS json
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
 SET plan_cache_mode TO 'force_generic_plan'
 SET jit TO 'off'
AS $function$
declare
  v_request_id bigint;
begin
  if kind not in ('access', 'portability') then
    perform compliance_private.raise_error('BADRG', 'kind must be access or portability');
  end if;
  perform compliance_private.require_subject(user_id);
  v_request_id := compliance_private.record_completed_dsr(user_id, kind, compliance_private.handler_for(user_id));
  -- the systems that hold the subject's data are asked for their part (Art. 15, 20)
  perform compliance_private.propagate_request(v_request_id, user_id, 'export');
  perform compliance_private.append_audit('subject.exported', 'gdpr', 'dsr_request', v_request_id::text,
    jsonb_build_object('kind', kind), user_id);
  return compliance_private.subject_document(user_id);
end;
$function$;

comment on function compliance_private.export_subject_core(user_id text, kind text) is
  'Registers and completes an access or portability request, audits it and returns the subject document; every other system that receives exports is asked for its part (the request completes when each confirmed). Its statements run on generic plans (plan_cache_mode), without JIT compilation (a generic plan''s row estimates over a million subjects passed jit_above_cost, and compiling took longer than the export): a custom plan over every audit partition costs more to make than to run, and a connection''s first five exports paid it each time.';

-- included from fixtures/subject-rights/subject_document.sql
-- compliance_private.subject_document(user_id text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.subject_document(user_id text)
 RETURNS json
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  -- json_agg over a row (C row-to-JSON) rather than jsonb_build_object per row: the export is
  -- dominated by per-value formatting
  return (select json_build_object(
    'subject_id', p.user_id,
    'generated_at', now(),
    'profile', (select row_to_json(x) from (select p.user_id, p.username, p.email, p.full_name, p.metadata,
                                                  p.created_at, p.updated_at) x),
    'preferences', (select to_jsonb(pr) - 'user_id' from compliance.user_preferences pr where pr.user_id = p.user_id),
    'consents', coalesce((
      select json_agg(x order by x.purpose, x.recorded_at, x.id)
        from (select c.id, c.purpose, c.granted, c.policy_version, c.source, c.recorded_at,
                     host(c.ip_address) as ip_address, c.user_agent
                from compliance.consent_records c where c.user_id = p.user_id) x), '[]'),
    'conversations', coalesce((
      select json_agg(x order by x.created_at, x.conversation_id)
        from (select cv.conversation_id, cv.title, cv.created_at, cv.last_message_at, cv.archived, cv.metadata,
                     coalesce(m.messages, '[]') as messages
                from compliance.conversations cv
                left join (select m.conversation_id,
                                  json_agg((m.id, m.role, m.content, m.created_at)::compliance_private.exported_message
                                           order by m.id) as messages
                             from compliance.messages m
                            where m.user_id = p.user_id
                            group by m.conversation_id) m on m.conversation_id = cv.conversation_id
               where cv.user_id = p.user_id) x), '[]'),
    'sessions', coalesce((
      select json_agg(x order by x.created_at, x.id)
        from (select s.id, s.created_at, s.last_activity_at, s.ended_at, host(s.ip_address) as ip_address, s.user_agent
                from compliance.sessions s where s.user_id = p.user_id) x), '[]'),
    'audit_trail', coalesce((
      select json_agg(x order by x.occurred_at, x.id)
        from (select a.id, a.occurred_at, a.action, a.category, a.resource_type, a.resource_id, a.outcome,
                     a.failure_reason, a.details, a.actor_id, host(a.ip_address) as ip_address, a.user_agent,
                     a.personal_details
                from compliance.audit_logs a where a.user_id = p.user_id or a.actor_id = p.user_id) x), '[]'),
    'breach_notices', coalesce((
      select json_agg(x order by x.discovered_at, x.id)
        from (select b.id, b.discovered_at, b.description, b.data_categories, b.status, b.notified_individuals_at
                from compliance.breaches b join compliance.breach_subjects bs on bs.breach_id = b.id
               where bs.user_id = p.user_id) x), '[]'),
    'registered_tables', compliance_private.registered_rows_of(p.user_id),
    'dsr_requests', coalesce((
      select json_agg(x order by x.id)
        from (select r.id, r.kind, r.status, r.received_at, r.due_at, r.completed_at, r.processing_activity
                from compliance.dsr_requests r where r.user_id = p.user_id) x), '[]'),
    'objections_and_restrictions', coalesce((
      select json_agg(x order by x.id)
        from (select l.id, l.kind, l.activity, l.request_id, l.started_at, l.lifted_at, l.lift_reason
                from compliance.processing_limits l where l.user_id = p.user_id) x), '[]'),
    'recipients_told', coalesce((
      select json_agg(x order by x.id)
        from (select t.id, s.name as system, s.kind as system_kind, s.country, t.kind as request, t.request_id, t.state,
                     t.created_at, t.confirmed_at
                from compliance.propagation_tasks t join compliance.processing_systems s on s.system = t.system
               where t.user_id = p.user_id) x), '[]'))
  from compliance.user_profiles p
  where p.user_id = subject_document.user_id);
end;
$function$;

comment on function compliance_private.subject_document(user_id text) is
  'Everything held about one subject as one JSON document (sections: profile, preferences, consents, conversations with messages, sessions, audit_trail, breach_notices, registered_tables: your own registered tables by name, dsr_requests, objections_and_restrictions, recipients_told: the systems each request was sent to, GDPR Art. 19). NULL for an unknown subject.';

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
                                'master_key_age', 'backup_age', 'anchors', 'worker_heartbeat', 'uptime', 'outside_the_database', 'privileged_mfa', 'wal_archive_lag', 'restore_drill', 'data_map', 'processing_record', 'dsr_propagation'] loop
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

revoke all on function compliance.claim_propagation_tasks(integer, integer) from public;
revoke all on function compliance.record_propagation_attempt(bigint, text, text, text, integer) from public;
revoke all on function compliance.record_propagation_callback(bigint, text, text) from public;
revoke all on function compliance.confirm_propagation(bigint, text) from public;
revoke all on function compliance.retry_propagation(bigint) from public;
grant execute on function compliance.claim_propagation_tasks(integer, integer) to compliance_worker;
grant execute on function compliance.record_propagation_attempt(bigint, text, text, text, integer) to compliance_worker;
grant execute on function compliance.record_propagation_callback(bigint, text, text) to compliance_receiver;
grant execute on function compliance.confirm_propagation(bigint, text) to compliance_dpo;
grant execute on function compliance.retry_propagation(bigint) to compliance_dpo;
revoke all on function compliance_private.propagate_request(bigint, text, text) from public;
revoke all on function compliance_private.settle_request(bigint) from public;
revoke all on function compliance_private.confirm_task(compliance.propagation_tasks, text, text, text) from public;
revoke all on function compliance_private.check_dsr_propagation(jsonb) from public;
-- the receiver sets its request context like every request role
grant usage on schema compliance to compliance_receiver;
grant execute on function compliance.set_request_context(text, text[], inet, text) to compliance_receiver;

select compliance_private.record_expected_grants();
