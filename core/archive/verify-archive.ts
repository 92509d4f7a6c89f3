/**
 * `pgcomply verify --archive`: every bundle in a store, each on its own (read-bundle.ts), then
 * together — a seal two bundles share is the same in both, consecutive seals of a chain link, a
 * row a seal lists is in some bundle — and, given the live database, chained to it: each bundle is
 * the one a sealed audit.archived record names, each live chain's first seal follows the archive's last,
 * and a row the archive leaves to another month is in the live log or was dropped by a record.
 */
import type { Sql } from 'postgres';
import type { AnchorKey } from '../anchors/anchors.js';
import { writtenByItsRoutine } from '../verify/accounting.js';
import { bundleName, type RowLine, type SealLine, sealName } from './bundle.js';
import { archivedPartFindings } from './archived-parts.js';
import { type ArchiveFinding, type ReadBundle, readBundle } from './read-bundle.js';
import type { ArchiveStore } from './store.js';

export interface ArchiveVerdict {
  ok: boolean;
  location: string;
  bundles_checked: number;
  seals_checked: number;
  rows_checked: number;
  chained_to_live_log: boolean;
  problems: ArchiveFinding[];
  notes: { kind: string; detail: string }[];
}

interface RecordDetails { written_by?: string; bundle_uri?: string; bundle_sha256?: string; dropped_rows_in_kept_seals?: number[] }
/** an archive or drop record, its details parsed once */
interface ArchiveRecord { id: string; action: string; resource_id: string | null; details: RecordDetails }

/**
 * The records that count, as core/verify/accounting.ts counts them: those written before
 * migration 000041 (its audit.sealer_gaps_recorded row), and since then those their own routine
 * wrote; a superuser's block of code accounts for nothing.
 */
function trusted(rows: Pick<RowLine, 'id' | 'action' | 'resource_id' | 'details'>[]): ArchiveRecord[] {
  const marker = Math.min(...rows.filter((r) => r.action === 'audit.sealer_gaps_recorded').map((r) => Number(r.id)), Infinity);
  return rows.filter((r) => r.action !== 'audit.sealer_gaps_recorded')
    .map((r) => ({ id: r.id, action: r.action, resource_id: r.resource_id, details: JSON.parse(r.details) as RecordDetails }))
    .filter((r) => (Number.isFinite(marker) && Number(r.id) < marker) || writtenByItsRoutine(r.action, r.details));
}

