/**
 * Anchors and the erasure journal: a whole chain rewritten consistently verifies
 * inside the database and is caught only against a signed anchor; an erasure undone by restoring
 * an older backup is replayed from the anchors' journal, and the restored chain then verifies.
 * The backup is a copy of the database (CREATE DATABASE … TEMPLATE), as a physical backup restores it.
 */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseCrontab, quickAddJob } from 'graphile-worker';
import postgres from 'postgres';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { parseDatabaseUrl, withDatabase } from '../../db/connection.js';
import { grantDatabase } from '../../db/setup.js';
import { loadAnchorKey, toAnchorKey } from '../../core/anchors/anchors.js';
import { CRONTAB, startWorker } from '../../worker/runner.js';
import { quiet, useTestDatabase } from '../provision/database.js';
import { type Run, runPgcomply } from '../provision/pgcomply.js';
import { until } from '../provision/until.js';

const db = useTestDatabase();
const scratch = mkdtempSync(path.join(os.tmpdir(), 'pgcomply-anchors-'));
const anchorLog = path.join(scratch, 'anchors.jsonl');
const maintenance = () => postgres(inject('maintenanceUrl'), { ...quiet, max: 1 });
const backupName = `${db.name}_backup`;
afterAll(async () => {
  rmSync(scratch, { recursive: true, force: true });
  const sql = maintenance();
  await sql.unsafe(`drop database if exists "${backupName}" with (force)`);
  await sql.end();
});

function pgcomply(database: string, args: string[]): Promise<Run> {
  return runPgcomply(['--actor', 'dpo:anchors', '--json', ...args], { ...process.env, DATABASE_URL: database, DB_LOGIN_PASSWORD: inject('loginPassword'),
    TOMBSTONE_PEPPER: inject('tombstonePepper'), PGCOMPLY_DATA_DIR: scratch, LOG_LEVEL: 'silent' });
}
const ok = (run: Run) => {
  expect(run.code, run.stderr + run.stdout).toBe(0);
  return JSON.parse(run.stdout);
};

