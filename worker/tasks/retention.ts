/**
 * Applies every enabled retention policy: one batch per call of compliance.apply_retention,
 * each its own transaction, until nothing is due. Killing it between batches loses nothing;
 * a rerun carries on where it stopped.
 */
import type { Task } from 'graphile-worker';
import { z } from 'zod';
import { workerLog } from '../log.js';
import { MAX_JOB_SECONDS } from '../stale-locks.js';

const payload = z
  .object({
    batch_size: z.number().int().min(1).max(100_000).default(1000),
    categories: z.array(z.string().min(1)).optional(),
    // a pause between batches spares a busy primary and its replicas
    batch_pause_ms: z.number().int().min(0).max(60_000).default(0),
  })
  .loose();

export const retention: Task = async (raw, helpers) => {
  const input = payload.parse(raw ?? {});
  const { rows: policies } = await helpers.query<{ category: string }>(
    `select category from compliance.retention_policies where enabled and action <> 'until_erasure' order by category`,
  );
  const categories = policies.map((p) => p.category).filter((c) => !input.categories || input.categories.includes(c));
  const deadline = Date.now() + MAX_JOB_SECONDS * 1000;
  for (const [index, category] of categories.entries()) {
    let deleted = 0;
    let batches = 0;
    for (;;) {
      const { rows } = await helpers.query<{ result: { deleted: number } }>(
        'select compliance.apply_retention($1, $2, false) as result',
        [category, input.batch_size],
      );
      const batch = Number(rows[0]!.result.deleted);
      deleted += batch;
      batches += 1;
      if (category === 'audit_logs' || batch < input.batch_size) break;
      if (Date.now() > deadline) {
        // a job's time is bounded (worker/stale-locks.ts): a fresh job carries on from here
        await helpers.addJob('retention', { ...input, categories: categories.slice(index) }, { jobKey: 'retention_continue' });
        workerLog.info({ task: 'retention', category, deleted, batches }, 'retention continues in a new job');
        return;
      }
      if (input.batch_pause_ms > 0) await new Promise((resolve) => setTimeout(resolve, input.batch_pause_ms));
    }
    workerLog.info({ task: 'retention', category, deleted, batches }, 'retention applied');
  }
};
