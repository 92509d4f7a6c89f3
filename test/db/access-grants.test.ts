/**
 * Workforce access in SQL: grants decided at the moment of access against the
 * database clock, no self-approval whatever roles one holds, break-glass at once and never
 * stacked, its alert in the same transaction, and the review queue with overdue ones flagged.
 * Times are moved in the table, never slept through.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { TransactionSql } from 'postgres';
import { expectSqlState, useTestDatabase } from '../provision/database.js';
import { patientWithRecord as withRecord } from '../provision/patients.js';

const db = useTestDatabase();
const staff = (name: string) => ({ actor: `staff:${name}`, roles: ['staff'] });
const approver = (name: string) => ({ actor: `approver:${name}`, roles: ['approver'] });

const patientWithRecord = (userId: string) => withRecord(db, userId);

/** as the staff member: the records they get and why not */
async function staffRead(name: string, patient: string, purpose = 'treatment') {
  return db.as('compliance_staff', staff(name), async (tx) => {
    const [access] = await tx`select allowed, reason from compliance.phi_access(${patient}, ${purpose}, 'read')`;
    const rows = await tx`select id from compliance.read_health_records(${patient}, ${purpose})`;
    return { ...access!, rows: rows.length };
  });
}

// rows as the tests read them: any columns
type Rows = any[];
const asStaff = (name: string, fn: (tx: TransactionSql) => Promise<unknown>) => db.as('compliance_staff', staff(name), fn) as Promise<Rows>;
const asApprover = (name: string, fn: (tx: TransactionSql) => Promise<unknown>) => db.as('compliance_approver', approver(name), fn) as Promise<Rows>;

describe('assignment grants', () => {
  it('give access only once approved, and only until expiry or revocation', async () => {
    await patientWithRecord('user:p1');
    expect(await staffRead('ana', 'user:p1')).toMatchObject({ allowed: false, reason: 'no_active_grant', rows: 0 });
    const [request] = await asStaff('ana', (tx) => tx`select * from compliance.request_access('user:p1', 'phi.read', 'treatment', 'follow-up visit')`);
    expect(await staffRead('ana', 'user:p1')).toMatchObject({ allowed: false, reason: 'grant_not_approved' });
    const pending = await asApprover('bo', (tx) => tx`select id from compliance.pending_access_requests()`);
    expect(pending.map((r: any) => r.id)).toContain(request!.id);
    const [approved] = await asApprover('bo', (tx) => tx`select * from compliance.approve_access_request(${request!.id}, 7)`);
    expect(approved!.expires_at.getTime() - approved!.starts_at.getTime()).toBe(7 * 86_400_000);
    expect(await staffRead('ana', 'user:p1')).toMatchObject({ allowed: true, rows: 1 });
    // another purpose, or writing, is not what was granted
    expect(await staffRead('ana', 'user:p1', 'payment')).toMatchObject({ allowed: false, reason: 'grant_purpose' });
    const [write] = await asStaff('ana', (tx) => tx`select allowed, reason from compliance.phi_access('user:p1', 'treatment', 'create')`);
    expect(write).toMatchObject({ allowed: false, reason: 'grant_scope' });
    // the boundary, by moving the grant's times
    await db.admin`update compliance.access_grants set expires_at = clock_timestamp() + interval '2 seconds' where id = ${request!.id}`;
    expect(await staffRead('ana', 'user:p1')).toMatchObject({ allowed: true });
    await db.admin`update compliance.access_grants set starts_at = now() - interval '8 days', expires_at = clock_timestamp() - interval '1 millisecond' where id = ${request!.id}`;
    expect(await staffRead('ana', 'user:p1')).toMatchObject({ allowed: false, reason: 'grant_expired', rows: 0 });
    await db.admin`update compliance.access_grants set expires_at = now() + interval '1 day' where id = ${request!.id}`;
    expect(await staffRead('ana', 'user:p1')).toMatchObject({ allowed: true });
    await asApprover('bo', (tx) => tx`select compliance.revoke_access_grant(${request!.id}, 'done')`);
    expect(await staffRead('ana', 'user:p1')).toMatchObject({ allowed: false, reason: 'grant_revoked' });
    const actions = (await db.admin`select action from compliance.audit_logs where action like 'access.%' and details ->> 'grant_id' = ${String(request!.id)} order by id`).map((r) => r.action);
    expect(actions).toEqual(['access.requested', 'access.approved', 'access.revoked']);
    const reads = await db.admin`select details from compliance.audit_logs where action = 'phi.read' and user_id = 'user:p1' and actor_id = 'staff:ana'`;
    expect(reads.every((r) => r.details.grant_id === Number(request!.id) && r.details.grant_kind === 'assignment')).toBe(true);
  });

  it('are never decided by their grantee, whatever roles they hold', async () => {
    await patientWithRecord('user:p2');
    const [request] = await asStaff('cy', (tx) => tx`select id from compliance.request_access('user:p2', 'phi.read', 'operations', 'audit of the chart')`);
    const cyAsApprover = { actor: 'staff:cy', roles: ['staff', 'approver'] };
    await expectSqlState(db.as('compliance_approver', cyAsApprover, (tx) => tx`select compliance.approve_access_request(${request!.id})`), 'GRSLF');
    await expectSqlState(db.as('compliance_approver', cyAsApprover, (tx) => tx`select compliance.deny_access_request(${request!.id})`), 'GRSLF');
    await expectSqlState(db.as('compliance_approver', cyAsApprover, (tx) => tx`select compliance.grant_access('staff:cy', 'user:p2', 'phi.read', 'treatment', 'me')`), 'GRSLF');
    const [glass] = await asStaff('cy', (tx) => tx`select id from compliance.break_glass('user:p2', 'patient collapsed in the waiting room')`);
    await expectSqlState(db.as('compliance_approver', cyAsApprover, (tx) => tx`select compliance.review_emergency_access(${glass!.id}, 'appropriate')`), 'GRSLF');
    // the table refuses it too, should a function ever forget
    await expectSqlState(db.admin`update compliance.access_grants set approved_by = grantee, approved_at = now() where id = ${request!.id}`, '23514');
  });

  it('name the SQLSTATE of each bad request', async () => {
    await patientWithRecord('user:p3');
    await expectSqlState(asStaff('dee', (tx) => tx`select compliance.break_glass('user:p3', 'too short')`), 'GRRSN');
    await expectSqlState(asStaff('dee', (tx) => tx`select compliance.request_access('user:p3', 'phi.read', 'treatment', '')`), 'GRRSN');
    await expectSqlState(asStaff('dee', (tx) => tx`select compliance.request_access('user:nobody', 'phi.read', 'treatment', 'x')`), 'UNKSJ');
    await expectSqlState(asStaff('dee', (tx) => tx`select compliance.request_access('user:p3', 'phi.delete', 'treatment', 'x')`), 'BADRG');
    await expectSqlState(asApprover('bo', (tx) => tx`select compliance.approve_access_request(999999)`), 'GRNOT');
    await expectSqlState(asApprover('bo', (tx) => tx`select compliance.grant_access('staff:dee', 'user:p3', 'phi.read', 'treatment', 'x', 400)`), 'BADRG');
    const [granted] = await asApprover('bo', (tx) => tx`select id from compliance.grant_access('staff:dee', 'user:p3', 'phi.read', 'treatment', 'rounds')`);
    await expectSqlState(asApprover('bo', (tx) => tx`select compliance.approve_access_request(${granted!.id})`), 'GRSTA');
    // the grant functions are not the patient's or the staff member's to decide
    await expectSqlState(asStaff('dee', (tx) => tx`select compliance.approve_access_request(${granted!.id})`), '42501');
    await expectSqlState(db.as('compliance_app', { actor: 'user:p3' }, (tx) => tx`select compliance.break_glass('user:p3', 'the patient is not allowed to do this')`), '42501');
  });
});

