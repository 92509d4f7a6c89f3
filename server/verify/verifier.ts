/**
 * An independent verifier of the audit chain (issue #21): reads the seals and, with COPY, the raw
 * rows, and checks them by db/AUDIT_HASHING.md in TypeScript, naming problems as
 * compliance.verify_audit_log() does ({kind, seal_no, row_id}). It trusts no PostgreSQL hash
 * function and no mutable state but the seal head's alarm, as the SQL one.
 */
import type { Sql } from 'postgres';
import { connect } from '../../db/tls.js';
import { type AuditRow, personalCheck, rowHash, type Seal, sealHash } from './hashing.js';

export interface Problem {
  kind: string;
  seal_no: number | null;
  row_id?: number;
  detail: string;
}

export interface Verdict {
  ok: boolean;
  seals_checked: number;
  rows_checked: number;
  unsealed_rows: number;
  problems: Problem[];
}

const DETAIL: Record<string, string> = {
  deleted_row: 'a sealed row is missing, and no sealed drop record removed it',
  forged_row: 'a row in the sealed range is not in the seal',
  altered_row: 'the row no longer matches its sealed hash',
  reordered_row: 'the row is not where the seal put it',
  digest_mismatch: 'the personal part no longer matches its digest',
  redacted_not_empty: 'a redacted personal part still holds data',
  unaccounted_redaction: 'a personal part is redacted that no sealed erasure lists',
  unredacted_row: 'a sealed erasure lists this row\'s personal part as redacted, and it is not',
};

const hex = (value: string | null) => (value === null ? null : Buffer.from(value, 'hex'));
const big = (value: string | null) => (value === null ? null : BigInt(value));

