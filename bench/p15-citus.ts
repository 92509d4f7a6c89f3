/**
 * P15: pgcomply on Citus. Audited writes per second from the same number of clients on a single
 * node, and on a coordinator with one worker and with two, all started on this machine; and
 * erasure's latency on the cluster against the single node, with the cluster's second transaction
 * of each erasure (which clears the person on the other nodes) timed on its own. Every node here shares this machine's
 * cores, so the figures show what distribution costs, not what more machines would add.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Sql, TransactionSql } from 'postgres';
import { citusCluster } from '../db/citus-cluster.js';
import { BENCH_PEPPER, type BenchDatabase, closeAll, closedLoop, connections, figure, percentile, printConditions, quiet, timed } from './lib.js';
import postgres from 'postgres';

const CLIENTS = 8;

/** `count` subjects with profiles, written as the DPO in multi-row VALUES (Citus copies an INSERT … SELECT, which row-level security refuses) */
async function subjects(sql: Sql, prefix: string, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  await sql.begin(async (tx) => {
    await tx`select set_config('role', 'compliance_dpo', true)`;
    await tx`select compliance.set_request_context('dpo:bench', '{dpo}')`;
    for (let start = 0; start < ids.length; start += 1000) {
      const rows = ids.slice(start, start + 1000).map((id) => ({ user_id: id, email: `${id}@example.org` }));
      await tx`insert into compliance.user_profiles ${tx(rows, 'user_id', 'email')}`;
    }
  });
  return ids;
}

/** one audited write: a subject's consent, as the app acting for them */
function consentWrite(ids: string[]) {
  return (sql: Sql, client: number, n: number) => sql.begin(async (tx) => {
    const id = ids[(client * 7919 + n) % ids.length]!;
    await tx`select set_config('role', 'compliance_app', true)`;
    await tx`select compliance.set_request_context(${id})`;
    await tx`select compliance.record_consent(${id}, 'marketing', ${n % 2 === 0}, null, 'api')`;
  });
}

/** a transaction as one of pgcomply's roles, timed */
const timedAs = (sql: Sql, role: string, actor: string, roles: string[], statement: (tx: TransactionSql) => Promise<unknown>) =>
  timed(() => sql.begin(async (tx) => {
    await tx`select set_config('role', ${role}, true)`;
    await tx`select compliance.set_request_context(${actor}, ${roles})`;
    await statement(tx);
  }));

/** each erasure, then (on a cluster) its second transaction, which clears the person on the other nodes, as the worker runs it */
async function erasures(url: string, ids: string[]): Promise<{ erasure: number[]; elsewhere: number[] }> {
  const sql = postgres(url, { ...quiet, max: 1 });
  try {
    const erasure: number[] = [];
    const elsewhere: number[] = [];
    for (const id of ids) {
      const [ms] = await timedAs(sql, 'compliance_dpo', 'dpo:bench', ['dpo'], (tx) => tx`select compliance.erase_subject(${id}, 'benchmark', true)`);
      erasure.push(ms);
      const waiting = await sql<{ chain: string; request_id: string }[]>`select chain, request_id::text from compliance.erasures_finishing_elsewhere()`;
      for (const one of waiting) {
        const [finishing] = await timedAs(sql, 'compliance_worker', 'worker:bench', [],
          (tx) => tx`select compliance.finish_erasure_elsewhere(${one.chain}, ${one.request_id}::bigint)`);
        elsewhere.push(finishing);
      }
    }
    return { erasure, elsewhere };
  } finally {
    await sql.end();
  }
}

interface Measured { writesPerSecond: number; erasure: number[]; elsewhere: number[] }

async function measure(url: string, admin: Sql, seconds: number, count: number, erased: number): Promise<Measured> {
  const writers = await subjects(admin, 'writer', count);
  const leaving = await subjects(admin, 'leaving', erased);
  const clients = connections(url, CLIENTS);
  try {
    // the first seconds fill each connection's caches; measured after
    await closedLoop(clients, 1, consentWrite(writers));
    const { perSecond } = await closedLoop(clients, seconds, consentWrite(writers));
    return { writesPerSecond: perSecond, ...await erasures(url, leaving) };
  } finally {
    await closeAll(clients);
  }
}

async function onCluster(workers: number, seconds: number, count: number, erased: number): Promise<Measured> {
  const cluster = await citusCluster(mkdtempSync(path.join(os.tmpdir(), `pgcomply-p15-${workers}-`)), workers, 32, BENCH_PEPPER);
  const admin = cluster.connect();
  try {
    return await measure(cluster.coordinator.url('pgcomply'), admin, seconds, count, erased);
  } finally {
    await admin.end();
    cluster.stop();
  }
}

export async function run(db: BenchDatabase, quick: boolean) {
  const seconds = quick ? 3 : 15;
  const count = quick ? 500 : 5000;
  const erased = quick ? 10 : 50;
  await printConditions(db, { benchmark: 'P15', clients: CLIENTS, seconds, subjects: count, erasures: erased,
    nodes: 'single node; coordinator + 1 worker; coordinator + 2 workers, all on this machine', shards: 32 });
  const single = await measure(db.adminUrl, db.admin, seconds, count, erased);
  const one = await onCluster(1, seconds, count, erased);
  const two = await onCluster(2, seconds, count, erased);
  figure('P15', 'audited_writes_single_node', Math.round(single.writesPerSecond), 'writes/s');
  figure('P15', 'audited_writes_citus_1_worker', Math.round(one.writesPerSecond), 'writes/s');
  figure('P15', 'audited_writes_citus_2_workers', Math.round(two.writesPerSecond), 'writes/s');
  figure('P15', 'scaling_2_workers_over_1', Number((two.writesPerSecond / one.writesPerSecond).toFixed(2)), 'x');
  figure('P15', 'citus_2_workers_over_single_node', Number((two.writesPerSecond / single.writesPerSecond).toFixed(2)), 'x');
  figure('P15', 'erasure_p50_single_node', Math.round(percentile(single.erasure, 50)), 'ms');
  figure('P15', 'erasure_p99_single_node', Math.round(percentile(single.erasure, 99)), 'ms');
  figure('P15', 'erasure_p50_citus_2_workers', Math.round(percentile(two.erasure, 50)), 'ms');
  figure('P15', 'erasure_p99_citus_2_workers', Math.round(percentile(two.erasure, 99)), 'ms');
  // the single node finishes in the erasure's own transaction, so it has none
  figure('P15', 'erasure_second_transactions_single_node', single.elsewhere.length, 'transactions');
  figure('P15', 'erasure_second_transaction_p50_citus_2_workers', Math.round(percentile(two.elsewhere, 50)), 'ms');
  figure('P15', 'erasure_second_transaction_p99_citus_2_workers', Math.round(percentile(two.elsewhere, 99)), 'ms');
}
