/**
 * One idempotent setup step used by `npm start`, `npm run setup-db`, the tests and
 * docker-compose: create the database if missing, create the cluster-wide roles
 * (db/roles.sql), grant database privileges, run the committed migrations as
 * pgcomply_migrator, and install graphile-worker's schema as pgcomply_worker.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import postgres from 'postgres';
import { migrate } from 'graphile-migrate';
// graphile-migrate keeps idle pools for 200 ms and exits the process if their server goes
// away meanwhile; release them at once so a caller may stop the cluster right after setup
import { clearAllPools } from 'graphile-migrate/dist/pgReal.js';
import { Logger } from '@graphile/logger';
import { runMigrations } from 'graphile-worker';
import { databaseName, loginRoleUrl, parseDatabaseUrl, withDatabase } from './connection.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const MIGRATIONS_FOLDER = path.join(here, 'migrations');

const quiet = { onnotice: () => undefined, max: 1 } as const;
const silentLogger = new Logger(() => () => undefined);

function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export interface SetupOptions {
  adminUrl: string;
  loginPassword: string;
  /** skip creating the database (it exists, e.g. a per-test copy) */
  createDatabase?: boolean;
}

export async function createRoles(adminUrl: string, loginPassword: string): Promise<void> {
  const rolesSql = await readFile(path.join(here, 'roles.sql'), 'utf8');
  const sql = postgres(adminUrl, quiet);
  try {
    await sql.begin(async (tx) => {
      // roles are cluster-global: two setups at once (parallel CI jobs) must not race
      await tx`select pg_advisory_xact_lock(hashtext('pgcomply.roles'))`;
      await tx`select set_config('pgcomply.login_password', ${loginPassword}, true)`;
      await tx.unsafe(rolesSql);
    });
  } finally {
    await sql.end();
  }
}

export async function grantDatabase(adminUrl: string): Promise<void> {
  const db = ident(databaseName(parseDatabaseUrl(adminUrl)));
  const sql = postgres(adminUrl, quiet);
  try {
    await sql.unsafe(`
      grant connect, create, temporary on database ${db} to compliance_owner;
      grant connect on database ${db} to compliance_app, compliance_dpo, compliance_worker, compliance_auditor;
      -- graphile-worker keeps its queue in its own schema, created by the worker login
      grant create on database ${db} to pgcomply_worker;
    `);
  } finally {
    await sql.end();
  }
}

export async function ensureDatabase(adminUrl: string): Promise<void> {
  const url = parseDatabaseUrl(adminUrl);
  const name = databaseName(url);
  const sql = postgres(withDatabase(url, 'postgres'), quiet);
  try {
    const [row] = await sql`select exists (select from pg_database where datname = ${name}) as present`;
    if (!row?.present) await sql.unsafe(`create database ${ident(name)}`);
  } finally {
    await sql.end();
  }
}

export async function migrateDatabase(adminUrl: string, loginPassword: string): Promise<void> {
  const url = parseDatabaseUrl(adminUrl);
  try {
    await migrate({
      connectionString: loginRoleUrl(url, 'migrator', loginPassword),
      rootConnectionString: withDatabase(url, 'postgres'),
      databaseOwner: 'compliance_owner',
      migrationsFolder: MIGRATIONS_FOLDER,
      logger: silentLogger,
    });
  } finally {
    // graphile-migrate's pool exits the process when an idle connection of it dies later,
    // so it must not outlive a failed migration either
    clearAllPools();
  }
  await runMigrations({
    connectionString: loginRoleUrl(url, 'worker', loginPassword),
    logger: silentLogger,
  });
}

export async function setupDatabase(options: SetupOptions): Promise<void> {
  parseDatabaseUrl(options.adminUrl);
  if (options.createDatabase !== false) await ensureDatabase(options.adminUrl);
  await createRoles(options.adminUrl, options.loginPassword);
  await grantDatabase(options.adminUrl);
  await migrateDatabase(options.adminUrl, options.loginPassword);
}
