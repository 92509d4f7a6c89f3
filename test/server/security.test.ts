/** What reaches the API from outside. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../core/config.js';
import { useServer } from './harness.js';

const api = useServer();

async function consentCount(userId: string) {
  const [row] = await api.db.admin`select count(*)::int as n from compliance.consent_records where user_id = ${userId}`;
  return row!.n as number;
}

async function exists(userId: string) {
  const [row] = await api.db.admin`select count(*)::int as n from compliance.user_profiles where user_id = ${userId}`;
  return row!.n === 1;
}

const NOT_BOOLEANS = ['false', 'no', '0', 'true', [], {}, 0, 1, null];

/** tRPC's JSON body for a mutation */
const trpcCall = (procedure: string, token: string, input: unknown) => api.call('POST', `/trpc/${procedure}`, token, input);

/** a token for a subject whose profile exists (a refused request creates nothing) */
async function signedIn(userId: string) {
  const token = await api.token(userId);
  expect((await api.call('GET', '/api/v1/users/me', token)).status).toBe(200);
  return token;
}

async function booleansHoldOverTrpc(userId: string) {
  const token = await signedIn(userId);
  for (const granted of NOT_BOOLEANS) {
    const response = await trpcCall('me.consent.set', token, { consent_type: 'analytics', granted });
    expect(response.status, JSON.stringify(granted)).toBe(400);
  }
  expect(await consentCount(userId)).toBe(0);
  for (const confirm of ['false', 'true', 1, [], {}]) {
    const response = await trpcCall('me.erase', token, { confirm });
    expect(response.status, JSON.stringify(confirm)).toBe(400);
    expect(response.json.error.data.sqlstate).toBe('CONFM');
  }
  expect(await exists(userId)).toBe(true);
}

async function booleansHoldOverRest(userId: string) {
  const token = await signedIn(userId);
  for (const granted of NOT_BOOLEANS) {
    const response = await api.call('POST', '/api/v1/users/me/consent', token, { consent_type: 'analytics', granted });
    expect(response.status, JSON.stringify(granted)).toBe(400);
  }
  expect(await consentCount(userId)).toBe(0);
  for (const confirm of ['false', '0', 'no', 'off', 'FALSE', 'True', '1', 'yes', '']) {
    const response = await api.call('DELETE', `/api/v1/users/me?confirm=${confirm}`, token);
    expect(response.status, confirm).toBe(400);
    expect(response.json.message, confirm).toContain('confirm');
  }
  expect(await exists(userId)).toBe(true);
}

describe('booleans are booleans on both transports', () => {
  it('refuses strings, numbers, arrays and objects for a boolean, tRPC first, then REST, then tRPC again', async () => {
    await booleansHoldOverTrpc('user:trpc-first');
    await booleansHoldOverRest('user:rest-second');
    await booleansHoldOverTrpc('user:trpc-third');
  });

  it('records a real false as a withdrawal and erases only on confirm=true', async () => {
    const token = await api.token('user:real');
    const withdrawn = await api.call('POST', '/api/v1/users/me/consent', token, { consent_type: 'analytics', granted: false });
    expect(withdrawn.status).toBe(200);
    expect(withdrawn.json.record.granted).toBe(false);
    const erased = await api.call('DELETE', '/api/v1/users/me?confirm=true', token);
    expect(erased.status, erased.text).toBe(200);
    expect(await exists('user:real')).toBe(false);
  });
});

describe('request size and shape', () => {
  it('refuses a tRPC body over the limit with 413 before parsing it', async () => {
    const token = await api.token('user:big');
    const big = JSON.stringify({ preferences: { blob: 'x'.repeat(5 * 1024 * 1024) } });
    const response = await fetch(`${api.baseUrl}/trpc/me.setPreferences`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: big,
    });
    expect(response.status).toBe(413);
    const [row] = await api.db.admin`select count(*)::int as n from compliance.user_preferences where user_id = 'user:big'`;
    expect(row!.n).toBe(0);
  });

  it('answers each request on a kept-alive connection after refusing a body over the limit (413, then the connection closes)', async () => {
    const token = await api.token('user:big2');
    const send = (path: string, body: string, type: string) => fetch(`${api.baseUrl}${path}`, {
      method: path.startsWith('/api/') ? 'PUT' : 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': type }, body, signal: AbortSignal.timeout(60_000),
    }).then(async (r) => ({ status: r.status, connection: r.headers.get('connection'), text: await r.text() }));
    for (let i = 0; i < 20; i += 1) {
      // just over the limit, in characters of four UTF-8 bytes: the refusal comes while the body is still arriving
      const big = JSON.stringify({ discovered_at: '\u{10a86}'.repeat(100_000 + i * 1000), description: 'a'.repeat(200_000) });
      for (const path of ['/trpc/me.setPreferences', '/api/v1/users/me/preferences']) {
        const refused = await send(path, big, 'application/json');
        expect(refused.status, path).toBe(413);
        expect(refused.connection, path).toBe('close');
        const next = await send(path, 'not json', 'application/json');
        expect(next.status, `${path}: ${next.text}`).toBe(400);
      }
    }
  });

  it('answers 400 to the query keys constructor, __proto__ and prototype, and erases nothing', async () => {
    const token = await signedIn('user:proto');
    for (const key of ['constructor', '__proto__', 'prototype']) {
      const response = await api.call('DELETE', `/api/v1/users/me?${key}=1&confirm=true`, token);
      expect(response.status, key).toBe(400);
      expect(response.text).not.toMatch(/at .*\.[jt]s:\d+/);
    }
    expect(await exists('user:proto')).toBe(true);
  });
});

describe('the development secret stays on loopback', () => {
  it('refuses to start on a public address with the development secret, and starts there with a secret or a JWKS', () => {
    expect(() => loadConfig({ HOST: '0.0.0.0' })).toThrow(/HOST 0\.0\.0\.0 is not a loopback address/);
    expect(() => loadConfig({ HOST: '::' })).toThrow(/not a loopback address/);
    expect(() => loadConfig({ HOST: '192.0.2.10' })).toThrow(/not a loopback address/);
    for (const host of ['127.0.0.1', 'localhost', '::1', '127.0.0.2']) expect(loadConfig({ HOST: host }).HOST).toBe(host);
    expect(loadConfig({ HOST: '0.0.0.0', AUTH_JWT_SECRET: 'x'.repeat(32) }).HOST).toBe('0.0.0.0');
    expect(loadConfig({ HOST: '0.0.0.0', AUTH_JWKS_URL: 'https://idp.example/jwks' }).HOST).toBe('0.0.0.0');
  });

  it('has docker-compose require a secret or a JWKS, and the tombstone pepper', () => {
    const compose = readFileSync('docker-compose.yml', 'utf8');
    expect(compose).toMatch(/NODE_ENV: \$\{NODE_ENV:-production\}/);
    expect(compose).toMatch(/TOMBSTONE_PEPPER: \$\{TOMBSTONE_PEPPER:\?/);
    expect(() => loadConfig({ NODE_ENV: 'production', HOST: '0.0.0.0' })).toThrow(/AUTH_JWKS_URL \(or AUTH_JWT_SECRET\) must be set in production/);
  });
});
