/**
 * db/AUDIT_HASHING.md in TypeScript: the bytes each hash covers, taken from a binary COPY tuple
 * of ROW_COLUMNS as it arrives (text as its UTF-8 bytes, jsonb as its canonical text), never
 * from PostgreSQL's own hash functions.
 */
import crypto from 'node:crypto';
import type { Tuple } from './binary-copy.js';

/** one SHA-256; crypto.hash (Node ≥ 20.12) is the cheaper call for the millions of small inputs here */
export const sha256: (data: Uint8Array) => Buffer = typeof crypto.hash === 'function'
  ? (data) => crypto.hash('sha256', data, 'buffer')
  : (data) => crypto.createHash('sha256').update(data).digest();

/** the columns a row is read with, in this order; host() because inet is hashed as field(host(ip)) */
export const ROW_COLUMNS = `id, occurred_at, xact_id, action, category, resource_type, resource_id, outcome, failure_reason, details,
  user_id, actor_id, host(ip_address), user_agent, personal_details, personal_salt, personal_digest,
  subject_part_salt, subject_part_digest, actor_part_salt, actor_part_digest`;
export const ROW_FIELDS = 21;
const ID = 0, OCCURRED_AT = 1, XACT_ID = 2, ACTION = 3, FAILURE_REASON = 8, DETAILS = 9, USER_ID = 10, ACTOR_ID = 11, USER_AGENT = 13,
  PERSONAL_DETAILS = 14, PERSONAL_SALT = 15, PERSONAL_DIGEST = 16, SUBJECT_SALT = 17, SUBJECT_DIGEST = 18, ACTOR_SALT = 19, ACTOR_DIGEST = 20;

// binary timestamptz counts microseconds from 2000-01-01; micros() counts them from 1970-01-01: added as two 32-bit halves
const MICROS_1970_TO_2000 = 946_684_800_000_000;
const SHIFT_HIGH = Math.floor(MICROS_1970_TO_2000 / 2 ** 32);
const SHIFT_LOW = MICROS_1970_TO_2000 % 2 ** 32;
/** field(NULL) of AUDIT_HASHING.md */
export const NULL_FIELD = Buffer.from([0xff, 0xff, 0xff, 0xff]);

/** the bytes of one hash, written into one reused buffer */
class Scratch {
  private buffer = Buffer.alloc(4096);
  private length = 0;

  private room(bytes: number) {
    if (this.length + bytes <= this.buffer.length) return;
    const larger = Buffer.alloc(Math.max(this.buffer.length * 2, this.length + bytes));
    this.buffer.copy(larger, 0, 0, this.length);
    this.buffer = larger;
  }

  start(): this {
    this.length = 0;
    return this;
  }

  bytes(source: Uint8Array, from = 0, to = source.length): this {
    this.room(to - from);
    // short values (ids, salts, digests) byte by byte: a subarray view per copy costs more
    if (to - from <= 48) {
      const target = this.buffer;
      let at = this.length;
      for (let i = from; i < to; i += 1) target[at++] = source[i]!;
    } else {
      this.buffer.set(source.subarray(from, to), this.length);
    }
    this.length += to - from;
    return this;
  }

  /** micros(ts) from a binary timestamptz */
  micros(t: Tuple, i: number): this {
    this.room(8);
    const low = t.buf.readUInt32BE(t.start[i]! + 4) + SHIFT_LOW;
    this.buffer.writeInt32BE((t.buf.readInt32BE(t.start[i]!) + SHIFT_HIGH + (low >= 2 ** 32 ? 1 : 0)) | 0, this.length);
    this.buffer.writeUInt32BE(low % 2 ** 32, this.length + 4);
    this.length += 8;
    return this;
  }

  /** a field's data (a bytea value): nothing for NULL */
  value(t: Tuple, i: number): this {
    return t.len[i]! > 0 ? this.bytes(t.buf, t.start[i]!, t.start[i]! + t.len[i]!) : this;
  }

  /** fields first..last as field(t) each: length prefixes included, as COPY sends them */
  fields(t: Tuple, first: number, last: number): this {
    return this.bytes(t.buf, t.start[first]! - 4, t.start[last]! + Math.max(t.len[last]!, 0));
  }

  /** field(jsonb::text): binary jsonb is a version byte then that text */
  jsonb(t: Tuple, i: number): this {
    const length = t.len[i]!;
    if (length < 0) return this.bytes(NULL_FIELD);
    this.room(length + 3);
    this.buffer.writeInt32BE(length - 1, this.length);
    this.length += 4;
    return this.bytes(t.buf, t.start[i]! + 1, t.start[i]! + length);
  }

