/**
 * No answer tells a role what it must not learn: the workforce cannot tell an erased patient from
 * one who never existed, nor an unknown patient from one they hold no grant for; the app role
 * cannot learn that another subject holds a conversation or session id. The audit row keeps the
 * real reason, for the DPO.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { expectSqlState } from '../provision/database.js';
import { useServer } from './harness.js';

const api = useServer();
let staff: string;
let approver: string;
const shape = (answer: { status: number; json: any }) => ({ status: answer.status, code: answer.json?.code, sqlstate: answer.json?.data?.sqlstate ?? answer.json?.sqlstate, message: answer.json?.message });

beforeAll(async () => {
  staff = await api.token('staff:sam', ['staff']);
  approver = await api.token('approver:ann', ['approver']);
  const dpo = await api.token('dpo:dana', ['dpo']);
  await api.call('GET', '/api/v1/users/me', await api.token('user:erased-one'));
  await api.call('GET', '/api/v1/users/me', await api.token('user:present'));
  expect((await api.call('DELETE', '/api/v1/dpo/subjects/user%3Aerased-one?reason=asked&confirm=true', dpo)).status).toBe(200);
});

describe('the workforce', () => {
  it('gets the same answer (UNKSJ) for an erased patient as for one who never existed, on every grant route', async () => {
    const ask = (patient: string) => api.call('POST', '/api/v1/staff/access-requests', staff, { patient_id: patient, scope: 'phi.read', purpose: 'treatment', reason: 'follow-up visit' });
    const breakGlass = (patient: string) => api.call('POST', `/api/v1/staff/patients/${encodeURIComponent(patient)}/emergency-access`, staff, { reason: 'unconscious patient in the emergency room' });
    const grant = (patient: string) => api.call('POST', '/api/v1/approver/access-grants', approver, { grantee: 'staff:sam', patient_id: patient, purpose: 'treatment', reason: 'care team' });
    for (const route of [ask, breakGlass, grant]) {
      const erased = shape(await route('user:erased-one'));
      const never = shape(await route('user:never-was'));
      expect(erased).toEqual(never);
      expect(erased.status).toBe(404);
    }
  });

  it('reads the same refusal for an unknown patient as for one it holds no grant for, and the audit row keeps the real reason', async () => {
    const read = (patient: string) => api.call('GET', `/api/v1/staff/patients/${encodeURIComponent(patient)}/health-records?purpose=treatment`, staff);
    const unknown = await read('user:never-was');
    const ungranted = await read('user:present');
    const erased = await read('user:erased-one');
    expect(shape(unknown)).toEqual(shape(ungranted));
    expect(shape(erased)).toEqual(shape(ungranted));
    expect(unknown.status).toBe(403);
    expect(unknown.text).toContain('no_active_grant');
    const reasons = await api.db.admin`select failure_reason from compliance.audit_logs where action = 'phi.denied' and actor_id = 'staff:sam' order by id`;
    expect(reasons.map((r) => r.failure_reason)).toEqual(['unknown_patient', 'no_active_grant', 'unknown_patient']);
  });
});

describe('the app role', () => {
  it('gets 42501 for another subject\'s conversation or session id, as for another subject\'s row, never 23505', async () => {
    const [theirs] = await api.db.as('compliance_app', { actor: 'user:present' }, (tx) => tx`select conversation_id from compliance.start_conversation('user:present', 'mine')`);
    await api.db.as('compliance_app', { actor: 'user:present' }, (tx) => tx`insert into compliance.sessions (id, user_id) values ('00000000-0000-4000-8000-0000000000aa', 'user:present')`);
    await api.db.as('compliance_app', { actor: 'user:snoop' }, (tx) => tx`select compliance.ensure_profile('user:snoop')`);
    const snoop = { actor: 'user:snoop' };
    await expectSqlState(api.db.as('compliance_app', snoop, (tx) => tx`insert into compliance.conversations (conversation_id, user_id) values (${theirs!.conversation_id}, 'user:snoop')`), '42501');
    await expectSqlState(api.db.as('compliance_app', snoop, (tx) => tx`insert into compliance.sessions (id, user_id) values ('00000000-0000-4000-8000-0000000000aa', 'user:snoop')`), '42501');
    // an id nobody holds is fine
    await api.db.as('compliance_app', snoop, (tx) => tx`insert into compliance.sessions (id, user_id) values ('00000000-0000-4000-8000-0000000000bb', 'user:snoop')`);
  });
});
