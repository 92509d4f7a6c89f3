/**
 * Access review campaigns: the snapshot lists exactly the logins,
 * the actors who used a workforce role in 90 days and the grants in force; nobody decides access
 * they hold or granted (RVSLF); a revoked grant ends at once, a revoked login gets the DBA's
 * statements; the last decision completes the campaign; an unfinished one past due fails the check;
 * the worker opens one every Monday at 09:00 UTC.
 */
import { parseCrontab, quickAddJob } from 'graphile-worker';
import { afterEach, describe, expect, it } from 'vitest';
import type { TransactionSql } from 'postgres';
import { CRONTAB, startWorker, type Worker } from '../../worker/runner.js';
import { expectSqlState, useTestDatabase } from '../provision/database.js';
import { until } from '../provision/until.js';

const db = useTestDatabase();
type Rows = any[];
const asDpo = (actor: string, fn: (tx: TransactionSql) => Promise<unknown>, roles = ['dpo']) =>
  db.as('compliance_dpo', { actor, roles }, fn) as Promise<Rows>;

async function workforceFixture() {
  await db.as('compliance_app', { actor: 'user:rv1' }, async (tx) => {
    await tx`select compliance.ensure_profile('user:rv1')`;
    // the patient reads their own record: a role review does not care about patients
    await tx`select * from compliance.phi_access('user:rv1', 'patient_request', 'read')`;
  });
  const [request] = await db.as('compliance_staff', { actor: 'staff:ana', roles: ['staff'] },
    (tx) => tx`select * from compliance.request_access('user:rv1', 'phi.read', 'treatment', 'follow-up visit')`) as Rows;
  await db.as('compliance_approver', { actor: 'approver:bo', roles: ['approver'] },
    (tx) => tx`select * from compliance.approve_access_request(${request.id}, 7)`);
  const [emergency] = await db.as('compliance_staff', { actor: 'staff:cy', roles: ['staff'] },
    (tx) => tx`select * from compliance.break_glass('user:rv1', 'patient unconscious in the emergency room')`) as Rows;
  // a DPO's read of the request register: an action only the dpo role performs
  await asDpo('dpo:dora', (tx) => tx`select count(*) from compliance.open_requests()`);
  return { assignment: request.id as string, emergency: emergency.id as string };
}

/** the logins that can act as a compliance role, by walking pg_auth_members; a superuser can act as any */
async function loginsByCatalog() {
  const rows = await db.admin`
    with recursive reach(member, roleid) as (
      select member, roleid from pg_auth_members
      union select s.oid, g.oid from pg_roles s cross join pg_roles g where s.rolsuper and s.oid <> g.oid
      union select r.member, m.roleid from reach r join pg_auth_members m on m.member = r.roleid)
    select l.rolname as login, array_agg(distinct g.rolname::text order by g.rolname::text) as roles
      from reach r join pg_roles l on l.oid = r.member join pg_roles g on g.oid = r.roleid
     where l.rolcanlogin and g.rolname like 'compliance\\_%'
     group by l.rolname order by l.rolname`;
  return rows.map((r) => ({ login: r.login as string, roles: r.roles as string[] }));
}

