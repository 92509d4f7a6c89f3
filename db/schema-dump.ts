/**
 * db/schema.sql: the schema the migrations produce, as `pg_dump --schema-only` prints it,
 * normalised (no version header, no per-run \restrict key), so that a review shows every schema
 * change as a diff. Regenerated after each migration run of `npm run db` (graphile-migrate's
 * afterAllMigrations hook); test/db/schema.test.ts fails when it is stale.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const SCHEMA_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'schema.sql');

/** drops what differs between runs and versions of the same schema */
export function normaliseDump(dump: string): string {
  return dump
    .split('\n')
    .filter((line) => !/^\\(un)?restrict /.test(line) && !/^-- Dumped (from|by) /.test(line))
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim() + '\n';
}

/**
 * The audit log's monthly partitions are left out: migration 000002 and the worker create them
 * around the month a database is made, so their names would make the file depend on the date.
 * Their shape is the parent's (compliance.audit_logs), which the dump keeps.
 */
export const DATED_PARTITIONS = 'compliance.audit_logs_y*';

export function dumpSchema(url: string, pgDump = 'pg_dump'): string {
  return normaliseDump(execFileSync(pgDump, ['--schema-only', '--no-tablespaces', `--exclude-table=${DATED_PARTITIONS}`, '-d', url],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }));
}

// as graphile-migrate's afterAllMigrations command: the development database, not its shadow
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const url = process.env.PGCOMPLY_SCHEMA_DUMP_URL;
  if (process.env.GM_SHADOW) process.exit(0);
  if (!url) {
    console.error('schema-dump: PGCOMPLY_SCHEMA_DUMP_URL is not set (run it through npm run db)');
    process.exit(1);
  }
  writeFileSync(SCHEMA_FILE, dumpSchema(url));
  console.log(`schema-dump: wrote ${path.relative(process.cwd(), SCHEMA_FILE)}`);
}
