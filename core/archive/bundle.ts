/**
 * The cold archive's bundle (db/AUDIT_HASHING.md, "Cold archive"): gzip-compressed NDJSON, one
 * JSON object per line, in this order:
 *   1. `bundle`: which month, of which database;
 *   2. `seal` lines: every seal that lists one of the month's rows, chain by chain, with the ids it
 *      lists that belong to another month (`rows_elsewhere`);
 *   3. `row` lines in id order: the columns the row hash covers and the personal parts' digests,
 *      never a personal part;
 *   4. `manifest`: counts, the SHA-256 of every byte before it, the rows' digest, and an Ed25519
 *      signature by the anchor key over all of that.
 * NDJSON rather than Parquet: an auditor reads it with zcat and jq, re-implements the hashes from
 * AUDIT_HASHING.md in any language, and a damaged line still leaves the others readable.
 */
import { sign, verify } from 'node:crypto';
import type { AnchorKey } from '../anchors/anchors.js';
import { int8, NULL_FIELD, sha256 } from '../verify/hashing.js';

/** 2: seal lines name their chain (one per shard on a Citus cluster); a version 1 bundle's seals are all the chain '' */
export const BUNDLE_VERSION = 2;
export const BUNDLE_SUFFIX = '.ndjson.gz';

export interface BundleHeader {
  type: 'bundle';
  version: number;
  database: string;
  partition: string;
  range_start: string;
  range_end: string;
}

export interface SealLine {
  type: 'seal';
  /** the audit chain: '' on a single node, a shard's placement key on a Citus cluster */
  chain: string;
  seal_no: number;
  layout: 1 | 2;
  previous_hash: string;
  seal_hash: string;
  first_row_id: number | null;
  last_row_id: number;
  last_xact_id: number | null;
  row_count: number;
  row_ids: number[];
  row_hashes: string;
  rows_elsewhere: number[];
}

/** a row as the bundle holds it: ids and times as decimal strings, since they are int8 */
export interface RowLine {
  type: 'row';
  id: string;
  occurred_at: string;
  occurred_at_micros: string;
  xact_id: string;
  action: string;
  category: string;
  resource_type: string | null;
  resource_id: string | null;
  outcome: string;
  failure_reason: string | null;
  /** jsonb's canonical text, as the row hash covers it */
  details: string;
  personal_digest: string;
  subject_part_digest: string | null;
  actor_part_digest: string | null;
}

export interface Manifest {
  type: 'manifest';
  version: number;
  database: string;
  partition: string;
  row_count: number;
  seal_count: number;
  first_row_id: string | null;
  last_row_id: string | null;
  /** SHA-256 of the row hashes in id order: compliance_private.audit_partition_digest's rows_digest */
  rows_digest: string;
  /** SHA-256 of every byte of the bundle's text before the manifest line */
  content_sha256: string;
  written_at: string;
  key_id: string;
  key_fingerprint: string;
  signature: string;
}

/** field(t) of AUDIT_HASHING.md, from a string */
const field = (text: string | null) => {
  if (text === null) return NULL_FIELD;
  const bytes = Buffer.from(text, 'utf8');
  const length = Buffer.alloc(4);
  length.writeInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
};

/** a personal part's digest (AUDIT_HASHING.md, "The personal part of a row"): sha256(salt || field(value) || …) */
export function partDigest(salt: Uint8Array, ...values: (string | null)[]): Buffer {
  return sha256(Buffer.concat([salt, ...values.map(field)]));
}

/** row_hash of AUDIT_HASHING.md from a bundle's row line */
export function rowLineHash(row: RowLine): Buffer {
  return sha256(Buffer.concat([int8(row.id), int8(row.occurred_at_micros), int8(row.xact_id), field(row.action), field(row.category),
    field(row.resource_type), field(row.resource_id), field(row.outcome), field(row.failure_reason), field(row.details),
    Buffer.from(row.personal_digest, 'hex')]));
}

const DECIMAL = /^-?\d{1,19}$/;
const HEX32 = /^[0-9a-f]{64}$/;
const text = (v: unknown) => typeof v === 'string';
const textOrNull = (v: unknown) => v === null || typeof v === 'string';

