/** Starts graphile-worker with pgcomply's tasks (one file each in worker/tasks/) and worker/crontab. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EventEmitter } from 'node:events';
import { run, type Runner, type TaskList, type WorkerEvents } from 'graphile-worker';
import pg from 'pg';
import { waitOutConnectionLoss } from './cron-pool.js';
import { graphileLogger, reportClosedConnection, workerLog } from './log.js';
import { writablePool } from '../db/writable-pg.js';
import { startServiceProbe } from './service-probe.js';
import { backup } from './tasks/backup.js';
import { type RestoreDrills, restoreDrillTask } from './tasks/restore-drill.js';
import type { PgBackRest } from '../core/backups/take-backup.js';
import { accessReview } from './tasks/access-review.js';
import { monthlyReport } from './tasks/monthly-report.js';
import { type AnchorPublishing, publishAnchor } from './tasks/publish-anchor.js';
import { partitionMaintenance } from './tasks/partition-maintenance.js';
import { phiUnusualAccess } from './tasks/phi-unusual-access.js';
import { complianceChecks } from './tasks/compliance-checks.js';
import { heartbeat } from './tasks/heartbeat.js';
import { type AlertDelivery, DELIVER_ALERTS_JOB_KEY, deliverAlerts } from './tasks/deliver-alerts.js';
import { DELIVER_PROPAGATION_JOB_KEY, deliverPropagation, type PropagationDelivery } from './tasks/deliver-propagation.js';
import { archiveAudit, type AuditArchiving } from './tasks/archive-audit.js';
import { SIEM_FEED_JOB_KEY, type SiemFeed, siemFeed } from './tasks/siem-feed.js';
import { retention } from './tasks/retention.js';
import { finishErasures } from './tasks/finish-erasures.js';
import { SEAL_JOB_KEY, sealAuditLog } from './tasks/seal-audit-log.js';
import { unlockStaleJobs as unlockStaleJobsTask } from './tasks/unlock-stale-jobs.js';
import { DEFAULT_STALE_LOCK_SECONDS, releaseJobsOf, unlockStaleJobs } from './stale-locks.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const CRONTAB = readFileSync(path.join(here, 'crontab'), 'utf8');

export interface WorkerOptions {
  connectionString: string;
  concurrency?: number;
  sealIntervalSeconds?: number;
  pollInterval?: number;
  /** a job lock older than this belongs to a worker that is gone (worker/stale-locks.ts) */
  staleLockSeconds?: number;
  /** where alerts go (worker/tasks/deliver-alerts.ts); the log when no webhook is given */
  alerts?: Partial<AlertDelivery>;
  /** how a subject's requests reach other systems (worker/tasks/deliver-propagation.ts) */
  propagation?: Partial<PropagationDelivery>;
  /** SIEM_SYSLOG_URL: the audit trail fed to a SIEM over syslog (worker/tasks/siem-feed.ts) */
  siem?: Partial<SiemFeed> & Pick<SiemFeed, 'host' | 'port'>;
  /** ARCHIVE_TO: sealed audit months older than archive_after go to the cold archive monthly (worker/tasks/archive-audit.ts) */
  archive?: AuditArchiving;
  /** REQUIRE_TLS: the client_tls compliance check then fails on any connection without TLS */
  requireTls?: boolean;
  /** ANCHOR_DIR and the signing key: an anchor is published at start and hourly (worker/tasks/publish-anchor.ts) */
  anchors?: AnchorPublishing;
  /** BACKUP_STANZA: pgBackRest backs the cluster up weekly (full) and daily (differential) (worker/tasks/backup.ts) */
  backups?: PgBackRest;
  /** BACKUP_STANZA: the newest backup is restored into a scratch cluster and checked weekly (worker/tasks/restore-drill.ts) */
  drills?: RestoreDrills;
  /** the API's /healthz: probed every 15 s with the primary, for the uptime figure (worker/service-probe.ts) */
  serviceHealthUrl?: string;
  /** how often the service probe runs (15 s) */
  probeIntervalMs?: number;
  /** is told every graphile-worker event of every runner this worker starts (the fault tests watch the jobs) */
  observer?: WorkerEvents;
}

const alertDelivery = (options: WorkerOptions): AlertDelivery => ({ leaseSeconds: 60, intervalSeconds: 2, ...options.alerts });
const propagationDelivery = (options: WorkerOptions): PropagationDelivery => ({ leaseSeconds: 60, intervalSeconds: 2, scim: {}, ...options.propagation });
const siemFeedOptions = (options: WorkerOptions): SiemFeed | undefined =>
  options.siem && { batch: 2000, settleMs: 1000, intervalSeconds: 2, ...options.siem };