/** COPY's text format: \N is NULL; backslash escapes otherwise */
function unescapeCopy(value: string): string | null {
  if (value === '\\N') return null;
  if (!value.includes('\\')) return value;
  return value.replace(/\\(.)/g, (_, c: string) => ({ n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', v: '\v' } as Record<string, string>)[c] ?? c);
}

// the time in UTC whatever the session's TimeZone: micros() reads it
const ROW_QUERY = `copy (select id, to_char(occurred_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), xact_id, action, category, resource_type, resource_id, outcome, failure_reason, details,
  user_id, actor_id, host(ip_address), user_agent, personal_details, encode(personal_salt, 'hex'), encode(personal_digest, 'hex'),
  encode(subject_part_salt, 'hex'), encode(subject_part_digest, 'hex'), encode(actor_part_salt, 'hex'), encode(actor_part_digest, 'hex')
  from compliance.audit_logs where id >= %FROM% order by id) to stdout`;

function parseRow(line: string): AuditRow {
  const f = line.split('\t').map(unescapeCopy);
  return { id: BigInt(f[0]!), occurredAt: f[1]!, xactId: BigInt(f[2]!), action: f[3]!, category: f[4]!, resourceType: f[5]!, resourceId: f[6]!,
    outcome: f[7]!, failureReason: f[8]!, details: f[9]!, userId: f[10]!, actorId: f[11]!, ipHost: f[12]!, userAgent: f[13]!, personalDetails: f[14]!,
    personalSalt: hex(f[15]!), personalDigest: hex(f[16]!)!, subjectSalt: hex(f[17]!), subjectDigest: hex(f[18]!), actorSalt: hex(f[19]!), actorDigest: hex(f[20]!) };
}

/** a row as the checks need it */
interface Checked { id: bigint; xact: bigint; hash: Buffer; problem: string | null; parts: string }

function check(row: AuditRow): Checked {
  const personal = personalCheck(row);
  const layout1 = row.subjectDigest === null;
  const parts = personal.subjectRedacted && personal.actorRedacted && layout1 ? '1'
    : `${personal.actorRedacted ? 'a' : ''}${personal.subjectRedacted ? 's' : ''}`;
  return { id: row.id, xact: row.xactId, hash: rowHash(row), problem: personal.problem, parts };
}

async function* copyLines(sql: Sql, query: string): AsyncGenerator<string> {
  const stream = await sql.unsafe(query).readable();
  // split on the newline byte, never inside a chunk's text: a chunk may end within a UTF-8 character
  let rest: Buffer = Buffer.alloc(0);
  for await (const chunk of stream) {
    const bytes: Buffer = rest.length ? Buffer.concat([rest, chunk as Buffer]) : (chunk as Buffer);
    let start = 0;
    for (let newline = bytes.indexOf(10, start); newline !== -1; newline = bytes.indexOf(10, start)) {
      yield bytes.toString('utf8', start, newline);
      start = newline + 1;
    }
    rest = bytes.subarray(start);
  }
  if (rest.length) yield rest.toString('utf8');
}

const cmp = (a: [bigint, bigint], b: [bigint, bigint]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0);
const missing = (have: string | undefined, need: string | undefined) =>
  ((need ?? '').includes('a') && !(have ?? '').includes('a')) || ((need ?? '').includes('s') && !(have ?? '').includes('s'));

/**
 * Verifies the chain of the database at url. The rows are read on a connection of their own that
 * is closed afterwards: postgres.js can leave a connection that streamed a COPY unusable
 * (porsager/postgres#1016), so nothing else is sent on it.
 */
export interface VerifyOptions {
  onRow?: () => void;
  /** from the checkpoint (the newest sealed audit.verified row), as the daily check does: only what was sealed after it */
  sinceCheckpoint?: boolean;
}

export async function verifyIndependently(url: string, options: VerifyOptions = {}): Promise<Verdict & { incremental: boolean }> {
  const sql = connect(url, { max: 1, onnotice: () => undefined, connection: { application_name: 'pgcomply-verify' } });
  try {
    return await verifyOn(sql, url, options.onRow ?? (() => undefined), Boolean(options.sinceCheckpoint));
  } finally {
    await sql.end({ timeout: 5 });
  }
}

async function* copyOnItsOwn(url: string, fromId = 0n): AsyncGenerator<string> {
  const copy = connect(url, { max: 1, onnotice: () => undefined, connection: { application_name: 'pgcomply-verify-copy' } });
  try {
    yield* copyLines(copy, ROW_QUERY.replace('%FROM%', String(fromId)));
  } finally {
    await copy.end({ timeout: 1 });
  }
}

/** the COPY the verifier reads, read and thrown away: the physical floor the verifier is measured against */
export async function copyRowsOnly(url: string): Promise<number> {
  let rows = 0;
  for await (const line of copyOnItsOwn(url)) if (line) rows += 1;
  return rows;
}

async function verifyOn(sql: Sql, url: string, onRow: () => void, sinceCheckpoint: boolean): Promise<Verdict & { incremental: boolean }> {
  const seals: Seal[] = (await sql<{ seal_no: string; layout: number; previous_hash: string; seal_hash: string; first_row_id: string | null; last_row_id: string;
    last_xact_id: string | null; row_count: number; row_ids: string[]; row_hashes: string }[]>`
    select seal_no::text, layout, encode(previous_hash, 'hex') as previous_hash, encode(seal_hash, 'hex') as seal_hash, first_row_id::text,
           last_row_id::text, last_xact_id::text, row_count, row_ids::text[], encode(row_hashes, 'hex') as row_hashes
      from compliance.audit_seals s order by s.seal_no`).map((s) => ({
    sealNo: BigInt(s.seal_no), layout: s.layout as 1 | 2, previousHash: hex(s.previous_hash)!, sealHash: hex(s.seal_hash)!, firstRowId: big(s.first_row_id),
    lastRowId: BigInt(s.last_row_id), lastXactId: big(s.last_xact_id), rowCount: s.row_count, rowIds: s.row_ids.map(BigInt), rowHashes: hex(s.row_hashes)!,
  }));
  const [head] = await sql<{ last_seal_no: string; last_hash: string; next_row_id: string }[]>`
    select last_seal_no::text, encode(last_hash, 'hex') as last_hash, next_row_id::text from compliance_private.audit_seal_head`;
  const layout2 = seals.filter((s) => s.layout === 2);
  const layout1 = seals.filter((s) => s.layout === 1);
  const layout2From = layout2[0]?.firstRowId ?? BigInt(head!.next_row_id);
  const layout2End = layout2.at(-1)?.lastRowId ?? null;
  const layout1End: [bigint, bigint] | null = layout1.length ? [layout1.at(-1)!.lastXactId!, layout1.at(-1)!.lastRowId] : null;
  // the checkpoint: the newest audit.verified row that is itself sealed, naming a layout-2 seal
  let checkpoint: { seal: Seal; hash: Buffer } | undefined;
  if (sinceCheckpoint && layout2End !== null) {
    const [row] = await sql<{ seal_no: string | null; seal_hash: string | null }[]>`
      select a.details ->> 'seal_no' as seal_no, a.details ->> 'seal_hash' as seal_hash from compliance.audit_logs a
       where a.action = 'audit.verified' and a.outcome = 'success' and a.id <= ${String(layout2End)}::bigint order by a.id desc limit 1`;
    const seal = row?.seal_no ? layout2.find((x) => x.sealNo === BigInt(row.seal_no!)) : undefined;
    if (seal && row!.seal_hash) checkpoint = { seal, hash: Buffer.from(row!.seal_hash, 'hex') };
  }
  const incremental = checkpoint !== undefined;

  // the accounting records: sealed (inside the layout-2 seals), successful, and of the upgrade records only the first
  const records = await sql<{ id: string; action: string; details: Record<string, unknown> }[]>`
    select a.id::text, a.action, a.details from compliance.audit_logs a
     where a.action in ('audit.partition_dropped', 'subject.erased', 'audit.layout_upgraded') and a.outcome = 'success' order by a.id`;
  const firstUpgrade = records.find((r) => r.action === 'audit.layout_upgraded')?.id;
  const accounting = records.filter((r) => layout2End !== null && BigInt(r.id) >= layout2From && BigInt(r.id) <= layout2End
    && (r.action !== 'audit.layout_upgraded' || r.id === firstUpgrade));
  const expected = new Map<string, string>();
  const dropped = new Set<string>();
  for (const record of accounting) {
    const list = (key: string) => ((record.details[key] as unknown[] | undefined) ?? []).map(String);
    for (const id of list('redacted_subject_rows')) expected.set(id, [...new Set(`${expected.get(id) ?? ''}s`)].sort().join(''));
    for (const id of list('redacted_actor_rows')) expected.set(id, [...new Set(`${expected.get(id) ?? ''}a`)].sort().join(''));
    for (const id of list('dropped_rows_in_kept_seals')) dropped.add(id);
  }

  const problems: Problem[] = [];
  const redacted = new Map<string, string>();
  let rowsChecked = 0;
  const add = (kind: string, sealNo: bigint | null, rowId?: bigint, detail = DETAIL[kind]!) =>
    problems.push({ kind, seal_no: sealNo === null ? null : Number(sealNo), ...(rowId === undefined ? {} : { row_id: Number(rowId) }), detail });

  /** compares a seal's present rows with what it sealed, naming each difference */
  const compareRows = (seal: Seal, present: Checked[]) => {
    rowsChecked += present.length;
    for (const row of present) if (row.parts) redacted.set(String(row.id), row.parts);
    const hashes = Buffer.concat(present.map((r) => r.hash));
    if (present.length === seal.rowCount && hashes.equals(seal.rowHashes) && !present.some((r) => r.problem)) return;
    const sealed = new Map(seal.rowIds.map((id, i) => [id, seal.rowHashes.subarray(i * 32, i * 32 + 32)]));
    const here = new Map(present.map((r) => [r.id, r]));
    // positions among the rows both sides hold, so a deleted or forged row does not move the rest
    const sealedOrd = new Map(seal.rowIds.filter((id) => here.has(id)).map((id, i) => [id, i]));
    const presentOrd = new Map(present.filter((r) => sealed.has(r.id)).map((r, i) => [r.id, i]));
    for (const id of new Set([...seal.rowIds, ...present.map((r) => r.id)])) {
      const hash = sealed.get(id);
      const row = here.get(id);
      let kind: string | null;
      if (!row) kind = dropped.has(String(id)) ? null : 'deleted_row';
      else if (!hash) kind = 'forged_row';
      else if (!row.hash.equals(hash)) kind = 'altered_row';
      else if (sealedOrd.get(id) !== presentOrd.get(id)) kind = 'reordered_row';
      else kind = row.problem;
      if (kind) add(kind, seal.sealNo, id);
    }
  };

  // where the chain starts: at seal 1, or where a sealed drop record says it removed seals
  let expectedNo = 1n;
  let previousHash: Buffer = Buffer.alloc(32);
  let from: [bigint, bigint] = [0n, 0n];
  let start: [bigint, bigint] = [0n, 0n];
  let nextId: bigint | null = null;
  const first = seals[0];
  let rangeFrom = 0n;
  if (checkpoint) {
    // the checkpoint's own seal must still hash as it did when it was verified
    if (!checkpoint.seal.sealHash.equals(checkpoint.hash)) {
      add('altered_seal', checkpoint.seal.sealNo, undefined, 'the seal\'s hash differs from the one recorded when it was last verified');
    }
    expectedNo = checkpoint.seal.sealNo + 1n;
    previousHash = checkpoint.hash;
    nextId = checkpoint.seal.lastRowId + 1n;
    rangeFrom = nextId;
  } else if (first && first.sealNo > 1n) {
    expectedNo = first.sealNo;
    previousHash = first.previousHash;
    const drop = accounting.find((r) => r.action === 'audit.partition_dropped'
      && String(r.details.seals_removed_through) === String(first.sealNo - 1n) && r.details.seal_hash === first.previousHash.toString('hex'));
    if (!drop) {
      add('unaccounted_gap', first.sealNo, undefined, `the chain starts at seal ${first.sealNo}, and no sealed audit.partition_dropped row says seals up to ${first.sealNo - 1n} were removed with that hash`);
    } else if (first.layout === 1) {
      const end = drop.details.seal_end as { xact_id: string; row_id: string };
      from = [BigInt(end.xact_id), BigInt(end.row_id)];
      start = from;
    }
  }

  // each seal's own fields, in chain order; a layout-1 seal's rows are the window after the one before
  const layout1Windows: { seal: Seal; from: [bigint, bigint] }[] = [];
  const checked = checkpoint ? seals.filter((x) => x.sealNo >= expectedNo) : seals;
  for (const seal of checked) {
    if (seal.sealNo !== expectedNo) add('missing_seal', expectedNo, undefined, `seals ${expectedNo} to ${seal.sealNo - 1n} are missing`);
    if (!seal.previousHash.equals(previousHash)) add('broken_chain', seal.sealNo, undefined, 'previous_hash does not match the hash of the seal before it');
    if (!sealHash(seal).equals(seal.sealHash)) add('altered_seal', seal.sealNo, undefined, 'the seal\'s contents do not match its seal_hash');
    if (seal.layout === 2 && seal.firstRowId !== (nextId ?? layout2From)) {
      add('broken_chain', seal.sealNo, undefined, `the seal covers ids from ${seal.firstRowId}, the seal before it ended at ${(nextId ?? layout2From) - 1n}`);
    }
    expectedNo = seal.sealNo + 1n;
    previousHash = seal.sealHash;
    if (seal.layout === 1) {
      layout1Windows.push({ seal, from });
      from = [seal.lastXactId!, seal.lastRowId];
    } else {
      nextId = seal.lastRowId + 1n;
    }
  }
  const tailFrom = nextId ?? layout2From;
  const rowSeals = checkpoint ? layout2.filter((x) => x.sealNo > checkpoint!.seal.sealNo) : layout2;

  // the rows, streamed in id order: a layout-2 seal is compared as soon as its range is read,
  // rows below layout 2 are kept for the layout-1 seals, the tail after the last seal is counted
  const below: Checked[] = [];
  const tail: Checked[] = [];
  const listedPresent = new Set<string>();
  let sealIndex = 0;
  let current: Checked[] = [];
  const closeSealsBefore = (id: bigint | null) => {
    while (sealIndex < rowSeals.length && (id === null || id > rowSeals[sealIndex]!.lastRowId)) {
      compareRows(rowSeals[sealIndex]!, current);
      current = [];
      sealIndex += 1;
    }
  };
  for await (const line of copyOnItsOwn(url, rangeFrom)) {
    const row = check(parseRow(line));
    onRow();
    if (expected.has(String(row.id))) listedPresent.add(String(row.id));
    if (row.id < layout2From) {
      below.push(row);
      continue;
    }
    closeSealsBefore(row.id);
    const seal = rowSeals[sealIndex];
    if (seal && row.id >= seal.firstRowId!) current.push(row);
    else if (row.id >= tailFrom) tail.push(row);
  }
  closeSealsBefore(null);
  below.sort((a, b) => cmp([a.xact, a.id], [b.xact, b.id]));
  for (const { seal, from: after } of layout1Windows) {
    compareRows(seal, below.filter((r) => cmp([r.xact, r.id], after) > 0 && cmp([r.xact, r.id], [seal.lastXactId!, seal.lastRowId]) <= 0));
  }

  // the head only adds an alarm: newest seals that went missing
  const headNo = BigInt(head!.last_seal_no);
  if (headNo >= expectedNo) add('missing_seal', expectedNo, undefined, `the chain ends at seal ${expectedNo - 1n} but seal ${headNo} was made`);
  else if (headNo === expectedNo - 1n && head!.last_hash !== previousHash.toString('hex')) {
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
    if (row.parts) redacted.set(String(row.id), row.parts);
    if (row.problem) add(row.problem, null, row.id);
  }

  // every redacted part must be one a sealed erasure lists, and every part it lists redacted
  const ids = [...new Set([...redacted.keys(), ...expected.keys()])].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
  for (const id of ids) {
    const found = redacted.get(id);
    const listed = expected.get(id);
    if (found === undefined && !listedPresent.has(id)) continue;
    // incremental: only the rows the checked seals and the unsealed tail hold
    if (BigInt(id) < rangeFrom) continue;
    let kind: string | null = null;
    if (found === '1') kind = listed === undefined ? 'unaccounted_redaction' : null;
    else if (missing(listed, found)) kind = 'unaccounted_redaction';
    else if (missing(found, listed)) kind = 'unredacted_row';
    if (kind) add(kind, null, BigInt(id));
  }

  return { ok: problems.length === 0, incremental, seals_checked: checked.length, rows_checked: rowsChecked, unsealed_rows: tail.length, problems };
}
