import postgres, { type TransactionSql } from 'postgres';
import { beforeAll, describe, expect, it } from 'vitest';
import { verifyIndependently } from '../../core/verify/verifier.js';
import { signal } from '../provision/signal.js';
import { expectSqlState, quiet, setContext, useTestDatabase, type GroupRole } from '../provision/database.js';

const db = useTestDatabase();
const alice = { actor: 'user:alice', ip: '198.51.100.7', userAgent: 'vitest-agent' };

interface Problem { kind: string; seal_no: number | null; row_id?: number }
async function verify(tx: TransactionSql | postgres.Sql = db.admin) {
  const [result] = await tx`select * from compliance.verify_audit_log()`;
  return result as { ok: boolean; seals_checked: string; rows_checked: string; problems: Problem[] };
}

async function auditRows() {
  return db.admin`select * from compliance.audit_logs order by id`;
}

beforeAll(async () => {
  await db.as('compliance_app', alice, async (tx) => {
    await tx`select compliance.ensure_profile('user:alice', 'alice', 'alice@example.org', 'Alice')`;
    for (let i = 0; i < 5; i += 1) await tx`select compliance.log_event('phi.access', 'hipaa', 'patient_record', ${String(i)}, '{}', 'user:alice', ${tx.json({ patient_id: `p-${i}` })})`;
  });
  await db.admin`select compliance.seal_audit_log()`;
});

describe('append-only (APPND)', () => {
  const roles: GroupRole[] = ['compliance_owner', 'compliance_app', 'compliance_worker', 'compliance_dpo', 'compliance_auditor'];
  for (const role of roles) {
    it(`refuses UPDATE, DELETE and TRUNCATE as ${role} (APPND)`, async () => {
      const context = role === 'compliance_dpo' ? { ...alice, roles: ['dpo'] } : alice;
      await expectSqlState(db.as(role, context, (tx) => tx`update compliance.audit_logs set action = 'x.y'`), 'APPND');
      await expectSqlState(db.as(role, context, (tx) => tx`update compliance.audit_logs set user_id = null where id = 1`), 'APPND');
      await expectSqlState(db.as(role, context, (tx) => tx`delete from compliance.audit_logs where id = 1`), 'APPND');
      await expectSqlState(db.as(role, context, (tx) => tx`truncate compliance.audit_logs`), 'APPND');
    });
  }

  it('refuses changes to partitions and seals, for the superuser too (APPND)', async () => {
    const [partition] = await db.admin`select inhrelid::regclass::text as name from pg_inherits where inhparent = 'compliance.audit_logs'::regclass limit 1`;
    await expectSqlState(db.admin.unsafe(`delete from ${partition!.name}`), 'APPND');
    await expectSqlState(db.admin.unsafe(`truncate ${partition!.name}`), 'APPND');
    await expectSqlState(db.admin`delete from compliance.audit_seals`, 'APPND');
    await expectSqlState(db.admin`update compliance.audit_seals set row_count = 0`, 'APPND');
    await expectSqlState(db.as('compliance_owner', null, (tx) => tx`truncate compliance.audit_seals`), 'APPND');
    expect((await auditRows()).length).toBeGreaterThan(0);
  });

  it('admits inside an erasure only the redaction itself (APPND), on the table and on a partition, never on the seals', async () => {
    const [row] = await db.admin`select id, tableoid::regclass::text as partition from compliance.audit_logs where user_id is not null order by id limit 1`;
    const insideErasure = (change: (tx: TransactionSql) => Promise<unknown>) =>
      db.as('compliance_owner', null, async (tx) => {
        await tx`select compliance_private.begin_bulk_operation('erasure')`;
        await change(tx);
      });
    const partition = row!.partition as string;
    for (const change of [
      (tx: TransactionSql) => tx`update compliance.audit_logs set action = 'x.y' where id = ${row!.id}`,
      (tx: TransactionSql) => tx`update compliance.audit_logs set user_id = null where id = ${row!.id}`,
      (tx: TransactionSql) => tx`update compliance.audit_logs set user_id = null, personal_details = null, subject_part_salt = null,
                                   redacted_at = now(), details = '{"x": 1}' where id = ${row!.id}`,
      // half a part: the actor's salt gone, the actor still named
      (tx: TransactionSql) => tx`update compliance.audit_logs set actor_part_salt = null, redacted_at = now() where id = ${row!.id}`,
      (tx: TransactionSql) => tx`update compliance.audit_logs set subject_part_digest = sha256('x'), user_id = null, personal_details = null,
                                   subject_part_salt = null, redacted_at = now() where id = ${row!.id}`,
      (tx: TransactionSql) => tx.unsafe(`update ${partition} set resource_id = 'moved' where id = ${row!.id}`),
      (tx: TransactionSql) => tx`delete from compliance.audit_logs where id = ${row!.id}`,
      (tx: TransactionSql) => tx`update compliance.audit_seals set sealed_at = sealed_at`,
    ]) {
      await expectSqlState(insideErasure(change), 'APPND');
    }
    // the redaction itself passes (rolled back: later tests need the row whole)
    const redacted = await insideErasure(async (tx) => {
      await tx`update compliance.audit_logs set user_id = null, personal_details = null, subject_part_salt = null,
                 redacted_at = now() where id = ${row!.id}`;
      const [after] = await tx`select user_id, actor_id, redacted_at from compliance.audit_logs where id = ${row!.id}`;
      throw Object.assign(new Error('rollback'), { after });
    }).catch((error: Error & { after?: { user_id: unknown; redacted_at: unknown } }) => error.after);
    expect(redacted).toMatchObject({ user_id: null, actor_id: 'user:alice' });
    expect(redacted!.redacted_at).not.toBeNull();
  });

  it('lets the app write only through log_event', async () => {
    await expectSqlState(db.as('compliance_app', alice, (tx) => tx`insert into compliance.audit_logs (action, category, personal_digest) values ('x.y', 'system', sha256(''))`), '42501');
    const rows = await db.as('compliance_app', alice, (tx) => tx`select * from compliance.audit_logs`);
    expect(rows).toHaveLength(0);
  });
});

