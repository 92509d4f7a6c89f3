/**
 * Requests to other systems in SQL, as each role meets them: tasks made in the request's own
 * transaction for each kind, asked once while open, superseded by an erasure; who may claim,
 * record, call back and confirm, and what a forged caller can make them say.
 */
import { describe, expect, it } from 'vitest';
import { expectSqlState, useTestDatabase } from '../provision/database.js';

const db = useTestDatabase();
const dpo = { actor: 'dpo:dana', roles: ['dpo'] };
const asDpo = (work: (tx: any) => Promise<any>): Promise<any> => db.as('compliance_dpo', dpo, work);
const asWorker = (work: (tx: any) => Promise<any>): Promise<any> => db.as('compliance_worker', null, work);
const asReceiver = (system: string, work: (tx: any) => Promise<any>): Promise<any> =>
  db.admin.begin(async (tx) => {
    await tx`set local role compliance_receiver`;
    await tx`select compliance.set_request_context(${`system:${system}`}, array['receiver'])`;
    return work(tx);
  });

async function subject(userId: string) {
  await db.as('compliance_app', { actor: userId, roles: [] }, (tx) => tx`select compliance.ensure_profile(${userId}, null, null, null)`);
}

const tasksOf = async (requestId: number) =>
  db.admin`select id, system, kind, state, user_id from compliance.propagation_tasks where request_id = ${requestId} order by system`;

