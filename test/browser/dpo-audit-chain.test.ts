/**
 * A tampered audit chain in the DPO console, in Chromium: verifying lists each problem with its
 * kind, row and seal, says what it means, and links to the section of db/AUDIT_HASHING.md that
 * explains the check, served as a page. In English and German. The file tampers with its own
 * database, so it stands alone.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { useServer } from '../server/harness.js';
import { screenshotTo, signIn, useBrowser } from './browser.js';
import { LANGUAGES, translator } from './language.js';

const api = useServer({ web: {} });
const browser = useBrowser(() => api.baseUrl);
let altered = 0;

beforeAll(async () => {
  const token = await api.token('user:tess');
  expect((await api.call('PATCH', '/api/v1/users/me', token, { full_name: 'Tess Tampered' })).status).toBe(200);
  await api.db.admin`select compliance.seal_audit_log()`;
  // as a superuser with the append-only triggers off: one sealed row's details changed
  const [row] = await api.db.admin`select max(last_row_id)::int as id from compliance.audit_seals`;
  altered = row!.id;
  await api.db.admin.begin(async (tx) => {
    await tx`set local session_replication_role = replica`;
    await tx`update compliance.audit_logs set details = details || '{"forged": true}' where id = ${altered}`;
  });
});

describe('the audit chain\'s problems in the console', () => {
  for (const language of LANGUAGES) {
    it(`lists each problem with its kind, row, seal and meaning, and links to its explanation (${language})`, async () => {
      const t = translator(language);
      const visit = await browser.open('/', { name: `dpo-chain-${language}`, language });
      const { page } = visit;
      await signIn(page, 'dpo:dora', ['dpo'], language);
      await page.getByRole('link', { name: t('nav.dpoConsole') }).click();
      await page.getByRole('button', { name: t('console.tab.compliance') }).click();
      await page.getByRole('button', { name: t('chain.verify') }).click();
      const problems = page.getByRole('table', { name: t('chain.problems') });
      const line = problems.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'altered_row' }) });
      await line.waitFor();
      await line.getByRole('cell', { name: String(altered), exact: true }).waitFor();
      await line.getByText(t('chain.meanings.altered_row')).waitFor();
      const [seal] = await api.db.admin`select seal_no::int from compliance.audit_seals where ${altered} between first_row_id and last_row_id`;
      await line.getByRole('cell', { name: String(seal!.seal_no), exact: true }).waitFor();
      await visit.expectAccessible('chain problems');
      await screenshotTo(page, `dpo-chain-problems-${language}.png`);

      const [doc] = await Promise.all([page.waitForEvent('popup'), line.getByRole('link', { name: t('chain.readMore') }).click()]);
      await doc.waitForLoadState();
      expect(new URL(doc.url()).pathname).toBe('/docs/AUDIT_HASHING.md');
      expect(new URL(doc.url()).hash).toBe('#the-hash-of-a-row-both-layouts');
      await doc.locator('h2#the-hash-of-a-row-both-layouts').waitFor();
      expect(await doc.getByRole('heading', { name: 'What verification checks' }).count()).toBe(1);
      await doc.close();
      visit.expectClean();
    });
  }
});
