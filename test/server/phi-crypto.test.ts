/** The record cipher and the master key ring, on their own: what each binding refuses. */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { keyRing, MasterKeyError, parseKeyRing } from '../../core/keys/master-keys.js';
import { decryptRecord, encryptRecord, integrityCode, integrityHolds, integrityKeyOf } from '../../core/keys/record-cipher.js';

const binding = { id: '7b0f6f5e-4f1e-4b8e-9a59-3f0f3c1c2d11', patient: 'user:a', category: 'note', keyVersion: 1 };

describe('record encryption', () => {
  it('decrypts only under the binding it was made for', () => {
    const key = randomBytes(32);
    const sealed = encryptRecord(key, binding, Buffer.from('{"x":1}'));
    expect(decryptRecord(key, binding, sealed)?.toString()).toBe('{"x":1}');
    for (const moved of [{ id: '00000000-0000-4000-8000-000000000000' }, { patient: 'user:b' }, { category: 'diagnosis' }, { keyVersion: 2 }]) {
      expect(decryptRecord(key, { ...binding, ...moved }, sealed)).toBeUndefined();
    }
    expect(decryptRecord(randomBytes(32), binding, sealed)).toBeUndefined();
    // a fresh nonce each time: the same content never gives the same ciphertext
    expect(encryptRecord(key, binding, Buffer.from('{"x":1}')).equals(sealed)).toBe(false);
  });

  it('checks an integrity code over every bound field, the version and the recorded time', () => {
    const key = integrityKeyOf(randomBytes(32));
    const fields = { ...binding, classification: 'restricted', recordedAt: new Date('2026-12-02T10:00:00.123Z'), version: 3, ciphertext: randomBytes(40) };
    const code = integrityCode(key, fields);
    expect(integrityHolds(key, fields, code)).toBe(true);
    for (const changed of [{ classification: 'confidential' }, { recordedAt: new Date('2026-12-02T10:00:00.124Z') }, { patient: 'user:b' }, { version: 2 }, { scheme: 1 as const }]) {
      expect(integrityHolds(key, { ...fields, ...changed }, code)).toBe(false);
    }
  });

  it('still checks a code written before records bound their version (scheme 1), which no version changes', () => {
    const key = integrityKeyOf(randomBytes(32));
    const fields = { ...binding, classification: 'restricted', recordedAt: new Date('2026-12-02T10:00:00.123Z'), version: 1, scheme: 1 as const, ciphertext: randomBytes(40) };
    const code = integrityCode(key, fields);
    expect(integrityHolds(key, { ...fields, version: 7 }, code)).toBe(true);
    expect(integrityHolds(key, { ...fields, scheme: 2 }, code)).toBe(false);
  });
});

describe('master keys', () => {
  it('wrap a data key for one patient and key version, under the newest master key', () => {
    const ring = keyRing(parseKeyRing(`1:${randomBytes(32).toString('base64')},2:${randomBytes(32).toString('hex')}`, 'test'));
    expect(ring.currentVersion).toBe(2);
    const dataKey = randomBytes(32);
    const wrapped = ring.wrap(dataKey, { patient: 'user:a', keyVersion: 1 });
    expect(wrapped).toHaveLength(60);
    expect(ring.unwrap(wrapped, { patient: 'user:a', keyVersion: 1 }, 2).equals(dataKey)).toBe(true);
    expect(() => ring.unwrap(wrapped, { patient: 'user:b', keyVersion: 1 }, 2)).toThrow(MasterKeyError);
    expect(() => ring.unwrap(wrapped, { patient: 'user:a', keyVersion: 1 }, 1)).toThrow(/does not unwrap/);
    expect(() => ring.unwrap(wrapped, { patient: 'user:a', keyVersion: 1 }, 3)).toThrow(/version 3 is not loaded/);
  });

  it('refuse a malformed key ring in one sentence', () => {
    expect(() => parseKeyRing('not-a-key', 'PHI_MASTER_KEY')).toThrow(/version:key entries/);
    expect(() => parseKeyRing(`1:${randomBytes(16).toString('base64')}`, 'PHI_MASTER_KEY')).toThrow(/32 bytes/);
    expect(() => parseKeyRing(`1:${randomBytes(32).toString('hex')},1:${randomBytes(32).toString('hex')}`, 'PHI_MASTER_KEY')).toThrow(/twice/);
  });
});

describe('where the master keys come from', () => {
  it('are required in production, generated under the data directory in development, and checked when given', async () => {
    const { loadConfig, phiMasterKeySource } = await import('../../core/config.js');
    const production = loadConfig({ NODE_ENV: 'production', AUTH_JWT_SECRET: 'x'.repeat(32) });
    expect(() => phiMasterKeySource(production)).toThrow(/PHI_MASTER_KEY or PHI_MASTER_KEY_FILE in production/);
    expect(phiMasterKeySource(loadConfig({ PGCOMPLY_DATA_DIR: '/srv/data' }))).toEqual({ file: '/srv/data/phi-master-key', create: true });
    expect(() => loadConfig({ PHI_MASTER_KEY: '1:short' })).toThrow(/PHI_MASTER_KEY: each master key must be 32 bytes/);
    const compose = (await import('node:fs')).readFileSync('docker-compose.yml', 'utf8');
    expect(compose).toMatch(/PHI_MASTER_KEY: \$\{PHI_MASTER_KEY:\?/);
  });
});
