/** npm run worker: the job worker alone (npm start runs it beside the server). */
import { takeOverSignals } from '../db/local-cluster.js';
import { bootDatabase } from '../core/boot.js';
import { alertDeliveryOf, anchorPublishingOf, backupsOf, drillsOf, loadConfig, propagationDeliveryOf, siemFeedOf, auditArchivingOf } from '../core/config.js';
import { workerLog } from './log.js';
import { startWorker } from './runner.js';

async function main() {
  const config = loadConfig();
  // before anything starts: production refuses to run without anchors
  const anchors = anchorPublishingOf(config);
  // WORKER_DATABASE_URL: a database set up elsewhere; without it this process sets one up
  const { cluster, loginUrl } = await bootDatabase(config, (m) => workerLog.info(m), !config.WORKER_DATABASE_URL);
  const connectionString = config.WORKER_DATABASE_URL ?? loginUrl('worker')!;
  const runner = await startWorker({ connectionString, staleLockSeconds: config.WORKER_STALE_LOCK_SECONDS, alerts: alertDeliveryOf(config), propagation: propagationDeliveryOf(config), siem: siemFeedOf(config), archive: auditArchivingOf(config), requireTls: config.REQUIRE_TLS, anchors, backups: backupsOf(config), drills: drillsOf(config),
    serviceHealthUrl: config.SERVICE_HEALTH_URL });
  if (!config.SERVICE_HEALTH_URL) workerLog.warn('SERVICE_HEALTH_URL is unset: the uptime figure measures the database and this worker, not the API (set it to the server\'s /healthz)');
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
