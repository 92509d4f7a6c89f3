/**
 * npm start: the API server and the job worker. With no DATABASE_URL it runs on an embedded
 * PostgreSQL under .data/; either way it creates roles and migrates before serving.
 */
import type { AddressInfo } from 'node:net';
import { connect } from '../db/tls.js';
import { takeOverSignals } from '../db/local-cluster.js';
import { pepperParameters } from '../db/pepper.js';
import { bootDatabase } from '../core/boot.js';
import { startWorker, type Worker } from '../worker/runner.js';
import { createApp } from './app.js';
import { createVerifier } from './auth/verify.js';
import { alertDeliveryOf, propagationDeliveryOf, siemFeedOf, auditArchivingOf, allowedHostsOf, assuranceOf, anchorPublishingOf, backupsOf, drillsOf, loadConfig, phiMasterKeySource, webAuthOf } from '../core/config.js';
import { ensureWebBuilt, WEB_DIST, webIsBuilt } from '../web/build.js';
import { DataKeys } from '../core/keys/data-keys.js';
import { loadMasterKeys, reportMissingMasterKeys } from '../core/keys/master-keys.js';
import { createLogger } from '../core/log.js';
import { createMetrics } from './metrics.js';
import { listen } from './listen.js';
import { reloadCertificate, type TlsFiles } from './transport.js';

/** the longest one component of npm start may take to stop on Ctrl-C */
const STEP_MS = 20_000;