  digest(): Buffer {
    return sha256(this.buffer.subarray(0, this.length));
  }
}

const scratch = new Scratch();

const isNull = (t: Tuple, i: number) => t.len[i] === -1;
const equals = (hash: Buffer, t: Tuple, i: number) => t.len[i] === 32 && hash.compare(t.buf, t.start[i]!, t.start[i]! + 32) === 0;
/** an int8 or xid8 that fits a double exactly (ids and transaction ids do, for a very long time) */
const number = (t: Tuple, i: number) => t.buf.readUInt32BE(t.start[i]!) * 2 ** 32 + t.buf.readUInt32BE(t.start[i]! + 4);

/** a row as the checks need it: its hash, what is wrong with its personal part, which parts are redacted ('1': layout 1, whole) */
export interface CheckedRow { id: number; xact: number; hash: Buffer; problem: string | null; parts: string }

export function checkRow(t: Tuple): CheckedRow {
  const hash = scratch.start().value(t, ID).micros(t, OCCURRED_AT).value(t, XACT_ID)
    .fields(t, ACTION, FAILURE_REASON).jsonb(t, DETAILS).value(t, PERSONAL_DIGEST).digest();
  let problem: string | null = null;
  let parts: string;
  if (isNull(t, SUBJECT_DIGEST)) {
    // layout 1: one salt, one digest, redacted whole
    const redacted = isNull(t, PERSONAL_SALT);
    if (redacted) {
      if (!isNull(t, USER_ID) || !isNull(t, ACTOR_ID) || !isNull(t, ACTOR_ID + 1) || !isNull(t, USER_AGENT) || !isNull(t, PERSONAL_DETAILS)) problem = 'redacted_not_empty';
    } else if (!equals(scratch.start().value(t, PERSONAL_SALT).fields(t, USER_ID, USER_AGENT).jsonb(t, PERSONAL_DETAILS).digest(), t, PERSONAL_DIGEST)) {
      problem = 'digest_mismatch';
    }
    parts = redacted ? '1' : '';
  } else {
    const subjectRedacted = isNull(t, SUBJECT_SALT);
    const actorRedacted = isNull(t, ACTOR_SALT);
    if (isNull(t, ACTOR_DIGEST) || !equals(scratch.start().value(t, SUBJECT_DIGEST).value(t, ACTOR_DIGEST).digest(), t, PERSONAL_DIGEST)) problem = 'digest_mismatch';
    else if (subjectRedacted && (!isNull(t, USER_ID) || !isNull(t, PERSONAL_DETAILS))) problem = 'redacted_not_empty';
    else if (actorRedacted && (!isNull(t, ACTOR_ID) || !isNull(t, ACTOR_ID + 1) || !isNull(t, USER_AGENT))) problem = 'redacted_not_empty';
    else if (!subjectRedacted && !equals(scratch.start().value(t, SUBJECT_SALT).fields(t, USER_ID, USER_ID).jsonb(t, PERSONAL_DETAILS).digest(), t, SUBJECT_DIGEST)) {
      problem = 'digest_mismatch';
    } else if (!actorRedacted && !equals(scratch.start().value(t, ACTOR_SALT).fields(t, ACTOR_ID, USER_AGENT).digest(), t, ACTOR_DIGEST)) {
      problem = 'digest_mismatch';
    }
    parts = `${actorRedacted ? 'a' : ''}${subjectRedacted ? 's' : ''}`;
  }
  return { id: number(t, ID), xact: number(t, XACT_ID), hash, problem, parts };
}

export interface Seal {
  sealNo: number;
  layout: 1 | 2;
  previousHash: Buffer;
  sealHash: Buffer;
  firstRowId: number | null;
  lastRowId: number;
  lastXactId: number | null;
  rowCount: number;
}

/** a seal with what it sealed: its rows' ids in order and their hashes, 32 bytes each */
export interface SealContents extends Seal {
  rowIds: number[];
  rowHashes: Buffer;
}

/** int8(x) of AUDIT_HASHING.md, from a number or a decimal string */
export const int8 = (value: number | string) => {
  const bytes = Buffer.alloc(8);
  bytes.writeBigInt64BE(BigInt(value));
  return bytes;
};

export function sealHash(s: SealContents): Buffer {
  return sha256(s.layout === 1
    ? Buffer.concat([s.previousHash, int8(s.sealNo), int8(s.lastXactId!), int8(s.lastRowId), int8(s.rowCount), s.rowHashes])
    : Buffer.concat([Buffer.from([0, 0, 0, 2]), s.previousHash, int8(s.sealNo), int8(s.firstRowId!), int8(s.lastRowId), int8(s.rowCount), s.rowHashes]));
}
