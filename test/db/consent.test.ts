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
    await db.as('compliance_app', { actor: 'user:dan' }, (tx) => tx`
      insert into compliance.consent_records (user_id, purpose, granted, policy_version)
      select 'user:dan', (array['analytics', 'marketing', 'third_party', 'profiling'])[1 + n % 4], n % 3 = 0, 'v' || n
        from generate_series(1, 1000) n`);
    await db.admin`analyze compliance.consent_records`;
    const body = await db.admin`select prosrc from pg_proc where proname = 'has_consent'`;
    const query = String(body[0]!.prosrc).replace(/has_consent\.user_id/g, `'user:dan'`).replace(/has_consent\.purpose/g, `'analytics'`);
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
