/**
 * An independent verifier of the audit chain (issue #21): reads the seals and, with binary COPY
 * over several connections split by seal ranges, the raw rows, hashing them in worker threads by
 * db/AUDIT_HASHING.md, and names problems as compliance.verify_audit_log() does
 * ({kind, seal_no, row_id}). It trusts no PostgreSQL hash function and no mutable state but the
 * seal head's alarm, as the SQL one.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Sql } from 'postgres';
import { connect } from '../../db/tls.js';
import { type CheckedRow, type Seal, sealHash } from './hashing.js';
import { type AccountingRecord, contradictedClaims } from './claims.js';
import { checkRange, compareRows, copyRange, problem, type Problem, type RangeResult, type RangeTask, sealContents } from './range-check.js';

export type { Problem } from './range-check.js';

export interface Verdict {
  ok: boolean;
  seals_checked: number;
  rows_checked: number;
  unsealed_rows: number;
  problems: Problem[];
  /** what does not fail verification: pending_redaction, unsealed_id_range (as compliance.verify_audit_log's notes) */
  notes: Note[];
}

export interface Note {
  kind: 'pending_redaction' | 'unsealed_id_range';
  seal_no: number | null;
  row_id?: number;
  from?: number;
  to?: number;
  detail: string;
}

interface SealerGap { seal_no: number; from: number; to: number }

/** the one routine that writes each accounting record (compliance_private.written_by_its_routine) */
const WRITTEN_BY: Record<string, string> = {
  'audit.partition_dropped': 'compliance_private.drop_expired_audit_partitions',
  'subject.erased': 'compliance_private.erase_subject_core',
};

export interface VerifyOptions {
  /** called with a count as rows are read, for a progress bar */
  onRows?: (count: number) => void;
  /** from the checkpoint (the newest sealed audit.verified row), as the daily check does: only what was sealed after it */
  sinceCheckpoint?: boolean;
  /** slices read and hashed at once, each on its own connection and worker thread; default: one per core (at most 4), one for a small chain */
  parallelism?: number;
}

/** below this many sealed rows, one slice in this thread: starting workers would cost more than it saves */
const PARALLEL_FROM_ROWS = 200_000;

const cmp = (a: [number, number], b: [number, number]) => (a[0] - b[0]) || (a[1] - b[1]);
const missing = (have: string | undefined, need: string | undefined) =>
  ((need ?? '').includes('a') && !(have ?? '').includes('a')) || ((need ?? '').includes('s') && !(have ?? '').includes('s'));

export async function verifyIndependently(url: string, options: VerifyOptions = {}): Promise<Verdict & { incremental: boolean }> {
  const sql = connect(url, { max: 1, onnotice: () => undefined, connection: { application_name: 'pgcomply-verify' } });
  try {
    return await verifyOn(sql, url, options);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** a slice in a worker thread, relaying its progress */
function inWorker(task: RangeTask, onRows: (count: number) => void): Promise<RangeResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./range-worker.mjs', import.meta.url), { workerData: task });
    worker.on('message', (message: { rows?: number; result?: RangeResult; error?: string }) => {
      if (message.rows !== undefined) onRows(message.rows);
      else if (message.error !== undefined) reject(new Error(message.error));
      else if (message.result) {
        // structured cloning turns each Buffer into a Uint8Array
        for (const row of [...message.result.below, ...message.result.tail]) row.hash = Buffer.from(row.hash);
        resolve(message.result);
      }
    });
    worker.on('error', reject);
    worker.on('exit', (code) => code !== 0 && reject(new Error(`a verifier worker exited with code ${code}`)));
  });
}

