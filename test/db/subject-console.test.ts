/**
 * What the DPO console and the privacy center read about one subject: the access log with or
 * without the subject's own reads, the DPO's view of it, and the overview of what is held, each
 * audited and each closed to the roles that may not read it.
 */
import { describe, expect, it } from 'vitest';
import { expectSqlState, useTestDatabase } from '../provision/database.js';
import { patientWithRecord } from '../provision/patients.js';

const db = useTestDatabase();
const dpo = { actor: 'dpo:dana', roles: ['dpo'] };
const asDpo = (fn: (tx: any) => Promise<unknown>) => db.as('compliance_dpo', dpo, fn) as Promise<any[]>;

const patientWhoReadsTheirRecords = (userId: string) => patientWithRecord(db, userId, { alsoReads: true });

describe('a subject\'s access log', () => {
  it('lists the subject\'s own reads unless others_only, and the DPO sees the same, audited as subject.access_log_read', async () => {
    await patientWhoReadsTheirRecords('user:ola');
    await asDpo((tx) => tx`select compliance.place_legal_hold('user:ola', 'tax audit')`);
    const mine = await db.as('compliance_app', { actor: 'user:ola' }, (tx) => tx`select actor_id, action from compliance.phi_access_log()`) as any[];
    expect(mine.some((e) => e.actor_id === 'user:ola' && e.action.startsWith('phi.'))).toBe(true);
    expect(mine.some((e) => e.actor_id === 'dpo:dana')).toBe(true);
    const others = await db.as('compliance_app', { actor: 'user:ola' }, (tx) => tx`select actor_id from compliance.phi_access_log(others_only => true)`) as any[];
    expect(others.length).toBeGreaterThan(0);
    expect(others.every((e) => e.actor_id !== 'user:ola')).toBe(true);

    const seen = await asDpo((tx) => tx`select actor_id, action from compliance.subject_access_log('user:ola')`);
    expect(seen.map((e) => e.action)).toEqual(mine.map((e) => e.action));
    const [audited] = await db.admin`select actor_id, details from compliance.audit_logs where action = 'subject.access_log_read' and user_id = 'user:ola'`;
    expect(audited).toMatchObject({ actor_id: 'dpo:dana', details: { procedure: 'subject_access_log', rows: mine.length } });
    await expectSqlState(asDpo((tx) => tx`select * from compliance.subject_access_log('user:nobody')`), 'UNKSJ');
    await expectSqlState(db.as('compliance_app', { actor: 'user:ola' }, (tx) => tx`select * from compliance.subject_access_log('user:ola')`), '42501');
  });
});

describe('a subject\'s overview', () => {
  it('counts each section, lists requests and holds (released ones too), and is audited as subject.viewed', async () => {
    await patientWhoReadsTheirRecords('user:pim');
    await db.as('compliance_app', { actor: 'user:pim' }, async (tx) => {
      await tx`select compliance.record_consent('user:pim', 'analytics', true, null)`;
      await tx`select compliance.set_preferences('user:pim', '{"theme": "dark", "language": "de"}', true)`;
    });
    await asDpo(async (tx) => {
      await tx`select compliance.register_dsr('user:pim', 'access', 'by letter')`;
      await tx`select compliance.place_legal_hold('user:pim', 'litigation')`;
      await tx`select compliance.release_legal_hold('user:pim')`;
    });
    const [row] = await asDpo((tx) => tx`select compliance.subject_overview('user:pim') as o`);
    const overview = row!.o;
    expect(overview.sections).toMatchObject({ profile: 1, preferences: 2, consents: 1, health_records: 1, conversations: 0 });
    expect(overview.requests).toMatchObject([{ kind: 'access', status: 'received', notes: 'by letter' }]);
    expect(overview.holds).toMatchObject([{ reason: 'litigation', placed_by: 'dpo:dana', released_by: 'dpo:dana' }]);
    expect(await db.admin`select 1 from compliance.audit_logs where action = 'subject.viewed' and user_id = 'user:pim' and actor_id = 'dpo:dana'`).toHaveLength(1);
    await expectSqlState(asDpo((tx) => tx`select compliance.subject_overview('user:nobody')`), 'UNKSJ');
    await expectSqlState(db.as('compliance_app', { actor: 'user:pim' }, (tx) => tx`select compliance.subject_overview('user:pim')`), '42501');
    // the action is pgcomply's own: an application cannot write a forged one
    await expectSqlState(db.as('compliance_app', { actor: 'user:pim' }, (tx) => tx`select compliance.log_event('subject.viewed', 'gdpr')`), 'RSRVD');
  });
});
