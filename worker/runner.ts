/** Starts graphile-worker with pgcomply's tasks (one file each in worker/tasks/) and worker/crontab. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, type Runner, type TaskList } from 'graphile-worker';
import pg from 'pg';
import { graphileLogger, reportClosedConnection } from './log.js';
import { partitionMaintenance } from './tasks/partition-maintenance.js';
import { retention } from './tasks/retention.js';
import { SEAL_JOB_KEY, sealAuditLog } from './tasks/seal-audit-log.js';
import { unlockStaleJobs as unlockStaleJobsTask } from './tasks/unlock-stale-jobs.js';
import { DEFAULT_STALE_LOCK_SECONDS, unlockStaleJobs } from './stale-locks.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const CRONTAB = readFileSync(path.join(here, 'crontab'), 'utf8');

export interface WorkerOptions {
  connectionString: string;
  concurrency?: number;
  sealIntervalSeconds?: number;
  pollInterval?: number;
  /** a job lock older than this belongs to a worker that is gone (worker/stale-locks.ts) */
  staleLockSeconds?: number;
}

export function taskList(sealIntervalSeconds: number, connectionString: string, staleLockSeconds: number): TaskList {
  return {
    retention,
    partition_maintenance: partitionMaintenance,
    seal_audit_log: sealAuditLog(sealIntervalSeconds),
    unlock_stale_jobs: unlockStaleJobsTask(connectionString, staleLockSeconds),
  };
}

export async function startWorker(options: WorkerOptions): Promise<Runner> {
  const staleLockSeconds = options.staleLockSeconds ?? DEFAULT_STALE_LOCK_SECONDS;
  const concurrency = options.concurrency ?? 2;
  // a worker killed before this one started may still hold jobs
  await unlockStaleJobs(options.connectionString, staleLockSeconds);
  // our own pool, so a connection the server ends (its shutdown, a failover,
  // pg_terminate_backend) is one log line and a reconnect, never an unhandled 'error' event
  const pool = new pg.Pool({ connectionString: options.connectionString, max: concurrency + 2 });
  pool.on('error', reportClosedConnection);
  const runner = await run({
    pgPool: pool,
    concurrency,
    pollInterval: options.pollInterval ?? 1000,
    noHandleSignals: true,
    taskList: taskList(options.sealIntervalSeconds ?? 1, options.connectionString, staleLockSeconds),
    crontab: CRONTAB,
    logger: graphileLogger,
  }).catch(async (error: unknown) => {
    await pool.end();
    throw error;
  });
  // start the sealing loop now rather than at the next minute
  await runner.addJob('seal_audit_log', {}, { jobKey: SEAL_JOB_KEY, jobKeyMode: 'preserve_run_at' });
  const stopRunner = runner.stop.bind(runner);
  return Object.assign(runner, {
    stop: async () => {
      try {
        await stopRunner();
      } finally {
        await pool.end().catch(() => undefined);
      }
    },
  });
}
