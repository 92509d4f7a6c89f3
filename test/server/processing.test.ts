/**
 * The record of processing and enforced purposes over the API: the DPO records the fixture's
 * activities and systems, downloads the record as JSON, CSV and an HTML page that opens in headless
 * Chromium with no console error; a subject's withdrawal, objection and a restriction each take
 * the subject off the marketing list at once.
 */
import { describe, expect, it } from 'vitest';
import { useServer } from './harness.js';
import { openInChromium } from '../provision/chromium.js';

const api = useServer();

async function recordFixture(dpo: string) {
  const calls = [
    api.call('POST', '/api/v1/dpo/processing-systems', dpo, { system: 'mailer', name: 'Mailer Inc.', kind: 'processor', country: 'US', dpa_reference: 'DPA-2026-7' }),
    api.call('POST', '/api/v1/dpo/processing-systems', dpo, { system: 'idp', name: 'Identity provider', kind: 'identity_provider', country: 'DE', connector: 'none' }),
  ];
  for (const call of await Promise.all(calls)) expect(call.status, call.text).toBe(200);
  const activities = [
    { activity: 'marketing', name: 'Newsletter', purposes: [{ purpose: 'Sending the newsletter', legal_basis: 'consent', consent_purpose: 'marketing', direct_marketing: true }],
      tables: ['compliance.user_profiles'], recipients: [{ system: 'mailer', transfer_safeguard: 'standard_contractual_clauses' }], subject_categories: ['customers'] },
    { activity: 'accounts', name: 'Running the account', purposes: [{ purpose: 'Providing the service', legal_basis: 'contract' }],
      tables: ['compliance.user_profiles', 'compliance.user_preferences', 'compliance.sessions', 'compliance.conversations', 'compliance.messages', 'compliance.health_records'],
      recipients: [{ system: 'idp' }], retention: 'until the account is erased' },
  ];
  for (const activity of activities) {
    const recorded = await api.call('POST', '/api/v1/dpo/processing-activities', dpo, activity);
    expect(recorded.status, recorded.text).toBe(200);
  }
}

