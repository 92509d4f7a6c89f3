/**
 * A page opened in Debian's headless Chromium (apt-get install -y chromium), with what a test
 * asserts about it: the requests it made, the ones that failed, console errors, its links and
 * title, and the size of its PDF print. A screenshot goes to test/artifacts/.
 */
import { mkdirSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';

export interface OpenedPage {
  status: number | undefined;
  requests: string[];
  failed: string[];
  consoleErrors: string[];
  links: { href: string; text: string }[];
  title: string;
  text: string;
  pdfBytes: number;
}

export async function openInChromium(url: string, screenshot: string, headers: Record<string, string> = {}): Promise<OpenedPage> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  }).catch((error: Error) => {
    throw new Error(`headless Chromium did not start from ${CHROMIUM} (apt-get install -y chromium): ${error.message}`);
  });
  try {
    const page = await browser.newPage({ extraHTTPHeaders: headers });
    const requests: string[] = [];
    const failed: string[] = [];
    const consoleErrors: string[] = [];
    page.on('request', (request) => requests.push(request.url()));
    page.on('requestfailed', (request) => failed.push(`${request.url()}: ${request.failure()?.errorText}`));
    page.on('console', (message) => { if (message.type() === 'error') consoleErrors.push(message.text()); });
    page.on('pageerror', (error) => consoleErrors.push(error.message));
    const response = await page.goto(url, { waitUntil: 'networkidle' });
    mkdirSync('test/artifacts', { recursive: true });
    await page.screenshot({ path: `test/artifacts/${screenshot}.png`, fullPage: true });
    const links = await page.$$eval('a[href]', (anchors) => anchors.map((a) => ({ href: a.getAttribute('href')!, text: a.textContent ?? '' })));
    const title = await page.title();
    const text = await page.innerText('body');
    await page.emulateMedia({ media: 'print' });
    const pdf = await page.pdf({ format: 'A4' });
    return { status: response?.status(), requests, failed, consoleErrors, links, title, text, pdfBytes: pdf.length };
  } finally {
    await browser.close();
  }
}

/** the HTML served from a loopback server of its own, then opened */
export async function openHtmlInChromium(html: string, screenshot: string): Promise<OpenedPage> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(html);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    return await openInChromium(`http://127.0.0.1:${(server.address() as AddressInfo).port}/report.html`, screenshot);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}
