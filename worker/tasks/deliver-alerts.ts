/**
 * Delivers the alert outbox (compliance.alert_outbox): each due alert is claimed (a lease, committed
 * before anything is sent), POSTed to ALERT_WEBHOOK_URL as JSON signed with ALERT_WEBHOOK_SECRET,
 * and its outcome recorded: delivered, retried with backoff, or after the last attempt failed for
 * good and written to the log. Without a webhook the log is the channel. A worker that dies
 * mid-delivery leaves the alert leased; it is due again when the lease ends, so an alert may
 * arrive twice (the body's id tells a receiver) but never not at all.
 * Then the task schedules itself again a couple of seconds later.
 */
import type { Task } from 'graphile-worker';
import { workerLog } from '../log.js';
import { signature, signedHeaders } from '../../core/signing.js';
import { backoffSeconds, scheduleNextRound } from '../outbox.js';

export const DELIVER_ALERTS_JOB_KEY = 'deliver_alerts';
export const MAX_ALERT_ATTEMPTS = 10;

export interface AlertDelivery {
  webhookUrl?: string;
  webhookSecret?: string;
  /** how long a claimed alert is left to its worker; the request's timeout is half of it */
  leaseSeconds: number;
  intervalSeconds: number;
}

interface Alert {
  id: string;
  topic: string;
  payload: Record<string, unknown>;
  user_id: string | null;
  actor_id: string | null;
  created_at: Date;
  attempts: number;
}

/** the signature a receiver checks (core/signing.ts) */
export const alertSignature = signature;

async function post(options: AlertDelivery, body: string, id: string): Promise<string | null> {
  try {
    const response = await fetch(options.webhookUrl!, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-pgcomply-alert-id': id, ...signedHeaders(options.webhookSecret!, body) },
      body,
      signal: AbortSignal.timeout(Math.max(500, options.leaseSeconds * 500)),
      // a signed alert goes to the configured receiver only: a redirect is an answer, not a new address
      redirect: 'manual',
    });
    await response.arrayBuffer().catch(() => undefined);
    if (response.status >= 300 && response.status < 400) {
      return `the webhook answered ${response.status} (a redirect, not followed: alerts go to ALERT_WEBHOOK_URL only)`;
    }
    return response.ok ? null : `the webhook answered ${response.status}`;
  } catch (error) {
    return `the webhook could not be reached: ${(error as Error).message}`;
  }
}

export function deliverAlerts(options: AlertDelivery): Task {
  return async (_payload, helpers) => {
    const { rows } = await helpers.query<Alert>('select * from compliance.claim_alerts($1, 20)', [options.leaseSeconds]);
    for (const alert of rows) {
      const message = { id: alert.id, topic: alert.topic, raised_at: alert.created_at, attempt: alert.attempts,
        patient: alert.user_id, actor: alert.actor_id, ...alert.payload };
      if (!options.webhookUrl) {
        workerLog.warn({ alert: message }, `alert ${alert.topic}`);
        await helpers.query("select compliance.record_alert_delivery($1, 'log')", [alert.id]);
        continue;
      }
      const error = await post(options, JSON.stringify(message), alert.id);
      if (!error) {
        await helpers.query("select compliance.record_alert_delivery($1, 'webhook')", [alert.id]);
      } else if (alert.attempts >= MAX_ALERT_ATTEMPTS) {
        // the log is the last resort: the alert is not lost, only late
        workerLog.error({ alert: message, error }, `alert ${alert.topic} could not be delivered after ${alert.attempts} attempts`);
        await helpers.query("select compliance.record_alert_delivery($1, 'failed', $2)", [alert.id, error]);
      } else {
        workerLog.warn({ alert_id: alert.id, attempt: alert.attempts, error }, 'alert delivery failed; it will be retried');
        await helpers.query("select compliance.record_alert_delivery($1, 'retry', $2, $3)", [alert.id, error, backoffSeconds(alert.attempts)]);
      }
    }
    await scheduleNextRound(helpers, DELIVER_ALERTS_JOB_KEY, rows.length, 20, options.intervalSeconds);
  };
}
