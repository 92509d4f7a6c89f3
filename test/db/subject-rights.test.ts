import { execFileSync } from 'node:child_process';
import postgres from 'postgres';
import { beforeAll, describe, expect, it } from 'vitest';
import { onCitus } from '../provision/citus.js';
import { signal } from '../provision/signal.js';
import { expectSqlState, quiet, setContext, useTestDatabase } from '../provision/database.js';
import { until } from '../provision/until.js';

const db = useTestDatabase();

/** the second transaction has reached the first's lock and waits there: the interleaving the test is about */
const blockedOnALock = () => until(async () => ((await db.admin.unsafe(onCitus()
  // on Citus the wait happens on the worker that holds the subject's shard
  ? 'select 1 from citus_lock_waits'
  : `select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`)).length > 0 ? true : undefined),
  60_000, 'a transaction to wait for the lock');
const dpo = { actor: 'dpo:dana', roles: ['dpo'] };

const IDENTITY = {
  user_id: 'user:zelda-4711',
  email: 'zelda.4711@example.org',
  full_name: 'Zelda Quixote-Marlowe',
  ip: '198.51.100.231',
  user_agent: 'ZeldaBrowser/9.87 (unique-agent-string)',
  message: 'my very private message about quokkas',
};

async function seedFullSubject(userId: string, ip = '203.0.113.50', userAgent = 'seed-agent') {
  const context = { actor: userId, ip, userAgent };
  await db.as('compliance_app', context, async (tx) => {
    await tx`select compliance.ensure_profile(${userId}, 'u', ${userId.replace(':', '.') + '@example.org'}, 'Full Name')`;
    await tx`select compliance.update_profile(${userId}, '{"full_name":"Fuller Name"}')`;
    await tx`select compliance.set_preferences(${userId}, '{"theme":"dark"}')`;
    await tx`select compliance.record_consent(${userId}, 'analytics', true, 'v1')`;
    await tx`select compliance.record_consent(${userId}, 'analytics', false, 'v2')`;
    const [c] = await tx`select conversation_id from compliance.start_conversation(${userId}, 'topic')`;
    await tx`select compliance.add_message(${c!.conversation_id}, 'user', 'hello there')`;
    await tx`select compliance.add_message(${c!.conversation_id}, 'assistant', 'hi')`;
    await tx`select compliance.touch_session(${userId}, gen_random_uuid())`;
  });
  // a transaction of its own: on Citus a routine that runs as the owner may not touch a shard the
  // app's role changed in the same transaction (docs/CITUS.md)
  await db.as('compliance_app', context, (tx) => tx`select compliance.log_event('phi.access', 'hipaa', 'patient_record', 'r-1', '{}', ${userId}, '{"patient_id":"p-9"}')`);
}

const PERSONAL_TABLES = ['user_profiles', 'user_preferences', 'consent_records', 'conversations', 'messages', 'sessions', 'legal_holds', 'dsr_requests'];

async function snapshot(userId: string) {
  const counts: Record<string, number> = {};
  for (const table of PERSONAL_TABLES) {
    const [row] = await db.admin.unsafe(`select count(*)::int as n from compliance.${table} where user_id = $1`, [userId]);
    counts[table] = row!.n;
  }
  const [audit] = await db.admin`select count(*)::int as n from compliance.audit_logs where user_id = ${userId} or actor_id = ${userId}`;
  counts.audit_logs = audit!.n;
  const [tomb] = await db.admin`select count(*)::int as n from compliance_private.erased_subjects`;
  counts.tombstones = tomb!.n;
  return counts;
}

