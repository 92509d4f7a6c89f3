/** npm run worker: the job worker alone (npm start runs it beside the server). */
import { loginRoleUrl, parseDatabaseUrl } from '../db/connection.js';
import { type LocalCluster, startLocalCluster, takeOverSignals } from '../db/local-cluster.js';
import { setupDatabase } from '../db/setup.js';
import { loadConfig } from '../server/config.js';
import { workerLog } from './log.js';
import { startWorker } from './runner.js';

async function main() {
  const config = loadConfig();
  let cluster: LocalCluster | undefined;
  let connectionString = config.WORKER_DATABASE_URL;
  if (!connectionString) {
    let adminUrl = config.DATABASE_URL;
    if (!adminUrl) {
      cluster = await startLocalCluster({ dataDir: config.PGCOMPLY_DATA_DIR, port: config.EMBEDDED_PG_PORT, log: (m) => workerLog.info(m.trim()) });
      adminUrl = cluster.adminUrl;
    }
    await setupDatabase({ adminUrl, loginPassword: config.DB_LOGIN_PASSWORD });
    connectionString = loginRoleUrl(parseDatabaseUrl(adminUrl), 'worker', config.DB_LOGIN_PASSWORD);
  }
  const runner = await startWorker({ connectionString });
  workerLog.info('pgcomply worker running');
  const stop = async () => {
    await runner.stop();
    await cluster?.stop();
    process.exit(0);
  };
  takeOverSignals(() => void stop());
}

main().catch((error: unknown) => {
  process.stderr.write(`pgcomply worker: ${(error as Error).message ?? String(error)}\n`);
  process.exit(1);
});
