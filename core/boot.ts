/**
 * How a process reaches its database and its keys, the same for npm start, npm run worker and
 * the CLI: set the database up when this process owns it (roles and migrations; an embedded
 * PostgreSQL without DATABASE_URL), derive the login URLs, and read the tombstone pepper and the
 * PHI master keys that already exist (only npm start in development makes new ones).
 */
import { type LoginRole, loginRoleUrl, parseDatabaseUrl } from '../db/connection.js';
import { type LocalCluster, setUpAdminDatabase } from '../db/local-cluster.js';
import { readKeyring } from '../db/pepper.js';
import { type Config, phiMasterKeySource, tombstonePepperSource } from './config.js';
import { loadMasterKeys, type MasterKeys } from './keys/master-keys.js';

/** a login's URL on the database the admin URL names, with the configured login password */
export const loginUrlOn = (config: Config, adminUrl: string, role: LoginRole): string =>
  loginRoleUrl(parseDatabaseUrl(adminUrl), role, config.DB_LOGIN_PASSWORD);

/** the tombstone pepper keyring that exists; never a new one, which would not match the database */
export function existingTombstoneKeyring(config: Config): Promise<string> {
  const pepper = tombstonePepperSource(config);
  return readKeyring('file' in pepper ? { ...pepper, create: false } : pepper);
}

/** the PHI master keys that exist; never new ones, under which no stored record could be read */
export function existingMasterKeys(config: Config): Promise<MasterKeys> {
  const source = phiMasterKeySource(config);
  return loadMasterKeys('file' in source ? { ...source, create: false } : source);
}

export interface BootedDatabase {
  /** the embedded PostgreSQL this process started, to stop with it */
  cluster?: LocalCluster;
  /** a login's URL when this process set the database up, else undefined */
  loginUrl(role: LoginRole): string | undefined;
  tombstoneKeyring(): Promise<string>;
}

/** sets the database up when setUp says this process owns it, else leaves it as it is */
export async function bootDatabase(config: Config, log: (message: string) => void, setUp: boolean): Promise<BootedDatabase> {
  const admin = setUp
    ? await setUpAdminDatabase({ adminUrl: config.DATABASE_URL, dataDir: config.PGCOMPLY_DATA_DIR, port: config.EMBEDDED_PG_PORT,
        loginPassword: config.DB_LOGIN_PASSWORD, tombstonePepper: tombstonePepperSource(config), log: (m) => log(m.trim()) })
    : undefined;
  return {
    cluster: admin?.cluster,
    loginUrl: (role) => (admin ? loginUrlOn(config, admin.adminUrl, role) : undefined),
    tombstoneKeyring: () => (admin ? Promise.resolve(admin.tombstoneKeyring) : existingTombstoneKeyring(config)),
  };
}
