/**
 * The monthly compliance report (day 1, 09:00 UTC): compliance.generate_monthly_report computes
 * the month before from the data, stores it and puts its hash in the audit chain.
 */
import type { Task } from 'graphile-worker';
import { workerLog } from '../log.js';

export const monthlyReport: Task = async (_payload, helpers) => {
  const { rows } = await helpers.query<{ id: string; period_from: Date; content_sha256: string }>(
    'select id, period_from, content_sha256 from compliance.generate_monthly_report()');
  const report = rows[0]!;
  workerLog.info({ task: 'monthly_report', report_id: report.id, month: report.period_from.toISOString().slice(0, 7), content_sha256: report.content_sha256 },
    'monthly compliance report computed');
};
