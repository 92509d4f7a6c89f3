/**
 * What the Citus harnesses do to a cluster: act as one of pgcomply's roles, seal and verify every
 * chain, and dump a worker's shards.
 */
import { execFileSync } from 'node:child_process';
import type { Sql, TransactionSql } from 'postgres';
import type { MachineCluster } from '../../db/machine-cluster.js';
import { postgresPrograms } from '../../db/postgres-binaries.js';
import { auditChains } from '../../core/verify/in-database.js';

/**
 * a transaction acting as one of pgcomply's roles. On Citus the role is switched with set_config,
 * not SET LOCAL ROLE: Citus replays a transaction's SET LOCAL commands on every connection it opens
 * to a worker, including those it opens as the owner for a SECURITY DEFINER routine.
 */
export async function actAs<T>(db: Sql, role: string, actor: string, roles: string[], fn: (tx: TransactionSql) => Promise<T>): Promise<T> {
  return db.begin(async (tx) => {
    await tx`select set_config('role', ${role}, true)`;
    await tx`select compliance.set_request_context(${actor}, ${roles})`;
    return fn(tx);
  }) as Promise<T>;
}

/** as the worker job seals: each chain outside a transaction block, so Citus runs it on the shard's node */
export async function sealEveryChain(db: Sql): Promise<void> {
  for (const placement of await auditChains(db)) await db`select compliance.seal_audit_log(10000, 100, ${placement})`;
}

export type ChainVerdict = { placement: string; ok: boolean; unsealed: number; problems: { kind: string; row_id: number }[] };
export async function verifyEveryChain(db: Sql): Promise<ChainVerdict[]> {
  return db<ChainVerdict[]>`
    select c.placement, v.ok, v.unsealed_rows::integer as unsealed, v.problems
      from compliance.audit_chains() c(placement), compliance.verify_audit_log(null, null, c.placement) v`;
}

/**
 * the data of every shard and reference-table placement a worker holds, as pg_dump writes it
 * (without the random key of its \restrict lines, which differs from one dump to the next)
 */
export function workerDump(worker: MachineCluster): string {
  const pgDump = postgresPrograms('pg_dump').get(15)!;
  return execFileSync(pgDump, ['-h', '127.0.0.1', '-p', String(worker.port), '-U', 'postgres', '--data-only',
    '-t', 'compliance*.*_[0-9][0-9][0-9][0-9][0-9][0-9]', 'pgcomply'], {
    encoding: 'utf8', maxBuffer: 1 << 30,
    // the shards themselves, which Citus hides from clients; their distributed tables would read every node
    env: { ...process.env, PGOPTIONS: '-c citus.override_table_visibility=off -c citus.enable_manual_changes_to_shards=on' },
  }).replace(/^\\(un)?restrict .*$/gm, '');
}

/** a dump holds a subject's id: the id not followed by another digit (citizen-1 is a prefix of citizen-10) */
export const holdsId = (dump: string, id: string) => new RegExp(`${id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![0-9])`).test(dump);

export type FinishedElsewhere = { dsr_request_id: number; anonymised: Record<string, number>; audit_rows_redacted: number };
/** one erasure's second transaction, as the worker runs it; a harness may run it another way to watch it */
export type FinishOne = (chain: string, requestId: string) => Promise<FinishedElsewhere>;
/** as the worker job does every minute: each erasure's second transaction, in a transaction of its own */
export async function finishErasuresElsewhere(db: Sql, finishOne?: FinishOne): Promise<FinishedElsewhere[]> {
  const finish: FinishOne = finishOne ?? (async (chain, requestId) => (await actAs(db, 'compliance_worker', 'worker:erasures', [], (tx) =>
    tx<{ result: FinishedElsewhere }[]>`select compliance.finish_erasure_elsewhere(${chain}, ${requestId}::bigint) as result`))[0]!.result);
  const waiting = await actAs(db, 'compliance_worker', 'worker:erasures', [], (tx) =>
    tx<{ chain: string; request_id: string }[]>`select chain, request_id::text from compliance.erasures_finishing_elsewhere()`);
  const finished: FinishedElsewhere[] = [];
  for (const erasure of waiting) finished.push(await finish(erasure.chain, erasure.request_id));
  return finished;
}
