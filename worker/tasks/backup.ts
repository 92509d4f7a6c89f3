/**
 * Backups with pgBackRest (BACKUP_STANZA): a full one on Sundays and a differential on the other
 * days at 02:00 UTC (worker/crontab). One at a time across workers (core/backups/take-backup.ts).
 */
import type { Task } from 'graphile-worker';
import { z } from 'zod';
import { type PgBackRest, takeBackup } from '../../core/backups/take-backup.js';
import { workerLog } from '../log.js';

const payload = z.object({ type: z.enum(['full', 'diff', 'incr']).default('diff') }).loose();

export function backup(tool: PgBackRest | undefined): Task {
  return async (raw, helpers) => {
    if (!tool) return;
    const { type } = payload.parse(raw ?? {});
    const outcome = await helpers.withPgClient((client) => takeBackup(client, tool, type));
    if (outcome.taken) workerLog.info({ task: 'backup', type, label: outcome.label }, 'backup taken');
    else if (outcome.reason === 'another_backup_running') workerLog.warn({ task: 'backup', type }, 'another backup is running: this one steps aside');
    // recorded and alerted; the job itself succeeds, so graphile-worker does not retry a backup at once
    else workerLog.error({ task: 'backup', type, error: outcome.error }, 'backup failed');
  };
}
