/**
 * Sealing survives a restore onto another cluster. Transaction ids restart
 * on a freshly initialised cluster, so the restored rows carry ids from the future; new rows
 * must still be sealed, and the chain must still verify.
 *
 * The restore is logical, table by table (COPY out of the source, COPY into a database the
 * migrations made on a fresh embedded cluster, sequences set as pg_dump sets them), so it runs
 * the same whether or not this machine has a pg_dump for the source's major version.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { pepperParameters } from '../../db/pepper.js';
import { type EmbeddedCluster, freePort, startEmbedded } from '../../db/embedded.js';
import { setupDatabase } from '../../db/setup.js';
import { useTestDatabase } from '../provision/database.js';

const source = useTestDatabase();
const pepper = inject('tombstonePepper');
let cluster: EmbeddedCluster | undefined;
let target: Sql | undefined;

/** every table of the two schemas, and the sequences, copied as a data-only restore would */
async function restore(from: Sql, fromUrl: string, into: Sql) {
  const tables = await from`
    select format('%I.%I', n.nspname, c.relname) as name,
           (select string_agg(quote_ident(a.attname), ', ' order by a.attnum) from pg_attribute a
             where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped and a.attgenerated = '') as columns
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname in ('compliance', 'compliance_private') and c.relkind in ('r', 'p') and not c.relispartition
       and not exists (select from pg_depend d where d.objid = c.oid and d.deptype = 'e')`;
  await into.begin(async (tx) => {
    await tx`set local session_replication_role = replica`;
    for (const table of tables) await tx.unsafe(`delete from ${table.name}`);
    for (const table of tables) {
      // read whole, then written, each table on a connection of its own: postgres.js can leave a
      // connection that streamed a COPY unusable (porsager/postgres#1016)
      const reader = postgres(fromUrl, { onnotice: () => undefined, max: 1 });
      const chunks: Buffer[] = [];
      try {
        for await (const chunk of await reader.unsafe(`copy (select ${table.columns} from ${table.name}) to stdout`).readable()) chunks.push(chunk as Buffer);
      } finally {
        await reader.end({ timeout: 1 });
      }
      const inn = await tx.unsafe(`copy ${table.name} (${table.columns}) from stdin`).writable();
      await new Promise<void>((resolve, reject) => {
        inn.once('error', reject);
        inn.once('finish', () => resolve());
        inn.end(Buffer.concat(chunks));
      });
    }
    const sequences = await from`select format('%I.%I', schemaname, sequencename) as name, last_value, last_value is not null as called
                                   from pg_sequences where schemaname in ('compliance', 'compliance_private')`;
    for (const sequence of sequences) {
      if (sequence.called) await tx`select setval(${sequence.name}::regclass, ${sequence.last_value}::bigint, true)`;
    }
  });
}

beforeAll(async () => {
  const { admin } = source;
  // the source has lived long: its transaction ids are far ahead of a new cluster's
  await admin`create temp table burn (n int)`;
  await admin.unsafe(`do $$ begin for i in 1..20000 loop begin insert into burn values (i); exception when others then null; end; end loop; end $$`);
  await source.as('compliance_app', { actor: 'user:alice' }, async (tx) => {
    await tx`select compliance.ensure_profile('user:alice', 'alice', 'alice@example.org', 'Alice')`;
    for (let i = 0; i < 5; i += 1) await tx`select compliance.log_event('phi.access', 'hipaa', 'patient_record', ${String(i)}, '{}', 'user:alice')`;
  });
  await admin`select compliance.seal_audit_log()`;
  // and one row written after the last seal: restored unsealed
  await admin`select compliance.log_event('system.before_backup', 'system')`;

  const port = await freePort();
  cluster = await startEmbedded({
    databaseDir: path.join(os.tmpdir(), `pgcomply-restore-${randomBytes(4).toString('hex')}`),
    port, password: 'restore', persistent: false, settings: { fsync: 'off' },
  }, true);
  const targetUrl = cluster.adminUrl('restored');
  await setupDatabase({ adminUrl: targetUrl, loginPassword: inject('loginPassword'), tombstonePepper: { keyring: pepper } });
  target = postgres(targetUrl, { onnotice: () => undefined, connection: pepperParameters(pepper), max: 2 });
  await restore(admin, source.adminUrl, target);
}, 120_000);

afterAll(async () => {
  await target?.end({ timeout: 5 });
  await cluster?.stop();
});

describe('a restore onto a freshly initialised cluster', () => {
  it('carries transaction ids from the future', async () => {
    const [row] = await target!`select (select max(xact_id::text::bigint) from compliance.audit_logs) as restored,
                                       pg_current_xact_id()::text::bigint as now`;
    expect(Number(row!.restored)).toBeGreaterThan(Number(row!.now));
  });

  it('verifies as restored, seals what was unsealed and what is written after, and verifies again', async () => {
    const [restored] = await target!`select * from compliance.verify_audit_log()`;
    expect(restored!.problems).toEqual([]);
    expect(restored!.unsealed_rows).toBe('1');

    await target!.begin(async (tx) => {
      await tx`set local role compliance_app`;
      await tx`select compliance.set_request_context('user:alice', '{}'::text[], null, null)`;
      await tx`select compliance.log_event('phi.access', 'hipaa', 'patient_record', 'after-restore', '{}', 'user:alice')`;
    });
    const [sealed] = await target!`select compliance.seal_audit_log() as n`;
    expect(sealed!.n).toBeGreaterThan(0);
    const [after] = await target!`select * from compliance.verify_audit_log()`;
    expect(after!.problems).toEqual([]);
    expect(after!.ok).toBe(true);
    expect(after!.unsealed_rows).toBe('0');
    const [written] = await target!`select count(*)::int as n from compliance.audit_logs a
                                     where a.resource_id = 'after-restore'
                                       and exists (select from compliance.audit_seals s where a.id = any (s.row_ids))`;
    expect(written!.n).toBe(1);
  });
});
