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
import { readAccounting } from './accounting.js';
import { checkLinks } from './links.js';
import { contradictedClaims } from './claims.js';
import type { Note } from './notes.js';
import { compareRedactions } from './redactions.js';
import { checkRange, compareRows, copyRange, problem, type Problem, type RangeResult, type RangeTask, sealContents } from './range-check.js';

export type { Problem } from './range-check.js';
export type { Note } from './notes.js';

export interface Verdict {
  ok: boolean;
  seals_checked: number;
  rows_checked: number;
  unsealed_rows: number;
  problems: Problem[];
  /** what does not fail verification: pending_redaction, unsealed_id_range (as compliance.verify_audit_log's notes) */
  notes: Note[];
}




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

  const { accounting, marker, expected, dropped, pending, sealerGaps } = await readAccounting(sql, layout2From, layout2End);
  const notes: Note[] = [];

  // what those records claim and the database contradicts: a claim that cannot be true
  // (from a checkpoint, only the records sealed since: the older ones were checked by the run that made it)
  const claimed = accounting.filter((r) => r.action !== 'audit.layout_upgraded' && (!checkpoint || Number(r.id) > checkpoint.seal.lastRowId));
  const problems: Problem[] = await contradictedClaims(sql, claimed, seals.map((x) => x.sealNo), marker);
  const redacted = new Map<number, string>();
  let rowsChecked = 0;
  const add = (kind: string, sealNo: number | null, rowId?: number, detail?: string) => problems.push(problem(kind, sealNo, rowId, detail));

  // the chain's links: where it starts, then each seal against the one before it
  const links = checkLinks(seals, checkpoint, accounting, sealerGaps, layout2From);
  problems.push(...links.problems);
  notes.push(...links.notes);
  const { acceptedGaps, checked, expectedNo, layout1Windows, nextId, previousHash, rangeFrom, start } = links;
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
  const redactions = compareRedactions(redacted, expected, pending, listedPresent, rangeFrom);
  problems.push(...redactions.problems);
  notes.push(...redactions.notes);

  return { ok: problems.length === 0, incremental, seals_checked: checked.length, rows_checked: rowsChecked, unsealed_rows: tail.length, problems, notes };
}
