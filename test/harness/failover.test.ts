/**
 * High availability on Patroni: etcd and three PostgreSQL 15 nodes with synchronous replication,
 * the API server and the worker connected with multi-host URLs. Under 32 clients changing consent
 * and a DPO erasing subjects, the primary's postmaster is killed (kill -9), and later a switchover
 * is asked for. Measured each time: how long writes failed, acknowledged writes lost (every 2xx and
 * its audit row must be on the new primary), duplicates (none: each write carries an
 * Idempotency-Key), and the chain, which verifies on the new primary with one line of seals. The old
 * primary rejoins as a standby through pg_rewind; verification on a standby agrees and states its lag.
 * The worker's service probes (the API's /healthz and a write to the primary) count the outage as
 * downtime in the uptime figure.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyIndependently } from '../../core/verify/verifier.js';
import { standbyLag } from '../../core/verify/standby.js';
import { DEVELOPMENT_LOGIN_PASSWORD } from '../../db/connection.js';
import { pepperParameters } from '../../db/pepper.js';
import { setupDatabase } from '../../db/setup.js';
import { connect } from '../../db/tls.js';
import { signDevelopmentToken } from '../../server/auth/token.js';
import { startWorker, type Worker } from '../../worker/runner.js';
import { serveApp, testMasterKeys } from '../server/harness.js';
import { DataKeys } from '../../core/keys/data-keys.js';
import { runPgcomply } from '../provision/pgcomply.js';
import { until } from '../provision/until.js';
import { type PatroniCluster as Cluster, PatroniCluster } from './patroni-cluster.js';

const work = mkdtempSync(path.join(os.tmpdir(), 'pgcomply-ha-'));
const cluster: Cluster = new PatroniCluster(work);
const pepper = randomBytes(32).toString('hex');
// the server's PHI master key, which the CLI needs to decrypt an export read on a standby
const masterKey = randomBytes(32);
const CLIENTS = 32;
let baseUrl = '';
let serverSql: Sql;
let worker: Worker | undefined;
let closeServer: () => Promise<void> = async () => undefined;

beforeAll(async () => {
  await cluster.start(3);
  const leader = await cluster.leader();
  await setupDatabase({ adminUrl: cluster.nodeUrl(leader, 'pgcomply'), loginPassword: DEVELOPMENT_LOGIN_PASSWORD, tombstonePepper: { keyring: pepper } });
  // as server/main.ts connects: db/tls.ts's connect, which finds the host that takes writes
  serverSql = connect(cluster.url('pgcomply_server', DEVELOPMENT_LOGIN_PASSWORD, 'pgcomply'),
    { max: 40, connect_timeout: 5, onnotice: () => undefined, connection: pepperParameters(pepper) });
  ({ baseUrl, close: closeServer } = await serveApp(serverSql, { dataKeys: new DataKeys(testMasterKeys({ 1: masterKey })) }));
  worker = await startWorker({ connectionString: cluster.url('pgcomply_worker', DEVELOPMENT_LOGIN_PASSWORD, 'pgcomply'), sealIntervalSeconds: 1, pollInterval: 200,
    serviceHealthUrl: `${baseUrl}/healthz`, probeIntervalMs: 2_000 });
}, 600_000);

afterAll(async () => {
  await worker?.stop().catch(() => undefined);
  await closeServer();
  await cluster.stop();
  if (!process.env.KEEP_HARNESS) rmSync(work, { recursive: true, force: true });
});

/** a superuser connection to one node */
const nodeSql = (port: number) => postgres(`postgres://postgres@127.0.0.1:${port}/pgcomply`, { max: 1, onnotice: () => undefined, connection: pepperParameters(pepper) });

interface Applied { user: string; kind: 'consent' | 'erasure' }

/**
 * One client's writes until told to stop: each write has its Idempotency-Key and is sent again
 * after a 503 or a lost connection, until it is answered 2xx, or 409 RPLAY (an earlier attempt
 * committed). Every write known to be applied is listed, with when each succeeded.
 */
