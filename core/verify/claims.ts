/**
 * What the sealed accounting records claim and the database contradicts, read independently of
 * compliance_private.audit_claims_contradicted (the same questions, its own queries): a drop
 * record whose partition is still attached, whose dropped rows are still there or were written
 * after it, or whose removed seals are still there; an erasure record (since migration 000041)
 * listing a row that was not redacted in the erasure's own transaction.
 */
import type { Sql } from 'postgres';
import { type AccountingRecord, idsIn, isErasureRecord } from './accounting.js';
import type { Problem } from './range-check.js';

export async function contradictedClaims(sql: Sql, accounting: AccountingRecord[], sealNumbers: number[], marker: number): Promise<Problem[]> {
  const problems: Problem[] = [];
  const claim = (record: AccountingRecord, rowId: number | undefined, detail: string) =>
    problems.push({ kind: 'contradicted_claim', seal_no: null, ...(rowId === undefined ? {} : { row_id: rowId }), record_id: Number(record.id), detail });

  const drops = accounting.filter((r) => r.action === 'audit.partition_dropped');
  const attached = new Set((await sql<{ name: string }[]>`select r.relname as name from pg_inherits i join pg_class r on r.oid = i.inhrelid
                                                          where i.inhparent = 'compliance.audit_logs'::regclass`).map((r) => r.name));
  const droppedIds = drops.flatMap((r) => idsIn(r, 'dropped_rows_in_kept_seals'));
  const present = new Set((await sql<{ id: string }[]>`select id::text from compliance.audit_logs where id = any(${droppedIds}::bigint[])`).map((r) => Number(r.id)));
  for (const drop of drops) {
    if (drop.resource_id !== null && attached.has(drop.resource_id)) claim(drop, undefined, `the drop record says partition ${drop.resource_id} was dropped, and it is still there`);
    for (const id of idsIn(drop, 'dropped_rows_in_kept_seals')) {
      if (id >= Number(drop.id)) claim(drop, id, 'the drop record lists this row as dropped, and it was written after the drop');
      else if (present.has(id)) claim(drop, id, 'the drop record lists this row as dropped, and it is still there');
    }
    const through = Number(drop.details.seals_removed_through ?? 0);
    const kept = sealNumbers.filter((n) => n <= through);
    if (kept.length) claim(drop, undefined, `the drop record says seals up to ${through} were removed, and seal ${Math.min(...kept)} is still there`);
  }

  // each row's newest listing erasure: a later erasure of its actor may have redacted it again
  const newest = new Map<number, AccountingRecord>();
  for (const erasure of accounting.filter((r) => isErasureRecord(r) && Number(r.id) >= marker)) {
    for (const id of [...idsIn(erasure, 'redacted_subject_rows'), ...idsIn(erasure, 'redacted_actor_rows')]) {
      if (Number(newest.get(id)?.id ?? -1) < Number(erasure.id)) newest.set(id, erasure);
    }
  }
  const redactedAt = new Map((await sql<{ id: string; redacted_at: string | null }[]>`
    select id::text, redacted_at::text from compliance.audit_logs where id = any(${[...newest.keys()]}::bigint[])`).map((r) => [Number(r.id), r.redacted_at]));
  for (const [id, erasure] of [...newest].sort((a, b) => a[0] - b[0])) {
    // a listed row not redacted at all is unredacted_row already
    const at = redactedAt.get(id);
    if (at != null && at !== erasure.occurred_at) {
      claim(erasure, id, 'the erasure record lists this row as redacted by it, and the row was not redacted when it was written');
    }
  }
  // as the SQL orders them: by record, row (none first), then sentence
  return problems.sort((a, b) => (a.record_id! - b.record_id!) || ((a.row_id ?? -1) - (b.row_id ?? -1)) || (a.detail < b.detail ? -1 : a.detail > b.detail ? 1 : 0));
}
