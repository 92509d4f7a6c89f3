/**
 * A subject's erasure reaches every other system: one task per system in the erasure's
 * transaction; the worker delivers the webhooks signed with each system's own secret and retries a
 * 500; one system confirms through the signed callback, the DPO confirms the manual one, and only
 * then is the request complete. A forged or replayed callback changes nothing, and a worker killed
 * mid-delivery loses no task.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { signedHeaders, signature, systemSecret } from '../../core/signing.js';
import { startWorker, type Worker } from '../../worker/runner.js';
import { useServer } from '../server/harness.js';
import { expectSqlState } from '../provision/database.js';
import { until } from '../provision/until.js';

const SECRET = 'a-propagation-secret-of-at-least-32-characters';
const api = useServer({ propagationSecret: SECRET });

interface Received { path: string; headers: http.IncomingHttpHeaders; body: string }
const received: Received[] = [];
/** each endpoint's answer to its n-th request */
const answers: Record<string, (n: number) => number | 'hang'> = {};
let receiverUrl = '';
const receiver = http.createServer((req, res) => {
  let body = '';
  req.on('data', (chunk) => (body += chunk));
  req.on('end', () => {
    const path = req.url ?? '/';
    received.push({ path, headers: req.headers, body });
    const answer = (answers[path] ?? (() => 200))(received.filter((r) => r.path === path).length);
    if (answer === 'hang') return;
    res.writeHead(answer, { 'content-type': 'application/json' }).end(answer === 202 ? '{"accepted":true}' : '');
  });
});
beforeAll(async () => {
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});
afterAll(async () => {
  receiver.closeAllConnections();
  await new Promise((resolve) => receiver.close(resolve));
});

const tasksOf = async (requestId: number) =>
  api.db.admin`select id::text, system, state, attempts, confirmed_via, user_id, last_error from compliance.propagation_tasks where request_id = ${requestId} order by system`;
const requestOf = async (requestId: number) => (await api.db.admin`select status, completed_at from compliance.dsr_requests where id = ${requestId}`)[0]!;

async function systems(dpo: string, prefix: string) {
  const recorded = await Promise.all([
    api.call('POST', '/api/v1/dpo/processing-systems', dpo, { system: `${prefix}_hooks`, name: 'Hooks', kind: 'analytics', country: 'DE', connector: 'webhook', endpoint_url: `${receiverUrl}/${prefix}/hooks`, request_kinds: ['erasure'] }),
    api.call('POST', '/api/v1/dpo/processing-systems', dpo, { system: `${prefix}_authz`, name: 'Authorization store', kind: 'authorization_store', country: 'DE', connector: 'webhook', endpoint_url: `${receiverUrl}/${prefix}/authz`, request_kinds: ['erasure'] }),
    api.call('POST', '/api/v1/dpo/processing-systems', dpo, { system: `${prefix}_crm`, name: 'CRM', kind: 'processor', country: 'FR', connector: 'manual', request_kinds: ['erasure'] }),
  ]);
  for (const call of recorded) expect(call.status, call.text).toBe(200);
}

/** a callback as a system sends it, signed with the secret given */
const callback = (body: object, secret: string) => {
  const text = JSON.stringify(body);
  return fetch(`${api.baseUrl}/api/v1/propagation/callback`, { method: 'POST', body: text,
    headers: { 'content-type': 'application/json', ...signedHeaders(secret, text) } }).then(async (r) => ({ status: r.status, json: await r.json() as any }));
};

