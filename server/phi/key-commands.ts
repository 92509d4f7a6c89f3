/**
 * PHI master key status and rotation, for npm run phi-keys and pgcomply keys. Connects as the
 * worker login: WORKER_DATABASE_URL, else derived from DATABASE_URL (or --database) or the running
 * embedded PostgreSQL, with DB_LOGIN_PASSWORD.
 */
import { loginRoleUrl, parseDatabaseUrl } from '../../db/connection.js';
import { runningEmbeddedUrl } from '../../db/local-cluster.js';
import { connect } from '../../db/tls.js';
import { loadConfig, phiMasterKeySource } from '../../core/config.js';
import { loadMasterKeys } from '../../core/keys/master-keys.js';
import { rotateDataKeys } from './rotate.js';

async function workerSql(database?: string) {
  const config = loadConfig();
  const admin = database ?? config.DATABASE_URL ?? await runningEmbeddedUrl(config.PGCOMPLY_DATA_DIR);
  const url = (database ? undefined : config.WORKER_DATABASE_URL) ?? (admin ? loginRoleUrl(parseDatabaseUrl(admin), 'worker', config.DB_LOGIN_PASSWORD) : undefined);
  if (!url) throw new Error('set WORKER_DATABASE_URL or DATABASE_URL, or start the embedded PostgreSQL with npm start');
  // the keys must exist already: a new one would wrap nothing that is stored
  const source = phiMasterKeySource(config);
  const keys = await loadMasterKeys('file' in source ? { ...source, create: false } : source);
  return { sql: connect(url, { max: 1, onnotice: () => undefined, connection: { application_name: 'pgcomply-phi-keys' } }), keys };
}

export interface KeyStatus {
  loaded_versions: number[];
  newest: number;
  in_use: { kek_version: number; data_keys: number; loaded: boolean }[];
}

export async function keyStatus(database?: string): Promise<KeyStatus> {
  const { sql, keys } = await workerSql(database);
  try {
    const rows = await sql<{ kek_version: number; data_keys: string }[]>`select * from compliance.phi_key_versions()`;
    return { loaded_versions: [...keys.versions], newest: keys.currentVersion,
      in_use: rows.map((r) => ({ kek_version: r.kek_version, data_keys: Number(r.data_keys), loaded: keys.versions.includes(r.kek_version) })) };
  } finally {
    await sql.end();
  }
}

export async function keyRotate(onProgress: (done: number) => void, database?: string) {
  const { sql, keys } = await workerSql(database);
  try {
    return await rotateDataKeys(sql, keys, onProgress);
  } finally {
    await sql.end();
  }
}
