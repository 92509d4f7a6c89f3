/**
 * One slice of the independent verification: the layout-2 seals from sealFrom to sealTo and the
 * rows with ids in [idFrom, idTo], read with a binary COPY on a connection of its own. Run in a
 * worker thread per slice (range-worker.ts), or in the calling thread for a small chain.
 */
import type { Sql } from 'postgres';
import { connect } from '../../db/tls.js';
import { readBinaryCopy, type Tuple } from './binary-copy.js';
import { type CheckedRow, checkRow, ROW_COLUMNS, ROW_FIELDS, type SealContents, sealHash } from './hashing.js';

export interface Problem {
  kind: string;
  seal_no: number | null;
  row_id?: number;
  /** contradicted_claim: the accounting record that claims it */
  record_id?: number;
  detail: string;
}

export const DETAIL: Record<string, string> = {
  deleted_row: 'a sealed row is missing, and no sealed drop record removed it',
  forged_row: 'a row in the sealed range is not in the seal',
  altered_row: 'the row no longer matches its sealed hash',
  reordered_row: 'the row is not where the seal put it',
  digest_mismatch: 'the personal part no longer matches its digest',
  redacted_not_empty: 'a redacted personal part still holds data',
  unaccounted_redaction: 'a personal part is redacted that no sealed erasure lists',
  unredacted_row: 'a sealed erasure lists this row\'s personal part as redacted, and it is not',
  altered_seal: 'the seal\'s contents do not match its seal_hash',
};

export const problem = (kind: string, sealNo: number | null, rowId?: number, detail = DETAIL[kind]!): Problem =>
  ({ kind, seal_no: sealNo, ...(rowId === undefined ? {} : { row_id: rowId }), detail });

export interface RangeTask {
  url: string;
  sealFrom: number;
  sealTo: number;
  idFrom: number;
  /** null: to the end */
  idTo: number | null;
  /** rows below it are layout 1, handed back to be matched with the layout-1 seals */
  layout2From: number;
  /** rows from it on are unsealed, handed back */
  tailFrom: number;
  /** rows a sealed drop record removed from kept seals: not deleted_row */
  droppedIds: number[];
  /** rows a sealed erasure lists as redacted: whether each is present is handed back */
  listedIds: number[];
}

export interface RangeResult {
  problems: Problem[];
  rowsChecked: number;
  /** [row id, redacted parts] of every redacted row in the seals */
  redacted: [number, string][];
  listedPresent: number[];
  below: CheckedRow[];
  tail: CheckedRow[];
  /** ids of rows between two seals' ranges: the verifier decides (a gap the old sealer left holds none) */
  between: number[];
}

/** compares a seal's present rows with what it sealed, naming each difference */
export function compareRows(seal: SealContents, present: CheckedRow[], dropped: Set<number>): Problem[] {
  let same = present.length === seal.rowCount;
  for (let i = 0; same && i < present.length; i += 1) {
    const row = present[i]!;
    same = row.id === seal.rowIds[i] && !row.problem && row.hash.compare(seal.rowHashes, i * 32, i * 32 + 32) === 0;
  }
  if (same) return [];
  const problems: Problem[] = [];
  const sealed = new Map(seal.rowIds.map((id, i) => [id, seal.rowHashes.subarray(i * 32, i * 32 + 32)]));
  const here = new Map(present.map((r) => [r.id, r]));
  // positions among the rows both sides hold, so a deleted or forged row does not move the rest
  const sealedOrd = new Map(seal.rowIds.filter((id) => here.has(id)).map((id, i) => [id, i]));
  const presentOrd = new Map(present.filter((r) => sealed.has(r.id)).map((r, i) => [r.id, i]));
  for (const id of new Set([...seal.rowIds, ...present.map((r) => r.id)])) {
    const hash = sealed.get(id);
    const row = here.get(id);
    let kind: string | null;
    if (!row) kind = dropped.has(id) ? null : 'deleted_row';
    else if (!hash) kind = 'forged_row';
    else if (!row.hash.equals(hash)) kind = 'altered_row';
    else if (sealedOrd.get(id) !== presentOrd.get(id)) kind = 'reordered_row';
    else kind = row.problem;
    if (kind) problems.push(problem(kind, seal.sealNo, id));
  }
  return problems;
}

const ids = (bytes: Buffer | null) => {
  const out: number[] = [];
  for (let at = 0; bytes && at < bytes.length; at += 8) out.push(bytes.readUInt32BE(at) * 2 ** 32 + bytes.readUInt32BE(at + 4));
  return out;
};

