/**
 * Daily upkeep: the audit log's monthly partitions created three months ahead, so no row lands in
 * the default partition, and the Idempotency-Keys older than a day forgotten.
 */
import type { Task } from 'graphile-worker';
import { z } from 'zod';
import { workerLog } from '../log.js';

const payload = z.object({ months_ahead: z.number().int().min(1).max(24).default(3) }).loose();

export const partitionMaintenance: Task = async (raw, helpers) => {
  const input = payload.parse(raw ?? {});
  const { rows } = await helpers.query<{ created: string }>('select compliance.ensure_audit_partitions($1) as created', [input.months_ahead]);
  const { rows: [forgotten] } = await helpers.query<{ n: string }>('select compliance.forget_request_keys() as n');
  workerLog.info({ task: 'partition_maintenance', created: rows.map((r) => r.created), request_keys_forgotten: Number(forgotten!.n) }, 'audit partitions ensured, old request keys forgotten');
};
