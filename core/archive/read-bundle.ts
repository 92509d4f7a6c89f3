/**
 * One bundle checked on its own, with nothing but its bytes and the anchor key: every row hashes
 * to what its seal lists, every seal to its hash and to the seal before it, the manifest's
 * signature holds over the bundle's text. A damaged bundle is read as far as it decompresses, and
 * each finding names the row where what was read stops agreeing with the seals.
 */
import { createHash } from 'node:crypto';
import { constants, createGunzip } from 'node:zlib';
import type { AnchorKey } from '../anchors/anchors.js';
import { sealHash } from '../verify/hashing.js';
import { type BundleHeader, type Manifest, manifestSignatureHolds, type RowLine, rowLineHash, type SealLine } from './bundle.js';

export interface ArchiveFinding {
  kind: 'unreadable_bundle' | 'unreadable_row' | 'unsigned_bundle' | 'bad_signature' | 'content_mismatch' | 'altered_seal' | 'broken_chain'
    | 'missing_seal' | 'forged_row' | 'altered_row' | 'deleted_row' | 'unrecorded_bundle';
  bundle: string;
  seal_no: number | null;
  row_id: number | null;
  detail: string;
}

/** the records that say a month went to the archive and left the database */
export const ARCHIVE_RECORDS = new Set(['audit.archived', 'audit.partition_dropped']);

export interface ReadBundle {
  name: string;
  sha256: string;
  header: BundleHeader | undefined;
  seals: SealLine[];
  /** the ids of the rows read whole and matching their seals */
  rowIds: Set<number>;
  /** the archive and drop records among its rows: a later month's bundle holds the records of earlier ones */
  records: RowLine[];
  findings: ArchiveFinding[];
}

/** the bundle's text as far as it decompresses, and why it stopped if it did */
function gunzipAsFarAsPossible(bytes: Buffer): Promise<{ text: Buffer; error?: string }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const gunzip = createGunzip({ finishFlush: constants.Z_SYNC_FLUSH });
    gunzip.on('data', (c: Buffer) => chunks.push(c));
    gunzip.on('end', () => resolve({ text: Buffer.concat(chunks) }));
    gunzip.on('error', (error) => resolve({ text: Buffer.concat(chunks), error: error.message }));
    gunzip.end(bytes);
  });
}

