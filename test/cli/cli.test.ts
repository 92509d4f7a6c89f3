/**
 * The operator CLI: every command runs the real executable as a child process
 * against a real database; what it did is in the database and in the audit log under --actor;
 * bad input exits 2 with one line and no stack trace.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { useTestDatabase } from '../provision/database.js';
import { type Run, runPgcomply } from '../provision/pgcomply.js';

const db = useTestDatabase();
const scratch = mkdtempSync(path.join(os.tmpdir(), 'pgcomply-cli-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function pgcomply(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return runPgcomply(args, { ...process.env, DATABASE_URL: db.adminUrl, DB_LOGIN_PASSWORD: inject('loginPassword'),
    TOMBSTONE_PEPPER: inject('tombstonePepper'), PGCOMPLY_DATA_DIR: scratch, LOG_LEVEL: 'silent', ...env });
}
const asDpo = (...args: string[]) => pgcomply(['--actor', 'dpo:cli', '--json', ...args]);
const json = (run: Run) => {
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout);
};
/** one line, naming what went wrong, never a stack trace */
const refused = (run: Run, pattern: RegExp) => {
  expect(run.code).toBe(2);
  expect(run.stderr.trim().split('\n')).toHaveLength(1);
  expect(run.stderr).toMatch(pattern);
  expect(run.stderr).not.toMatch(/\n\s+at /);
};

async function doctor() {
  const run = await pgcomply(['--json', 'doctor']);
  return { code: run.code, findings: new Map((JSON.parse(run.stdout) as { check: string; status: string; detail: string }[]).map((f) => [f.check, f])) };
}

async function subject(userId: string) {
  await db.as('compliance_app', { actor: userId }, async (tx) => {
    await tx`select compliance.ensure_profile(${userId})`;
    await tx`select compliance.record_consent(${userId}, 'analytics', true, '1.0')`;
  });
}

