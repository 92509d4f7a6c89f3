import type { TransactionSql } from 'postgres';
import { describe, expect, it } from 'vitest';
import { verifyIndependently } from '../../core/verify/verifier.js';
import { expectSqlState, useTestDatabase } from '../provision/database.js';

const db = useTestDatabase();
const worker = <T>(run: (tx: TransactionSql) => Promise<T>) => db.as('compliance_worker', null, run);

/** runs fn with retention's clock moved forward by `ahead`: only the owner may move it */
async function later<T>(ahead: string, fn: () => Promise<T>): Promise<T> {
  await db.as('compliance_owner', null, (tx) => tx`insert into compliance_private.clock_override (frozen_at)
    values (now() + ${ahead}::interval) on conflict (singleton) do update set frozen_at = excluded.frozen_at`);
  try {
    return await fn();
  } finally {
    await db.as('compliance_owner', null, (tx) => tx`delete from compliance_private.clock_override`);
  }
}

async function conversation(userId: string, idleDays: number, messages = 2) {
  await db.as('compliance_app', { actor: userId }, (tx) => tx`select compliance.ensure_profile(${userId})`);
  const [c] = await db.as('compliance_app', { actor: userId }, async (tx) => {
    const [row] = await tx`select conversation_id from compliance.start_conversation(${userId}, 'x')`;
    for (let i = 0; i < messages; i += 1) await tx`select compliance.add_message(${row!.conversation_id}, 'user', 'm')`;
    return [row];
  });
  // as if the last message had been idleDays before "now + 91 days"
  await db.admin`update compliance.conversations set last_message_at = now() + interval '91 days' - make_interval(days => ${idleDays}) where conversation_id = ${c!.conversation_id}`;
  return c!.conversation_id as string;
}

describe('conversations', () => {
  it('deletes those idle for 91 days with their messages, keeps 89 days, honours legal holds; a dry run reports the same', async () => {
    const expired = await conversation('user:old', 91, 3);
    const fresh = await conversation('user:old', 89);
    const held = await conversation('user:held', 120);
    await db.admin`select compliance.place_legal_hold('user:held', 'matter')`;

    const [dry] = await later('91 days', () => worker((tx) => tx`select compliance.apply_retention('conversations', 100, true) as r`));
    expect(dry!.r.deleted).toBe(1);
    const [stillThere] = await db.admin`select count(*)::int as n from compliance.conversations`;
    expect(stillThere!.n).toBe(3);

    const [run] = await later('91 days', () => worker((tx) => tx`select compliance.apply_retention('conversations', 100, false) as r`));
    expect(run!.r).toMatchObject({ deleted: 1, messages_deleted: 3 });
    const left = await db.admin`select conversation_id from compliance.conversations order by conversation_id`;
    expect(left.map((r) => r.conversation_id).sort()).toEqual([fresh, held].sort());
    const [orphans] = await db.admin`select count(*)::int as n from compliance.messages where conversation_id = ${expired}`;
    expect(orphans!.n).toBe(0);

    const audit = await db.admin`select details from compliance.audit_logs where action = 'retention.applied' order by id`;
    expect(audit.map((a) => [a.details.dry_run, a.details.deleted])).toEqual([[true, 1], [false, 1]]);
    const [perRow] = await db.admin`select count(*)::int as n from compliance.audit_logs where action in ('conversation.deleted', 'message.deleted')`;
    expect(perRow!.n).toBe(0);
  });

  it('deletes at most one batch per call', async () => {
    for (let i = 0; i < 5; i += 1) await conversation('user:batch', 100, 0);
    const [first] = await later('91 days', () => worker((tx) => tx`select compliance.apply_retention('conversations', 2, false) as r`));
    expect(first!.r.deleted).toBe(2);
  });
});

