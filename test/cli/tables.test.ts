/**
 * pgcomply tables: registering one of your tables as its owner, listing the registry through the
 * DPO's API procedures, marking a column not personal; bad input is one line and exit 2.
 */
import { afterAll, describe, expect, inject, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { useTestDatabase } from '../provision/database.js';
import { type Run, runPgcomply } from '../provision/pgcomply.js';

const db = useTestDatabase();
const scratch = mkdtempSync(path.join(os.tmpdir(), 'pgcomply-tables-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const pgcomply = (...args: string[]): Promise<Run> => runPgcomply(['--actor', 'dba:tess', '--json', ...args], { ...process.env,
  DATABASE_URL: db.adminUrl, DB_LOGIN_PASSWORD: inject('loginPassword'), TOMBSTONE_PEPPER: inject('tombstonePepper'), PGCOMPLY_DATA_DIR: scratch, LOG_LEVEL: 'silent' });

describe('pgcomply tables', () => {
  it('registers a table as its owner, lists it, and marks a column not personal, each in the audit log under --actor', async () => {
    await db.admin`create schema crm`;
    await db.admin`create table crm.leads (id bigint generated always as identity primary key, user_id text, phone text, source text, created_at timestamptz not null default now())`;
    const registered = await pgcomply('tables', 'register', 'crm.leads', '--subject', 'user_id', '--personal', 'phone=contact',
      '--retention', '18 months', '--retention-from', 'created_at', '--retention-basis', 'Sales follow-up');
    expect(registered.code, registered.stderr).toBe(0);
    expect(JSON.parse(registered.stdout)).toMatchObject({ relation: 'crm.leads', erasure: 'delete', retention_period: '1 year 6 mons' });
    const listed = await pgcomply('tables', 'list');
    expect(JSON.parse(listed.stdout)).toMatchObject([{ relation: 'crm.leads', subject: 'user_id', personal_columns: { phone: 'contact' } }]);
    const marked = await pgcomply('tables', 'mark-not-personal', 'crm.leads', 'source', '--reason', 'The campaign a lead came from');
    expect(marked.code, marked.stderr).toBe(0);
    const actors = await db.admin`select action, actor_id from compliance.audit_logs where resource_id = 'crm.leads' and action like 'personal_table.%' order by id`;
    expect(actors.map((a) => `${a.action} ${a.actor_id}`)).toEqual(['personal_table.registered dba:tess', 'personal_table.marked_not_personal dba:tess']);
  });

  it('refuses bad input with one line and exit 2: no such table, an unknown category, a pair without a value', async () => {
    for (const args of [['tables', 'register', 'crm.nothing', '--subject', 'user_id', '--personal', 'phone=contact'],
      ['tables', 'register', 'crm.leads', '--subject', 'user_id', '--personal', 'phone=gossip'],
      ['tables', 'register', 'crm.leads', '--subject', 'user_id', '--personal', 'phone']]) {
      const run = await pgcomply(...args);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr.trim().split('\n'), run.stderr).toHaveLength(1);
      expect(run.stderr).not.toMatch(/\n\s+at /);
    }
  });
});
