/**
 * A worker killed mid-job (kill -9, a lost machine) leaves its job locked, and graphile-worker
 * takes a locked job again only after four hours: retention would not run meanwhile. Every
 * pgcomply task finishes within a bounded time (retention and sealing hand the rest of their
 * work to a fresh job, see MAX_JOB_SECONDS), so a lock older than the stale threshold belongs
 * to a worker that is gone. Those workers' locks are released at start-up and every minute.
 */
import { makeWorkerUtils } from 'graphile-worker';
import { workerLog } from './log.js';

/** the longest a pgcomply job runs before it hands over the rest of its work */
export const MAX_JOB_SECONDS = 60;
/** a lock older than this is a dead worker's (five times the longest job) */
export const DEFAULT_STALE_LOCK_SECONDS = 5 * MAX_JOB_SECONDS;

export async function unlockStaleJobs(connectionString: string, staleSeconds: number): Promise<string[]> {
  const utils = await makeWorkerUtils({ connectionString });
  try {
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
  } finally {
    await utils.release();
  }
}

/** releases the jobs locked by the given job loops of this process (they are known to be dead) */
export async function releaseJobsOf(connectionString: string, workerIds: string[]): Promise<void> {
  if (workerIds.length === 0) return;
  const utils = await makeWorkerUtils({ connectionString });
  try {
    await utils.forceUnlockWorkers(workerIds);
  } finally {
    await utils.release();
  }
}
