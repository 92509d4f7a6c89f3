import { beforeAll, describe, expect, it } from 'vitest';
import { expectSqlState, useTestDatabase, type GroupRole } from '../provision/database.js';

const db = useTestDatabase();
const carol = { actor: 'user:carol', ip: '192.0.2.44', userAgent: 'consent-agent/1.0' };

beforeAll(async () => {
  for (const actor of ['user:carol', 'user:dan']) {
    await db.as('compliance_app', { actor }, (tx) => tx`select compliance.ensure_profile(${actor})`);
  }
});

describe('consent history', () => {
  it('keeps grant, withdrawal and re-grant in order, and the current state follows', async () => {
    const steps = [true, false, true];
    for (const [n, granted] of steps.entries()) {
      await db.as('compliance_app', carol, (tx) => tx`select compliance.record_consent('user:carol', 'marketing', ${granted}, ${`v${n + 1}`})`);
      const [state] = await db.as('compliance_app', carol, (tx) => tx`select compliance.has_consent('user:carol', 'marketing') as has`);
      expect(state!.has).toBe(granted);
      const [current] = await db.as('compliance_app', carol, (tx) => tx`select granted, policy_version from compliance.current_consents where purpose = 'marketing'`);
      expect(current).toEqual({ granted, policy_version: `v${n + 1}` });
    }
    const history = await db.as('compliance_app', carol, (tx) => tx`select granted, policy_version, host(ip_address) as ip, user_agent, source from compliance.consent_history('user:carol') where purpose = 'marketing'`);
    expect(history).toEqual([
      { granted: true, policy_version: 'v1', ip: '192.0.2.44', user_agent: 'consent-agent/1.0', source: 'api' },
      { granted: false, policy_version: 'v2', ip: '192.0.2.44', user_agent: 'consent-agent/1.0', source: 'api' },
      { granted: true, policy_version: 'v3', ip: '192.0.2.44', user_agent: 'consent-agent/1.0', source: 'api' },
    ]);
    const audit = await db.admin`select action from compliance.audit_logs where action like 'consent.%' and user_id = 'user:carol' order by id`;
    expect(audit.map((a) => a.action)).toEqual(['consent.granted', 'consent.withdrawn', 'consent.granted']);
  });

  it('is false for a purpose never consented to', async () => {
    const [state] = await db.as('compliance_app', carol, (tx) => tx`select compliance.has_consent('user:carol', 'profiling') as has`);
    expect(state!.has).toBe(false);
  });

  it('names the valid purposes when the purpose is unknown or inactive (PURPS)', async () => {
    const error = await db.as('compliance_app', carol, (tx) => tx`select compliance.record_consent('user:carol', 'telepathy', true, 'v1')`).catch((e: { code: string; message: string }) => e);
    expect(error).toMatchObject({ code: 'PURPS' });
    expect((error as { message: string }).message).toContain('analytics, marketing, profiling, third_party');
    await db.admin`insert into compliance.consent_purposes (purpose, description, legal_basis, active) values ('retired', 'old', 'consent', false)`;
    await expectSqlState(db.as('compliance_app', carol, (tx) => tx`select compliance.record_consent('user:carol', 'retired', true, 'v1')`), 'PURPS');
  });

  it('hides one subject\'s consents from another and refuses to write them', async () => {
    const rows = await db.as('compliance_app', { actor: 'user:dan' }, (tx) => tx`select * from compliance.current_consents`);
    expect(rows).toEqual([]);
    const [state] = await db.as('compliance_app', { actor: 'user:dan' }, (tx) => tx`select compliance.has_consent('user:carol', 'marketing') as has`);
    expect(state!.has).toBe(false);
    await expectSqlState(db.as('compliance_app', { actor: 'user:dan' }, (tx) => tx`select compliance.record_consent('user:carol', 'marketing', false, 'v9')`), 'UNKSJ');
  });
});

describe('append-only consent records', () => {
  const roles: GroupRole[] = ['compliance_app', 'compliance_worker', 'compliance_auditor', 'compliance_dpo'];
  for (const role of roles) {
    it(`cannot be updated or deleted as ${role}`, async () => {
      for (const statement of ['update compliance.consent_records set granted = not granted', 'delete from compliance.consent_records']) {
        const context = role === 'compliance_dpo' ? { ...carol, roles: ['dpo'] } : carol;
        const error = await db.as(role, context, (tx) => tx.unsafe(statement)).catch((e: { code: string }) => e);
        expect(['42501', 'APPND']).toContain((error as { code?: string })?.code);
      }
    });
  }

  it('refuses the owner too (APPND)', async () => {
    await expectSqlState(db.as('compliance_owner', null, (tx) => tx`update compliance.consent_records set granted = false`), 'APPND');
    await expectSqlState(db.as('compliance_owner', null, (tx) => tx`delete from compliance.consent_records where user_id = 'user:carol'`), 'APPND');
    await expectSqlState(db.admin`truncate compliance.consent_records cascade`, 'APPND');
    const [count] = await db.admin`select count(*)::int as n from compliance.consent_records where user_id = 'user:carol'`;
    expect(count!.n).toBe(3);
  });
});