async function main() {
  const config = loadConfig();
  const log = createLogger(config.LOG_LEVEL);
  // before anything starts: production refuses to run a worker that writes no anchors
  const anchors = config.RUN_WORKER ? anchorPublishingOf(config) : undefined;
  // SERVER_DATABASE_URL alone: a database set up elsewhere (docker-compose's setup service)
  const database = await bootDatabase(config, (m) => log.info(m), Boolean(config.DATABASE_URL || !config.SERVER_DATABASE_URL));
  const tombstoneKeyring = await database.tombstoneKeyring();
  const cluster = database.cluster;
  const serverUrl = config.SERVER_DATABASE_URL ?? database.loginUrl('server')!;
  const workerUrl = config.WORKER_DATABASE_URL ?? database.loginUrl('worker');
  if (config.RUN_WORKER && !workerUrl) {
    throw new Error('set WORKER_DATABASE_URL, or RUN_WORKER=false and run the worker separately (npm run worker)');
  }
  const sql = connect(serverUrl, {
    max: 10,
    onnotice: () => undefined,
    connection: { application_name: 'pgcomply-server', ...pepperParameters(tombstoneKeyring) },
  });

  if (!config.AUTH_JWKS_URL && !config.AUTH_JWT_SECRET) {
    log.warn('AUTH_JWKS_URL and AUTH_JWT_SECRET are unset: tokens are checked against the development secret. Make one with: npm run token -- --sub user:alice');
  }
  const verifier = createVerifier({ jwksUrl: config.AUTH_JWKS_URL, issuer: config.AUTH_ISSUER, audience: config.AUTH_AUDIENCE, secret: config.AUTH_JWT_SECRET,
    keyMaxAgeSeconds: config.JWKS_MAX_AGE_SECONDS });
  const masterKeys = await loadMasterKeys(phiMasterKeySource(config), (file) =>
    log.warn({ file }, `no PHI master key was given: made one in ${file} for development. Back it up: without it no health record can be read. Set PHI_MASTER_KEY or PHI_MASTER_KEY_FILE in production`));
  await reportMissingMasterKeys(sql, masterKeys, log);
  const dataKeys = new DataKeys(masterKeys);
  // production serves what npm install (prepare) or npm run build:web built, and never runs Vite
  if (config.NODE_ENV !== 'production') await ensureWebBuilt({ log: (m) => log.info(m) });
  else if (!webIsBuilt()) log.error('the pages are not built (web/dist): run npm run build:web; the API runs without them');
  const tls: TlsFiles | undefined = config.TLS_CERT_FILE ? { certFile: config.TLS_CERT_FILE, keyFile: config.TLS_KEY_FILE! } : undefined;
  const server = createApp({ sql, log, verifier, metrics: createMetrics(), sessionIdleTimeoutSeconds: config.SESSION_IDLE_TIMEOUT_SECONDS, dataKeys, allowedHosts: allowedHostsOf(config), assurance: assuranceOf(config),
    propagationSecret: config.PROPAGATION_SECRET },
    { distDir: WEB_DIST, auth: webAuthOf(config), sessionIdleTimeoutSeconds: config.SESSION_IDLE_TIMEOUT_SECONDS },
    { tls, trustProxyTls: config.TRUST_PROXY_TLS });
  if (tls) {
    // a renewed certificate (certbot, cert-manager) is taken on SIGHUP, without dropping a connection
    process.on('SIGHUP', () => {
      try {
        reloadCertificate(server, tls);
        log.info({ certificate: tls.certFile }, 'TLS certificate reloaded');
      } catch (error) {
        log.error({ certificate: tls.certFile }, `TLS certificate not reloaded, the old one stays: ${(error as Error).message}`);
      }
    });
  }
  // the worker starts before the server listens, so its first jobs (sealing, the anchor at start)
  // are under way before the first request
  const worker: Worker | undefined = config.RUN_WORKER
    ? await startWorker({ connectionString: workerUrl!, staleLockSeconds: config.WORKER_STALE_LOCK_SECONDS, alerts: alertDeliveryOf(config), propagation: propagationDeliveryOf(config), siem: siemFeedOf(config), archive: auditArchivingOf(config), requireTls: config.REQUIRE_TLS,
      anchors, backups: backupsOf(config), drills: drillsOf(config), serviceHealthUrl: config.SERVICE_HEALTH_URL })
    : undefined;

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    // each component stops on its own: one that fails to (the database may already be going
    // down with the same Ctrl-C) is one line, and the rest still stop
    // and none may hold the others up: after STEP_MS it is left to the process's exit
    const step = async (component: string, run: () => Promise<unknown>) => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`not stopped within ${STEP_MS / 1000} s`)), STEP_MS);
      });
      try {
        await Promise.race([run(), late]);
        log.info({ component }, `${component} stopped`);
      } catch (error) {
        log.warn({ component }, `${component} did not stop cleanly: ${(error as Error).message}`);
      } finally {
        clearTimeout(timer);
      }
    };
    await step('server', () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    }));
    if (worker) await step('worker', () => worker.stop());
    await step('database connections', () => sql.end({ timeout: 5 }));
    if (cluster) await step('embedded PostgreSQL', () => cluster.stop());
    process.exit(0);
  };
  takeOverSignals((signal) => void stop(signal));

  try {
    await listen(server, config.PORT, config.HOST);
  } catch (error) {
    await worker?.stop();
    await sql.end({ timeout: 5 });
    await cluster?.stop();
    throw error;
  }
  const { port } = server.address() as AddressInfo;
  // 0.0.0.0 and :: listen everywhere and are nobody's address to call: show the loopback one
  const shownHost = config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST === '::' ? '::1' : config.HOST;
  const publicUrl = `${tls ? 'https' : 'http'}://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`;
  log.info({ url: publicUrl, worker: Boolean(worker), database: cluster ? 'embedded' : 'DATABASE_URL' }, 'pgcomply is running');
  process.stdout.write(`pgcomply listening on ${publicUrl} (health: ${publicUrl}/healthz, API: ${publicUrl}/api/openapi.json)\n`);
  if (cluster) process.stdout.write('the database is an embedded PostgreSQL under ' + config.PGCOMPLY_DATA_DIR + '; a DBA connects with: npm run psql\n');
  // the worker probes this server's /healthz for the uptime figure once it listens; over TLS the
  // certificate names a host this process cannot guess, so the operator gives the URL
  const serviceHealthUrl = config.SERVICE_HEALTH_URL ?? (tls ? undefined : `${publicUrl}/healthz`);
  if (worker && serviceHealthUrl) worker.probeApiAt(serviceHealthUrl);
  else if (worker) log.warn('SERVICE_HEALTH_URL is unset: the uptime figure measures the database and the worker, not the API (set it to this server\'s https://…/healthz)');
}

main().catch((error: unknown) => {
  process.stderr.write(`pgcomply: ${(error as Error).message ?? String(error)}\n`);
  process.exit(1);
});
