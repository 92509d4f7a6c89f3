/**
 * Purposes that are enforced: an activity may process a subject only as its legal bases allow,
 * and a withdrawal, an objection or a restriction changes that in the transaction that records it.
 */
import { describe, expect, it } from 'vitest';
import { expectSqlState, useTestDatabase } from '../provision/database.js';

const db = useTestDatabase();
const dpo = { actor: 'dpo:dana', roles: ['dpo'] };
const asDpo = (work: (tx: any) => Promise<any>): Promise<any> => db.as('compliance_dpo', dpo, work);
const asSubject = (userId: string, work: (tx: any) => Promise<any>): Promise<any> => db.as('compliance_app', { actor: userId, roles: [] }, work);

const purposes = (items: object[]) => JSON.stringify(items);

async function activities() {
  await asDpo(async (tx) => {
    await tx`select compliance.record_processing_activity('marketing', 'Newsletter',
      ${purposes([{ purpose: 'Newsletter', legal_basis: 'consent', consent_purpose: 'marketing', direct_marketing: true }])}::text::jsonb,
      array['compliance.user_profiles'])`;
    await tx`select compliance.record_processing_activity('fraud_checks', 'Fraud checks',
      ${purposes([{ purpose: 'Preventing fraud', legal_basis: 'legitimate_interest' }])}::text::jsonb, array['compliance.user_profiles'])`;
    await tx`select compliance.record_processing_activity('billing', 'Billing',
      ${purposes([{ purpose: 'Invoices', legal_basis: 'contract' }])}::text::jsonb, array['compliance.user_profiles'])`;
  });
}

async function subject(userId: string, consent: boolean) {
  await asSubject(userId, async (tx) => {
    await tx`select compliance.ensure_profile(${userId}, null, null, null)`;
    if (consent) await tx`select compliance.record_consent(${userId}, 'marketing', true, null)`;
  });
}

const permitted = async (activity: string) =>
  (await asDpo((tx) => tx`select user_id from compliance.permitted_subjects(${activity})`)).map((r: any) => r.user_id as string);

