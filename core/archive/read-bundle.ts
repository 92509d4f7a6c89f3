/**
 * One bundle checked on its own, with nothing but its bytes and the anchor key: every row hashes
 * to what its seal lists, every seal to its hash and to the seal before it in its chain, the manifest's
 * signature holds over the bundle's text. A damaged bundle is read as far as it decompresses, and
 * each finding names the row where what was read stops agreeing with the seals.
 */
import { createHash } from 'node:crypto';
import { constants, gunzipSync, inflateRawSync } from 'node:zlib';
import type { AnchorKey } from '../anchors/anchors.js';
import { sealHash } from '../verify/hashing.js';
import { type BundleHeader, isRowLine, isSealLine, type Manifest, manifestSignatureHolds, type RowLine, rowLineConsistent, rowLineHash, type SealLine, sealName } from './bundle.js';

export interface ArchiveFinding {
  kind: 'unreadable_bundle' | 'unreadable_row' | 'unsigned_bundle' | 'bad_signature' | 'content_mismatch' | 'altered_seal' | 'broken_chain'
    | 'missing_seal' | 'forged_row' | 'altered_row' | 'deleted_row' | 'unrecorded_bundle' | 'missing_bundle'
    | 'forged_part' | 'altered_part' | 'digest_mismatch' | 'redacted_not_empty';
  bundle: string;
  seal_no: number | null;
  row_id: number | null;
  detail: string;
}

/** the records that say a month went to the archive and left the database, and the one that dates migration 000041 */
export const ARCHIVE_RECORDS = new Set(['audit.archived', 'audit.partition_dropped', 'audit.sealer_gaps_recorded']);

export interface ReadBundle {
  name: string;
  sha256: string;
  header: BundleHeader | undefined;
  seals: SealLine[];
  /** the ids of the rows read whole and matching their seals */
  rowIds: Set<number>;
  /** each row's personal_digest, read whole and matching its seal: what the parts kept in the database must match */
  personalDigests: Map<number, string>;
  /** the archive and drop records among its rows: a later month's bundle holds the records of earlier ones */
  records: RowLine[];
  findings: ArchiveFinding[];
}

/** what stands for a stretch of the bundle that does not decompress: no JSON line looks like it */
const DAMAGED = Buffer.from('\u0000damaged\n');
const FLUSH_POINT = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const GZIP_HEADER = 10;
const GZIP_TRAILER = 8;

/**
 * The bundle's text. Whole when it decompresses; otherwise each stretch between the writer's full
 * flush points inflated on its own (each starts afresh), and a stretch that does not inflate
 * replaced by DAMAGED, so the lines around it are still read and checked. Four bytes that look
 * like a flush point inside compressed data only split a stretch: it is tried joined to the next.
 */
function decompress(bytes: Buffer): { text: Buffer; error?: string } {
  try {
    return { text: gunzipSync(bytes) };
  } catch (error) {
    const body = bytes.subarray(GZIP_HEADER, Math.max(GZIP_HEADER, bytes.length - GZIP_TRAILER));
    const pieces: Buffer[] = [];
    for (let from = 0; from < body.length;) {
      const at = body.indexOf(FLUSH_POINT, from);
      const end = at < 0 ? body.length : at + FLUSH_POINT.length;
      pieces.push(body.subarray(from, end));
      from = end;
    }
    const parts: Buffer[] = [];
    for (let i = 0; i < pieces.length;) {
      let next = i + 1;
      let text: Buffer = DAMAGED;
      for (let j = i; j < Math.min(pieces.length, i + 4); j += 1) {
        try {
          text = inflateRawSync(Buffer.concat(pieces.slice(i, j + 1)), { finishFlush: constants.Z_SYNC_FLUSH });
          next = j + 1;
          break;
        } catch {
          // joined to the next piece, in case this flush point was four bytes of compressed data
        }
      }
      // every stretch the writer made ends a line: one that does not was damaged, and must not
      // take the next stretch's first line with it
      parts.push(text.at(-1) === 0x0a ? text : Buffer.concat([text, Buffer.from('\n')]));
      i = next;
    }
    return { text: Buffer.concat(parts), error: (error as Error).message };
  }
}