describe('pgcomply, the executable', () => {
  it('explains itself, and refuses what it does not know with exit 2', async () => {
    const help = await pgcomply(['--help']);
    expect(help.code).toBe(0);
    for (const command of ['doctor', 'report', 'evidence', 'check', 'subject', 'hold', 'dsr', 'retention']) expect(help.stdout).toContain(command);
    expect((await pgcomply(['bogus'])).code).toBe(2);
    refused(await pgcomply(['dsr', 'list']), /--actor/);
    refused(await pgcomply(['--actor', 'dpo:cli', '--database', 'postgres://postgres@127.0.0.1:1/x', 'dsr', 'list']), /127\.0\.0\.1:1/);
  });

  it('doctor: configuration, connectivity, roles, migrations, heartbeat, audit chain, anchors', async () => {
    const first = await doctor();
    expect([...first.findings.keys()]).toEqual(['configuration', 'connectivity', 'roles', 'migrations', 'worker heartbeat', 'audit chain', 'anchors']);
    expect([...first.findings.values()].filter((f) => f.check !== 'worker heartbeat').every((f) => f.status === 'pass')).toBe(true);
    // no worker beats in a test database: a finding, exit 1
    expect(first.findings.get('worker heartbeat')!.status).toBe('fail');
    expect(first.code).toBe(1);
  });

  it('dsr register, list, complete; hold place and release', async () => {
    await subject('user:cli1');
    const registered = json(await asDpo('dsr', 'register', '--user', 'user:cli1', '--kind', 'objection', '--notes', 'by letter'));
    expect(json(await asDpo('dsr', 'list')).map((r: { id: string }) => String(r.id))).toContain(String(registered.id));
    json(await asDpo('dsr', 'complete', String(registered.id)));
    expect(json(await asDpo('dsr', 'list')).map((r: { id: string }) => String(r.id))).not.toContain(String(registered.id));
    refused(await asDpo('dsr', 'register', '--user', 'user:cli1', '--kind', 'wishes'), /wishes/);

    json(await asDpo('hold', 'place', 'user:cli1', '--reason', 'litigation'));
    refused(await asDpo('subject', 'erase', 'user:cli1', '--reason', 'asked', '--yes'), /LHOLD/);
    json(await asDpo('hold', 'release', 'user:cli1'));
    const actions = await db.admin`select action from compliance.audit_logs where actor_id = 'dpo:cli' order by id`;
    expect(actions.map((a) => a.action)).toEqual(expect.arrayContaining(['dsr.register_read']));
  });

  it('subject export and erase: --yes or nothing happens; an unknown subject is one line', async () => {
    await subject('user:cli2');
    const out = path.join(scratch, 'export.csv');
    const csv = await asDpo('subject', 'export', 'user:cli2', '--format', 'csv', '--out', out);
    expect(csv.code, csv.stderr).toBe(0);
    expect(readFileSync(out, 'utf8')).toContain('user:cli2');
    const document = json(await asDpo('subject', 'export', 'user:cli2'));
    expect(JSON.stringify(document)).toContain('analytics');

    refused(await asDpo('subject', 'erase', 'user:cli2', '--reason', 'asked'), /--yes/);
    expect(await db.admin`select 1 from compliance.user_profiles where user_id = 'user:cli2'`).toHaveLength(1);
    const receipt = json(await asDpo('subject', 'erase', 'user:cli2', '--reason', 'asked by letter', '--yes'));
    expect(receipt).toMatchObject({ erased: true });
    expect(await db.admin`select 1 from compliance.user_profiles where user_id = 'user:cli2'`).toHaveLength(0);
    refused(await asDpo('subject', 'erase', 'user:nobody', '--reason', 'asked', '--yes'), /UNKSJ/);
  });

  it('retention plan and run; check run exits 1 exactly when a check fails', async () => {
    const plan = json(await asDpo('retention', 'plan')) as { category: string; dry_run: boolean }[];
    expect(plan.map((p) => p.category)).toEqual(expect.arrayContaining(['conversations', 'sessions']));
    expect(plan.every((p) => p.dry_run)).toBe(true);
    const run = json(await asDpo('retention', 'run', '--category', 'sessions')) as { category: string; deleted: number }[];
    expect(run).toEqual([{ category: 'sessions', deleted: 0 }]);

    const checks = await asDpo('check', 'run');
    const results = JSON.parse(checks.stdout) as { check: string; status: string }[];
    const stored = await db.admin`select check_name, status from compliance.check_results where run_id = (select max(id) from compliance.check_runs)`;
    expect(results.map((r) => [r.check, r.status]).sort()).toEqual(stored.map((r) => [r.check_name, r.status]).sort());
    expect(checks.code).toBe(results.some((r) => r.status === 'fail') ? 1 : 0);

    // a passing audit check over sealed rows leaves a checkpoint, itself sealed next: both verifiers start after it
    await db.admin`select compliance.seal_audit_log()`;
    await asDpo('check', 'run');
    await db.admin`select compliance.seal_audit_log()`;
    await db.admin`select compliance.log_event('system.after_checkpoint', 'system') from generate_series(1, 3)`;
    await db.admin`select compliance.seal_audit_log()`;
    const full = json(await asDpo('verify'));
    for (const args of [['verify', '--since-checkpoint'], ['verify', '--sql', '--since-checkpoint']]) {
      const incremental = json(await asDpo(...args));
      expect(incremental, args.join(' ')).toMatchObject({ ok: true, incremental: true });
      expect(incremental.rows_checked).toBeGreaterThanOrEqual(3);
      expect(incremental.rows_checked).toBeLessThan(full.rows_checked);
    }
  });

  it('report monthly as JSON and HTML, and an evidence package on disk whose hashes hold', async () => {
    const month = new Date().toISOString().slice(0, 7);
    const report = json(await asDpo('report', 'monthly', '--month', month));
    expect(report.content.period.from.slice(0, 7)).toBe(month);
    const htmlFile = path.join(scratch, 'report.html');
    const html = await pgcomply(['--actor', 'auditor:cli', '--role', 'auditor', 'report', 'monthly', '--month', month, '--format', 'html', '--out', htmlFile]);
    expect(html.code, html.stderr).toBe(0);
    expect(readFileSync(htmlFile, 'utf8')).toMatch(/^<!doctype html>[\s\S]*Compliance report/);
    const [audit] = await db.admin`select actor_id from compliance.audit_logs where action = 'report.generated' order by id desc limit 1`;
    expect(audit!.actor_id).toBe('auditor:cli');
    refused(await asDpo('report', 'monthly', '--month', '2026-13'), /YYYY-MM/);

    const dir = path.join(scratch, 'evidence');
    const evidence = json(await asDpo('evidence', '--from', '2026-01-01T00:00:00Z', '--to', '2027-01-01T00:00:00Z', '--out', dir));
    const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    expect(manifest.manifest_sha256).toBe(evidence.manifest_sha256);
    for (const entry of manifest.populations as { name: string; sha256: string }[]) {
      const file = path.join(dir, `${entry.name}.csv`);
      expect(existsSync(file), entry.name).toBe(true);
      expect(createHash('sha256').update(readFileSync(file)).digest('hex'), entry.name).toBe(entry.sha256);
    }
    const [stored] = await db.admin`select manifest_sha256 from compliance.evidence_packages where id = ${evidence.package_id}`;
    expect(stored!.manifest_sha256).toBe(evidence.manifest_sha256);
  });

  it('keys status and rotate, and one line without a master key', async () => {
    const key = { PHI_MASTER_KEY: `1:${Buffer.alloc(32, 7).toString('base64')},2:${Buffer.alloc(32, 9).toString('base64')}` };
    const status = await pgcomply(['--json', 'keys', 'status'], key);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toEqual([]);
    const rotated = await pgcomply(['--json', 'keys', 'rotate'], key);
    expect(JSON.parse(rotated.stdout)).toMatchObject({ rewrapped: 0, master_key_version: 2, remaining_under_older_versions: 0 });
    refused(await pgcomply(['keys', 'status']), /master key/);
  });

  // last: it breaks this file's chain on purpose
  it('doctor exits 1 when the audit chain fails (deleted_row) or the anchors are overdue', async () => {
    await db.admin`select compliance.log_event('note.added', 'system')`;
    await db.admin`select compliance.seal_audit_log()`;
    await db.admin.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      await tx`delete from compliance.audit_logs where id = (select max(id) from compliance.audit_logs where action = 'note.added')`;
    });
    await db.admin`update compliance.compliance_check_settings set anchor_max_age = interval '1 millisecond'`;
    try {
      const second = await doctor();
      expect(second.findings.get('audit chain')).toMatchObject({ status: 'fail', detail: expect.stringContaining('deleted_row') });
      expect(second.findings.get('anchors')).toMatchObject({ status: 'fail', detail: expect.stringContaining('no anchor was ever written') });
      expect(second.code).toBe(1);
    } finally {
      await db.admin`update compliance.compliance_check_settings set anchor_max_age = interval '2 hours'`;
    }
  });
});