/** contiguous slices of the seals to check with about equal rows each; the first starts at from, the last runs to the end */
function slices(seals: Seal[], from: number, count: number): { sealFrom: number; sealTo: number; idFrom: number; idTo: number | null }[] {
  if (seals.length === 0) return [{ sealFrom: 1, sealTo: 0, idFrom: from, idTo: null }];
  const total = seals.reduce((n, s) => n + s.rowCount, 0);
  const groups: Seal[][] = [[]];
  let inGroup = 0;
  for (const seal of seals) {
    if (inGroup >= total / count && groups.length < count) {
      groups.push([]);
      inGroup = 0;
    }
    groups.at(-1)!.push(seal);
    inGroup += seal.rowCount;
  }
  return groups.map((group, i) => ({
    sealFrom: group[0]!.sealNo,
    sealTo: group.at(-1)!.sealNo,
    idFrom: i === 0 ? from : group[0]!.firstRowId!,
    idTo: i === groups.length - 1 ? null : groups[i + 1]![0]!.firstRowId! - 1,
  }));
}

/** the COPY the verifier reads, split the same way and thrown away: the physical floor it is measured against */
export async function copyRowsOnly(url: string, parallelism = defaultParallelism()): Promise<number> {
  const sql = connect(url, { max: 1, onnotice: () => undefined });
  try {
    const seals = await sealList(sql);
    const counts = await Promise.all(slices(seals.filter((s) => s.layout === 2), 0, parallelism).map((s) => copyRange(url, s.idFrom, s.idTo)));
    return counts.reduce((a, b) => a + b, 0);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * The checkpoint the daily check verifies from (compliance_private.check_audit_chain): the newest
 * successful audit.verified row that is itself sealed, naming the seal it verified up to.
 */
export async function findCheckpoint(sql: Sql): Promise<{ sealNo: number; sealHash: string } | null> {
  const [row] = await sql<{ seal_no: string | null; seal_hash: string | null }[]>`
    select a.details ->> 'seal_no' as seal_no, a.details ->> 'seal_hash' as seal_hash from compliance.audit_logs a
     where a.action = 'audit.verified' and a.outcome = 'success'
       and a.id <= coalesce((select s.last_row_id from compliance.audit_seals s where s.layout = 2 order by s.seal_no desc limit 1), 0)
     order by a.id desc limit 1`;
  return row?.seal_no && row.seal_hash ? { sealNo: Number(row.seal_no), sealHash: row.seal_hash } : null;
}

const defaultParallelism = () => Math.max(1, Math.min(4, availableParallelism()));

async function sealList(sql: Sql): Promise<Seal[]> {
  const rows = await sql<{ seal_no: string; layout: number; previous_hash: Buffer; seal_hash: Buffer; first_row_id: string | null; last_row_id: string;
    last_xact_id: string | null; row_count: number }[]>`
    select s.seal_no::text, s.layout, s.previous_hash, s.seal_hash, s.first_row_id::text, s.last_row_id::text, s.last_xact_id::text, s.row_count
      from compliance.audit_seals s order by s.seal_no`;
  return rows.map((s) => ({ sealNo: Number(s.seal_no), layout: s.layout as 1 | 2, previousHash: s.previous_hash, sealHash: s.seal_hash,
    firstRowId: s.first_row_id === null ? null : Number(s.first_row_id), lastRowId: Number(s.last_row_id),
    lastXactId: s.last_xact_id === null ? null : Number(s.last_xact_id), rowCount: s.row_count }));
}

async function verifyOn(sql: Sql, url: string, options: VerifyOptions): Promise<Verdict & { incremental: boolean }> {
  const onRows = options.onRows ?? (() => undefined);
  const seals = await sealList(sql);
  const [head] = await sql<{ last_seal_no: string; last_hash: string; next_row_id: string }[]>`
    select last_seal_no::text, encode(last_hash, 'hex') as last_hash, next_row_id::text from compliance_private.audit_seal_head`;
  const layout2 = seals.filter((s) => s.layout === 2);
  const layout1 = seals.filter((s) => s.layout === 1);
  const layout2From = layout2[0]?.firstRowId ?? Number(head!.next_row_id);
  const layout2End = layout2.at(-1)?.lastRowId ?? null;
  const layout1End: [number, number] | null = layout1.length ? [layout1.at(-1)!.lastXactId!, layout1.at(-1)!.lastRowId] : null;
  // the checkpoint: the newest audit.verified row that is itself sealed, naming a layout-2 seal
  let checkpoint: { seal: Seal; hash: Buffer } | undefined;
  if (options.sinceCheckpoint && layout2End !== null) {
    const found = await findCheckpoint(sql);
    const seal = found ? layout2.find((x) => x.sealNo === found.sealNo) : undefined;
    if (seal) checkpoint = { seal, hash: Buffer.from(found!.sealHash, 'hex') };
  }
  const incremental = checkpoint !== undefined;

  // the accounting records: sealed (inside the layout-2 seals), successful, and of the upgrade records only the first
  const records = await sql<AccountingRecord[]>`
    select a.id::text, a.action, a.occurred_at::text, a.resource_id, a.details from compliance.audit_logs a
     where a.action in ('audit.partition_dropped', 'subject.erased', 'audit.layout_upgraded', 'audit.sealer_gaps_recorded')
       and a.outcome = 'success' order by a.id`;
  const firstUpgrade = records.find((r) => r.action === 'audit.layout_upgraded')?.id;
  // records written since migration 000041 count only from the routine that does the work
  const marker = Number(records.find((r) => r.action === 'audit.sealer_gaps_recorded')?.id ?? 0);
  const fromItsRoutine = (r: AccountingRecord) =>
    Number(r.id) < marker || r.action === 'audit.layout_upgraded' || r.details.written_by === WRITTEN_BY[r.action];
  const accounting = records.filter((r) => layout2End !== null && Number(r.id) >= layout2From && Number(r.id) <= layout2End
    && (r.action !== 'audit.layout_upgraded' || r.id === firstUpgrade) && fromItsRoutine(r));
  const expected = new Map<number, string>();
  const dropped = new Set<number>();
  const addParts = (into: Map<number, string>, record: { details: Record<string, unknown> }) => {
    const list = (key: string) => ((record.details[key] as unknown[] | undefined) ?? []).map(Number);
    for (const id of list('redacted_subject_rows')) into.set(id, [...new Set(`${into.get(id) ?? ''}s`)].sort().join(''));
    for (const id of list('redacted_actor_rows')) into.set(id, [...new Set(`${into.get(id) ?? ''}a`)].sort().join(''));
  };
  for (const record of accounting) {
    addParts(expected, record);
    for (const id of ((record.details.dropped_rows_in_kept_seals as unknown[] | undefined) ?? []).map(Number)) dropped.add(id);
  }
  // erasures not sealed yet: they excuse a redaction (pending) and never accuse a row
  const pending = new Map<number, string>();
  for (const record of records) {
    if (record.action === 'subject.erased' && Number(record.id) > (layout2End ?? layout2From - 1)
        && record.details.written_by === WRITTEN_BY['subject.erased']) addParts(pending, record);
  }
  // the id ranges the sealer skipped before migration 000041, as the one record that migration wrote lists them
  const gapRecord = records.find((r) => r.action === 'audit.sealer_gaps_recorded');
  const sealerGaps = ((gapRecord?.details.gaps as SealerGap[] | undefined) ?? []).map((g) => ({ seal_no: Number(g.seal_no), from: Number(g.from), to: Number(g.to) }));
  const acceptedGaps: SealerGap[] = [];
  const notes: Note[] = [];

  // what those records claim and the database contradicts: a claim that cannot be true
  const problems: Problem[] = await contradictedClaims(sql, accounting.filter((r) => r.action !== 'audit.layout_upgraded'), seals.map((x) => x.sealNo), marker);
  const redacted = new Map<number, string>();
  let rowsChecked = 0;
  const add = (kind: string, sealNo: number | null, rowId?: number, detail?: string) => problems.push(problem(kind, sealNo, rowId, detail));

  // where the chain starts: at seal 1, or where a sealed drop record says it removed seals
  let expectedNo = 1;
  let previousHash: Buffer = Buffer.alloc(32);
  let from: [number, number] = [0, 0];
  let start: [number, number] = [0, 0];
  let nextId: number | null = null;
  const first = seals[0];
  let rangeFrom = 0;
  if (checkpoint) {
    // the checkpoint's own seal must still hash as it did when it was verified
    if (!checkpoint.seal.sealHash.equals(checkpoint.hash)) {
      add('altered_seal', checkpoint.seal.sealNo, undefined, 'the seal\'s hash differs from the one recorded when it was last verified');
    }
    expectedNo = checkpoint.seal.sealNo + 1;
    previousHash = checkpoint.hash;
    nextId = checkpoint.seal.lastRowId + 1;
    rangeFrom = nextId;
  } else if (first && first.sealNo > 1) {
    expectedNo = first.sealNo;
    previousHash = first.previousHash;
    const drop = accounting.find((r) => r.action === 'audit.partition_dropped'
      && String(r.details.seals_removed_through) === String(first.sealNo - 1) && r.details.seal_hash === first.previousHash.toString('hex'));
    if (!drop) {
      add('unaccounted_gap', first.sealNo, undefined, `the chain starts at seal ${first.sealNo}, and no sealed audit.partition_dropped row says seals up to ${first.sealNo - 1} were removed with that hash`);
    } else if (first.layout === 1) {
      const end = drop.details.seal_end as { xact_id: string; row_id: string };
      from = [Number(end.xact_id), Number(end.row_id)];
      start = from;
    }
  }

  // each seal's links, in chain order (a layout-2 seal's own contents are hashed with its rows); a layout-1 seal's rows are the window after the one before
  const layout1Windows: { sealNo: number; from: [number, number] }[] = [];
  const checked = checkpoint ? seals.filter((x) => x.sealNo >= expectedNo) : seals;
  for (const seal of checked) {
    if (seal.sealNo !== expectedNo) add('missing_seal', expectedNo, undefined, `seals ${expectedNo} to ${seal.sealNo - 1} are missing`);
    if (!seal.previousHash.equals(previousHash)) add('broken_chain', seal.sealNo, undefined, 'previous_hash does not match the hash of the seal before it');
    const gap = seal.layout === 2 && seal.firstRowId! > (nextId ?? layout2From)
      ? sealerGaps.find((g) => g.seal_no === seal.sealNo && g.from === (nextId ?? layout2From) && g.to === seal.firstRowId! - 1) : undefined;
    if (gap) {
      acceptedGaps.push(gap);
      notes.push({ kind: 'unsealed_id_range', seal_no: seal.sealNo, from: gap.from, to: gap.to,
        detail: 'ids no seal covers: before migration 000041 the sealer skipped ids of rolled-back rows' });
    } else if (seal.layout === 2 && seal.firstRowId !== (nextId ?? layout2From)) {
      add('broken_chain', seal.sealNo, undefined, `the seal covers ids from ${seal.firstRowId}, the seal before it ended at ${(nextId ?? layout2From) - 1}`);
    }
    expectedNo = seal.sealNo + 1;
    previousHash = seal.sealHash;
    if (seal.layout === 1) {
      layout1Windows.push({ sealNo: seal.sealNo, from });
      from = [seal.lastXactId!, seal.lastRowId];
    } else {
      nextId = seal.lastRowId + 1;
    }
  }
  const tailFrom = nextId ?? layout2From;
  const rowSeals = checkpoint ? layout2.filter((x) => x.sealNo > checkpoint!.seal.sealNo) : layout2;

  // the rows, in slices of whole seals, each on its own connection (and worker thread when there are several)
  const sealedRows = rowSeals.reduce((n, s) => n + s.rowCount, 0);
  const parallelism = options.parallelism ?? (sealedRows >= PARALLEL_FROM_ROWS ? defaultParallelism() : 1);
  const tasks: RangeTask[] = slices(rowSeals, rangeFrom, parallelism).map((slice) => ({ url, ...slice, layout2From, tailFrom,
    droppedIds: [...dropped], listedIds: [...expected.keys()] }));
  const results = await Promise.all(tasks.map((task) => (tasks.length > 1 ? inWorker(task, onRows) : checkRange(task, onRows))));
  const below: CheckedRow[] = [];
  const tail: CheckedRow[] = [];
  const between: number[] = [];
  const listedPresent = new Set<number>();
  for (const result of results) {
    problems.push(...result.problems);
    rowsChecked += result.rowsChecked;
    for (const [id, parts] of result.redacted) redacted.set(id, parts);
    for (const id of result.listedPresent) listedPresent.add(id);
    below.push(...result.below);
    tail.push(...result.tail);
    between.push(...result.between);
  }
  // a skipped range held no row when the sealer passed it; a row there now was put there since
  for (const gap of acceptedGaps) {
    for (const id of between.filter((x) => x >= gap.from && x <= gap.to).sort((a, b) => a - b)) {
      add('forged_row', gap.seal_no, id, 'the row lies in an id range that no seal covers');
    }
  }

  // layout 1: the seals' windows of (transaction, id), matched with the rows below layout 2
  if (layout1Windows.length) {
    below.sort((a, b) => cmp([a.xact, a.id], [b.xact, b.id]));
    const contents = new Map((await sealContents(sql, 1, layout1Windows[0]!.sealNo, layout1Windows.at(-1)!.sealNo)).map((s) => [s.sealNo, s]));
    for (const { sealNo, from: after } of layout1Windows) {
      const seal = contents.get(sealNo)!;
      const present = below.filter((r) => cmp([r.xact, r.id], after) > 0 && cmp([r.xact, r.id], [seal.lastXactId!, seal.lastRowId]) <= 0);
      rowsChecked += present.length;
      for (const row of present) if (row.parts) redacted.set(row.id, row.parts);
      if (!sealHash(seal).equals(seal.sealHash)) add('altered_seal', seal.sealNo);
      problems.push(...compareRows(seal, present, dropped));
    }
  }

  // the head only adds an alarm: newest seals that went missing
  const headNo = Number(head!.last_seal_no);
  if (headNo >= expectedNo) add('missing_seal', expectedNo, undefined, `the chain ends at seal ${expectedNo - 1} but seal ${headNo} was made`);
  else if (headNo === expectedNo - 1 && head!.last_hash !== previousHash.toString('hex')) {
    add('broken_chain', headNo, undefined, 'the newest seal\'s hash differs from the one recorded when it was made');
  }

  // rows below layout 2 that no layout-1 seal covers
  for (const row of checkpoint ? [] : below) {
    const covered = layout1End !== null && cmp([row.xact, row.id], start) > 0 && cmp([row.xact, row.id], layout1End) <= 0;
    if (!covered) add('forged_row', null, row.id, 'the row lies before the layout-2 seals and in no layout-1 seal');
  }

  // rows not sealed yet: only their personal parts can be checked
  rowsChecked += tail.length;
  for (const row of tail) {
    if (row.parts) redacted.set(row.id, row.parts);
    if (row.problem) add(row.problem, null, row.id);
  }

  // every redacted part must be one a sealed erasure lists, and every part it lists redacted
  const ids = [...new Set([...redacted.keys(), ...expected.keys()])].sort((a, b) => a - b);
  for (const id of ids) {
    const found = redacted.get(id);
    const listed = expected.get(id);
    if (found === undefined && !listedPresent.has(id)) continue;
    // incremental: only the rows the checked seals and the unsealed tail hold
    if (id < rangeFrom) continue;
    let kind: string | null = null;
    if (found === '1') kind = listed === undefined ? 'unaccounted_redaction' : null;
    else if (missing(listed, found)) {
      if (missing(`${listed ?? ''}${pending.get(id) ?? ''}`, found)) kind = 'unaccounted_redaction';
      else {
        notes.push({ kind: 'pending_redaction', seal_no: null, row_id: id,
          detail: 'redacted by an erasure whose record is not sealed yet; it counts once the worker seals it' });
        continue;
      }
    }
    else if (missing(found, listed)) kind = 'unredacted_row';
    if (kind) add(kind, null, id);
  }

  return { ok: problems.length === 0, incremental, seals_checked: checked.length, rows_checked: rowsChecked, unsealed_rows: tail.length, problems, notes };
}
