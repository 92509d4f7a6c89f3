/**
 * Health records in SQL, as each role meets them: who may reach them, that every refusal leaves
 * its audit row even when the caller then commits nothing else, erasure shreds the data key, and
 * the unusual-access review flags what it should.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { auditChains } from '../../core/verify/in-database.js';
import { expectSqlState, useTestDatabase } from '../provision/database.js';
import type { GroupRole } from '../provision/database.js';

const db = useTestDatabase();
const patient = (name: string) => ({ actor: `user:${name}`, roles: [] as string[] });
const staff = { actor: 'staff:sam', roles: ['staff'] };
const dpo = { actor: 'dpo:dana', roles: ['dpo'] };

async function ensure(userId: string) {
  await db.as('compliance_app', patient(userId.slice(5)), (tx) => tx`select compliance.ensure_profile(${userId}, null, null, null)`);
}

/** stores a record with stand-in ciphertext (the SQL side never decrypts) */
async function storeRecord(userId: string, category = 'lab_result') {
  const id = randomUUID();
  await db.as('compliance_app', patient(userId.slice(5)), async (tx) => {
    const [access] = await tx`select * from compliance.phi_access(${userId}, 'patient_request', 'create')`;
    expect(access!.allowed).toBe(true);
    const first = access!.wrapped_key === null;
    const [row] = await tx`select compliance.create_health_record(${id}::uuid, ${userId}, ${category}, 'restricted', 'patient_request',
      1, ${access!.recorded_at}, ${randomBytes(64)}, ${randomBytes(32)}, ${first ? randomBytes(60) : null}, ${first ? 1 : null}) as updated_at`;
    expect(row!.updated_at).toBeInstanceOf(Date);
  });
  return id;
}

async function auditRows(action: string, userId: string | null) {
  return db.admin`select action, outcome, failure_reason, user_id, actor_id, details from compliance.audit_logs
                   where action = ${action} and user_id is not distinct from ${userId} order by id`;
}