/** a line that has a row line's shape: a damaged bundle can decompress into JSON of any other */
export function isRowLine(x: Record<string, unknown>): x is RowLine & Record<string, unknown> {
  return DECIMAL.test(String(x.id)) && text(x.id) && DECIMAL.test(String(x.occurred_at_micros)) && DECIMAL.test(String(x.xact_id))
    && text(x.action) && text(x.category) && textOrNull(x.resource_type) && textOrNull(x.resource_id) && text(x.outcome)
    && textOrNull(x.failure_reason) && text(x.details) && HEX32.test(String(x.personal_digest));
}

/** a line that has a seal line's shape */
export function isSealLine(x: Record<string, unknown>): x is SealLine & Record<string, unknown> {
  const ids = x.row_ids;
  return (x.chain === undefined || typeof x.chain === 'string') && Number.isSafeInteger(x.seal_no) && (x.layout === 1 || x.layout === 2) && HEX32.test(String(x.previous_hash)) && HEX32.test(String(x.seal_hash))
    && Number.isSafeInteger(x.last_row_id) && Number.isSafeInteger(x.row_count) && Array.isArray(ids) && ids.length === x.row_count
    && ids.every(Number.isSafeInteger) && typeof x.row_hashes === 'string' && x.row_hashes.length === 64 * ids.length && /^[0-9a-f]*$/.test(x.row_hashes)
    && (x.layout === 1 ? Number.isSafeInteger(x.last_xact_id) : Number.isSafeInteger(x.first_row_id))
    && Array.isArray(x.rows_elsewhere) && x.rows_elsewhere.every(Number.isSafeInteger);
}

/** how a finding names a seal: with its chain where there is more than the one */
export const sealName = (seal: Pick<SealLine, 'chain' | 'seal_no'>) => (seal.chain ? `seal ${seal.seal_no} of chain ${seal.chain}` : `seal ${seal.seal_no}`);

/** the readable time a row line carries, from the microseconds its hash covers */
export const isoOfMicros = (micros: string) => new Date(Number(BigInt(micros) / 1000n)).toISOString();

/**
 * Whether the fields a row's hash does not cover agree with those it does: its readable time with
 * its microseconds, its parts' digests with personal_digest. With the hash, every byte of a row
 * line is then checked, and an edit anywhere in it names the row.
 */
export function rowLineConsistent(row: RowLine): boolean {
  if (row.occurred_at !== isoOfMicros(row.occurred_at_micros)) return false;
  if (row.subject_part_digest === null || row.actor_part_digest === null) return row.subject_part_digest === row.actor_part_digest;
  if (!HEX32.test(row.subject_part_digest) || !HEX32.test(row.actor_part_digest)) return false;
  return sha256(Buffer.from(row.subject_part_digest + row.actor_part_digest, 'hex')).toString('hex') === row.personal_digest;
}

type Unsigned = Omit<Manifest, 'signature'>;

/** what the signature covers: every field but the signature, in this order */
function signedBytes(m: Unsigned): Buffer {
  const { type, version, database, partition, row_count, seal_count, first_row_id, last_row_id, rows_digest, content_sha256, written_at, key_id, key_fingerprint } = m;
  return Buffer.from(JSON.stringify({ type, version, database, partition, row_count, seal_count, first_row_id, last_row_id, rows_digest,
    content_sha256, written_at, key_id, key_fingerprint }));
}

export function signManifest(m: Unsigned, key: AnchorKey): Manifest {
  return { ...m, signature: sign(null, signedBytes(m), key.privateKey).toString('base64') };
}

export function manifestSignatureHolds(m: Manifest, key: AnchorKey): boolean {
  if (m.key_fingerprint !== key.fingerprint || typeof m.signature !== 'string') return false;
  return verify(null, signedBytes(m), key.publicKey, Buffer.from(m.signature, 'base64'));
}

/** a bundle's name in its store: one per month */
export const bundleName = (partition: string) => `${partition}${BUNDLE_SUFFIX}`;
