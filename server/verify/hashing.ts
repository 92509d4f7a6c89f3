/**
 * db/AUDIT_HASHING.md in TypeScript: the bytes each hash covers, computed from the raw column
 * values (text as COPY gives them), never from PostgreSQL's own hash functions.
 */
import { createHash } from 'node:crypto';

const NULL_FIELD = Buffer.from([0xff, 0xff, 0xff, 0xff]);

/** field(t): int4 byte length then UTF-8, or ff ff ff ff for NULL */
export function field(value: string | null): Buffer {
  if (value === null) return NULL_FIELD;
  const bytes = Buffer.from(value, 'utf8');
  const length = Buffer.alloc(4);
  length.writeInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

export function int8(value: bigint): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeBigInt64BE(value);
  return bytes;
}

export const sha256 = (...parts: Buffer[]): Buffer => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
};

/** micros(ts) from the UTC time as the verifier reads it: 2026-12-03 08:01:02.123456 */
export function micros(timestamp: string): bigint {
  const match = /^(\d{4,})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?$/.exec(timestamp);
  if (!match) throw new Error(`not a UTC timestamp: ${timestamp}`);
  const [, y, mo, d, h, mi, s, fraction] = match;
  const seconds = BigInt(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s))) / 1000n;
  return seconds * 1_000_000n + BigInt((fraction ?? '').padEnd(6, '0'));
}

export interface AuditRow {
  id: bigint;
  occurredAt: string;
  xactId: bigint;
  action: string | null;
  category: string | null;
  resourceType: string | null;
  resourceId: string | null;
  outcome: string | null;
  failureReason: string | null;
  details: string | null;
  userId: string | null;
  actorId: string | null;
  ipHost: string | null;
  userAgent: string | null;
  personalDetails: string | null;
  personalSalt: Buffer | null;
  personalDigest: Buffer;
  subjectSalt: Buffer | null;
  subjectDigest: Buffer | null;
  actorSalt: Buffer | null;
  actorDigest: Buffer | null;
}

export function rowHash(r: AuditRow): Buffer {
  return scratch.start().int8(r.id).int8(microsCached(r.occurredAt)).int8(r.xactId).field(r.action).field(r.category).field(r.resourceType)
    .field(r.resourceId).field(r.outcome).field(r.failureReason).field(r.details).bytes(r.personalDigest).digest();
}

/** the bytes of one hash, written into one reused buffer: the verifier hashes millions of rows */
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

  bytes(value: Buffer): this {
    this.room(value.length);
    value.copy(this.buffer, this.length);
    this.length += value.length;
    return this;
  }

  int8(value: bigint): this {
    this.room(8);
    this.buffer.writeBigInt64BE(value, this.length);
    this.length += 8;
    return this;
  }

  field(value: string | null): this {
    if (value === null) return this.bytes(NULL_FIELD);
    const size = Buffer.byteLength(value, 'utf8');
    this.room(4 + size);
    this.buffer.writeInt32BE(size, this.length);
    this.buffer.write(value, this.length + 4, 'utf8');
    this.length += 4 + size;
    return this;
  }

  digest(): Buffer {
    return createHash('sha256').update(this.buffer.subarray(0, this.length)).digest();
  }
}

const scratch = new Scratch();

let lastSecond = '';
let lastSecondMicros = 0n;
/** micros() with the seconds part remembered: consecutive rows mostly share it */
function microsCached(timestamp: string): bigint {
  const second = timestamp.slice(0, 19);
  if (second !== lastSecond) {
    lastSecond = second;
    lastSecondMicros = micros(second);
  }
  const dot = timestamp.indexOf('.', 19);
  return dot === -1 ? lastSecondMicros : lastSecondMicros + BigInt(timestamp.slice(dot + 1).padEnd(6, '0'));
}

const nonNull = (...values: unknown[]) => values.some((v) => v !== null);

/** what is wrong with a row's personal part (the SQL view audit_log_checks), and which parts are redacted */
export function personalCheck(r: AuditRow): { problem: 'digest_mismatch' | 'redacted_not_empty' | null; subjectRedacted: boolean; actorRedacted: boolean } {
  if (r.subjectDigest === null) {
    // layout 1: one salt, one digest, redacted whole
    const redacted = r.personalSalt === null;
    let problem: 'digest_mismatch' | 'redacted_not_empty' | null = null;
    if (redacted) {
      if (nonNull(r.userId, r.actorId, r.ipHost, r.userAgent, r.personalDetails)) problem = 'redacted_not_empty';
    } else if (!scratch.start().bytes(r.personalSalt!).field(r.userId).field(r.actorId).field(r.ipHost).field(r.userAgent).field(r.personalDetails).digest().equals(r.personalDigest)) {
      problem = 'digest_mismatch';
    }
    return { problem, subjectRedacted: redacted, actorRedacted: redacted };
  }
  const subjectRedacted = r.subjectSalt === null;
  const actorRedacted = r.actorSalt === null;
  let problem: 'digest_mismatch' | 'redacted_not_empty' | null = null;
  if (r.actorDigest === null || !sha256(r.subjectDigest, r.actorDigest).equals(r.personalDigest)) problem = 'digest_mismatch';
  else if (subjectRedacted && nonNull(r.userId, r.personalDetails)) problem = 'redacted_not_empty';
  else if (actorRedacted && nonNull(r.actorId, r.ipHost, r.userAgent)) problem = 'redacted_not_empty';
  else if (!subjectRedacted && !scratch.start().bytes(r.subjectSalt!).field(r.userId).field(r.personalDetails).digest().equals(r.subjectDigest)) problem = 'digest_mismatch';
  else if (!actorRedacted && !scratch.start().bytes(r.actorSalt!).field(r.actorId).field(r.ipHost).field(r.userAgent).digest().equals(r.actorDigest)) problem = 'digest_mismatch';
  return { problem, subjectRedacted, actorRedacted };
}

export interface Seal {
  sealNo: bigint;
  layout: 1 | 2;
  previousHash: Buffer;
  sealHash: Buffer;
  firstRowId: bigint | null;
  lastRowId: bigint;
  lastXactId: bigint | null;
  rowCount: number;
  rowIds: bigint[];
  rowHashes: Buffer;
}

export function sealHash(s: Seal): Buffer {
  return s.layout === 1
    ? sha256(s.previousHash, int8(s.sealNo), int8(s.lastXactId!), int8(s.lastRowId), int8(BigInt(s.rowCount)), s.rowHashes)
    : sha256(Buffer.from([0, 0, 0, 2]), s.previousHash, int8(s.sealNo), int8(s.firstRowId!), int8(s.lastRowId), int8(BigInt(s.rowCount)), s.rowHashes);
}
