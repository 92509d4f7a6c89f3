/**
 * One idempotent setup step used by `npm start`, `npm run setup-db`, the tests and
 * docker-compose: create the database if missing, create the cluster-wide roles
 * (db/roles.sql), grant database privileges, run the committed migrations as
 * pgcomply_migrator, install graphile-worker's schema as pgcomply_worker, configure pgaudit's
 * object audit where the server loads it (db/database-audit.ts), spread the tables over a Citus
 * cluster where the database has one (db/citus.ts), and hand the database its
 * tombstone pepper's check value (the pepper itself stays outside).
 *
 * No login keeps CREATE on the database: the owner and the worker get it only while their
 * migrations run, so no login can later create a schema that some search_path would find.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { connect } from './tls.js';
import { migrate } from 'graphile-migrate';
// graphile-migrate keeps idle pools for 200 ms and exits the process if their server goes
// away meanwhile; release them at once so a caller may stop the cluster right after setup
import { clearAllPools } from 'graphile-migrate/dist/pgReal.js';
import { Logger } from '@graphile/logger';
import { runMigrations } from 'graphile-worker';
import { databaseName, ident, LOGIN_ROLES, loginRoleUrl, parseDatabaseUrl, withDatabase } from './connection.js';
import { type PepperSource, pepperParameters, readKeyring } from './pepper.js';
import { configureDatabaseAudit } from './database-audit.js';
import { citusWorkerCount, distributeOnCitus, letCitusConnectAsGroupRoles } from './citus.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const MIGRATIONS_FOLDER = path.join(here, 'migrations');

const quiet = { onnotice: () => undefined, max: 1 } as const;
const silentLogger = new Logger(() => () => undefined);

export interface SetupOptions {
  adminUrl: string;
  loginPassword: string;
  /** where the tombstone pepper comes from (db/pepper.ts) */
  tombstonePepper: PepperSource;
  /** skip creating the database (it exists, e.g. a per-test copy) */
  createDatabase?: boolean;
  /** on a Citus coordinator: shards per distributed table (32 by default) */
  shardCount?: number;
}

export async function createRoles(adminUrl: string, loginPassword: string): Promise<void> {
  const rolesSql = await readFile(path.join(here, 'roles.sql'), 'utf8');
  const sql = connect(adminUrl, quiet);
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

/**
 * Database privileges: CONNECT for pgcomply's roles and logins only, no CREATE for anyone but
 * during migrations (withCreateOnDatabase), no temporary tables but the owner's, and no
 * CREATE on schema public (PostgreSQL 15 and later revoke it already; older ones do not).
 */
export async function grantDatabase(adminUrl: string): Promise<void> {
  const db = ident(databaseName(parseDatabaseUrl(adminUrl)));
  const logins = Object.values(LOGIN_ROLES).map(ident).join(', ');
  const sql = connect(adminUrl, quiet);
  try {
    await sql.unsafe(`
      revoke all on database ${db} from public;
      revoke create on database ${db} from compliance_owner, ${logins};
      grant connect, temporary on database ${db} to compliance_owner;
      grant connect on database ${db} to compliance_app, compliance_dpo, compliance_worker, compliance_auditor, compliance_staff, compliance_approver, ${logins};
      do $public$ begin
        if exists (select from pg_catalog.pg_namespace where nspname = 'public') then
          revoke create on schema public from public;
        end if;
      end $public$;
    `);
  } finally {
    await sql.end();
  }
}

/**
 * Runs fn while the owner (migrations create schemas) and the worker login (graphile-worker
 * creates its own schema on first start) may create schemas in the database.
 */
export async function withCreateOnDatabase<T>(adminUrl: string, fn: () => Promise<T>): Promise<T> {
  const db = ident(databaseName(parseDatabaseUrl(adminUrl)));
  const sql = connect(adminUrl, quiet);
  try {
    await sql.unsafe(`grant create on database ${db} to compliance_owner, pgcomply_worker`);
    return await fn();
  } finally {
    await sql.unsafe(`revoke create on database ${db} from compliance_owner, pgcomply_worker`).catch(() => undefined);
    await sql.end();
  }
}

export async function ensureDatabase(adminUrl: string): Promise<void> {
  const url = parseDatabaseUrl(adminUrl);
  const name = databaseName(url);
  const sql = connect(withDatabase(url, 'postgres'), quiet);
  try {
    const [row] = await sql`select exists (select from pg_database where datname = ${name}) as present`;
    if (!row?.present) await sql.unsafe(`create database ${ident(name)}`);
  } finally {
    await sql.end();
  }
}

/** migrationsFolder: another folder only to build a database as an older release left it (the upgrade tests) */
export async function migrateDatabase(adminUrl: string, loginPassword: string, migrationsFolder = MIGRATIONS_FOLDER): Promise<void> {
  await withCreateOnDatabase(adminUrl, () => runAllMigrations(adminUrl, loginPassword, migrationsFolder));
}

async function runAllMigrations(adminUrl: string, loginPassword: string, migrationsFolder: string): Promise<void> {
  const url = parseDatabaseUrl(adminUrl);
  try {
    await migrate({
      connectionString: loginRoleUrl(url, 'migrator', loginPassword),
      rootConnectionString: withDatabase(url, 'postgres'),
      databaseOwner: 'compliance_owner',
      migrationsFolder,
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

/**
 * Gives the database its tombstone keyring's check values, as the owner. A database made
 * before the pepper left it still keeps its pepper in compliance_private.settings: when the
 * pepper file does not exist yet, that pepper is exported into it, so existing tombstones
 * stay valid, and then removed from the database.
 */
export async function adoptTombstonePepper(adminUrl: string, loginPassword: string, source: PepperSource): Promise<string> {
  const ownerUrl = loginRoleUrl(parseDatabaseUrl(adminUrl), 'migrator', loginPassword);
  const owner = connect(ownerUrl, quiet);
  let keyring: string;
  try {
    const [legacy] = await owner<{ pepper: string }[]>`
      select encode(value, 'hex') as pepper from compliance_private.settings where key = 'subject_pepper'`;
    keyring = await readKeyring(source, legacy?.pepper);
  } finally {
    await owner.end();
  }
  const withPepper = connect(ownerUrl, { ...quiet, connection: pepperParameters(keyring) });
  try {
    await withPepper`select compliance_private.adopt_tombstone_pepper()`;
  } finally {
    await withPepper.end();
  }
  return keyring;
}

/** sets the database up and returns the tombstone keyring its sessions must bring */
export async function setupDatabase(options: SetupOptions): Promise<string> {
  parseDatabaseUrl(options.adminUrl);
  if (options.createDatabase !== false) await ensureDatabase(options.adminUrl);
  await createRoles(options.adminUrl, options.loginPassword);
  // on a Citus coordinator with workers: the roles log in between nodes before any DDL reaches them
  const onCitus = ((await citusWorkerCount(options.adminUrl)) ?? 0) > 0;
  if (onCitus) await letCitusConnectAsGroupRoles(options.adminUrl);
  await grantDatabase(options.adminUrl);
  await migrateDatabase(options.adminUrl, options.loginPassword);
  if (onCitus) await distributeOnCitus(options.adminUrl, options.shardCount);
  await configureDatabaseAudit(options.adminUrl);
  return adoptTombstonePepper(options.adminUrl, options.loginPassword, options.tombstonePepper);
}
