import { Logger } from '@graphile/logger';
import { createLogger } from '../core/log.js';

export const workerLog = createLogger(process.env.LOG_LEVEL ?? 'info', 'pgcomply-worker');

let lastClosedReport = 0;
/**
 * A connection the server ended (57P01: its shutdown, pg_terminate_backend). The pool drops it
 * and connects again; a shutdown ends every connection at once, so one line per ten seconds.
 */
export function reportClosedConnection(error: { code?: string; message?: string }): void {
  const now = Date.now();
  if (now - lastClosedReport < 10_000) return;
  lastClosedReport = now;
  workerLog.warn({ code: error.code }, `the database closed the worker's connections: ${error.message}`);
}

/** graphile-worker's own messages, through pino */
export const graphileLogger = new Logger((scope) => (level, message, meta) => {
  // a connection ended by the server (57P01: shutdown or pg_terminate_backend) is reported
  // as one line; the pool reconnects
  const error = (meta as { error?: { code?: string; message?: string } } | undefined)?.error;
  if (error?.code === '57P01' || error?.code === '57P02' || error?.code === '57P03') {
    reportClosedConnection(error);
    return;
  }
  // job starts and completions every few seconds are debug noise; warnings and errors are not
  const method = level === 'error' ? 'error' : level === 'warning' ? 'warn' : 'debug';
  workerLog[method]({ ...scope, ...meta }, message);
});
