/**
 * A Citus cluster of this machine's PostgreSQL 15: a coordinator and workers on loopback, each
 * its own cluster in a temporary directory, pgcomply set up on the coordinator (which spreads it
 * over the workers). Citus is built from the vendored source when PostgreSQL 15 has no citus.so
 * (../shared/vendor/README.md); a machine with Citus from its packages uses that. For the Citus
 * harness and the scale-out benchmark.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres, { type Sql } from 'postgres';
import { freePort } from './embedded.js';
import { DEVELOPMENT_LOGIN_PASSWORD } from './connection.js';
import { MachineCluster, ownedDirectory } from './machine-cluster.js';
import { pepperParameters } from './pepper.js';
import { postgresPrograms } from './postgres-binaries.js';
import { setupDatabase } from './setup.js';
const quiet = { onnotice: () => undefined } as const;

const CITUS_SOURCE = 'citus-13.2.2.tar.gz';

function postgres15(program: string): string {
  const found = postgresPrograms(program).get(15) ?? postgresPrograms('initdb').get(15);
  if (!found) throw new Error('no PostgreSQL 15 on this machine (Debian: apt-get install postgresql-15)');
  return path.join(path.dirname(found), program);
}

function vendoredSource(): string {
  const candidates = [process.env.CITUS_SOURCE, path.resolve('..', 'shared', 'vendor', CITUS_SOURCE), path.join('/work', 'shared', 'vendor', CITUS_SOURCE)];
  const found = candidates.find((c): c is string => !!c && existsSync(c));
  if (!found) throw new Error(`Citus is not installed and its source ${CITUS_SOURCE} is not in ../shared/vendor (set CITUS_SOURCE)`);
  return found;
}

/** citus.so in PostgreSQL 15's library directory, built from the vendored source if missing (about 5 minutes) */
export function ensureCitusInstalled(): void {
  const libdir = execFileSync(postgres15('pg_config'), ['--pkglibdir'], { encoding: 'utf8' }).trim();
  if (existsSync(path.join(libdir, 'citus.so'))) return;
  const build = mkdtempSync(path.join(os.tmpdir(), 'citus-build-'));
  try {
    execFileSync('tar', ['-xzf', vendoredSource(), '-C', build]);
    const dir = path.join(build, 'citus-13.2.2');
    const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    run('./configure', ['--without-libcurl', `PG_CONFIG=${postgres15('pg_config')}`]);
    run('make', [`-j${Math.max(1, os.availableParallelism())}`]);
    run('make', ['install']);
  } finally {
    rmSync(build, { recursive: true, force: true });
  }
}

export interface CitusCluster {
  coordinator: MachineCluster;
  workers: MachineCluster[];
  pepper: string;
  /** the pgcomply database on a node as the superuser, with the tombstone pepper erasure needs */
  connect(node?: MachineCluster, options?: postgres.Options<Record<string, postgres.PostgresType>>): Sql;
  stop(): void;
}

function startNode(dir: string, socketDir: string, port: number, settings: Record<string, string> = {}): MachineCluster {
  const node = new MachineCluster(dir, port, socketDir);
  // two-phase commit across nodes, and logical replication for shard moves
  node.init({ shared_preload_libraries: 'citus', max_prepared_transactions: '200', wal_level: 'logical', max_connections: '200', ...settings });
  node.start();
  return node;
}

/** fn on one short connection to a node's database (a node's URL names the database) */
export async function onNode<T>(url: string, fn: (sql: Sql) => Promise<T>): Promise<T> {
  const sql = postgres(url, { ...quiet, max: 1 });
  try {
    return await fn(sql);
  } finally {
    await sql.end();
  }
}

/**
 * a coordinator and `workerCount` workers with pgcomply set up and distributed; `work` is removed
 * by stop(). With `inUse`, pgcomply is set up on the coordinator alone first and inUse writes to it
 * there, as a single node in use; then the workers join and setup distributes what it holds.
 */
export async function citusCluster(work: string, workerCount = 2, shardCount = 32, pepper = randomBytes(32).toString('hex'),
  inUse?: (coordinator: Sql) => Promise<void>): Promise<CitusCluster> {
  ensureCitusInstalled();
  const socketDir = ownedDirectory(path.join(work, 'sockets'));
  const coordinator = startNode(path.join(work, 'coordinator'), socketDir, await freePort());
  const workers: MachineCluster[] = [];
  // a worker's sessions are Citus's own, opened for the coordinator's: the tombstone pepper, which
  // the triggers on the shards need, comes from the worker's configuration (README, "On Citus")
  for (let i = 1; i <= workerCount; i++) {
    workers.push(startNode(path.join(work, `worker${i}`), socketDir, await freePort(), { 'compliance.tombstone_pepper': pepper }));
  }
  const stop = () => {
    for (const node of [coordinator, ...workers]) if (node.running()) node.stop('immediate');
    rmSync(work, { recursive: true, force: true });
  };
  try {
    for (const node of [coordinator, ...workers]) {
      await onNode(node.url('postgres'), (sql) => sql`create database pgcomply`);
      await onNode(node.url('pgcomply'), (sql) => sql`create extension citus`);
    }
    const connect = (node = coordinator, options = {}) =>
      postgres(node.url('pgcomply'), { ...quiet, max: 4, ...options, connection: pepperParameters(pepper) });
    const setup = () => setupDatabase({ adminUrl: coordinator.url('pgcomply'), loginPassword: DEVELOPMENT_LOGIN_PASSWORD,
      tombstonePepper: { keyring: pepper }, shardCount });
    await onNode(coordinator.url('pgcomply'), (sql) => sql`select citus_set_coordinator_host('127.0.0.1', ${coordinator.port})`);
    if (inUse) {
      await setup();
      const sql = connect();
      try {
        await inUse(sql);
      } finally {
        await sql.end();
      }
    }
    await onNode(coordinator.url('pgcomply'), async (sql) => {
      for (const worker of workers) await sql`select citus_add_node('127.0.0.1', ${worker.port})`;
    });
    await setup();
    return { coordinator, workers, pepper, stop, connect };
  } catch (error) {
    if (!process.env.KEEP_CITUS_CLUSTER) stop();
    throw error;
  }
}
