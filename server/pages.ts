/**
 * The privacy center and DPO console (issue #22): the built pages from web/dist, their
 * configuration (/ui/config) and, in development only, a sign-in that mints a token for a typed
 * user id (/ui/dev-token). The pages call the same tRPC API as every client, so they can do
 * nothing the API forbids.
 */
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { WebAuth } from '../core/config.js';
import { signDevelopmentToken } from './auth/token.js';
import { sendJson } from './rest/respond.js';

export interface WebOptions {
  /** the built assets (web/build.ts: npm install builds them, npm start in development when stale) */
  distDir: string;
  auth: WebAuth;
  sessionIdleTimeoutSeconds: number;
}

const PAGES = new Set(['/', '/dpo']);
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.woff2': 'font/woff2', '.json': 'application/json' };
const DEV_ROLES = ['dpo', 'approver', 'auditor', 'staff'] as const;
const devTokenInput = z.strictObject({ subject: z.string().trim().min(1).max(256).regex(/^[^\s]+$/, 'a user id has no spaces'),
  roles: z.array(z.enum(DEV_ROLES)).max(DEV_ROLES.length).default([]) });

/** the documents the pages link to (a chain problem's explanation), served as pages */
const DOCS: Record<string, string> = {
  '/docs/AUDIT_HASHING.md': fileURLToPath(new URL('../db/AUDIT_HASHING.md', import.meta.url)),
};

const escapeHtml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
/** a heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces as hyphens */
export const headingAnchor = (heading: string) => heading.toLowerCase().replace(/[^\p{L}\p{N}\s-]/gu, '').trim().replace(/\s/g, '-');

/** a Markdown document as a page: its headings with their anchors, the text between them as written */
export function documentPage(markdown: string): string {
  const parts: string[] = [];
  let text: string[] = [];
  const flush = () => {
    if (text.join('').trim()) parts.push(`<pre>${escapeHtml(text.join('\n').trim())}</pre>`);
    text = [];
  };
  let title = 'pgcomply';
  for (const line of markdown.split('\n')) {
    const heading = /^(#{1,3})\s+(.*)$/.exec(line);
    if (!heading) {
      text.push(line);
      continue;
    }
    flush();
    if (heading[1]!.length === 1) title = heading[2]!;
    parts.push(`<h${heading[1]!.length} id="${headingAnchor(heading[2]!)}">${escapeHtml(heading[2]!)}</h${heading[1]!.length}>`);
  }
  flush();
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title>`
    + '<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.5}pre{white-space:pre-wrap;font:inherit}</style>'
    + `</head><body><main>${parts.join('\n')}</main></body></html>`;
}

/** what the pages may load and send: this origin only (and the identity provider's, for sign-in) */
function securityHeaders(options: WebOptions): Record<string, string> {
  const issuer = options.auth.mode === 'oidc' ? ` ${new URL(options.auth.issuer).origin}` : '';
  return {
    'content-security-policy': `default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; `
      + `connect-src 'self'${issuer}; form-action 'self'${issuer}; frame-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; object-src 'none'`,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
  };
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 4096) throw new Error('the body is too large');
  }
  return JSON.parse(body || '{}');
}

/** answers the request when it is one of the pages' own; false otherwise */
export function serveWeb(options: WebOptions, req: http.IncomingMessage, res: http.ServerResponse, urlPath: string): boolean {
  if (urlPath === '/ui/config' && req.method === 'GET') {
    const auth = options.auth.mode === 'oidc'
      ? { mode: 'oidc', issuer: options.auth.issuer, client_id: options.auth.clientId, scope: options.auth.scope }
      : { mode: options.auth.mode };
    sendJson(res, 200, { auth, session_idle_timeout_seconds: options.sessionIdleTimeoutSeconds });
    return true;
  }
  if (urlPath === '/ui/dev-token' && req.method === 'POST') {
    if (options.auth.mode !== 'development') {
      sendJson(res, 404, { code: 'NOT_FOUND', message: 'the development sign-in exists only while tokens are checked against the development secret' });
      return true;
    }
    readJson(req).then((body) => {
      const input = devTokenInput.safeParse(body);
      if (!input.success) {
        sendJson(res, 400, { code: 'BAD_REQUEST', message: input.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ') });
        return undefined;
      }
      return signDevelopmentToken({ subject: input.data.subject, roles: input.data.roles, ttlSeconds: 8 * 3600 })
        .then((token) => sendJson(res, 200, { token, development: true }));
    }).catch(() => sendJson(res, 400, { code: 'BAD_REQUEST', message: 'the body must be JSON: {"subject": "user:alice", "roles": []}' }));
    return true;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const doc = DOCS[urlPath];
  if (doc) {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache', ...securityHeaders(options) });
    res.end(req.method === 'HEAD' ? undefined : documentPage(readFileSync(doc, 'utf8')));
    return true;
  }
  const file = PAGES.has(urlPath) ? 'index.html' : urlPath.startsWith('/assets/') || urlPath === '/favicon.svg' ? urlPath.slice(1) : undefined;
  if (!file) return false;
  const full = path.resolve(options.distDir, file);
  if (!full.startsWith(path.resolve(options.distDir) + path.sep) || !existsSync(full) || !statSync(full).isFile()) {
    sendJson(res, 404, { code: 'NOT_FOUND', message: file === 'index.html' ? 'the pages are not built: npm start builds them (or npm run build:web)' : `no asset ${urlPath}` });
    return true;
  }
  res.writeHead(200, {
    'content-type': TYPES[path.extname(full)] ?? 'application/octet-stream',
    // hashed asset names never change content; the page itself is checked each time
    'cache-control': file === 'index.html' ? 'no-cache' : 'public, max-age=31536000, immutable',
    ...securityHeaders(options),
  });
  if (req.method === 'HEAD') res.end();
  else createReadStream(full).pipe(res);
  return true;
}