export function taskList(sealIntervalSeconds: number, connectionString: string, staleLockSeconds: number, alerts: AlertDelivery, requireTls = false,
  anchors?: AnchorPublishing, backups?: PgBackRest, drills?: RestoreDrills, propagation?: PropagationDelivery, siem?: SiemFeed, archive?: AuditArchiving): TaskList {
  return {
    access_review: accessReview,
    archive_audit: archiveAudit(archive),
    backup: backup(backups),
    restore_drill: restoreDrillTask(drills),
    heartbeat,
    monthly_report: monthlyReport,
    compliance_checks: complianceChecks(requireTls, backups),
    deliver_alerts: deliverAlerts(alerts),
    finish_erasures: finishErasures,
    deliver_propagation: deliverPropagation(propagation ?? { leaseSeconds: 60, intervalSeconds: 2, scim: {} }),
    // without a SIEM the watchdog's job does nothing, and no feed is started
    siem_feed: siem ? siemFeed(siem) : async () => undefined,
    retention,
    partition_maintenance: partitionMaintenance,
    phi_unusual_access: phiUnusualAccess,
    publish_anchor: publishAnchor(anchors),
    seal_audit_log: sealAuditLog(sealIntervalSeconds),
    unlock_stale_jobs: unlockStaleJobsTask(connectionString, staleLockSeconds),
  };
}

/** what npm start and npm run worker hold: the running worker, restarted when it loses a job loop */
export interface Worker {
  /** the API's /healthz to probe from now on, for a worker started before its server listened */
  probeApiAt(healthUrl: string): void;
  stop(): Promise<void>;
}

/** one graphile-worker runner on its own pool, and the ids of its job loops as they start */
interface RunningRunner {
  runner: Runner;
  pool: pg.Pool;
  workerIds: string[];
  /** stops the runner, then its pool; a cron query waiting for the database gives up first */
  stop(): Promise<void>;
}

async function startRunner(options: WorkerOptions, onFatal: () => void): Promise<RunningRunner> {
  const staleLockSeconds = options.staleLockSeconds ?? DEFAULT_STALE_LOCK_SECONDS;
  const concurrency = options.concurrency ?? 2;
  // our own pool, so a connection the server ends (its shutdown, a failover,
  // pg_terminate_backend) is one log line and a reconnect, never an unhandled 'error' event
  // a multi-host URL's connections go to the host that accepts writes (db/writable-pg.ts)
  const pool = writablePool(options.connectionString, { max: concurrency + 2 });
  pool.on('error', reportClosedConnection);
  const cronQueries = waitOutConnectionLoss(pool);
  // and one a job loop holds checked out: the loop's next query then fails and is retried
  pool.on('connect', (client) => client.on('error', reportClosedConnection));
  const workerIds: string[] = [];
  // listening from before run(): the job loops are created while it starts
  const events: WorkerEvents = new EventEmitter();
  if (options.observer) {
    const emit = events.emit.bind(events);
    events.emit = ((name: string, ...args: unknown[]) => {
      options.observer!.emit(name as never, ...(args as [never]));
      return emit(name as never, ...(args as [never]));
    }) as typeof events.emit;
  }
  events.on('worker:create', ({ worker }) => workerIds.push(worker.workerId));
  // a job loop that cannot record a job's end (its connection died) ends for good: graphile-worker
  // expects the process to be restarted, so the runner is
  events.on('worker:fatalError', onFatal);
  let runner: Runner | undefined;
  try {
    runner = await run({
      pgPool: pool,
      events,
      concurrency,
      pollInterval: options.pollInterval ?? 1000,
      noHandleSignals: true,
      taskList: taskList(options.sealIntervalSeconds ?? 1, options.connectionString, staleLockSeconds, alertDelivery(options), options.requireTls, options.anchors, options.backups, options.drills, propagationDelivery(options), siemFeedOptions(options), options.archive),
      crontab: CRONTAB,
      logger: graphileLogger,
    });
    // start the sealing loop now rather than at the next minute
    await runner.addJob('seal_audit_log', {}, { jobKey: SEAL_JOB_KEY, jobKeyMode: 'preserve_run_at' });
    await runner.addJob('deliver_alerts', {}, { jobKey: DELIVER_ALERTS_JOB_KEY, jobKeyMode: 'preserve_run_at' });
    await runner.addJob('deliver_propagation', {}, { jobKey: DELIVER_PROPAGATION_JOB_KEY, jobKeyMode: 'preserve_run_at' });
    if (options.siem) await runner.addJob('siem_feed', {}, { jobKey: SIEM_FEED_JOB_KEY, jobKeyMode: 'preserve_run_at' });
    // alive from the first minute, not from the next cron tick
    await runner.addJob('heartbeat', {}, { jobKey: 'heartbeat', jobKeyMode: 'replace' });
    // an anchor within the first interval, once the sealer has sealed something
    if (options.anchors) {
      await runner.addJob('publish_anchor', { first: true }, { jobKey: 'publish_anchor_at_start', jobKeyMode: 'replace', maxAttempts: 8 });
    }
    const started = runner;
    const stop = async () => {
      cronQueries.stopWaiting();
      await started.stop().catch(() => undefined);
      await pool.end().catch(() => undefined);
    };
    return { runner: started, pool, workerIds, stop };
  } catch (error) {
    // a runner whose start failed half-way must not keep loops running beside the next one
    cronQueries.stopWaiting();
    await runner?.stop().catch(() => undefined);
    await pool.end().catch(() => undefined);
    throw error;
  }
}

