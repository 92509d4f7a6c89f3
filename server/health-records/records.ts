/**
 * Health record requests inside a request's transaction: the database decides who may and
 * audits it (compliance.phi_access, read_health_records, …); this side encrypts, decrypts and
 * checks integrity, because the keys never reach PostgreSQL.
 */
import { randomUUID } from 'node:crypto';
import type { ReservedSql, TransactionSql } from 'postgres';
import { Refusal } from '../../core/refusal.js';
import type { DataKey, DataKeys } from '../../core/keys/data-keys.js';
import { MasterKeyError } from '../../core/keys/master-keys.js';
import { decryptRecord, encryptRecord, integrityCode, integrityHolds, type RecordBinding } from '../../core/keys/record-cipher.js';

type Tx = ReservedSql | TransactionSql;

export const PURPOSES = ['treatment', 'payment', 'operations', 'emergency', 'patient_request'] as const;
export type Purpose = (typeof PURPOSES)[number];
export const MAX_RECORD_BYTES = 1024 * 1024;

export interface HealthRecord {
  id: string;
  category: string;
  classification: 'confidential' | 'restricted';
  recorded_by: string | null;
  recorded_at: Date;
  updated_at: Date;
  /** 1 when created, one more at each update */
  version: number;
  /** verified: data is the record; failed: data is null and problem says why */
  integrity: 'verified' | 'failed';
  /**
   * how the read knows this is the newest version: audit_chain (the chain's newest write of the
   * record holds this version and integrity code); none, with the reason in version_note
   */
  version_proof: 'audit_chain' | 'none';
  version_note: string | null;
  problem: string | null;
  data: Record<string, unknown> | null;
}

interface Access {
  allowed: boolean;
  reason: string | null;
  key_version: number | null;
  wrapped_key: Buffer | null;
  kek_version: number | null;
  category: string | null;
  recorded_at: Date;
  version: number | null;
}

export interface StoredRecord {
  id: string;
  category: string;
  classification: HealthRecord['classification'];
  recorded_by: string | null;
  recorded_at: Date;
  updated_at: Date;
  key_version: number;
  ciphertext: Buffer;
  integrity: Buffer;
  wrapped_key: Buffer;
  kek_version: number;
  version: number;
  integrity_scheme: 1 | 2;
  version_check: 'newest' | 'not_the_recorded_version' | 'written_before_version_binding' | 'no_write_in_audit_log';
}

/**
 * asks the database; a refusal is already in the audit log (once per transaction, however often
 * asked), and the transaction commits to keep it
 */
async function requireAccess(tx: Tx, patient: string, purpose: Purpose, intent: 'read' | 'create' | 'update' | 'delete', recordId: string | null = null): Promise<Access> {
  const [access] = await tx<Access[]>`select * from compliance.phi_access(${patient}, ${purpose}, ${intent}, ${recordId}::uuid)`;
  if (!access!.allowed) throw refused(access!.reason);
  return access!;
}

/** a data function refused: ask why (the database wrote the row already; asking again adds none) */
async function explainRefusal(tx: Tx, patient: string, purpose: Purpose, intent: 'read' | 'create' | 'update' | 'delete', recordId: string | null = null): Promise<never> {
  await requireAccess(tx, patient, purpose, intent, recordId);
  throw new Refusal('conflict', 'the access to these records changed while the request ran; try again');
}

function refused(reason: string | null): Refusal {
  return new Refusal('forbidden', `access to these health records is refused (${reason ?? 'not permitted'}); the attempt is recorded`, 'PHIDN', true);
}

function keyUnavailable(error: unknown): never {
  if (error instanceof MasterKeyError) {
    throw new Refusal('unavailable', `the health records cannot be decrypted here: ${error.message}`, 'PHIKY');
  }
  throw error;
}

function serialize(data: Record<string, unknown>): Buffer {
  const plaintext = Buffer.from(JSON.stringify(data), 'utf8');
  if (plaintext.length > MAX_RECORD_BYTES) {
    throw new Refusal('too_large', `a health record holds at most 1 MiB (${MAX_RECORD_BYTES} bytes of JSON); this one has ${plaintext.length}`);
  }
  return plaintext;
}

