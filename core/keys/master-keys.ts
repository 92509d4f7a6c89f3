/**
 * The PHI master keys (KEKs): versioned AES-256 keys that wrap each patient's data key. They come
 * from PHI_MASTER_KEY (the key ring itself) or PHI_MASTER_KEY_FILE (a file holding it); without
 * either, outside production, from <data dir>/phi-master-key, created on first start. A ring is
 * `version:key` entries separated by commas, each key 32 bytes in hex or base64; the highest
 * version wraps new data keys, the others stay loaded to unwrap what they wrapped until a
 * rotation (npm run phi-keys -- rotate) has moved everything to the newest.
 *
 * Everything else uses the MasterKeys interface only, so a KMS or Vault can stand in for it.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Sql } from 'postgres';
import type { Logger } from '../log.js';
import { encodeFields } from './fields.js';

export interface MasterKeys {
  /** the version new data keys are wrapped with */
  readonly currentVersion: number;
  /** every version this process can unwrap with */
  readonly versions: readonly number[];
  /** wraps a 32-byte data key under the current version (or the one given) */
  wrap(dataKey: Buffer, context: WrapContext, version?: number): Buffer;
  /** unwraps a data key; throws MasterKeyError when the version is not loaded or is not the key that wrapped it */
  unwrap(wrapped: Buffer, context: WrapContext, version: number): Buffer;
}

/** what a wrapped data key is bound to: moved to another patient or key version, it fails to unwrap */
export interface WrapContext {
  patient: string;
  keyVersion: number;
}

export class MasterKeyError extends Error {}

const NONCE_BYTES = 12;
const TAG_BYTES = 16;
export const PHI_KEY_FILE_NAME = 'phi-master-key';

function parseKey(text: string, where: string): Buffer {
  const key = /^[0-9a-f]{64}$/i.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
  if (key.length !== 32 || (!/^[0-9a-f]{64}$/i.test(text) && key.toString('base64') !== text)) {
    throw new MasterKeyError(`${where}: each master key must be 32 bytes in hex (64 digits) or base64 (make one with: openssl rand -base64 32)`);
  }
  return key;
}

/** `2:<key>,1:<key>` → version → key */
export function parseKeyRing(ring: string, where: string): Map<number, Buffer> {
  const keys = new Map<number, Buffer>();
  for (const entry of ring.trim().split(',')) {
    const match = /^\s*v?(\d{1,6}):(\S+)\s*$/.exec(entry);
    if (!match) throw new MasterKeyError(`${where} must hold version:key entries separated by commas, e.g. 1:$(openssl rand -base64 32)`);
    const version = Number(match[1]);
    if (version < 1) throw new MasterKeyError(`${where}: key versions start at 1`);
    if (keys.has(version)) throw new MasterKeyError(`${where}: key version ${version} appears twice`);
    keys.set(version, parseKey(match[2]!, where));
  }
  return keys;
}

function wrapAad(context: WrapContext, version: number): Buffer {
  return encodeFields('pgcomply-data-key-v1', context.patient, context.keyVersion, version);
}

export function keyRing(keys: Map<number, Buffer>): MasterKeys {
  if (keys.size === 0) throw new MasterKeyError('no PHI master key is loaded');
  const versions = [...keys.keys()].sort((a, b) => a - b);
  const currentVersion = versions.at(-1)!;
  return {
    currentVersion,
    versions,
    wrap(dataKey, context, version = currentVersion) {
      const kek = keys.get(version);
      if (!kek) throw new MasterKeyError(`PHI master key version ${version} is not loaded`);
      const nonce = randomBytes(NONCE_BYTES);
      const cipher = createCipheriv('aes-256-gcm', kek, nonce);
      cipher.setAAD(wrapAad(context, version));
      return Buffer.concat([nonce, cipher.update(dataKey), cipher.final(), cipher.getAuthTag()]);
    },
    unwrap(wrapped, context, version) {
      const kek = keys.get(version);
      if (!kek) {
        throw new MasterKeyError(`PHI master key version ${version} is not loaded here (loaded: ${versions.join(', ')}): `
          + 'add it to PHI_MASTER_KEY, or run the rotation while it still is');
      }
      try {
        const decipher = createDecipheriv('aes-256-gcm', kek, wrapped.subarray(0, NONCE_BYTES));
        decipher.setAAD(wrapAad(context, version));
        decipher.setAuthTag(wrapped.subarray(wrapped.length - TAG_BYTES));
        return Buffer.concat([decipher.update(wrapped.subarray(NONCE_BYTES, wrapped.length - TAG_BYTES)), decipher.final()]);
      } catch {
        throw new MasterKeyError(`PHI master key version ${version} loaded here does not unwrap this data key: `
          + 'it is not the key that wrapped it, or the wrapped key was altered');
      }
    },
  };
}

export type MasterKeySource = { ring: string } | { file: string; create: boolean };

export function masterKeySource(env: { PHI_MASTER_KEY?: string; PHI_MASTER_KEY_FILE?: string }, dataDir: string, production: boolean): MasterKeySource {
  if (env.PHI_MASTER_KEY) return { ring: env.PHI_MASTER_KEY };
  if (env.PHI_MASTER_KEY_FILE) return { file: env.PHI_MASTER_KEY_FILE, create: false };
  if (production) throw new MasterKeyError('set PHI_MASTER_KEY or PHI_MASTER_KEY_FILE in production (make one with: echo "1:$(openssl rand -base64 32)")');
  return { file: path.join(dataDir, PHI_KEY_FILE_NAME), create: true };
}

/** the ring of a source; a development file that does not exist yet is written (mode 0600), and `onCreate` told */
export async function loadMasterKeys(source: MasterKeySource, onCreate: (file: string) => void = () => undefined): Promise<MasterKeys> {
  if ('ring' in source) return keyRing(parseKeyRing(source.ring, 'PHI_MASTER_KEY'));
  if (!existsSync(source.file)) {
    if (!source.create) throw new MasterKeyError(`the PHI master key file ${source.file} does not exist`);
    await mkdir(path.dirname(path.resolve(source.file)), { recursive: true });
    await writeFile(source.file, `1:${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' }).then(
      () => onCreate(source.file),
      (error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
      },
    );
  }
  return keyRing(parseKeyRing(await readFile(source.file, 'utf8'), source.file));
}

/**
 * At start: every master key version that wraps a stored data key must be loaded, or those
 * patients' records cannot be read; one line says which (a wrong key of a loaded version shows
 * on the first read, as a 503 that says so).
 */
export async function reportMissingMasterKeys(sql: Sql, keys: MasterKeys, log: Logger): Promise<number[]> {
  const rows = await sql.begin(async (tx) => {
    await tx`select set_config('role', 'compliance_app', true)`;
    return tx<{ kek_version: number; data_keys: string }[]>`select * from compliance.phi_key_versions()`;
  });
  const missing = rows.filter((r) => !keys.versions.includes(r.kek_version));
  if (missing.length > 0) {
    log.error({ missing: missing.map((r) => r.kek_version), loaded: keys.versions },
      `PHI master key version(s) ${missing.map((r) => `${r.kek_version} (wraps ${r.data_keys} patients' keys)`).join(', ')} not loaded: `
      + 'those health records cannot be read until PHI_MASTER_KEY holds them');
  }
  return missing.map((r) => r.kek_version);
}
