import { Logger } from '@graphile/logger';
import { createLogger } from '../server/log.js';

export const workerLog = createLogger(process.env.LOG_LEVEL ?? 'info', 'pgcomply-worker');

/** graphile-worker's own messages, through pino */
export const graphileLogger = new Logger((scope) => (level, message, meta) => {
  // job starts and completions every few seconds are debug noise; warnings and errors are not
  const method = level === 'error' ? 'error' : level === 'warning' ? 'warn' : 'debug';
  workerLog[method]({ ...scope, ...meta }, message);
});