describe('an erasure propagated to three systems', () => {
  let worker: Worker | undefined;
  afterEach(async () => {
    await worker?.stop();
    worker = undefined;
  });

  it('completes only when the retried webhook, the callback and the DPO have each confirmed; forged callbacks are refused', async () => {
    const dpo = await api.token('dpo:dana', ['dpo']);
    await systems(dpo, 'e1');
    answers['/e1/hooks'] = (n) => (n <= 2 ? 500 : 200);
    answers['/e1/authz'] = () => 202;
    const subject = await api.token('user:pr1');
    await api.call('PATCH', '/api/v1/users/me', subject, { full_name: 'Pat Ryan' });
    const erased = await api.call('DELETE', '/api/v1/users/me?confirm=true', subject);
    expect(erased.status, erased.text).toBe(200);
    const requestId = erased.json.receipt.dsr_request_id as number;
    expect(erased.json.receipt.other_systems.map((s: { system: string }) => s.system)).toEqual(['e1_authz', 'e1_crm', 'e1_hooks']);
    expect(await requestOf(requestId)).toMatchObject({ status: 'in_progress', completed_at: null });

    worker = await startWorker({ connectionString: api.db.loginUrl('worker'), pollInterval: 200,
      propagation: { secret: SECRET, leaseSeconds: 10, intervalSeconds: 1, scim: {} } });
    const byWebhook = async () => {
      const tasks = await tasksOf(requestId);
      const hooks = tasks.find((t) => t.system === 'e1_hooks')!;
      const authz = tasks.find((t) => t.system === 'e1_authz')!;
      return hooks.state === 'confirmed' && authz.state === 'awaiting_confirmation' ? { hooks, authz } : undefined;
    };
    const { hooks, authz } = await until(byWebhook, 60_000, 'the webhook retried to success and the other accepted');
    expect(hooks).toMatchObject({ attempts: 3, confirmed_via: 'connector', user_id: null });
    for (const request of received.filter((r) => r.path.startsWith('/e1/'))) {
      const system = request.path === '/e1/hooks' ? 'e1_hooks' : 'e1_authz';
      expect(request.headers['x-pgcomply-signature']).toBe(signature(systemSecret(SECRET, system), String(request.headers['x-pgcomply-timestamp']), request.body));
      expect(JSON.parse(request.body)).toMatchObject({ kind: 'erasure', subject: 'user:pr1', system, request_id: String(requestId) });
    }

    // forged: the wrong secret; another system's secret for this system's task; an old timestamp
    const forged = await callback({ task_id: authz.id, system: 'e1_authz', outcome: 'done' }, systemSecret('not-the-secret-of-this-deployment-at-all', 'e1_authz'));
    expect(forged.status).toBe(401);
    const impostor = await callback({ task_id: authz.id, system: 'e1_hooks', outcome: 'done' }, systemSecret(SECRET, 'e1_hooks'));
    expect([impostor.status, impostor.json.message]).toEqual([409, expect.stringContaining('awaiting this system')]);
    const oldText = JSON.stringify({ task_id: authz.id, system: 'e1_authz', outcome: 'done' });
    const old = await fetch(`${api.baseUrl}/api/v1/propagation/callback`, { method: 'POST', body: oldText,
      headers: { 'content-type': 'application/json', ...signedHeaders(systemSecret(SECRET, 'e1_authz'), oldText, Date.now() - 10 * 60_000) } });
    expect(old.status).toBe(401);
    expect((await tasksOf(requestId)).find((t) => t.system === 'e1_authz')!.state).toBe('awaiting_confirmation');
    const [refusal] = await api.db.admin`select count(*)::int as n from compliance.audit_logs where action = 'security.request_refused' and details ->> 'reason' = 'invalid_token'`;
    expect(refusal!.n).toBeGreaterThan(0);

    const confirmed = await callback({ task_id: authz.id, system: 'e1_authz', outcome: 'done' }, systemSecret(SECRET, 'e1_authz'));
    expect([confirmed.status, confirmed.json.state]).toEqual([200, 'confirmed']);
    const replayed = await callback({ task_id: authz.id, system: 'e1_authz', outcome: 'done' }, systemSecret(SECRET, 'e1_authz'));
    expect(replayed.status).toBe(409);

    // the manual system is still open: the request waits for it, and cannot be closed around it
    expect((await requestOf(requestId)).status).toBe('in_progress');
    await expectSqlState(api.db.as('compliance_dpo', { actor: 'dpo:dana', roles: ['dpo'] }, (tx) => tx`select compliance.complete_dsr(${requestId})`), 'PRPND');
    const crm = (await tasksOf(requestId)).find((t) => t.system === 'e1_crm')!;
    expect((await api.call('POST', `/api/v1/dpo/propagation-tasks/${crm.id}/confirm`, dpo, {})).status).toBe(400);
    const byHand = await api.call('POST', `/api/v1/dpo/propagation-tasks/${crm.id}/confirm`, dpo, { note: 'CRM team confirmed by e-mail, ticket 4711' });
    expect(byHand.status, byHand.text).toBe(200);
    expect(await requestOf(requestId)).toMatchObject({ status: 'completed' });
    const tasks = await tasksOf(requestId);
    expect(tasks.map((t) => [t.system, t.state, t.confirmed_via, t.user_id])).toEqual([
      ['e1_authz', 'confirmed', 'callback', null], ['e1_crm', 'confirmed', 'manual', null], ['e1_hooks', 'confirmed', 'connector', null]]);
    const audited = await api.db.admin`select details ->> 'via' as via from compliance.audit_logs where action = 'propagation.confirmed' and details ->> 'request_id' = ${String(requestId)} order by id`;
    expect(audited.map((r) => r.via)).toEqual(['connector', 'callback', 'manual']);
  });

  it('delivers a task whose worker was killed mid-delivery once a worker runs again', async () => {
    const dpo = await api.token('dpo:dana', ['dpo']);
    const made = await api.call('POST', '/api/v1/dpo/processing-systems', dpo,
      { system: 'k1_hooks', name: 'Hooks', kind: 'analytics', country: 'DE', connector: 'webhook', endpoint_url: `${receiverUrl}/k1/hooks`, request_kinds: ['export'] });
    expect(made.status, made.text).toBe(200);
    answers['/k1/hooks'] = (n) => (n === 1 ? 'hang' : 200);
    const subject = await api.token('user:pr2');
    const exported = await api.call('GET', '/api/v1/users/me/export', subject);
    expect(exported.status).toBe(200);
    const [task] = await api.db.admin`select id::text, request_id from compliance.propagation_tasks where system = 'k1_hooks'`;
    const env = { ...process.env, WORKER_DATABASE_URL: api.db.loginUrl('worker'), LOG_LEVEL: 'error', DATABASE_URL: '',
      PROPAGATION_SECRET: SECRET, PROPAGATION_LEASE_SECONDS: '3', WORKER_STALE_LOCK_SECONDS: '2' };
    const start = (): ChildProcess => spawn(process.execPath, ['--import', 'tsx', path.resolve('worker/main.ts')], { env, stdio: ['ignore', 'ignore', 'inherit'] });
    const first = start();
    await until(async () => (received.some((r) => r.path === '/k1/hooks') ? true : undefined), 30_000, 'the first delivery attempt');
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    const [leased] = await api.db.admin`select state from compliance.propagation_tasks where id = ${task!.id}`;
    expect(leased!.state).toBe('pending');
    const second = start();
    try {
      await until(async () => ((await api.db.admin`select state from compliance.propagation_tasks where id = ${task!.id}`)[0]!.state === 'confirmed' ? true : undefined),
        30_000, 'delivery by the restarted worker');
    } finally {
      second.kill('SIGTERM');
      await new Promise((resolve) => second.once('exit', resolve));
    }
    expect(received.filter((r) => r.path === '/k1/hooks')).toHaveLength(2);
    expect(await requestOf(task!.request_id)).toMatchObject({ status: 'completed' });
  });
});
