/** P6: a tRPC mutation doing one transaction vs a bare node:http handler doing the same transaction. */
import { spawn } from 'node:child_process';
import path from 'node:path';
import autocannon from 'autocannon';
import { signDevelopmentToken } from '../server/auth/token.js';
import { BENCH_PEPPER, type BenchDatabase, figure, printConditions } from './lib.js';

const SUBJECTS = 256;
const CONNECTIONS = 32;

function load(url: string, seconds: number, headersFor: (i: number) => Record<string, string>, body: string) {
  return new Promise<autocannon.Result>((resolve, reject) => {
    autocannon(
      {
        url,
        method: 'POST',
        connections: CONNECTIONS,
        pipelining: 1,
        duration: seconds,
        requests: [{ setupRequest: (request) => ({ ...request, headers: { 'content-type': 'application/json', ...headersFor(Math.floor(Math.random() * SUBJECTS)) }, body }) }],
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
  });
}

export async function run(db: BenchDatabase, quick: boolean) {
  const seconds = quick ? 3 : 10;
  const rounds = quick ? 1 : 2;
  await printConditions(db, { benchmark: 'P6', connections: CONNECTIONS, pipelining: 1, seconds_per_run: seconds, runs_each: rounds, subjects: SUBJECTS });
  const session = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
  const tokens = await Promise.all(Array.from({ length: SUBJECTS }, (_, i) => signDevelopmentToken({ subject: `user:api-${i}`, claims: { sid: session(i) } })));
  const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('bench/api-server.ts')], {
    env: { ...process.env, SERVER_DATABASE_URL: db.loginUrl('server'), TOMBSTONE_PEPPER: BENCH_PEPPER },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const ports = await new Promise<{ trpc: number; bare: number }>((resolve) => child.stdout!.once('data', (chunk) => resolve(JSON.parse(String(chunk)))));
    const body = JSON.stringify({ preferences: { theme: 'dark', density: 'compact' } });
    const trpcUrl = `http://127.0.0.1:${ports.trpc}/trpc/me.setPreferences`;
    const bareUrl = `http://127.0.0.1:${ports.bare}/`;
    // every subject's profile and session exist before measuring (first sight creates them)
    for (let i = 0; i < SUBJECTS; i += 1) {
      await fetch(trpcUrl, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[i]}` }, body });
    }
    const bareHeaders = (i: number) => ({ 'x-subject': `user:api-${i}`, 'x-session': session(i) });
    const trpc: autocannon.Result[] = [];
    const bare: autocannon.Result[] = [];
    for (let round = 0; round < rounds; round += 1) {
      trpc.push(await load(trpcUrl, seconds, (i) => ({ authorization: `Bearer ${tokens[i]}` }), body));
      bare.push(await load(bareUrl, seconds, bareHeaders, body));
    }
    const rate = (results: autocannon.Result[]) => results.reduce((sum, r) => sum + r.requests.average, 0) / results.length;
    const p99 = (results: autocannon.Result[]) => Math.max(...results.map((r) => r.latency.p99));
    const errors = [...trpc, ...bare].reduce((sum, r) => sum + r.errors + r.non2xx, 0);
    figure('P6', 'trpc_requests_per_s', rate(trpc), 'req/s');
    figure('P6', 'bare_requests_per_s', rate(bare), 'req/s');
    figure('P6', 'trpc_over_bare', rate(trpc) / rate(bare), 'x', { op: '>=', value: 0.8 });
    figure('P6', 'trpc_p99', p99(trpc), 'ms');
    figure('P6', 'bare_p99', p99(bare), 'ms');
    figure('P6', 'trpc_p99_over_bare_p99', p99(trpc) / p99(bare), 'x', { op: '<=', value: 2 });
    figure('P6', 'failed_requests', errors, 'requests');
  } finally {
    child.kill('SIGTERM');
  }
}
