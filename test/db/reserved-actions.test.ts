/**
 * Verification, the checks and the reports trust the audit rows pgcomply's own routines write: a
 * sealed audit.partition_dropped accounts for deleted rows, a subject.erased for redactions, an
 * audit.verified is the daily check's checkpoint. No login may write one through log_event.
 */
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { type LoginRole } from '../../db/connection.js';
import { verifyIndependently } from '../../core/verify/verifier.js';
import { quiet, useTestDatabase } from '../provision/database.js';

const db = useTestDatabase();

/** the actions verification, a check or a report trusts, and the families the row triggers write */
const RESERVED = [
  'audit.partition_dropped', 'audit.partition_kept', 'audit.verified', 'audit.anchored', 'audit.layout_upgraded',
  'audit.sealer_gaps_recorded', 'audit.personal_fields_read', 'audit.phi_events_read',
  'subject.erased', 'subject.exported', 'subject.reregistered', 'retention.applied', 'retention.policy_changed',
  'retention.clock_overridden', 'report.generated', 'backup.verified', 'evidence.package_generated',
  'compliance.checks_run', 'access_review.opened', 'access_review.decided', 'access_review.completed',
  'tombstone.pepper_adopted', 'tombstone.pepper_rotated', 'security.request_refused', 'security.grants_recorded',
  'phi.read', 'phi.created', 'phi.updated', 'phi.unusual_access', 'phi.keys_rotated', 'consent.granted', 'consent.withdrawn',
  'profile.created', 'profile.updated',
];

/** every login and every role it may act as */
const SESSIONS: { login: LoginRole; role: string | null; context: string[] }[] = [
  { login: 'server', role: 'compliance_app', context: [] },
  { login: 'server', role: 'compliance_dpo', context: ['dpo'] },
  { login: 'server', role: 'compliance_staff', context: ['staff'] },
  { login: 'server', role: 'compliance_approver', context: ['approver'] },
  { login: 'server', role: 'compliance_auditor', context: ['auditor'] },
  { login: 'worker', role: null, context: [] },
  { login: 'migrator', role: null, context: [] },
];

describe('reserved audit actions', () => {
  it('refuses every reserved action to every login and role through log_event (RSRVD), writing nothing', async () => {
    const [before] = await db.admin`select count(*)::int as n from compliance.audit_logs`;
    for (const session of SESSIONS) {
      const sql = postgres(db.loginUrl(session.login), { ...quiet, max: 1 });
      try {
        for (const action of RESERVED) {
          const error = await sql.begin(async (tx) => {
            if (session.role) await tx.unsafe(`set local role ${session.role}`);
            await tx`select compliance.set_request_context('user:f1', ${session.context}::text[])`;
            await tx`select compliance.log_event(${action}, 'soc2', 'audit_partition', 'p0',
                      jsonb_build_object('dropped_rows_in_kept_seals', jsonb_build_array('9')))`;
          }).then(() => undefined, (e: { code?: string }) => e);
          // a role without execute on log_event is refused before it: 42501
          expect([`${session.login}/${session.role}/${action}: ${error?.code}`]).toEqual(
            [`${session.login}/${session.role}/${action}: ${error?.code === '42501' ? '42501' : 'RSRVD'}`]);
        }
      } finally {
        await sql.end();
      }
    }
    const [after] = await db.admin`select count(*)::int as n from compliance.audit_logs where action = any(${RESERVED})`;
    const [mine] = await db.admin`select count(*)::int as n from compliance.audit_logs where actor_id = 'user:f1'`;
    expect(mine!.n).toBe(0);
    expect(after!.n).toBeLessThanOrEqual(before!.n);
  });

  it('still writes an application event in a namespace of its own, and phi.access', async () => {
    for (const action of ['note.added', 'login.failed', 'phi.access']) {
      const [row] = await db.as('compliance_app', { actor: 'user:f2' }, (tx) => tx`select compliance.log_event(${action}, 'hipaa') as id`);
      expect(Number(row!.id)).toBeGreaterThan(0);
    }
  });

  it('keeps the forged drop record of the review out: a row deleted after it is still named (deleted_row)', async () => {
    await db.admin`select compliance.log_event('note.added', 'system') from generate_series(1, 3)`;
    await db.admin`select compliance.seal_audit_log()`;
    const [victim] = await db.admin`select max(id)::int as id from compliance.audit_logs where action = 'note.added'`;
    const forged = db.as('compliance_app', { actor: 'user:f1' }, (tx) => tx`select compliance.log_event('audit.partition_dropped', 'soc2',
      'audit_partition', 'p0', jsonb_build_object('dropped_rows_in_kept_seals', jsonb_build_array(${String(victim!.id)}::text)))`);
    await expect(forged).rejects.toMatchObject({ code: 'RSRVD' });
    await db.admin`select compliance.seal_audit_log()`;
    await db.admin.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      await tx`delete from compliance.audit_logs where id = ${victim!.id}`;
    });
    const [verdict] = await db.admin`select ok, problems from compliance.verify_audit_log()`;
    expect(verdict!.ok).toBe(false);
    expect(verdict!.problems).toContainEqual(expect.objectContaining({ kind: 'deleted_row', row_id: victim!.id }));
  });
});

