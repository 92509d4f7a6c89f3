/**
 * Monthly (and from pgcomply archive by hand): every sealed audit month older than archive_after
 * written to ARCHIVE_TO, read back, verified and recorded (core/archive/archive-months.ts).
 * Retention's daily job drops the archived partitions afterwards. Without ARCHIVE_TO it does
 * nothing, and no partition is dropped before its retention period ends.
 */
import type { Task } from 'graphile-worker';
import { archiveAuditMonths } from '../../core/archive/archive-months.js';
import type { AnchorKey } from '../../core/anchors/anchors.js';
import type { ArchiveStore } from '../../core/archive/store.js';
import { workerLog } from '../log.js';

export interface AuditArchiving {
  store: ArchiveStore;
  key: AnchorKey;
}

export function archiveAudit(archiving: AuditArchiving | undefined): Task {
  return async (_payload, helpers) => {
    if (!archiving) return;
    const archived = await helpers.withPgClient((client) => archiveAuditMonths(client, archiving.store, archiving.key));
    for (const month of archived) workerLog.info({ task: 'archive_audit', ...month }, 'audit month archived');
  };
}