/** the patient's data key: the stored one unwrapped, or a new one to store with the first record */
function dataKeyFor(keys: DataKeys, patient: string, access: Access): { dataKey: DataKey; keyVersion: number; newKey?: { wrapped: Buffer; kekVersion: number } } {
  if (access.wrapped_key === null) {
    const made = keys.create(patient);
    return { dataKey: made.dataKey, keyVersion: 1, newKey: { wrapped: made.wrapped.wrapped, kekVersion: made.wrapped.kekVersion } };
  }
  try {
    return { dataKey: keys.unwrap({ patient, keyVersion: access.key_version!, kekVersion: access.kek_version!, wrapped: access.wrapped_key }), keyVersion: access.key_version! };
  } catch (error) {
    return keyUnavailable(error);
  }
}

/** the record's ciphertext and integrity code, under the patient's data key */
function seal(dataKey: DataKey, binding: RecordBinding, classification: string, recordedAt: Date, version: number, plaintext: Buffer) {
  const ciphertext = encryptRecord(dataKey.key, binding, plaintext);
  return { ciphertext, code: integrityCode(dataKey.integrityKey, { ...binding, classification, recordedAt, version, ciphertext }) };
}

export interface NewRecord {
  /** who records it: the request's actor */
  actor: string;
  patient: string;
  purpose: Purpose;
  category: string;
  classification: HealthRecord['classification'];
  data: Record<string, unknown>;
}

export async function createRecord(tx: Tx, keys: DataKeys, input: NewRecord): Promise<HealthRecord> {
  const plaintext = serialize(input.data);
  // with the patient's key at hand the write goes out at once; the database still decides
  const held = keys.newestOf(input.patient);
  const { dataKey, keyVersion, newKey }: ReturnType<typeof dataKeyFor> = held ?? dataKeyFor(keys, input.patient, await requireAccess(tx, input.patient, input.purpose, 'create'));
  const recordedAt = new Date();
  const binding: RecordBinding = { id: randomUUID(), patient: input.patient, category: input.category, keyVersion };
  const { ciphertext, code } = seal(dataKey, binding, input.classification, recordedAt, 1, plaintext);
  const [row] = await tx<{ updated_at: Date | null }[]>`
    select compliance.create_health_record(${binding.id}::uuid, ${input.patient}, ${input.category}, ${input.classification},
      ${input.purpose}, ${keyVersion}, ${recordedAt}, ${ciphertext}, ${code}, ${newKey?.wrapped ?? null}, ${newKey?.kekVersion ?? null}) as updated_at`;
  if (!row!.updated_at) await explainRefusal(tx, input.patient, input.purpose, 'create');
  return { id: binding.id, category: input.category, classification: input.classification, recorded_by: input.actor,
    recorded_at: recordedAt, updated_at: row!.updated_at!, version: 1, integrity: 'verified', problem: null,
    version_proof: 'audit_chain', version_note: null, data: input.data };
}

export interface RecordChange {
  id: string;
  patient: string;
  purpose: Purpose;
  classification: HealthRecord['classification'];
  data: Record<string, unknown>;
}

export async function updateRecord(tx: Tx, keys: DataKeys, input: RecordChange): Promise<HealthRecord> {
  const plaintext = serialize(input.data);
  const access = await requireAccess(tx, input.patient, input.purpose, 'update', input.id);
  const { dataKey, keyVersion } = dataKeyFor(keys, input.patient, access);
  const binding: RecordBinding = { id: input.id, patient: input.patient, category: access.category!, keyVersion };
  const version = access.version! + 1;
  const { ciphertext, code } = seal(dataKey, binding, input.classification, access.recorded_at, version, plaintext);
  const [row] = await tx<{ updated_at: Date | null }[]>`
    select compliance.update_health_record(${input.id}::uuid, ${input.purpose}, ${input.classification}, ${keyVersion}, ${version}, ${ciphertext}, ${code}) as updated_at`;
  if (!row!.updated_at) await explainRefusal(tx, input.patient, input.purpose, 'update', input.id);
  const [record] = await readRecords(tx, keys, input.patient, input.purpose, [input.id], false);
  return record!;
}

