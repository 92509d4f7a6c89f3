/**
 * The PostgreSQL client tools a test needs (pg_dump at least the server's major version): the
 * test cluster's own when this machine has them, else the machine's server on 127.0.0.1:5432
 * with the pg_dump that matches it, said in the output. Without either, a clear failure.
 */
import path from 'node:path';
import postgres from 'postgres';
import { inject } from 'vitest';
import { postgresPrograms } from '../../db/postgres-binaries.js';
import { quiet } from './database.js';

async function serverMajor(url: string): Promise<number | undefined> {
  const sql = postgres(url, { ...quiet, max: 1, connect_timeout: 3 });
  try {
    const [row] = await sql`select current_setting('server_version_num')::int / 10000 as major`;
    return row!.major as number;
  } catch {
    return undefined;
  } finally {
    await sql.end();
  }
}

export interface RoundTrip { maintenanceUrl: string; pgDump: string; pgRestore: string; note: string }

export async function chooseServer(what: string): Promise<RoundTrip> {
  const dumps = postgresPrograms('pg_dump');
  const own = inject('maintenanceUrl');
  const ownMajor = (await serverMajor(own))!;
  const tool = (dump: string) => ({ pgDump: dump, pgRestore: path.join(path.dirname(dump), 'pg_restore') });
  const ownDump = dumps.get(ownMajor);
  if (ownDump) return { maintenanceUrl: own, ...tool(ownDump), note: `pg_dump ${ownMajor} on the test cluster` };
  const other = 'postgres://postgres@127.0.0.1:5432/postgres';
  const otherMajor = await serverMajor(other);
  if (otherMajor !== undefined && dumps.get(otherMajor)) {
    const note = `this machine has no pg_dump ${ownMajor} for the test cluster (it has ${[...dumps.keys()].join(', ')}); `
      + `the round trip ran against the PostgreSQL ${otherMajor} server on 127.0.0.1:5432`;
    console.warn(`${what}: ${note}`);
    return { maintenanceUrl: other, ...tool(dumps.get(otherMajor)!), note };
  }
  throw new Error(`no pg_dump for PostgreSQL ${ownMajor} on this machine (found: ${[...dumps.keys()].join(', ') || 'none'}); `
    + `install the PostgreSQL ${ownMajor} client tools (e.g. apt install postgresql-client-${ownMajor})`);
}