describe('which routine wrote a record', () => {
  it('is in the chain, and verification trusts a drop or erasure record only from its own routine', async () => {
    await db.as('compliance_app', { actor: 'user:wb1' }, (tx) => tx`select compliance.ensure_profile('user:wb1')`);
    await db.as('compliance_dpo', { actor: 'dpo:dana', roles: ['dpo'] }, (tx) => tx`select compliance.erase_subject('user:wb1', 'Art. 17', true)`);
    const [erased] = await db.admin`select details ->> 'written_by' as by from compliance.audit_logs where action = 'subject.erased' order by id desc limit 1`;
    expect(erased!.by).toBe('compliance_private.erase_subject_core');

    // a superuser writes a drop record through the owner's own function, from a block of their own
    await db.admin`select compliance.log_event('note.added', 'system') from generate_series(1, 2)`;
    await db.admin`select compliance.seal_audit_log()`;
    const [victim] = await db.admin`select max(id)::int as id from compliance.audit_logs where action = 'note.added'`;
    await db.admin.unsafe(`do $$ begin perform compliance_private.append_audit('audit.partition_dropped', 'system', 'audit_partition', 'p0',
      jsonb_build_object('dropped_rows_in_kept_seals', jsonb_build_array('${victim!.id}'))); end $$`);
    const [forged] = await db.admin`select details ->> 'written_by' as by from compliance.audit_logs where action = 'audit.partition_dropped' order by id desc limit 1`;
    expect(forged!.by).toBe('inline_code_block');
    await db.admin`select compliance.seal_audit_log()`;
    await db.admin.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      await tx`delete from compliance.audit_logs where id = ${victim!.id}`;
    });
    const [inside] = await db.admin`select ok, problems from compliance.verify_audit_log()`;
    expect(inside!.problems).toContainEqual(expect.objectContaining({ kind: 'deleted_row', row_id: victim!.id }));
    const outside = await verifyIndependently(db.adminUrl);
    expect(outside.problems).toContainEqual(expect.objectContaining({ kind: 'deleted_row', row_id: victim!.id }));
  });
});

/**
 * A superuser can write a record "from its routine" by defining a function of the routine's name;
 * verification then checks what the record claims against what the database shows.
 */
