/**
 * The privacy center in Chromium: a subject signs in (development sign-in), rectifies
 * the profile, grants and withdraws consent, downloads their data as JSON and CSV, sees who
 * accessed it (a DPO's export, a staff member's emergency access, marked), is refused erasure
 * under a legal hold with the reason explained, erases the account and gets the receipt; idle
 * logoff warns at 13 minutes and signs out at 15. Every page is scanned with axe-core.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { useServer } from '../server/harness.js';
import { screenshotTo, signIn, useBrowser } from './browser.js';

const api = useServer({ web: {} });
const browser = useBrowser(() => api.baseUrl);

async function seedSubject(subject: string) {
  const token = await api.token(subject);
  expect((await api.call('PATCH', '/api/v1/users/me', token, { full_name: 'Pia Example', email: 'pia@example.org' })).status).toBe(200);
  const conversation = await api.call('POST', '/api/v1/users/me/conversations', token, { title: 'Questions about my plan' });
  expect(conversation.status).toBe(200);
  const id = conversation.json.conversation_id as string;
  expect((await api.call('POST', `/api/v1/users/me/conversations/${id}/messages`, token, { role: 'user', content: 'Is my data safe?' })).status).toBe(200);
  expect((await api.call('POST', '/api/v1/users/me/health-records', token, { category: 'note', data: { text: 'blood pressure 120/80' } })).status).toBe(200);
  expect((await api.call('PUT', '/api/v1/users/me/preferences', token, { preferences: { newsletter_language: 'Esperanto' } })).status).toBe(200);
  return token;
}

describe('the privacy center', () => {
  it('shows a subject their data; rectify, consent, download, who accessed it', async () => {
    await seedSubject('user:pia');
    // a DPO exports Pia's data; a staff member breaks the glass and reads her records
    const dpo = await api.token('dpo:dora', ['dpo']);
    expect((await api.call('GET', '/api/v1/dpo/subjects/user%3Apia/export', dpo)).status).toBe(200);
    const staff = await api.token('staff:sam', ['staff']);
    expect((await api.call('POST', '/api/v1/staff/patients/user%3Apia/emergency-access', staff, { reason: 'unconscious patient in the emergency room' })).status).toBe(200);
    expect((await api.call('GET', '/api/v1/staff/patients/user%3Apia/health-records?purpose=emergency', staff)).status).toBe(200);

    const visit = await browser.open('/', { name: 'privacy-center' });
    const { page } = visit;
    await expect.poll(() => page.getByText('Development sign-in.').isVisible()).toBe(true);
    await visit.expectAccessible('sign-in');
    await signIn(page, 'user:pia');
    await page.getByRole('heading', { name: 'Your privacy center' }).waitFor();
    await page.getByText('blood pressure 120/80').waitFor();
    await page.getByText('newsletter_language').waitFor();
    await page.getByText('Esperanto').waitFor();
    await page.getByText('Questions about my plan').click();
    await page.getByText('Is my data safe?').waitFor();
    await visit.expectAccessible('privacy center');
    await screenshotTo(page, 'privacy-center.png');

    // rectify the profile inline
    await page.getByLabel('Full name').fill('Pia Exemplary');
    await page.getByRole('button', { name: 'Save profile' }).click();
    await page.getByText('Saved.').waitFor();
    const [profile] = await api.db.admin`select full_name from compliance.user_profiles where user_id = 'user:pia'`;
    expect(profile!.full_name).toBe('Pia Exemplary');

    // grant, then withdraw, consent: two records under the purpose's policy version, the history beside
    // one click, one decision: click() and not check(), which on this controlled switch (checked while
    // the decision is recorded, then as stored) has clicked a second time and withdrawn what it granted
    const analytics = page.getByRole('switch', { name: 'analytics' });
    expect(await analytics.isChecked()).toBe(false);
    await analytics.click();
    await expect.poll(() => page.getByRole('table', { name: 'Consent history' }).getByRole('row').count()).toBe(2);
    await expect.poll(() => analytics.isEnabled()).toBe(true);
    expect(await analytics.isChecked()).toBe(true);
    await analytics.click();
    await expect.poll(() => page.getByRole('table', { name: 'Consent history' }).getByRole('row').count()).toBe(3);
    await expect.poll(() => analytics.isEnabled()).toBe(true);
    expect(await analytics.isChecked()).toBe(false);
    const records = await api.db.admin`select granted, policy_version, source from compliance.consent_records where user_id = 'user:pia' and purpose = 'analytics' order by id`;
    expect(records.map((r) => [r.granted, r.policy_version, r.source])).toEqual([[true, '1.0', 'api'], [false, '1.0', 'api']]);

    // download as JSON and as CSV, and read what came down
    const [json] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download as JSON' }).click()]);
    const document = JSON.parse(readFileSync((await json.path())!, 'utf8'));
    expect(document.profile.user_id).toBe('user:pia');
    expect(JSON.stringify(document.health_records)).toContain('blood pressure 120/80');
    const [csv] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download as CSV' }).click()]);
    expect(csv.suggestedFilename()).toMatch(/\.csv$/);
    expect(readFileSync((await csv.path())!, 'utf8')).toContain('Pia Exemplary');

    // who accessed my data: the DPO's export and the emergency access, marked
    const log = page.getByRole('table', { name: 'Who accessed my data' });
    await expect.poll(() => log.getByText('dpo:dora').count()).toBeGreaterThan(0);
    await expect.poll(() => log.getByText('emergency access').count()).toBeGreaterThan(0);
    expect(await log.getByRole('row').filter({ hasText: 'staff:sam' }).filter({ hasText: 'emergency access' }).count()).toBeGreaterThan(0);
    visit.expectClean();
  });

  it('explains a legal hold that refuses the deletion, then deletes the account and gives the receipt', async () => {
    await seedSubject('user:hugo');
    const dpo = await api.token('dpo:dora', ['dpo']);
    expect((await api.call('POST', '/api/v1/dpo/subjects/user%3Ahugo/legal-hold', dpo, { reason: 'litigation 2026-17' })).status).toBe(200);

    const visit = await browser.open('/', { name: 'privacy-delete' });
    const { page } = visit;
    await signIn(page, 'user:hugo');
    const section = page.getByRole('region', { name: 'Delete my account' });
    await section.getByText('Health records').waitFor();
    const remove = section.getByRole('button', { name: 'Delete my account' });
    expect(await remove.isDisabled()).toBe(true);
    await section.getByLabel(/Type delete my account to confirm/).fill('delete my account');
    await remove.click();
    await section.getByText(/legal hold: the law requires it to be kept/).waitFor();
    expect((await api.db.admin`select count(*)::int as n from compliance.user_profiles where user_id = 'user:hugo'`)[0]!.n).toBe(1);

    expect((await api.call('DELETE', '/api/v1/dpo/subjects/user%3Ahugo/legal-hold', dpo)).status).toBe(200);
    await remove.click();
    await page.getByRole('heading', { name: 'Your account is deleted' }).waitFor();
    const receipt = JSON.parse(await page.getByLabel('Erasure receipt').textContent() ?? '{}');
    expect(receipt).toMatchObject({ erased: true });
    expect((await api.db.admin`select count(*)::int as n from compliance.user_profiles where user_id = 'user:hugo'`)[0]!.n).toBe(0);
    await visit.expectAccessible('erasure receipt');
    await page.getByRole('button', { name: 'Finish and sign out' }).click();
    await page.getByText('Your account was deleted. You are signed out.').waitFor();
    visit.expectClean(1);
  });

  it('is usable by keyboard alone: sign in and grant a consent', async () => {
    await seedSubject('user:kay');
    const visit = await browser.open('/', { name: 'privacy-keyboard' });
    const { page } = visit;
    await page.getByLabel('User id').waitFor();
    // from the top of the page: Tab to the field, type, Tab past the role boxes to the button, Enter
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('name'))).toBe('subject');
    await page.keyboard.type('user:kay');
    for (let i = 0; i < 5; i += 1) await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Sign in (development)');
    await page.keyboard.press('Enter');
    const marketing = page.getByRole('switch', { name: 'marketing' });
    await marketing.waitFor();
    await marketing.focus();
    await page.keyboard.press('Space');
    await expect.poll(() => marketing.isChecked()).toBe(true);
    await expect.poll(async () => (await api.db.admin`select count(*)::int as n from compliance.consent_records where user_id = 'user:kay' and purpose = 'marketing' and granted`)[0]!.n).toBe(1);
    visit.expectClean();
  });

  it('warns at 13 idle minutes and signs out at 15, saying why', async () => {
    await seedSubject('user:ida');
    const visit = await browser.open('/', { name: 'privacy-idle', clock: true });
    const { page } = visit;
    await signIn(page, 'user:ida');
    await page.getByRole('heading', { name: 'Your privacy center' }).waitFor();
    const token = await page.evaluate(() => sessionStorage.getItem('pgcomply.token'));
    expect((await api.call('GET', '/api/v1/users/me', token!)).status).toBe(200);
    await page.clock.fastForward('12:30');
    expect(await page.getByText(/You will be signed out in/).count()).toBe(0);
    await page.clock.fastForward('00:45');
    await page.getByText(/You will be signed out in \d+ seconds because of inactivity/).waitFor();
    await visit.expectAccessible('idle warning');
    await page.clock.fastForward('02:00');
    await page.getByText('You were signed out after 15 minutes without activity (automatic logoff).').waitFor();
    await page.getByLabel('User id').waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem('pgcomply.token'))).toBeNull();
    // the server closed the session: the token is worthless now, whoever holds a copy
    await expect.poll(async () => (await api.call('GET', '/api/v1/users/me', token!)).status).toBe(401);
    visit.expectClean();
  });
});
