/**
 * The breach register: deadlines computed from discovered_at and flagged at the right
 * instants (fixed timestamps), notifications recorded, every change audited, affected subjects
 * see the notice in their export and erasure reaches them, and the daily check flags what is due.
 */
import { describe, expect, it } from 'vitest';
import { expectSqlState, useTestDatabase } from '../provision/database.js';

const db = useTestDatabase();
const dpo = { actor: 'dpo:dana', roles: ['dpo'] };
const asDpo = (fn: (tx: any) => Promise<unknown>) => db.as('compliance_dpo', dpo, fn) as Promise<any[]>;

describe('the breach register', () => {
  it('computes each deadline and flags it at the right instants', async () => {
    const [breach] = await asDpo((tx) => tx`select * from compliance.open_breach('2026-10-01 09:00Z', 'laptop with an export stolen', '{profile,health_records}', 620)`);
    const at = async (instant: string) => (await asDpo((tx) => tx`select * from compliance.breach_deadlines(${instant}::timestamptz) where breach_id = ${breach.id}`))[0];
    expect(await at('2026-10-02 08:59:59Z')).toMatchObject({ authority: 'pending', individuals: 'pending', hhs_and_media_required: true });
    expect(await at('2026-10-03 09:00:00Z')).toMatchObject({ authority: 'due_within_24h', authority_hours_left: '24.0' });
    expect(await at('2026-10-04 08:59:59Z')).toMatchObject({ authority: 'due_within_24h' });
    expect(await at('2026-10-04 09:00:00Z')).toMatchObject({ authority: 'overdue', authority_hours_left: '0.0' });
    expect(await at('2026-11-29 09:00:00Z')).toMatchObject({ individuals: 'due_within_24h', hhs: 'due_within_24h' });
    expect(await at('2026-11-30 09:00:00Z')).toMatchObject({ individuals: 'overdue', hhs: 'overdue', media: 'overdue' });
    await asDpo((tx) => tx`select compliance.record_breach_notification(${breach.id}, 'authority', '2026-10-03 10:00Z')`);
    expect(await at('2026-10-05 00:00Z')).toMatchObject({ authority: 'notified' });
    const small = (await asDpo((tx) => tx`select * from compliance.open_breach('2026-10-01 09:00Z', 'mis-sent letter', '{profile}', 3)`))[0];
    // fewer than 500: no media, and HHS in the yearly log, 60 days after the calendar year ends (§164.408(c))
    const smallAt = async (instant: string) => (await asDpo((tx) => tx`select hhs, media, hhs_due_at from compliance.breach_deadlines(${instant}::timestamptz) where breach_id = ${small.id}`))[0];
    expect(await smallAt('2026-12-01Z')).toMatchObject({ hhs: 'pending', media: 'not_required', hhs_due_at: new Date('2027-03-02T00:00:00Z') });
    expect(await smallAt('2027-03-01 00:00:01Z')).toMatchObject({ hhs: 'due_within_24h' });
    expect(await smallAt('2027-03-02 00:00:00Z')).toMatchObject({ hhs: 'overdue', media: 'not_required' });
    // a leap year: the 60 days after 31 December 2023 end with 29 February 2024
    const leap = (await asDpo((tx) => tx`select * from compliance.open_breach('2023-12-31 23:00Z', 'lost folder', '{profile}', 7)`))[0];
    const [leapDue] = await asDpo((tx) => tx`select hhs_due_at from compliance.breach_deadlines('2024-01-01Z') where breach_id = ${leap.id}`);
    expect(leapDue.hhs_due_at).toEqual(new Date('2024-03-01T00:00:00Z'));
    await asDpo((tx) => tx`select compliance.record_breach_notification(${small.id}, 'hhs', '2026-12-01Z')`);
    expect(await smallAt('2027-06-01Z')).toMatchObject({ hhs: 'notified' });
  });

  it('audits every change, shows the notice to the affected, and loses them on erasure', async () => {
    await db.as('compliance_app', { actor: 'user:hit' }, (tx) => tx`select compliance.ensure_profile('user:hit')`);
    const [breach] = await asDpo((tx) => tx`select * from compliance.open_breach(now() - interval '1 hour', 'misconfigured bucket', '{profile}', 1, 'low', '{user:hit}')`);
    await asDpo((tx) => tx`select compliance.update_breach(${breach.id}, '{"status": "contained", "note": "bucket closed"}')`);
    await asDpo((tx) => tx`select compliance.record_breach_notification(${breach.id}, 'individuals')`);
    await asDpo((tx) => tx`select compliance.close_breach(${breach.id}, 'done')`);
    const actions = (await db.admin`select action from compliance.audit_logs where resource_type = 'breach' and resource_id = ${String(breach.id)} order by id`).map((r) => r.action);
    expect(actions).toEqual(['breach.opened', 'breach.updated', 'breach.notified', 'breach.closed']);
    const [exported] = await db.as('compliance_app', { actor: 'user:hit' }, (tx) => tx`select compliance.export_my_data('access') as d`);
    expect(exported!.d.breach_notices).toMatchObject([{ id: Number(breach.id), description: 'misconfigured bucket', status: 'closed' }]);
    await expectSqlState(asDpo((tx) => tx`select compliance.update_breach(${breach.id}, '{"colour": "red"}')`), 'BADFL');
    await expectSqlState(asDpo((tx) => tx`select compliance.record_breach_notification(${breach.id}, 'press')`), 'BADRG');
    await expectSqlState(asDpo((tx) => tx`select compliance.open_breach(now(), 'x', '{}', 1, null, '{user:nobody}')`), 'UNKSJ');
    const [receipt] = await asDpo((tx) => tx`select compliance.erase_subject('user:hit', 'asked', true) as r`);
    expect(receipt!.r.deleted.breach_subjects).toBe(1);
    expect((await db.admin`select affected_count from compliance.breaches where id = ${breach.id}`)[0]!.affected_count).toBe(1);
  });

  it('takes an assessment: judged not notifiable only with a reason (BRNNR), and then no deadline runs', async () => {
    const [breach] = await asDpo((tx) => tx`select * from compliance.open_breach('2026-10-01 09:00Z', 'encrypted laptop lost', '{health_records}', 40)`);
    const at = async () => (await asDpo((tx) => tx`select authority, individuals, hhs, media from compliance.breach_deadlines('2026-12-01Z') where breach_id = ${breach.id}`))[0];
    expect(await at()).toMatchObject({ authority: 'overdue', individuals: 'overdue' });
    await expectSqlState(asDpo((tx) => tx`select compliance.update_breach(${breach.id}, '{"notifiable": false}')`), 'BRNNR');
    await expectSqlState(asDpo((tx) => tx`select compliance.update_breach(${breach.id}, '{"notifiable": "no"}')`), 'BADRG');
    await expectSqlState(asDpo((tx) => tx`select compliance.update_breach(${breach.id}, '{"risk_factors": [""]}')`), 'BADRG');
    const [judged] = await asDpo((tx) => tx`select * from compliance.update_breach(${breach.id},
      '{"risk_factors": ["disk encrypted with AES-256", "key not on the laptop"], "notifiable": false, "not_notifiable_reason": "the data cannot be read without the key"}')`);
    expect(judged).toMatchObject({ notifiable: false, risk_factors: ['disk encrypted with AES-256', 'key not on the laptop'], not_notifiable_reason: 'the data cannot be read without the key' });
    expect(await at()).toEqual({ authority: 'not_required', individuals: 'not_required', hhs: 'not_required', media: 'not_required' });
    // judged notifiable after all: the reason goes, the deadlines run again
    const [again] = await asDpo((tx) => tx`select * from compliance.update_breach(${breach.id}, '{"notifiable": true}')`);
    expect(again).toMatchObject({ notifiable: true, not_notifiable_reason: null });
    expect(await at()).toMatchObject({ authority: 'overdue', individuals: 'overdue' });
    const [audited] = await db.admin`select details ->> 'notifiable' as notifiable, personal_details from compliance.audit_logs
                                      where action = 'breach.updated' and resource_id = ${String(breach.id)} order by id desc limit 1`;
    expect(audited!.notifiable).toBe('true');
  });

  it('fails the daily check while a notification is due within 24 hours or overdue', async () => {
    const check = async () => (await asDpo((tx) => tx`select status, measured from compliance.run_compliance_checks() where check_name = 'breach_deadlines'`))[0];
    await db.admin`delete from compliance.breaches`;
    expect((await check()).status).toBe('pass');
    const [breach] = await asDpo((tx) => tx`select * from compliance.open_breach(now() - interval '50 hours', 'phishing', '{profile}', 10)`);
    expect(await check()).toMatchObject({ status: 'fail', measured: { breaches_due: [{ authority: 'due_within_24h' }] } });
    await asDpo((tx) => tx`select compliance.record_breach_notification(${breach.id}, 'authority')`);
    expect((await check()).status).toBe('pass');
  });
});