describe('health records in SQL', () => {
  it('are read by no client role directly', async () => {
    for (const role of ['compliance_app', 'compliance_dpo', 'compliance_staff', 'compliance_auditor', 'compliance_worker'] as GroupRole[]) {
      await expectSqlState(db.as(role, null, (tx) => tx`select count(*) from compliance.health_records`), '42501');
      await expectSqlState(db.as(role, null, (tx) => tx`select count(*) from compliance_private.subject_keys`), '42501');
    }
  });

  it('refuse staff without a grant and keep the phi.denied row though the caller changes nothing else', async () => {
    await ensure('user:pat');
    const [access] = await db.as('compliance_staff', staff, (tx) => tx`select * from compliance.phi_access('user:pat', 'treatment', 'read')`);
    expect(access).toMatchObject({ allowed: false, reason: 'no_active_grant', wrapped_key: null });
    const rows = await db.as('compliance_staff', staff, (tx) => tx`select * from compliance.read_health_records('user:pat', 'treatment')`);
    expect(rows).toHaveLength(0);
    const denied = await auditRows('phi.denied', 'user:pat');
    expect(denied).toHaveLength(2);
    expect(denied[0]).toMatchObject({ outcome: 'failure', failure_reason: 'no_active_grant', actor_id: 'staff:sam' });
    expect(denied[0]!.details).toMatchObject({ purpose: 'treatment', actor_role: 'staff', intent: 'read' });
  });

  it('let a patient reach only their own records', async () => {
    await ensure('user:ann');
    await ensure('user:bob');
    const annRecord = await storeRecord('user:ann');
    const [other] = await db.as('compliance_app', patient('bob'), (tx) => tx`select * from compliance.phi_access('user:ann', 'patient_request', 'read')`);
    expect(other).toMatchObject({ allowed: false, reason: 'not_the_patient' });
    // bob naming ann's record: refused and on record for ann
    const [deleted] = await db.as('compliance_app', patient('bob'), (tx) => tx`select compliance.delete_health_record(${annRecord}::uuid, 'patient_request') as ok`);
    expect(deleted!.ok).toBe(false);
    expect((await auditRows('phi.denied', 'user:ann')).map((r) => r.failure_reason)).toEqual(['not_the_patient', 'not_the_patient']);
    // a patient's purpose is their own request
    const [purpose] = await db.as('compliance_app', patient('ann'), (tx) => tx`select * from compliance.phi_access('user:ann', 'treatment', 'read')`);
    expect(purpose!.reason).toBe('patient_purpose_is_patient_request');
    const own = await db.as('compliance_app', patient('ann'), (tx) => tx`select id from compliance.read_health_records('user:ann', 'patient_request')`);
    expect(own.map((r) => r.id)).toEqual([annRecord]);
    expect((await auditRows('phi.read', 'user:ann')).at(-1)!.details.record_ids).toEqual([annRecord]);
  });

  it('let the DPO read records only in the transaction that registers an access request', async () => {
    await ensure('user:cy');
    const record = await storeRecord('user:cy');
    const alone = await db.as('compliance_dpo', dpo, (tx) => tx`select id from compliance.read_health_records('user:cy', 'patient_request')`);
    expect(alone).toHaveLength(0);
    expect((await auditRows('phi.denied', 'user:cy')).at(-1)!.failure_reason).toBe('no_access_request_in_this_transaction');
    const withRequest = await db.as('compliance_dpo', dpo, async (tx) => {
      await tx`select compliance.export_subject('user:cy', 'access')`;
      return tx`select id from compliance.read_health_records('user:cy', 'patient_request')`;
    });
    expect(withRequest.map((r) => r.id)).toEqual([record]);
    const [write] = await db.as('compliance_dpo', dpo, (tx) => tx`select * from compliance.phi_access('user:cy', 'patient_request', 'create')`);
    expect(write!.reason).toBe('dpo_reads_only');
  });

  it('refuse an unknown category with our SQLSTATE and the valid list, writing nothing', async () => {
    await ensure('user:dee');
    const error = await db.as('compliance_app', patient('dee'), async (tx) => {
      const [access] = await tx`select * from compliance.phi_access('user:dee', 'patient_request', 'create')`;
      return tx`select compliance.create_health_record(gen_random_uuid(), 'user:dee', 'horoscope', 'restricted', 'patient_request',
        1, ${access!.recorded_at}, ${randomBytes(64)}, ${randomBytes(32)}, ${randomBytes(60)}, 1)`;
    }).catch((e: { code: string; message: string }) => e);
    expect((error as { code: string }).code).toBe('PHICT');
    expect((error as { message: string }).message).toContain('lab_result');
    expect(await db.admin`select 1 from compliance_private.subject_keys where user_id = 'user:dee'`).toHaveLength(0);
  });

  it('shred the data key and the records on erasure, and return nothing afterwards', async () => {
    await ensure('user:eve');
    await storeRecord('user:eve');
    await storeRecord('user:eve', 'note');
    const [receipt] = await db.as('compliance_dpo', dpo, (tx) => tx`select compliance.erase_subject('user:eve', 'asked', true) as r`);
    expect(receipt!.r.deleted).toMatchObject({ health_records: 2, subject_keys: 1 });
    expect(await db.admin`select 1 from compliance_private.subject_keys where user_id = 'user:eve'`).toHaveLength(0);
    expect(await db.admin`select 1 from compliance.health_records where user_id = 'user:eve'`).toHaveLength(0);
    const [after] = await db.as('compliance_dpo', dpo, (tx) => tx`select * from compliance.phi_access('user:eve', 'patient_request', 'read')`);
    expect(after).toMatchObject({ allowed: false, reason: 'unknown_patient', wrapped_key: null });
    // the refusal about an erased patient names nobody
    expect(await auditRows('phi.denied', 'user:eve')).toHaveLength(0);
  });

  it('flag refused attempts and workforce access outside the day, once each', async () => {
    await ensure('user:fay');
    await db.admin`update compliance.phi_access_review_settings set day_starts = '00:00', day_ends = '00:01'`;
    await db.as('compliance_staff', staff, (tx) => tx`select * from compliance.phi_access('user:fay', 'treatment', 'read')`);
    const before = await db.as('compliance_worker', null, (tx) => tx`select * from compliance.review_phi_access()`);
    // nothing sealed yet: single rows wait for the seal
    expect(before.filter((f) => f.audit_row_id !== null)).toHaveLength(0);
    // every chain, each outside a transaction block as the worker seals (one per shard on Citus)
    for (const chain of await auditChains(db.admin)) await db.admin`select compliance.seal_audit_log(10000, 100, ${chain})`;
    const findings = await db.as('compliance_worker', null, (tx) => tx`select * from compliance.review_phi_access()`);
    expect(findings.filter((f) => f.actor_id === 'staff:sam').map((f) => f.finding)).toContain('refused');
    const alerts = await db.admin`select user_id, details from compliance.audit_logs where action = 'phi.unusual_access'`;
    expect(alerts.some((a) => a.user_id === 'staff:sam' && a.details.finding === 'refused')).toBe(true);
    const again = await db.as('compliance_worker', null, (tx) => tx`select * from compliance.review_phi_access()`);
    expect(again.filter((f) => f.finding === 'refused')).toHaveLength(0);
  });

  it('flag an actor over the weekly threshold', async () => {
    await db.admin`update compliance.phi_access_review_settings set weekly_threshold = 2`;
    await ensure('user:gus');
    await storeRecord('user:gus');
    await db.as('compliance_app', patient('gus'), (tx) => tx`select compliance.export_my_data('access')`);
    // the patient's own reads are not workforce access: a DPO's reads are
    for (let i = 0; i < 3; i += 1) {
      await db.as('compliance_dpo', dpo, async (tx) => {
        await tx`select compliance.export_subject('user:gus', 'access')`;
        await tx`select * from compliance.read_health_records('user:gus', 'patient_request')`;
      });
    }
    const [row] = await db.as('compliance_dpo', dpo, (tx) => tx`select * from compliance.phi_unusual_access where finding = 'over_threshold' and actor_id = 'dpo:dana'`);
    expect(Number(row!.accesses)).toBeGreaterThanOrEqual(3);
    const patientFlagged = await db.as('compliance_dpo', dpo, (tx) => tx`select 1 from compliance.phi_unusual_access where actor_id = 'user:gus'`);
    expect(patientFlagged).toHaveLength(0);
  });
});
