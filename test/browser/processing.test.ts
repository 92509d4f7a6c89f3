/**
 * Purposes and the record of processing in Chromium: a subject reads how their data is used, in
 * words meant for them and in their language, objects to the newsletter (it stops at once) and to
 * fraud checks (the DPO decides); the DPO reads the record's gaps, records an activity through the
 * console, and confirms by hand a request a manual system carried out. Every view is scanned with
 * axe-core; no console error.
 */
import { describe, expect, it } from 'vitest';
import { useServer } from '../server/harness.js';
import { screenshotTo, signIn, useBrowser } from './browser.js';
import { translator } from './language.js';

const api = useServer({ web: {} });
const browser = useBrowser(() => api.baseUrl);

async function recordActivities(dpo: string) {
  const activities = [
    { activity: 'newsletter', name: 'Newsletter', description: 'A monthly e-mail about new features.',
      purposes: [{ purpose: 'Sending the newsletter', legal_basis: 'consent', consent_purpose: 'marketing', direct_marketing: true }], tables: ['compliance.user_profiles'] },
    { activity: 'fraud_checks', name: 'Fraud checks', purposes: [{ purpose: 'Preventing payment fraud', legal_basis: 'legitimate_interest' }], tables: ['compliance.user_profiles'] },
    { activity: 'accounts', name: 'Your account', purposes: [{ purpose: 'Providing the service', legal_basis: 'contract' }], tables: ['compliance.user_profiles'] },
  ];
  for (const activity of activities) expect((await api.call('POST', '/api/v1/dpo/processing-activities', dpo, activity)).status).toBe(200);
}

describe('how your data is used', () => {
  it('shows a subject each activity with its basis, and stops the newsletter on their objection at once', async () => {
    const dpo = await api.token('dpo:dora', ['dpo']);
    await recordActivities(dpo);
    const token = await api.token('user:ola');
    expect((await api.call('POST', '/api/v1/users/me/consent', token, { consent_type: 'marketing', granted: true })).status).toBe(200);

    const visit = await browser.open('/', { name: 'privacy-processing' });
    const { page } = visit;
    await signIn(page, 'user:ola');
    const section = page.getByRole('region', { name: 'How we use your data' });
    const newsletter = section.getByRole('listitem').filter({ has: page.getByRole('heading', { name: 'Newsletter' }) });
    await newsletter.getByText('Sending the newsletter: because you agreed').waitFor();
    await newsletter.getByText('It may use your data now.').waitFor();
    const account = section.getByRole('listitem').filter({ has: page.getByRole('heading', { name: 'Your account' }) });
    await account.getByText('You cannot object to this one').waitFor();
    await visit.expectAccessible('how your data is used');
    await screenshotTo(page, 'privacy-processing.png');

    await newsletter.getByRole('button', { name: 'Object to “Newsletter”' }).click();
    await newsletter.getByText('You objected, so this no longer uses your data.').waitFor();
    await newsletter.getByText('It does not use your data now.').waitFor();
    const list = await api.call('GET', '/api/v1/dpo/processing-activities/newsletter/permitted-subjects', dpo);
    expect(list.json.user_ids).not.toContain('user:ola');

    const fraud = section.getByRole('listitem').filter({ has: page.getByRole('heading', { name: 'Fraud checks' }) });
    await fraud.getByRole('button', { name: 'Object to “Fraud checks”' }).click();
    await fraud.getByText('The data protection officer is checking').waitFor();
    await visit.expectAccessible('after objecting');
    visit.expectClean();
  });

  it('speaks German to a German reader', async () => {
    const dpo = await api.token('dpo:dora', ['dpo']);
    await recordActivities(dpo);
    await api.call('POST', '/api/v1/users/me/consent', await api.token('user:uwe'), { consent_type: 'marketing', granted: true });
    const t = translator('de');
    const visit = await browser.open('/', { name: 'privacy-processing-de', language: 'de' });
    await signIn(visit.page, 'user:uwe', [], 'de');
    const section = visit.page.getByRole('region', { name: t('processing.title') });
    await section.getByText('weil Sie eingewilligt haben', { exact: false }).first().waitFor();
    await section.getByRole('button', { name: 'Widerspruch gegen „Newsletter“' }).waitFor();
    await visit.expectAccessible('Wie wir Ihre Daten verwenden');
    visit.expectClean();
  });
});

describe('the record of processing in the DPO console', () => {
  it('names the gaps, records an activity, and confirms a manual system\'s erasure by hand', async () => {
    const dpo = await api.token('dpo:dora', ['dpo']);
    expect((await api.call('POST', '/api/v1/dpo/processing-systems', dpo, { system: 'crm', name: 'Sales CRM', kind: 'processor', country: 'FR', connector: 'manual' })).status).toBe(200);
    const leaving = await api.token('user:leo');
    await api.call('PATCH', '/api/v1/users/me', leaving, { full_name: 'Leo' });
    const erased = await api.call('DELETE', '/api/v1/users/me?confirm=true', leaving);
    expect(erased.json.receipt.other_systems).toEqual([expect.objectContaining({ name: 'Sales CRM', state: 'awaiting_confirmation' })]);
    await api.token('user:kim').then((token) => api.call('PATCH', '/api/v1/users/me', token, { full_name: 'Kim' }));

    const visit = await browser.open('/', { name: 'dpo-processing' });
    const { page } = visit;
    await signIn(page, 'dpo:dora', ['dpo']);
    await page.getByRole('link', { name: 'DPO console' }).click();
    await page.getByRole('button', { name: 'Record of processing' }).click();
    // the sign-in made a session: the sessions table holds personal data no activity names
    await page.getByText('compliance.sessions holds personal data and no processing activity names it').waitFor();
    await visit.expectAccessible('record of processing');

    await page.getByLabel('Key').first().fill('accounts');
    await page.getByLabel('Name').first().fill('Running the account');
    await page.getByLabel(/^Purposes, one per line/).fill('Providing the service; contract');
    await page.getByLabel(/^Tables it uses/).fill('compliance.user_profiles, compliance.sessions');
    await page.getByRole('button', { name: 'Save the activity' }).click();
    await page.getByText('Saved accounts; the change is audited.').waitFor();
    await page.getByText('The record covers every table holding personal data').waitFor();

    const tasks = page.getByRole('table', { name: 'Requests other systems have not confirmed' });
    const row = tasks.getByRole('row').filter({ hasText: 'crm' });
    await row.getByRole('button', { name: 'Confirm by hand' }).click();
    await page.getByLabel('How did the system confirm?', { exact: false }).fill('CRM team confirmed by e-mail, ticket 4711');
    await page.getByRole('button', { name: 'Confirm by hand' }).click();
    await page.getByText('Every request sent to another system is confirmed.').waitFor();
    await screenshotTo(page, 'dpo-processing.png');
    const [request] = await api.db.admin`select status from compliance.dsr_requests where id = ${erased.json.receipt.dsr_request_id}`;
    expect(request!.status).toBe('completed');
    visit.expectClean();
  });
});
