/**
 * How the CLI reaches pgcomply: as the server's login, through the same tRPC procedures the API
 * serves (createCaller), so a command validates, sets the request context, audits and refuses
 * exactly as the matching API call does. The identity is --actor with --role; the session id is
 * new per invocation.
 */
import { randomUUID } from 'node:crypto';
import type { ReservedSql, Sql } from 'postgres';
import { runningEmbeddedUrl } from '../db/local-cluster.js';
import { pepperParameters } from '../db/pepper.js';
import { splitHosts } from '../db/hosts.js';
import { existingMasterKeys, existingTombstoneKeyring, loginUrlOn } from '../core/boot.js';
import { connect } from '../db/tls.js';
import { loadConfig } from '../core/config.js';
import { createLogger } from '../core/log.js';
import { DataKeys } from '../core/keys/data-keys.js';
import { MasterKeyError, type MasterKeys } from '../core/keys/master-keys.js';
import { appRouter } from '../server/routers/index.js';
import { createCallerFactory, type RequestContext } from '../server/trpc.js';
import { inRequestTransaction, type RoleChoice } from '../server/request/transaction.js';
import type { Identity } from '../server/auth/verify.js';

export class UsageError extends Error {}

export interface GlobalOptions {
  database?: string;
  actor?: string;
  role?: string;
  debug?: boolean;
}

const createCaller = createCallerFactory(appRouter);
export type Caller = ReturnType<typeof createCaller>;

/** the superuser or owner URL: --database, DATABASE_URL, else the embedded PostgreSQL npm start runs */
export async function adminUrl(options: GlobalOptions): Promise<string> {
  const config = loadConfig();
  const url = options.database ?? config.DATABASE_URL ?? await runningEmbeddedUrl(config.PGCOMPLY_DATA_DIR);
  if (!url) {
    throw new UsageError(`no database: give --database or DATABASE_URL, or start the embedded PostgreSQL under ${config.PGCOMPLY_DATA_DIR} with npm start`);
  }
  return url;
}

/** host:port of a URL, for the one line an unreachable database gets */
export function whereIs(url: string): string {
  const { single, hosts } = splitHosts(url);
  const parsed = new URL(single);
  return hosts ?? `${parsed.hostname}:${parsed.port || '5432'}`;
}

/** a direct connection with the admin URL (from adminUrl), for what reads the tables themselves (pgcomply verify) */
export async function adminConnection(url: string): Promise<Sql> {
  const sql = connect(url, { max: 1, onnotice: () => undefined, connection: { application_name: 'pgcomply-cli' } });
  try {
    await sql`select 1`;
  } catch (error) {
    await sql.end({ timeout: 1 });
    throw new UsageError(`cannot reach the database at ${whereIs(url)}: ${(error as Error).message}`);
  }
  return sql;
}

export interface Session {
  caller: Caller;
  sql: Sql;
  /** the session's identity: --actor and --role */
  identity: Identity;
  /** the tombstone pepper keyring every connection of this session brings */
  keyring: string;
  dataKeys: DataKeys;
  /**
   * SQL in a request transaction as a procedure runs it (the context opened, the first database
   * role of `choices` the identity earns): for what no API procedure does, such as recording an
   * evidence package read on a standby
   */
  inRequest<T>(choices: readonly RoleChoice[], work: (tx: ReservedSql) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** the PHI master keys; without them only health records are out of reach, so their absence waits until one is read */
async function masterKeysOrNone(config: ReturnType<typeof loadConfig>): Promise<MasterKeys> {
  try {
    return await existingMasterKeys(config);
  } catch (error) {
    const missing = () => { throw new MasterKeyError(`no PHI master key: ${(error as Error).message}`); };
    return { currentVersion: 0, versions: [], wrap: missing, unwrap: missing };
  }
}

export async function openSession(options: GlobalOptions): Promise<Session> {
  if (!options.actor) throw new UsageError('say who is acting: --actor dpo:jane (it goes into the audit log)');
  const config = loadConfig();
  const admin = await adminUrl(options);
  const serverUrl = options.database || config.DATABASE_URL || !config.SERVER_DATABASE_URL
    ? loginUrlOn(config, admin, 'server')
    : config.SERVER_DATABASE_URL;
  const keyring = await existingTombstoneKeyring(config);
  const masterKeys = await masterKeysOrNone(config);
  const sql = connect(serverUrl, { max: 2, onnotice: () => undefined,
    connection: { application_name: 'pgcomply-cli', ...pepperParameters(keyring) } });
  try {
    await sql`select 1`;
  } catch (error) {
    await sql.end({ timeout: 1 });
    throw new UsageError(`cannot reach the database at ${whereIs(serverUrl)}: ${(error as Error).message}`);
  }
  const identity: Identity = { subject: options.actor, roles: [options.role ?? 'dpo'], sessionId: randomUUID(), amr: [] };
  const dataKeys = new DataKeys(masterKeys);
  const context: RequestContext = {
    sql,
    dataKeys,
    log: createLogger(options.debug ? 'debug' : 'silent', 'pgcomply-cli'),
    // a database login, not a token, authenticates the CLI: no token claims to check (assurance unset)
    identity,
    authError: null,
    clientIp: null,
    userAgent: 'pgcomply-cli',
    sessionIdleTimeoutSeconds: config.SESSION_IDLE_TIMEOUT_SECONDS,
  };
  const inRequest = async <T>(choices: readonly RoleChoice[], work: (tx: ReservedSql) => Promise<T>): Promise<T> => {
    const done = await inRequestTransaction(context, choices, async ({ ctx: { tx } }) => ({ ok: true as const, value: await work(tx) }));
    return done.value;
  };
  return { caller: createCaller(context), sql, identity, keyring, dataKeys, inRequest, close: () => sql.end({ timeout: 5 }) };
}