export async function deleteRecord(tx: Tx, patient: string, purpose: Purpose, id: string): Promise<void> {
  await requireAccess(tx, patient, purpose, 'delete', id);
  const [row] = await tx<{ deleted: boolean }[]>`select compliance.delete_health_record(${id}::uuid, ${purpose}) as deleted`;
  if (!row!.deleted) await explainRefusal(tx, patient, purpose, 'delete', id);
}

/**
 * The patient's records (all, or the ids given), each checked: a record whose integrity code
 * or decryption fails is reported to the database (phi.integrity_failure) and returned without
 * data. `ask`: whether to ask phi_access first (a refusal then commits and fails the request).
 */
export async function readRecords(tx: Tx, keys: DataKeys, patient: string, purpose: Purpose, ids: string[] | null = null, ask = true): Promise<HealthRecord[]> {
  const rows = await tx<StoredRecord[]>`select * from compliance.read_health_records(${patient}, ${purpose}, ${ids}::uuid[])`;
  // nothing came back: refused (the database wrote the phi.denied row; asking again adds none) or nothing there
  if (ask && rows.length === 0) await requireAccess(tx, patient, purpose, 'read', ids?.length === 1 ? ids[0]! : null);
  return openRecords(keys, patient, rows, (id, check) => tx`select compliance.report_phi_integrity_failure(${id}::uuid, ${purpose}, ${check})`);
}

/**
 * Stored rows checked and decrypted: a record whose integrity code, version or decryption fails
 * is returned without data, and `report` tells the database (phi.integrity_failure).
 */
export async function openRecords(keys: DataKeys, patient: string, rows: StoredRecord[], report: (id: string, check: string) => Promise<unknown>): Promise<HealthRecord[]> {
  const records: HealthRecord[] = [];
  for (const row of rows) {
    const failed = (problem: string, check: string) => {
      records.push({ ...metadata(row), integrity: 'failed', problem, version_proof: 'none', version_note: null, data: null });
      return check;
    };
    let dataKey: DataKey;
    try {
      dataKey = keys.unwrap({ patient, keyVersion: row.key_version, kekVersion: row.kek_version, wrapped: row.wrapped_key });
    } catch (error) {
      keyUnavailable(error);
    }
    const binding: RecordBinding = { id: row.id, patient, category: row.category, keyVersion: row.key_version };
    let check: string | undefined;
    const fields = { ...binding, classification: row.classification, recordedAt: row.recorded_at, version: row.version, scheme: row.integrity_scheme, ciphertext: row.ciphertext };
    if (!integrityHolds(dataKey.integrityKey, fields, row.integrity)) {
      check = failed('the record failed its integrity check: it was altered or moved; its content is withheld', 'integrity_code');
    } else if (row.version_check === 'not_the_recorded_version') {
      check = failed('this is not the version of the record the audit log last recorded: it was rolled back or replaced; its content is withheld', 'version');
    } else {
      const plaintext = decryptRecord(dataKey.key, binding, row.ciphertext);
      if (!plaintext) check = failed('the record could not be decrypted: it was altered or moved; its content is withheld', 'decryption');
      else records.push({ ...metadata(row), integrity: 'verified', problem: null, ...versionProof(row), data: JSON.parse(plaintext.toString('utf8')) as Record<string, unknown> });
    }
    if (check) await report(row.id, check);
  }
  return records;
}

const metadata = (row: StoredRecord) => ({ id: row.id, category: row.category, classification: row.classification,
  recorded_by: row.recorded_by, recorded_at: row.recorded_at, updated_at: row.updated_at, version: row.version });

const VERSION_NOTES = {
  written_before_version_binding: 'written before records bound their version; it is proven newest once next updated',
  no_write_in_audit_log: 'the audit log no longer holds its writes (they aged out under the retention policy)',
} as const;

function versionProof(row: StoredRecord): Pick<HealthRecord, 'version_proof' | 'version_note'> {
  if (row.version_check === 'newest') return { version_proof: 'audit_chain', version_note: null };
  return { version_proof: 'none', version_note: VERSION_NOTES[row.version_check as keyof typeof VERSION_NOTES] };
}