describe('other categories', () => {
  it('deletes stale sessions and superseded old consent records, keeping the consent in force', async () => {
    await db.as('compliance_app', { actor: 'user:c' }, async (tx) => {
      await tx`select compliance.ensure_profile('user:c')`;
      await tx`select compliance.touch_session('user:c', gen_random_uuid())`;
      await tx`select compliance.record_consent('user:c', 'analytics', true, 'v1')`;
      await tx`select compliance.record_consent('user:c', 'analytics', false, 'v2')`;
      await tx`select compliance.record_consent('user:c', 'marketing', true, 'v1')`;
    });
    const [sessions] = await later('91 days', () => worker((tx) => tx`select compliance.apply_retention('sessions', 100, false) as r`));
    expect(sessions!.r.deleted).toBeGreaterThanOrEqual(1);
    const [consents] = await later('8 years', () => worker((tx) => tx`select compliance.apply_retention('consent_records', 100, false) as r`));
    expect(consents!.r.deleted).toBe(1);
    const left = await db.admin`select purpose, granted from compliance.consent_records where user_id = 'user:c' order by purpose`;
    expect(left).toEqual([{ purpose: 'analytics', granted: false }, { purpose: 'marketing', granted: true }]);
  });

  it('keeps profiles until erasure and refuses unknown categories (RETCT)', async () => {
    const [kept] = await later('100 years', () => worker((tx) => tx`select compliance.apply_retention('user_profiles', 100, false) as r`));
    expect(kept!.r.deleted).toBe(0);
    await expectSqlState(worker((tx) => tx`select compliance.apply_retention('kittens')`), 'RETCT');
  });

  it('audits a policy change', async () => {
    await db.as('compliance_dpo', { actor: 'dpo:x', roles: ['dpo'] }, (tx) => tx`update compliance.retention_policies set retention_period = interval '60 days' where category = 'sessions'`);
    const [row] = await db.admin`select actor_id, details from compliance.audit_logs where action = 'retention.policy_changed' order by id desc limit 1`;
    expect(row!.actor_id).toBe('dpo:x');
    expect(row!.details.new.retention_period).toBe('60 days');
  });
});

describe('audit log partitions', () => {
  it('drops a partition older than seven years, audits it, and verification stays ok', async () => {
    await db.as('compliance_owner', null, async (tx) => {
      await tx`create table compliance.audit_logs_y2018m01 partition of compliance.audit_logs for values from ('2018-01-01') to ('2018-02-01')`;
      await tx`select compliance_private.protect_audit_relation('compliance.audit_logs_y2018m01')`;
      await tx`insert into compliance.audit_logs (occurred_at, action, category, details, personal_salt, personal_digest)
               select timestamptz '2018-01-15' + make_interval(mins => n), 'phi.access', 'hipaa', '{}', '\\x00'::bytea,
                      compliance_private.audit_personal_digest('\\x00'::bytea, null, null, null, null, null)
                 from generate_series(1, 50) n`;
    });
    await db.admin`select compliance.log_event('system.before', 'system')`;
    await db.admin`select compliance.seal_audit_log(7)`;
    await db.admin`select compliance.log_event('system.after', 'system')`;
    await db.admin`select compliance.seal_audit_log()`;
    const [before] = await db.admin`select * from compliance.verify_audit_log()`;
    expect(before!.ok).toBe(true);

    const [run] = await worker((tx) => tx`select compliance.apply_retention('audit_logs') as r`);
    expect(run!.r.partitions).toEqual([expect.objectContaining({ partition: 'audit_logs_y2018m01', rows: 50 })]);
    const [gone] = await db.admin`select to_regclass('compliance.audit_logs_y2018m01') as t`;
    expect(gone!.t).toBeNull();
    const [drop] = await db.admin`select details from compliance.audit_logs where action = 'audit.partition_dropped'`;
    // the month's rows share seals with younger rows: no seal goes, the kept ones list what went
    expect(drop!.details).toMatchObject({ seals_removed_through: null, rows: 50 });
    expect(drop!.details.dropped_rows_in_kept_seals).toHaveLength(50);

    // until the drop record is sealed, the rows it removed count as deleted: a drop record is
    // trusted only once sealed (an unsealed one may be forged, db/AUDIT_HASHING.md)
    const [unsealed] = await db.admin`select ok, problems from compliance.verify_audit_log()`;
    expect(unsealed!.problems.map((p: { kind: string }) => p.kind)).toContain('deleted_row');
    const outside = await verifyIndependently(db.adminUrl);
    expect(outside.problems.map((p) => p.kind)).toContain('deleted_row');

    await db.admin`select compliance.seal_audit_log()`;
    const [after] = await db.admin`select * from compliance.verify_audit_log()`;
    expect(after!.problems).toEqual([]);
    expect(after!.ok).toBe(true);
  });
});
