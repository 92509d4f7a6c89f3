/**
 * A worker killed mid-job (kill -9, a lost machine) leaves its job locked, and graphile-worker
 * takes a locked job again only after four hours: retention would not run meanwhile. Every
 * pgcomply task finishes within a bounded time (retention and sealing hand the rest of their
 * work to a fresh job, see MAX_JOB_SECONDS), so a lock older than the stale threshold belongs
 * to a worker that is gone. Those workers' locks are released at start-up and every minute.
 */
import { makeWorkerUtils, type WorkerUtils } from 'graphile-worker';
import { writablePool } from '../db/writable-pg.js';
import { workerLog } from './log.js';

/** the longest a pgcomply job runs before it hands over the rest of its work */
export const MAX_JOB_SECONDS = 60;
/** a lock older than this is a dead worker's (five times the longest job) */
export const DEFAULT_STALE_LOCK_SECONDS = 5 * MAX_JOB_SECONDS;

/** graphile-worker's utilities on a pool of their own, on the host that accepts writes */
async function withWorkerUtils<T>(connectionString: string, fn: (utils: WorkerUtils) => Promise<T>): Promise<T> {
  const pool = writablePool(connectionString, { max: 1 });
  pool.on('error', () => undefined);
  const utils = await makeWorkerUtils({ pgPool: pool });
  try {
    return await fn(utils);
  } finally {
    await utils.release();
    await pool.end();
  }
}

export async function unlockStaleJobs(connectionString: string, staleSeconds: number): Promise<string[]> {
  return withWorkerUtils(connectionString, async (utils) => {
    const workerIds = await utils.withPgClient(async (client) => {
      const { rows } = await client.query<{ locked_by: string }>(
        `select distinct locked_by from graphile_worker.jobs
          where locked_by is not null and locked_at < now() - make_interval(secs => $1)`, [staleSeconds]);
      return rows.map((row) => row.locked_by);
    });
    if (workerIds.length > 0) {
      await utils.forceUnlockWorkers(workerIds);
      workerLog.warn({ workers: workerIds, stale_after_seconds: staleSeconds }, 'released the jobs of workers that stopped without finishing them');
    }
    return workerIds;
  });
}

/** releases the jobs locked by the given job loops of this process (they are known to be dead) */
export async function releaseJobsOf(connectionString: string, workerIds: string[]): Promise<void> {
  if (workerIds.length === 0) return;
  await withWorkerUtils(connectionString, (utils) => utils.forceUnlockWorkers(workerIds));
}
