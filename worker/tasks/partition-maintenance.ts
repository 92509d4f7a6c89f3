/** Creates the audit log's monthly partitions three months ahead, so no row lands in the default partition. */
import type { Task } from 'graphile-worker';
import { z } from 'zod';
import { workerLog } from '../log.js';

const payload = z.object({ months_ahead: z.number().int().min(1).max(24).default(3) }).loose();

export const partitionMaintenance: Task = async (raw, helpers) => {
  const input = payload.parse(raw ?? {});
  const { rows } = await helpers.query<{ created: string }>('select compliance.ensure_audit_partitions($1) as created', [input.months_ahead]);
  workerLog.info({ task: 'partition_maintenance', created: rows.map((r) => r.created) }, 'audit partitions ensured');
};