describe('export (Art. 15, 20)', () => {
  it('returns every section for a subject with data in every table', async () => {
    await seedFullSubject('user:exporter');
    await db.admin`select compliance.register_dsr('user:exporter', 'rectification')`;
    const [row] = await db.as('compliance_dpo', dpo, (tx) => tx`select compliance.export_subject('user:exporter') as doc`);
    const doc = row!.doc;
    expect(Object.keys(doc).sort()).toEqual(['archived_audit_trail', 'audit_trail', 'breach_notices', 'consents', 'conversations', 'dsr_requests', 'generated_at', 'objections_and_restrictions', 'preferences', 'profile', 'recipients_told', 'registered_tables', 'sessions', 'subject_id']);
    expect(doc.profile.full_name).toBe('Fuller Name');
    expect(doc.preferences.preferences).toEqual({ theme: 'dark' });
    expect(doc.consents.map((c: { granted: boolean }) => c.granted)).toEqual([true, false]);
    expect(doc.conversations[0].messages.map((m: { content: string }) => m.content)).toEqual(['hello there', 'hi']);
    expect(doc.sessions).toHaveLength(1);
    expect(doc.dsr_requests.map((r: { kind: string }) => r.kind)).toContain('rectification');
    const actions = doc.audit_trail.map((a: { action: string }) => a.action);
    expect(actions).toEqual(expect.arrayContaining(['profile.created', 'profile.updated', 'consent.granted', 'consent.withdrawn', 'message.created', 'phi.access']));
    const rectification = doc.audit_trail.find((a: { action: string }) => a.action === 'profile.updated');
    expect(rectification.personal_details).toEqual({ old: { full_name: 'Full Name' }, new: { full_name: 'Fuller Name' } });
  });

  it('refuses an unknown subject rather than returning an empty document (UNKSJ)', async () => {
    await expectSqlState(db.as('compliance_dpo', dpo, (tx) => tx`select compliance.export_subject('user:nobody')`), 'UNKSJ');
  });

  it('registers the export as a completed request and audits it', async () => {
    await db.as('compliance_app', { actor: 'user:exporter' }, (tx) => tx`select compliance.export_my_data('portability')`);
    const requests = await db.admin`select kind, status from compliance.dsr_requests where user_id = 'user:exporter' and kind = 'portability'`;
    expect(requests).toEqual([{ kind: 'portability', status: 'completed' }]);
    const [audit] = await db.admin`select count(*)::int as n from compliance.audit_logs where action = 'subject.exported' and user_id = 'user:exporter'`;
    expect(audit!.n).toBeGreaterThanOrEqual(2);
  });

  it('is not callable for another subject by the app role', async () => {
    await expectSqlState(db.as('compliance_app', { actor: 'user:exporter' }, (tx) => tx`select compliance.export_subject('user:someone')`), '42501');
    await expectSqlState(db.as('compliance_app', { actor: 'user:exporter' }, (tx) => tx`select compliance.erase_subject('user:someone', 'x', true)`), '42501');
  });
});