describe('row audit triggers', () => {
  it('writes exactly one row with the right actor per insert, update and delete on each personal table', async () => {
    const actor = { actor: 'user:frank', ip: '203.0.113.9', userAgent: 'trigger-test' };
    const before = Number((await db.admin`select max(id) as id from compliance.audit_logs`)[0]!.id);
    const operations: Array<[string, (tx: TransactionSql) => Promise<unknown>]> = [
      ['profile.created', (tx) => tx`insert into compliance.user_profiles (user_id, email) values ('user:frank', 'f@example.org')`],
      ['profile.updated', (tx) => tx`update compliance.user_profiles set email = 'g@example.org' where user_id = 'user:frank'`],
      ['preferences.created', (tx) => tx`insert into compliance.user_preferences (user_id) values ('user:frank')`],
      ['preferences.updated', (tx) => tx`update compliance.user_preferences set preferences = '{"a":1}' where user_id = 'user:frank'`],
      ['preferences.deleted', (tx) => tx`delete from compliance.user_preferences where user_id = 'user:frank'`],
      ['consent.granted', (tx) => tx`insert into compliance.consent_records (user_id, purpose, granted, policy_version) values ('user:frank', 'marketing', true, 'v1')`],
      ['consent.withdrawn', (tx) => tx`insert into compliance.consent_records (user_id, purpose, granted, policy_version) values ('user:frank', 'marketing', false, 'v1')`],
      ['conversation.created', (tx) => tx`insert into compliance.conversations (conversation_id, user_id) values ('00000000-0000-4000-8000-000000000001', 'user:frank')`],
      ['conversation.updated', (tx) => tx`update compliance.conversations set title = 't' where user_id = 'user:frank'`],
      ['message.created', (tx) => tx`insert into compliance.messages (conversation_id, user_id, role, content) values ('00000000-0000-4000-8000-000000000001', 'user:frank', 'user', 'hi')`],
      ['message.deleted', (tx) => tx`delete from compliance.messages where user_id = 'user:frank'`],
      ['conversation.deleted', (tx) => tx`delete from compliance.conversations where user_id = 'user:frank'`],
      ['session.created', (tx) => tx`insert into compliance.sessions (id, user_id) values ('00000000-0000-4000-8000-000000000002', 'user:frank')`],
      ['session.updated', (tx) => tx`update compliance.sessions set last_activity_at = now() where user_id = 'user:frank'`],
    ];
    for (const [action, run] of operations) {
      const [{ max: start }] = (await db.admin`select coalesce(max(id), 0)::bigint as max from compliance.audit_logs`) as unknown as [{ max: string }];
      await db.as('compliance_app', actor, run);
      const rows = await db.admin`select action, actor_id, user_id, host(ip_address) as ip, user_agent from compliance.audit_logs where id > ${start} order by id`;
      expect(rows.map((r) => r.action), action).toEqual([action]);
      expect(rows[0]).toMatchObject({ actor_id: 'user:frank', user_id: 'user:frank', ip: '203.0.113.9', user_agent: 'trigger-test' });
    }
    const dpo = { actor: 'dpo:dana', roles: ['dpo'] };
    for (const [action, run] of [
      ['legal_hold.placed', (tx: TransactionSql) => tx`select compliance.place_legal_hold('user:frank', 'matter 1')`],
      ['legal_hold.released', (tx: TransactionSql) => tx`select compliance.release_legal_hold('user:frank')`],
      ['dsr_request.received', (tx: TransactionSql) => tx`select compliance.register_dsr('user:frank', 'access')`],
    ] as const) {
      const [{ max: start }] = (await db.admin`select coalesce(max(id), 0)::bigint as max from compliance.audit_logs`) as unknown as [{ max: string }];
      await db.as('compliance_dpo', dpo, run);
      const rows = await db.admin`select action, actor_id, user_id from compliance.audit_logs where id > ${start}`;
      expect(rows, action).toEqual([{ action, actor_id: 'dpo:dana', user_id: 'user:frank' }]);
    }
    const [update] = await db.admin`select details, personal_details from compliance.audit_logs where id > ${before} and action = 'profile.updated'`;
    expect(update!.details).toEqual({ changed_fields: ['email'] });
    expect(update!.personal_details).toEqual({ old: { email: 'f@example.org' }, new: { email: 'g@example.org' } });
  });

  it('audits an update of several fields with exactly the changed ones, values typed as stored', async () => {
    const grace = { actor: 'user:grace' };
    await db.as('compliance_app', grace, (tx) => tx`select compliance.ensure_profile('user:grace', 'grace', null, 'Grace')`);
    const [{ max: start }] = (await db.admin`select coalesce(max(id), 0)::bigint as max from compliance.audit_logs`) as unknown as [{ max: string }];
    await db.as('compliance_app', grace, (tx) => tx`select compliance.update_profile('user:grace', ${tx.json({ email: 'grace@example.org', metadata: { tier: 2, beta: true }, full_name: 'Grace' })})`);
    const [row] = await db.admin`select details, personal_details from compliance.audit_logs where id > ${start} and action = 'profile.updated'`;
    // full_name was set to its old value: not a change; updated_at never counts
    expect([...row!.details.changed_fields].sort()).toEqual(['email', 'metadata']);
    expect(row!.personal_details).toEqual({ old: { email: null, metadata: {} }, new: { email: 'grace@example.org', metadata: { tier: 2, beta: true } } });
  });

  it('refuses an event that breaks the audit row rules, with BADRG and nothing written', async () => {
    const [{ max: before }] = (await db.admin`select coalesce(max(id), 0)::bigint as max from compliance.audit_logs`) as unknown as [{ max: string }];
    const bad: Array<(tx: TransactionSql) => Promise<unknown>> = [
      (tx) => tx`select compliance.log_event('Not Dotted', 'gdpr')`,
      (tx) => tx`select compliance.log_event('a.b', 'finance')`,
      (tx) => tx`select compliance.log_event('a.b', 'gdpr', outcome => 'maybe')`,
      (tx) => tx`select compliance.log_event('a.b', 'gdpr', failure_reason => 'why')`,
      (tx) => tx`select compliance.log_event('a.b', 'gdpr', details => '[1, 2]')`,
    ];
    for (const attempt of bad) await expectSqlState(db.as('compliance_app', alice, attempt), 'BADRG');
    const [{ max: after }] = (await db.admin`select coalesce(max(id), 0)::bigint as max from compliance.audit_logs`) as unknown as [{ max: string }];
    expect(after).toBe(before);
    await db.as('compliance_app', alice, (tx) => tx`select compliance.log_event('login.failed', 'security', outcome => 'failure', failure_reason => 'bad password')`);
  });

  it('records a DBA without context as the database login', async () => {
    await db.admin`select compliance.log_event('system.check', 'system')`;
    const [row] = await db.admin`select actor_id from compliance.audit_logs order by id desc limit 1`;
    expect(row!.actor_id).toBe('postgres');
  });
});

