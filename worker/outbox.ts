/**
 * What the two outbox deliveries share (worker/tasks/deliver-alerts.ts, deliver-propagation.ts):
 * the backoff between attempts, and the next round, at once while a full batch was claimed.
 */
import type { JobHelpers } from 'graphile-worker';

/** 2, 4, 8 … seconds after each failed attempt, never more than an hour */
export const backoffSeconds = (attempts: number) => Math.min(2 ** attempts, 3600);

/** schedules the task's next round: at once after a full batch, else after the interval */
export async function scheduleNextRound(helpers: JobHelpers, task: string, claimed: number, batch: number, intervalSeconds: number) {
  await helpers.addJob(task, {}, {
    runAt: new Date(Date.now() + (claimed === batch ? 0 : intervalSeconds * 1000)),
    jobKey: task,
    jobKeyMode: 'preserve_run_at',
    maxAttempts: 3,
  });
}