describe('an access review campaign', () => {
  it('lists exactly who can reach the data, refuses self-review and completes with the last decision', async () => {
    const grants = await workforceFixture();
    const [campaign] = await asDpo('dpo:eve', (tx) => tx`select * from compliance.open_access_review()`);
    expect(campaign.due_at.getTime() - campaign.opened_at.getTime()).toBe(7 * 86_400_000);
    const items = await asDpo('dpo:eve', (tx) => tx`select * from compliance.access_review_items_of(${campaign.id})`);
    // the reviewers hear of it through the alert outbox
    const [opened] = await db.admin`select payload from compliance.alert_outbox where topic = 'access_review.opened' and (payload ->> 'campaign_id')::bigint = ${campaign.id}`;
    expect(opened!.payload).toMatchObject({ items: items.length });

    const actors = items.filter((i) => i.kind === 'application_actor').map((i) => [i.actor_id, i.roles]);
    expect(actors.sort()).toEqual([['approver:bo', ['approver']], ['dpo:dora', ['dpo']], ['staff:ana', ['staff']], ['staff:cy', ['staff']]]);
    const granted = items.filter((i) => i.kind === 'access_grant');
    expect(granted.map((i) => [i.grant_id, i.actor_id, i.granted_by]).sort()).toEqual(
      [[grants.assignment, 'staff:ana', 'approver:bo'], [grants.emergency, 'staff:cy', 'staff:cy']].sort());
    const logins = items.filter((i) => i.kind === 'database_login').map((i) => ({ login: i.login_name, roles: i.roles }));
    expect(logins.sort((a, b) => a.login.localeCompare(b.login))).toEqual(await loginsByCatalog());
    expect(logins.map((l) => l.login)).toEqual(expect.arrayContaining(['pgcomply_server', 'pgcomply_worker']));

    // nobody decides access they granted, or their own, whatever roles they hold
    const bosGrant = granted.find((i) => i.grant_id === grants.assignment)!;
    await expectSqlState(asDpo('approver:bo', (tx) => tx`select compliance.decide_access_review_item(${bosGrant.id}, 'keep', 'needed')`, ['dpo', 'approver']), 'RVSLF');
    const dorasItem = items.find((i) => i.actor_id === 'dpo:dora')!;
    await expectSqlState(asDpo('dpo:dora', (tx) => tx`select compliance.decide_access_review_item(${dorasItem.id}, 'keep', 'still the DPO')`), 'RVSLF');
    await expectSqlState(asDpo('dpo:eve', (tx) => tx`select compliance.decide_access_review_item(${dorasItem.id}, 'maybe', 'unsure')`), 'BADRG');
    await expectSqlState(asDpo('dpo:eve', (tx) => tx`select compliance.decide_access_review_item(${dorasItem.id}, 'keep', '')`), 'BADRG');
    await expectSqlState(asDpo('dpo:eve', (tx) => tx`select compliance.decide_access_review_item(-1, 'keep', 'x')`), 'RVNOT');

    // revoking a grant ends it now; a login's revocation is the DBA's statement to run
    await asDpo('dpo:eve', (tx) => tx`select compliance.decide_access_review_item(${bosGrant.id}, 'revoke', 'treatment finished')`);
    const [grant] = await db.admin`select revoked_at, revoked_by from compliance.access_grants where id = ${grants.assignment}`;
    expect(grant).toMatchObject({ revoked_at: expect.any(Date), revoked_by: 'dpo:eve' });
    await expectSqlState(asDpo('dpo:eve', (tx) => tx`select compliance.decide_access_review_item(${bosGrant.id}, 'keep', 'changed my mind')`), 'RVSTA');
    const server = items.find((i) => i.login_name === 'pgcomply_server')!;
    await asDpo('dpo:eve', (tx) => tx`select compliance.decide_access_review_item(${server.id}, 'revoke', 'test revocation')`);
    const [serverAfter] = await asDpo('dpo:eve', (tx) => tx`select dba_action from compliance.access_review_items_of(${campaign.id}) where id = ${server.id}`);
    expect(serverAfter.dba_action).toContain('REVOKE compliance_app FROM pgcomply_server;');

    let [status] = await db.admin`select * from compliance.access_review_campaign_status where id = ${campaign.id}`;
    expect(status).toMatchObject({ items: String(items.length), decided: '2', revoked: '2', completed_at: null, overdue: false });
    for (const item of items.filter((i) => i.id !== bosGrant.id && i.id !== server.id)) {
      await asDpo('dpo:eve', (tx) => tx`select compliance.decide_access_review_item(${item.id}, 'keep', 'still needed')`);
    }
    [status] = await db.admin`select * from compliance.access_review_campaign_status where id = ${campaign.id}`;
    expect(status).toMatchObject({ decided: String(items.length), kept: String(items.length - 2), completed_at: expect.any(Date) });
    const audit = await db.admin`select action, details from compliance.audit_logs where resource_type = 'access_review_campaign' order by id`;
    expect(audit.map((a) => a.action)).toEqual(['access_review.opened', 'access_review.completed']);
    expect(audit[1]!.details).toMatchObject({ items: items.length, kept: items.length - 2, revoked: 2 });
  });

  it('fails the daily check when unfinished past its due date, and is opened by the worker on Mondays at 09:00', async () => {
    const checkStatus = async () => (await db.admin`select status from compliance_private.check_access_review('{}')`)[0]!.status;
    // the first test's campaign is complete; a fresh database has none
    expect(await checkStatus()).toBe((await db.admin`select 1 from compliance.access_review_campaigns`).length ? 'pass' : 'not_applicable');
    const [campaign] = await asDpo('dpo:eve', (tx) => tx`select * from compliance.open_access_review(interval '1 day')`);
    expect(await checkStatus()).toBe('pass');
    await db.admin`update compliance.access_review_campaigns set opened_at = now() - interval '8 days', due_at = now() - interval '1 day' where id = ${campaign.id}`;
    expect(await checkStatus()).toBe('fail');
    const results = await db.as('compliance_dpo', { actor: 'dpo:eve', roles: ['dpo'] },
      (tx) => tx`select check_name, status from compliance.run_compliance_checks()`) as Rows;
    expect(results.find((r) => r.check_name === 'access_review')).toMatchObject({ status: 'fail' });

    const item = parseCrontab(CRONTAB).find((i) => i.task === 'access_review')!;
    expect(item.match({ min: 0, hour: 9, date: 7, month: 12, dow: 1 })).toBe(true);
    expect(item.match({ min: 0, hour: 9, date: 8, month: 12, dow: 2 })).toBe(false);
    const before = Number((await db.admin`select count(*) as n from compliance.access_review_campaigns`)[0]!.n);
    runner = await startWorker({ connectionString: db.loginUrl('worker'), pollInterval: 200 });
    await quickAddJob({ connectionString: db.loginUrl('worker') }, 'access_review', {});
    await until(async () => (Number((await db.admin`select count(*) as n from compliance.access_review_campaigns`)[0]!.n) > before ? true : undefined),
      15_000, 'the worker to open a campaign');
  });
});

let runner: Worker | undefined;
afterEach(async () => {
  await runner?.stop();
  runner = undefined;
});
