/**
 * The SIEM feed: sealed audit rows, each chain in its order, written to the SIEM's syslog receiver
 * over TLS (worker/siem/). At least once: a batch's events are acknowledged (each chain's cursor
 * moves past them, compliance.acknowledge_siem) only when the connection stayed open a settling second after
 * the batch was written. A receiver that restarts closes the connection, and the next round sends
 * again from the cursor, so the SIEM may get an event twice (its id tells) and never not at all.
 * A round takes batches until none is left or its time is up, then schedules the next.
 */
import type { Task } from 'graphile-worker';
import type { SiemFeedSettings } from '../../core/config.js';
import { workerLog } from '../log.js';
import { SyslogConnection } from '../siem/syslog-connection.js';
import { type AuditEvent, syslogFrame } from '../siem/syslog-message.js';
import { MAX_JOB_SECONDS } from '../stale-locks.js';

export const SIEM_FEED_JOB_KEY = 'siem_feed';

export interface SiemFeed extends SiemFeedSettings {
  /** how long the connection must stay open after a batch before it counts as delivered */
  settleMs: number;
  intervalSeconds: number;
}

type Query = (text: string, values: unknown[]) => Promise<unknown>;
type Sent = Pick<AuditEvent, 'chain' | 'seal_no' | 'seal_position'>;

/** after the SIEM has a batch: each chain's events come in its order, so its last one moves its cursor */
export async function acknowledgeEachChain(query: Query, sent: readonly Sent[]): Promise<void> {
  const lastOfChain = new Map(sent.map((event) => [event.chain, event]));
  for (const last of lastOfChain.values()) {
    await query('select compliance.acknowledge_siem($1, $2, $3)', [last.seal_no, last.seal_position, last.chain]);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function siemFeed(options: SiemFeed): Task {
  let connection: SyslogConnection | undefined;
  let failures = 0;
  return async (_payload, helpers) => {
    const deadline = Date.now() + (MAX_JOB_SECONDS / 2) * 1000;
    let sent = 0;
    let delay = options.intervalSeconds;
    try {
      for (;;) {
        const { rows } = await helpers.query<AuditEvent>('select * from compliance.siem_events($1)', [options.batch]);
        if (rows.length === 0) break;
        if (!connection || connection.closed) {
          connection?.close();
          connection = await SyslogConnection.open(options, 10_000);
        }
        await connection.write(rows.map(syslogFrame));
        await sleep(options.settleMs);
        if (connection.closed) throw new Error(`${connection.closed} within ${options.settleMs} ms of a write: the batch is sent again`);
        await acknowledgeEachChain((text, values) => helpers.query(text, values), rows);
        sent += rows.length;
        failures = 0;
        if (rows.length < options.batch || Date.now() > deadline) {
          delay = rows.length < options.batch ? options.intervalSeconds : 0;
          break;
        }
      }
      if (sent > 0) workerLog.debug({ task: 'siem_feed', sent }, 'audit events sent to the SIEM');
    } catch (error) {
      failures += 1;
      connection?.close();
      connection = undefined;
      const message = (error as Error).message;
      workerLog.warn({ task: 'siem_feed', error: message, failures }, 'the SIEM could not be reached; the feed resumes from its last acknowledged event');
      await helpers.query('select compliance.record_siem_failure($1)', [message]).catch(() => undefined);
      delay = Math.min(2 ** failures, 30);
    }
    await helpers.addJob('siem_feed', {}, { runAt: new Date(Date.now() + delay * 1000), jobKey: SIEM_FEED_JOB_KEY, jobKeyMode: 'preserve_run_at', maxAttempts: 3 });
  };
}
