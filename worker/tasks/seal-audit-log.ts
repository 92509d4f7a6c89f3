/** Seals finished audit rows into the hash chains (one per shard on Citus), then schedules itself again a few seconds later. */
import type { Task } from 'graphile-worker';
import { z } from 'zod';
import { workerLog } from '../log.js';
import { MAX_JOB_SECONDS } from '../stale-locks.js';

const payload = z.object({ interval_seconds: z.number().int().min(1).max(300).optional() }).loose();

export const SEAL_JOB_KEY = 'seal_audit_log';

export function sealAuditLog(defaultIntervalSeconds: number): Task {
  return async (raw, helpers) => {
    const input = payload.parse(raw ?? {});
    let seals = 0;
    let backlog = false;
    const deadline = Date.now() + MAX_JOB_SECONDS * 1000;
    // one chain on a single node; on a Citus cluster one per shard, each call outside a
    // transaction block, which Citus runs on the node that holds the shard
    const { rows: chains } = await helpers.query<{ placement: string }>('select placement from compliance.audit_chains() as placement');
    for (const { placement } of chains) {
      for (;;) {
        const { rows } = await helpers.query<{ seals: number }>('select compliance.seal_audit_log(10000, 100, $1) as seals', [placement]);
        seals += rows[0]!.seals;
        if (rows[0]!.seals < 100) break;
        // a job's time is bounded (worker/stale-locks.ts): the next job starts at once
        if (Date.now() > deadline) {
          backlog = true;
          break;
        }
      }
      if (backlog) break;
    }
    // on a Citus cluster the chains' newest seals go into the root chain (a single node's one
    // chain needs none)
    if (chains.length > 1) await helpers.query('select compliance.seal_audit_root()');
    // sealing runs every few seconds: worth a line only when it cannot keep up
    if (backlog) workerLog.warn({ task: 'seal_audit_log', seals }, 'audit log sealing is behind: the next round starts at once');
    else if (seals > 0) workerLog.debug({ task: 'seal_audit_log', seals }, 'audit log sealed');
    const interval = input.interval_seconds ?? defaultIntervalSeconds;
    await helpers.addJob('seal_audit_log', { interval_seconds: interval }, {
      runAt: new Date(Date.now() + (backlog ? 0 : interval * 1000)),
      jobKey: SEAL_JOB_KEY,
      jobKeyMode: 'preserve_run_at',
      maxAttempts: 3,
    });
  };
}
