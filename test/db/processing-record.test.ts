/**
 * The record of processing activities (GDPR Art. 30): the DPO keeps it through audited routines,
 * and the processing_record check fails on each gap an authority would find.
 */
import { describe, expect, it } from 'vitest';
import { expectSqlState, useTestDatabase } from '../provision/database.js';

const db = useTestDatabase();
const dpo = { actor: 'dpo:dana', roles: ['dpo'] };
const asDpo = (work: (tx: any) => Promise<any>): Promise<any> => db.as('compliance_dpo', dpo, work);

const check = async () => {
  const [row] = await db.admin`select * from compliance_private.check_processing_record('{}')`;
  return row as { status: string; measured: { gaps: { gap: string; subject: string }[] }; detail: string };
};

async function profile(userId: string) {
  await db.as('compliance_app', { actor: userId, roles: [] }, (tx) => tx`select compliance.ensure_profile(${userId}, null, null, null)`);
}

/** the fixture: a mailer in the US under SCCs, the product's tables in one activity */
async function recordFixture() {
  await asDpo(async (tx) => {
    await tx`select compliance.record_processing_system('mailer', 'Mailer Inc.', 'processor', 'US', 'DPA-2026-7', 'manual')`;
    await tx`select compliance.record_processing_activity('marketing', 'Newsletter',
      ${JSON.stringify([{ purpose: 'Sending the newsletter', legal_basis: 'consent', consent_purpose: 'marketing', direct_marketing: true }])}::text::jsonb,
      array['compliance.user_profiles', 'compliance.user_preferences'],
      ${JSON.stringify([{ system: 'mailer', transfer_safeguard: 'standard_contractual_clauses' }])}::text::jsonb,
      subject_categories => array['customers'], retention => 'until consent is withdrawn')`;
  });
}