describe('propagation tasks', () => {
  it('are made for a completed rectification and a restriction, each request in progress until its systems confirm', async () => {
    await asDpo(async (tx) => {
      await tx`select compliance.record_processing_system('billing', 'Billing', 'processor', 'DE', connector => 'manual', request_kinds => array['rectification', 'restriction'])`;
      await tx`select compliance.record_processing_system('stats', 'Statistics', 'analytics', 'DE', connector => 'none')`;
    });
    await subject('user:pt1');
    const rectified = await asDpo(async (tx) => {
      const [request] = await tx`select id from compliance.register_dsr('user:pt1', 'rectification', 'wrong address')`;
      const [done] = await tx`select * from compliance.complete_dsr(${request.id}, 'completed', 'corrected here')`;
      return done;
    });
    expect(rectified.status).toBe('in_progress');
    expect((await tasksOf(rectified.id)).map((t) => [t.system, t.kind, t.state])).toEqual([['billing', 'rectification', 'awaiting_confirmation']]);
    const [restricted] = await asDpo((tx) => tx`select * from compliance.restrict_processing('user:pt1', 'accuracy contested')`);
    expect(restricted.status).toBe('in_progress');
    const [task] = await tasksOf(restricted.id);
    await asDpo((tx) => tx`select compliance.confirm_propagation(${task!.id}, 'billing restricted the account, phone call 10:20')`);
    const [after] = await db.admin`select status, completed_at from compliance.dsr_requests where id = ${restricted.id}`;
    expect(after!.status).toBe('completed');
  });

  it('ask a system once while its task for the same subject and kind is open', async () => {
    await asDpo((tx) => tx`select compliance.record_processing_system('crm', 'CRM', 'processor', 'FR', connector => 'manual', request_kinds => array['export'])`);
    await subject('user:pt2');
    await asDpo(async (tx) => {
      await tx`select compliance.export_subject('user:pt2', 'access')`;
      await tx`select compliance.export_subject('user:pt2', 'portability')`;
    });
    const tasks = await db.admin`select kind from compliance.propagation_tasks where user_id = 'user:pt2' and system = 'crm'`;
    expect(tasks).toHaveLength(1);
  });

  it('keep an erased subject\'s id only until each system confirms, and cancel what the subject asked before', async () => {
    await asDpo((tx) => tx`select compliance.record_processing_system('desk', 'Help desk', 'processor', 'DE', connector => 'manual', request_kinds => array['export', 'erasure'])`);
    await subject('user:pt3');
    await asDpo((tx) => tx`select compliance.export_subject('user:pt3', 'access')`);
    const [{ receipt }] = await asDpo((tx) => tx`select compliance.erase_subject('user:pt3', 'Art. 17 request', true) as receipt`);
    const tasks = await db.admin`select kind, state, user_id, confirmation_note from compliance.propagation_tasks where system = 'desk' order by id`;
    expect(tasks.map((t) => [t.kind, t.state, t.user_id])).toEqual([['export', 'cancelled', null], ['erasure', 'awaiting_confirmation', 'user:pt3']]);
    const [erasure] = await tasksOf(receipt.dsr_request_id);
    await asDpo((tx) => tx`select compliance.confirm_propagation(${erasure!.id}, 'desk deleted the tickets, e-mail of 7 December')`);
    const [named] = (await db.admin`select count(*)::int as n from compliance.propagation_tasks where user_id = 'user:pt3'`) as any;
    expect(named.n).toBe(0);
  });

  it('are claimed and recorded by the worker only, and confirmed by callback only by their own system (PRTSK)', async () => {
    await asDpo(async (tx) => {
      await tx`select compliance.record_processing_system('hook_a', 'A', 'other', 'DE', connector => 'webhook', endpoint_url => 'http://127.0.0.1:9/a', request_kinds => array['export'])`;
      await tx`select compliance.record_processing_system('hook_b', 'B', 'other', 'DE', connector => 'webhook', endpoint_url => 'http://127.0.0.1:9/b', request_kinds => array['export'])`;
    });
    await subject('user:pt4');
    await asDpo((tx) => tx`select compliance.export_subject('user:pt4', 'access')`);
    const [a] = await db.admin`select id from compliance.propagation_tasks where system = 'hook_a' and user_id = 'user:pt4'`;
    await expect(db.as('compliance_app', { actor: 'user:pt4', roles: [] }, (tx) => tx`select compliance.claim_propagation_tasks()`)).rejects.toThrow(/permission denied/);
    await expect(asDpo((tx) => tx`select compliance.record_propagation_attempt(${a!.id}, 'confirmed')`)).rejects.toThrow(/permission denied/);
    await expect(asDpo((tx) => tx`select compliance.record_propagation_callback(${a!.id}, 'done')`)).rejects.toThrow(/permission denied/);
    await expect(asWorker((tx) => tx`select compliance.record_propagation_callback(${a!.id}, 'done')`)).rejects.toThrow(/permission denied/);
    await expectSqlState(asReceiver('hook_b', (tx) => tx`select compliance.record_propagation_callback(${a!.id}, 'done')`), 'PRTSK');
    await expect(asReceiver('hook_b', (tx) => tx`select * from compliance.propagation_tasks`)).rejects.toThrow(/permission denied/);
    const claimed = await asWorker((tx) => tx`select id, system, user_id from compliance.claim_propagation_tasks(60, 100)`);
    expect(claimed.map((t: any) => t.system)).toEqual(expect.arrayContaining(['hook_a', 'hook_b']));
    // a second claim inside the lease takes nothing: the first worker has them
    expect(await asWorker((tx) => tx`select id from compliance.claim_propagation_tasks(60, 100) where user_id = 'user:pt4'`)).toHaveLength(0);
    const [confirmed] = await asReceiver('hook_a', (tx) => tx`select state, confirmed_via from compliance.record_propagation_callback(${a!.id}, 'nothing_held')`);
    expect(confirmed).toMatchObject({ state: 'confirmed', confirmed_via: 'callback' });
    // the worker's late answer does not undo the callback
    const [late] = await asWorker((tx) => tx`select state from compliance.record_propagation_attempt(${a!.id}, 'retry', null, 'timeout', 30)`);
    expect(late.state).toBe('confirmed');
    await expectSqlState(asReceiver('hook_a', (tx) => tx`select compliance.record_propagation_callback(${a!.id}, 'done')`), 'PRTSK');
  });

  it('let a subject see which systems its requests were sent to, and no one else\'s', async () => {
    await asDpo((tx) => tx`select compliance.record_processing_system('lab', 'Lab portal', 'processor', 'DE', connector => 'manual', request_kinds => array['export'])`);
    await subject('user:pt5');
    await subject('user:pt6');
    await asDpo(async (tx) => {
      await tx`select compliance.export_subject('user:pt5', 'access')`;
      await tx`select compliance.export_subject('user:pt6', 'access')`;
    });
    const seen = await db.as('compliance_app', { actor: 'user:pt5', roles: [] }, (tx) => tx`select user_id, system from compliance.propagation_tasks where system = 'lab'`);
    expect(seen).toEqual([{ user_id: 'user:pt5', system: 'lab' }]);
    await expect(db.as('compliance_app', { actor: 'user:pt5', roles: [] }, (tx) => tx`select response from compliance.propagation_tasks`)).rejects.toThrow(/permission denied/);
    const [{ document }] = await asDpo((tx) => tx`select compliance.export_subject('user:pt5', 'access') as document`);
    expect(document.recipients_told).toEqual(expect.arrayContaining([expect.objectContaining({ system: 'Lab portal', request: 'export' })]));
  });
});
