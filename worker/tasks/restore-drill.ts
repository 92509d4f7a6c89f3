/**
 * The weekly restore drill (worker/crontab, Sundays after the full backup): the newest backup
 * restored into a scratch cluster, erasures replayed, chain, anchors and access checked, the
 * recovery time measured, recorded (core/backups/restore-drill.ts). One at a time across workers.
 */
import type { Task } from 'graphile-worker';
import { drillOptionsOf, type RestoreDrills, restoreDrill } from '../../core/backups/restore-drill.js';
import { workerLog } from '../log.js';

export type { RestoreDrills } from '../../core/backups/restore-drill.js';

export function restoreDrillTask(drills: RestoreDrills | undefined): Task {
  return async (_payload, helpers) => {
    if (!drills) return;
    const options = await drillOptionsOf(drills);
    const outcome = await helpers.withPgClient((client) => restoreDrill(client, options));
    if (!outcome.drilled) workerLog.warn({ task: 'restore_drill' }, 'another restore drill is running: this one steps aside');
    else if (outcome.ok) workerLog.info({ task: 'restore_drill', label: outcome.label, rto_seconds: outcome.rto_seconds }, 'restore drill passed');
    // recorded and alerted (backup.drill_failed); the job succeeds, so graphile-worker does not drill again at once
    else workerLog.error({ task: 'restore_drill', label: outcome.label, problems: outcome.problems.map((p) => p.kind) }, 'restore drill failed');
  };
}