describe('permitted_subjects and processing_permitted', () => {
  it('follow consent: a withdrawal takes the subject off the marketing list in the same transaction', async () => {
    await activities();
    await subject('user:ann', true);
    await subject('user:ben', false);
    expect(await permitted('marketing')).toEqual(['user:ann']);
    await asSubject('user:ann', async (tx) => {
      await tx`select compliance.record_consent('user:ann', 'marketing', false, null)`;
      const [{ allowed }] = await tx`select compliance.processing_permitted('user:ann', 'marketing') as allowed`;
      expect(allowed).toBe(false);
    });
    expect(await permitted('marketing')).toEqual([]);
    const [row] = await db.admin`select action from compliance.audit_logs where user_id = 'user:ann' and action like 'consent.%' order by id desc limit 1`;
    expect(row!.action).toBe('consent.withdrawn');
  });

  it('stop direct marketing on an objection at once and for good, even with consent (Art. 21(3)), audited', async () => {
    await activities();
    await subject('user:cat', true);
    expect(await permitted('marketing')).toContain('user:cat');
    const [{ result }] = await asSubject('user:cat', (tx) => tx`select compliance.object_to_processing('user:cat', 'marketing', 'no more mail') as result`);
    expect(result).toMatchObject({ in_effect: true });
    expect(await permitted('marketing')).not.toContain('user:cat');
    const [audit] = await db.admin`select action, details from compliance.audit_logs where user_id = 'user:cat' and action = 'processing.objected'`;
    expect(audit!.details).toMatchObject({ activity: 'marketing' });
    const [request] = await db.admin`select kind, status, processing_activity from compliance.dsr_requests where id = ${result.request_id}`;
    expect(request).toMatchObject({ kind: 'objection', status: 'completed', processing_activity: 'marketing' });
  });

  it('stop legitimate interest on an objection only when the DPO completes the request (Art. 21(1))', async () => {
    await activities();
    await subject('user:dev', false);
    const [{ result }] = await asSubject('user:dev', (tx) => tx`select compliance.object_to_processing('user:dev', 'fraud_checks') as result`);
    expect(result).toMatchObject({ in_effect: false });
    expect(await permitted('fraud_checks')).toContain('user:dev');
    const [{ objection }] = await asSubject('user:dev', (tx) => tx`select objection from compliance.subject_processing('user:dev') where activity = 'fraud_checks'`);
    expect(objection).toBe('pending');
    await asDpo((tx) => tx`select compliance.complete_dsr(${result.request_id}, 'completed', 'no overriding grounds')`);
    expect(await permitted('fraud_checks')).not.toContain('user:dev');
    expect(await permitted('billing')).toContain('user:dev');
  });

  it('refuse an objection to processing on consent or contract (PRNOB), and one about someone else (OTHSJ)', async () => {
    await activities();
    await subject('user:eve', true);
    await subject('user:fay', true);
    await expectSqlState(asSubject('user:eve', (tx) => tx`select compliance.object_to_processing('user:eve', 'billing')`), 'PRNOB');
    await expectSqlState(asSubject('user:eve', (tx) => tx`select compliance.object_to_processing('user:fay', 'marketing')`), 'OTHSJ');
    await expectSqlState(asSubject('user:eve', (tx) => tx`select compliance.processing_permitted('user:fay', 'marketing')`), 'OTHSJ');
    await expectSqlState(asDpo((tx) => tx`select compliance.permitted_subjects('nothing')`), 'PRACT');
  });

  it('stop every activity on a restriction (Art. 18), which only the DPO lifts; a subject may withdraw its own objection', async () => {
    await activities();
    await subject('user:gus', true);
    const [request] = await asDpo((tx) => tx`select (compliance.restrict_processing('user:gus', 'accuracy contested')).status`);
    for (const activity of ['marketing', 'fraud_checks', 'billing']) expect(await permitted(activity)).not.toContain('user:gus');
    const [limit] = await db.admin`select id from compliance.processing_limits where user_id = 'user:gus' and kind = 'restriction'`;
    await expectSqlState(asSubject('user:gus', (tx) => tx`select compliance.lift_processing_limit(${limit!.id}, 'please')`), 'PRLIM');
    await asDpo((tx) => tx`select compliance.lift_processing_limit(${limit!.id}, 'accuracy verified; subject told')`);
    expect(await permitted('billing')).toContain('user:gus');
    await asSubject('user:gus', (tx) => tx`select compliance.object_to_processing('user:gus', 'marketing')`);
    const [objection] = await db.admin`select id from compliance.processing_limits where user_id = 'user:gus' and kind = 'objection' and lifted_at is null`;
    await asSubject('user:gus', (tx) => tx`select compliance.lift_processing_limit(${objection!.id}, 'I want the newsletter again')`);
    expect(await permitted('marketing')).toContain('user:gus');
    const actions = await db.admin`select action from compliance.audit_logs where user_id = 'user:gus' and action like 'processing.%' order by id`;
    expect(actions.map((a) => a.action)).toEqual(['processing.restricted', 'processing.limit_lifted', 'processing.objected', 'processing.limit_lifted']);
    expect(request.status).toBe('completed');
  });

  it('stop every activity when the DPO completes a restriction request, not before', async () => {
    await activities();
    await subject('user:ivy', true);
    const [request] = await asDpo((tx) => tx`select id from compliance.register_dsr('user:ivy', 'restriction', 'contests the accuracy of her address')`);
    expect(await permitted('billing')).toContain('user:ivy');
    const [done] = await asDpo((tx) => tx`select status from compliance.complete_dsr(${request.id}, 'completed', 'restricted while we check')`);
    expect(done.status).toBe('completed');
    for (const activity of ['marketing', 'fraud_checks', 'billing']) expect(await permitted(activity)).not.toContain('user:ivy');
    const [limit] = await db.admin`select request_id from compliance.processing_limits where user_id = 'user:ivy' and kind = 'restriction'`;
    expect(limit!.request_id).toBe(request.id);
  });

  it('are erased with the subject, and exported with it', async () => {
    await activities();
    await subject('user:hal', true);
    await asSubject('user:hal', (tx) => tx`select compliance.object_to_processing('user:hal', 'marketing')`);
    const [{ document }] = await asDpo((tx) => tx`select compliance.export_subject('user:hal', 'access') as document`);
    expect(document.objections_and_restrictions).toEqual([expect.objectContaining({ kind: 'objection', activity: 'marketing' })]);
    const [{ receipt }] = await asDpo((tx) => tx`select compliance.erase_subject('user:hal', 'Art. 17', true) as receipt`);
    expect(receipt.deleted.processing_limits).toBe(1);
    const [{ count }] = (await db.admin`select count(*)::int from compliance.processing_limits where user_id = 'user:hal'`) as any;
    expect(count).toBe(0);
  });
});
