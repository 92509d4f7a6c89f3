/**
 * The alert outbox delivered by the worker: an emergency access's alert reaches a real
 * HTTP receiver with a valid signature, is retried after the receiver first answers 500, and is
 * delivered after a worker killed mid-delivery is replaced. Without a webhook it goes to the log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { alertSignature } from '../../worker/tasks/deliver-alerts.js';
import { startWorker, type Worker } from '../../worker/runner.js';
import { useTestDatabase } from '../provision/database.js';
import { until } from '../provision/until.js';

const db = useTestDatabase();
const SECRET = 'a-webhook-secret-of-at-least-32-characters';

interface Received { headers: http.IncomingHttpHeaders; body: string }
/** what the receiver does with the next request: answer with a status, or never answer */
let respond: (n: number) => number | 'hang' = () => 200;
/** where a 3xx answer points */
let redirectTo: string | undefined;
const received: Received[] = [];
let receiverUrl = '';
const receiver = http.createServer((req, res) => {
  let body = '';
  req.on('data', (chunk) => (body += chunk));
  req.on('end', () => {
    received.push({ headers: req.headers, body });
    const answer = respond(received.length);
    if (answer === 'hang') return;
    res.writeHead(answer, answer >= 300 && answer < 400 && redirectTo ? { location: redirectTo } : {}).end();
  });
});
beforeAll(async () => {
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/alerts`;
});
afterAll(async () => {
  receiver.closeAllConnections();
  await new Promise((resolve) => receiver.close(resolve));
});

async function breakGlass(patient: string, medic: string): Promise<string> {
  await db.as('compliance_app', { actor: patient }, (tx) => tx`select compliance.ensure_profile(${patient})`);
  const [grant] = await db.as('compliance_staff', { actor: medic, roles: ['staff'] },
    (tx) => tx`select id from compliance.break_glass(${patient}, 'patient arrived unconscious, records needed')`);
  return String(grant!.id);
}

const alertOf = async (grantId: string) =>
  (await db.admin`select id, state, attempts, delivered_via, last_error from compliance.alert_outbox where payload ->> 'grant_id' = ${grantId}`)[0]!;

describe('alert delivery', () => {
  let worker: Worker | undefined;
  afterEach(async () => {
    await worker?.stop();
    worker = undefined;
  });

  it('posts a signed alert, retrying after the receiver answers 500', async () => {
    received.length = 0;
    respond = (n) => (n === 1 ? 500 : 200);
    const grantId = await breakGlass('user:al1', 'staff:medic1');
    worker = await startWorker({ connectionString: db.loginUrl('worker'), pollInterval: 200,
      alerts: { webhookUrl: receiverUrl, webhookSecret: SECRET, leaseSeconds: 10, intervalSeconds: 1 } });
    const delivered = await until(async () => ((await alertOf(grantId)).state === 'delivered' ? alertOf(grantId) : undefined), 20_000, 'the alert to be delivered');
    expect(delivered).toMatchObject({ attempts: 2, delivered_via: 'webhook' });
    const ours = received.filter((r) => JSON.parse(r.body).grant_id === Number(grantId));
    expect(ours).toHaveLength(2);
    for (const request of ours) {
      const body = JSON.parse(request.body);
      expect(body).toMatchObject({ topic: 'phi.emergency_access', patient: 'user:al1', actor: 'staff:medic1', id: delivered.id });
      expect(request.headers['x-pgcomply-signature']).toBe(alertSignature(SECRET, String(request.headers['x-pgcomply-timestamp']), request.body));
    }
  });

  it('never follows a redirect with a signed alert: the elsewhere address gets nothing, the alert is retried', async () => {
    received.length = 0;
    const elsewhere: string[] = [];
    const thief = http.createServer((req, res) => {
      elsewhere.push(`${req.method} ${req.url}`);
      res.writeHead(200).end();
    });
    await new Promise<void>((resolve) => thief.listen(0, '127.0.0.1', resolve));
    const thiefUrl = `http://127.0.0.1:${(thief.address() as AddressInfo).port}/stolen`;
    respond = (n) => (n === 1 ? 307 : 200);
    redirectTo = thiefUrl;
    try {
      const grantId = await breakGlass('user:al4', 'staff:medic4');
      worker = await startWorker({ connectionString: db.loginUrl('worker'), pollInterval: 200,
        alerts: { webhookUrl: receiverUrl, webhookSecret: SECRET, leaseSeconds: 10, intervalSeconds: 1 } });
      const delivered = await until(async () => ((await alertOf(grantId)).state === 'delivered' ? alertOf(grantId) : undefined), 20_000, 'the alert to be delivered');
      expect(delivered).toMatchObject({ attempts: 2, delivered_via: 'webhook' });
      expect(elsewhere).toEqual([]);
    } finally {
      redirectTo = undefined;
      thief.closeAllConnections();
      await new Promise((resolve) => thief.close(resolve));
    }
  });

  it('delivers an alert whose worker was killed mid-delivery once a worker runs again', async () => {
    received.length = 0;
    respond = (n) => (n === 1 ? 'hang' : 200);
    const grantId = await breakGlass('user:al2', 'staff:medic2');
    const env = { ...process.env, WORKER_DATABASE_URL: db.loginUrl('worker'), LOG_LEVEL: 'error', DATABASE_URL: '',
      ALERT_WEBHOOK_URL: receiverUrl, ALERT_WEBHOOK_SECRET: SECRET, ALERT_LEASE_SECONDS: '3', WORKER_STALE_LOCK_SECONDS: '2' };
    const start = (): ChildProcess => spawn(process.execPath, ['--import', 'tsx', path.resolve('worker/main.ts')], { env, stdio: ['ignore', 'ignore', 'inherit'] });
    const first = start();
    await until(async () => (received.length >= 1 ? true : undefined), 30_000, 'the first delivery attempt');
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    expect((await alertOf(grantId)).state).toBe('pending');
    const second = start();
    try {
      await until(async () => ((await alertOf(grantId)).state === 'delivered' ? true : undefined), 30_000, 'delivery by the restarted worker');
    } finally {
      second.kill('SIGTERM');
      await new Promise((resolve) => second.once('exit', resolve));
    }
    expect(await alertOf(grantId)).toMatchObject({ attempts: 2, delivered_via: 'webhook' });
    expect(received.filter((r) => JSON.parse(r.body).grant_id === Number(grantId))).toHaveLength(2);
  });

  it('writes the alert to the log when no webhook is configured', async () => {
    const grantId = await breakGlass('user:al3', 'staff:medic3');
    worker = await startWorker({ connectionString: db.loginUrl('worker'), pollInterval: 200, alerts: { intervalSeconds: 1 } });
    await until(async () => ((await alertOf(grantId)).state === 'delivered' ? true : undefined), 20_000, 'the alert to be logged');
    expect(await alertOf(grantId)).toMatchObject({ delivered_via: 'log', attempts: 1 });
  });
});
