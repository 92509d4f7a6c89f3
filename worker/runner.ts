/** Starts graphile-worker with pgcomply's tasks (one file each in worker/tasks/) and worker/crontab. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, type Runner, type TaskList } from 'graphile-worker';
import { graphileLogger } from './log.js';
import { partitionMaintenance } from './tasks/partition-maintenance.js';
import { retention } from './tasks/retention.js';
import { SEAL_JOB_KEY, sealAuditLog } from './tasks/seal-audit-log.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const CRONTAB = readFileSync(path.join(here, 'crontab'), 'utf8');

export interface WorkerOptions {
  connectionString: string;
  concurrency?: number;
  sealIntervalSeconds?: number;
  pollInterval?: number;
}

export function taskList(sealIntervalSeconds: number): TaskList {
  return {
    retention,
    partition_maintenance: partitionMaintenance,
    seal_audit_log: sealAuditLog(sealIntervalSeconds),
  };
}

export async function startWorker(options: WorkerOptions): Promise<Runner> {
  const runner = await run({
    connectionString: options.connectionString,
    concurrency: options.concurrency ?? 2,
    pollInterval: options.pollInterval ?? 1000,
    noHandleSignals: true,
    taskList: taskList(options.sealIntervalSeconds ?? 1),
    crontab: CRONTAB,
    logger: graphileLogger,
  });
  // start the sealing loop now rather than at the next minute
  await runner.addJob('seal_audit_log', {}, { jobKey: SEAL_JOB_KEY, jobKeyMode: 'preserve_run_at' });
  return runner;
}
