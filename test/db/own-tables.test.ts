/**
 * Your own tables: the example shop (examples/own-tables/schema.sql) registers five tables with
 * one call each. Export then holds the subject's rows of each, erasure deletes or anonymizes them
 * in its own transaction, and the audit chain records every write to them and still verifies.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { toCsvRows } from '../../server/csv.js';
import { expectSqlState, useTestDatabase } from '../provision/database.js';

const db = useTestDatabase();
const dpo = { actor: 'dpo:dana', roles: ['dpo'] };
const SHOP = readFileSync('examples/own-tables/schema.sql', 'utf8');

/** a subject as the shop's application writes one: a pgcomply profile, a customer and a row in each table */
async function shopper(name: string) {
  const userId = `user:${name}`;
  await db.as('compliance_app', { actor: userId }, (tx) => tx`select compliance.ensure_profile(${userId}, null, null, null)`);
  const [customer] = await db.admin`insert into shop.customers (user_id, email, full_name) values (${userId}, ${`${name}@shop.example`}, ${`${name} Shopper`}) returning id`;
  await db.admin`insert into shop.orders (customer_id, shipping_address, total) values (${customer!.id}, ${`1 ${name} Street`}, 42.50), (${customer!.id}, ${`2 ${name} Lane`}, 7)`;
  await db.admin`insert into shop.invoices (customer_id, billing_name, billing_address, amount, issued_on)
                 values (${customer!.id}, ${`${name} Shopper`}, ${`1 ${name} Street`}, 49.50, '2026-03-01')`;
  await db.admin`insert into shop.support_tickets (user_id, subject_line, body) values (${userId}, 'Parcel late', ${`Where is my parcel, says ${name}`})`;
  await db.admin`insert into shop.device_tokens (token, user_id, platform) values (${`token-${name}`}, ${userId}, 'ios')`;
  return { userId, customerId: customer!.id as string };
}

const exportOf = async (userId: string) =>
  (await db.as('compliance_dpo', dpo, (tx) => tx`select compliance.export_subject(${userId}) as document`))[0]!.document as Record<string, any>;

beforeAll(async () => {
  await db.admin.unsafe(SHOP);
});

