/**
 * The privacy center in Chromium: a subject signs in (development sign-in), rectifies
 * the profile, grants and withdraws consent, downloads their data as JSON and CSV, reads who
 * accessed it in sentences (a DPO's export, a staff member's emergency access, a refusal; others'
 * access first), is refused erasure under a legal hold in words meant for them, erases the
 * account and reads the receipt; an erased subject signing in again reads one explanation; idle
 * logoff warns at 13 minutes and signs out at 15. In English and German; every page is scanned
 * with axe-core.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { useServer } from '../server/harness.js';
import { screenshotTo, signIn, useBrowser } from './browser.js';
import { LANGUAGES, pattern, translator } from './language.js';

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

    // who accessed my data: the DPO's export and the emergency access, in sentences, others' first
    const log = page.getByRole('table', { name: 'Who accessed my data' });
    await log.getByText('Data protection officer dpo:dora exported everything held about you.').waitFor();
    await log.getByText('Staff member staff:sam read your health records in an emergency.').waitFor();
    expect(await log.getByRole('row').filter({ hasText: 'staff:sam' }).filter({ hasText: 'emergency access' }).count()).toBeGreaterThan(0);
    expect(await log.getByText(/^You read your health records/).count()).toBe(0);
    expect(await log.getByText(/phi\.read|access\.emergency|patient_request/).count()).toBe(0);
    await page.getByLabel('Everything, your own reads too').check();
    await log.getByText(/^You read your health records for your own request\./).first().waitFor();
    visit.expectClean();
  });

  for (const language of LANGUAGES) {
    it(`explains a legal hold in the subject's words, then deletes the account and shows the receipt (${language})`, async () => {
      const t = translator(language);
      const subject = `user:hugo-${language}`;
      await seedSubject(subject);
      const dpo = await api.token('dpo:dora', ['dpo']);
      const path = `/api/v1/dpo/subjects/${encodeURIComponent(subject)}/legal-hold`;
      expect((await api.call('POST', path, dpo, { reason: 'litigation 2026-17' })).status).toBe(200);

      const visit = await browser.open('/', { name: `privacy-delete-${language}`, language });
      const { page } = visit;
      await signIn(page, subject, [], language);
      const section = page.getByRole('region', { name: t('erase.title') });
      await section.getByText(t('erase.held.health')).waitFor();
      const remove = section.getByRole('button', { name: t('erase.button') });
      expect(await remove.isDisabled()).toBe(true);
      await section.getByLabel(t('erase.typeToConfirm', { phrase: t('erase.phrase') })).fill(t('erase.phrase'));
      await remove.click();
      // what it means for them, the code only as a reference: never the DPO's instruction or a function's name
      const refusal = section.getByRole('alert');
      await refusal.getByText(t('subjectProblem.LHOLD')).waitFor();
      await refusal.getByText(t('subjectProblem.reference', { reference: 'LHOLD' })).waitFor();
      expect(await refusal.textContent()).not.toMatch(/compliance\.|release_legal_hold|\(LHOLD\)/);
      expect((await api.db.admin`select count(*)::int as n from compliance.user_profiles where user_id = ${subject}`)[0]!.n).toBe(1);
      await visit.expectAccessible('legal hold refusal');

      expect((await api.call('DELETE', path, dpo)).status).toBe(200);
      await remove.click();
      // the receipt is the page: what was erased, when, the reference, and what is kept and why
      await page.getByRole('heading', { name: t('receipt.title'), level: 1 }).waitFor();
      expect(await page.getByRole('region', { name: t('profile.title') }).count()).toBe(0);
      expect(await page.getByRole('button', { name: t('download.json') }).count()).toBe(0);
      const [request] = await api.db.admin`select max(id)::int as id from compliance.dsr_requests where kind = 'erasure' and user_id is null`;
      await page.getByText(t('receipt.request', { id: request!.id })).waitFor();
      const erased = page.getByRole('list', { name: t('receipt.erased') });
      await erased.getByText(t('receipt.table.health_records', { count: 1 })).waitFor();
      await erased.getByText(t('receipt.table.conversations', { count: 1 })).waitFor();
      const kept = page.getByRole('list', { name: t('receipt.kept') });
      await kept.getByText(pattern(t('receipt.keep.audit', { count: 2 }).replace(/^\d+/, '{{count}}'))).waitFor();
      expect((await api.db.admin`select count(*)::int as n from compliance.user_profiles where user_id = ${subject}`)[0]!.n).toBe(0);
      await visit.expectAccessible('erasure receipt');
      await screenshotTo(page, `privacy-receipt-${language}.png`);
      const [saved] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: t('receipt.download') }).click()]);
      expect(JSON.parse(readFileSync((await saved.path())!, 'utf8'))).toMatchObject({ erased: true, dsr_request_id: request!.id });
      await page.getByRole('button', { name: t('receipt.finish') }).click();
      await page.getByText(t('privacy.erasedSignedOut')).waitFor();

      // signing in again: one explanation, no section refusing on its own, no buttons for data that is gone
      await signIn(page, subject, [], language);
      await page.getByRole('heading', { name: t('privacy.gone.title') }).waitFor();
      expect(await page.getByText(t('privacy.gone.text')).count()).toBe(1);
      expect(await page.getByRole('alert').count()).toBe(0);
      expect(await page.getByRole('button', { name: t('erase.button') }).count()).toBe(0);
      expect(await page.getByRole('button', { name: t('download.json') }).count()).toBe(0);
      await visit.expectAccessible('erased subject');
      // the refusals provoked: the hold, and the erased subject's first page load
      expect(visit.consoleErrors.filter((e) => !/status of (403|409)/.test(e))).toEqual([]);
    });

    it(`tells a patient who accessed their records in sentences, others' access first (${language})`, async () => {
      const t = translator(language);
      const subject = `user:lia-${language}`;
      const token = await seedSubject(subject);
      // the patient reads their own records twice; a staff member is refused, then breaks the glass and reads
      for (let i = 0; i < 2; i += 1) expect((await api.call('GET', '/api/v1/users/me/health-records', token)).status).toBe(200);
      const staff = await api.token('staff:sid', ['staff']);
      const patientPath = `/api/v1/staff/patients/${encodeURIComponent(subject)}`;
      expect((await api.call('GET', `${patientPath}/health-records?purpose=payment`, staff)).status).toBe(403);
      expect((await api.call('POST', `${patientPath}/emergency-access`, staff, { reason: 'unconscious patient in the emergency room' })).status).toBe(200);
      expect((await api.call('GET', `${patientPath}/health-records?purpose=emergency`, staff)).status).toBe(200);

      const visit = await browser.open('/', { name: `privacy-access-log-${language}`, language });
      const { page } = visit;
      await signIn(page, subject, [], language);
      const log = page.getByRole('table', { name: t('accessLog.title') });
      const sid = `${t('actorRole.staff')} staff:sid`;
      await log.getByText(`${t('log.action.phi.read', { who: sid })}${t('log.inEmergency')}.`).waitFor();
      await log.getByText(`${t('log.refused')} ${t('log.action.phi.denied', { who: sid })}${t('log.for', { purpose: t('purposeOfUse.payment') })}. ${t('log.reason.no_active_grant')}`).waitFor();
      await log.getByText(`${t('log.action.access.emergency', { who: sid })}.`).waitFor();
      // the patient's own reads wait behind the filter
      const own = `${t('log.action.phi.read', { who: t('log.who.subject') })}${t('log.for', { purpose: t('purposeOfUse.patient_request') })}.`;
      expect(await log.getByText(own).count()).toBe(0);
      const text = await log.textContent();
      expect(text).not.toMatch(/phi\.|access\.emergency|patient_request|grant_purpose|no_active_grant/);
      await visit.expectAccessible('access log');
      if (language === 'en') await screenshotTo(page, 'privacy-center.png');
      await screenshotTo(page, `privacy-access-log-${language}.png`);
      await page.getByLabel(t('accessLog.everything')).check();
      await expect.poll(() => log.getByText(own).count()).toBeGreaterThanOrEqual(2);
      visit.expectClean();
    });
  }

  it('leaves no stale "Saved." beside an e-mail address the browser refuses', async () => {
    await seedSubject('user:eda');
    const visit = await browser.open('/', { name: 'privacy-invalid-email' });
    const { page } = visit;
    await signIn(page, 'user:eda');
    await page.getByLabel('Full name').fill('Eda Example');
    await page.getByRole('button', { name: 'Save profile' }).click();
    await page.getByText('Saved.').waitFor();
    await page.getByLabel('E-mail').fill('not an address');
    await page.getByRole('button', { name: 'Save profile' }).click();
    expect(await page.getByLabel('E-mail').evaluate((input: HTMLInputElement) => input.validity.valid)).toBe(false);
    await expect.poll(() => page.getByText('Saved.').count()).toBe(0);
    const [profile] = await api.db.admin`select email from compliance.user_profiles where user_id = 'user:eda'`;
    expect(profile!.email).toBe('pia@example.org');
    visit.expectClean();
  });

  it('is usable by keyboard alone: sign in and grant a consent', async () => {
    await seedSubject('user:kay');
    const visit = await browser.open('/', { name: 'privacy-keyboard' });
    const { page } = visit;
    await page.getByLabel('User id').waitFor();
    // from the top of the page: Tab past the language to the field, type, Tab past the role boxes to the button, Enter
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('Language');
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
