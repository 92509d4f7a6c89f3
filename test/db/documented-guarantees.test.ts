/** Promises the documentation makes, held by the code. */
import postgres from 'postgres';
import { describe, expect, inject, it } from 'vitest';
import { expectSqlState, quiet, useTestDatabase } from '../provision/database.js';

const db = useTestDatabase();
const dpo = { actor: 'dpo:dana', roles: ['dpo'] };

async function subject(userId: string, email: string) {
  await db.as('compliance_app', { actor: userId }, async (tx) => {
    await tx`select compliance.ensure_profile(${userId}, 'someone', ${email}, 'Some One')`;
    await tx`select compliance.log_event('phi.access', 'hipaa', 'patient_record', 'r-1', '{}', ${userId})`;
  });
}

describe('a legal hold keeps audit rows', () => {
  it('keeps an expired audit month while it holds a held subject\'s rows, audits that, and the chain verifies', async () => {
    await subject('user:held-long', 'held@example.org');
    await db.as('compliance_dpo', dpo, (tx) => tx`select compliance.place_legal_hold('user:held-long', 'litigation')`);
    await db.as('compliance_owner', null, async (tx) => {
      await tx`create table compliance.audit_logs_y2017m03 partition of compliance.audit_logs for values from ('2017-03-01') to ('2017-04-01')`;
      await tx`select compliance_private.protect_audit_relation('compliance.audit_logs_y2017m03')`;
      await tx`insert into compliance.audit_logs (occurred_at, action, category, user_id, personal_salt, personal_digest)
               select timestamptz '2017-03-10' + make_interval(hours => n), 'phi.access', 'hipaa', 'user:held-long', '\\x00'::bytea,
                      compliance_private.audit_personal_digest('\\x00'::bytea, 'user:held-long', null, null, null, null)
                 from generate_series(1, 5) n`;
    });
    await db.admin`select compliance.seal_audit_log()`;
    const [run] = await db.as('compliance_worker', null, (tx) => tx`select compliance.apply_retention('audit_logs') as r`);
    expect(run!.r.partitions).toContainEqual(expect.objectContaining({ partition: 'audit_logs_y2017m03', kept_for_legal_hold: 5 }));
    const [kept] = await db.admin`select count(*)::int as n from compliance.audit_logs where user_id = 'user:held-long' and occurred_at < '2017-04-01'`;
    expect(kept!.n).toBe(5);
    const [noted] = await db.admin`select details from compliance.audit_logs where action = 'audit.partition_kept'`;
    expect(noted!.details).toMatchObject({ held_rows: 5, reason: 'legal hold' });
    await db.admin`select compliance.seal_audit_log()`;
    const [verified] = await db.admin`select ok, problems from compliance.verify_audit_log()`;
    expect(verified!.problems).toEqual([]);
  });
});

describe('personal data only where erasure reaches it', () => {
  it('refuses details or a resource id that name the subject or the actor, or hold an e-mail address (PERSD)', async () => {
    await subject('user:leaky', 'leaky@example.org');
    const attempts = [
      (tx: postgres.TransactionSql) => tx`select compliance.log_event('note.added', 'gdpr', 'note', 'n1', ${tx.json({ contact: 'leaky@example.org' })}, 'user:leaky')`,
      (tx: postgres.TransactionSql) => tx`select compliance.log_event('note.added', 'gdpr', 'note', 'n1', ${tx.json({ about: 'user:leaky' })}, 'user:leaky')`,
      (tx: postgres.TransactionSql) => tx`select compliance.log_event('note.added', 'gdpr', 'note', 'user:leaky', '{}', 'user:leaky')`,
      (tx: postgres.TransactionSql) => tx`select compliance.log_event('note.added', 'gdpr', 'mailbox', 'someone@example.org', '{}', 'user:leaky')`,
    ];
    for (const attempt of attempts) await expectSqlState(db.as('compliance_app', { actor: 'user:leaky' }, attempt), 'PERSD');
    await db.as('compliance_app', { actor: 'user:leaky' },
      (tx) => tx`select compliance.log_event('note.added', 'gdpr', 'note', 'n1', ${tx.json({ fields: ['email'] })}, 'user:leaky', ${tx.json({ email: 'leaky@example.org' })})`);
  });

  it('leaves no trace of an erased subject\'s id or e-mail in any table or column, legal_holds.placed_by included', async () => {
    const id = 'user:gone-entirely';
    const email = 'gone.entirely@example.org';
    await subject(id, email);
    await subject('user:other-party', 'other@example.org');
    // the subject also acted as a DPO once: placing a hold on someone else
    await db.as('compliance_dpo', { actor: id, roles: ['dpo'] }, (tx) => tx`select compliance.place_legal_hold('user:other-party', 'case 9')`);
    await db.as('compliance_dpo', dpo, (tx) => tx`select compliance.release_legal_hold('user:other-party')`);
    await db.as('compliance_dpo', dpo, (tx) => tx`select compliance.export_subject(${id})`);
    await db.as('compliance_dpo', dpo, (tx) => tx`select compliance.erase_subject(${id}, 'Art. 17', true)`);

    // every table of every schema, every column: the row's text form holds them all
    const tables = await db.admin`select format('%I.%I', n.nspname, c.relname) as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p') and not c.relispartition and n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')`;
    expect(tables.length).toBeGreaterThan(15);
    const traces: string[] = [];
    for (const { name } of tables) {
      const [row] = await db.admin.unsafe(`select count(*)::int as n from ${name} t where strpos(t::text, $1) > 0 or strpos(t::text, $2) > 0`, [id, email]);
      if (row!.n > 0) traces.push(`${name}: ${row!.n}`);
    }
    expect(traces).toEqual([]);
  });
});