describe('your own tables', () => {
  it('are registered with one call each: recorded, audited, with forced row-level security and the audit triggers', async () => {
    const registered = await db.admin`select relation::text, erasure, subject_via::text from compliance.personal_tables order by relation::text`;
    expect(registered.map((r) => r.relation)).toEqual(['shop.customers', 'shop.device_tokens', 'shop.invoices', 'shop.orders', 'shop.support_tickets']);
    expect(registered.find((r) => r.relation === 'shop.invoices')).toMatchObject({ erasure: 'anonymize', subject_via: 'shop.customers' });
    const audited = await db.admin`select resource_id from compliance.audit_logs where action = 'personal_table.registered' order by resource_id`;
    expect(audited.map((r) => r.resource_id)).toEqual(registered.map((r) => r.relation));
    const [rls] = await db.admin`select bool_and(c.relrowsecurity and c.relforcerowsecurity) as forced from pg_class c where c.oid in (select relation from compliance.personal_tables)`;
    expect(rls!.forced).toBe(true);
    const [check] = await db.as('compliance_dpo', dpo, (tx) => tx`select * from compliance.run_compliance_checks('demand') where check_name = 'row_level_security'`);
    expect(check!.status).toBe('pass');
    // a registered table whose audit trigger is switched off fails the check
    await db.admin`alter table shop.device_tokens disable trigger _902_pgcomply_audit_delete`;
    const [broken] = await db.as('compliance_dpo', dpo, (tx) => tx`select * from compliance.run_compliance_checks('demand') where check_name = 'row_level_security'`);
    expect(broken).toMatchObject({ status: 'fail' });
    expect(broken!.detail).toContain('shop.device_tokens');
    await db.admin`alter table shop.device_tokens enable trigger _902_pgcomply_audit_delete`;
  });

  it('audit every write with its subject, through the foreign key too, and keep changed personal values in the part erasure redacts', async () => {
    const { userId } = await shopper('ann');
    const created = await db.admin`select resource_type, user_id from compliance.audit_logs where action = 'personal_row.created' and user_id = ${userId} order by resource_type`;
    expect(created.map((r) => r.resource_type)).toEqual(['shop.customers', 'shop.device_tokens', 'shop.invoices', 'shop.orders', 'shop.orders', 'shop.support_tickets']);
    await db.as('compliance_dpo', dpo, async (tx) => {
      await tx`reset role`;
      await tx`update shop.orders set shipping_address = '9 Moved Road' where shipping_address = '1 ann Street'`;
    });
    const [updated] = await db.admin`select details, personal_details, user_id from compliance.audit_logs where action = 'personal_row.updated' and user_id = ${userId}`;
    expect(updated!.details).toMatchObject({ table: 'shop.orders', changed_fields: ['shipping_address'] });
    expect(updated!.personal_details).toEqual({ old: { shipping_address: '1 ann Street' }, new: { shipping_address: '9 Moved Road' } });
  });

  it('are in the export: every row of the subject in each table, none of another subject\'s', async () => {
    const { userId } = await shopper('bea');
    await shopper('cal');
    const document = await exportOf(userId);
    const tables = document.registered_tables as Record<string, Record<string, unknown>[]>;
    expect(Object.keys(tables)).toEqual(['shop.customers', 'shop.device_tokens', 'shop.invoices', 'shop.orders', 'shop.support_tickets']);
    expect(tables['shop.customers']).toMatchObject([{ user_id: userId, email: 'bea@shop.example' }]);
    expect(tables['shop.orders']!.map((o) => o.shipping_address)).toEqual(['1 bea Street', '2 bea Lane']);
    expect(tables['shop.invoices']).toMatchObject([{ billing_name: 'bea Shopper', amount: 49.5 }]);
    expect(tables['shop.support_tickets']).toMatchObject([{ body: 'Where is my parcel, says bea' }]);
    expect(tables['shop.device_tokens']).toMatchObject([{ token: 'token-bea' }]);
    expect(JSON.stringify(tables)).not.toContain('cal');
    // the CSV export: each table a section of its own
    const csv = toCsvRows(document);
    expect(csv.filter((r) => r[0] === 'shop.orders' && r[2] === 'shipping_address').map((r) => r[3])).toEqual(['1 bea Street', '2 bea Lane']);
    expect(csv.filter((r) => r[0] === 'shop.support_tickets' && r[2] === 'body').map((r) => r[3])).toEqual(['Where is my parcel, says bea']);
  });

  it('let the subject read their own rows where registered so, and the DPO every row', async () => {
    await shopper('dee');
    await shopper('eli');
    const own = await db.as('compliance_app', { actor: 'user:dee' }, (tx) => tx`select user_id from shop.support_tickets`);
    expect(own.map((r) => r.user_id)).toEqual(['user:dee']);
    await expectSqlState(db.as('compliance_app', { actor: 'user:dee' }, (tx) => tx`select * from shop.orders`), '42501');
    const all = await db.as('compliance_dpo', dpo, (tx) => tx`select count(distinct user_id)::int as n from shop.support_tickets`);
    expect(all[0]!.n).toBeGreaterThanOrEqual(2);
  });

  it('are erased in the erasure\'s transaction: rows deleted, invoices kept with their amount and date and without the person, the counts audited', async () => {
    const { userId, customerId } = await shopper('fay');
    await shopper('gus');
    const [receipt] = await db.as('compliance_dpo', dpo, (tx) => tx`select compliance.erase_subject(${userId}, 'asked', true) as receipt`);
    const [erased] = await db.admin`select details from compliance.audit_logs where action = 'subject.erased' order by id desc limit 1`;
    expect(erased!.details.deleted.registered_tables).toEqual({
      'shop.support_tickets': { deleted: 1 }, 'shop.device_tokens': { deleted: 1 }, 'shop.invoices': { anonymized: 1 },
      'shop.orders': { deleted: 2 }, 'shop.customers': { deleted: 1 } });
    expect(receipt!.receipt).toBeDefined();
    const [left] = await db.admin`select (select count(*) from shop.customers where id = ${customerId})::int as customers,
      (select count(*) from shop.orders where customer_id = ${customerId})::int as orders,
      (select count(*) from shop.support_tickets where user_id = ${userId})::int as support_tickets,
      (select count(*) from shop.device_tokens where user_id = ${userId})::int as device_tokens`;
    expect(left).toEqual({ customers: 0, orders: 0, support_tickets: 0, device_tokens: 0 });
    const invoices = await db.admin`select customer_id, billing_name, billing_address, amount, issued_on from shop.invoices where amount = 49.50 and customer_id is null`;
    expect(invoices).toHaveLength(1);
    expect(invoices[0]).toMatchObject({ billing_name: null, billing_address: null, amount: '49.50' });
    expect(await db.admin`select 1 from shop.customers where user_id = 'user:gus'`).toHaveLength(1);
    // the audit rows of the shop's writes keep no value of the subject's
    const [traces] = await db.admin`select count(*)::int as n from compliance.audit_logs a
      where a.user_id = ${userId} or a.personal_details::text like '%fay%' or a.details::text like '%fay%' or a.resource_id like '%fay%'`;
    expect(traces!.n).toBe(0);
  });

  it('change nothing under a legal hold (LHOLD), and refuse before any change when an unregistered table\'s foreign key would block (FKBLK)', async () => {
    const held = await shopper('hal');
    await db.as('compliance_dpo', dpo, (tx) => tx`select compliance.place_legal_hold(${held.userId}, 'Litigation 2026-9')`);
    await expectSqlState(db.as('compliance_dpo', dpo, (tx) => tx`select compliance.erase_subject(${held.userId}, 'asked', true)`), 'LHOLD');
    expect(await db.admin`select 1 from shop.orders where customer_id = ${held.customerId}`).toHaveLength(2);

    const blocked = await shopper('ivy');
    await db.admin`create table shop.loyalty_cards (id bigint generated always as identity primary key, customer_id bigint not null references shop.customers (id))`;
    await db.admin`insert into shop.loyalty_cards (customer_id) values (${blocked.customerId})`;
    const error = await db.as('compliance_dpo', dpo, (tx) => tx`select compliance.erase_subject(${blocked.userId}, 'asked', true)`).catch((e: { code: string; message: string }) => e);
    expect(error).toMatchObject({ code: 'FKBLK' });
    expect((error as unknown as Error).message).toContain('shop.loyalty_cards');
    for (const table of ['orders', 'invoices']) {
      expect(await db.admin.unsafe(`select 1 from shop.${table} where customer_id = $1`, [blocked.customerId]), table).not.toHaveLength(0);
    }
    expect(await db.admin`select 1 from compliance.user_profiles where user_id = ${blocked.userId}`).toHaveLength(1);
    await db.admin`drop table shop.loyalty_cards`;
  });

  it('are kept as registered: retention deletes an expired ticket and keeps a fresh one, keeps an invoice until its 10 years are up, and spares a subject under legal hold', async () => {
    const kept = await shopper('kim');
    const held = await shopper('lou');
    await db.as('compliance_dpo', dpo, (tx) => tx`select compliance.place_legal_hold(${held.userId}, 'Audit 2026-4')`);
    for (const who of [kept, held]) {
      await db.admin`insert into shop.support_tickets (user_id, subject_line, body, opened_at) values (${who.userId}, 'Old', 'An old question', now() - interval '3 years')`;
    }
    await db.admin`insert into shop.invoices (customer_id, amount, issued_on) values
      (${kept.customerId}, 11, current_date - interval '11 years'), (${kept.customerId}, 9, current_date - interval '9 years')`;
    const [policy] = await db.admin`select action, retention_period::text, counted_from, legal_basis from compliance.retention_policies where category = 'shop.support_tickets'`;
    expect(policy).toMatchObject({ action: 'delete', retention_period: '2 years', counted_from: 'opened_at' });
    const [plan] = await db.admin`select due_now::int from compliance.retention_due where category = 'shop.support_tickets'`;
    expect(plan!.due_now).toBe(1);
    const run = async (category: string) =>
      (await db.as('compliance_worker', null, (tx) => tx`select compliance.apply_retention(${category}, 1000) as result`))[0]!.result as { deleted: number };
    expect(await run('shop.support_tickets')).toMatchObject({ deleted: 1 });
    expect(await run('shop.invoices')).toMatchObject({ deleted: 1 });
    const tickets = await db.admin`select user_id, subject_line from shop.support_tickets where user_id in (${kept.userId}, ${held.userId}) order by user_id, subject_line`;
    expect(tickets.map((t) => `${t.user_id} ${t.subject_line}`)).toEqual([`${kept.userId} Parcel late`, `${held.userId} Old`, `${held.userId} Parcel late`]);
    const amounts = await db.admin`select amount::text as amount from shop.invoices i where customer_id = ${kept.customerId} order by i.amount`;
    expect(amounts.map((a) => a.amount)).toEqual(['9.00', '49.50']);
    const [applied] = await db.admin`select details from compliance.audit_logs where action = 'retention.applied' and resource_id = 'shop.support_tickets'`;
    expect(applied!.details).toMatchObject({ deleted: 1 });
  });

  it('leave the audit chain verifiable after all of it', async () => {
    await db.admin`select compliance.seal_audit_log()`;
    const [verdict] = await db.as('compliance_dpo', dpo, (tx) => tx`select * from compliance.verify_audit_log()`);
    expect(verdict).toMatchObject({ ok: true });
  });

  it('are mapped: data_map names an unregistered e-mail column and an e-mail found by sampling a notes column, never the value, and passes once both are registered or marked', async () => {
    const dataMap = async () => (await db.as('compliance_dpo', dpo, (tx) => tx`select * from compliance.run_compliance_checks('demand') where check_name = 'data_map'`))[0]!;
    expect(await dataMap()).toMatchObject({ status: 'pass' });
    await db.admin`create table shop.newsletter_signups (id bigint generated always as identity primary key, user_id text, email text not null)`;
    await db.admin`create table shop.order_notes (id bigint generated always as identity primary key, notes text)`;
    await db.admin`insert into shop.order_notes (notes) select 'packed by team B' from generate_series(1, 50)`;
    await db.admin`insert into shop.order_notes (notes) values ('customer asked to mail zoe.secret@private.example about it')`;
    await db.admin`grant select on shop.order_notes to compliance_owner`;
    const found = await dataMap();
    expect(found.status).toBe('fail');
    const findings = (found.measured as { findings: { table: string; column: string; reason: string }[] }).findings;
    expect(findings).toEqual(expect.arrayContaining([
      { table: 'shop.newsletter_signups', column: 'email', reason: 'its name says it holds personal data' },
      { table: 'shop.newsletter_signups', column: 'user_id', reason: 'its name says it refers to a person' },
      { table: 'shop.order_notes', column: 'notes', reason: 'a sample of at most 200 rows matched the e-mail address pattern' }]));
    expect(JSON.stringify(found)).not.toContain('zoe.secret');

    await db.admin`select compliance.register_personal_table('shop.newsletter_signups', 'user_id', '{"email": "contact"}')`;
    await db.as('compliance_dpo', dpo, (tx) => tx`select compliance.mark_not_personal('shop.order_notes', 'notes', 'Warehouse notes; the address found is the shop''s own mailbox, now removed')`);
    expect(await dataMap()).toMatchObject({ status: 'pass' });
    const [marked] = await db.admin`select details from compliance.audit_logs where action = 'personal_table.marked_not_personal'`;
    expect(marked!.details).toMatchObject({ column: 'notes' });

    // a column added to a registered table since it was classified is unknown until it is
    await db.admin`alter table shop.newsletter_signups add column referrer text`;
    expect((await dataMap()).measured.findings).toEqual([{ table: 'shop.newsletter_signups', column: 'referrer', reason: 'added since the table was registered' }]);
    await db.admin`select compliance.register_personal_table('shop.newsletter_signups', 'user_id', '{"email": "contact", "referrer": "free_text"}')`;
    expect(await dataMap()).toMatchObject({ status: 'pass' });
    await db.admin`select compliance.unregister_personal_table('shop.newsletter_signups')`;
    await db.admin`drop table shop.newsletter_signups, shop.order_notes`;
  });

  it('work with a subject column of type uuid or bigint, in any schema, and pass over a subject whose id is not of that type', async () => {
    await db.admin`create schema fleet`;
    await db.admin`create table fleet.vehicles (id bigint generated always as identity primary key, owner uuid, plate text not null)`;
    await db.admin`create table fleet.fines (id bigint generated always as identity primary key, member bigint not null, amount int not null)`;
    await db.admin`select compliance.register_personal_table('fleet.vehicles', 'owner', '{"plate": "identifier"}')`;
    await db.admin`select compliance.register_personal_table('fleet.fines', 'member', '{"amount": "financial"}')`;
    const uuidSubject = '6f1c2a3e-0d4b-4c6e-9a51-2b7d8e9f0a1b';
    for (const subject of [uuidSubject, '4711', 'user:no-vehicle']) {
      await db.as('compliance_app', { actor: subject }, (tx) => tx`select compliance.ensure_profile(${subject}, null, null, null)`);
    }
    await db.admin`insert into fleet.vehicles (owner, plate) values (${uuidSubject}, 'B-PG 15'), (gen_random_uuid(), 'M-XY 1')`;
    await db.admin`insert into fleet.fines (member, amount) values (4711, 35), (4712, 10)`;
    expect((await exportOf(uuidSubject)).registered_tables['fleet.vehicles']).toMatchObject([{ plate: 'B-PG 15' }]);
    expect((await exportOf('4711')).registered_tables['fleet.fines']).toMatchObject([{ amount: 35 }]);
    expect((await exportOf('user:no-vehicle')).registered_tables).toMatchObject({ 'fleet.vehicles': [], 'fleet.fines': [] });
    for (const subject of [uuidSubject, '4711', 'user:no-vehicle']) {
      await db.as('compliance_dpo', dpo, (tx) => tx`select compliance.erase_subject(${subject}, 'asked', true)`);
    }
    expect((await db.admin`select plate from fleet.vehicles`).map((r) => r.plate)).toEqual(['M-XY 1']);
    expect((await db.admin`select member::int from fleet.fines`).map((r) => r.member)).toEqual([4712]);
    for (const table of ['fleet.fines', 'fleet.vehicles']) await db.admin`select compliance.unregister_personal_table(${table}::regclass, reason => 'test done')`;
    await db.admin`drop schema fleet cascade`;
  });

  it('are handed to pgcomply\'s owner, so the role that owned one keeps its rows but cannot add code that would run with pgcomply\'s rights; a table that runs such code already is refused (BADRG)', async () => {
    const app = `pgc_app_${Math.random().toString(36).slice(2, 10)}`;
    await db.admin.unsafe(`create role ${app} nologin`);
    const cleanup: string[] = [];
    try {
      await db.admin.unsafe(`create schema crm authorization ${app}`);
      const writer = `${app}_rw`;
      await db.admin.unsafe(`create role ${writer} nologin`);
      cleanup.push(`drop owned by ${writer}; drop role ${writer}`);
      await db.admin.unsafe(`set role ${app}; create table crm.contacts (id bigint generated always as identity primary key, user_id text, phone text);
        create function crm.stamp() returns trigger language plpgsql as 'begin return new; end';
        create trigger stamp before update on crm.contacts for each row execute function crm.stamp(); reset role`);
      // the trigger's function belongs to the application's role, which could rewrite it to run as pgcomply's owner
      const refused = await db.admin`select compliance.register_personal_table('crm.contacts', 'user_id', '{"phone": "contact"}')`.catch((e: { code: string; message: string }) => e);
      expect(refused).toMatchObject({ code: 'BADRG', message: expect.stringContaining('crm.stamp()') });
      await db.admin`drop trigger stamp on crm.contacts`;
      await db.admin.unsafe(`grant usage on schema crm to ${writer}; grant all on crm.contacts to ${writer}`);
      await db.admin.unsafe(`select compliance.register_personal_table('crm.contacts', 'user_id', '{"phone": "contact"}', application_roles => array['${writer}']::regrole[])`);
      // a role granted every privilege before keeps its rows, but no longer TRIGGER or TRUNCATE
      const [privileges] = await db.admin.unsafe(`select has_table_privilege('${writer}', 'crm.contacts', 'INSERT') as insert,
        has_table_privilege('${writer}', 'crm.contacts', 'TRIGGER') as trigger, has_table_privilege('${writer}', 'crm.contacts', 'TRUNCATE') as truncate`);
      expect(privileges).toEqual({ insert: true, trigger: false, truncate: false });
      const [owner] = await db.admin`select relowner::regrole::text as owner from pg_class where oid = 'crm.contacts'::regclass`;
      expect(owner!.owner).toBe('compliance_owner');
      await db.admin.unsafe(`set role ${app}; insert into crm.contacts (user_id, phone) values ('user:kit', '+49 30 1234567'); reset role`);
      const seen = await db.admin.begin(async (tx) => {
        await tx.unsafe(`set local role ${app}`);
        return tx`select phone from crm.contacts`;
      });
      expect(seen.map((r) => r.phone)).toEqual(['+49 30 1234567']);
      await expect(db.admin.unsafe(`set role ${app}; create trigger again before update on crm.contacts for each row execute function crm.stamp()`))
        .rejects.toMatchObject({ code: '42501' });
      await db.admin`reset role`;
      await db.admin`select compliance.unregister_personal_table('crm.contacts', reason => 'test done')`;
      const [back] = await db.admin`select relowner::regrole::text as owner from pg_class where oid = 'crm.contacts'::regclass`;
      expect(back!.owner).toBe(app);
    } finally {
      await db.admin`reset role`;
      await db.admin.unsafe(`drop schema if exists crm cascade; drop owned by ${app}; drop role ${app}`);
      for (const statement of cleanup) await db.admin.unsafe(statement);
    }
  });

  it('refuse a registration that would leak or cannot work: a personal key, no key, a NOT NULL subject link to anonymize (BADRG), unknown categories', async () => {
    await db.admin`create table shop.newsletter (email text primary key, user_id text)`;
    await expectSqlState(db.admin`select compliance.register_personal_table('shop.newsletter', 'user_id', '{"email": "contact"}')`, 'BADRG');
    await db.admin`create table shop.keyless (user_id text, note text)`;
    await expectSqlState(db.admin`select compliance.register_personal_table('shop.keyless', 'user_id', '{"note": "free_text"}')`, 'BADRG');
    await expectSqlState(db.admin`select compliance.register_personal_table('shop.orders', 'customer_id', '{"shipping_address": "location"}',
      subject_via => 'shop.customers', erasure => 'anonymize', anonymize => '{"shipping_address": null}', kept_basis => 'kept')`, 'BADRG');
    await expectSqlState(db.admin`select compliance.register_personal_table('shop.support_tickets', 'user_id', '{"body": "gossip"}')`, 'BADRG');
    await expectSqlState(db.admin`select compliance.register_personal_table('compliance.user_profiles', 'user_id', '{}')`, 'BADRG');
    await db.admin`drop table shop.newsletter, shop.keyless`;
  });

  it('are unregistered only with a reason while they hold rows of subjects (PTROW), audited, with row-level security put back', async () => {
    await shopper('jon');
    await expectSqlState(db.admin`select compliance.unregister_personal_table('shop.device_tokens')`, 'PTROW');
    await db.admin`select compliance.unregister_personal_table('shop.device_tokens', reason => 'Push notifications moved to a processor')`;
    const [row] = await db.admin`select details from compliance.audit_logs where action = 'personal_table.unregistered' and resource_id = 'shop.device_tokens'`;
    expect(row!.details).toMatchObject({ reason: 'Push notifications moved to a processor' });
    expect(row!.details.rows_with_a_subject).toBeGreaterThan(0);
    const [rls] = await db.admin`select relrowsecurity, relforcerowsecurity from pg_class where oid = 'shop.device_tokens'::regclass`;
    expect(rls).toMatchObject({ relrowsecurity: false, relforcerowsecurity: false });
    expect(await db.admin`select 1 from pg_trigger where tgrelid = 'shop.device_tokens'::regclass and tgname like '%pgcomply%'`).toHaveLength(0);
  });
});