describe('has_consent cost', () => {
  it('answers from the index for a subject with 1,000 consent records', async () => {
    // rows as one multi-row VALUES, as an application loads them: on Citus an INSERT … SELECT is
    // a COPY, which row-level security refuses
    const purposes = ['analytics', 'marketing', 'third_party', 'profiling'];
    const rows = Array.from({ length: 1000 }, (_, i) => ({ user_id: 'user:dan', purpose: purposes[(i + 1) % 4]!, granted: (i + 1) % 3 === 0, policy_version: `v${i + 1}` }));
    await db.as('compliance_app', { actor: 'user:dan' }, (tx) => tx`
      insert into compliance.consent_records ${tx(rows, 'user_id', 'purpose', 'granted', 'policy_version')}`);
    await db.admin`analyze compliance.consent_records`;
    const body = await db.admin`select prosrc from pg_proc where proname = 'has_consent'`;
    // the function's one query, with the arguments in place
    const [, rest] = /select c\.granted into v_granted([^;]*);/.exec(String(body[0]!.prosrc))!;
    const query = `select c.granted ${rest}`.replace(/has_consent\.user_id/g, `'user:dan'`).replace(/has_consent\.purpose/g, `'analytics'`);
    const [plan] = await db.as('compliance_app', { actor: 'user:dan' }, (tx) => tx.unsafe(`explain (format json) ${query}`));
    const text = JSON.stringify(plan);
    expect(text).not.toContain('Seq Scan');
    expect(text).toContain('consent_records_current_idx');
  });
});

describe('consent export for a DPO', () => {
  it('pages through the records of a time range', async () => {
    const first = await db.as('compliance_dpo', { actor: 'dpo:x', roles: ['dpo'] }, (tx) => tx`select id from compliance.consent_records_between(now() - interval '1 hour', now() + interval '1 hour', 0, 500)`);
    expect(first).toHaveLength(500);
    const rest = await db.as('compliance_dpo', { actor: 'dpo:x', roles: ['dpo'] }, (tx) => tx`select id from compliance.consent_records_between(now() - interval '1 hour', now() + interval '1 hour', ${first.at(-1)!.id}, 5000)`);
    expect(rest.length).toBe(1003 - 500);
    expect(new Set([...first, ...rest].map((r) => r.id)).size).toBe(1003);
  });
});

describe('proof of consent after erasure', () => {
  const dpo = { actor: 'dpo:dana', roles: ['dpo'] };
  const erase = (userId: string) => db.as('compliance_dpo', dpo, (tx) => tx`select compliance.erase_subject(${userId}, 'Art. 17', true) as r`);
  async function consenting(userId: string) {
    await db.as('compliance_app', { actor: userId, ip: '198.51.100.77', userAgent: `agent-of-${userId}` }, async (tx) => {
      await tx`select compliance.ensure_profile(${userId})`;
      await tx`select compliance.record_consent(${userId}, 'analytics', true, '3.1')`;
      await tx`select compliance.record_consent(${userId}, 'analytics', false, '3.1')`;
    });
  }

  it('keeps the erased person\'s consents as proof under the tombstone\'s digest, naming no one, found again by the id they give', async () => {
    await consenting('user:proof1');
    const [erased] = await erase('user:proof1');
    expect(erased!.r.deleted).toMatchObject({ consent_records: 2, consent_proofs_kept: 2 });
    const proofs = await db.as('compliance_dpo', dpo, (tx) => tx`select * from compliance.erased_consent_proof('user:proof1')`);
    expect(proofs.map((p) => [p.purpose, p.granted, p.policy_version, p.source])).toEqual([['analytics', true, '3.1', 'api'], ['analytics', false, '3.1', 'api']]);
    const [tombstone] = await db.admin`select count(*)::int as n from compliance_private.erased_subjects e
                                        where e.subject_digest = ${proofs[0]!.subject_digest}`;
    expect(tombstone!.n).toBe(1);
    const everything = JSON.stringify(await db.admin`select * from compliance.erased_consent_proofs`);
    for (const identifying of ['user:proof1', 'proof1', '198.51.100.77', 'agent-of-user:proof1']) expect(everything).not.toContain(identifying);
    // an auditor reads them, the app role does not
    expect(await db.as('compliance_auditor', null, (tx) => tx`select 1 from compliance.erased_consent_proofs`)).toHaveLength(2);
    await expectSqlState(db.as('compliance_app', { actor: 'user:x' }, (tx) => tx`select 1 from compliance.erased_consent_proofs`), '42501');
  });

  it('keeps none once the DPO turns it off, and lets retention delete the proofs with the consent records\' period', async () => {
    await db.as('compliance_dpo', dpo, (tx) => tx`select compliance.keep_consent_proof_after_erasure(false)`);
    await consenting('user:proof2');
    const [erased] = await erase('user:proof2');
    expect(erased!.r.deleted.consent_proofs_kept).toBeUndefined();
    expect(await db.as('compliance_dpo', dpo, (tx) => tx`select 1 from compliance.erased_consent_proof('user:proof2')`)).toHaveLength(0);
    await db.as('compliance_dpo', dpo, (tx) => tx`select compliance.keep_consent_proof_after_erasure(true)`);
    const [set] = await db.admin`select count(*)::int as n from compliance.audit_logs where action = 'consent.proof_after_erasure_set'`;
    expect(set!.n).toBe(2);

    // eight years on, the consent records' seven are over: the proofs go
    await db.as('compliance_owner', null, (tx) => tx`insert into compliance_private.clock_override (frozen_at) values (now() + interval '8 years')
      on conflict (singleton) do update set frozen_at = excluded.frozen_at`);
    try {
      const [run] = await db.as('compliance_worker', null, (tx) => tx`select compliance.apply_retention('consent_records', 1000, false) as r`);
      expect(run!.r.erased_consent_proofs_deleted).toBeGreaterThanOrEqual(2);
      expect(await db.admin`select 1 from compliance.erased_consent_proofs`).toHaveLength(0);
    } finally {
      await db.as('compliance_owner', null, (tx) => tx`delete from compliance_private.clock_override`);
    }
  });
});