export async function readBundle(name: string, bytes: Buffer, key: AnchorKey): Promise<ReadBundle> {
  const found: ArchiveFinding[] = [];
  /** the rows a finding names already */
  const named = new Set<number>();
  const finding = (kind: ArchiveFinding['kind'], detail: string, sealNo: number | null = null, rowId: number | null = null) => {
    found.push({ kind, bundle: name, seal_no: sealNo, row_id: rowId, detail });
    if (rowId !== null) named.add(rowId);
  };
  const read: ReadBundle = { name, sha256: createHash('sha256').update(bytes).digest('hex'), header: undefined, seals: [], rowIds: new Set(), personalDigests: new Map(), records: [], findings: found };
  const { text, error } = decompress(bytes);

  const content = createHash('sha256');
  const rowsDigest = createHash('sha256');
  const positions = new Map<number, { seal: SealLine; at: number }>();
  const elsewhere = new Set<number>();
  let manifest: Manifest | undefined;
  /** each chain's seal read last */
  const previous = new Map<string, SealLine>();
  let lastRowRead: number | null = null;
  /** the month's rows the seals list, in id order: what a damaged stretch of the bundle held */
  let expectedIds: number[] | undefined;
  const expected = () => (expectedIds ??= [...positions.keys()].filter((id) => !elsewhere.has(id)).sort((a, b) => a - b));
  const nextExpected = () => expected().find((id) => lastRowRead === null || id > lastRowRead) ?? null;

  let start = 0;
  while (start < text.length) {
    const end = text.indexOf(0x0a, start);
    if (end < 0) break; // a last line cut short: the damage is reported below
    const raw = text.subarray(start, end + 1);
    start = end + 1;
    let line: Record<string, unknown> & { type?: string } = {};
    try {
      line = JSON.parse(raw.toString('utf8')) as typeof line;
    } catch {
      // handled with the other malformed lines below
    }
    const known = (line.type === 'row' && isRowLine(line)) || (line.type === 'seal' && isSealLine(line)) || line.type === 'bundle' || line.type === 'manifest';
    if (!known) {
      // the row after the last one read is the one this line held; the others a damaged stretch
      // held are missing below (deleted_row)
      const id = nextExpected();
      if (id === null || !named.has(id)) {
        finding('unreadable_row', `a line after ${lastRowRead === null ? 'the seals' : `row ${lastRowRead}`} is not a bundle line${id === null ? '' : `: row ${id} cannot be read`}`,
          id === null ? null : positions.get(id)!.seal.seal_no, id);
      }
      continue;
    }
    if (line.type === 'manifest') {
      manifest = line as unknown as Manifest;
      break;
    }
    content.update(raw);
    if (line.type === 'bundle') {
      read.header = line as unknown as BundleHeader;
    } else if (line.type === 'seal') {
      // a version 1 bundle's seals are all the chain ''
      const seal = { ...line, chain: (line.chain as string | undefined) ?? '' } as unknown as SealLine;
      read.seals.push(seal);
      const recomputed = sealHash({ sealNo: seal.seal_no, layout: seal.layout, previousHash: Buffer.from(seal.previous_hash, 'hex'), sealHash: Buffer.alloc(0),
        firstRowId: seal.first_row_id, lastRowId: seal.last_row_id, lastXactId: seal.last_xact_id, rowCount: seal.row_count, rowIds: seal.row_ids,
        rowHashes: Buffer.from(seal.row_hashes, 'hex') }).toString('hex');
      if (recomputed !== seal.seal_hash) finding('altered_seal', `${sealName(seal)} does not hash to ${seal.seal_hash}`, seal.seal_no);
      const before = previous.get(seal.chain);
      if (before && before.seal_no + 1 === seal.seal_no && before.seal_hash !== seal.previous_hash) {
        finding('broken_chain', `${sealName(seal)} does not follow seal ${before.seal_no}`, seal.seal_no);
      }
      previous.set(seal.chain, seal);
      seal.row_ids.forEach((id, at) => positions.set(id, { seal, at }));
      expectedIds = undefined;
      for (const id of seal.rows_elsewhere) elsewhere.add(id);
    } else if (line.type === 'row') {
      const row = line as unknown as RowLine;
      const id = Number(row.id);
      const place = positions.get(id);
      const hash = rowLineHash(row);
      if (!place || elsewhere.has(id) || read.rowIds.has(id)) {
        finding('forged_row', `row ${row.id} is in no seal of this month, or twice`, place?.seal.seal_no ?? null, id);
      } else if (place.seal.row_hashes.slice(place.at * 64, place.at * 64 + 64) !== hash.toString('hex') || !rowLineConsistent(row)) {
        finding('altered_row', `row ${row.id} does not hash to what ${sealName(place.seal)} lists for it`, place.seal.seal_no, id);
      } else {
        read.rowIds.add(id);
        read.personalDigests.set(id, row.personal_digest);
        if (ARCHIVE_RECORDS.has(row.action)) read.records.push(row);
      }
      rowsDigest.update(hash);
      lastRowRead = id;
    }
  }

  if (error) finding('unreadable_bundle', `the bundle does not decompress whole (${error}); the lines around the damage were read`);
  for (const id of expected()) if (!read.rowIds.has(id) && !named.has(id)) {
    finding('deleted_row', `row ${id} is listed by ${sealName(positions.get(id)!.seal)} but not in the bundle${error ? ', or in a stretch of it that does not decompress' : ''}`,
      positions.get(id)!.seal.seal_no, id);
  }
  if (!manifest) {
    if (!error) finding('unsigned_bundle', 'the bundle has no manifest');
  } else if (!manifestSignatureHolds(manifest, key)) {
    finding('bad_signature', `the manifest is not signed by the anchor key (${key.keyId})`);
  } else if (manifest.content_sha256 !== content.digest('hex') || manifest.rows_digest !== rowsDigest.digest('hex')) {
    // the rows above name what changed, when a row did; this says the signed text changed at all
    finding('content_mismatch', 'the bundle\'s text is not what its manifest signed');
  }
  return read;
}
