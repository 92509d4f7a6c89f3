/** The worker says it is alive, every minute: compliance.uptime counts a minute without a beat as down. */
import type { Task } from 'graphile-worker';

export const heartbeat: Task = async (_payload, helpers) => {
  await helpers.query('select compliance.record_heartbeat()');
};