const FIRST_START_ATTEMPTS = 4;

export async function startWorker(options: WorkerOptions): Promise<Worker> {
  const staleLockSeconds = options.staleLockSeconds ?? DEFAULT_STALE_LOCK_SECONDS;
  // One state machine for start and restart. Each runner started is a generation; a job loop that
  // dies marks its generation lost. A lost generation that is current is replaced; one that is
  // still starting is replaced as soon as its start returns (a loop can die while run() sets the
  // loops up, before the runner is ours); an old one is already stopped. Nothing here may reject
  // unhandled: a worker never exits on a lost connection.
  interface Generation { running?: RunningRunner; lost: boolean }
  let current: Generation | undefined;
  let stopping = false;
  let restarting: Promise<void> | undefined;
  let again = false;

  async function launch(): Promise<Generation> {
    const generation: Generation = { lost: false };
    generation.running = await startRunner(options, () => {
      generation.lost = true;
      if (generation === current) scheduleRestart();
    });
    return generation;
  }

  function scheduleRestart(): void {
    if (stopping) return;
    if (restarting) {
      again = true;
      return;
    }
    restarting = (async () => {
      do {
        again = false;
        workerLog.warn('a job loop of the worker lost its database connection; restarting the worker');
        const previous = current;
        current = undefined;
        await previous?.running?.stop().catch(() => undefined);
        for (let attempt = 1; !stopping; attempt += 1) {
          try {
            // the jobs the dead loops held are ours: release them now rather than when stale
            await releaseJobsOf(options.connectionString, previous?.running?.workerIds ?? []);
            const next = await launch();
            current = next;
            if (next.lost) again = true;
            workerLog.info({ attempt }, 'worker restarted');
            break;
          } catch (error) {
            workerLog.warn({ attempt }, `the worker could not restart yet: ${(error as Error).message}`);
            await new Promise((resolve) => setTimeout(resolve, Math.min(30_000, 500 * 2 ** attempt)));
          }
        }
      } while (again && !stopping);
    })().catch((error: unknown) => workerLog.error({ err: error }, 'the worker could not restart'))
      .finally(() => {
        restarting = undefined;
      });
  }

  // the first start is tried again, as a restart is, when the database cuts it off (its
  // connections terminated while the loops were being set up); a setting that is wrong still
  // fails the start, after the last attempt
  for (let attempt = 1; ; attempt += 1) {
    try {
      // a worker killed before this one started may still hold jobs
      await unlockStaleJobs(options.connectionString, staleLockSeconds);
      const first = await launch();
      current = first;
      if (first.lost) scheduleRestart();
      break;
    } catch (error) {
      if (attempt >= FIRST_START_ATTEMPTS) throw error;
      workerLog.warn({ attempt }, `the worker could not start yet: ${(error as Error).message}`);
      await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** attempt));
    }
  }

  const probe = startServiceProbe({ connectionString: options.connectionString, healthUrl: options.serviceHealthUrl, intervalMs: options.probeIntervalMs });
  return {
    probeApiAt: (healthUrl) => probe.probeApiAt(healthUrl),
    async stop() {
      stopping = true;
      await probe.stop();
      await restarting;
      await current?.running?.stop();
    },
  };
}