describe('anchors', () => {
  it('replay an erasure that restoring an older backup undid, and the restored chain verifies', async () => {
    await db.as('compliance_app', { actor: 'user:bk1' }, async (tx) => {
      await tx`select compliance.ensure_profile('user:bk1', 'bk1', 'bk1@example.org', 'Bee Kay')`;
      await tx`select compliance.record_consent('user:bk1', 'analytics', true, '1.0')`;
    });
    await db.admin`select compliance.seal_audit_log()`;

    // the backup: a copy of the database as it is now
    const sql = maintenance();
    await sql`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${db.name} and pid <> pg_backend_pid()`;
    await sql.unsafe(`create database "${backupName}" template "${db.name}"`);
    await sql.end();
    const backupUrl = withDatabase(parseDatabaseUrl(db.adminUrl), backupName);
    await grantDatabase(backupUrl);

    // after the backup: the subject is erased, sealed and anchored
    ok(await pgcomply(db.adminUrl, ['subject', 'erase', 'user:bk1', '--reason', 'asked by letter', '--yes']));
    await db.admin`select compliance.seal_audit_log()`;
    const anchored = ok(await pgcomply(db.adminUrl, ['anchor', '--out', anchorLog]));
    expect(anchored.erasures).toBe(1);
    const anchor = JSON.parse(readFileSync(anchorLog, 'utf8').trim());
    expect(anchor).toMatchObject({ version: 1, seal_no: anchored.seal_no, signature: expect.any(String) });
    // the chain records the anchor, and who wrote it
    const [recorded] = await db.admin`select actor_id, details from compliance.audit_logs where action = 'audit.anchored' order by id desc limit 1`;
    expect(recorded).toMatchObject({ actor_id: 'dpo:anchors', details: { seal_no: Number(anchored.seal_no), seal_hash: anchored.seal_hash, destination: anchorLog, erasures: 1 } });

    // the restored backup has the subject back; the replay erases them again
    const restored = postgres(backupUrl, { ...quiet, max: 1 });
    try {
      expect(await restored`select 1 from compliance.user_profiles where user_id = 'user:bk1'`).toHaveLength(1);
      const replay = ok(await pgcomply(backupUrl, ['erasures', 'replay', '--anchors', anchorLog]));
      expect(replay).toEqual([expect.objectContaining({ subject_digest: anchor.erasures[0].subject_digest, outcome: 'erased' })]);
      expect(await restored`select 1 from compliance.user_profiles where user_id = 'user:bk1'`).toHaveLength(0);
      expect(await restored`select 1 from compliance.consent_records where user_id = 'user:bk1'`).toHaveLength(0);
      // replayed twice, nothing more happens
      expect(ok(await pgcomply(backupUrl, ['erasures', 'replay', '--anchors', anchorLog]))[0].outcome).toBe('already_erased');
      await restored`select compliance.seal_audit_log()`;
      const verdict = ok(await pgcomply(backupUrl, ['verify']));
      expect(verdict).toMatchObject({ ok: true, problems: [] });
    } finally {
      await restored.end();
    }
  });

  it('catch a whole chain rewritten consistently, which the chain alone cannot', async () => {
    ok(await pgcomply(db.adminUrl, ['verify', '--anchors', anchorLog]));
    // a superuser with triggers off alters a sealed row, throws the seals away and seals again
    await db.admin.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      const [first] = await tx`select min(id) as id from compliance.audit_logs`;
      await tx`update compliance.audit_logs set resource_id = 'rewritten' where id = (select min(id) from compliance.audit_logs where action = 'subject.erased')`;
      await tx`delete from compliance.audit_seals`;
      await tx`update compliance_private.audit_seal_head set last_seal_no = 0, last_hash = ${Buffer.alloc(32)}, next_row_id = ${first!.id}, pending_row_id = null, pending_xact_id = null`;
    });
    await db.admin`select compliance.seal_audit_log()`;

    // both verifiers find nothing: the rewritten chain is consistent
    for (const args of [['verify'], ['verify', '--sql']]) {
      const inside = await pgcomply(db.adminUrl, args);
      expect(JSON.parse(inside.stdout), args.join(' ')).toMatchObject({ ok: true, verifier: args[1] ? 'sql' : 'independent' });
      expect(inside.code).toBe(0);
    }
    const against = await pgcomply(db.adminUrl, ['verify', '--anchors', anchorLog]);
    expect(against.code).toBe(1);
    const verdict = JSON.parse(against.stdout);
    expect(verdict.ok).toBe(false);
    expect(verdict.problems).toEqual([expect.objectContaining({ kind: expect.stringMatching(/^anchor_(mismatch|missing)$/) })]);

    // an anchor altered by hand no longer carries a valid signature
    const forged = JSON.parse(readFileSync(anchorLog, 'utf8').trim());
    forged.seal_hash = '00'.repeat(32);
    const forgedLog = path.join(scratch, 'forged.jsonl');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(forgedLog, `${JSON.stringify(forged)}\n`);
    const refused = await pgcomply(db.adminUrl, ['verify', '--anchors', forgedLog]);
    expect(JSON.parse(refused.stdout).problems).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'anchor_signature' })]));
    expect((await pgcomply(db.adminUrl, ['erasures', 'replay', '--anchors', forgedLog])).code).toBe(2);
  });

  it('are published hourly by the worker when ANCHOR_DIR is set, and verify', async () => {
    const item = parseCrontab(CRONTAB).find((i) => i.task === 'publish_anchor')!;
    expect(item.match({ min: 17, hour: 3, date: 2, month: 12, dow: 3 })).toBe(true);
    const dir = path.join(scratch, 'published');
    const runner = await startWorker({ connectionString: db.loginUrl('worker'), pollInterval: 200,
      anchors: { dir, key: loadAnchorKey({}, scratch, { create: true }) } });
    try {
      await quickAddJob({ connectionString: db.loginUrl('worker') }, 'publish_anchor', {});
      const file = path.join(dir, 'anchors.jsonl');
      await until(async () => (existsSync(file) ? true : undefined), 15_000, 'the worker to publish an anchor');
      const published = JSON.parse(readFileSync(file, 'utf8').trim().split('\n').at(-1)!);
      await until(async () => (await db.admin`select 1 from compliance.audit_logs where action = 'audit.anchored' and details ->> 'destination' = ${file}
        and (details ->> 'seal_no')::bigint = ${Number(published.seal_no)}`).length > 0 || undefined, 15_000, 'the worker to record the anchor in the chain');
    } finally {
      await runner.stop();
    }
    ok(await pgcomply(db.adminUrl, ['verify', '--anchors', path.join(dir, 'anchors.jsonl')]));
  });

  it('find an anchor the chain records that nobody signed, and refuse one signed with another key (BADRG)', async () => {
    const key = loadAnchorKey({}, scratch, { create: true });
    const [digest] = await db.admin`select seal_no::text, seal_hash from compliance.audit_digest()`;
    const unsigned = { version: 1, database: db.name, seal_no: digest!.seal_no, seal_hash: digest!.seal_hash, last_row_id: '1',
      sealed_at: new Date().toISOString(), erasures: [], anchored_at: new Date().toISOString(), key_id: key.keyId };
    // an auditor records an anchor that was never written: the configured key's fingerprint, no real signature
    await db.as('compliance_auditor', { actor: 'auditor:mallory', roles: ['auditor'] }, (tx) => tx`select compliance.record_anchor(
      ${digest!.seal_no}::bigint, ${digest!.seal_hash}, ${key.fingerprint}, ${Buffer.alloc(64).toString('base64')}, ${JSON.stringify(unsigned)}::text::jsonb, '/nowhere')`);
    const found = await pgcomply(db.adminUrl, ['verify', '--anchors', path.join(scratch, 'published', 'anchors.jsonl')]);
    expect(found.code).toBe(1);
    expect(JSON.parse(found.stdout).problems).toEqual([expect.objectContaining({ kind: 'anchor_signature', detail: expect.stringContaining('records in audit row') })]);
    // and one under a key that is not the configured one is not taken at all
    const other = toAnchorKey(generateKeyPairSync('ed25519').privateKey);
    const foreign = db.as('compliance_auditor', { actor: 'auditor:mallory', roles: ['auditor'] }, (tx) => tx`select compliance.record_anchor(
      ${digest!.seal_no}::bigint, ${digest!.seal_hash}, ${other.fingerprint}, ${Buffer.alloc(64).toString('base64')},
      ${JSON.stringify({ ...unsigned, key_id: other.keyId })}::text::jsonb, '/nowhere')`);
    await expect(foreign).rejects.toMatchObject({ code: 'BADRG' });
  });
});
