/**
 * PHI master key status and rotation, for pgcomply keys (npm run phi-keys). Connects as the
 * worker login: WORKER_DATABASE_URL, else derived from DATABASE_URL (or --database) or the running
 * embedded PostgreSQL, with DB_LOGIN_PASSWORD.
 */
import { runningEmbeddedUrl } from '../../db/local-cluster.js';
import { connect } from '../../db/tls.js';
import { existingMasterKeys, loginUrlOn } from '../../core/boot.js';
import { loadConfig } from '../../core/config.js';
import { rotateDataKeys } from './rotate.js';

async function workerSql(database?: string) {
  const config = loadConfig();
  const admin = database ?? config.DATABASE_URL ?? await runningEmbeddedUrl(config.PGCOMPLY_DATA_DIR);
  const url = (database ? undefined : config.WORKER_DATABASE_URL) ?? (admin ? loginUrlOn(config, admin, 'worker') : undefined);
  if (!url) throw new Error('set WORKER_DATABASE_URL or DATABASE_URL, or start the embedded PostgreSQL with npm start');
  // the keys must exist already: a new one would wrap nothing that is stored
  const keys = await existingMasterKeys(config);
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
