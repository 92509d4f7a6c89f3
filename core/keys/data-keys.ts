/**
 * Patients' data keys: made here, stored only wrapped by a master key, unwrapped on use. An
 * unwrapped key stays in memory for at most DATA_KEY_CACHE_SECONDS (60 s) and 10,000 keys,
 * so a busy patient costs one unwrap a minute; erasure through this server drops it at once.
 */
import { randomBytes } from 'node:crypto';
import type { MasterKeys } from './master-keys.js';
import { integrityKeyOf } from './record-cipher.js';

export const DATA_KEY_CACHE_SECONDS = 60;
const MAX_CACHED_KEYS = 10_000;

export interface DataKey {
  key: Buffer;
  integrityKey: Buffer;
}

export interface WrappedDataKey {
  patient: string;
  keyVersion: number;
  kekVersion: number;
  wrapped: Buffer;
}

export class DataKeys {
  private readonly cache = new Map<string, { dataKey: DataKey; until: number }>();
  /** each patient's newest key, so a write need not ask for it first */
  private readonly newest = new Map<string, { keyVersion: number; dataKey: DataKey; until: number }>();

  constructor(readonly master: MasterKeys, private readonly ttlMs = DATA_KEY_CACHE_SECONDS * 1000) {}

  /** a new data key for the patient, and its wrapped form to store */
  create(patient: string, keyVersion = 1): { dataKey: DataKey; wrapped: WrappedDataKey } {
    const key = randomBytes(32);
    const kekVersion = this.master.currentVersion;
    const wrapped = this.master.wrap(key, { patient, keyVersion }, kekVersion);
    const dataKey = { key, integrityKey: integrityKeyOf(key) };
    this.remember(cacheKey({ patient, keyVersion, kekVersion, wrapped }), dataKey);
    this.rememberNewest(patient, keyVersion, dataKey);
    return { dataKey, wrapped: { patient, keyVersion, kekVersion, wrapped } };
  }

  /** throws MasterKeyError when the master key version is not loaded or did not wrap it */
  unwrap(stored: WrappedDataKey): DataKey {
    const id = cacheKey(stored);
    const hit = this.cache.get(id);
    if (hit && hit.until > Date.now()) return hit.dataKey;
    const key = this.master.unwrap(stored.wrapped, { patient: stored.patient, keyVersion: stored.keyVersion }, stored.kekVersion);
    const dataKey = { key, integrityKey: integrityKeyOf(key) };
    this.remember(id, dataKey);
    this.rememberNewest(stored.patient, stored.keyVersion, dataKey);
    return dataKey;
  }

  /** the patient's newest data key seen in the last minute, if any */
  newestOf(patient: string): { keyVersion: number; dataKey: DataKey } | undefined {
    const hit = this.newest.get(patient);
    return hit && hit.until > Date.now() ? hit : undefined;
  }

  private rememberNewest(patient: string, keyVersion: number, dataKey: DataKey) {
    const known = this.newestOf(patient);
    if (known && known.keyVersion > keyVersion) return;
    if (this.newest.size >= MAX_CACHED_KEYS) this.newest.delete(this.newest.keys().next().value!);
    this.newest.set(patient, { keyVersion, dataKey, until: Date.now() + this.ttlMs });
  }

  /** drops the patient's unwrapped keys (after their erasure) */
  forget(patient: string): void {
    for (const id of this.cache.keys()) if (id.startsWith(`${patient}\u0000`)) this.cache.delete(id);
    this.newest.delete(patient);
  }

  // an evicted key is not zeroed: a request may still hold it across an await
  private remember(id: string, dataKey: DataKey) {
    if (this.cache.size >= MAX_CACHED_KEYS) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(id, { dataKey, until: Date.now() + this.ttlMs });
  }
}

// the wrapped bytes are part of the name: a rewrapped or replaced key is a different entry
const cacheKey = (k: WrappedDataKey) => `${k.patient}\u0000${k.keyVersion}\u0000${k.kekVersion}\u0000${k.wrapped.toString('base64')}`;
