/**
 * pgcomply archive writes an old audit month to a directory; pgcomply verify --archive checks the
 * bundle chained to the live log, and offline, and exits 1 naming the row once a byte is edited.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { bundleName } from '../../core/archive/bundle.js';
import { useTestDatabase } from '../provision/database.js';
import { oldAuditMonth } from '../provision/old-audit-month.js';
import { type Run, runPgcomply } from '../provision/pgcomply.js';

const db = useTestDatabase();
const scratch = mkdtempSync(path.join(os.tmpdir(), 'pgcomply-archive-cli-'));
const archive = path.join(scratch, 'archive');
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function pgcomply(args: string[]): Promise<Run> {
  return runPgcomply(['--actor', 'dpo:archive', '--json', ...args], { ...process.env, DATABASE_URL: db.adminUrl, DB_LOGIN_PASSWORD: inject('loginPassword'),
    TOMBSTONE_PEPPER: inject('tombstonePepper'), PGCOMPLY_DATA_DIR: scratch, LOG_LEVEL: 'silent' });
}
const json = (run: Run, code = 0) => {
  expect(run.code, run.stderr + run.stdout).toBe(code);
  return JSON.parse(run.stdout);
};

describe('pgcomply archive and verify --archive', () => {
  it('archives a month to a directory, verifies it chained to the live log and offline, and names the row a one-byte edit changed', async () => {
    const partition = await oldAuditMonth(db, 'user:cli-archived');
    const written = json(await pgcomply(['archive', '--to', archive]));
    expect(written.archived).toEqual([expect.objectContaining({ partition, rows: 60, bundle_uri: path.join(archive, bundleName(partition)) })]);
    await db.as('compliance_worker', null, (tx) => tx`select compliance.apply_retention('audit_logs')`);
    await db.admin`select compliance.seal_audit_log()`;

    expect(json(await pgcomply(['verify', '--archive', archive]))).toMatchObject({ ok: true, bundles_checked: 1, rows_checked: 60, chained_to_live_log: true });
    expect(json(await pgcomply(['verify', '--archive', archive, '--offline']))).toMatchObject({ ok: true, chained_to_live_log: false });

    const file = path.join(archive, bundleName(partition));
    const text = gunzipSync(readFileSync(file));
    const line = text.toString('utf8').split('\n').find((l) => l.includes('"resource_id":"hr-7"'))!;
    text[text.indexOf('"hr-7"') + 4] = '8'.charCodeAt(0);
    writeFileSync(file, gzipSync(text));
    const found = json(await pgcomply(['verify', '--archive', archive, '--offline']), 1);
    expect(found.problems).toContainEqual(expect.objectContaining({ kind: 'altered_row', row_id: Number(JSON.parse(line).id) }));
  });

  it('says what is missing when no archive is named, or the directory does not exist (exit 2)', async () => {
    expect((await pgcomply(['archive'])).code).toBe(2);
    const missing = await pgcomply(['verify', '--archive', path.join(scratch, 'nowhere'), '--offline']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('does not exist');
  });
});
