/**
 * Delivers the propagation outbox (compliance.propagation_tasks): each due webhook or SCIM task
 * is claimed (a lease, committed before anything is sent), handed to its connector, and its
 * outcome recorded: confirmed, delivered (a callback or the DPO confirms), retried with backoff,
 * or after the last attempt failed for good for the DPO to retry or confirm by hand. A worker that
 * dies mid-delivery leaves the task leased; it is due again when the lease ends, so a system may
 * get a request twice (the task id tells it) but never not at all. Then the task schedules itself
 * again a couple of seconds later.
 */
import type { Task } from 'graphile-worker';
import type { PropagationSettings } from '../../core/config.js';
import { workerLog } from '../log.js';
import { backoffSeconds, scheduleNextRound } from '../outbox.js';
import type { Connector, PropagationTask } from '../propagation/connector.js';
import { scimConnector } from '../propagation/scim.js';
import { webhookConnector } from '../propagation/webhook.js';

export const DELIVER_PROPAGATION_JOB_KEY = 'deliver_propagation';
export const MAX_PROPAGATION_ATTEMPTS = 10;
const BATCH = 20;

export interface PropagationDelivery extends PropagationSettings {
  intervalSeconds: number;
}

export function deliverPropagation(options: PropagationDelivery): Task {
  const connectors: Record<PropagationTask['connector'], Connector> = {
    webhook: webhookConnector(options.secret, options.callbackUrl),
    scim: scimConnector(options.scim),
  };
  return async (_payload, helpers) => {
    const { rows } = await helpers.query<PropagationTask>('select * from compliance.claim_propagation_tasks($1, $2)', [options.leaseSeconds, BATCH]);
    for (const task of rows) {
      // half the lease: an answer that comes later than that is not waited for
      const delivery = await connectors[task.connector].deliver(task, AbortSignal.timeout(Math.max(500, options.leaseSeconds * 500)));
      const where = { task_id: task.id, system: task.system, kind: task.kind, attempt: task.attempts };
      if (delivery.outcome === 'confirmed' || delivery.outcome === 'delivered') {
        await helpers.query('select compliance.record_propagation_attempt($1, $2, $3, $4)',
          [task.id, delivery.outcome, delivery.response ?? null, delivery.note ?? null]);
        workerLog.info(where, delivery.outcome === 'confirmed' ? 'the system confirmed the request' : 'the system accepted the request; awaiting its confirmation');
      } else if (delivery.permanent || task.attempts >= MAX_PROPAGATION_ATTEMPTS) {
        workerLog.error({ ...where, error: delivery.error }, 'the request could not be delivered; the DPO retries it or confirms it by hand');
        await helpers.query("select compliance.record_propagation_attempt($1, 'failed', $2, $3)", [task.id, delivery.response ?? null, delivery.error]);
      } else {
        workerLog.warn({ ...where, error: delivery.error }, 'the request could not be delivered; it will be retried');
        await helpers.query("select compliance.record_propagation_attempt($1, 'retry', $2, $3, $4)",
          [task.id, delivery.response ?? null, delivery.error, backoffSeconds(task.attempts)]);
      }
    }
    await scheduleNextRound(helpers, DELIVER_PROPAGATION_JOB_KEY, rows.length, BATCH, options.intervalSeconds);
  };
}
