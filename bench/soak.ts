/**
 * npm run soak [-- --clients 32 --seconds 60 --subjects 200]: mixed API operations from many
 * clients against the real server (its own process) with the worker running, on a fresh
 * database. Prints ops/s, p50/p99 latency and errors, then checks that the audit log holds one
 * row per audited operation that succeeded and that the chain verifies.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { signDevelopmentToken } from '../server/auth/token.js';
import { startWorker } from '../worker/runner.js';
import { BENCH_PEPPER, benchDatabase, percentile, printConditions } from './lib.js';

const { values } = parseArgs({ options: {
  clients: { type: 'string', default: '32' }, seconds: { type: 'string', default: '60' }, subjects: { type: 'string', default: '200' },
} });
const clients = Number(values.clients);
const seconds = Number(values.seconds);
const subjectCount = Number(values.subjects);

/** each operation, and the audit actions one success of it writes */
const OPERATIONS = [
  { name: 'read profile', audited: [] as string[] },
  { name: 'rectify profile', audited: ['profile.updated'] },
  { name: 'record consent', audited: ['consent.granted', 'consent.withdrawn'] },
  { name: 'set preferences', audited: ['preferences.created', 'preferences.updated'] },
  { name: 'start conversation', audited: ['conversation.created'] },
  { name: 'add message', audited: ['message.created'] },
  { name: 'read consents', audited: [] },
] as const;
type Operation = (typeof OPERATIONS)[number]['name'];

const db = await benchDatabase('pgcomply_soak');
const server = spawn(process.execPath, ['--import', 'tsx', path.resolve('bench/api-server.ts')], {
  env: { ...process.env, SERVER_DATABASE_URL: db.loginUrl('server'), TOMBSTONE_PEPPER: BENCH_PEPPER },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const port: number = await new Promise((resolve) => server.stdout!.once('data', (chunk) => resolve(JSON.parse(String(chunk)).trpc)));
const worker = await startWorker({ connectionString: db.loginUrl('worker'), sealIntervalSeconds: 1 });
await printConditions(db, { benchmark: 'soak', clients, seconds, subjects: subjectCount });

const base = `http://127.0.0.1:${port}/api/v1/users/me`;
const subjects = await Promise.all(Array.from({ length: subjectCount }, (_, i) => signDevelopmentToken({ subject: `user:soak-${i}`, ttlSeconds: seconds + 600 })));
const conversations = new Map<number, string>();
const succeeded = new Map<Operation, number>(OPERATIONS.map((o) => [o.name, 0]));
const failures = new Map<string, number>();
const latencies: number[] = [];

async function perform(operation: Operation, subject: number): Promise<Response> {
  const headers = { authorization: `Bearer ${subjects[subject]}`, 'content-type': 'application/json' };
  const call = (suffix: string, method = 'GET', body?: unknown) =>
    fetch(`${base}${suffix}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  switch (operation) {
    case 'read profile': return call('');
    case 'rectify profile': return call('', 'PATCH', { full_name: `Soak ${Math.random().toString(36).slice(2, 8)}` });
    case 'record consent': return call('/consent', 'POST', { consent_type: 'analytics', granted: Math.random() < 0.5 });
    case 'set preferences': return call('/preferences', 'PUT', { preferences: { theme: Math.random() < 0.5 ? 'dark' : 'light' } });
    case 'start conversation': return call('/conversations', 'POST', { title: 'soak' });
    case 'add message': {
      const conversation = conversations.get(subject);
      return conversation ? call(`/conversations/${conversation}/messages`, 'POST', { role: 'user', content: 'soak message' })
        : call('/conversations', 'POST', { title: 'soak' });
    }
    case 'read consents': return call('/consent');
  }
}

const deadline = Date.now() + seconds * 1000;
const started = Date.now();
await Promise.all(Array.from({ length: clients }, async () => {
  while (Date.now() < deadline) {
    const subject = Math.floor(Math.random() * subjectCount);
    let operation = OPERATIONS[Math.floor(Math.random() * OPERATIONS.length)]!.name;
    if (operation === 'add message' && !conversations.has(subject)) operation = 'start conversation';
    const t0 = performance.now();
    try {
      const response = await perform(operation, subject);
      const body = await response.json().catch(() => undefined) as { conversation_id?: string } | undefined;
      latencies.push(performance.now() - t0);
      if (response.ok) {
        succeeded.set(operation, succeeded.get(operation)! + 1);
        if (operation === 'start conversation' && body?.conversation_id) conversations.set(subject, body.conversation_id);
      } else {
        failures.set(`${operation}: ${response.status}`, (failures.get(`${operation}: ${response.status}`) ?? 0) + 1);
      }
    } catch (error) {
      failures.set(`${operation}: ${(error as Error).message}`, (failures.get(`${operation}: ${(error as Error).message}`) ?? 0) + 1);
    }
  }
}));
const elapsed = (Date.now() - started) / 1000;
const total = latencies.length;
console.log(`soak: ${total} operations in ${elapsed.toFixed(1)} s = ${(total / elapsed).toFixed(0)} ops/s; `
  + `p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms; errors ${[...failures.values()].reduce((a, b) => a + b, 0)}`);
for (const [what, count] of failures) console.log(`  error ${what} × ${count}`);

// every audited success left exactly its row
let mismatches = 0;
for (const operation of OPERATIONS.filter((o) => o.audited.length > 0)) {
  const [row] = await db.admin`select count(*)::int as n from compliance.audit_logs where action = any (${operation.audited as unknown as string[]})`;
  const expected = succeeded.get(operation.name)!;
  const ok = row!.n === expected;
  if (!ok) mismatches += 1;
  console.log(`  ${operation.name}: ${expected} succeeded, ${row!.n} audit rows ${ok ? 'ok' : 'MISMATCH'}`);
}
// the worker seals what is left; then the chain must verify
for (let i = 0; i < 60; i += 1) {
  const [row] = await db.admin`select count(*)::int as n from compliance.audit_logs where id >= (select next_row_id from compliance_private.audit_seal_head)`;
  if (row!.n === 0) break;
  await new Promise((resolve) => setTimeout(resolve, 1000));
}
const [verified] = await db.admin`select ok, seals_checked, rows_checked, unsealed_rows, problems from compliance.verify_audit_log()`;
console.log(`soak: verify_audit_log ok=${verified!.ok} seals=${verified!.seals_checked} rows=${verified!.rows_checked} unsealed=${verified!.unsealed_rows}`);

await worker.stop();
server.kill('SIGINT');
await db.close();
process.exit(mismatches === 0 && verified!.ok && failures.size === 0 ? 0 : 1);