describe('the record of processing over the API', () => {
  it('is JSON, CSV and a self-contained HTML page that opens in Chromium with no console error', async () => {
    const dpo = await api.token('dpo:dana', ['dpo']);
    const subject = await api.token('user:rp1');
    expect((await api.call('POST', '/api/v1/users/me/consent', subject, { consent_type: 'marketing', granted: true })).status).toBe(200);
    await recordFixture(dpo);

    const json = await api.call('GET', '/api/v1/dpo/processing-record', dpo);
    expect(json.status, json.text).toBe(200);
    expect(json.json.gaps).toEqual([]);
    expect(json.json.activities.map((a: { activity: string }) => a.activity)).toEqual(['accounts', 'marketing', 'pgcomply_records']);

    const csv = await api.call('GET', '/api/v1/dpo/processing-record?format=csv', dpo);
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(csv.headers.get('content-disposition')).toMatch(/^attachment; filename="record_of_processing_\d{4}-\d{2}-\d{2}\.csv"$/);
    expect(csv.text.split('\r\n')[0]).toBe('activity,name,role,purpose,legal_basis,consent_purpose,direct_marketing,subject_categories,data,recipients,retention,security_measures,gap');
    expect(csv.text).toContain('marketing,Newsletter,controller,Sending the newsletter,consent,marketing,true,customers');
    expect(csv.text).toContain('Mailer Inc. [US, third country: standard_contractual_clauses]');

    const page = await openInChromium(`${api.baseUrl}/api/v1/dpo/processing-record?format=html`, 'processing-record', { authorization: `Bearer ${dpo}` });
    expect(page.status).toBe(200);
    expect(page.consoleErrors).toEqual([]);
    expect(page.failed).toEqual([]);
    expect(page.requests).toHaveLength(1);
    expect(page.title).toBe('Record of processing activities');
    expect(page.text).toContain('Consent (Art. 6(1)(a))');
    expect(page.text).toContain('transfer to a third country: standard contractual clauses (Art. 46(2)(c))');
    expect(page.pdfBytes).toBeGreaterThan(1000);
  });

  it('names its gaps on the page, and is the DPO\'s and the auditor\'s only (403 for a subject)', async () => {
    const dpo = await api.token('dpo:dana', ['dpo']);
    await recordFixture(dpo);
    expect((await api.call('POST', '/api/v1/dpo/processing-activities', dpo, { activity: 'support', name: 'Support', purposes: [{ purpose: 'Answering questions' }] })).status).toBe(200);
    const html = await api.call('GET', '/api/v1/dpo/processing-record?format=html', await api.token('auditor:al', ['auditor']));
    expect(html.status).toBe(200);
    expect(html.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(html.text).toContain('activity support has a purpose without a legal basis');
    expect((await api.call('GET', '/api/v1/dpo/processing-record', await api.token('user:rp2'))).status).toBe(403);
    expect((await api.call('POST', '/api/v1/dpo/processing-activities', dpo, { activity: 'Bad Key', name: 'x', purposes: [] })).status).toBe(400);
    const unknown = await api.call('DELETE', '/api/v1/dpo/processing-activities/nothing', dpo);
    expect([unknown.status, unknown.json.message]).toEqual([404, expect.stringContaining('no processing activity')]);
  });
});

describe('enforced purposes over the API', () => {
  const marketingList = async (dpo: string) => (await api.call('GET', '/api/v1/dpo/processing-activities/marketing/permitted-subjects', dpo)).json.user_ids as string[];

  it('takes a subject off the marketing list at once on a withdrawal, an objection and a restriction, each audited', async () => {
    const dpo = await api.token('dpo:dana', ['dpo']);
    await recordFixture(dpo);
    const subjects = ['user:pm1', 'user:pm2', 'user:pm3'];
    for (const user of subjects) {
      expect((await api.call('POST', '/api/v1/users/me/consent', await api.token(user), { consent_type: 'marketing', granted: true })).status).toBe(200);
    }
    expect(await marketingList(dpo)).toEqual(expect.arrayContaining(subjects));

    await api.call('POST', '/api/v1/users/me/consent', await api.token('user:pm1'), { consent_type: 'marketing', granted: false });
    expect(await marketingList(dpo)).not.toContain('user:pm1');

    const pm2 = await api.token('user:pm2');
    const seen = await api.call('GET', '/api/v1/users/me/processing', pm2);
    expect(seen.json.activities.find((a: { activity: string }) => a.activity === 'marketing')).toMatchObject({ permitted: true, objection: 'available' });
    const objected = await api.call('POST', '/api/v1/users/me/objections', pm2, { activity: 'marketing' });
    expect([objected.status, objected.json?.in_effect]).toEqual([200, true]);
    expect(await marketingList(dpo)).not.toContain('user:pm2');
    const after = await api.call('GET', '/api/v1/users/me/processing', pm2);
    expect(after.json.activities.find((a: { activity: string }) => a.activity === 'marketing')).toMatchObject({ permitted: false, objection: 'in_effect' });
    const refused = await api.call('POST', '/api/v1/users/me/objections', pm2, { activity: 'accounts' });
    expect([refused.status, refused.json.message]).toEqual([400, expect.stringContaining('nothing to object to')]);

    const restricted = await api.call('POST', '/api/v1/dpo/subjects/user:pm3/restriction', dpo, { reason: 'accuracy contested' });
    expect(restricted.status, restricted.text).toBe(200);
    expect(await marketingList(dpo)).not.toContain('user:pm3');
    expect((await api.call('GET', '/api/v1/users/me/processing', await api.token('user:pm3'))).json.restricted).toBe(true);

    const audited = await api.db.admin`select user_id, action from compliance.audit_logs
      where user_id in ('user:pm1', 'user:pm2', 'user:pm3') and action in ('consent.withdrawn', 'processing.objected', 'processing.restricted') order by id`;
    expect(audited.map((r) => `${r.user_id} ${r.action}`)).toEqual(['user:pm1 consent.withdrawn', 'user:pm2 processing.objected', 'user:pm3 processing.restricted']);
  });
});
