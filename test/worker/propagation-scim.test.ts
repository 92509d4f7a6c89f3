/**
 * The SCIM 2.0 connector against a real SCIM service provider: SCIMMY (RFC 7643, 7644) behind
 * scimmy-routers on express, holding its users in memory. An erasure deletes the subject's user
 * and reads it back as gone; an export reads the user resource; a restriction deactivates it; an
 * error answer's body is kept on the task as it came.
 */
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import SCIMMY from 'scimmy';
import SCIMMYRouters from 'scimmy-routers';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startWorker, type Worker } from '../../worker/runner.js';
import { useTestDatabase } from '../provision/database.js';
import { until } from '../provision/until.js';

const db = useTestDatabase();
const TOKEN = 'scim-bearer-token-for-the-test';
const dpo = { actor: 'dpo:dana', roles: ['dpo'] };

interface User { id: string; userName: string; externalId: string; active: boolean; name?: { givenName: string } }
const users = new Map<string, User>();
/** a user whose deletion the directory refuses, with a SCIM error */
const LOCKED = 'user:locked';

SCIMMY.Resources.declare(SCIMMY.Resources.User)
  .egress((resource: any) => {
    if (resource.id) {
      const user = users.get(resource.id);
      if (!user) throw new SCIMMY.Types.Error(404, null as never, `Resource ${resource.id} not found`);
      return user;
    }
    const all = [...users.values()];
    return resource.filter ? resource.filter.match(all) : all;
  })
  .ingress((resource: any, instance: any) => {
    const id = resource.id ?? randomUUID();
    const user = { ...(users.get(id) ?? {}), ...instance, id } as User;
    users.set(id, user);
    return user;
  })
  .degress((resource: any) => {
    const user = users.get(resource.id);
    if (user?.externalId === LOCKED) throw new SCIMMY.Types.Error(409, null as never, 'user is locked by a legal hold in the directory');
    if (!users.delete(resource.id)) throw new SCIMMY.Types.Error(404, null as never, `Resource ${resource.id} not found`);
  });

let server: Server;
let scimUrl = '';
beforeAll(async () => {
  const app = express();
  app.use('/scim/v2', new SCIMMYRouters({
    type: 'bearer',
    handler: (request: express.Request) => {
      if (request.header('authorization') !== `Bearer ${TOKEN}`) throw new Error('Authorization not detected!');
      return 'pgcomply';
    },
  }) as unknown as express.Router);
  server = await new Promise<Server>((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)); });
  scimUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/scim/v2`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function directoryUser(externalId: string): User {
  const user = { id: randomUUID(), userName: `${externalId.replace(':', '.')}@example.test`, externalId, active: true, name: { givenName: 'Sam' } };
  users.set(user.id, user);
  return user;
}

async function subject(userId: string) {
  await db.as('compliance_app', { actor: userId, roles: [] }, (tx) => tx`select compliance.ensure_profile(${userId}, null, null, null)`);
}

const taskOf = async (system: string, kind: string) =>
  (await db.admin`select id::text, state, confirmed_via, confirmation_note, response, last_error, attempts from compliance.propagation_tasks
                  where system = ${system} and kind = ${kind} order by id desc limit 1`)[0]!;

describe('the SCIM connector', () => {
  let worker: Worker | undefined;
  beforeAll(async () => {
    await db.as('compliance_dpo', dpo, (tx) => tx`select compliance.record_processing_system('directory', 'Company directory', 'identity_provider', 'IE', 'DPA-IdP-1', 'scim')`);
  });
  const start = async () => {
    worker = await startWorker({ connectionString: db.loginUrl('worker'), pollInterval: 200,
      propagation: { leaseSeconds: 10, intervalSeconds: 1, scim: { directory: { url: scimUrl, token: TOKEN, match: 'externalId' } } } });
  };
  afterEach(async () => {
    await worker?.stop();
    worker = undefined;
  });

  it('deletes the subject\'s user on erasure and reads it back as gone before it confirms', async () => {
    const user = directoryUser('user:sc1');
    await subject('user:sc1');
    const [{ receipt }] = await db.as('compliance_dpo', dpo, (tx) => tx`select compliance.erase_subject('user:sc1', 'Art. 17 request', true) as receipt`) as any;
    await start();
    const task = await until(async () => ((await taskOf('directory', 'erasure')).state === 'confirmed' ? taskOf('directory', 'erasure') : undefined), 30_000, 'the SCIM erasure');
    expect(users.has(user.id)).toBe(false);
    expect(task).toMatchObject({ confirmed_via: 'connector', confirmation_note: 'deleted; read back as gone (404)' });
    expect(JSON.parse(task.response)).toMatchObject({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '404' });
    const [request] = await db.admin`select status from compliance.dsr_requests where id = ${receipt.dsr_request_id}`;
    expect(request!.status).toBe('completed');
  });

  it('reads the user resource for an export, deactivates it on a restriction, and confirms nothing held for a subject it does not have', async () => {
    const user = directoryUser('user:sc2');
    await subject('user:sc2');
    await subject('user:sc3');
    await db.as('compliance_dpo', dpo, async (tx) => {
      await tx`select compliance.export_subject('user:sc2', 'access')`;
      await tx`select compliance.restrict_processing('user:sc2', 'accuracy contested')`;
      await tx`select compliance.export_subject('user:sc3', 'access')`;
    });
    await start();
    await until(async () => {
      const open = await db.admin`select count(*)::int as n from compliance.propagation_tasks where system = 'directory' and state = 'pending'`;
      return open[0]!.n === 0 ? true : undefined;
    }, 30_000, 'the three SCIM tasks');
    const tasks = await db.admin`select user_id, kind, state, confirmation_note, response from compliance.propagation_tasks
                                  where system = 'directory' and user_id in ('user:sc2', 'user:sc3') order by id`;
    expect(tasks.map((t) => [t.user_id, t.kind, t.state])).toEqual([['user:sc2', 'export', 'confirmed'], ['user:sc2', 'restriction', 'confirmed'], ['user:sc3', 'export', 'confirmed']]);
    expect(JSON.parse(tasks[0]!.response)).toMatchObject({ id: user.id, externalId: 'user:sc2', userName: user.userName });
    expect(users.get(user.id)!.active).toBe(false);
    expect(tasks[2]!.confirmation_note).toMatch(/^nothing_held/);
  });

  it('keeps a SCIM error body on the task as it came, and fails the task for the DPO when the directory refuses', async () => {
    const user = directoryUser(LOCKED);
    await subject(LOCKED);
    await db.as('compliance_dpo', dpo, (tx) => tx`select compliance.erase_subject(${LOCKED}, 'Art. 17 request', true)`);
    await start();
    const task = await until(async () => ((await taskOf('directory', 'erasure')).state === 'failed' ? taskOf('directory', 'erasure') : undefined), 30_000, 'the refused SCIM erasure');
    expect(users.has(user.id)).toBe(true);
    expect(task.last_error).toBe('the SCIM DELETE answered 409');
    expect(JSON.parse(task.response)).toEqual({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '409', detail: 'user is locked by a legal hold in the directory' });
    const [audited] = await db.admin`select outcome, failure_reason from compliance.audit_logs where action = 'propagation.failed' and resource_id = ${task.id}`;
    expect(audited).toMatchObject({ outcome: 'failure', failure_reason: 'delivery_failed' });
  });
});
