/**
 * Erasure of a subject with 10,000 rows across the example shop's five registered tables is all
 * or nothing, however it is interrupted: its backend is terminated twenty times, each time while
 * the erasure waits on a row lock in one of the tables (so part of its work is done), and after
 * each the subject has every row or none. The last attempt runs through, and the chain verifies.
 */
import { readFileSync } from 'node:fs';
import postgres from 'postgres';
import { beforeAll, describe, expect, it } from 'vitest';
import { quiet, useTestDatabase } from '../provision/database.js';
import { until } from '../provision/until.js';

const db = useTestDatabase();
const userId = 'user:many-rows';
const TABLES = ['shop.customers', 'shop.orders', 'shop.invoices', 'shop.support_tickets', 'shop.device_tokens'] as const;

beforeAll(async () => {
  await db.admin.unsafe(readFileSync('examples/own-tables/schema.sql', 'utf8'));
  await db.as('compliance_app', { actor: userId }, (tx) => tx`select compliance.ensure_profile(${userId}, null, null, null)`);
  const [customer] = await db.admin`insert into shop.customers (user_id, email) values (${userId}, 'many@shop.example') returning id`;
  await db.admin`insert into shop.orders (customer_id, shipping_address, total) select ${customer!.id}, 'Street ' || n, n from generate_series(1, 4000) n`;
  await db.admin`insert into shop.invoices (customer_id, billing_name, billing_address, amount) select ${customer!.id}, 'Many', 'Street ' || n, n from generate_series(1, 2000) n`;
  await db.admin`insert into shop.support_tickets (user_id, subject_line, body) select ${userId}, 'Q' || n, 'Question ' || n from generate_series(1, 2000) n`;
  await db.admin`insert into shop.device_tokens (token, user_id, platform) select 'token-' || n, ${userId}, 'ios' from generate_series(1, 1999) n`;
});

/** the subject's rows in each table (invoices: still linked to them) and whether the profile is there */
async function holdings() {
  const [row] = await db.admin`select
    (select count(*) from shop.customers where user_id = ${userId})::int
    + (select count(*) from shop.orders o join shop.customers c on c.id = o.customer_id where c.user_id = ${userId})::int
    + (select count(*) from shop.invoices i join shop.customers c on c.id = i.customer_id where c.user_id = ${userId})::int
    + (select count(*) from shop.support_tickets where user_id = ${userId})::int
    + (select count(*) from shop.device_tokens where user_id = ${userId})::int as rows,
    exists (select from compliance.user_profiles where user_id = ${userId}) as profile`;
  return row as { rows: number; profile: boolean };
}

/**
 * one erasure in a connection of its own, as the DPO; resolves to its error, or undefined when it
 * committed. Statements on a reserved connection, not sql.begin: postgres.js 3.4 would try to roll
 * back on the terminated connection and throw outside the promise.
 */
function erase(): { pid: Promise<number>; done: Promise<unknown> } {
  const sql = postgres(db.adminUrl, { ...quiet, max: 1 });
  let reportPid: (pid: number) => void = () => undefined;
  const pid = new Promise<number>((resolve) => (reportPid = resolve));
  const done = (async () => {
    const tx = await sql.reserve();
    const [me] = await tx`select pg_backend_pid() as pid`;
    reportPid(me!.pid as number);
    await tx`begin`;
    await tx`set local role compliance_dpo`;
    await tx`select compliance.set_request_context('dpo:dana', array['dpo'], null, null)`;
    await tx`select compliance.erase_subject(${userId}, 'asked', true)`;
    await tx`commit`;
    tx.release();
  })().then(() => undefined, (error: unknown) => error).finally(() => sql.end({ timeout: 1 }));
  return { pid, done };
}

describe('erasure across your own tables under backend kills', () => {
  it('leaves every row or none after each of 20 kills mid-erasure, and erases all 10,000 rows when let through; the chain verifies', async () => {
    expect(await holdings()).toEqual({ rows: 10_000, profile: true });
    for (let attempt = 0; attempt < 20; attempt += 1) {
      // a writer holds one of the subject's rows in a table the erasure reaches part-way through
      const table = TABLES[attempt % TABLES.length]!;
      const locker = postgres(db.adminUrl, { ...quiet, max: 1 });
      let release: () => void = () => undefined;
      const released = new Promise<void>((resolve) => (release = resolve));
      const locked = new Promise<void>((resolve) => {
        void locker.begin(async (tx) => {
          await tx.unsafe(table === 'shop.orders' || table === 'shop.invoices'
            ? `select 1 from ${table} t join shop.customers c on c.id = t.customer_id where c.user_id = $1 limit 1 for update of t`
            : `select 1 from ${table} where user_id = $1 limit 1 for update`, [userId]);
          resolve();
          await released;
        }).catch(() => undefined);
      });
      await locked;
      const erasure = erase();
      const pid = await erasure.pid;
      await until(async () => ((await db.admin`select 1 from pg_stat_activity where pid = ${pid} and wait_event_type = 'Lock'`).length ? true : undefined),
        30_000, `the erasure to wait on ${table}`);
      await db.admin`select pg_terminate_backend(${pid})`;
      const error = await erasure.done;
      release();
      await locker.end({ timeout: 5 });
      expect(error, `attempt ${attempt + 1} on ${table}`).toMatchObject({ code: expect.stringMatching(/^(57P01|CONNECTION_CLOSED|CONNECTION_DESTROYED)$/) });
      expect(await holdings(), `after the kill at ${table}`).toEqual({ rows: 10_000, profile: true });
    }
    expect(await erase().done).toBeUndefined();
    expect(await holdings()).toEqual({ rows: 0, profile: false });
    const [kept] = await db.admin`select count(*)::int as n from shop.invoices where customer_id is null and billing_name is null and billing_address is null`;
    expect(kept!.n).toBe(2000);
    await db.admin`select compliance.seal_audit_log()`;
    const [verdict] = await db.as('compliance_dpo', { actor: 'dpo:dana', roles: ['dpo'] }, (tx) => tx`select * from compliance.verify_audit_log()`);
    expect(verdict).toMatchObject({ ok: true });
  }, 300_000);
});
