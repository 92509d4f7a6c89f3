/**
 * Headless Chromium for the page tests: Debian's (/usr/bin/chromium) or CHROMIUM_PATH;
 * without one the tests fail saying how to install it, never skip. Each visit records every
 * request (none may leave the machine), every console error, and leaves a screenshot in
 * test/artifacts/ when its test fails.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { AxeBuilder } from '@axe-core/playwright';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, onTestFailed } from 'vitest';
import { BROWSER_LOCALE, type Language, translator } from './language.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface Visit {
  page: Page;
  requests: string[];
  consoleErrors: string[];
  /** no request went anywhere but the server (and the origins given) and the console showed no error but the refusals the test provoked */
  expectClean(provokedRefusals?: number, alsoAllowed?: string[]): void;
  /** axe-core: no serious or critical violation on the page as it is now */
  expectAccessible(what: string): Promise<void>;
}

export function useBrowser(baseUrl: () => string) {
  let browser: Browser | undefined;
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`no Chromium at ${CHROMIUM}: install Debian's (apt-get install -y chromium) or set CHROMIUM_PATH; the page tests need a real browser`);
    }
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(() => browser?.close());

  return {
    async open(path: string, options: { clock?: boolean; name: string; language?: Language }): Promise<Visit> {
      // reduced motion (Pico then skips its transitions): axe measures colours at one instant, not mid-fade;
      // the reader's language, locale and time zone as their browser says them
      const context = await browser!.newContext({ acceptDownloads: true, baseURL: baseUrl(), reducedMotion: 'reduce',
        ...BROWSER_LOCALE[options.language ?? 'en'] });
      const page = await context.newPage();
      // a step that cannot happen fails with its locator named, well inside the test's own timeout
      page.setDefaultTimeout(30_000);
      if (options.clock) await page.clock.install();
      const requests: string[] = [];
      const consoleErrors: string[] = [];
      // what our pages load; a page of another origin (an identity provider's login) loads what it likes
      page.on('request', (request) => {
        const from = request.frame().url();
        if (!from.startsWith('http') || from.startsWith(`${new URL(baseUrl()).origin}/`)) requests.push(request.url());
      });
      const ours = () => !page.url().startsWith('http') || page.url().startsWith(`${new URL(baseUrl()).origin}/`);
      page.on('console', (message) => { if (message.type() === 'error' && ours()) consoleErrors.push(message.text()); });
      page.on('pageerror', (error) => consoleErrors.push(`page error: ${error.message}`));
      onTestFailed(async () => {
        mkdirSync('test/artifacts', { recursive: true });
        await page.screenshot({ path: `test/artifacts/${options.name}-failed.png`, fullPage: true }).catch(() => undefined);
      });
      await page.goto(path);
      return {
        page,
        requests,
        consoleErrors,
        expectClean(provokedRefusals = 0, alsoAllowed: string[] = []) {
          const origins = [new URL(baseUrl()).origin, ...alsoAllowed];
          expect(requests.filter((url) => !origins.some((origin) => url.startsWith(`${origin}/`)) && !url.startsWith('data:') && !url.startsWith('blob:'))).toEqual([]);
          const refusals = consoleErrors.filter((text) => /^Failed to load resource: the server responded with a status of 409/.test(text));
          expect(consoleErrors.filter((text) => !refusals.includes(text))).toEqual([]);
          expect(refusals).toHaveLength(provokedRefusals);
        },
        async expectAccessible(what: string) {
          const results = await new AxeBuilder({ page }).analyze();
          const serious = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
            .map((v) => `${what}: ${v.id} (${v.impact}) ${v.help}: ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`);
          expect(serious).toEqual([]);
        },
      };
    },
  };
}

/** the development sign-in, as a person fills it in */
export async function signIn(page: Page, subject: string, roles: string[] = [], language: Language = 'en'): Promise<void> {
  const t = translator(language);
  await page.getByLabel(t('signIn.userId')).fill(subject);
  for (const role of roles) await page.locator(`input[name="roles"][value="${role}"]`).check();
  await page.getByRole('button', { name: t('signIn.development') }).click();
}

/**
 * A screenshot in test/artifacts/; with SCREENSHOTS=docs (npm run screenshots) also in
 * docs/screenshots/, the pictures the README shows.
 */
export async function screenshotTo(page: Page, file: string): Promise<Buffer> {
  mkdirSync('test/artifacts', { recursive: true });
  const picture = await page.screenshot({ path: `test/artifacts/${file}`, fullPage: true });
  if (process.env.SCREENSHOTS === 'docs') {
    mkdirSync('docs/screenshots', { recursive: true });
    writeFileSync(`docs/screenshots/${file}`, picture);
  }
  return picture;
}