describe('the record of processing', () => {
  it('passes while only pgcomply\'s own records hold personal data, and fails once a table holding it is in no activity', async () => {
    expect((await check()).status).toBe('pass');
    await profile('user:ada');
    const failing = await check();
    expect(failing.status).toBe('fail');
    expect(failing.measured.gaps).toContainEqual(expect.objectContaining({ gap: 'table_in_no_activity', subject: 'compliance.user_profiles' }));
    await recordFixture();
    const passing = await check();
    expect(passing.detail).not.toContain('user_profiles holds');
    expect(passing.status).toBe('pass');
  });

  it('fails on an activity without a legal basis, a consent purpose without a consent, and a transfer without a safeguard', async () => {
    await profile('user:bo');
    await recordFixture();
    await asDpo(async (tx) => {
      await tx`select compliance.record_processing_activity('support', 'Support', ${JSON.stringify([{ purpose: 'Answering questions' }])}::text::jsonb)`;
      await tx`select compliance.record_processing_activity('analytics', 'Analytics', ${JSON.stringify([{ purpose: 'Usage statistics', legal_basis: 'consent' }])}::text::jsonb,
        recipients => ${JSON.stringify([{ system: 'mailer' }])}::text::jsonb)`;
    });
    const gaps = (await check()).measured.gaps.map((g) => `${g.gap}:${g.subject}`);
    expect(gaps).toEqual(expect.arrayContaining(['no_legal_basis:support', 'consent_without_purpose:Usage statistics', 'transfer_without_safeguard:mailer']));
    // a recipient inside the EEA is no transfer
    await asDpo((tx) => tx`select compliance.record_processing_system('mailer', 'Mailer GmbH', 'processor', 'DE')`);
    expect((await check()).measured.gaps.map((g) => g.gap)).not.toContain('transfer_without_safeguard');
  });

  it("is one JSON document naming each activity's purposes, bases, tables with their categories, recipients and transfers", async () => {
    await recordFixture();
    const [{ record }] = await asDpo((tx) => tx`select compliance.processing_record() as record`);
    const marketing = record.activities.find((a: any) => a.activity === 'marketing');
    expect(marketing).toMatchObject({
      purposes: [{ legal_basis: 'consent', consent_purpose: 'marketing', direct_marketing: true }],
      data: expect.arrayContaining([{ table: 'compliance.user_profiles', categories: ['contact', 'identifier'] }]),
      recipients: [{ system: 'mailer', country: 'US', third_country: true, transfer_safeguard: 'standard_contractual_clauses', dpa_reference: 'DPA-2026-7' }],
    });
    expect(record.activities.map((a: any) => a.activity)).toContain('pgcomply_records');
  });

  it('audits every change, and refuses what is not valid (BADRG), unknown (PRACT, PRSYS) or in use (PRUSE)', async () => {
    const [{ before }] = (await db.admin`select coalesce(max(id), 0) as before from compliance.audit_logs`) as any;
    await recordFixture();
    const actions = await db.admin`select action, resource_id from compliance.audit_logs where action like 'processing_record.%' and id > ${before} order by id`;
    expect(actions.map((a) => `${a.action}:${a.resource_id}`)).toEqual(['processing_record.system_recorded:mailer', 'processing_record.activity_recorded:marketing']);
    await expectSqlState(asDpo((tx) => tx`select compliance.record_processing_system('x', 'X', 'cloud', 'US')`), 'BADRG');
    await expectSqlState(asDpo((tx) => tx`select compliance.record_processing_system('hook', 'Hook', 'other', 'DE', connector => 'webhook')`), 'BADRG');
    await expectSqlState(asDpo((tx) => tx`select compliance.record_processing_activity('x', 'X', ${JSON.stringify([{ purpose: 'p', legal_basis: 'whim' }])}::text::jsonb)`), 'BADRG');
    await expectSqlState(asDpo((tx) => tx`select compliance.record_processing_activity('x', 'X', '[]', recipients => ${JSON.stringify([{ system: 'nobody' }])}::text::jsonb)`), 'BADRG');
    await expectSqlState(asDpo((tx) => tx`select compliance.remove_processing_activity('nothing')`), 'PRACT');
    await expectSqlState(asDpo((tx) => tx`select compliance.remove_processing_system('nothing')`), 'PRSYS');
    await expectSqlState(asDpo((tx) => tx`select compliance.remove_processing_system('mailer')`), 'PRUSE');
    const [{ count }] = (await db.admin`select count(*)::int from compliance.processing_activities where activity = 'x'`) as any;
    expect(count).toBe(0);
  });

  it('is changed by the DPO alone: the app and the auditor may not record an activity, and the app reads none of it', async () => {
    await expect(db.as('compliance_app', { actor: 'user:cy', roles: [] }, (tx) => tx`select compliance.record_processing_activity('x', 'X', '[]')`)).rejects.toThrow(/permission denied/);
    await expect(db.as('compliance_auditor', { actor: 'auditor:al', roles: ['auditor'] }, (tx) => tx`select compliance.record_processing_system('x', 'X', 'other', 'DE')`)).rejects.toThrow(/permission denied/);
    await expect(db.as('compliance_app', { actor: 'user:cy', roles: [] }, (tx) => tx`select * from compliance.processing_systems`)).rejects.toThrow(/permission denied/);
  });
});

describe('the dsr_propagation check', () => {
  it('fails dsr_propagation on a request to another system unconfirmed past its deadline', async () => {
    // the other tests' mailer receives no requests here
    await asDpo((tx) => tx`select compliance.record_processing_system('mailer', 'Mailer GmbH', 'processor', 'DE', connector => 'none')`);
    const [before] = (await db.admin`select * from compliance_private.check_dsr_propagation('{}')`) as any;
    expect(before.status).toBe('not_applicable');
    await profile('user:dp1');
    await asDpo(async (tx) => {
      await tx`select compliance.record_processing_system('crm', 'CRM', 'processor', 'FR', connector => 'manual', request_kinds => array['export'], confirm_within => interval '1 day')`;
      await tx`select compliance.export_subject('user:dp1', 'access')`;
    });
    const [open] = (await db.admin`select * from compliance_private.check_dsr_propagation('{}')`) as any;
    expect([open.status, open.measured.open_tasks]).toEqual(['pass', 1]);
    await db.admin`update compliance.propagation_tasks set due_at = now() - interval '1 minute' where system = 'crm'`;
    const [late] = (await db.admin`select * from compliance_private.check_dsr_propagation('{}')`) as any;
    expect(late.status).toBe('fail');
    expect(late.detail).toMatch(/task \d+ \(export to crm, due /);
  });
});