describe('sealing', () => {
  it('seals two transactions that commit out of id order exactly once each', async () => {
    await db.admin`select compliance.seal_audit_log()`;
    const first = postgres(db.adminUrl, { ...quiet, max: 1 });
    const second = postgres(db.adminUrl, { ...quiet, max: 1 });
    try {
      const firstMayCommit = signal();
      const firstHasWritten = signal();
      const firstTx = first.begin(async (tx) => {
        const [row] = await tx`select compliance.log_event('order.first', 'system') as id`;
        firstHasWritten.fire();
        await firstMayCommit.fired;
        return row!.id as string;
      });
      await firstHasWritten.fired;
      const secondId = await second.begin(async (tx) => (await tx`select compliance.log_event('order.second', 'system') as id`)[0]!.id as string);
      // the second committed first; the first is still open, so neither may be sealed yet
      await db.admin`select compliance.seal_audit_log()`;
      const sealedEarly = await db.admin`select unnest(row_ids) as id from compliance.audit_seals`;
      expect(sealedEarly.map((r) => r.id)).not.toContain(secondId);
      firstMayCommit.fire();
      const firstId = await firstTx;
      expect(BigInt(firstId)).toBeLessThan(BigInt(secondId));
      await db.admin`select compliance.seal_audit_log()`;
      const sealed = await db.admin`select id, count(*)::int as times from (select unnest(row_ids) as id from compliance.audit_seals) s group by id`;
      const times = new Map(sealed.map((r) => [String(r.id), r.times as number]));
      expect(times.get(String(firstId))).toBe(1);
      expect(times.get(String(secondId))).toBe(1);
      expect([...times.values()].every((n) => n === 1)).toBe(true);
    } finally {
      await first.end();
      await second.end();
    }
  });

  it('does not make concurrent writers wait for each other', async () => {
    const writers = Array.from({ length: 8 }, () => postgres(db.adminUrl, { ...quiet, max: 1 }));
    try {
      for (let i = 0; i < 8; i += 1) {
        await db.as('compliance_app', { actor: `user:w${i}` }, (tx) => tx`select compliance.ensure_profile(${`user:w${i}`})`);
      }
      const allWritten = signal();
      let written = 0;
      const everyone = signal();
      const transactions = writers.map((sql, i) =>
        sql.begin(async (tx) => {
          await tx`select set_config('role', 'compliance_app', true)`;
          await setContext(tx, { actor: `user:w${i}` });
          for (let n = 0; n < 5; n += 1) {
            await tx`select compliance.update_profile(${`user:w${i}`}, ${tx.json({ full_name: `writer ${n}` })})`;
            await tx`select compliance.log_event('phi.access', 'hipaa', null, null, '{}', ${`user:w${i}`})`;
          }
          written += 1;
          if (written === 8) everyone.fire();
          await allWritten.fired;
        }),
      );
      // all eight wrote their audited rows while the other seven were still open
      await everyone.fired;
      const sealer = db.admin`select compliance.seal_audit_log()`;
      await sealer;
      // only this file's database: other test files run in parallel on the same cluster
      const [waits] = await db.admin`select count(*)::int as n from pg_locks l join pg_stat_activity a on a.pid = l.pid
                                      where not l.granted and a.datname = current_database()`;
      expect(waits!.n).toBe(0);
      allWritten.fire();
      await Promise.all(transactions);
    } finally {
      await Promise.all(writers.map((sql) => sql.end()));
    }
  });

  it('uses only the month in question for a time-range query by action', async () => {
    const [plan] = await db.as('compliance_auditor', null, (tx) => tx`
      explain (format json) select id, occurred_at, action, details from compliance.audit_logs
       where occurred_at between date_trunc('month', now()) and date_trunc('month', now()) + interval '1 month' - interval '1 second'
         and action = 'phi.access'`);
    const text = JSON.stringify(plan);
    const relations = [...text.matchAll(/"Relation Name":\s*"([^"]+)"/g)].map((m) => m[1]);
    expect(relations.length).toBeGreaterThan(0);
    expect(new Set(relations).size).toBe(1);
    expect(relations[0]).toMatch(/^audit_logs_y\d{4}m\d{2}$/);
  });
});

