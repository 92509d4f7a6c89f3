/**
 * DNS rebinding: a page the developer visits rebinds its own name to 127.0.0.1 and calls the
 * server. It answers only for the host names it serves (ALLOWED_HOSTS, loopback names by
 * default) and says 421 to any other; every answer says nosniff.
 */
import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { useServer } from './harness.js';

const api = useServer({ web: {} });

function request(method: string, path: string, host: string, body?: unknown, token?: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
  const url = new URL(api.baseUrl);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, method, path,
      headers: { host, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(token ? { authorization: `Bearer ${token}` } : {}) } }, (res) => {
      let text = '';
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

describe('host names', () => {
  it('refuses a rebound name with 421: no development token, no export', async () => {
    const minted = await request('POST', '/ui/dev-token', 'rebind.evil.example', { subject: 'dpo:mallory', roles: ['dpo'] });
    expect(minted.status).toBe(421);
    expect(minted.text).not.toMatch(/token"/);
    const token = await api.token('user:rebound');
    expect((await request('GET', '/api/v1/users/me/data', 'rebind.evil.example:3000', undefined, token)).status).toBe(421);
    expect((await request('GET', '/trpc/me.data', 'rebind.evil.example', undefined, token)).status).toBe(421);
  });

  it('answers the loopback names, with or without a port', async () => {
    for (const host of ['127.0.0.1', `127.0.0.1:${new URL(api.baseUrl).port}`, 'localhost:3000', '[::1]:3000']) {
      expect((await request('POST', '/ui/dev-token', host, { subject: 'user:local', roles: [] })).status, host).toBe(200);
    }
  });

  it('says nosniff on every answer', async () => {
    const token = await api.token('user:sniff');
    for (const path of ['/api/v1/users/me', '/api/openapi.json', '/healthz', '/', '/api/v1/nothing-here']) {
      const answer = await request('GET', path, '127.0.0.1', undefined, token);
      expect(answer.headers['x-content-type-options'], path).toBe('nosniff');
    }
    expect((await request('GET', '/healthz', 'rebind.evil.example')).headers['x-content-type-options']).toBe('nosniff');
  });
});
