/** compliance.verify_audit_log() asked from outside (pgcomply verify --sql and doctor): the one chain, from the daily check's checkpoint when asked, or every chain and the roots of a Citus cluster. */
import type { Sql } from 'postgres';
import { findCheckpoint, type Verdict } from './verifier.js';

export async function verifyInDatabase(sql: Sql, sinceCheckpoint: boolean): Promise<Verdict & { incremental: boolean; from_seal: number | null }> {
  const checkpoint = sinceCheckpoint ? await findCheckpoint(sql) : null;
  const [verdict] = await sql<(Verdict & { incremental: boolean })[]>`
    select ok, incremental, seals_checked::int, rows_checked::int, unsealed_rows::int, problems, notes
      from compliance.verify_audit_log(${checkpoint?.sealNo ?? null}::bigint, decode(${checkpoint?.sealHash ?? null}::text, 'hex'))`;
  return { ...verdict!, from_seal: checkpoint?.sealNo ?? null };
}

export interface ChainsVerdict extends Verdict {
  /** how many chains were verified: one per shard on a Citus cluster */
  chains: number;
  roots_checked: number;
}

/**
 * Every chain and the root chain, in the database (a Citus cluster's chains per shard): each
 * chain's problems name it (placement), the roots' name theirs.
 */
/** the audit log's chains: '' alone on a single node, one per shard on a Citus cluster */
export async function auditChains(sql: Sql): Promise<string[]> {
  return (await sql<{ placement: string }[]>`select placement from compliance.audit_chains() as placement`).map((c) => c.placement);
}

export async function verifyChainsInDatabase(sql: Sql, chains: string[]): Promise<ChainsVerdict> {
  const verdicts = await Promise.all(chains.map(async (placement) => {
    const [verdict] = await sql<Verdict[]>`
      select ok, seals_checked::int, rows_checked::int, unsealed_rows::int, problems, notes
        from compliance.verify_audit_log(null, null, ${placement})`;
    return { placement, ...verdict! };
  }));
  const [roots] = await sql<{ ok: boolean; roots_checked: number; problems: Verdict['problems'] }[]>`
    select ok, roots_checked::int, problems from compliance.verify_audit_roots()`;
  const named = <T extends object>(items: T[], placement: string) => items.map((item) => ({ ...item, placement }));
  return {
    ok: verdicts.every((v) => v.ok) && roots!.ok,
    seals_checked: verdicts.reduce((sum, v) => sum + v.seals_checked, 0),
    rows_checked: verdicts.reduce((sum, v) => sum + v.rows_checked, 0),
    unsealed_rows: verdicts.reduce((sum, v) => sum + v.unsealed_rows, 0),
    problems: [...verdicts.flatMap((v) => named(v.problems, v.placement)), ...roots!.problems],
    notes: verdicts.flatMap((v) => named(v.notes, v.placement)),
    chains: chains.length,
    roots_checked: roots!.roots_checked,
  };
}
