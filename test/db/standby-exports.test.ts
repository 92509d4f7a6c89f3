/**
 * An export read on a hot standby: the primary records the request, the export and the PHI read
 * before anything is read (compliance.lease_subject_export), and hands out a ticket. The readers
 * that take the ticket refuse to run on a primary; the failover harness reads on a real standby.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { expectSqlState, type GroupRole, useTestDatabase } from '../provision/database.js';

const db = useTestDatabase();
const dpo = { actor: 'dpo:dana', roles: ['dpo'] };
const patient = (userId: string) => ({ actor: userId, roles: [] as string[] });

async function subjectWithRecord(userId: string) {
  const id = randomUUID();
  await db.as('compliance_app', patient(userId), async (tx) => {
    await tx`select compliance.ensure_profile(${userId}, null, null, null)`;
    const [access] = await tx`select * from compliance.phi_access(${userId}, 'patient_request', 'create')`;
    await tx`select compliance.create_health_record(${id}::uuid, ${userId}, 'lab_result', 'restricted', 'patient_request',
      1, ${access!.recorded_at}, ${randomBytes(64)}, ${randomBytes(32)}, ${randomBytes(60)}, 1)`;
  });
  return id;
}

const lease = async (userId: string, kind = 'access') =>
  (await db.as('compliance_dpo', dpo, (tx) => tx<{ ticket: string; expires_at: Date; health_records: number }[]>`
    select * from compliance.lease_subject_export(${userId}, ${kind})`))[0]!;

describe('an export leased for a standby', () => {
  it('is recorded on the primary before any read: the completed request, subject.exported (read_on standby) and phi.read naming the records', async () => {
    const record = await subjectWithRecord('user:lena');
    const leased = await lease('user:lena', 'portability');
    expect(leased).toMatchObject({ health_records: 1 });
    expect(leased.expires_at.getTime()).toBeGreaterThan(Date.now());
    const [request] = await db.admin`select kind, status from compliance.dsr_requests where user_id = 'user:lena'`;
    expect(request).toMatchObject({ kind: 'portability', status: 'completed' });
    const rows = await db.admin`select action, details from compliance.audit_logs where user_id = 'user:lena' and action in ('subject.exported', 'phi.read') order by id`;
    expect(rows.map((r) => r.action)).toEqual(['subject.exported', 'phi.read']);
    expect(rows[0]!.details).toMatchObject({ kind: 'portability', read_on: 'standby' });
    expect(JSON.stringify(rows[1]!.details)).toContain(record);
    const [stored] = await db.admin`select record_ids, subject_digest = sha256(convert_to('user:lena', 'UTF8')) as for_lena from compliance_private.standby_read_leases where ticket = ${leased.ticket}::uuid`;
    expect(stored).toMatchObject({ record_ids: [record], for_lena: true });
  });

  it('is read only on a standby: on a primary the readers refuse (STBYO), and the lease names no one in clear', async () => {
    await subjectWithRecord('user:mo');
    const { ticket } = await lease('user:mo');
    await expectSqlState(db.as('compliance_dpo', dpo, (tx) => tx`select compliance.standby_subject_export(${ticket}::uuid, 'user:mo')`), 'STBYO');
    await expectSqlState(db.as('compliance_dpo', dpo, (tx) => tx`select * from compliance.standby_health_records(${ticket}::uuid, 'user:mo')`), 'STBYO');
    const [named] = await db.admin`select count(*)::int as n from compliance_private.standby_read_leases l where l::text like '%user:mo%'`;
    expect(named!.n).toBe(0);
  });

  it('takes an integrity failure found on the standby only for a record the lease let it read (RDLSE otherwise)', async () => {
    const record = await subjectWithRecord('user:nia');
    const other = await subjectWithRecord('user:oz');
    const { ticket } = await lease('user:nia');
    const [reported] = await db.as('compliance_dpo', dpo, (tx) => tx`select compliance.report_standby_integrity_failure(${ticket}::uuid, ${record}::uuid, 'integrity_code') as id`);
    const [row] = await db.admin`select action, outcome, failure_reason, user_id from compliance.audit_logs where id = ${reported!.id}`;
    expect(row).toMatchObject({ action: 'phi.integrity_failure', outcome: 'failure', failure_reason: 'integrity_code', user_id: 'user:nia' });
    await expectSqlState(db.as('compliance_dpo', dpo, (tx) => tx`select compliance.report_standby_integrity_failure(${ticket}::uuid, ${other}::uuid, 'integrity_code')`), 'RDLSE');
    await expectSqlState(db.as('compliance_dpo', dpo, (tx) => tx`select compliance.report_standby_integrity_failure(${randomUUID()}::uuid, ${record}::uuid, 'integrity_code')`), 'RDLSE');
  });

  it('is the DPO\'s alone, and refused for an erased subject (ERASD) or an unknown one (UNKSJ)', async () => {
    await subjectWithRecord('user:pip');
    const others: [GroupRole, { actor: string; roles: string[] } | null][] = [['compliance_app', patient('user:pip')],
      ['compliance_staff', { actor: 'staff:sam', roles: ['staff'] }], ['compliance_auditor', { actor: 'auditor:al', roles: ['auditor'] }], ['compliance_worker', null]];
    for (const [role, actor] of others) {
      await expectSqlState(db.as(role, actor, (tx) => tx`select * from compliance.lease_subject_export('user:pip', 'access')`), '42501');
      await expectSqlState(db.as(role, actor, (tx) => tx`select count(*) from compliance_private.standby_read_leases`), '42501');
    }
    await expectSqlState(db.as('compliance_dpo', dpo, (tx) => tx`select * from compliance.lease_subject_export('user:nobody', 'access')`), 'UNKSJ');
    await db.as('compliance_dpo', dpo, (tx) => tx`select compliance.erase_subject('user:pip', 'asked', true)`);
    await expectSqlState(db.as('compliance_dpo', dpo, (tx) => tx`select * from compliance.lease_subject_export('user:pip', 'access')`), 'ERASD');
    await expectSqlState(db.as('compliance_dpo', dpo, (tx) => tx`select * from compliance.lease_subject_export('user:pip', 'sideways')`), 'BADRG');
  });
});