describe('erasure (Art. 17)', () => {
  it('plans its statements once per connection and never JIT-compiles them, as export does: a generic plan\'s estimates over a million subjects pass jit_above_cost', async () => {
    const rows = await db.admin<{ proname: string; proconfig: string[] }[]>`
      select p.proname, p.proconfig from pg_proc p
       where p.oid in ('compliance_private.erase_subject_core(text,text,boolean,text)'::regprocedure,
                       'compliance_private.export_subject_core(text,text)'::regprocedure) order by 1`;
    expect(rows.map((r) => r.proname)).toEqual(['erase_subject_core', 'export_subject_core']);
    for (const row of rows) expect(row.proconfig).toEqual(expect.arrayContaining(['plan_cache_mode=force_generic_plan', 'jit=off']));
  });

  it('needs confirm => true (CONFM)', async () => {
    await seedFullSubject('user:unsure');
    await expectSqlState(db.as('compliance_dpo', dpo, (tx) => tx`select compliance.erase_subject('user:unsure', 'request', false)`), 'CONFM');
    await expectSqlState(db.as('compliance_app', { actor: 'user:unsure' }, (tx) => tx`select compliance.erase_my_data('request')`), 'CONFM');
  });

  it('refuses an unknown subject (UNKSJ)', async () => {
    await expectSqlState(db.as('compliance_dpo', dpo, (tx) => tx`select compliance.erase_subject('user:ghost', 'request', true)`), 'UNKSJ');
  });

  it('refuses a subject under legal hold (LHOLD) and changes nothing', async () => {
    await seedFullSubject('user:held');
    await db.as('compliance_dpo', dpo, (tx) => tx`select compliance.place_legal_hold('user:held', 'litigation 2026-17')`);
    const before = await snapshot('user:held');
    await expectSqlState(db.as('compliance_dpo', dpo, (tx) => tx`select compliance.erase_subject('user:held', 'request', true)`), 'LHOLD');
    expect(await snapshot('user:held')).toEqual(before);
    await expectSqlState(db.as('compliance_dpo', dpo, (tx) => tx`select compliance.place_legal_hold('user:held', 'again')`), 'HOLDA');
    await db.as('compliance_dpo', dpo, (tx) => tx`select compliance.release_legal_hold('user:held')`);
    const [receipt] = await db.as('compliance_dpo', dpo, (tx) => tx`select compliance.erase_subject('user:held', 'request', true) as r`);
    expect(receipt!.r.deleted.legal_holds).toBe(1);
  });

  it('deletes every personal row, redacts the audit trail and returns counts', async () => {
    await seedFullSubject('user:gone');
    const [row] = await db.as('compliance_dpo', dpo, (tx) => tx`select compliance.erase_subject('user:gone', 'Art. 17 request #42', true) as receipt`);
    expect(row!.receipt.deleted).toMatchObject({ user_profiles: 1, user_preferences: 1, consent_records: 2, conversations: 1, messages: 2, sessions: 1 });
    expect(row!.receipt.audit_rows_redacted).toBeGreaterThan(5);
    const after = await snapshot('user:gone');
    expect(after).toMatchObject({ user_profiles: 0, user_preferences: 0, consent_records: 0, conversations: 0, messages: 0, sessions: 0, audit_logs: 0 });
    const [final] = await db.admin`select action, user_id, details from compliance.audit_logs where action = 'subject.erased' order by id desc limit 1`;
    expect(final!.user_id).toBeNull();
    expect(JSON.stringify(final!.details)).not.toContain('user:gone');
    expect(final!.details.deleted.messages).toBe(2);
  });

  it('clears where the person acted on someone else\'s rows in its own transaction on a single node, and on Citus leaves that to a second transaction the worker or the DPO runs once', async () => {
    await seedFullSubject('user:clinician');
    await seedFullSubject('user:their-patient');
    await db.as('compliance_dpo', { actor: 'user:clinician', roles: ['dpo'] },
      (tx) => tx`select compliance.place_legal_hold('user:their-patient', 'a matter')`);
    const [row] = await db.as('compliance_dpo', dpo, (tx) => tx`select compliance.erase_subject('user:clinician', 'asked', true) as receipt`);
    // earlier erasures of this file may wait too
    const listed = await db.as('compliance_worker', { actor: 'worker:erasures' }, (tx) => tx`select chain, request_id from compliance.erasures_finishing_elsewhere()`);
    const waiting = listed.filter((w) => String(w.request_id) === String(row!.receipt.dsr_request_id));
    const heldBy = async () => (await db.admin`select placed_by from compliance.legal_holds where user_id = 'user:their-patient'`)[0]!.placed_by;
    if (onCitus()) {
      expect(row!.receipt.finishing_elsewhere).toBe(true);
      expect(waiting).toHaveLength(1);
      expect(await heldBy()).toBe('user:clinician');
      const [finished] = await db.as('compliance_dpo', dpo, (tx) =>
        tx`select compliance.finish_erasure_elsewhere(${waiting[0]!.chain}, ${waiting[0]!.request_id}) as result`);
      expect(finished!.result.anonymised.legal_holds_anonymised).toBe(1);
    } else {
      expect(row!.receipt.finishing_elsewhere).toBe(false);
      expect(row!.receipt.deleted.legal_holds_anonymised).toBe(1);
      expect(listed).toEqual([]);
    }
    expect(await heldBy()).toBeNull();
    // an erasure not waiting (finished, or never queued) is finished once: the second call is null
    const [again] = await db.as('compliance_worker', { actor: 'worker:erasures' }, (tx) =>
      tx`select compliance.finish_erasure_elsewhere('', ${row!.receipt.dsr_request_id}) as result`);
    expect(again!.result).toBeNull();
    expect(await db.admin`select 1 from compliance.audit_logs where actor_id = 'user:clinician' or user_id = 'user:clinician'`).toHaveLength(0);
  });

  it('lets only the worker and the DPO list and finish waiting erasures (42501), never naming the person, and needs the chain and request (BADRG)', async () => {
    for (const [role, roles] of [['compliance_app', []], ['compliance_staff', ['staff']], ['compliance_auditor', ['auditor']]] as const) {
      const context = { actor: 'someone', roles: [...roles] };
      await expectSqlState(db.as(role, context, (tx) => tx`select * from compliance.erasures_finishing_elsewhere()`), '42501');
      await expectSqlState(db.as(role, context, (tx) => tx`select compliance.finish_erasure_elsewhere('', 1)`), '42501');
      await expectSqlState(db.as(role, context, (tx) => tx`select * from compliance_private.erasures_finishing_elsewhere`), '42501');
    }
    // nobody but the erasure puts a person on the list, nor writes the record verification trusts
    for (const [role, roles] of [['compliance_app', []], ['compliance_worker', []], ['compliance_dpo', ['dpo']]] as const) {
      const context = { actor: 'someone', roles: [...roles] };
      await expectSqlState(db.as(role, context, (tx) =>
        tx`insert into compliance_private.erasures_finishing_elsewhere (placement, request_id, person) values ('', 1, 'user:anyone')`), '42501');
      await expectSqlState(db.as(role, context, (tx) => tx`select compliance.log_event('subject.erased_elsewhere', 'gdpr')`), 'RSRVD');
    }
    await expectSqlState(db.as('compliance_worker', { actor: 'worker:erasures' }, (tx) => tx`select compliance.finish_erasure_elsewhere(null, 1)`), 'BADRG');
    await expectSqlState(db.as('compliance_dpo', dpo, (tx) => tx`select compliance.finish_erasure_elsewhere('', null)`), 'BADRG');
    const [listed] = await db.admin`select proargnames from pg_proc where oid = 'compliance.erasures_finishing_elsewhere()'::regprocedure`;
    expect(listed!.proargnames).toEqual(['chain', 'request_id', 'erased_at']);
  });

  it('leaves a tombstone: later writes for the id fail (ERASD) until re-registration', async () => {
    await expectSqlState(db.as('compliance_app', { actor: 'user:gone' }, (tx) => tx`select compliance.ensure_profile('user:gone')`), 'ERASD');
    await expectSqlState(db.admin`insert into compliance.user_profiles (user_id) values ('user:gone')`, 'ERASD');
    await expectSqlState(db.admin`select compliance.log_event('phi.access', 'hipaa', null, null, '{}', 'user:gone')`, 'ERASD');
    await expectSqlState(db.as('compliance_dpo', dpo, (tx) => tx`select compliance.erase_subject('user:gone', 'again', true)`), 'ERASD');
    await db.as('compliance_dpo', dpo, (tx) => tx`select compliance.reregister_subject('user:gone', 'signed up again')`);
    await db.as('compliance_app', { actor: 'user:gone' }, (tx) => tx`select compliance.ensure_profile('user:gone')`);
  });

  it('keeps the request register without identity', async () => {
    await seedFullSubject('user:registered');
    await db.admin`select compliance.register_dsr('user:registered', 'erasure', 'called on 2026-11-01')`;
    await db.as('compliance_dpo', dpo, (tx) => tx`select compliance.erase_subject('user:registered', 'request', true)`);
    const rows = await db.admin`select kind, received_at, due_at, user_id, notes from compliance.dsr_requests where kind = 'erasure' and notes is null and user_id is null`;
    expect(rows.length).toBeGreaterThanOrEqual(2);
    expect(rows.every((r) => r.received_at instanceof Date && r.due_at > r.received_at)).toBe(true);
  });

  it('leaves no trace of the subject anywhere in the database, and the audit log still verifies', async () => {
    const id = IDENTITY;
    await db.as('compliance_app', { actor: id.user_id, ip: id.ip, userAgent: id.user_agent }, async (tx) => {
      await tx`select compliance.ensure_profile(${id.user_id}, 'zq', ${id.email}, ${id.full_name})`;
      await tx`select compliance.update_profile(${id.user_id}, ${tx.json({ email: id.email.toUpperCase() })})`;
      const [c] = await tx`select conversation_id from compliance.start_conversation(${id.user_id}, 'quokkas')`;
      await tx`select compliance.add_message(${c!.conversation_id}, 'user', ${id.message})`;
      await tx`select compliance.record_consent(${id.user_id}, 'marketing', true, 'v1')`;
      await tx`select compliance.touch_session(${id.user_id}, gen_random_uuid())`;
      await tx`select compliance.export_my_data()`;
    });
    await db.admin`select compliance.seal_audit_log()`;
    await db.as('compliance_app', { actor: id.user_id, ip: id.ip, userAgent: id.user_agent }, (tx) => tx`select compliance.erase_my_data('please forget me', true)`);
    await db.admin`select compliance.seal_audit_log()`;

    const needles = [id.user_id, id.email, id.email.toUpperCase(), id.full_name, id.ip, id.user_agent, id.message];
    const dump = await dataDump();
    for (const needle of needles) expect(dump.includes(needle), `dump contains ${needle}`).toBe(false);
    expect(dump.length).toBeGreaterThan(1000);

    const [verified] = await db.admin`select * from compliance.verify_audit_log()`;
    expect(verified!.problems).toEqual([]);
    expect(verified!.ok).toBe(true);
  });
});

