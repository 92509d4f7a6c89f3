/**
 * The daily audit check verifies from a checkpoint: the last seal a passing run
 * reached, kept as an audit.verified row that is itself sealed. It sees what changed after the
 * checkpoint; the whole chain is one flag away and sees the rest.
 */
import { describe, expect, it } from 'vitest';
import { findCheckpoint, verifyIndependently } from '../../core/verify/verifier.js';
import { useTestDatabase } from '../provision/database.js';

const db = useTestDatabase();

async function auditCheck(full = false) {
  const [row] = await db.as('compliance_dpo', { actor: 'dpo:dana', roles: ['dpo'] },
    (tx) => tx`select status, measured, evidence from compliance.run_compliance_checks('demand', false, ${full}) where check_name = 'audit_chain'`);
  return row as { status: string; measured: Record<string, any>; evidence: string };
}
const seal = () => db.admin`select compliance.seal_audit_log()`;
const logEvents = (n: number, action: string) => db.admin`select compliance.log_event(${action}, 'system') from generate_series(1, ${n})`;
const deleteWithTriggersOff = (action: string) => db.admin.begin(async (tx) => {
  await tx`set local session_replication_role = replica`;
  await tx`delete from compliance.audit_logs where id = (select min(id) from compliance.audit_logs where action = ${action})`;
});

/** the SQL verifier from the checkpoint the daily check uses, and the TypeScript one told to do the same: they must agree */
async function bothFromCheckpoint() {
  const checkpoint = await findCheckpoint(db.admin);
  const [inside] = await db.admin`select ok, incremental, problems
    from compliance.verify_audit_log(${checkpoint?.sealNo ?? null}, ${checkpoint ? Buffer.from(checkpoint.sealHash, 'hex') : null})`;
  const outside = await verifyIndependently(db.adminUrl, { sinceCheckpoint: true });
  const keys = (problems: { kind: string; seal_no: number | null; row_id?: number }[]) => problems.map((p) => `${p.kind}/${p.seal_no}/${p.row_id ?? '-'}`).sort();
  expect(outside.incremental).toBe(inside!.incremental);
  expect(keys(outside.problems)).toEqual(keys(inside!.problems));
  return outside;
}

describe('incremental audit verification', () => {
  it('checks only what was sealed after the checkpoint, and a full run checks everything', async () => {
    await logEvents(200, 'system.old_rows');
    await seal();
    const first = await auditCheck();
    expect(first).toMatchObject({ status: 'pass', measured: { incremental: false } });
    await seal(); // seals the checkpoint row itself
    await logEvents(10, 'system.todays_rows');
    await seal();
    const daily = await auditCheck();
    expect(daily).toMatchObject({ status: 'pass', measured: { incremental: true } });
    expect(daily.measured.rows_checked).toBeLessThan(40);
    expect(daily.evidence).toMatch(/verify_audit_log\(\d+, /);
    await seal(); // the daily run's own checkpoint row, sealed
    expect(await bothFromCheckpoint()).toMatchObject({ ok: true, incremental: true });

    // a row after the checkpoint goes missing: the next daily run finds it
    await seal();
    await logEvents(5, 'system.later_rows');
    await seal();
    await deleteWithTriggersOff('system.later_rows');
    const found = await auditCheck();
    expect(found).toMatchObject({ status: 'fail', measured: { incremental: true } });
    expect(found.measured.first_problems[0]).toMatchObject({ kind: 'deleted_row' });
    const outside = await bothFromCheckpoint();
    expect(outside.problems.map((p) => p.kind)).toContain('deleted_row');
  });

  it('leaves an old row to the full run, which finds it', async () => {
    await deleteWithTriggersOff('system.old_rows');
    const full = await auditCheck(true);
    expect(full).toMatchObject({ status: 'fail', measured: { incremental: false } });
    expect(full.measured.first_problems.some((p: { kind: string }) => p.kind === 'deleted_row')).toBe(true);
  });

  it('refuses a checkpoint whose seal was rewritten', async () => {
    const [checkpoint] = await db.admin`select (details ->> 'seal_no')::bigint as seal_no from compliance.audit_logs
                                         where action = 'audit.verified' order by id desc limit 1`;
    await db.admin.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      await tx`update compliance.audit_seals set seal_hash = sha256(seal_hash) where seal_no = ${checkpoint!.seal_no}`;
    });
    const [result] = await db.admin`select ok, problems from compliance.verify_audit_log(${checkpoint!.seal_no},
      (select decode(details ->> 'seal_hash', 'hex') from compliance.audit_logs where action = 'audit.verified' order by id desc limit 1))`;
    expect(result!.ok).toBe(false);
    expect(result!.problems.map((p: { kind: string }) => p.kind)).toContain('altered_seal');
    expect((await bothFromCheckpoint()).problems.map((p) => p.kind)).toContain('altered_seal');
  });
});
