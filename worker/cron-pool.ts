/**
 * graphile-worker 0.16's cron is the only caller of the pool's query() (its job loops check out
 * clients), and a query that fails ends the cron with a rejection nothing handles: the process
 * dies. A database restarting as a minute turned was enough to take the worker down. Its queries
 * are idempotent (known_crontabs records each tick it scheduled), so here they wait for the
 * database to come back instead of failing.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { reportClosedConnection } from './log.js';

/** SQLSTATE classes of a session that is gone or not let in: connection, resources, operator, authorisation */
const CONNECTION_CLASSES = new Set(['08', '53', '57', '28']);

/** a session lost rather than a statement refused: no SQLSTATE ("Connection terminated"), a socket error, or a connection class */
export function isConnectionLoss(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return true;
  if (/^E[A-Z]+$/.test(code)) return true;
  return CONNECTION_CLASSES.has(code.slice(0, 2));
}

const MAX_WAIT_MS = 10_000;

/**
 * Makes the pool's query() wait out a lost database. stopWaiting() is called before the runner
 * stops: a query still waiting then answers with no rows, so the cron sees it is stopping and
 * ends cleanly (a rejection there would end the process again); the tick it was scheduling is
 * left to the next start, as if this one had stopped a moment earlier.
 */
export function waitOutConnectionLoss(pool: pg.Pool): { stopWaiting(): void } {
  const stopped = new AbortController();
  const query = pool.query.bind(pool) as (...args: unknown[]) => Promise<unknown>;
  const patient = async (...args: unknown[]) => {
    for (let attempt = 1; ; attempt += 1) {
      if (stopped.signal.aborted) return { rows: [], rowCount: 0 };
      try {
        return await query(...args);
      } catch (error) {
        if (!isConnectionLoss(error)) throw error;
        reportClosedConnection(error as { code?: string; message?: string });
        try {
          await sleep(Math.min(MAX_WAIT_MS, 250 * 2 ** attempt), undefined, { signal: stopped.signal });
        } catch {
          // stopping: the next turn answers with no rows
        }
      }
    }
  };
  (pool as unknown as { query: unknown }).query = (...args: unknown[]) =>
    typeof args[args.length - 1] === 'function' ? query(...args) : patient(...args);
  return { stopWaiting: () => stopped.abort() };
}