async function client(run: string, index: number, stop: { now: boolean }, applied: Applied[], successes: number[], dpoToken: string) {
  const user = `user:load-${run}-${index}`;
  const token = await signDevelopmentToken({ subject: user, roles: [] });
  const send = async (method: string, url: string, bearer: string, body?: unknown): Promise<boolean> => {
    const key = randomUUID();
    for (;;) {
      const response = await fetch(`${baseUrl}${url}`, { method, signal: AbortSignal.timeout(60_000),
        headers: { authorization: `Bearer ${bearer}`, 'idempotency-key': key, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined }).catch(() => undefined);
      if (response && response.ok) return true;
      const json = response ? await response.json().catch(() => ({})) as { data?: { sqlstate?: string } } : {};
      if (response?.status === 409 && json.data?.sqlstate === 'RPLAY') return true;
      if (response && response.status !== 503) throw new Error(`${method} ${url}: ${response.status} ${JSON.stringify(json)}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  };
  for (let n = 0; !stop.now; n += 1) {
    if (index % 8 === 0 && n % 10 === 9) {
      // a subject created and erased by the DPO
      const subject = `user:gone-${run}-${index}-${n}`;
      await send('PATCH', '/api/v1/users/me', await signDevelopmentToken({ subject, roles: [] }), { full_name: 'Soon Gone' });
      if (await send('DELETE', `/api/v1/dpo/subjects/${encodeURIComponent(subject)}?reason=asked&confirm=true`, dpoToken)) {
        applied.push({ user: subject, kind: 'erasure' });
        successes.push(Date.now());
      }
      continue;
    }
    if (await send('POST', '/api/v1/users/me/consent', token, { consent_type: 'analytics', granted: n % 2 === 0 })) {
      applied.push({ user, kind: 'consent' });
      successes.push(Date.now());
    }
  }
}

/** runs the load while `disrupt` acts on the cluster; the longest gap between successful writes around it */
async function underLoad(disrupt: () => Promise<void>) {
  const stop = { now: false };
  const applied: Applied[] = [];
  const successes: number[] = [];
  const dpoToken = await signDevelopmentToken({ subject: 'dpo:ha', roles: ['dpo'] });
  const run = randomUUID().slice(0, 8);
  const clients = Array.from({ length: CLIENTS }, (_, i) => client(run, i, stop, applied, successes, dpoToken));
  await until(async () => (successes.length >= 200 ? true : undefined), 120_000, 'the load to get going');
  const disruptedAt = Date.now();
  await disrupt();
  // writes succeed again, then the load runs a little longer
  await until(async () => (successes.some((t) => t > disruptedAt + 1_000) ? true : undefined), 120_000, 'writes to succeed after the disruption');
  const resumedAt = successes.filter((t) => t > disruptedAt).sort((a, b) => a - b)[0]!;
  await until(async () => (successes.filter((t) => t > resumedAt).length >= 200 ? true : undefined), 120_000, 'the load to run on');
  stop.now = true;
  await Promise.all(clients);
  // the longest pause: between the last success before the disruption's effect and the first after
  const sorted = [...successes].sort((a, b) => a - b);
  let pause = 0;
  for (let i = 1; i < sorted.length; i += 1) if (sorted[i]! > disruptedAt - 5_000) pause = Math.max(pause, sorted[i]! - sorted[i - 1]!);
  return { applied, pauseSeconds: pause / 1000, disruptedAt, resumedAt };
}

/** what the new primary holds against what the clients were told */
async function accountFor(applied: Applied[]) {
  const leader = await cluster.leader();
  const db = nodeSql(leader.pgPort);
  try {
    const consentsTold = new Map<string, number>();
    for (const a of applied.filter((x) => x.kind === 'consent')) consentsTold.set(a.user, (consentsTold.get(a.user) ?? 0) + 1);
    const users = [...consentsTold.keys()];
    const held = new Map((await db`select user_id, count(*)::int as n from compliance.consent_records where user_id = any(${users}) group by user_id`)
      .map((r) => [r.user_id as string, r.n as number]));
    const audited = new Map((await db`select user_id, count(*)::int as n from compliance.audit_logs
      where action in ('consent.granted', 'consent.withdrawn') and user_id = any(${users}) group by user_id`).map((r) => [r.user_id as string, r.n as number]));
    let lost = 0;
    let duplicates = 0;
    let unaudited = 0;
    for (const [user, told] of consentsTold) {
      const n = held.get(user) ?? 0;
      lost += Math.max(0, told - n);
      duplicates += Math.max(0, n - told);
      unaudited += Math.max(0, n - (audited.get(user) ?? 0));
    }
    const erased = applied.filter((x) => x.kind === 'erasure').map((x) => x.user);
    const [back] = await db`select count(*)::int as n from compliance.user_profiles where user_id = any(${erased})`;
    const [erasureRows] = await db`select count(*)::int as n from compliance.audit_logs where action = 'subject.erased'`;
    return { lost, duplicates, unaudited, erasures: erased.length, erasedBack: back!.n as number, erasureRows: erasureRows!.n as number, leader };
  } finally {
    await db.end();
  }
}

/** the chain on the new primary once the sealer has sealed what the load wrote: one line of seals, verified */
async function chainOn(port: number) {
  const db = nodeSql(port);
  try {
    await until(async () => ((await db`select count(*)::int as n from compliance.audit_logs a
      where not exists (select from compliance.audit_seals s where a.id <= s.last_row_id)`)[0]!.n === 0 ? true : undefined), 120_000, 'the sealer to seal the load');
    const [line] = await db`select count(*)::int as seals, count(distinct seal_no)::int as distinct_seals, max(seal_no)::int - min(seal_no)::int + 1 as span
      from compliance.audit_seals`;
    const verdict = await verifyIndependently(`postgres://postgres@127.0.0.1:${port}/pgcomply`);
    return { ...line, verdict } as { seals: number; distinct_seals: number; span: number; verdict: Awaited<ReturnType<typeof verifyIndependently>> };
  } finally {
    await db.end();
  }
}

/** the minutes the service probes counted down between a disruption and the first write after it, and the uptime of the last hour */
async function outageOn(port: number, from: number, to: number) {
  const db = nodeSql(port);
  try {
    // the probe tells what it could not write once it reaches the new primary
    const down = async () => (await db`select to_char(minute, 'HH24:MI') as minute from compliance_private.service_minutes
      where (api_failures > 0 or database_failures > 0) and minute >= date_trunc('minute', ${new Date(from)}::timestamptz) and minute <= ${new Date(to)}
      order by minute`).map((r) => r.minute as string);
    await until(async () => ((await down()).length ? true : undefined), 60_000, 'the probes of the outage to be told').catch(async (error: Error) => {
      const minutes = await db`select * from compliance_private.service_minutes order by minute`;
      throw new Error(`${error.message}; from ${new Date(from).toISOString()} to ${new Date(to).toISOString()} the probes counted: ${JSON.stringify(minutes)}`);
    });
    const [uptime] = await db`select * from compliance.uptime('1 hour', now() + interval '1 minute')`;
    return { down: await down(), minutes_up: uptime!.minutes_up as string, minutes_counted: uptime!.minutes_counted as string };
  } finally {
    await db.end();
  }
}

describe('a failover under load', () => {
  it('kill -9 of the primary\'s postmaster: Patroni promotes the synchronous standby, writes resume, nothing acknowledged is lost or doubled, the chain verifies', async () => {
    const old = await cluster.leader();
    const { applied, pauseSeconds, disruptedAt, resumedAt } = await underLoad(async () => {
      process.kill(cluster.postmasterPid(old), 'SIGKILL');
    });
    const account = await accountFor(applied);
    console.info(`failover (kill -9): writes failed for ${pauseSeconds.toFixed(1)} s (target < 30 s); ${applied.length} writes acknowledged, `
      + `${account.lost} lost, ${account.duplicates} doubled, ${account.unaudited} without their audit row; ${account.erasures} erasures, ${account.erasedBack} back; `
      + `${old.name} -> ${account.leader.name}`);
    expect(account.leader.name).not.toBe(old.name);
    expect(account).toMatchObject({ lost: 0, duplicates: 0, unaudited: 0, erasedBack: 0 });
    expect(account.erasureRows).toBeGreaterThanOrEqual(account.erasures);
    expect(pauseSeconds).toBeLessThan(30);
    const chain = await chainOn(account.leader.pgPort);
    expect(chain.verdict.problems).toEqual([]);
    expect(chain.verdict.ok).toBe(true);
    expect([chain.distinct_seals, chain.span]).toEqual([chain.seals, chain.seals]);
    // the uptime figure shows the outage: the worker's probes while no primary took writes are told to the new one
    const outage = await outageOn(account.leader.pgPort, disruptedAt, resumedAt);
    console.info(`uptime over the last hour: ${outage.minutes_up} of ${outage.minutes_counted} minutes up; minutes down around the kill: ${outage.down.join(', ')}`);
    expect(outage.down.length).toBeGreaterThan(0);
    expect(Number(outage.minutes_up)).toBeLessThan(Number(outage.minutes_counted));
  });

  it('the old primary rejoins as a standby through pg_rewind, writes no seal of its own, and verification there agrees and states its lag', async () => {
    const members = await cluster.waitForMembers(3);
    const leader = await cluster.leader();
    const standby = cluster.nodes.find((n) => n.name !== leader.name && members.find((m) => m.name === n.name)?.role !== 'leader')!;
    const onStandby = nodeSql(standby.pgPort);
    const onLeader = nodeSql(leader.pgPort);
    try {
      expect((await onStandby`select pg_is_in_recovery() as r`)[0]!.r).toBe(true);
      const [newest] = await onLeader`select max(seal_no)::int as n from compliance.audit_seals`;
      await until(async () => ((await onStandby`select max(seal_no)::int as n from compliance.audit_seals`)[0]!.n >= newest!.n ? true : undefined), 60_000, 'the standby to replay the newest seal');
      const primaryVerdict = await verifyIndependently(cluster.nodeUrl(leader, 'pgcomply'));
      const standbyVerdict = await verifyIndependently(cluster.nodeUrl(standby, 'pgcomply'));
      expect(standbyVerdict.problems).toEqual([]);
      expect(standbyVerdict.ok).toBe(primaryVerdict.ok);
      expect(standbyVerdict.seals_checked).toBeGreaterThan(0);
      const lag = await standbyLag(cluster.nodeUrl(standby, 'pgcomply'), cluster.nodeUrl(leader, 'pgcomply'));
      expect(lag).toMatchObject({ standby: true });
      expect(lag.bytes_behind).toBeGreaterThanOrEqual(0);
      // and as an operator runs it: pgcomply verify --replica
      const cli = await runPgcomply(['--json', 'verify', '--replica', cluster.nodeUrl(standby, 'pgcomply')], { ...process.env, DATABASE_URL: cluster.nodeUrl(leader, 'pgcomply') });
      expect(cli.code, cli.stderr).toBe(0);
      expect(JSON.parse(cli.stdout)).toMatchObject({ ok: true, verified_on: 'standby', standby_lag: { standby: true }, problems: [] });
      console.info(`verification on standby ${standby.name}: ${standbyVerdict.seals_checked} seals, ${standbyVerdict.rows_checked} rows, ${lag.bytes_behind} bytes and ${lag.seconds_behind ?? 0} s behind`);
    } finally {
      await onStandby.end();
      await onLeader.end();
    }
  });
});

describe('reads on a standby', () => {
  it('an export for the DPO and an evidence package read on a standby, recorded on the primary first, match what the primary holds', async () => {
    await cluster.waitForMembers(3);
    const leader = await cluster.leader();
    const members = await cluster.members();
    const standby = cluster.nodes.find((n) => members.some((m) => m.name === n.name && m.role !== 'leader'))!;
    const onLeader = nodeSql(leader.pgPort);
    const env = { ...process.env, DATABASE_URL: cluster.nodeUrl(leader, 'pgcomply'), TOMBSTONE_PEPPER: pepper, PHI_MASTER_KEY: `1:${masterKey.toString('base64')}` };
    try {
      const [subject] = await onLeader`select p.user_id from compliance.user_profiles p
        where p.user_id like 'user:load-%' and exists (select from compliance.consent_records c where c.user_id = p.user_id) limit 1`;
      const userId = subject!.user_id as string;
      const token = await signDevelopmentToken({ subject: userId, roles: [] });
      const created = await fetch(`${baseUrl}/api/v1/users/me/health-records`, { method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ category: 'lab_result', data: { test: 'HbA1c', value: 5.4 } }) });
      expect(created.status).toBe(200);
      const exported = await runPgcomply(['--actor', 'dpo:ha', 'subject', 'export', userId, '--replica', cluster.nodeUrl(standby, 'pgcomply')], env);
      expect(exported.code, exported.stderr).toBe(0);
      expect(exported.stderr).toMatch(/read on the standby 127\.0\.0\.1:\d+ at [0-9A-F]+\/[0-9A-F]+/);
      const document = JSON.parse(exported.stdout) as { consents: unknown[]; profile: { user_id: string }; health_records: { integrity: string; data: unknown }[] };
      const [held] = await onLeader`select count(*)::int as n from compliance.consent_records where user_id = ${userId}`;
      expect(document.profile.user_id).toBe(userId);
      expect(document.consents).toHaveLength(held!.n as number);
      // decrypted here from what the standby returned, under the lease the primary audited
      expect(document.health_records).toMatchObject([{ integrity: 'verified', data: { test: 'HbA1c', value: 5.4 } }]);
      const [audited] = await onLeader`select details from compliance.audit_logs where action = 'subject.exported' and user_id = ${userId} order by id desc limit 1`;
      expect(audited!.details).toMatchObject({ read_on: 'standby' });

      const out = path.join(work, 'evidence-on-standby');
      const from = new Date(Date.now() - 3_600_000).toISOString();
      const to = new Date(Date.now() + 60_000).toISOString();
      const evidence = await runPgcomply(['--json', '--actor', 'dpo:ha', 'evidence', '--from', from, '--to', to, '--out', out, '--replica', cluster.nodeUrl(standby, 'pgcomply')], env);
      expect(evidence.code, evidence.stderr).toBe(0);
      const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as { package_id: string; read_on: { standby: string } };
      expect(manifest.read_on.standby).toBe(`127.0.0.1:${standby.pgPort}`);
      const [recorded] = await onLeader`select manifest -> 'read_on' as read_on from compliance.evidence_packages where id = ${manifest.package_id}`;
      expect(recorded!.read_on).toMatchObject({ standby: `127.0.0.1:${standby.pgPort}` });
      console.info(`on standby ${standby.name}: an export of ${userId} (${document.consents.length} consents) and evidence package ${manifest.package_id}`);
    } finally {
      await onLeader.end();
    }
  });
});

describe('a switchover under load', () => {
  it('loses nothing, doubles nothing, and writes pause for less than 10 s', async () => {
    await cluster.waitForMembers(3);
    const old = await cluster.leader();
    const members = await cluster.members();
    const candidate = members.find((m) => m.role === 'sync_standby')!.name;
    const { applied, pauseSeconds } = await underLoad(async () => {
      await cluster.patronictl(old, 'switchover', '--leader', old.name, '--candidate', candidate, '--force');
    });
    const account = await accountFor(applied);
    console.info(`switchover: writes paused for ${pauseSeconds.toFixed(1)} s (target < 10 s); ${applied.length} writes acknowledged, `
      + `${account.lost} lost, ${account.duplicates} doubled; ${old.name} -> ${account.leader.name}`);
    expect(account.leader.name).toBe(candidate);
    expect(account).toMatchObject({ lost: 0, duplicates: 0, unaudited: 0, erasedBack: 0 });
    expect(pauseSeconds).toBeLessThan(10);
    const chain = await chainOn(account.leader.pgPort);
    expect(chain.verdict.problems).toEqual([]);
    expect([chain.distinct_seals, chain.span]).toEqual([chain.seals, chain.seals]);
  });
});
