/**
 * The DPO console in Chromium: the request queue with an overdue request marked, a
 * request registered and completed with a note; a subject's page (what is held, requests and
 * holds, consent history, access log), exported, held, refused erasure under the hold, released
 * (the refusal goes), erased (the subject leaves the results); a breach from registration through
 * assessment and notifications to closing, its deadlines as dates and time left; an approver
 * approving a request and reviewing an emergency access with a note; an auditor reading the
 * checks, the audit chain, opening a monthly report and downloading the evidence package as a
 * ZIP of the last full month. In English and German; every view is scanned with axe-core;
 * nothing leaves the machine; no console error but the refusals provoked.
 */
import { generateKeyPairSync } from 'node:crypto';
import { unzipSync, strFromU8 } from 'fflate';
import { readFileSync } from 'node:fs';
import { anchorRecord, signAnchor, toAnchorKey } from '../../core/anchors/anchors.js';
import { describe, expect, it } from 'vitest';
import { useServer } from '../server/harness.js';
import { screenshotTo, signIn, useBrowser } from './browser.js';
import { type Language, LANGUAGES, translator } from './language.js';

const api = useServer({ web: {} });
const browser = useBrowser(() => api.baseUrl);

async function subject(id: string, email: string) {
  const token = await api.token(id);
  expect((await api.call('PATCH', '/api/v1/users/me', token, { email })).status).toBe(200);
  return token;
}

async function openConsole(name: string, who: string, roles: string[], language: Language = 'en') {
  const t = translator(language);
  const visit = await browser.open('/', { name, language });
  await signIn(visit.page, who, roles, language);
  await visit.page.getByRole('link', { name: t('nav.dpoConsole') }).click();
  await visit.page.getByRole('heading', { name: t('console.title') }).waitFor();
  return visit;
}