/** pg_dump --data-only where a pg_dump for this server exists; otherwise every table's rows as text */
async function dataDump(): Promise<string> {
  const [{ server_version_num: serverVersion }] = (await db.admin`show server_version_num`) as unknown as [{ server_version_num: string }];
  try {
    const client = execFileSync('pg_dump', ['--version'], { encoding: 'utf8' });
    const clientMajor = Number(/(\d+)\./.exec(client)?.[1]);
    if (clientMajor >= Math.floor(Number(serverVersion) / 10000)) {
      return execFileSync('pg_dump', ['--data-only', db.adminUrl], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
    }
  } catch {
    // no usable pg_dump: read the tables directly
  }
  const tables = await db.admin`select format('%I.%I', n.nspname, c.relname) as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
                                where c.relkind = 'r' and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_toast%'`;
  let text = '';
  for (const table of tables) {
    const rows = await db.admin.unsafe(`select t::text as row from ${table.name} t`);
    text += rows.map((r) => r.row).join('\n');
  }
  return text;
}

describe('erasure under faults', () => {
  const FAULTS = [
    ['compliance.messages', 'before delete'],
    ['compliance.conversations', 'before delete'],
    ['compliance.consent_records', 'before delete'],
    ['compliance.sessions', 'before delete'],
    ['compliance.user_preferences', 'before delete'],
    ['compliance.legal_holds', 'before delete'],
    ['compliance.dsr_requests', 'before update'],
    ['compliance.user_profiles', 'before delete'],
    ['compliance.audit_logs', 'before update'],
    ['compliance_private.erased_subjects', 'before insert'],
    ['compliance.dsr_requests', 'before insert'],
  ] as const;

  beforeAll(async () => {
    await db.admin`create function public.injected_fault() returns trigger language plpgsql as $$ begin raise exception 'injected fault on %', tg_table_name; end $$`;
  });

  for (const [table, timing] of FAULTS) {
    it(`leaves every row as it was when ${timing.split(' ')[1]} on ${table} fails`, async () => {
      const userId = `user:fault-${table.split('.')[1]}-${timing.split(' ')[1]}`;
      await seedFullSubject(userId);
      await db.admin`insert into compliance.legal_holds (user_id, reason, released_at) values (${userId}, 'old', now())`;
      await db.admin`select compliance.register_dsr(${userId}, 'erasure')`;
      const before = await snapshot(userId);
      await db.admin.unsafe(`create trigger _000_injected_fault ${timing} on ${table} for each row execute function public.injected_fault()`);
      try {
        const error = await db.as('compliance_dpo', dpo, (tx) => tx`select compliance.erase_subject(${userId}, 'request', true)`).catch((e: Error) => e);
        expect(String(error)).toContain('injected fault');
      } finally {
        await db.admin.unsafe(`drop trigger _000_injected_fault on ${table}`);
      }
      expect(await snapshot(userId)).toEqual(before);
      const [redacted] = await db.admin`select count(*)::int as n from compliance.audit_logs where redacted_at is not null and details ->> 'x' is null and xact_id = pg_current_xact_id()`;
      expect(redacted!.n).toBe(0);
    });
  }
});

describe('erasure racing a write', () => {
  it('fails a write that arrives while the erasure is in flight', async () => {
    await seedFullSubject('user:race-late');
    const eraser = postgres(db.adminUrl, { ...quiet, max: 1 });
    const writer = postgres(db.adminUrl, { ...quiet, max: 1 });
    try {
      const mayCommit = signal();
      const hasErased = signal();
      const erasure = eraser.begin(async (tx) => {
        await tx`select set_config('role', 'compliance_dpo', true)`;
        await setContext(tx, dpo);
        await tx`select compliance.erase_subject('user:race-late', 'request', true)`;
        hasErased.fire();
        await mayCommit.fired;
      });
      await hasErased.fired;
      const write = writer.begin(async (tx) => {
        await tx`select set_config('role', 'compliance_app', true)`;
        await setContext(tx, { actor: 'user:race-late' });
        const [c] = await tx`select conversation_id from compliance.conversations where user_id = 'user:race-late' limit 1`;
        if (c) await tx`select compliance.add_message(${c.conversation_id}, 'user', 'late message')`;
        await tx`select compliance.record_consent('user:race-late', 'marketing', true, 'v1')`;
      });
      await blockedOnALock();
      mayCommit.fire();
      await erasure;
      const outcome = await write.then(() => 'committed', (e: { code?: string }) => e.code);
      expect(['23503', 'UNKSJ', 'ERASD', 'NOCNV']).toContain(outcome);
      const after = await snapshot('user:race-late');
      expect(after).toMatchObject({ user_profiles: 0, consent_records: 0, messages: 0, conversations: 0, audit_logs: 0 });
    } finally {
      await eraser.end();
      await writer.end();
    }
  });

  it('erases a write that committed while the erasure waited for it', async () => {
    await seedFullSubject('user:race-early');
    const eraser = postgres(db.adminUrl, { ...quiet, max: 1 });
    const writer = postgres(db.adminUrl, { ...quiet, max: 1 });
    try {
      const mayCommit = signal();
      const hasWritten = signal();
      const write = writer.begin(async (tx) => {
        await tx`select set_config('role', 'compliance_app', true)`;
        await setContext(tx, { actor: 'user:race-early' });
        await tx`select compliance.record_consent('user:race-early', 'marketing', true, 'v1')`;
        await tx`select compliance.log_event('phi.access', 'hipaa', null, null, '{}', 'user:race-early', '{"patient_id":"p"}')`;
        hasWritten.fire();
        await mayCommit.fired;
      });
      await hasWritten.fired;
      const erasure = db.as('compliance_dpo', dpo, (tx) => tx`select compliance.erase_subject('user:race-early', 'request', true)`);
      await blockedOnALock();
      mayCommit.fire();
      await write;
      await erasure;
      const after = await snapshot('user:race-early');
      expect(after).toMatchObject({ user_profiles: 0, consent_records: 0, audit_logs: 0 });
    } finally {
      await eraser.end();
      await writer.end();
    }
  });
});

describe('request register', () => {
  it('sets the deadline one calendar month after receipt and lists open requests', async () => {
    await seedFullSubject('user:asker');
    const [request] = await db.as('compliance_dpo', dpo, (tx) => tx`select * from compliance.register_dsr('user:asker', 'objection')`);
    const due = new Date(request!.received_at);
    due.setUTCMonth(due.getUTCMonth() + 1);
    expect(Math.abs(request!.due_at.getTime() - due.getTime())).toBeLessThan(2 * 86_400_000);
    const open = await db.as('compliance_dpo', dpo, (tx) => tx`select id, overdue from compliance.dsr_open_requests`);
    expect(open.map((r) => r.id)).toContain(request!.id);
    await db.admin`update compliance.dsr_requests set received_at = now() - interval '40 days' where id = ${request!.id}`;
    const [late] = await db.as('compliance_dpo', dpo, (tx) => tx`select overdue from compliance.dsr_open_requests where id = ${request!.id}`);
    expect(late!.overdue).toBe(true);
    await db.as('compliance_dpo', dpo, (tx) => tx`select compliance.complete_dsr(${request!.id})`);
    await expectSqlState(db.as('compliance_dpo', dpo, (tx) => tx`select compliance.complete_dsr(${request!.id})`), 'NODSR');
  });
});

describe('sessions', () => {
  it('opens a request in one call: context, profile on first sight, session activity (open_request)', async () => {
    const session = '1d2c3b4a-5e6f-4a7b-8c9d-0e1f2a3b4c5d';
    const open = (tx: postgres.TransactionSql) =>
      tx`select compliance.open_request('user:newcomer', '{}', '192.0.2.1', 'vitest', ${session}::uuid, interval '15 minutes', 'newcomer', 'n@example.org', 'New Comer')`;
    const [who] = await db.admin.begin(async (tx) => {
      await tx`select set_config('role', 'compliance_app', true)`;
      await open(tx);
      return tx`select compliance.current_actor() as actor, (select full_name from compliance.user_profiles) as name`;
    });
    expect(who).toEqual({ actor: 'user:newcomer', name: 'New Comer' });
    const [row] = await db.admin`select host(ip_address) as ip, ended_at from compliance.sessions where id = ${session}`;
    expect(row).toEqual({ ip: '192.0.2.1', ended_at: null });
    await db.admin`update compliance.sessions set last_activity_at = now() - interval '16 minutes' where id = ${session}`;
    await expectSqlState(db.admin.begin(async (tx) => {
      await tx`select set_config('role', 'compliance_app', true)`;
      await open(tx);
    }), 'SESXP');
  });

  it('lets two requests open the same new session at once', async () => {
    await seedFullSubject('user:twotabs');
    const first = postgres(db.adminUrl, { ...quiet, max: 1 });
    const second = postgres(db.adminUrl, { ...quiet, max: 1 });
    const session = '6f9d2a10-5b7c-4e3d-8a21-0c4b9e7f1a22';
    try {
      const mayCommit = signal();
      const hasOpened = signal();
      const asSubject = async (tx: postgres.TransactionSql) => {
        await tx`select set_config('role', 'compliance_app', true)`;
        await setContext(tx, { actor: 'user:twotabs' });
      };
      const one = first.begin(async (tx) => {
        await asSubject(tx);
        await tx`select compliance.touch_session('user:twotabs', ${session}::uuid)`;
        hasOpened.fire();
        await mayCommit.fired;
      });
      await hasOpened.fired;
      const two = second.begin(async (tx) => {
        await asSubject(tx);
        await tx`select compliance.touch_session('user:twotabs', ${session}::uuid)`;
      });
      await blockedOnALock();
      mayCommit.fire();
      await one;
      await expect(two).resolves.toBeUndefined();
      const [row] = await db.admin`select count(*)::int as n from compliance.sessions where id = ${session}`;
      expect(row!.n).toBe(1);
    } finally {
      await first.end();
      await second.end();
    }
  });
});
