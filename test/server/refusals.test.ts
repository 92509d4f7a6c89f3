/** Refused requests leave a trace, one audit row per source, reason and minute. */
import { describe, expect, it } from 'vitest';
import { useServer } from './harness.js';

const api = useServer();

async function refusals(reason: string) {
  const audit = await api.db.admin`select host(ip_address) as ip, user_agent, failure_reason, details from compliance.audit_logs
                                    where action = 'security.request_refused' and failure_reason = ${reason}`;
  const [window] = await api.db.admin`select coalesce(sum(refusals), 0)::int as n from compliance_private.refusal_windows where reason = ${reason}`;
  return { audit, counted: window!.n };
}

describe('refused requests', () => {
  it('counts a flood of bad tokens from one source and audits it once, with the reason, IP and user agent', async () => {
    for (let i = 0; i < 5; i += 1) {
      expect((await api.call('GET', '/api/v1/users/me', 'not.a.jwt', undefined, { 'user-agent': 'flooder/1' })).status).toBe(401);
    }
    const { audit, counted } = await refusals('invalid_token');
    expect(counted).toBe(5);
    expect(audit).toEqual([expect.objectContaining({ ip: '127.0.0.1', user_agent: 'flooder/1', details: expect.objectContaining({ reason: 'invalid_token' }) })]);
  });

  it('records expired tokens, missing tokens, forbidden operations and expired sessions each under its reason', async () => {
    expect((await api.call('GET', '/api/v1/users/me', await api.token('user:late', [], -60))).status).toBe(401);
    expect((await api.call('GET', '/api/v1/users/me')).status).toBe(401);
    expect((await api.call('GET', '/api/v1/dpo/requests', await api.token('user:curious'))).status).toBe(403);
    const sleepy = await api.token('user:sleepy-refused');
    expect((await api.call('GET', '/api/v1/users/me', sleepy)).status).toBe(200);
    await api.db.admin`update compliance.sessions set last_activity_at = now() - interval '1 hour' where user_id = 'user:sleepy-refused'`;
    expect((await api.call('GET', '/api/v1/users/me', sleepy)).status).toBe(401);
    for (const reason of ['expired_token', 'no_token', 'forbidden', 'session_expired']) {
      const { audit, counted } = await refusals(reason);
      expect(counted, reason).toBe(1);
      expect(audit, reason).toHaveLength(1);
    }
  });
});
