/**
 * A health record's encryption and integrity code (db/README.md, "Health records").
 * Ciphertext: AES-256-GCM under the patient's data key, a random 12-byte nonce, associated data
 * binding record id, patient, category and key version; stored as nonce || ciphertext || tag.
 * Integrity: HMAC-SHA256 over id, patient, category, classification, key version, the record's
 * version (scheme 2), recorded_at and the ciphertext, under a key derived from the data key with
 * HKDF. Scheme 1, written before migration 000043, binds no version; it is still read.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { encodeFields } from './fields.js';

/** what a ciphertext belongs to: the same in the associated data and the integrity code */
export interface RecordBinding {
  id: string;
  patient: string;
  category: string;
  keyVersion: number;
}

export interface IntegrityFields extends RecordBinding {
  classification: string;
  recordedAt: Date;
  ciphertext: Buffer;
  /** 1 when created, one more at each update */
  version: number;
  /** 2 binds the version; 1 is a record written before it did */
  scheme?: 1 | 2;
}

const NONCE_BYTES = 12;
const TAG_BYTES = 16;

const associatedData = (b: RecordBinding) => encodeFields('pgcomply-phi-record-v1', b.id, b.patient, b.category, b.keyVersion);

export function encryptRecord(dataKey: Buffer, binding: RecordBinding, plaintext: Buffer): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', dataKey, nonce);
  cipher.setAAD(associatedData(binding));
  return Buffer.concat([nonce, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

/** the plaintext, or undefined when the ciphertext does not belong to this binding or was altered */
export function decryptRecord(dataKey: Buffer, binding: RecordBinding, sealed: Buffer): Buffer | undefined {
  if (sealed.length < NONCE_BYTES + TAG_BYTES) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', dataKey, sealed.subarray(0, NONCE_BYTES));
    decipher.setAAD(associatedData(binding));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    return Buffer.concat([decipher.update(sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES)), decipher.final()]);
  } catch {
    return undefined;
  }
}

export function integrityKeyOf(dataKey: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', dataKey, Buffer.alloc(0), 'pgcomply phi record integrity v1', 32));
}

export function integrityCode(integrityKey: Buffer, f: IntegrityFields): Buffer {
  const fields = f.scheme === 1
    ? encodeFields('pgcomply-phi-integrity-v1', f.id, f.patient, f.category, f.classification, f.keyVersion, f.recordedAt.getTime(), f.ciphertext)
    : encodeFields('pgcomply-phi-integrity-v2', f.id, f.patient, f.category, f.classification, f.keyVersion, f.version, f.recordedAt.getTime(), f.ciphertext);
  return createHmac('sha256', integrityKey).update(fields).digest();
}

export function integrityHolds(integrityKey: Buffer, f: IntegrityFields, code: Buffer): boolean {
  const expected = integrityCode(integrityKey, f);
  return code.length === expected.length && timingSafeEqual(code, expected);
}
