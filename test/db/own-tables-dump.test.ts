/**
 * After an erasure, a pg_dump --data-only of a database holding the example shop
 * (examples/own-tables/schema.sql) holds none of the subject's values: not in the shop's tables,
 * not in the audit log's rows about their writes. The invoice that tax law keeps is there, with
 * its amount and date and without the person. pg_dump is chosen as in the backup test.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import postgres from 'postgres';
import { describe, expect, inject, it } from 'vitest';
import { parseDatabaseUrl, withDatabase } from '../../db/connection.js';
import { setupDatabase } from '../../db/setup.js';
import { quiet } from '../provision/database.js';
import { chooseServer } from '../provision/pg-tools.js';

describe('pg_dump after erasing a subject of your own tables', () => {
  it('holds no value of the subject anywhere, and the kept invoice keeps its amount and date', async () => {
    const roundTrip = await chooseServer('own tables dump test');
    const url = withDatabase(parseDatabaseUrl(roundTrip.maintenanceUrl), `${inject('runPrefix')}_own_tables_dump`);
    await setupDatabase({ adminUrl: url, loginPassword: inject('loginPassword'), tombstonePepper: { keyring: inject('tombstonePepper') } });
    const sql = postgres(url, { ...quiet, max: 1 });
    const marker = randomBytes(6).toString('hex');
    const userId = `user:gone-${marker}`;
    const values = [userId, `gone-${marker}@shop.example`, `Gone ${marker}`, `${marker} Erased Street`, `ticket ${marker} text`, `token-${marker}`, `Moved ${marker} Road`];
    try {
      await sql.unsafe(readFileSync('examples/own-tables/schema.sql', 'utf8'));
      await sql.begin(async (tx) => {
        await tx`select compliance.set_request_context(${userId}, '{}'::text[], null, null)`;
        await tx`select compliance.ensure_profile(${userId}, null, null, null)`;
      });
      const [customer] = await sql`insert into shop.customers (user_id, email, full_name) values (${userId}, ${values[1]!}, ${values[2]!}) returning id`;
      await sql`insert into shop.orders (customer_id, shipping_address, total) values (${customer!.id}, ${values[3]!}, 12.30)`;
      await sql`update shop.orders set shipping_address = ${values[6]!} where customer_id = ${customer!.id}`;
      await sql`insert into shop.invoices (customer_id, billing_name, billing_address, amount, issued_on) values (${customer!.id}, ${values[2]!}, ${values[3]!}, 987.65, '2026-02-03')`;
      await sql`insert into shop.support_tickets (user_id, subject_line, body) values (${userId}, 'Help', ${values[4]!})`;
      await sql`insert into shop.device_tokens (token, user_id, platform) values (${values[5]!}, ${userId}, 'android')`;
      await sql.begin(async (tx) => {
        await tx`set local role compliance_dpo`;
        await tx`select compliance.set_request_context('dpo:dana', array['dpo'], null, null)`;
        await tx`select compliance.erase_subject(${userId}, 'asked', true)`;
      });
      await sql`select compliance.seal_audit_log()`;
      const dump = execFileSync(roundTrip.pgDump, ['--data-only', '--no-owner', '-d', url], { maxBuffer: 256 * 1024 * 1024 }).toString('utf8');
      expect(dump).toContain('COPY shop.invoices');
      for (const value of values) expect(dump.includes(value), value).toBe(false);
      expect(dump.includes(marker), 'the marker').toBe(false);
      const invoice = dump.split('\n').find((line) => line.includes('987.65'));
      expect(invoice).toMatch(/\\N\t\\N\t\\N\t987\.65\t2026-02-03/);
    } finally {
      await sql.end();
    }
  });
});