describe('sealing', () => {
  it('is not held back by a long transaction in another database of the cluster', async () => {
    const other = postgres(inject('maintenanceUrl'), { ...quiet, max: 1 });
    try {
      await other.begin(async (tx) => {
        await tx`select pg_current_xact_id()`; // an open transaction with an id, in another database
        await db.admin`select compliance.log_event('system.while_elsewhere', 'system')`;
        const [sealed] = await db.admin`select compliance.seal_audit_log() as n`;
        expect(sealed!.n).toBeGreaterThan(0);
        const [left] = await db.admin`select count(*)::int as n from compliance.audit_logs
                                        where id >= (select next_row_id from compliance_private.audit_seal_head)`;
        expect(left!.n).toBe(0);
      });
    } finally {
      await other.end();
    }
  });
});

describe('reads of other people\'s data are audited', () => {
  it('writes one row per DPO read of a subject\'s consents, of a period\'s consent records, and of the request register', async () => {
    await subject('user:consenting', 'consenting@example.org');
    await db.as('compliance_app', { actor: 'user:consenting' }, (tx) => tx`select compliance.record_consent('user:consenting', 'analytics', true, 'v1')`);
    const reads = async () => (await db.admin`select action, user_id, actor_id, details from compliance.audit_logs
      where action in ('subject.consents_read', 'consent.records_read', 'dsr.register_read') order by id`);
    const before = (await reads()).length;
    await db.as('compliance_dpo', dpo, async (tx) => {
      const [row] = await tx`select compliance.subject_consents('user:consenting') as c`;
      expect(row!.c.history).toHaveLength(1);
      await tx`select * from compliance.consent_records_between(now() - interval '1 day', now() + interval '1 day')`;
      await tx`select * from compliance.open_requests()`;
    });
    const after = (await reads()).slice(before);
    expect(after.map((r) => [r.action, r.user_id, r.actor_id])).toEqual([
      ['subject.consents_read', 'user:consenting', 'dpo:dana'],
      ['consent.records_read', null, 'dpo:dana'],
      ['dsr.register_read', null, 'dpo:dana'],
    ]);
    expect(after[1]!.details).toMatchObject({ procedure: 'consent_records_between', rows: expect.any(Number) });
  });
});

describe('the auditor', () => {
  it('reads the audit log without its personal columns, and those only through an audited function with a reason', async () => {
    await subject('user:audited', 'audited@example.org');
    const [row] = await db.admin`select id from compliance.audit_logs where user_id = 'user:audited' limit 1`;
    const auditor = (fn: (tx: postgres.TransactionSql) => Promise<unknown>) => db.as('compliance_auditor', { actor: 'auditor:ann' }, fn);
    await expectSqlState(auditor((tx) => tx`select user_id from compliance.audit_logs`), '42501');
    await expectSqlState(auditor((tx) => tx`select personal_details from compliance.audit_logs`), '42501');
    const visible = await auditor((tx) => tx`select id, action, details, personal_digest from compliance.audit_logs where id = ${row!.id}`) as unknown[];
    expect(visible).toHaveLength(1);
    await expectSqlState(auditor((tx) => tx`select * from compliance.audit_personal_fields(array[${row!.id}]::bigint[], '')`), 'BADRG');
    const fields = await auditor((tx) => tx`select * from compliance.audit_personal_fields(array[${row!.id}]::bigint[], 'ticket SEC-12')`) as { user_id: string }[];
    expect(fields[0]!.user_id).toBe('user:audited');
    const [trace] = await db.admin`select actor_id, details, personal_details from compliance.audit_logs where action = 'audit.personal_fields_read'`;
    expect(trace).toMatchObject({ actor_id: 'auditor:ann', personal_details: { reason: 'ticket SEC-12' } });
    expect(trace!.details.rows).toEqual([Number(row!.id)]);
  });
});

describe('the DPO role', () => {
  it('is refused to a context whose actor lacks the dpo role (DPORL)', async () => {
    await expectSqlState(db.as('compliance_dpo', { actor: 'user:mallory', roles: [] }, (tx) => tx`select 1`), 'DPORL');
    await expectSqlState(db.as('compliance_dpo', { actor: 'user:mallory', roles: ['auditor'] }, (tx) => tx`select 1`), 'DPORL');
    const [ok] = await db.as('compliance_dpo', dpo, (tx) => tx`select compliance.current_actor() as actor`);
    expect(ok!.actor).toBe('dpo:dana');
  });
});

describe('a DPO reading a conversation', () => {
  it('leaves a row; the subject reading their own does not', async () => {
    const [conversation] = await db.as('compliance_app', { actor: 'user:talker' }, async (tx) => {
      await tx`select compliance.ensure_profile('user:talker')`;
      const rows = await tx`select conversation_id from compliance.start_conversation('user:talker', 'private')`;
      await tx`select compliance.add_message(${rows[0]!.conversation_id}, 'user', 'hello')`;
      return rows;
    });
    const id = conversation!.conversation_id as string;
    const reads = async () => (await db.admin`select count(*)::int as n from compliance.audit_logs where action = 'subject.messages_read' and resource_id = ${id}`)[0]!.n;
    await db.as('compliance_app', { actor: 'user:talker' }, (tx) => tx`select * from compliance.conversation_messages(${id})`);
    expect(await reads()).toBe(0);
    const seen = await db.as('compliance_dpo', dpo, (tx) => tx`select * from compliance.conversation_messages(${id})`);
    expect(seen).toHaveLength(1);
    expect(await reads()).toBe(1);
  });
});