export async function verifyArchive(store: ArchiveStore, key: AnchorKey, live?: Sql): Promise<ArchiveVerdict> {
  const bundles: ReadBundle[] = [];
  for (const name of await store.list()) bundles.push(await readBundle(name, await store.get(name), key));
  const problems = bundles.flatMap((b) => b.findings);
  const notes: ArchiveVerdict['notes'] = [];
  const finding = (kind: ArchiveFinding['kind'], bundle: string, detail: string, sealNo: number | null = null, rowId: number | null = null) =>
    problems.push({ kind, bundle, seal_no: sealNo, row_id: rowId, detail });

  // the seals of all bundles as one stretch of each chain
  const seals = new Map<string, SealLine & { bundle: string }>();
  const keyOf = (chain: string, sealNo: number) => `${chain}\u0000${sealNo}`;
  for (const b of bundles) for (const s of b.seals) {
    const seen = seals.get(keyOf(s.chain, s.seal_no));
    if (seen && seen.seal_hash !== s.seal_hash) finding('altered_seal', b.name, `${sealName(s)} differs from the same seal in ${seen.bundle}`, s.seal_no);
    else if (!seen) seals.set(keyOf(s.chain, s.seal_no), { ...s, bundle: b.name });
  }
  for (const s of seals.values()) {
    const before = seals.get(keyOf(s.chain, s.seal_no - 1));
    if (before && before.seal_hash !== s.previous_hash) finding('broken_chain', s.bundle, `${sealName(s)} does not follow seal ${before.seal_no} (${before.bundle})`, s.seal_no);
  }

  const read = new Set(bundles.flatMap((b) => [...b.rowIds]));
  const unread = new Map<number, string>();
  for (const b of bundles) for (const s of b.seals) for (const id of s.rows_elsewhere) if (!read.has(id)) unread.set(id, b.name);

  if (live) {
    // the records in later bundles and the sealed ones in the live log, each sealed in its own chain
    const records = trusted([...bundles.flatMap((b) => b.records), ...await live<RowLine[]>`select a.id::text, a.action, a.resource_id, a.details::text
      from compliance.audit_logs a join compliance_private.audit_seal_head h on h.placement = a.placement and a.id < h.next_row_id
     where a.action in ('audit.archived', 'audit.partition_dropped', 'audit.sealer_gaps_recorded') and a.outcome = 'success'`]);
    for (const b of bundles) {
      const partition = b.header?.partition;
      const named = records.some((r) => r.action === 'audit.archived' && r.resource_id === partition && r.details.bundle_sha256 === b.sha256);
      if (!named) finding('unrecorded_bundle', b.name, `no sealed audit.archived record names this bundle (SHA-256 ${b.sha256})`);
    }
    // and each archive the chain records in this store is there
    const stored = new Set(bundles.map((b) => b.sha256));
    const here = (r: ArchiveRecord) => r.resource_id !== null && r.details.bundle_uri === store.uriOf(bundleName(r.resource_id));
    for (const r of records) if (r.action === 'audit.archived' && here(r) && !stored.has(r.details.bundle_sha256 ?? '')) {
      finding('missing_bundle', `${r.resource_id}`, `audit row ${r.id} records an archive of ${r.resource_id} (SHA-256 ${r.details.bundle_sha256}) that is not in ${store.location}`, null, Number(r.id));
    }
    // the personal parts kept in the database belong to the bundles' rows
    problems.push(...await archivedPartFindings(live, bundles));
    // each live chain begins where the archive's seals of that chain end
    const firsts = new Map((await live<{ chain: string; seal_no: string; previous_hash: string }[]>`
      select distinct on (placement) placement as chain, seal_no::text, encode(previous_hash, 'hex') as previous_hash
        from compliance.audit_seals order by placement, seal_no`).map((f) => [f.chain, { sealNo: Number(f.seal_no), previousHash: f.previous_hash }]));
    for (const [chain, first] of firsts) {
      const joining = seals.get(keyOf(chain, first.sealNo - 1));
      if (joining && joining.seal_hash !== first.previousHash) {
        finding('broken_chain', joining.bundle, `the live log's first ${sealName({ chain, seal_no: first.sealNo })} does not follow the archive's seal ${joining.seal_no}`, first.sealNo);
      }
    }
    const shared = [...seals.values()].filter((s) => firsts.has(s.chain) && s.seal_no >= firsts.get(s.chain)!.sealNo);
    if (shared.length) {
      const liveHashes = new Map((await live<{ chain: string; seal_no: string; seal_hash: string }[]>`
        select placement as chain, seal_no::text, encode(seal_hash, 'hex') as seal_hash from compliance.audit_seals
         where placement = any(${[...new Set(shared.map((s) => s.chain))]}::text[]) and seal_no = any(${shared.map((s) => s.seal_no)}::bigint[])`)
        .map((s) => [keyOf(s.chain, Number(s.seal_no)), s.seal_hash]));
      for (const s of shared) if (liveHashes.get(keyOf(s.chain, s.seal_no)) !== s.seal_hash) finding('altered_seal', s.bundle, `${sealName(s)} differs from the live log's`, s.seal_no);
    }
    // rows of other months: in the live log, or dropped by a retention record without an archive
    const ids = [...unread.keys()];
    const inLog = new Set((await live<{ id: string }[]>`select id::text from compliance.audit_logs where id = any(${ids}::bigint[])`).map((r) => Number(r.id)));
    const dropped = new Set(records.filter((r) => r.action === 'audit.partition_dropped').flatMap((r) => r.details.dropped_rows_in_kept_seals ?? []));
    for (const [id, bundle] of unread) {
      if (!inLog.has(id) && !dropped.has(id)) finding('deleted_row', bundle, `row ${id} is listed by a seal in this bundle, but in no bundle, not in the live log, and no drop record lists it`, null, id);
    }
    if (firsts.size === 0 && bundles.length) notes.push({ kind: 'no_live_seal', detail: 'the live log has no seal to chain the archive to yet' });
  } else if (unread.size) {
    notes.push({ kind: 'rows_of_other_months_unchecked', detail: `${unread.size} rows the archive's seals list belong to months not in these bundles; give the database (DATABASE_URL) to check them against the live log` });
  }

  return { ok: problems.length === 0, location: store.location, bundles_checked: bundles.length, seals_checked: seals.size,
    rows_checked: read.size, chained_to_live_log: Boolean(live), problems, notes };
}
