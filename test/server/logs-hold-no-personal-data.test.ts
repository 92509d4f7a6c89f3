/**
 * The logs carry no personal data: a subject with an e-mail, a name, an IP address and a user agent
 * of their own walks the README's flows (and a few refusals), a workforce member breaks the glass
 * on them, the worker delivers that alert to its log; none of those strings appears in a line the
 * server or the worker wrote.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../server/app.js';
import { signDevelopmentToken } from '../../server/auth/token.js';
import { createVerifier } from '../../server/auth/verify.js';
import { createLogger } from '../../core/log.js';
import { createMetrics } from '../../server/metrics.js';
import { DataKeys } from '../../core/keys/data-keys.js';
import { quiet, useTestDatabase } from '../provision/database.js';
import { until } from '../provision/until.js';
import { testMasterKeys } from './harness.js';

const db = useTestDatabase();
const tag = randomBytes(4).toString('hex');
const person = {
  subject: `user:lg${tag}`,
  email: `lg${tag}@mail.example`,
  name: `Lyra Gunnarsdottir ${tag}`,
  ip: `127.${(parseInt(tag.slice(0, 2), 16) % 200) + 20}.${parseInt(tag.slice(2, 4), 16)}.${(parseInt(tag.slice(4, 6), 16) % 250) + 2}`,
  agent: `LyraBrowser/${tag}`,
};
let serverLog = '';
let baseUrl = '';
let close: () => Promise<void> = async () => undefined;

beforeAll(async () => {
  const sql = postgres(db.loginUrl('server'), { ...quiet, max: 5 });
  const sink = new Writable({ write(chunk, _encoding, done) { serverLog += chunk; done(); } });
  const server = createApp({ sql, log: createLogger('trace', 'pgcomply', sink), verifier: createVerifier({}), metrics: createMetrics(),
    sessionIdleTimeoutSeconds: 900, dataKeys: new DataKeys(testMasterKeys()) });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = async () => {
    await new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); });
    await sql.end();
  };
});
afterAll(() => close());

/** a request from the person's own address and browser */
function call(method: string, route: string, token: string | undefined, body?: unknown): Promise<number> {
  const url = new URL(route, baseUrl);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname + url.search, method, localAddress: person.ip,
      headers: { 'user-agent': person.agent, ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) } },
    (res) => { res.resume(); res.on('end', () => resolve(res.statusCode!)); });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

function leaks(text: string): string[] {
  return Object.entries(person).filter(([, value]) => text.includes(value)).map(([what]) => what);
}

describe('the logs', () => {
  it('redact who, from where and what, whatever is logged', () => {
    let line = '';
    const log = createLogger('info', 'probe', new Writable({ write(chunk, _e, done) { line += chunk; done(); } }));
    log.error({ user_id: person.subject, ip: person.ip, alert: { patient: person.subject, actor: 'staff:x' }, err: { detail: `Failing row contains (${person.email})` } }, 'probe');
    expect(line).toContain('probe');
    expect(leaks(line)).toEqual([]);
  });

  it('hold none of a subject\'s e-mail, name, IP address or user agent after the README\'s flows, a refusal or two, and an alert', async () => {
    const token = await signDevelopmentToken({ subject: person.subject });
    expect(await call('PATCH', '/api/v1/users/me', token, { full_name: person.name, email: person.email })).toBe(200);
    expect(await call('POST', '/api/v1/users/me/consent', token, { consent_type: 'analytics', granted: true })).toBe(200);
    expect(await call('GET', '/api/v1/users/me/data', token)).toBe(200);
    expect(await call('GET', '/api/v1/users/me/export?format=csv', token)).toBe(200);
    expect(await call('PATCH', '/api/v1/users/me', token, { email: `not an e-mail ${person.email}` })).toBe(400);
    expect(await call('GET', '/api/v1/dpo/requests', token)).toBe(403);
    expect(await call('GET', '/api/v1/users/me', undefined)).toBe(401);
    expect(await call('GET', '/api/v1/users/me', 'not.a.jwt')).toBe(401);
    const staff = await signDevelopmentToken({ subject: 'staff:lg', roles: ['staff'] });
    expect(await call('POST', `/api/v1/staff/patients/${encodeURIComponent(person.subject)}/emergency-access`, staff,
      { reason: `unconscious patient ${person.name} in the emergency room` })).toBe(200);

    // the worker delivers the emergency-access alert to its log (no webhook)
    let workerLog = '';
    const worker: ChildProcess = spawn(process.execPath, ['--import', 'tsx', path.resolve('worker/main.ts')], {
      env: { ...process.env, WORKER_DATABASE_URL: db.loginUrl('worker'), LOG_LEVEL: 'trace', DATABASE_URL: '', ALERT_WEBHOOK_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    worker.stdout!.on('data', (chunk) => (workerLog += chunk));
    worker.stderr!.on('data', (chunk) => (workerLog += chunk));
    try {
      await until(async () => ((await db.admin`select 1 from compliance.alert_outbox where topic = 'phi.emergency_access' and state = 'delivered'`).length ? true : undefined),
        60_000, 'the worker to deliver the alert to its log');
      expect(await call('DELETE', '/api/v1/users/me?confirm=true', token)).toBe(200);
    } finally {
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      worker.kill('SIGTERM');
      await exited;
    }
    expect(workerLog).toContain('phi.emergency_access');
    expect(leaks(workerLog), workerLog.split('\n').filter((l) => leaks(l).length).slice(0, 3).join('\n')).toEqual([]);
    expect(leaks(serverLog), serverLog.split('\n').filter((l) => leaks(l).length).slice(0, 3).join('\n')).toEqual([]);
  }, 120_000);
});
