/**
 * pgcomply import: a user base brought in from CSV or NDJSON, all of a file or nothing, audited
 * row by row, a bad line named by its number.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { useTestDatabase } from '../provision/database.js';
import { type Run, runPgcomply } from '../provision/pgcomply.js';

const db = useTestDatabase();
const scratch = mkdtempSync(path.join(os.tmpdir(), 'pgcomply-import-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const pgcomply = (args: string[]): Promise<Run> => runPgcomply(['--actor', 'dpo:importer', '--json', ...args], {
  ...process.env, DATABASE_URL: db.adminUrl, DB_LOGIN_PASSWORD: inject('loginPassword'),
  TOMBSTONE_PEPPER: inject('tombstonePepper'), PGCOMPLY_DATA_DIR: scratch, LOG_LEVEL: 'silent' });
const file = (name: string, content: string) => {
  const at = path.join(scratch, name);
  writeFileSync(at, content);
  return at;
};
const count = async (query: string) => Number((await db.admin.unsafe(query))[0]!.n);
/** nothing of the file stayed, and the one line on stderr names the line */
async function refusedAt(run: Run, line: number, prefix: string) {
  expect(run.code, run.stderr).toBe(2);
  expect(run.stderr.trim().split('\n')).toHaveLength(1);
  expect(run.stderr).toMatch(new RegExp(`nothing was imported: line ${line}: `));
  expect(run.stderr).not.toMatch(/\n\s+at /);
  expect(await count(`select count(*) as n from compliance.user_profiles where user_id like '${prefix}%'`)).toBe(0);
}

describe('pgcomply import', () => {
  it('loads a 100,000-line NDJSON file of profiles in one transaction, one audit row each', async () => {
    const lines = Array.from({ length: 100_000 }, (_, i) => JSON.stringify({ user_id: `imp:${i}`, email: `u${i}@import.example`, full_name: `User ${i}`, metadata: { plan: 'free' } }));
    const run = await pgcomply(['import', 'profiles', file('profiles.ndjson', `${lines.join('\n')}\n`)]);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ kind: 'profiles', rows: 100_000, audit_rows: 100_000 });
    expect(await count(`select count(*) as n from compliance.user_profiles where user_id like 'imp:%'`)).toBe(100_000);
    const [audit] = await db.admin`select count(*)::int as n, min(actor_id) as actor from compliance.audit_logs where action = 'profile.created' and user_id like 'imp:%'`;
    expect(audit).toMatchObject({ n: 100_000, actor: 'dpo:importer' });
  }, 180_000);

  it('loads nothing of a CSV file with one line the database refuses (23514), and names the line', async () => {
    const rows = Array.from({ length: 2_000 }, (_, i) => `csv:${i},c${i}@import.example,"Name, ${i}"`);
    rows.splice(1_500, 0, 'csv:bad,not-an-email,Bad');
    const run = await pgcomply(['import', 'profiles', file('bad.csv', `user_id,email,full_name\n${rows.join('\n')}\n`)]);
    await refusedAt(run, 1_502, 'csv:');
    expect(run.stderr).toMatch(/user_profiles_email_shape.*23514/);
  });

  it('loads nothing of a file with a line of the wrong shape, and names the line', async () => {
    const lines = ['{"user_id": "shape:1"}', '{"user_id": "shape:2", "colour": "red"}'];
    await refusedAt(await pgcomply(['import', 'profiles', file('shape.ndjson', lines.join('\n'))]), 2, 'shape:');
    await refusedAt(await pgcomply(['import', 'profiles', file('json.ndjson', '{"user_id": "shape:3"}\n\n{not json')]), 3, 'shape:');
  });

  it('refuses a subject who was erased (ERASD), naming the line', async () => {
    await db.as('compliance_dpo', { actor: 'dpo:dana', roles: ['dpo'] }, async (tx) => {
      await tx`select compliance.ensure_profile('gone:1')`;
      await tx`select compliance.erase_subject('gone:1', 'Art. 17', true)`;
    });
    const lines = ['{"user_id": "gone:0"}', '{"user_id": "gone:1"}', '{"user_id": "gone:2"}'];
    const run = await pgcomply(['import', 'profiles', file('erased.ndjson', lines.join('\n'))]);
    await refusedAt(run, 2, 'gone:');
    expect(run.stderr).toMatch(/ERASD/);
  });

  it('keeps the evidence of imported consents: when given, the policy version, the source', async () => {
    await pgcomply(['import', 'profiles', file('c-profiles.csv', 'user_id\nconsent:1\nconsent:2\n')]);
    const csv = 'user_id,purpose,granted,policy_version,given_at\nconsent:1,analytics,true,2025-01,2025-03-01T10:00:00Z\nconsent:2,analytics,false,2025-01,2025-04-01\n';
    const run = await pgcomply(['import', 'consents', file('consents.csv', csv)]);
    expect(run.code, run.stderr).toBe(0);
    const rows = await db.admin`select user_id, granted, policy_version, source, given_at, recorded_at > given_at as later
                                  from compliance.consent_records where user_id like 'consent:%' order by user_id`;
    expect(rows).toMatchObject([
      { user_id: 'consent:1', granted: true, policy_version: '2025-01', source: 'import', later: true },
      { user_id: 'consent:2', granted: false, source: 'import', later: true },
    ]);
    expect((rows[0]!.given_at as Date).toISOString()).toBe('2025-03-01T10:00:00.000Z');
    const [audit] = await db.admin`select details from compliance.audit_logs where action = 'consent.granted' and user_id = 'consent:1'`;
    expect(audit!.details).toMatchObject({ purpose: 'analytics', policy_version: '2025-01', source: 'import' });
  });
});
