/**
 * npm run phi-keys -- status | rotate
 *   status  which master key versions wrap the stored data keys, and which this process holds
 *   rotate  rewrap every data key under the newest master key in PHI_MASTER_KEY (server/phi/rotate.ts)
 * Connects as the worker login: WORKER_DATABASE_URL, else derived from DATABASE_URL or the
 * running embedded PostgreSQL, with DB_LOGIN_PASSWORD.
 */
import { Command } from 'commander';
import { loginRoleUrl, parseDatabaseUrl } from '../../db/connection.js';
import { runningEmbeddedUrl } from '../../db/local-cluster.js';
import { connect } from '../../db/tls.js';
import { loadConfig, phiMasterKeySource } from '../config.js';
import { loadMasterKeys } from './master-keys.js';
import { rotateDataKeys } from './rotate.js';

async function workerSql() {
  const config = loadConfig();
  const admin = config.DATABASE_URL ?? await runningEmbeddedUrl(config.PGCOMPLY_DATA_DIR);
  const url = config.WORKER_DATABASE_URL ?? (admin ? loginRoleUrl(parseDatabaseUrl(admin), 'worker', config.DB_LOGIN_PASSWORD) : undefined);
  if (!url) throw new Error('set WORKER_DATABASE_URL or DATABASE_URL, or start the embedded PostgreSQL with npm start');
  // the keys must exist already: a new one would wrap nothing that is stored
  const source = phiMasterKeySource(config);
  const keys = await loadMasterKeys('file' in source ? { ...source, create: false } : source);
  return { sql: connect(url, { max: 1, onnotice: () => undefined, connection: { application_name: 'pgcomply-phi-keys' } }), keys };
}

const program = new Command('phi-keys').description('PHI master keys: status and rotation');

program.command('status').description('master key versions in use, and which are loaded here').action(async () => {
  const { sql, keys } = await workerSql();
  try {
    const rows = await sql<{ kek_version: number; data_keys: string }[]>`select * from compliance.phi_key_versions()`;
    process.stdout.write(`loaded master key versions: ${keys.versions.join(', ')} (newest ${keys.currentVersion})\n`);
    for (const row of rows) {
      process.stdout.write(`version ${row.kek_version}: wraps ${row.data_keys} data keys${keys.versions.includes(row.kek_version) ? '' : ' (NOT LOADED: those records cannot be read)'}\n`);
    }
  } finally {
    await sql.end();
  }
});

program.command('rotate').description('rewrap every data key under the newest loaded master key').action(async () => {
  const { sql, keys } = await workerSql();
  try {
    const result = await rotateDataKeys(sql, keys, (done) => process.stdout.write(`\rrewrapped ${done}`));
    process.stdout.write(`\nrewrapped ${result.rewrapped} data keys under master key version ${result.kekVersion}; ${result.remaining} remain under older versions`
      + `${result.remaining === 0 ? ': the older master keys may now be removed' : ''}\n`);
  } finally {
    await sql.end();
  }
});

program.parseAsync().catch((error: unknown) => {
  process.stderr.write(`pgcomply phi-keys: ${(error as Error).message}\n`);
  process.exit(1);
});