describe('what an accounting record claims', () => {
  const verifyBoth = async () => {
    const [inside] = await db.admin<{ ok: boolean; problems: { kind: string; row_id?: number; record_id?: number; detail: string }[] }[]>`
      select ok, problems from compliance.verify_audit_log()`;
    const outside = await verifyIndependently(db.adminUrl);
    const claims = <P extends { kind: string }>(problems: P[]) => problems.filter((p) => p.kind === 'contradicted_claim');
    expect(claims(outside.problems)).toEqual(claims(inside!.problems));
    return { ok: inside!.ok && outside.ok, claims: claims(inside!.problems) };
  };

  it('names a drop record whose partition is still attached, and rows it lists that are still there (contradicted_claim)', async () => {
    await db.admin`select compliance.log_event('note.added', 'system') from generate_series(1, 3)`;
    await db.admin`select compliance.seal_audit_log()`;
    const [victim] = await db.admin`select max(id)::int as id from compliance.audit_logs where action = 'note.added'`;
    const [{ partition }] = await db.admin<[{ partition: string }]>`select tableoid::regclass::text as partition from compliance.audit_logs where id = ${victim!.id}`;
    const name = partition.replace(/^compliance\./, '');
    const [before] = await db.admin`select last_seal_no, last_seal_hash from compliance.verify_audit_log()`;
    await db.admin.unsafe(`create function compliance_private.drop_expired_audit_partitions(forged_victim bigint) returns void language plpgsql as $$
      begin perform compliance_private.append_audit('audit.partition_dropped', 'system', 'audit_partition', '${name}',
        jsonb_build_object('dropped_rows_in_kept_seals', jsonb_build_array(forged_victim::text, (forged_victim - 1)::text))); end $$`);
    await db.admin`select compliance_private.drop_expired_audit_partitions(${victim!.id}::bigint)`;
    await db.admin`drop function compliance_private.drop_expired_audit_partitions(bigint)`;
    await db.admin`select compliance.seal_audit_log()`;
    await db.admin.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      await tx`delete from compliance.audit_logs where id = ${victim!.id}`;
    });
    const verdict = await verifyBoth();
    expect(verdict.ok).toBe(false);
    expect(verdict.claims.map((c) => [c.row_id ?? null, c.detail])).toEqual([
      [null, `the drop record says partition ${name} was dropped, and it is still there`],
      [victim!.id - 1, 'the drop record lists this row as dropped, and it is still there'],
    ]);
    // the daily check, from a checkpoint before the record, finds the same; from one after it,
    // the record was checked already
    const incremental = (checkpoint: { last_seal_no: string; last_seal_hash: Buffer }) => db.admin`
      select problems from compliance.verify_audit_log(${checkpoint.last_seal_no}::bigint, ${checkpoint.last_seal_hash})`;
    const [since] = await incremental(before as never);
    expect(since!.problems.filter((p: { kind: string }) => p.kind === 'contradicted_claim')).toEqual(verdict.claims);
    const [after] = await db.admin`select last_seal_no, last_seal_hash from compliance.verify_audit_log()`;
    const [later] = await incremental(after as never);
    expect(later!.problems.filter((p: { kind: string }) => p.kind === 'contradicted_claim')).toEqual([]);
  });

  it('names an erasure record listing a row that was not redacted in the erasure\'s transaction (contradicted_claim)', async () => {
    await db.as('compliance_app', { actor: 'user:cc1' }, (tx) => tx`select compliance.ensure_profile('user:cc1')`);
    const [row] = await db.admin`select max(id)::int as id from compliance.audit_logs where user_id = 'user:cc1'`;
    await db.admin.unsafe(`create function compliance_private.erase_subject_core(forged_row bigint) returns void language plpgsql as $$
      begin perform compliance_private.append_audit('subject.erased', 'gdpr', 'dsr_request', null,
        jsonb_build_object('redacted_subject_rows', jsonb_build_array(forged_row::text))); end $$`);
    await db.admin`select compliance_private.erase_subject_core(${row!.id}::bigint)`;
    await db.admin`drop function compliance_private.erase_subject_core(bigint)`;
    await db.admin`select compliance.seal_audit_log()`;
    // the redaction the record excuses, made later
    await db.admin.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      await tx`update compliance.audit_logs set user_id = null, personal_details = null, subject_part_salt = null, personal_salt = null,
                 redacted_at = now() where id = ${row!.id}`;
    });
    const verdict = await verifyBoth();
    expect(verdict.ok).toBe(false);
    expect(verdict.claims).toContainEqual(expect.objectContaining({ row_id: row!.id,
      detail: 'the erasure record lists this row as redacted by it, and the row was not redacted when it was written' }));
  });
});