describe('break-glass', () => {
  it('is active at once for at most 4 hours, never stacks, alerts in its transaction and waits for review', async () => {
    await patientWithRecord('user:p4');
    const reason = 'unconscious patient, allergy history needed';
    const [first] = await asStaff('eli', (tx) => tx`select * from compliance.break_glass('user:p4', ${reason})`);
    expect(first!.expires_at.getTime() - first!.starts_at.getTime()).toBe(4 * 3_600_000);
    expect(await staffRead('eli', 'user:p4', 'emergency')).toMatchObject({ allowed: true, rows: 1 });
    const [again] = await asStaff('eli', (tx) => tx`select * from compliance.break_glass('user:p4', ${reason})`);
    expect(again!.id).toBe(first!.id);
    expect(again!.expires_at).toEqual(first!.expires_at);
    const alerts = await db.admin`select topic, user_id, actor_id, payload, state from compliance.alert_outbox where payload ->> 'grant_id' = ${String(first!.id)}`;
    expect(alerts).toMatchObject([{ topic: 'phi.emergency_access', user_id: 'user:p4', actor_id: 'staff:eli', state: 'pending' }]);
    // an emergency that rolls back raises no alert
    const rolledBack = await db.as('compliance_staff', staff('fay'), async (tx) => {
      await tx`select compliance.break_glass('user:p4', ${reason})`;
      throw new Error('the request fails after break_glass');
    }).catch((error: Error) => error.message);
    expect(rolledBack).toBe('the request fails after break_glass');
    expect(await db.admin`select 1 from compliance.alert_outbox where actor_id = 'staff:fay'`).toHaveLength(0);
    const reads = await db.admin`select details from compliance.audit_logs where action = 'phi.read' and actor_id = 'staff:eli'`;
    expect(reads[0]!.details).toMatchObject({ grant_kind: 'emergency', purpose: 'emergency' });

    const queue = await asApprover('gil', (tx) => tx`select * from compliance.emergency_review_queue()`);
    const entry = queue.find((q: any) => q.grant_id === first!.id);
    expect(Number(entry.days_left)).toBeCloseTo(3, 0);
    expect(entry.overdue).toBe(false);
    await db.admin`update compliance.access_grants set review_due_at = now() - interval '1 hour' where id = ${first!.id}`;
    const late = await asApprover('gil', (tx) => tx`select * from compliance.emergency_review_queue()`);
    expect(late.find((q: any) => q.grant_id === first!.id)).toMatchObject({ overdue: true });
    expect(Number(late[0]!.overdue_total)).toBeGreaterThanOrEqual(1);
    const [reviewed] = await asApprover('gil', (tx) => tx`select * from compliance.review_emergency_access(${first!.id}, 'inappropriate', 'no emergency on record')`);
    expect(reviewed).toMatchObject({ review_outcome: 'inappropriate', reviewed_by: 'approver:gil' });
    expect(reviewed!.revoked_at).not.toBeNull();
    expect(await staffRead('eli', 'user:p4', 'emergency')).toMatchObject({ allowed: false, reason: 'grant_revoked' });
    const topics = (await db.admin`select topic from compliance.alert_outbox where payload ->> 'grant_id' = ${String(first!.id)} order by id`).map((r) => r.topic);
    expect(topics).toEqual(['phi.emergency_access', 'phi.emergency_review_inappropriate']);
    await expectSqlState(asApprover('gil', (tx) => tx`select compliance.review_emergency_access(${first!.id}, 'appropriate')`), 'GRSTA');
  });

  it('shows the patient an emergency access as one, and leaves no name behind when people are erased', async () => {
    await patientWithRecord('user:p5');
    await asStaff('hal', (tx) => tx`select compliance.break_glass('user:p5', 'cardiac arrest in the lobby, chart needed')`);
    await staffRead('hal', 'user:p5', 'emergency');
    const log = await db.as('compliance_app', { actor: 'user:p5' }, (tx) => tx`select * from compliance.phi_access_log()`);
    const read = log.find((e: any) => e.action === 'phi.read' && e.actor_id === 'staff:hal');
    expect(read).toMatchObject({ actor_role: 'staff', purpose: 'emergency', emergency: true });
    expect(log.some((e: any) => e.action === 'access.emergency')).toBe(true);
    // the staff member is erased: grants and alerts keep no trace of them
    await db.as('compliance_app', { actor: 'staff:hal' }, (tx) => tx`select compliance.ensure_profile('staff:hal')`);
    await db.as('compliance_dpo', { actor: 'dpo:dana', roles: ['dpo'] }, (tx) => tx`select compliance.erase_subject('staff:hal', 'left', true)`);
    expect(await db.admin`select 1 from compliance.access_grants where 'staff:hal' in (grantee, requested_by)`).toHaveLength(0);
    expect(await db.admin`select 1 from compliance.alert_outbox where actor_id = 'staff:hal'`).toHaveLength(0);
    // the patient is erased: the emergency access nobody reviewed yet stays due, without the patient
    const [receipt] = await db.as('compliance_dpo', { actor: 'dpo:dana', roles: ['dpo'] }, (tx) => tx`select compliance.erase_subject('user:p5', 'asked', true) as r`);
    expect(receipt!.r.deleted).toMatchObject({ access_grants: 0, emergency_reviews_kept: 1 });
    expect(await db.admin`select 1 from compliance.alert_outbox where user_id = 'user:p5'`).toHaveLength(0);
    expect(await db.admin`select 1 from compliance.access_grants where user_id = 'user:p5'`).toHaveLength(0);
    const queue = await asApprover('quinn', (tx) => tx`select grant_id, patient, reason, overdue from compliance.emergency_review_queue()`);
    const kept = queue.find((g: any) => g.patient === null)!;
    expect(kept).toMatchObject({ reason: 'cardiac arrest in the lobby, chart needed', overdue: false });
    await asApprover('quinn', (tx) => tx`select compliance.review_emergency_access(${kept.grant_id}, 'appropriate', 'chart was needed')`);
    expect((await asApprover('quinn', (tx) => tx`select grant_id from compliance.emergency_review_queue()`)).map((g: any) => g.grant_id)).not.toContain(kept.grant_id);
  });

  it('lets a reviewed emergency access go with the patient it was about', async () => {
    await patientWithRecord('user:p6');
    const [grant] = await asStaff('ivy', (tx) => tx`select id from compliance.break_glass('user:p6', 'seizure in the waiting room, chart needed')`);
    await asApprover('quinn', (tx) => tx`select compliance.review_emergency_access(${grant!.id}, 'appropriate', 'fine')`);
    const [receipt] = await db.as('compliance_dpo', { actor: 'dpo:dana', roles: ['dpo'] }, (tx) => tx`select compliance.erase_subject('user:p6', 'asked', true) as r`);
    expect(receipt!.r.deleted).toMatchObject({ access_grants: 1, emergency_reviews_kept: 0 });
  });
});
