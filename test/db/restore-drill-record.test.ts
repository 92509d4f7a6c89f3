/**
 * What the restore_drill check trusts: backup.drill rows only compliance.record_restore_drill
 * writes, only for the worker, with the recovery time computed from the drill's own span and a
 * restored seal this database made. The check is not_applicable until a drill is recorded, then
 * holds the newest against its outcome and the recovery time objective; a failed drill alerts.
 */
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../provision/database.js';

const db = useTestDatabase();
const dpo = { actor: 'dpo:dana', roles: ['dpo'] };

const record = async (result: Record<string, unknown>) =>
  (await db.as('compliance_worker', null, (tx) => tx`select compliance.record_restore_drill(${JSON.stringify(result)}::text::jsonb)::text as id`)) as unknown as [{ id: string }];

async function newestSeal(): Promise<{ seal_no: number; seal_hash: string }> {
  await db.admin`select compliance.log_event('system.before_the_drill', 'system')`;
  await db.admin`select compliance.seal_audit_log()`;
  const [seal] = await db.admin`select seal_no::int8 as seal_no, encode(seal_hash, 'hex') as seal_hash from compliance.audit_seals order by seal_no desc limit 1`;
  return { seal_no: Number(seal!.seal_no), seal_hash: seal!.seal_hash as string };
}

function drill(seal: { seal_no: number; seal_hash: string }, minutes: number, extra: Record<string, unknown> = {}) {
  const finished = new Date();
  return { ok: true, target: 'newest', label: '20261206-020000F', started_at: new Date(finished.getTime() - minutes * 60_000).toISOString(),
    finished_at: finished.toISOString(), restored_seal_no: seal.seal_no, restored_seal_hash: seal.seal_hash, rows_checked: 42,
    erasures: { erased: 1, already_erased: 2, tombstoned: 0, held: 0 }, problems: [], ...extra };
}

async function restoreDrillCheck() {
  const [row] = await db.as('compliance_dpo', dpo, (tx) => tx`select status, measured, detail from compliance.run_compliance_checks('demand') where check_name = 'restore_drill'`);
  return row as { status: string; measured: Record<string, any>; detail: string };
}

describe('restore drills as the database records them', () => {
  it('says not_applicable, with the reason, until a drill is recorded', async () => {
    const check = await restoreDrillCheck();
    expect(check.status).toBe('not_applicable');
    expect(check.detail).toMatch(/^no restore drill is recorded/);
  });

  it('is the worker\'s to record, with pgBackRest\'s archive check: the app, the DPO and the auditor are refused (42501), and log_event refuses backup.drill (RSRVD)', async () => {
    for (const role of ['compliance_app', 'compliance_dpo', 'compliance_auditor'] as const) {
      await expect(db.as(role, dpo, (tx) => tx`select compliance.record_restore_drill('{}'::jsonb)`)).rejects.toMatchObject({ code: '42501' });
    }
    await expect(db.admin`select compliance.log_event('backup.drill', 'soc2')`).rejects.toMatchObject({ code: 'RSRVD' });
    // nor may they say pgBackRest's archive check passed
    for (const role of ['compliance_app', 'compliance_dpo', 'compliance_auditor'] as const) {
      await expect(db.as(role, dpo, (tx) => tx`select compliance.record_archive_check(true)`)).rejects.toMatchObject({ code: '42501' });
    }
  });

  it('refuses a passed drill whose restored seal this database never made, or holds with another hash (DRLSL)', async () => {
    const seal = await newestSeal();
    await expect(record(drill({ seal_no: seal.seal_no + 1000, seal_hash: seal.seal_hash }, 10))).rejects.toMatchObject({ code: 'DRLSL' });
    await expect(record(drill({ seal_no: seal.seal_no, seal_hash: '00'.repeat(32) }, 10))).rejects.toMatchObject({ code: 'DRLSL' });
  });

  it('refuses a span that has not passed, and a pass with problems or without its backup (BADRG)', async () => {
    const seal = await newestSeal();
    const future = new Date(Date.now() + 3_600_000).toISOString();
    await expect(record(drill(seal, 10, { finished_at: future }))).rejects.toMatchObject({ code: 'BADRG' });
    await expect(record(drill(seal, -10))).rejects.toMatchObject({ code: 'BADRG' });
    await expect(record(drill(seal, 10, { problems: [{ kind: 'missing_rls', detail: 'x' }] }))).rejects.toMatchObject({ code: 'BADRG' });
    await expect(record(drill(seal, 10, { label: null }))).rejects.toMatchObject({ code: 'BADRG' });
  });

  it('passes on a drill that restored, verified and checked within the objective, with the time computed from its span', async () => {
    const seal = await newestSeal();
    const [{ id }] = await record(drill(seal, 12, { rto_seconds: 1 }));
    const [row] = await db.admin`select action, outcome, details from compliance.audit_logs where id = ${id}`;
    expect(row).toMatchObject({ action: 'backup.drill', outcome: 'success',
      details: { written_by: 'compliance.record_restore_drill', label: '20261206-020000F', restored_seal_no: seal.seal_no } });
    // the figure it stated is not the one recorded: 12 minutes are 720 seconds
    expect(Number(row!.details.rto_seconds)).toBeCloseTo(720, 0);
    const check = await restoreDrillCheck();
    expect(check).toMatchObject({ status: 'pass', measured: { label: '20261206-020000F', outcome: 'success' } });
    expect(Number(check.measured.rto_seconds)).toBeCloseTo(720, 0);
  });

  it('fails when the newest drill took longer than the recovery time objective of 4 hours', async () => {
    const seal = await newestSeal();
    await record(drill(seal, 5 * 60));
    const check = await restoreDrillCheck();
    expect(check.status).toBe('fail');
    expect(check.detail).toMatch(/longer than the recovery time objective of 04:00:00/);
  });

  it('fails on a failed drill, naming what it found, and raises a backup.drill_failed alert', async () => {
    const problem = { kind: 'repository_corrupt', file: 'backup/pgcomply/20261206-020000F/pg_data/base/1/2838.zst',
      detail: 'the repository file backup/pgcomply/20261206-020000F/pg_data/base/1/2838.zst is damaged (invalid checksum): restores that need it fail' };
    const [{ id }] = await record({ ok: false, target: 'newest', label: null, started_at: new Date(Date.now() - 60_000).toISOString(),
      finished_at: new Date().toISOString(), problems: [problem] });
    const [row] = await db.admin`select outcome, failure_reason, details -> 'problems' as problems from compliance.audit_logs where id = ${id}`;
    expect(row).toMatchObject({ outcome: 'failure', failure_reason: 'drill_failed', problems: [problem] });
    const check = await restoreDrillCheck();
    expect(check.status).toBe('fail');
    expect(check.detail).toContain('backup/pgcomply/20261206-020000F/pg_data/base/1/2838.zst');
    const [alert] = await db.admin`select payload from compliance.alert_outbox where topic = 'backup.drill_failed'`;
    expect(alert!.payload).toMatchObject({ audit_row_id: Number(id), problems: 1 });
  });
});
