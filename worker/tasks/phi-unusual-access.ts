/**
 * The daily review of PHI access (HIPAA §164.308(a)(1)(ii)(D)): compliance.review_phi_access
 * writes a phi.unusual_access audit row per new finding and raises its alert in the outbox, in
 * the same transaction; the deliver_alerts job sends it at once. The log line is for the operator.
 */
import type { Task } from 'graphile-worker';
import { workerLog } from '../log.js';

interface Finding {
  finding: string;
  actor_id: string | null;
  accesses: string;
  weekly_baseline: string | null;
  audit_row_id: string | null;
  alert_row_id: string;
}

export const phiUnusualAccess: Task = async (_payload, helpers) => {
  const { rows } = await helpers.query<Finding>('select * from compliance.review_phi_access()');
  for (const row of rows) {
    workerLog.warn({ task: 'phi_unusual_access', alert: 'phi.unusual_access', ...row }, `unusual PHI access: ${row.finding} by ${row.actor_id ?? 'an erased actor'}`);
  }
  workerLog.info({ task: 'phi_unusual_access', findings: rows.length }, 'PHI access reviewed');
};
