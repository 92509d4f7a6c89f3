/**
 * The daily compliance checks (06:00 UTC): compliance.run_compliance_checks measures, stores,
 * audits and raises one alert per failing check through the outbox, all in one transaction; the
 * alert delivery loop sends them. The log line is the run's summary. With BACKUP_STANZA, what
 * pgBackRest says (its backups, its archive check) is recorded first, for backup_age and
 * wal_archive_lag to read.
 */
import type { Task } from 'graphile-worker';
import { z } from 'zod';
import { takeInventory } from '../../core/backups/inventory.js';
import type { PgBackRest } from '../../core/backups/pgbackrest.js';
import { workerLog } from '../log.js';

// the audit chain is verified from the last checkpoint daily, and whole on Sundays (or on request)
const payload = z.object({ full_verification: z.boolean().optional() }).loose();

export function complianceChecks(requireTls: boolean, backups?: PgBackRest): Task {
  return async (raw, helpers) => {
    const full = payload.parse(raw ?? {}).full_verification ?? new Date().getUTCDay() === 0;
    if (backups) {
      const inventory = await helpers.withPgClient((client) => takeInventory(client, backups));
      if (!inventory.archive_check.ok) workerLog.warn({ task: 'compliance_checks', error: inventory.archive_check.error }, 'pgbackrest check failed');
    }
    const { rows } = await helpers.query<{ check_name: string; status: string; detail: string }>(
      "select check_name, status, detail from compliance.run_compliance_checks('schedule', $1, $2)", [requireTls, full]);
    const failed = rows.filter((r) => r.status === 'fail');
    for (const check of failed) workerLog.warn({ task: 'compliance_checks', check: check.check_name }, `compliance check failed: ${check.detail}`);
    workerLog.info({ task: 'compliance_checks', checks: rows.length, failed: failed.length,
      not_applicable: rows.filter((r) => r.status === 'not_applicable').length }, 'compliance checks run');
  };
}
