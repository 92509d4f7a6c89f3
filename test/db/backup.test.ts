/**
 * Backup and restore: pg_dump -Fc, pg_restore into a new database; there the chain
 * verifies, tombstones hold (ERASD), and row-level security and grants still apply.
 *
 * pg_dump must be at least the server's major version. The round trip uses a pg_dump of the test
 * cluster's own major version when this machine has one; otherwise it runs against the machine's
 * server on 127.0.0.1:5432 when a pg_dump matches that one, and says so. Without any pg_dump it
 * cannot run, and fails saying what to install.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseDatabaseUrl, withDatabase } from '../../db/connection.js';
import { grantDatabase, setupDatabase } from '../../db/setup.js';
import { expectSqlState, quiet, setContext } from '../provision/database.js';
import { chooseServer, type RoundTrip } from '../provision/pg-tools.js';

const pepper = inject('tombstonePepper');
const work = mkdtempSync(path.join(os.tmpdir(), 'pgcomply-backup-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let roundTrip: RoundTrip;
let restored: Sql;
const names = { source: `${inject('runPrefix')}_backup_src`, target: `${inject('runPrefix')}_backup_dst` };

beforeAll(async () => {
  roundTrip = await chooseServer('backup test');
  const maintenance = parseDatabaseUrl(roundTrip.maintenanceUrl);
  const sourceUrl = withDatabase(maintenance, names.source);
  const targetUrl = withDatabase(maintenance, names.target);
  await setupDatabase({ adminUrl: sourceUrl, loginPassword: inject('loginPassword'), tombstonePepper: { keyring: pepper } });
  const source = postgres(sourceUrl, { ...quiet, max: 1 });
  try {
    for (const subject of ['user:alice', 'user:bob', 'user:carol']) {
      await source.begin(async (tx) => {
        await tx`set local role compliance_app`;
        await setContext(tx, { actor: subject });
        await tx`select compliance.ensure_profile(${subject})`;
        await tx`select compliance.start_conversation(${subject}, 'private to ' || ${subject})`;
        await tx`select compliance.record_consent(${subject}, 'analytics', true, 'v1')`;
      });
    }
    await source.begin(async (tx) => {
      await tx`set local role compliance_dpo`;
      await setContext(tx, { actor: 'dpo:backup', roles: ['dpo'] });
      await tx`select compliance.erase_subject('user:bob', 'Art. 17', true)`;
    });
    await source`select compliance.seal_audit_log()`;
    const [verified] = await source`select ok from compliance.verify_audit_log()`;
    expect(verified!.ok).toBe(true);
  } finally {
    await source.end();
  }

  const file = path.join(work, 'pgcomply.dump');
  execFileSync(roundTrip.pgDump, ['-Fc', '-f', file, '-d', sourceUrl], { stdio: 'pipe' });
  const create = postgres(roundTrip.maintenanceUrl, { ...quiet, max: 1 });
  await create.unsafe(`create database "${names.target}"`);
  await create.end();
  execFileSync(roundTrip.pgRestore, ['--exit-on-error', '-d', targetUrl, file], { stdio: 'pipe' });
  // database-level privileges are not part of a pg_dump: setup grants them, as after any restore
  await grantDatabase(targetUrl);
  restored = postgres(targetUrl, { ...quiet, max: 2 });
}, 120_000);

afterAll(async () => {
  await restored?.end();
  const maintenance = postgres(roundTrip.maintenanceUrl, { ...quiet, max: 1 });
  for (const name of Object.values(names)) await maintenance.unsafe(`drop database if exists "${name}" with (force)`);
  await maintenance.end();
});

describe(`pg_dump -Fc, then pg_restore into a new database`, () => {
  it('verifies the audit chain there', async () => {
    console.info(`backup test: ${roundTrip.note}`);
    const [verified] = await restored`select ok, problems, seals_checked from compliance.verify_audit_log()`;
    expect(verified!.problems).toEqual([]);
    expect(Number(verified!.seals_checked)).toBeGreaterThan(0);
  });

  it('keeps the erased subject erased (ERASD)', async () => {
    await expectSqlState(restored.begin(async (tx) => {
      await tx`set local role compliance_app`;
      await setContext(tx, { actor: 'user:bob' });
      await tx`select compliance.ensure_profile('user:bob')`;
    }), 'ERASD');
  });

  it('keeps row-level security and grants: the app reads only its own subject, and never the audit log', async () => {
    const seen = await restored.begin(async (tx) => {
      await tx`set local role compliance_app`;
      await setContext(tx, { actor: 'user:alice' });
      return tx`select user_id, title from compliance.conversations where user_id in ('user:carol', 'user:alice')`;
    });
    expect(seen.map((r) => r.user_id)).toEqual(['user:alice']);
    await expectSqlState(restored.begin(async (tx) => {
      await tx`set local role compliance_app`;
      await tx`select count(*) from compliance.audit_seals`;
    }), '42501');
  });
});
