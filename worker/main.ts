/** npm run worker: the job worker alone (npm start runs it beside the server). */
import { loginRoleUrl, parseDatabaseUrl } from '../db/connection.js';
import { type LocalCluster, setUpAdminDatabase, takeOverSignals } from '../db/local-cluster.js';
import { alertDeliveryOf, anchorPublishingOf, loadConfig, tombstonePepperSource } from '../core/config.js';
import { workerLog } from './log.js';
import { startWorker } from './runner.js';

async function main() {
  const config = loadConfig();
  // before anything starts: production refuses to run without anchors
  const anchors = anchorPublishingOf(config);
  let cluster: LocalCluster | undefined;
  let connectionString = config.WORKER_DATABASE_URL;
  if (!connectionString) {
    const admin = await setUpAdminDatabase({ adminUrl: config.DATABASE_URL, dataDir: config.PGCOMPLY_DATA_DIR,
      port: config.EMBEDDED_PG_PORT, loginPassword: config.DB_LOGIN_PASSWORD, tombstonePepper: tombstonePepperSource(config),
      log: (m) => workerLog.info(m.trim()) });
    cluster = admin.cluster;
    connectionString = loginRoleUrl(parseDatabaseUrl(admin.adminUrl), 'worker', config.DB_LOGIN_PASSWORD);
  }
  const runner = await startWorker({ connectionString, staleLockSeconds: config.WORKER_STALE_LOCK_SECONDS, alerts: alertDeliveryOf(config), requireTls: config.REQUIRE_TLS, anchors });
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
