/**
 * A request is applied once: one that carries an Idempotency-Key claims it in the transaction
 * that applies it, so the same key again is refused (RPLAY) and a failed attempt leaves it
 * unclaimed. A database that is gone answers 503 with Retry-After, never a 500; one that comes
 * back within seconds serves the request that waited for it.
 */
import { connect } from '../../db/tls.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signDevelopmentToken } from '../../server/auth/token.js';
import { type CuttableProxy, startCuttableProxy } from '../provision/cuttable-proxy.js';
import { quiet } from '../provision/database.js';
import { hold } from '../provision/until.js';
import { serveApp, useServer } from './harness.js';

const api = useServer();
const consent = (token: string, key: string | null, granted = true) => api.call('POST', '/api/v1/users/me/consent', token,
  { consent_type: 'analytics', granted }, key ? { 'idempotency-key': key } : {});
const consents = async (user: string) => Number((await api.db.admin`select count(*)::int as n from compliance.consent_records where user_id = ${user}`)[0]!.n);

describe('Idempotency-Key', () => {
  it('applies a request once: the same key again is refused with 409 (RPLAY) and writes nothing', async () => {
    const token = await api.token('user:once');
    const first = await consent(token, 'consent-7b0c5a1e-0001');
    expect(first.status, first.text).toBe(200);
    const again = await consent(token, 'consent-7b0c5a1e-0001');
    expect(again.status).toBe(409);
    expect(again.json.data.sqlstate).toBe('RPLAY');
    expect(await consents('user:once')).toBe(1);
    // another key is another request
    expect((await consent(token, 'consent-7b0c5a1e-0002', false)).status).toBe(200);
    expect(await consents('user:once')).toBe(2);
  });

  it('is the actor\'s own: another subject\'s request with the same key is applied, and the table names no one', async () => {
    expect((await consent(await api.token('user:first-actor'), 'shared-key-000000')).status).toBe(200);
    expect((await consent(await api.token('user:second-actor'), 'shared-key-000000')).status).toBe(200);
    const stored = await api.db.admin`select * from compliance_private.request_keys`;
    expect(JSON.stringify(stored)).not.toMatch(/first-actor|second-actor|shared-key/);
  });

  it('stays unclaimed when the attempt fails, so the retry is applied', async () => {
    const token = await api.token('user:retry');
    const refused = await api.call('POST', '/api/v1/users/me/consent', token, { consent_type: 'no such purpose', granted: true }, { 'idempotency-key': 'retry-key-00000001' });
    expect(refused.status).toBeGreaterThanOrEqual(400);
    expect(refused.status).toBeLessThan(500);
    expect((await consent(token, 'retry-key-00000001')).status).toBe(200);
  });

  it('refuses a key too short to be unique (400, BADRG)', async () => {
    const short = await consent(await api.token('user:short-key'), 'abc');
    expect(short.status).toBe(400);
    expect(short.json.data.sqlstate).toBe('BADRG');
  });

  it('forgets keys after a day, for the worker only (42501 for the app)', async () => {
    await api.db.admin`update compliance_private.request_keys set claimed_at = now() - interval '25 hours'`;
    const [forgotten] = await api.db.as('compliance_worker', null, (tx) => tx`select compliance.forget_request_keys() as n`);
    expect(Number(forgotten!.n)).toBeGreaterThan(0);
    expect((await api.db.admin`select count(*)::int as n from compliance_private.request_keys`)[0]!.n).toBe(0);
    await expect(api.db.as('compliance_app', { actor: 'user:x' }, (tx) => tx`select compliance.forget_request_keys()`)).rejects.toMatchObject({ code: '42501' });
  });
});

describe('a database that goes away', () => {
  let proxy: CuttableProxy;
  let baseUrl = '';
  let close: () => Promise<void> = async () => undefined;

  beforeAll(async () => {
    const target = new URL(api.db.loginUrl('server'));
    proxy = await startCuttableProxy({ host: target.hostname, port: Number(target.port) });
    target.hostname = '127.0.0.1';
    target.port = String(proxy.port);
    // as server/main.ts connects (db/tls.ts): reconnect attempts at most a second apart, where
    // postgres.js's own backoff would wait up to 20 s after a ten-second outage
    const proxied = connect(target.toString(), { ...quiet, max: 4, connect_timeout: 2 });
    const app = await serveApp(proxied);
    baseUrl = app.baseUrl;
    close = async () => {
      await app.close();
      await proxy.close();
    };
  });
  afterAll(() => close());

  const post = async (key: string) => {
    const response = await fetch(`${baseUrl}/api/v1/users/me/consent`, { method: 'POST',
      headers: { authorization: `Bearer ${await signDevelopmentToken({ subject: 'user:outage', roles: [] })}`, 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify({ consent_type: 'analytics', granted: true }) });
    return { status: response.status, retryAfter: response.headers.get('retry-after'), body: await response.json() as any };
  };

  it('answers 503 with Retry-After while it is gone, never 500, and serves a request that waited out a short cut', async () => {
    expect((await post('outage-before-0001')).status).toBe(200);
    await proxy.cut();
    const gone = await post('outage-during-0001');
    expect(gone.status).toBe(503);
    expect(gone.retryAfter).toBe('2');
    expect(gone.body.message).toMatch(/the database is unavailable for a moment/);
    // back within the seconds the server waits before answering: the request is applied, once
    const waiting = post('outage-short-0001');
    await hold(300);
    await proxy.restore();
    expect((await waiting).status).toBe(200);
    expect(await consents('user:outage')).toBe(2);
  });
});
