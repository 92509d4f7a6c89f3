/**
 * The accounting records verification trusts: sealed drop and erasure records (since migration
 * 000041 only from the routine that does that work), the first layout upgrade, and the sealer
 * gaps migration 000041 recorded. What they excuse: dropped rows, redactions (sealed, and
 * pending from erasures not sealed yet), and skipped id ranges.
 */
import type { Sql } from 'postgres';

export interface AccountingRecord {
  id: string;
  action: string;
  occurred_at: string;
  resource_id: string | null;
  details: Record<string, unknown>;
}

/** the row ids a record lists under key (dropped_rows_in_kept_seals, redacted_subject_rows, …) */
export const idsIn = (record: Pick<AccountingRecord, 'details'>, key: string): number[] =>
  ((record.details[key] as unknown[] | undefined) ?? []).map(Number);

export interface SealerGap { seal_no: number; from: number; to: number }

/** the one routine that writes each accounting record (compliance_private.written_by_its_routine) */
const WRITTEN_BY: Record<string, string> = {
  'audit.partition_dropped': 'compliance_private.drop_expired_audit_partitions',
  'subject.erased': 'compliance_private.erase_subject_core',
  'subject.erased_elsewhere': 'compliance_private.finish_erasure_elsewhere_core',
  'audit.archived': 'compliance.record_audit_archive',
};

/** an erasure's records: its own, and on a Citus cluster the one its second transaction writes */
export const isErasureRecord = (record: Pick<AccountingRecord, 'action'>): boolean =>
  record.action === 'subject.erased' || record.action === 'subject.erased_elsewhere';

/** whether a record written since migration 000041 comes from the routine that does its work */
export const writtenByItsRoutine = (action: string, details: { written_by?: unknown }): boolean =>
  WRITTEN_BY[action] !== undefined && details.written_by === WRITTEN_BY[action];

export interface Accounting {
  /** the records that count: sealed, successful, from their routine */
  accounting: AccountingRecord[];
  /** the first row written with reserved actions (migration 000041), 0 before it */
  marker: number;
  /** row id to the parts ('a', 's', 'as') sealed erasures redacted */
  expected: Map<number, string>;
  /** ids of rows sealed drop records removed */
  dropped: Set<number>;
  /** row id to the parts erasures not sealed yet redacted */
  pending: Map<number, string>;
  sealerGaps: SealerGap[];
}

export async function readAccounting(sql: Sql, layout2From: number, layout2End: number | null): Promise<Accounting> {
  // the accounting records: sealed (inside the layout-2 seals), successful, and of the upgrade records only the first
  const records = await sql<AccountingRecord[]>`
    select a.id::text, a.action, a.occurred_at::text, a.resource_id, a.details from compliance.audit_logs a
     where a.action in ('audit.partition_dropped', 'subject.erased', 'subject.erased_elsewhere', 'audit.layout_upgraded', 'audit.sealer_gaps_recorded')
       and a.outcome = 'success' order by a.id`;
  const firstUpgrade = records.find((r) => r.action === 'audit.layout_upgraded')?.id;
  // records written since migration 000041 count only from the routine that does the work
  const marker = Number(records.find((r) => r.action === 'audit.sealer_gaps_recorded')?.id ?? 0);
  const fromItsRoutine = (r: AccountingRecord) =>
    Number(r.id) < marker || r.action === 'audit.layout_upgraded' || writtenByItsRoutine(r.action, r.details);
  const accounting = records.filter((r) => layout2End !== null && Number(r.id) >= layout2From && Number(r.id) <= layout2End
    && (r.action !== 'audit.layout_upgraded' || r.id === firstUpgrade) && fromItsRoutine(r));
  const expected = new Map<number, string>();
  const dropped = new Set<number>();
  const addParts = (into: Map<number, string>, record: AccountingRecord) => {
    for (const id of idsIn(record, 'redacted_subject_rows')) into.set(id, [...new Set(`${into.get(id) ?? ''}s`)].sort().join(''));
    for (const id of idsIn(record, 'redacted_actor_rows')) into.set(id, [...new Set(`${into.get(id) ?? ''}a`)].sort().join(''));
  };
  for (const record of accounting) {
    addParts(expected, record);
    for (const id of idsIn(record, 'dropped_rows_in_kept_seals')) dropped.add(id);
  }
  // erasures not sealed yet: they excuse a redaction (pending) and never accuse a row
  const pending = new Map<number, string>();
  for (const record of records) {
    if (isErasureRecord(record) && Number(record.id) > (layout2End ?? layout2From - 1)
        && writtenByItsRoutine(record.action, record.details)) addParts(pending, record);
  }
  // the id ranges the sealer skipped before migration 000041, as the one record that migration wrote lists them
  const gapRecord = records.find((r) => r.action === 'audit.sealer_gaps_recorded');
  const sealerGaps = ((gapRecord?.details.gaps as SealerGap[] | undefined) ?? []).map((g) => ({ seal_no: Number(g.seal_no), from: Number(g.from), to: Number(g.to) }));
  return { accounting, marker, expected, dropped, pending, sealerGaps };
}
