/**
 * pgcomply backup verify: a pg_dump -Fc archive is restored into a scratch database,
 * its chain, row-level security and grants checked, the scratch database dropped, and the result
 * recorded, which the backup-age check then measures. pg_dump and pg_restore come from
 * test/provision/pg-tools.ts, as in the backup round trip (test/db/backup.test.ts).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseDatabaseUrl, withDatabase } from '../../db/connection.js';
import { setupDatabase } from '../../db/setup.js';
import { quiet, setContext } from '../provision/database.js';
import { chooseServer, type RoundTrip } from '../provision/pg-tools.js';
import { type Run, runPgcomply } from '../provision/pgcomply.js';

const work = mkdtempSync(path.join(os.tmpdir(), 'pgcomply-backup-verify-'));
const name = `${inject('runPrefix')}_backup_verify`;
let roundTrip: RoundTrip;
let sourceUrl: string;
let source: Sql;

beforeAll(async () => {
  roundTrip = await chooseServer('backup verify test');
  sourceUrl = withDatabase(parseDatabaseUrl(roundTrip.maintenanceUrl), name);
  await setupDatabase({ adminUrl: sourceUrl, loginPassword: inject('loginPassword'), tombstonePepper: { keyring: inject('tombstonePepper') } });
  source = postgres(sourceUrl, { ...quiet, max: 1 });
  for (const subject of ['user:vera', 'user:otto']) {
    await source.begin(async (tx) => {
      await tx`set local role compliance_app`;
      await setContext(tx, { actor: subject });
      await tx`select compliance.ensure_profile(${subject})`;
      await tx`select compliance.record_consent(${subject}, 'analytics', true, 'v1')`;
    });
  }
  await source`select compliance.seal_audit_log()`;
}, 120_000);

afterAll(async () => {
  await source?.end();
  rmSync(work, { recursive: true, force: true });
  if (!roundTrip) return;
  const maintenance = postgres(roundTrip.maintenanceUrl, { ...quiet, max: 1 });
  await maintenance.unsafe(`drop database if exists "${name}" with (force)`);
  await maintenance.end();
});

function dump(file: string): string {
  const out = path.join(work, file);
  execFileSync(roundTrip.pgDump, ['-Fc', '-f', out, '-d', sourceUrl], { stdio: 'pipe' });
  return out;
}

function verify(file: string): Promise<Run> {
  return runPgcomply(['--actor', 'dba:bea', '--json', 'backup', 'verify', file, '--pg-restore', roundTrip.pgRestore],
    { ...process.env, DATABASE_URL: sourceUrl, DB_LOGIN_PASSWORD: inject('loginPassword'), TOMBSTONE_PEPPER: inject('tombstonePepper'),
      PGCOMPLY_DATA_DIR: work, LOG_LEVEL: 'silent' });
}

const scratchDatabases = async () => (await source<{ n: number }[]>`
  select count(*)::int as n from pg_database where datname like 'pgcomply_backup_verify_%'`)[0]!.n;

describe('pgcomply backup verify', () => {
  it('restores a sound backup, finds nothing, records it, and the backup-age check passes on it', async () => {
    console.info(`backup verify test: ${roundTrip.note}`);
    const [before] = await source`select status from compliance_private.check_backup_age('{}')`;
    expect(before!.status).toBe('not_applicable');

    const file = dump('sound.dump');
    const run = await verify(file);
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result).toMatchObject({ ok: true, problems: [], file_bytes: expect.any(Number) });
    expect(result.rows_checked).toBeGreaterThan(4);
    expect(result.last_seal_no).toBeGreaterThan(0);
    expect(Math.abs(Date.parse(result.archive_created_at) - Date.now())).toBeLessThan(10 * 60_000);
    expect(await scratchDatabases()).toBe(0);

    const [recorded] = await source`select ok, verified_by, file_sha256, last_seal_no from compliance.backup_verifications where id = ${result.recorded_as}`;
    expect(recorded).toMatchObject({ ok: true, verified_by: 'dba:bea', file_sha256: result.file_sha256 });
    const [audited] = await source`select outcome, actor_id from compliance.audit_logs where action = 'backup.verified' and resource_id = ${String(result.recorded_as)}`;
    expect(audited).toMatchObject({ outcome: 'success', actor_id: 'dba:bea' });
    const [check] = await source`select status, measured from compliance_private.check_backup_age('{}')`;
    expect(check!.status).toBe('pass');
    expect(check!.measured.file_sha256).toBe(result.file_sha256);

    // with a limit shorter than its age, the same verification is stale
    await source`update compliance.compliance_check_settings set backup_max_age = interval '1 second'`;
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const [stale] = await source`select status from compliance_private.check_backup_age('{}')`;
    expect(stale!.status).toBe('fail');
    await source`update compliance.compliance_check_settings set backup_max_age = interval '26 hours'`;
  });

  it('names an altered audit row and a table without row-level security in a damaged backup, exits 1 and records the failure', async () => {
    await source.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      await tx`update compliance.audit_logs set outcome = 'failure', failure_reason = 'rewritten'
                where id = (select min(id) from compliance.audit_logs where action like 'consent.%')`;
      await tx`alter table compliance.consent_records no force row level security`;
    });
    const file = dump('damaged.dump');
    await source.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      await tx`alter table compliance.consent_records force row level security`;
    });
    const run = await verify(file);
    expect(run.code, run.stderr).toBe(1);
    const result = JSON.parse(run.stdout);
    expect(result.ok).toBe(false);
    expect(result.problems.map((p: { kind: string }) => p.kind)).toEqual(expect.arrayContaining(['altered_row', 'missing_rls']));
    expect(await scratchDatabases()).toBe(0);
    const [recorded] = await source`select ok, jsonb_array_length(problems) as n from compliance.backup_verifications where id = ${result.recorded_as}`;
    expect(recorded!.ok).toBe(false);
    expect(recorded!.n).toBe(result.problems.length);
    const [audited] = await source`select outcome from compliance.audit_logs where action = 'backup.verified' and resource_id = ${String(result.recorded_as)}`;
    expect(audited!.outcome).toBe('failure');
  });

  it('does not take an archive of another pgcomply database for this one\'s (other_database), so backup_age does not count it', async () => {
    const otherUrl = withDatabase(parseDatabaseUrl(roundTrip.maintenanceUrl), `${name}_other`);
    await setupDatabase({ adminUrl: otherUrl, loginPassword: inject('loginPassword'), tombstonePepper: { keyring: inject('tombstonePepper') } });
    try {
      const other = postgres(otherUrl, { ...quiet, max: 1 });
      await other`select compliance.seal_audit_log()`;
      await other.end();
      const file = path.join(work, 'other.dump');
      execFileSync(roundTrip.pgDump, ['-Fc', '-f', file, '-d', otherUrl], { stdio: 'pipe' });
      const before = await source`select count(*)::int as n from compliance.backup_verifications where ok`;
      const run = await verify(file);
      expect(run.code, run.stderr).toBe(1);
      const result = JSON.parse(run.stdout);
      expect(result.ok).toBe(false);
      expect(result.problems.map((p: { kind: string }) => p.kind)).toContain('other_database');
      const after = await source`select count(*)::int as n from compliance.backup_verifications where ok`;
      expect(after[0]!.n).toBe(before[0]!.n);
    } finally {
      const maintenance = postgres(roundTrip.maintenanceUrl, { ...quiet, max: 1 });
      await maintenance.unsafe(`drop database if exists "${name}_other" with (force)`);
      await maintenance.end();
    }
  }, 120_000);

  it('refuses a file that is no archive, or is missing, with one line and exit 2, recording nothing', async () => {
    const before = (await source<{ n: number }[]>`select count(*)::int as n from compliance.backup_verifications`)[0]!.n;
    for (const [file, says] of [[path.resolve('package.json'), /is not a pg_dump -Fc archive/], [path.join(work, 'missing.dump'), /cannot read .*missing\.dump: ENOENT/]] as const) {
      const run = await verify(file);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(says);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
    }
    const after = (await source<{ n: number }[]>`select count(*)::int as n from compliance.backup_verifications`)[0]!.n;
    expect(after).toBe(before);
  });

  it('leaves the application logins unable to record a verification', async () => {
    await expect(source.begin(async (tx) => {
      await tx`set local role compliance_app`;
      await tx`select compliance.record_backup_verification('x.dump', ${'a'.repeat(64)}, 1, now(), null, null, 0, '[]')`;
    })).rejects.toThrow(/permission denied/);
  });
});
