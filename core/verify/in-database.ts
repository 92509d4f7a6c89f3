/** compliance.verify_audit_log() asked from outside, from the daily check's checkpoint when asked: pgcomply verify --sql and doctor. */
import type { Sql } from 'postgres';
import { findCheckpoint, type Verdict } from './verifier.js';

export async function verifyInDatabase(sql: Sql, sinceCheckpoint: boolean): Promise<Verdict & { incremental: boolean; from_seal: number | null }> {
  const checkpoint = sinceCheckpoint ? await findCheckpoint(sql) : null;
  const [verdict] = await sql<(Verdict & { incremental: boolean })[]>`
    select ok, incremental, seals_checked::int, rows_checked::int, unsealed_rows::int, problems, notes
      from compliance.verify_audit_log(${checkpoint?.sealNo ?? null}::bigint, decode(${checkpoint?.sealHash ?? null}::text, 'hex'))`;
  return { ...verdict!, from_seal: checkpoint?.sealNo ?? null };
}