/** the seals with what they sealed, ids as 8-byte big-endian integers so that millions of them cost no parsing */
export async function sealContents(sql: Sql, layout: 1 | 2, from: number, to: number): Promise<SealContents[]> {
  const rows = await sql<{ seal_no: string; previous_hash: Buffer; seal_hash: Buffer; first_row_id: string | null; last_row_id: string;
    last_xact_id: string | null; row_count: number; row_hashes: Buffer; row_ids: Buffer | null }[]>`
    select s.seal_no::text, s.previous_hash, s.seal_hash, s.first_row_id::text, s.last_row_id::text, s.last_xact_id::text, s.row_count, s.row_hashes,
           (select string_agg(int8send(u.id), ''::bytea order by u.n) from unnest(s.row_ids) with ordinality u(id, n)) as row_ids
      from compliance.audit_seals s where s.layout = ${layout} and s.seal_no between ${from} and ${to} order by s.seal_no`;
  return rows.map((s) => ({ sealNo: Number(s.seal_no), layout, previousHash: s.previous_hash, sealHash: s.seal_hash,
    firstRowId: s.first_row_id === null ? null : Number(s.first_row_id), lastRowId: Number(s.last_row_id),
    lastXactId: s.last_xact_id === null ? null : Number(s.last_xact_id), rowCount: s.row_count, rowHashes: s.row_hashes, rowIds: ids(s.row_ids) }));
}

/** the rows with ids in [from, to] as a binary COPY stream; TimeZone cannot matter, nothing is rendered as text but text */
export const rowQuery = (from: number, to: number | null) =>
  `copy (select ${ROW_COLUMNS} from compliance.audit_logs where id >= ${from}${to === null ? '' : ` and id <= ${to}`} order by id) to stdout (format binary)`;

/** Checks one slice: its seals' contents, then its rows as readRows streams them. */
export async function checkRange(task: RangeTask, onRows: (count: number) => void = () => undefined): Promise<RangeResult> {
  const meta = connect(task.url, { max: 1, onnotice: () => undefined, connection: { application_name: 'pgcomply-verify' } });
  let seals: SealContents[];
  try {
    seals = task.sealFrom <= task.sealTo ? await sealContents(meta, 2, task.sealFrom, task.sealTo) : [];
  } finally {
    await meta.end({ timeout: 5 });
  }
  const dropped = new Set(task.droppedIds);
  const listed = new Set(task.listedIds);
  const result: RangeResult = { problems: [], rowsChecked: 0, redacted: [], listedPresent: [], below: [], tail: [], between: [] };
  for (const seal of seals) if (!sealHash(seal).equals(seal.sealHash)) result.problems.push(problem('altered_seal', seal.sealNo));

  let sealIndex = 0;
  let current: CheckedRow[] = [];
  const closeSealsBefore = (id: number) => {
    while (sealIndex < seals.length && id > seals[sealIndex]!.lastRowId) {
      const seal = seals[sealIndex]!;
      result.rowsChecked += current.length;
      for (const row of current) if (row.parts) result.redacted.push([row.id, row.parts]);
      result.problems.push(...compareRows(seal, current, dropped));
      current = [];
      sealIndex += 1;
    }
  };
  let unreported = 0;
  await readRows(task.url, task.idFrom, task.idTo, (tuple) => {
    const row = checkRow(tuple);
    if (listed.has(row.id)) result.listedPresent.push(row.id);
    if (++unreported === 10_000) {
      onRows(unreported);
      unreported = 0;
    }
    if (row.id < task.layout2From) {
      result.below.push(row);
      return;
    }
    closeSealsBefore(row.id);
    const seal = seals[sealIndex];
    if (seal && row.id >= seal.firstRowId!) current.push(row);
    else if (row.id >= task.tailFrom) result.tail.push(row);
    else result.between.push(row.id);
  });
  closeSealsBefore(Infinity);
  onRows(unreported);
  return result;
}

/**
 * Streams the rows with ids in [from, to] to onTuple, on a connection of its own that is closed
 * afterwards: postgres.js can leave a connection that streamed a COPY unusable (porsager/postgres#1016).
 */
async function readRows(url: string, from: number, to: number | null, onTuple: (tuple: Tuple) => void): Promise<void> {
  const copy = connect(url, { max: 1, onnotice: () => undefined, connection: { application_name: 'pgcomply-verify-copy' } });
  try {
    await readBinaryCopy(await copy.unsafe(rowQuery(from, to)).readable(), ROW_FIELDS, onTuple);
  } finally {
    await copy.end({ timeout: 1 });
  }
}

/** the same COPY, read and thrown away: the physical floor the verifier is measured against */
export async function copyRange(url: string, from: number, to: number | null): Promise<number> {
  let rows = 0;
  await readRows(url, from, to, () => {
    rows += 1;
  });
  return rows;
}
