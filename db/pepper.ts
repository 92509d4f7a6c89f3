/**
 * The tombstone pepper lives outside the database (db/README.md, "Tombstone pepper"). A
 * session brings it in the setting compliance.tombstone_pepper: hex peppers separated by
 * commas, oldest first. It comes from TOMBSTONE_PEPPER (the keyring itself) or
 * TOMBSTONE_PEPPER_FILE (a file holding it); without either, from <data dir>/tombstone-pepper,
 * which the development default creates on first start.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

const KEYRING = /^[0-9a-f]{64,256}(,[0-9a-f]{64,256})*$/i;

/** where a process finds the keyring: given inline, or in a file (created when allowed) */
export type PepperSource = { keyring: string } | { file: string; create: boolean };

export const PEPPER_FILE_NAME = 'tombstone-pepper';

export function checkKeyring(keyring: string, where: string): string {
  const trimmed = keyring.trim();
  if (!KEYRING.test(trimmed)) {
    throw new Error(`${where} must hold hex tombstone peppers of 32 to 128 bytes, separated by commas (make one with: openssl rand -hex 32)`);
  }
  return trimmed;
}

export function pepperSource(env: { TOMBSTONE_PEPPER?: string; TOMBSTONE_PEPPER_FILE?: string }, dataDir: string, production: boolean): PepperSource {
  if (env.TOMBSTONE_PEPPER) return { keyring: checkKeyring(env.TOMBSTONE_PEPPER, 'TOMBSTONE_PEPPER') };
  if (env.TOMBSTONE_PEPPER_FILE) return { file: env.TOMBSTONE_PEPPER_FILE, create: !production };
  if (production) throw new Error('set TOMBSTONE_PEPPER or TOMBSTONE_PEPPER_FILE in production (make one with: openssl rand -hex 32)');
  return { file: path.join(dataDir, PEPPER_FILE_NAME), create: true };
}

/**
 * The keyring of a source. A file that does not exist yet is written (mode 0600) when the
 * source allows it: with `initial` (the pepper an older database still keeps inside itself,
 * exported once by setup), else with a new random pepper.
 */
export async function readKeyring(source: PepperSource, initial?: string): Promise<string> {
  if ('keyring' in source) return source.keyring;
  if (!existsSync(source.file)) {
    if (!source.create) throw new Error(`the tombstone pepper file ${source.file} does not exist`);
    await mkdir(path.dirname(path.resolve(source.file)), { recursive: true });
    await writeFile(source.file, `${initial ?? randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' }).catch((error: NodeJS.ErrnoException) => {
      // another process created it first: read theirs
      if (error.code !== 'EEXIST') throw error;
    });
  }
  return checkKeyring(await readFile(source.file, 'utf8'), source.file);
}

/** the startup parameters that hand a session its keyring (postgres.js `connection` option) */
export function pepperParameters(keyring: string): Record<string, string> {
  return { 'compliance.tombstone_pepper': keyring };
}