export async function readBundle(name: string, bytes: Buffer, key: AnchorKey): Promise<ReadBundle> {
  const found: ArchiveFinding[] = [];
  const finding = (kind: ArchiveFinding['kind'], detail: string, sealNo: number | null = null, rowId: number | null = null) =>
    found.push({ kind, bundle: name, seal_no: sealNo, row_id: rowId, detail });
  const read: ReadBundle = { name, sha256: createHash('sha256').update(bytes).digest('hex'), header: undefined, seals: [], rowIds: new Set(), records: [], findings: found };
  const { text, error } = await gunzipAsFarAsPossible(bytes);

  const content = createHash('sha256');
  const rowsDigest = createHash('sha256');
  const positions = new Map<number, { seal: SealLine; at: number }>();
  const elsewhere = new Set<number>();
  let manifest: Manifest | undefined;
  let previous: SealLine | undefined;
  let lastRowRead: number | null = null;
  let damaged = false;
  /** the month's rows the seals list, in id order: what a damaged stretch of the bundle held */
  const expected = () => [...positions.keys()].filter((id) => !elsewhere.has(id)).sort((a, b) => a - b);
  const nextExpected = () => expected().find((id) => lastRowRead === null || id > lastRowRead) ?? null;

  let start = 0;
  while (start < text.length) {
    const end = text.indexOf(0x0a, start);
    if (end < 0) break; // a last line cut short: the damage is reported below
    const raw = text.subarray(start, end + 1);
    start = end + 1;
    let line: { type?: string };
    try {
      line = JSON.parse(raw.toString('utf8')) as { type?: string };
    } catch {
      const id = nextExpected();
      finding('unreadable_row', `a line after ${lastRowRead === null ? 'the seals' : `row ${lastRowRead}`} is not JSON${id === null ? '' : `: row ${id} cannot be read`}`,
        id === null ? null : positions.get(id)!.seal.seal_no, id);
      damaged = true;
      continue;
    }
    if (line.type === 'manifest') {
      manifest = line as Manifest;
      break;
    }
    content.update(raw);
    if (line.type === 'bundle') {
      read.header = line as BundleHeader;
    } else if (line.type === 'seal') {
      const seal = line as SealLine;
      read.seals.push(seal);
      const recomputed = sealHash({ sealNo: seal.seal_no, layout: seal.layout, previousHash: Buffer.from(seal.previous_hash, 'hex'), sealHash: Buffer.alloc(0),
        firstRowId: seal.first_row_id, lastRowId: seal.last_row_id, lastXactId: seal.last_xact_id, rowCount: seal.row_count, rowIds: seal.row_ids,
        rowHashes: Buffer.from(seal.row_hashes, 'hex') }).toString('hex');
      if (recomputed !== seal.seal_hash) finding('altered_seal', `seal ${seal.seal_no} does not hash to ${seal.seal_hash}`, seal.seal_no);
      if (previous && previous.seal_no + 1 === seal.seal_no && previous.seal_hash !== seal.previous_hash) {
        finding('broken_chain', `seal ${seal.seal_no} does not follow seal ${previous.seal_no}`, seal.seal_no);
      }
      previous = seal;
      seal.row_ids.forEach((id, at) => positions.set(id, { seal, at }));
      for (const id of seal.rows_elsewhere) elsewhere.add(id);
    } else if (line.type === 'row') {
      const row = line as RowLine;
      const id = Number(row.id);
      const place = positions.get(id);
      const hash = rowLineHash(row);
      if (!place || elsewhere.has(id) || read.rowIds.has(id)) {
        finding('forged_row', `row ${row.id} is in no seal of this month, or twice`, place?.seal.seal_no ?? null, id);
      } else if (place.seal.row_hashes.slice(place.at * 64, place.at * 64 + 64) !== hash.toString('hex')) {
        finding('altered_row', `row ${row.id} does not hash to what seal ${place.seal.seal_no} lists for it`, place.seal.seal_no, id);
      } else {
        read.rowIds.add(id);
        if (ARCHIVE_RECORDS.has(row.action)) read.records.push(row);
      }
      rowsDigest.update(hash);
      lastRowRead = id;
    }
  }

  if (error || (!manifest && start < text.length)) {
    const id = nextExpected();
    finding('unreadable_bundle', `the bundle stops decompressing${error ? ` (${error})` : ''} after ${lastRowRead === null ? 'its seals' : `row ${lastRowRead}`}${id === null ? '' : `: row ${id} and the rows after it cannot be read`}`,
      id === null ? null : positions.get(id)!.seal.seal_no, id);
    damaged = true;
  }
  if (!damaged) {
    for (const id of expected()) if (!read.rowIds.has(id) && !found.some((f) => f.row_id === id)) {
      finding('deleted_row', `row ${id} is listed by seal ${positions.get(id)!.seal.seal_no} but not in the bundle`, positions.get(id)!.seal.seal_no, id);
    }
  }
  if (!manifest) {
    if (!damaged) finding('unsigned_bundle', 'the bundle has no manifest');
  } else if (!manifestSignatureHolds(manifest, key)) {
    finding('bad_signature', `the manifest is not signed by the anchor key (${key.keyId})`);
  } else if (manifest.content_sha256 !== content.digest('hex') || manifest.rows_digest !== rowsDigest.digest('hex')) {
    // the rows above name what changed, when a row did; this says the signed text changed at all
    finding('content_mismatch', 'the bundle\'s text is not what its manifest signed');
  }
  return read;
}
