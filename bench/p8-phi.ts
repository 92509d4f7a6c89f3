/**
 * P8: a patient writes a 4 KB health record then reads it back through the REST API (encrypted,
 * integrity-checked, audited), against the same request shape on the profile (a 4 KB metadata
 * rectification then a read, no encryption). Closed loop, the real server in its own process.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { signDevelopmentToken } from '../server/auth/token.js';
import { BENCH_PEPPER, type BenchDatabase, figure, percentile, printConditions } from './lib.js';

const SUBJECTS = 64;
const CLIENTS = 16;

type Operation = (base: string, token: string, payload: Record<string, string>) => Promise<void>;

async function request(url: string, token: string, method: string, body?: unknown): Promise<any> {
  const response = await fetch(url, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined });
  const json = await response.json();
  if (!response.ok) throw new Error(`${method} ${url}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

const healthRecord: Operation = async (base, token, payload) => {
  const created = await request(`${base}/api/v1/users/me/health-records`, token, 'POST', { category: 'note', data: payload });
  const read = await request(`${base}/api/v1/users/me/health-records/${created.id}`, token, 'GET');
  if (read.integrity !== 'verified') throw new Error('a record failed its check');
};

const profile: Operation = async (base, token, payload) => {
  await request(`${base}/api/v1/users/me`, token, 'PATCH', { metadata: payload });
  await request(`${base}/api/v1/users/me`, token, 'GET');
};

async function closedLoop(base: string, tokens: string[], seconds: number, operation: Operation) {
  const payload = { text: randomBytes(3000).toString('base64').slice(0, 4096) };
  const latencies: number[] = [];
  let failures = 0;
  const deadline = Date.now() + seconds * 1000;
  await Promise.all(Array.from({ length: CLIENTS }, async (_, client) => {
    for (let n = 0; Date.now() < deadline; n += 1) {
      const started = performance.now();
      try {
        await operation(base, tokens[(client + n * CLIENTS) % SUBJECTS]!, payload);
        latencies.push(performance.now() - started);
      } catch {
        failures += 1;
      }
    }
  }));
  return { rate: latencies.length / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), failures };
}

export async function run(db: BenchDatabase, quick: boolean) {
  const seconds = quick ? 3 : 10;
  const rounds = quick ? 1 : 2;
  await printConditions(db, { benchmark: 'P8', clients: CLIENTS, subjects: SUBJECTS, record_bytes: 4096, seconds_per_run: seconds, runs_each: rounds });
  const tokens = await Promise.all(Array.from({ length: SUBJECTS }, (_, i) => signDevelopmentToken({ subject: `user:phi-${i}` })));
  const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('bench/api-server.ts')], {
    env: { ...process.env, SERVER_DATABASE_URL: db.loginUrl('server'), TOMBSTONE_PEPPER: BENCH_PEPPER },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const ports = await new Promise<{ trpc: number }>((resolve) => child.stdout!.once('data', (chunk) => resolve(JSON.parse(String(chunk)))));
    const base = `http://127.0.0.1:${ports.trpc}`;
    // every patient's profile, session and data key exist before measuring
    for (const token of tokens) await healthRecord(base, token, { warm: 'up' });
    const phi: Awaited<ReturnType<typeof closedLoop>>[] = [];
    const plain: Awaited<ReturnType<typeof closedLoop>>[] = [];
    for (let round = 0; round < rounds; round += 1) {
      phi.push(await closedLoop(base, tokens, seconds, healthRecord));
      plain.push(await closedLoop(base, tokens, seconds, profile));
    }
    const mean = (runs: typeof phi, key: 'rate' | 'p50' | 'p99') => runs.reduce((sum, r) => sum + r[key], 0) / runs.length;
    figure('P8', 'phi_write_read_per_s', mean(phi, 'rate'), 'pairs/s');
    figure('P8', 'profile_write_read_per_s', mean(plain, 'rate'), 'pairs/s');
    figure('P8', 'phi_over_profile', mean(phi, 'rate') / mean(plain, 'rate'), 'x', { op: '>=', value: 0.85 });
    figure('P8', 'phi_p50', mean(phi, 'p50'), 'ms');
    figure('P8', 'phi_p99', mean(phi, 'p99'), 'ms');
    figure('P8', 'profile_p50', mean(plain, 'p50'), 'ms');
    figure('P8', 'failed_pairs', [...phi, ...plain].reduce((sum, r) => sum + r.failures, 0), 'pairs');
  } finally {
    child.kill('SIGTERM');
  }
}