describe('verification', () => {
  beforeAll(async () => {
    await db.admin`select compliance.seal_audit_log()`;
  });

  it('is ok on an untouched log and covers every row', async () => {
    const result = await verify();
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
    const [count] = await db.admin`select count(*)::bigint as n from compliance.audit_logs`;
    expect(result.rows_checked).toBe(count!.n);
    const [digest] = await db.admin`select * from compliance.audit_digest()`;
    expect(digest!.seal_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  // each tampering runs as a superuser with triggers off, then rolls back
  async function tamper(change: (tx: TransactionSql) => Promise<unknown>) {
    let result: Awaited<ReturnType<typeof verify>> | undefined;
    await db.admin.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      await change(tx);
      result = await verify(tx);
      throw new Error('rollback');
    }).catch((error: Error) => {
      if (error.message !== 'rollback') throw error;
    });
    return result!;
  }
  const sealedRow = async (offset = 0) => {
    const [row] = await db.admin`select id from compliance.audit_logs a where exists (select from compliance.audit_seals s where a.id = any (s.row_ids)) order by id limit 1 offset ${offset}`;
    return Number(row!.id);
  };

  it('names an altered row', async () => {
    const id = await sealedRow();
    const result = await tamper((tx) => tx`update compliance.audit_logs set action = 'phi.nothing' where id = ${id}`);
    expect(result.ok).toBe(false);
    expect(result.problems).toContainEqual(expect.objectContaining({ kind: 'altered_row', row_id: id }));
  });

  it('names a deleted row', async () => {
    const id = await sealedRow(1);
    const result = await tamper((tx) => tx`delete from compliance.audit_logs where id = ${id}`);
    expect(result.problems).toContainEqual(expect.objectContaining({ kind: 'deleted_row', row_id: id }));
  });

  it('names a forged row inserted into a sealed range', async () => {
    // an id handed out and never used (a rolled-back write) lies inside the next seal's range
    const [unused] = await db.admin`select nextval('compliance_private.audit_logs_id_seq')::int as id`;
    await db.admin`select compliance.log_event('system.tick', 'system')`;
    await db.admin`select compliance.seal_audit_log()`;
    const id = unused!.id;
    const result = await tamper((tx) => tx`insert into compliance.audit_logs (id, action, category, personal_digest)
      values (${id}, 'phi.access', 'hipaa', sha256('forged'))`);
    expect(result.problems).toContainEqual(expect.objectContaining({ kind: 'forged_row', row_id: id }));
  });

  it('verifies seals that lie inside one large transaction, and names a row deleted from one, and only that row', async () => {
    const rows = await db.admin.begin((tx) => tx`select compliance.log_event('bulk.imported', 'system', 'record', n::text) as id from generate_series(1, 25) n`);
    await db.admin`select compliance.seal_audit_log(max_rows_per_seal => 10)`;
    const ids = rows.map((r) => Number(r.id));
    const [inner] = await db.admin`select seal_no from compliance.audit_seals where ${ids[12]!}::bigint = any (row_ids)`;
    const [first] = await db.admin`select count(*)::int as n from compliance.audit_seals where row_ids <@ ${ids}::bigint[]`;
    expect(first!.n).toBeGreaterThan(0); // at least one seal holds rows of this transaction only
    expect((await verify()).ok).toBe(true);
    const result = await tamper((tx) => tx`delete from compliance.audit_logs where id = ${ids[12]!}`);
    expect(result.problems).toEqual([expect.objectContaining({ kind: 'deleted_row', row_id: ids[12], seal_no: Number(inner!.seal_no) })]);
  });

  it('names both rows when two rows swap content', async () => {
    const a = await sealedRow(1);
    const b = await sealedRow(3);
    const result = await tamper(async (tx) => {
      await tx`create temp table swap as select * from compliance.audit_logs where id in (${a}, ${b})`;
      await tx`update compliance.audit_logs t set action = s.action, resource_id = s.resource_id, details = s.details
                 from swap s where s.id = case when t.id = ${a} then ${b}::bigint else ${a}::bigint end and t.id in (${a}, ${b})`;
    });
    const named = result.problems.filter((p) => p.kind === 'altered_row').map((p) => p.row_id);
    expect(named).toEqual(expect.arrayContaining([a, b]));
  });

  it('names an altered seal and the broken chain after it', async () => {
    const result = await tamper((tx) => tx`update compliance.audit_seals set row_count = row_count, seal_hash = sha256('forged') where seal_no = 1`);
    expect(result.problems).toContainEqual(expect.objectContaining({ kind: 'altered_seal', seal_no: 1 }));
    expect(result.problems).toContainEqual(expect.objectContaining({ kind: 'broken_chain', seal_no: 2 }));
  });

  it('names a personal part that no longer matches its digest', async () => {
    const id = await sealedRow();
    const result = await tamper((tx) => tx`update compliance.audit_logs set ip_address = '10.9.9.9' where id = ${id}`);
    expect(result.problems).toContainEqual(expect.objectContaining({ kind: 'digest_mismatch', row_id: id }));
  });

  it('stays ok after an erasure redacts a subject\'s rows, and keeps the DPO who handled them on record', async () => {
    const dpo = { actor: 'dpo:dana', roles: ['dpo'] };
    await db.as('compliance_dpo', dpo, (tx) => tx`select compliance.export_subject('user:alice')`);
    const danaRows = async () => (await db.admin`select count(*)::int as n from compliance.audit_logs where actor_id = 'dpo:dana'`)[0]!.n;
    const before = await db.admin`select count(*)::int as n from compliance.audit_logs where user_id = 'user:alice' or actor_id = 'user:alice'`;
    expect(before[0]!.n).toBeGreaterThan(0);
    const danaBefore = await danaRows();
    expect(danaBefore).toBeGreaterThan(0);
    await db.as('compliance_dpo', dpo, (tx) => tx`select compliance.erase_subject('user:alice', 'Art. 17 request', true)`);
    const after = await db.admin`select count(*)::int as n from compliance.audit_logs where user_id = 'user:alice' or actor_id = 'user:alice'`;
    expect(after[0]!.n).toBe(0);
    // the export row lost alice and kept dana; the erasure row names dana too
    expect(await danaRows()).toBe(danaBefore + 1);
    const [exported] = await db.admin`select user_id, actor_id, ip_address from compliance.audit_logs where action = 'subject.exported'`;
    expect(exported).toMatchObject({ user_id: null, actor_id: 'dpo:dana' });
    const [erasure] = await db.admin`select details from compliance.audit_logs where action = 'subject.erased'`;
    const listed = new Set([...erasure!.details.redacted_subject_rows, ...erasure!.details.redacted_actor_rows]);
    expect(listed.size).toBe(before[0]!.n);
    // before the worker seals the erasure record, its redactions are pending: a note, not a failure
    const unsealed = await verify();
    expect(unsealed.problems).toEqual([]);
    expect(unsealed.ok).toBe(true);
    expect((unsealed as unknown as { notes: { kind: string }[] }).notes.map((n) => n.kind)).toContain('pending_redaction');
    const outside = await verifyIndependently(db.adminUrl);
    expect(outside).toMatchObject({ ok: true, problems: [] });
    expect(outside.notes.map((n) => n.kind)).toContain('pending_redaction');
    await db.admin`select compliance.seal_audit_log()`;
    const result = await verify();
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
  });

  it('lets the auditor verify', async () => {
    const result = await db.as('compliance_auditor', null, (tx) => verify(tx));
    expect(result.ok).toBe(true);
  });
});
