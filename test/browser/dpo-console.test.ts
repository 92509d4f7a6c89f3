/**
 * The DPO console in Chromium: the request queue with an overdue request marked, a
 * request registered and completed; a subject found, exported, held, refused erasure under the
 * hold with the reason, released and erased; the breach register counting down; an approver
 * approving a pending request and reviewing an emergency access; an auditor reading the checks,
 * the audit chain, opening a monthly report and downloading the evidence package. Every view is
 * scanned with axe-core; nothing leaves the machine; no console error but the refusal provoked.
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { anchorRecord, signAnchor, toAnchorKey } from '../../core/anchors/anchors.js';
import { describe, expect, it } from 'vitest';
import { useServer } from '../server/harness.js';
import { screenshotTo, signIn, useBrowser } from './browser.js';

const api = useServer({ web: {} });
const browser = useBrowser(() => api.baseUrl);

async function subject(id: string, email: string) {
  const token = await api.token(id);
  expect((await api.call('PATCH', '/api/v1/users/me', token, { email })).status).toBe(200);
  return token;
}

async function openConsole(name: string, who: string, roles: string[]) {
  const visit = await browser.open('/', { name });
  await signIn(visit.page, who, roles);
  await visit.page.getByRole('link', { name: 'DPO console' }).click();
  await visit.page.getByRole('heading', { name: 'DPO console' }).waitFor();
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
    await queue.getByRole('row').filter({ hasText: 'user:fay' }).waitFor();
    await page.getByRole('button', { name: `Complete request ${id}` }).click();
    await expect.poll(() => queue.getByRole('row').filter({ hasText: 'user:fay' }).count()).toBe(0);
    const [done] = await api.db.admin`select status, handled_by from compliance.dsr_requests where id = ${id}`;
    expect(done).toMatchObject({ status: 'completed', handled_by: 'dpo:dora' });
    visit.expectClean();
  });

  it('finds a subject, exports, holds, is refused erasure under the hold, releases, erases; breaches count down', async () => {
    await subject('user:eve', 'eve@example.org');
    const dpo = await api.token('dpo:dora', ['dpo']);
    expect((await api.call('POST', '/api/v1/dpo/breaches', dpo, { discovered_at: new Date(Date.now() - 3_600_000).toISOString(),
      description: 'a laptop was stolen', affected_count: 12 })).status).toBe(200);

    const visit = await openConsole('dpo-subjects', 'dpo:dora', ['dpo']);
    const { page } = visit;
    await page.getByRole('button', { name: 'Subjects' }).click();
    await page.getByLabel(/Find a subject/).fill('eve@example');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('button', { name: 'user:eve' }).click();
    await visit.expectAccessible('subjects');

    const [exported] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export as JSON' }).click()]);
    expect(JSON.parse(readFileSync((await exported.path())!, 'utf8')).profile.email).toBe('eve@example.org');

    await page.getByLabel('Reason for a legal hold').fill('tax audit 2026');
    await page.getByRole('button', { name: 'Place a legal hold' }).click();
    await page.getByText(/Under legal hold/).waitFor();
    await page.getByLabel(/Type the user id/).fill('user:eve');
    await page.getByRole('button', { name: 'Erase user:eve' }).click();
    await page.getByText(/The subject is under a legal hold: release it first/).waitFor();
    await page.getByRole('button', { name: 'Release the legal hold' }).click();
    await page.getByRole('button', { name: 'Place a legal hold' }).waitFor();
    await page.getByRole('button', { name: 'Erase user:eve' }).click();
    await page.getByRole('heading', { name: 'user:eve is erased' }).waitFor();
    expect((await api.db.admin`select count(*)::int as n from compliance.user_profiles where user_id = 'user:eve'`)[0]!.n).toBe(0);

    await page.getByRole('button', { name: 'Breaches' }).click();
    const register = page.getByRole('table', { name: 'Breach register' });
    await register.getByText(/\d+ h \d+ min left/).first().waitFor();
    await visit.expectAccessible('breaches');
    visit.expectClean(1);
  });

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
    await pending.getByRole('button', { name: /^Approve request/ }).click();
    await expect.poll(() => pending.count()).toBe(0);
    const queue = page.getByRole('table', { name: 'Emergency access awaiting review' });
    await queue.getByRole('button', { name: `Appropriate (${glass.json.id})`, exact: true }).click();
    await page.getByText('No emergency access awaits review.').waitFor();
    const [approved] = await api.db.admin`select approved_by from compliance.access_grants where grantee = 'staff:sue' and user_id = 'user:gus'`;
    expect(approved!.approved_by).toBe('approver:abe');
    const [reviewed] = await api.db.admin`select reviewed_by, review_outcome from compliance.access_grants where id = ${glass.json.id}`;
    expect(reviewed).toMatchObject({ reviewed_by: 'approver:abe', review_outcome: 'appropriate' });
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
    await page.getByText('1 seal(s) made since are not anchored yet').waitFor();
    expect(await page.getByRole('button', { name: 'Run every check now' }).count()).toBe(0);
    await visit.expectAccessible('compliance');

    await page.getByRole('button', { name: 'Compute the report' }).click();
    await page.getByText(/Computed the report for \d{4}-\d\d: SHA-256/).waitFor();
    const [tab] = await Promise.all([page.waitForEvent('popup'), page.getByRole('button', { name: /^Open the report for/ }).first().click()]);
    await tab.getByRole('heading', { name: /^Compliance report, \d{4}-\d\d$/ }).waitFor();
    expect(new URL(tab.url()).protocol).toBe('blob:');
    await tab.close();

    const [evidence] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download the evidence package' }).click()]);
    const pack = JSON.parse(readFileSync((await evidence.path())!, 'utf8'));
    expect(pack.manifest_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(Object.keys(pack.csv).length).toBeGreaterThan(5);
    await visit.expectAccessible('compliance with a report open');
    visit.expectClean();
  });
});
