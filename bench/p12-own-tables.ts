/**
 * P12: your own tables. A subject with 10,000 rows across the example shop's five registered
 * tables (examples/own-tables/schema.sql), erased and exported by pgcomply against the same work
 * written by hand for those five tables, in the same run. Both erasures run as erase_subject runs
 * its part (one transaction, the audit triggers quiet in a bulk operation), so the figure is what
 * registration's generic SQL costs over SQL written for the tables.
 */
import { readFileSync } from 'node:fs';
import type { Sql } from 'postgres';
import postgres from 'postgres';
import { type BenchDatabase, figure, percentile, printConditions, quiet, timed } from './lib.js';

const SHOP = readFileSync(new URL('../examples/own-tables/schema.sql', import.meta.url), 'utf8');

async function createShopper(admin: Sql, userId: string) {
  const [customer] = await admin`insert into shop.customers (user_id, email, full_name) values (${userId}, ${`${userId}@shop.example`}, 'Bench') returning id`;
  await admin`insert into shop.orders (customer_id, shipping_address, total) select ${customer!.id}, 'Street ' || n, n from generate_series(1, 4000) n`;
  await admin`insert into shop.invoices (customer_id, billing_name, billing_address, amount) select ${customer!.id}, 'Bench', 'Street ' || n, n from generate_series(1, 2000) n`;
  await admin`insert into shop.support_tickets (user_id, subject_line, body) select ${userId}, 'Q' || n, 'Question ' || n from generate_series(1, 2000) n`;
  await admin`insert into shop.device_tokens (token, user_id, platform) select ${userId} || '-' || n, ${userId}, 'ios' from generate_series(1, 1999) n`;
}

async function inBulkErasure(sql: Sql, work: (tx: Sql) => Promise<unknown>) {
  await sql.begin(async (tx) => {
    await tx`select compliance_private.begin_bulk_operation('erasure')`;
    await work(tx as unknown as Sql);
    await tx`select compliance_private.end_bulk_operation()`;
  });
}

const eraseByRegistration = (sql: Sql, userId: string) =>
  inBulkErasure(sql, (tx) => tx`select compliance_private.erase_registered_rows(${userId})`);

/** what an adopter would write for these five tables */
const eraseByHand = (sql: Sql, userId: string) => inBulkErasure(sql, async (tx) => {
  await tx`delete from shop.device_tokens where user_id = ${userId}`;
  await tx`delete from shop.support_tickets where user_id = ${userId}`;
  await tx`update shop.invoices set billing_name = null, billing_address = null, customer_id = null
            where customer_id in (select id from shop.customers where user_id = ${userId})`;
  await tx`delete from shop.orders where customer_id in (select id from shop.customers where user_id = ${userId})`;
  await tx`delete from shop.customers where user_id = ${userId}`;
});

const exportByRegistration = (sql: Sql, userId: string) => sql`select compliance_private.registered_rows_of(${userId})::text as document`;

const exportByHand = (sql: Sql, userId: string) => sql`select json_build_object(
    'shop.customers', (select coalesce(json_agg(t order by t.id), '[]') from shop.customers t where t.user_id = ${userId}),
    'shop.device_tokens', (select coalesce(json_agg(t order by t.id), '[]') from shop.device_tokens t where t.user_id = ${userId}),
    'shop.invoices', (select coalesce(json_agg(t order by t.id), '[]') from shop.invoices t where t.customer_id in (select id from shop.customers where user_id = ${userId})),
    'shop.orders', (select coalesce(json_agg(t order by t.id), '[]') from shop.orders t where t.customer_id in (select id from shop.customers where user_id = ${userId})),
    'shop.support_tickets', (select coalesce(json_agg(t order by t.id), '[]') from shop.support_tickets t where t.user_id = ${userId}))::text as document`;

export async function run(db: BenchDatabase, quick: boolean) {
  const repetitions = quick ? 3 : 10;
  await db.admin.unsafe(SHOP);
  await printConditions(db, { benchmark: 'P12', subject: '10,000 rows across five registered tables', repetitions });
  for (let i = 0; i < repetitions; i += 1) {
    for (const way of ['registered', 'hand']) await createShopper(db.admin, `user:${way}-${i}`);
  }
  await db.admin`analyze`;
  const sql = postgres(db.adminUrl, { ...quiet, max: 1 });
  const times = { eraseRegistered: [] as number[], eraseHand: [] as number[], exportRegistered: [] as number[], exportHand: [] as number[] };
  try {
    // each way's first call on the connection plans its statements: measured apart from the rest
    await exportByRegistration(sql, 'user:registered-0');
    await exportByHand(sql, 'user:hand-0');
    for (let i = 0; i < repetitions; i += 1) {
      const [ours, document] = await timed(() => exportByRegistration(sql, `user:registered-${i}`));
      const [hand, handDocument] = await timed(() => exportByHand(sql, `user:hand-${i}`));
      if (document[0]!.document.length < handDocument[0]!.document.length * 0.9) throw new Error('the two exports do not hold the same rows');
      times.exportRegistered.push(ours);
      times.exportHand.push(hand);
    }
    for (let i = 0; i < repetitions; i += 1) {
      times.eraseRegistered.push((await timed(() => eraseByRegistration(sql, `user:registered-${i}`)))[0]);
      times.eraseHand.push((await timed(() => eraseByHand(sql, `user:hand-${i}`)))[0]);
    }
  } finally {
    await sql.end();
  }
  figure('P12', 'erase_10000_rows_registered_p50', percentile(times.eraseRegistered, 50), 'ms');
  figure('P12', 'erase_10000_rows_by_hand_p50', percentile(times.eraseHand, 50), 'ms');
  figure('P12', 'erase_hand_over_registered', percentile(times.eraseHand, 50) / percentile(times.eraseRegistered, 50), 'x', { op: '>=', value: 0.8 });
  figure('P12', 'export_10000_rows_registered_p50', percentile(times.exportRegistered, 50), 'ms');
  figure('P12', 'export_10000_rows_by_hand_p50', percentile(times.exportHand, 50), 'ms');
  figure('P12', 'export_hand_over_registered', percentile(times.exportHand, 50) / percentile(times.exportRegistered, 50), 'x', { op: '>=', value: 0.8 });
}
