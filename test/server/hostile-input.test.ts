/** Hostile input gets a 4xx that says what is wrong, and changes nothing. */
import { describe, expect, it } from 'vitest';
import { useServer } from './harness.js';

const api = useServer();

async function signedIn(userId: string) {
  const token = await api.token(userId);
  const response = await api.call('GET', '/api/v1/users/me', token);
  expect(response.status, response.text).toBe(200);
  return token;
}

async function rawPost(path: string, token: string, body: string, contentType = 'application/json') {
  const response = await fetch(`${api.baseUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': contentType }, body });
  return { status: response.status, text: await response.text(), headers: response.headers };
}

const auditRows = async (userId: string) =>
  (await api.db.admin`select count(*)::int as n from compliance.audit_logs where user_id = ${userId}`)[0]!.n;

describe('a body that is not JSON', () => {
  it('gets 400 saying so, on REST and on tRPC, and writes nothing', async () => {
    const token = await signedIn('user:malformed');
    const before = await auditRows('user:malformed');
    for (const path of ['/api/v1/users/me/consent', '/trpc/me.consent.set']) {
      const response = await rawPost(path, token, '{"full_name": ');
      expect(response.status, `${path} ${response.text}`).toBe(400);
      expect(response.text, path).toMatch(/not valid JSON/i);
      expect(response.text, path).not.toMatch(/at .*\.(ts|js):\d+/);
    }
    expect(await auditRows('user:malformed')).toBe(before);
  });
});

describe('U+0000 in a string', () => {
  it('gets 400 naming the field, in every kind of field, and writes nothing', async () => {
    const token = await signedIn('user:nul');
    const before = await auditRows('user:nul');
    const attempts: [string, string, unknown, string][] = [
      ['PATCH', '/api/v1/users/me', { full_name: 'a\u0000b' }, 'full_name'],
      ['POST', '/api/v1/users/me/consent', { consent_type: 'analytics', granted: true, policy_version: 'v\u00001' }, 'policy_version'],
      ['POST', '/trpc/me.setPreferences', { preferences: { theme: 'da\u0000rk' } }, 'preferences.theme'],
      ['POST', '/trpc/me.setPreferences', { preferences: { 'th\u0000eme': 'dark' } }, 'preferences.th'],
      ['POST', '/trpc/me.startConversation', { title: '\u0000' }, 'title'],
    ];
    for (const [method, path, body, field] of attempts) {
      const response = await api.call(method, path, token, body);
      expect(response.status, `${path} ${response.text}`).toBe(400);
      expect(response.text, path).toContain(field);
      expect(response.text, path).toContain('U+0000');
    }
    expect(await auditRows('user:nul')).toBe(before);
  });
});

describe('a known path with another method', () => {
  it('gets 405 with an Allow header listing the methods the path has', async () => {
    const token = await signedIn('user:method');
    const put = await api.call('PUT', '/api/v1/users/me', token, {});
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')?.split(/,\s*/).sort()).toEqual(['DELETE', 'GET', 'PATCH']);
    const del = await api.call('DELETE', '/api/v1/users/me/consent', token);
    expect(del.status).toBe(405);
    expect(del.headers.get('allow')?.split(/,\s*/).sort()).toEqual(['GET', 'POST']);
    expect((await api.call('GET', '/api/v1/nowhere', token)).status).toBe(404);
  });
});
