/**
 * Workforce access through the API: a request approved by someone else opens the
 * patient's records to a staff member; break-glass opens them at once and shows as an emergency
 * to the patient and in the FHIR AuditEvent bundle; approvers cannot decide their own grants.
 */
import { describe, expect, it } from 'vitest';
import { useServer } from './harness.js';

const api = useServer();

async function patientWithRecord(patient: string) {
  const token = await api.token(patient);
  const created = await api.call('POST', '/api/v1/users/me/health-records', token, { category: 'lab_result', data: { potassium: 4.1 } });
  expect(created.status, created.text).toBe(200);
  return token;
}

describe('workforce access over the API', () => {
  it('opens a patient\'s records to staff once another approver approves, and closes them on revocation', async () => {
    await patientWithRecord('user:wa1');
    const nurse = await api.token('staff:nora', ['staff']);
    const boss = await api.token('approver:ben', ['approver']);
    const records = '/api/v1/staff/patients/user:wa1/health-records?purpose=treatment';
    expect((await api.call('GET', records, nurse)).json.message).toContain('no_active_grant');
    const request = await api.call('POST', '/api/v1/staff/access-requests', nurse, { patient_id: 'user:wa1', purpose: 'treatment', reason: 'ward round' });
    expect(request.status, request.text).toBe(200);
    expect(request.json).toMatchObject({ kind: 'assignment', approved_at: null, grantee: 'staff:nora' });
    const pending = await api.call('GET', '/api/v1/approver/access-requests', boss);
    expect(pending.json.map((g: { id: string }) => g.id)).toContain(request.json.id);
    // a staff token does not reach the approver's routes
    expect((await api.call('GET', '/api/v1/approver/access-requests', nurse)).status).toBe(403);
    const approved = await api.call('POST', `/api/v1/approver/access-requests/${request.json.id}/approval`, boss, { days: 3 });
    expect(approved.status, approved.text).toBe(200);
    const read = await api.call('GET', records, nurse);
    expect(read.status, read.text).toBe(200);
    expect(read.json[0]).toMatchObject({ integrity: 'verified', data: { potassium: 4.1 } });
    const mine = await api.call('GET', '/api/v1/staff/access-grants', nurse);
    expect(mine.json[0]).toMatchObject({ id: request.json.id, approved_by: 'approver:ben' });
    expect((await api.call('POST', `/api/v1/approver/access-grants/${request.json.id}/revocation`, boss, {})).status).toBe(200);
    const after = await api.call('GET', records, nurse);
    expect(after.status).toBe(403);
    expect(after.json).toMatchObject({ data: { sqlstate: 'PHIDN' } });
    expect(after.json.message).toContain('grant_revoked');
  });

  it('refuses self-approval with GRSLF even to someone holding both roles', async () => {
    await patientWithRecord('user:wa2');
    const both = await api.token('staff:sol', ['staff', 'approver']);
    const request = await api.call('POST', '/api/v1/staff/access-requests', both, { patient_id: 'user:wa2', purpose: 'operations', reason: 'chart audit' });
    const self = await api.call('POST', `/api/v1/approver/access-requests/${request.json.id}/approval`, both, {});
    expect(self.status).toBe(403);
    expect(self.json.data.sqlstate).toBe('GRSLF');
    const short = await api.call('POST', '/api/v1/staff/patients/user:wa2/emergency-access', both, { reason: 'urgent' });
    // the documented minimum (server/limits.ts) refuses it before the database, which would say GRRSN
    expect(short.status).toBe(400);
    expect(short.json.issues).toMatchObject([{ path: ['reason'], code: 'too_small', minimum: 20 }]);
  });

  it('gives emergency access at once, shown as such to the patient and as ETREAT in the FHIR bundle', async () => {
    const patient = await patientWithRecord('user:wa3');
    const medic = await api.token('staff:max', ['staff']);
    const glass = await api.call('POST', '/api/v1/staff/patients/user:wa3/emergency-access', medic, { reason: 'found unresponsive, need medication list' });
    expect(glass.status, glass.text).toBe(200);
    expect(glass.json).toMatchObject({ kind: 'emergency', purpose: 'emergency' });
    const again = await api.call('POST', '/api/v1/staff/patients/user:wa3/emergency-access', medic, { reason: 'found unresponsive, need medication list' });
    expect(again.json.id).toBe(glass.json.id);
    const read = await api.call('GET', '/api/v1/staff/patients/user:wa3/health-records?purpose=emergency', medic);
    expect(read.status, read.text).toBe(200);

    const log = await api.call('GET', '/api/v1/users/me/access-log', patient);
    const emergencyRead = log.json.entries.find((e: { action: string; actor_id: string }) => e.action === 'phi.read' && e.actor_id === 'staff:max');
    expect(emergencyRead).toMatchObject({ emergency: true, grant_id: glass.json.id, actor_role: 'staff', purpose: 'emergency' });

    const bundle = await api.call('GET', '/api/v1/phi/audit-events?patient=user:wa3', await api.token('dpo:dana', ['dpo']));
    const events = bundle.json.entry.map((e: { resource: any }) => e.resource);
    const staffRead = events.find((e: any) => e.agent.some((a: any) => a.who.identifier?.value === 'staff:max'));
    expect(staffRead.purposeOfEvent[0].coding[0]).toMatchObject({ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'ETREAT' });
    expect(staffRead.agent.find((a: any) => a.requestor).policy).toEqual([`urn:pgcomply:access-grant:${glass.json.id}`]);

    const approver = await api.token('approver:ivy', ['approver']);
    const queue = await api.call('GET', '/api/v1/approver/emergency-reviews', approver);
    expect(queue.json.reviews.find((r: { grant_id: string }) => r.grant_id === glass.json.id)).toMatchObject({ overdue: false });
    const review = await api.call('POST', `/api/v1/approver/emergency-reviews/${glass.json.id}`, approver, { outcome: 'appropriate' });
    expect(review.status, review.text).toBe(200);
    expect(review.json).toMatchObject({ review_outcome: 'appropriate', reviewed_by: 'approver:ivy' });
  });

  it('keeps the review queue readable after the patient of an unreviewed emergency access is erased (patient null)', async () => {
    const patientToken = await api.token('user:gone-patient');
    expect((await api.call('PATCH', '/api/v1/users/me', patientToken, { full_name: 'Gone Patient' })).status).toBe(200);
    const staff = await api.token('staff:ria', ['staff']);
    const glass = await api.call('POST', '/api/v1/staff/patients/user%3Agone-patient/emergency-access', staff, { reason: 'collapsed at reception, history needed' });
    expect(glass.status).toBe(200);
    const dpo = await api.token('dpo:dora', ['dpo']);
    expect((await api.call('DELETE', '/api/v1/dpo/subjects/user%3Agone-patient?confirm=true&reason=asked', dpo)).status).toBe(200);
    const queue = await api.call('GET', '/api/v1/approver/emergency-reviews', await api.token('approver:ivo', ['approver']));
    expect(queue.status).toBe(200);
    expect(queue.json.reviews.find((r: any) => r.grant_id === String(glass.json.id))).toMatchObject({ patient: null, grantee: 'staff:ria' });
  });

  it('exports the outbox\'s alerts and the uptime the database computes on /metrics', async () => {
    await api.db.admin`insert into compliance_private.worker_heartbeats
                       select date_trunc('minute', now()) - make_interval(mins => m) from generate_series(1, 10) m where m <> 5`;
    const metrics = await api.call('GET', '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.text).toMatch(/pgcomply_alerts_pending\{topic="phi\.emergency_access"\} [1-9]/);
    await api.db.admin`update compliance.alert_outbox set state = 'delivered', delivered_at = now(), delivered_via = 'log'`;
    expect((await api.call('GET', '/metrics')).text).toMatch(/pgcomply_alerts_total\{topic="phi\.emergency_access",outcome="delivered"\} [1-9]/);
    expect(metrics.text).toMatch(/pgcomply_sla_uptime_ratio 0\.9/);
  });
});