describe('the DPO console', () => {
  it('works the request queue: overdue marked, register, complete', async () => {
    const dpo = await api.token('dpo:dora', ['dpo']);
    await subject('user:dan', 'dan@example.org');
    await subject('user:fay', 'fay@example.org');
    const late = await api.call('POST', '/api/v1/dpo/requests', dpo, { user_id: 'user:dan', kind: 'erasure' });
    expect(late.status).toBe(200);
    await api.db.admin`update compliance.dsr_requests set received_at = now() - interval '40 days' where id = ${late.json.id}`;

    const visit = await openConsole('dpo-requests', 'dpo:dora', ['dpo']);
    const { page } = visit;
    const queue = page.getByRole('table', { name: 'Open data subject requests' });
    await queue.getByRole('row').filter({ hasText: 'user:dan' }).getByText(/Overdue by \d+ days/).waitFor();
    await visit.expectAccessible('requests');
    await screenshotTo(page, 'dpo-requests.png');

    await page.getByLabel('Subject\'s user id').fill('user:fay');
    await page.getByLabel('Kind').selectOption('portability');
    await page.getByRole('button', { name: 'Register request' }).click();
    const registered = await page.getByText(/Registered request \d+/).textContent();
    const id = /Registered request (\d+)/.exec(registered!)![1]!;
    const row = queue.getByRole('row').filter({ hasText: 'user:fay' });
    await row.waitFor();
    // a decision asks for a note and a confirmation; the button names the action, the row says on what
    await row.getByRole('button', { name: 'Mark completed', exact: true }).click();
    expect((await api.db.admin`select status from compliance.dsr_requests where id = ${id}`)[0]!.status).toBe('received');
    await row.getByLabel('What was done (kept in the register)').fill('sent the export by post');
    await row.getByRole('button', { name: 'Confirm: completed' }).click();
    await page.getByText(`Request ${id} is completed.`).waitFor();
    await expect.poll(() => queue.getByRole('row').filter({ hasText: 'user:fay' }).count()).toBe(0);
    const [done] = await api.db.admin`select status, handled_by, notes from compliance.dsr_requests where id = ${id}`;
    expect(done).toMatchObject({ status: 'completed', handled_by: 'dpo:dora', notes: 'sent the export by post' });
    expect(await page.getByRole('button', { name: /\d/ }).count()).toBe(0);
    visit.expectClean();
  });

  for (const language of LANGUAGES) {
    it(`shows a subject's page, and after each action what is true now: hold, refusal, release, erasure (${language})`, async () => {
      const t = translator(language);
      const id = `user:eve-${language}`;
      const token = await subject(id, `eve-${language}@example.org`);
      expect((await api.call('POST', '/api/v1/users/me/consent', token, { consent_type: 'analytics', granted: true })).status).toBe(200);
      expect((await api.call('POST', '/api/v1/users/me/health-records', token, { category: 'note', data: { text: 'allergy: penicillin' } })).status).toBe(200);
      const dpo = await api.token('dpo:dora', ['dpo']);
      expect((await api.call('POST', '/api/v1/dpo/requests', dpo, { user_id: id, kind: 'access', notes: 'letter of 3 December' })).status).toBe(200);
      const staff = await api.token('staff:sid', ['staff']);
      expect((await api.call('POST', `/api/v1/staff/patients/${encodeURIComponent(id)}/emergency-access`, staff, { reason: 'unconscious patient in the emergency room' })).status).toBe(200);

      const visit = await openConsole(`dpo-subject-${language}`, 'dpo:dora', ['dpo'], language);
      const { page } = visit;
      await page.getByRole('button', { name: t('console.tab.subjects') }).click();
      await page.getByLabel(t('subjects.find')).fill(`eve-${language}@example`);
      await page.getByRole('button', { name: t('subjects.search') }).click();
      await page.getByRole('button', { name: id }).click();
      // everything held, in sections with counts; requests; holds; consent history; others' access
      const held = page.getByRole('table', { name: t('subjects.held') });
      await held.getByRole('row', { name: `${t('subjects.sections.health_records')} 1` }).waitFor();
      await held.getByRole('row', { name: `${t('subjects.sections.consents')} 1` }).waitFor();
      await page.getByRole('table', { name: t('subjects.requests') }).getByText(t('requestKind.access')).waitFor();
      await page.getByText(t('subjects.noHolds')).waitFor();
      await page.getByRole('table', { name: t('subjects.consentHistory') }).getByText(t('consents.granted')).waitFor();
      const log = page.getByRole('table', { name: t('subjects.accessLog') });
      await log.getByText(`${t('log.action.access.emergency', { who: `${t('actorRole.staff')} staff:sid`, context: 'dpo' })}.`).waitFor();
      await visit.expectAccessible('subject page');
      await screenshotTo(page, `dpo-subject-${language}.png`);

      const [exported] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: t('subjects.exportJson') }).click()]);
      expect(exported.suggestedFilename()).toBe(`user_data_user_eve-${language}.json`);
      expect(JSON.parse(readFileSync((await exported.path())!, 'utf8')).profile.email).toBe(`eve-${language}@example.org`);
      const [csv] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: t('subjects.exportCsv') }).click()]);
      expect(csv.suggestedFilename()).toBe(`user_data_user_eve-${language}.csv`);

      await page.getByLabel(t('subjects.holdReason')).fill('tax audit 2026');
      await page.getByRole('button', { name: t('subjects.place') }).click();
      await page.getByText(t('subjects.underHold')).waitFor();
      await page.getByLabel(t('subjects.typeId', { id })).fill(id);
      await page.getByRole('button', { name: t('subjects.eraseButton', { id }) }).click();
      const refusal = page.getByText(t('explain.subjects.LHOLD'));
      await refusal.waitFor();
      await page.getByRole('button', { name: t('subjects.release') }).click();
      await page.getByRole('button', { name: t('subjects.place') }).waitFor();
      // the refusal the hold caused is gone with the hold; the released hold stays in the list
      expect(await refusal.count()).toBe(0);
      await page.getByRole('table', { name: t('subjects.holds') }).getByText('tax audit 2026').waitFor();
      await page.getByRole('button', { name: t('subjects.eraseButton', { id }) }).click();
      await page.getByRole('heading', { name: t('subjects.erasedTitle', { id }) }).waitFor();
      expect((await api.db.admin`select count(*)::int as n from compliance.user_profiles where user_id = ${id}`)[0]!.n).toBe(0);
      // the search results are current: the erased subject is not offered any more
      await expect.poll(() => page.getByRole('button', { name: id }).count()).toBe(0);
      visit.expectClean(1);
    });

    it(`runs a breach from registration through assessment and notifications to closing (${language})`, async () => {
      const t = translator(language);
      const visit = await openConsole(`dpo-breach-${language}`, 'dpo:dora', ['dpo'], language);
      const { page } = visit;
      await page.getByRole('button', { name: t('console.tab.breaches') }).click();
      const description = `laptop stolen from a car (${language})`;
      await page.getByText(t('breaches.registerTitle')).click();
      // discovered a little over two days ago: the authority's 72 hours have about 22 hours left
      const discovered = new Date(Date.now() - 50 * 3_600_000);
      await page.getByLabel(t('breaches.description')).fill(description);
      // the input takes the browser's local time: the page's time zone, not this process's
      await page.getByLabel(t('breaches.discovered')).evaluate((input: HTMLInputElement, at: number) => {
        const d = new Date(at);
        const pad = (n: number) => String(n).padStart(2, '0');
        input.value = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
        input.dispatchEvent(new Event('input', { bubbles: true }));
      }, discovered.getTime());
      await page.getByLabel(t('breaches.categories')).fill('profile, health_records');
      await page.getByLabel(t('breaches.affected')).fill('40');
      await page.getByRole('button', { name: t('breaches.registerButton') }).click();
      const registered = await page.getByRole('status').filter({ hasText: /\d/ }).first().textContent();
      const [row] = await api.db.admin`select id from compliance.breaches where description = ${description}`;
      const breachId = String(row!.id);
      expect(registered).toBe(t('breaches.registered', { id: breachId }));
      const title = t('breaches.detailTitle', { id: breachId, description });
      const breach = page.getByRole('article', { name: title });
      await breach.waitFor();
      // deadlines as dates and time left: "21 hours left", never "1437 h 56 min"
      const register = page.getByRole('table', { name: t('breaches.register') });
      const line = register.getByRole('row').filter({ hasText: description });
      await line.locator('mark', { hasText: new RegExp(`^${t('time.left', { duration: t('time.hours', { count: 21 }) }).replace(/21/, '2[01]')}$`) }).waitFor();
      await line.getByText(t('breaches.dueOn', { date: '' }).trim()).first().waitFor();
      expect(await line.textContent()).not.toMatch(/\d+ h \d+ min/);
      await visit.expectAccessible('breach registered');

      // assessed as not notifiable: the reason is required (BRNNR), then no deadline runs
      const assess = breach.getByRole('form', { name: t('breaches.assessTitle', { id: breachId }) });
      await assess.getByLabel(t('breaches.riskFactorsInput')).fill('disk encrypted (AES-256)\nkey kept apart');
      await assess.getByLabel(t('breaches.notifiableChoice.no')).check();
      await assess.getByLabel(t('breaches.whyNot')).fill('the data cannot be read without the key, which was not taken');
      await assess.getByRole('button', { name: t('breaches.saveAssessment') }).click();
      await assess.getByText(t('breaches.assessed')).waitFor();
      await expect.poll(() => line.getByText(t('breaches.deadline.not_required')).count()).toBe(2);
      const [assessed] = await api.db.admin`select notifiable, risk_factors, not_notifiable_reason from compliance.breaches where id = ${breachId}`;
      expect(assessed).toMatchObject({ notifiable: false, risk_factors: ['disk encrypted (AES-256)', 'key kept apart'] });

      // judged notifiable after all: the deadlines run again, and each notification is recorded
      await assess.getByLabel(t('breaches.notifiableChoice.yes')).check();
      await assess.getByRole('button', { name: t('breaches.saveAssessment') }).click();
      await expect.poll(() => line.getByText(t('breaches.deadline.not_required')).count()).toBe(0);
      const notify = breach.getByRole('form', { name: t('breaches.notifyTitle', { id: breachId }) });
      await notify.getByLabel(t('breaches.recipientColumn')).selectOption('authority');
      await notify.getByRole('button', { name: t('breaches.recordNotification') }).click();
      await breach.getByRole('table', { name: t('breaches.notifications', { id: breachId }) }).getByRole('row', { name: new RegExp(`^${t('breaches.recipient.authority').replace(/[()]/g, '\\$&')}`) })
        .getByText(new RegExp(t('breaches.notifiedOn', { date: '' }).trim())).waitFor();
      await notify.getByLabel(t('breaches.recipientColumn')).selectOption('individuals');
      await notify.getByRole('button', { name: t('breaches.recordNotification') }).click();
      await expect.poll(async () => (await api.db.admin`select notified_individuals_at is not null as done from compliance.breaches where id = ${breachId}`)[0]!.done).toBe(true);
      await visit.expectAccessible('breach assessed and notified');
      await screenshotTo(page, `dpo-breach-${language}.png`);

      const close = breach.getByRole('form', { name: t('breaches.closeTitle', { id: breachId }) });
      await close.getByLabel(t('breaches.closeNote')).fill('laptop wiped remotely; people told');
      await close.getByRole('button', { name: t('breaches.close') }).click();
      await line.getByText(t('breaches.status.closed')).waitFor();
      expect(await breach.getByRole('form').count()).toBe(0);
      const actions = (await api.db.admin`select action from compliance.audit_logs where resource_type = 'breach' and resource_id = ${breachId} order by id`).map((r) => r.action);
      expect(actions).toEqual(['breach.opened', 'breach.updated', 'breach.updated', 'breach.notified', 'breach.notified', 'breach.closed']);
      visit.expectClean();
    });
  }

  it('is usable by keyboard alone: a section, a search, a subject, a legal hold', async () => {
    await subject('user:kim', 'kim@example.org');
    const visit = await openConsole('dpo-keyboard', 'dpo:dora', ['dpo']);
    const { page } = visit;
    const press = async (key: string, times = 1) => { for (let i = 0; i < times; i += 1) await page.keyboard.press(key); };
    const focused = () => page.evaluate(() => document.activeElement?.textContent || document.activeElement?.getAttribute('name'));
    // the section tabs are buttons in the tab order after the main navigation
    await page.getByRole('button', { name: 'Requests' }).focus();
    await press('Tab');
    expect(await focused()).toBe('Subjects');
    await press('Enter');
    await press('Tab');
    expect(await focused()).toBe('Breaches');
    await page.getByLabel(/Find a subject/).focus();
    await page.keyboard.type('kim@');
    await press('Enter');
    const kim = page.getByRole('button', { name: 'user:kim' });
    await kim.waitFor();
    await kim.focus();
    await press('Enter');
    await page.getByLabel('Reason for a legal hold').focus();
    await page.keyboard.type('regulator inquiry');
    await press('Enter');
    await page.getByText(/Under legal hold/).waitFor();
    const [hold] = await api.db.admin`select reason from compliance.legal_holds where user_id = 'user:kim' and released_at is null`;
    expect(hold!.reason).toBe('regulator inquiry');
    visit.expectClean();
  });

  it('lets an approver approve a pending request and review an emergency access', async () => {
    await subject('user:gus', 'gus@example.org');
    const staff = await api.token('staff:sue', ['staff']);
    expect((await api.call('POST', '/api/v1/staff/access-requests', staff, { patient_id: 'user:gus', purpose: 'treatment', reason: 'follow-up consultation' })).status).toBe(200);
    const other = await api.token('staff:tom', ['staff']);
    const glass = await api.call('POST', '/api/v1/staff/patients/user%3Agus/emergency-access', other, { reason: 'cardiac arrest in the waiting room' });
    expect(glass.status).toBe(200);

    const visit = await openConsole('dpo-access', 'approver:abe', ['approver']);
    const { page } = visit;
    expect(await page.getByRole('button', { name: 'Requests' }).count()).toBe(0);
    const pending = page.getByRole('table', { name: 'Pending access requests' });
    await pending.getByText('follow-up consultation').waitFor();
    await visit.expectAccessible('access');
    await pending.getByRole('button', { name: 'Approve', exact: true }).click();
    await expect.poll(() => pending.count()).toBe(0);
    const queue = page.getByRole('table', { name: 'Emergency access awaiting review' });
    const emergency = queue.getByRole('row').filter({ hasText: 'staff:tom' });
    await emergency.getByRole('button', { name: 'Mark appropriate', exact: true }).click();
    await emergency.getByLabel('What you checked (kept with the review)').fill('chart confirms the arrest');
    await emergency.getByRole('button', { name: 'Confirm: appropriate' }).click();
    await expect.poll(() => queue.getByRole('row').filter({ hasText: 'staff:tom' }).count()).toBe(0);
    const [approved] = await api.db.admin`select approved_by from compliance.access_grants where grantee = 'staff:sue' and user_id = 'user:gus'`;
    expect(approved!.approved_by).toBe('approver:abe');
    const [reviewed] = await api.db.admin`select reviewed_by, review_outcome, review_note from compliance.access_grants where id = ${glass.json.id}`;
    expect(reviewed).toMatchObject({ reviewed_by: 'approver:abe', review_outcome: 'appropriate', review_note: 'chart confirms the arrest' });
    visit.expectClean();
  });

  it('shows an auditor the checks, the audit chain, a monthly report and the evidence package', async () => {
    const dpo = await api.token('dpo:dora', ['dpo']);
    await api.db.admin`select compliance.seal_audit_log()`;
    expect((await api.call('POST', '/api/v1/dpo/checks/run', dpo, {})).status).toBe(200);
    // an anchor was written somewhere (as pgcomply anchor records it), then one more seal was made
    const auditor = await api.token('auditor:ann', ['auditor']);
    const state = (await api.call('GET', '/api/v1/anchors/state', auditor)).json;
    const key = toAnchorKey(generateKeyPairSync('ed25519').privateKey);
    const record = anchorRecord(signAnchor(state, key), key, '/mnt/worm/anchors.jsonl');
    expect((await api.call('POST', '/api/v1/anchors', auditor, record)).json).toMatchObject({ audit_row_id: expect.any(String) });
    await api.db.admin`select compliance.log_event('system.later', 'system')`;
    await api.db.admin`select compliance.seal_audit_log()`;

    const visit = await openConsole('dpo-compliance', 'auditor:ann', ['auditor']);
    const { page } = visit;
    const checks = page.getByRole('table', { name: 'Latest result of each compliance check' });
    await checks.getByRole('rowheader', { name: 'audit chain' }).waitFor();
    expect(await checks.getByRole('row').count()).toBeGreaterThan(10);
    await page.getByText(/Last verified .*: pass/).waitFor();
    await page.getByText(/Newest seal \(what an anchor signs\): number \d+/).waitFor();
    await page.getByText(new RegExp(`Last anchor: seal ${state.seal_no}, written .* to /mnt/worm/anchors.jsonl`)).waitFor();
    await page.getByText('1 seal made since is not anchored yet').waitFor();
    expect(await page.getByRole('button', { name: 'Run every check now' }).count()).toBe(0);
    await visit.expectAccessible('compliance');

    await page.getByRole('button', { name: 'Compute the report' }).click();
    await page.getByText(/Computed the report for \d{4}-\d\d: SHA-256/).waitFor();
    const [tab] = await Promise.all([page.waitForEvent('popup'), page.getByRole('button', { name: /^Open the report for/ }).first().click()]);
    await tab.getByRole('heading', { name: /^Compliance report, \d{4}-\d\d$/ }).waitFor();
    expect(new URL(tab.url()).protocol).toBe('blob:');
    await tab.close();

    // the last full month by default (the page's own clock: the browser's, in its time zone)
    const lastMonth = await page.evaluate(() => {
      const now = new Date();
      const to = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
      return { from: new Date(Date.UTC(to.getUTCFullYear(), to.getUTCMonth() - 1, 1)).toISOString().slice(0, 10), to: to.toISOString().slice(0, 10) };
    });
    expect(await page.getByLabel('From').inputValue()).toBe(lastMonth.from);
    const [evidence] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download the evidence package (ZIP)' }).click()]);
    expect(evidence.suggestedFilename()).toMatch(new RegExp(`^evidence_${lastMonth.from}_${lastMonth.to}_\\d+\\.zip$`));
    const files = unzipSync(readFileSync((await evidence.path())!));
    const manifest = JSON.parse(strFromU8(files['manifest.json']!));
    expect(manifest.manifest_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(manifest.populations.length).toBeGreaterThan(5);
    for (const population of manifest.populations) expect(Object.keys(files)).toContain(`${population.name}.csv`);
    const [stored] = await api.db.admin`select period_from, period_to from compliance.evidence_packages where id = ${manifest.package_id}`;
    expect(stored).toEqual({ period_from: new Date(`${lastMonth.from}T00:00:00Z`), period_to: new Date(`${lastMonth.to}T00:00:00Z`) });
    // today included when asked: through today, so the period ends at tomorrow's midnight
    const today = await page.evaluate(() => new Date().toISOString().slice(0, 10));
    await page.getByLabel('Through (the last day included)').fill(today);
    const [withToday] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download the evidence package (ZIP)' }).click()]);
    const second = JSON.parse(strFromU8(unzipSync(readFileSync((await withToday.path())!))['manifest.json']!));
    const [through] = await api.db.admin`select period_to from compliance.evidence_packages where id = ${second.package_id}`;
    expect(through!.period_to).toEqual(new Date(Date.parse(`${today}T00:00:00Z`) + 86_400_000));
    await visit.expectAccessible('compliance with a report open');
    visit.expectClean();
  });
});
