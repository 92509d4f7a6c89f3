/**
 * The current schema readable in one place: every function, view and policy has one
 * fixture file, applying every fixture again changes nothing, and db/schema.sql is what the
 * migrations produce.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseDatabaseUrl, withDatabase } from '../../db/connection.js';
import { FIXTURES_FOLDER } from '../../db/includes.js';
import { dumpSchema, SCHEMA_FILE } from '../../db/schema-dump.js';
import { setupDatabase } from '../../db/setup.js';
import { quiet } from '../provision/database.js';
import { chooseServer, type RoundTrip } from '../provision/pg-tools.js';

const fixtures = readdirSync(FIXTURES_FOLDER, { recursive: true, encoding: 'utf8' })
  .filter((file) => file.endsWith('.sql'))
  .map((file) => ({ file, name: path.basename(file, '.sql') }));

let server: RoundTrip;
let url = '';
let sql: Sql;
const name = `${inject('runPrefix')}_schema`;

beforeAll(async () => {
  server = await chooseServer('schema test');
  url = withDatabase(parseDatabaseUrl(server.maintenanceUrl), name);
  await setupDatabase({ adminUrl: url, loginPassword: inject('loginPassword'), tombstonePepper: { keyring: inject('tombstonePepper') } });
  sql = postgres(url, { ...quiet, max: 1 });
}, 120_000);

afterAll(async () => {
  await sql?.end();
  const maintenance = postgres(server.maintenanceUrl, { ...quiet, max: 1 });
  await maintenance.unsafe(`drop database if exists "${name}" with (force)`);
  await maintenance.end();
});

describe('fixture files', () => {
  it('hold each function, view and policy in exactly one file named after it, and nothing else', async () => {
    const objects = await sql`
      select p.proname as name from pg_proc p
       where p.pronamespace in ('compliance'::regnamespace, 'compliance_private'::regnamespace)
         and not exists (select from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
      union all
      select c.relname from pg_class c
       where c.relnamespace in ('compliance'::regnamespace, 'compliance_private'::regnamespace) and c.relkind = 'v'
      union all
      select p.tablename || '.' || p.policyname from pg_policies p where p.schemaname in ('compliance', 'compliance_private')`;
    const expected = objects.map((o) => o.name as string).sort();
    const names = fixtures.map((f) => f.name).sort();
    expect(names).toEqual([...new Set(names)]); // one file per object
    expect(names).toEqual(expected);
  });

  it('change nothing when applied again on a freshly migrated database (an edited fixture needs its migration)', async () => {
    const before = dumpSchema(url, server.pgDump);
    for (const { file } of fixtures) await sql.unsafe(readFileSync(path.join(FIXTURES_FOLDER, file), 'utf8'));
    const after = dumpSchema(url, server.pgDump);
    expect(after === before, 'a fixture differs from what the migrations made: include it in a new migration').toBe(true);
  });
});

describe('db/schema.sql', () => {
  it('is what the migrations produce (regenerate it with any npm run db command)', () => {
    const committed = readFileSync(SCHEMA_FILE, 'utf8');
    const produced = dumpSchema(url, server.pgDump);
    expect(produced === committed, 'db/schema.sql is stale').toBe(true);
  });
});
