/**
 * The cold archive against a local S3-compatible server (s3rver, in this process): an old month is
 * written, sealed and archived, verified from the bucket, dropped with a sealed record naming its
 * bundle; the subject's export still lists the archived rows, and their erasure leaves no trace in
 * the bundle or the database. A bundle edited by one byte fails verification naming the row.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { constants, gunzipSync, gzipSync, inflateRawSync } from 'node:zlib';
import pg from 'pg';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toAnchorKey } from '../../core/anchors/anchors.js';
import { archiveAuditMonths } from '../../core/archive/archive-months.js';
import { bundleName } from '../../core/archive/bundle.js';
import { openArchiveStore } from '../../core/archive/store.js';
import { verifyArchive } from '../../core/archive/verify-archive.js';
import { parseCrontab, quickAddJob } from 'graphile-worker';
import { CRONTAB, startWorker } from '../../worker/runner.js';
import { useTestDatabase } from '../provision/database.js';
import { until } from '../provision/until.js';
import { oldAuditMonth } from '../provision/old-audit-month.js';

const db = useTestDatabase();
const key = toAnchorKey(generateKeyPairSync('ed25519').privateKey);
const work = mkdtempSync(path.join(os.tmpdir(), 'pgcomply-archive-test-'));
const dpo = { actor: 'dpo:archive', roles: ['dpo'] };
const patient = 'user:archived-patient';
const email = 'archived.patient@example.org';
const FLUSH_POINT = Buffer.from([0x00, 0x00, 0xff, 0xff]);
let storage: S3rver;
let endpoint = '';

beforeAll(async () => {
  storage = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: path.join(work, 's3'), configureBuckets: [{ name: 'audit-archive', configs: [] }] });
  const { port } = await storage.run();
  endpoint = `http://127.0.0.1:${port}`;
  // s3rver's fixed credentials, read by the AWS SDK's default chain
  process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
  process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
});

afterAll(async () => {
  await storage?.close();
  rmSync(work, { recursive: true, force: true });
});

const s3 = () => openArchiveStore('s3://audit-archive/pgcomply', { endpoint, region: 'us-east-1', serverSideEncryption: 'AES256', objectLockMode: 'COMPLIANCE' });

async function asWorker<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: db.loginUrl('worker') });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

describe('the cold archive', () => {
  let partition = '';
  let bundle: Buffer;

  it('archives a sealed month to the bucket, verifies it from there, and drops the partition with a sealed record naming the bundle', async () => {
    await db.as('compliance_app', { actor: patient }, (tx) => tx`select compliance.ensure_profile(${patient}, ${email})`);
    partition = await oldAuditMonth(db, patient);

    const archived = await asWorker((client) => archiveAuditMonths(client, s3(), key));
    expect(archived).toEqual([expect.objectContaining({ partition, rows: 60, bundle_uri: `s3://audit-archive/pgcomply/${bundleName(partition)}`,
      object_lock: 'not enabled on bucket audit-archive' })]);
    // a second run finds nothing left to archive
    expect(await asWorker((client) => archiveAuditMonths(client, s3(), key))).toEqual([]);
    bundle = await s3().get(bundleName(partition));

    // a started SIEM feed that has not sent the month yet holds the drop back
    await db.as('compliance_owner', null, (tx) => tx`insert into compliance_private.siem_feed default values`);
    const [held] = await db.as('compliance_worker', null, (tx) => tx`select compliance.apply_retention('audit_logs') as r`);
    expect(held!.r.deleted).toBe(0);
    const [kept] = await db.admin`select details from compliance.audit_logs where action = 'audit.partition_kept' and resource_id = ${partition}`;
    expect(kept!.details.reason).toBe('SIEM feed behind');
    await db.as('compliance_owner', null, (tx) => tx`insert into compliance_private.siem_chain_cursors (placement, seal_no, seal_position)
      select '', s.seal_no, s.row_count from compliance.audit_seals s order by s.seal_no desc limit 1`);

    const [run] = await db.as('compliance_worker', null, (tx) => tx`select compliance.apply_retention('audit_logs') as r`);
    expect(run!.r.partitions).toEqual([expect.objectContaining({ partition, rows: 60, archive: archived[0]!.bundle_uri })]);
    const [gone] = await db.admin`select to_regclass(${`compliance.${partition}`}) as t`;
    expect(gone!.t).toBeNull();
    const [drop] = await db.admin`select details from compliance.audit_logs where action = 'audit.partition_dropped'`;
    expect(drop!.details.archive).toEqual({ bundle_uri: archived[0]!.bundle_uri, bundle_sha256: archived[0]!.bundle_sha256, personal_parts_kept: 60 });

    await db.admin`select compliance.seal_audit_log()`;
    const [inside] = await db.admin`select ok, problems from compliance.verify_audit_log()`;
    expect(inside!.problems).toEqual([]);
    const verdict = await verifyArchive(s3(), key, db.admin);
    expect(verdict).toMatchObject({ ok: true, bundles_checked: 1, rows_checked: 60, chained_to_live_log: true, problems: [] });
  });

  it('lists the archived rows in the subject\'s export, with the bundle each is in, and counts them in the DPO\'s overview', async () => {
    const [exported] = await db.as('compliance_dpo', dpo, (tx) => tx`select compliance.export_subject(${patient}) as d`);
    const archivedRows = exported!.d.archived_audit_trail as { action: string; archived_in: string; personal_details: unknown }[];
    // about the patient (not every fifth) or by the patient (every third)
    const expected = Array.from({ length: 60 }, (_, i) => i + 1).filter((n) => n % 5 !== 0 || n % 3 === 0).length;
    expect(archivedRows).toHaveLength(expected);
    expect(archivedRows[0]).toMatchObject({ action: 'phi.access', archived_in: `s3://audit-archive/pgcomply/${bundleName(partition)}` });
    // the DPO's overview counts them too: the rows about the patient (every fifth is about nobody)
    const [overview] = await db.as('compliance_dpo', dpo, (tx) => tx`select compliance.subject_overview(${patient}) as o`);
    expect(overview!.o.sections.archived_audit_trail).toBe(48);
  });

  it('leaves no trace of an erased subject in the bundle or the database; the archive still verifies and names a kept part a superuser changed', async () => {
    const text = gunzipSync(bundle).toString('utf8');
    expect(text).toContain('"type":"manifest"');
    for (const trace of [patient, email, 'staff:nurse', '10.1.2.3', 'ward-terminal']) expect(text).not.toContain(trace);

    await db.as('compliance_dpo', dpo, (tx) => tx`select compliance.erase_subject(${patient}, 'Art. 17', true)`);
    const tables = await db.admin`select format('%I.%I', n.nspname, c.relname) as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p') and not c.relispartition and n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')`;
    const traces: string[] = [];
    for (const { name } of tables) {
      const [row] = await db.admin.unsafe(`select count(*)::int as n from ${name} t where strpos(t::text, $1) > 0 or strpos(t::text, $2) > 0`, [patient, email]);
      if (row!.n > 0) traces.push(`${name}: ${row!.n}`);
    }
    expect(traces).toEqual([]);
    // the nurse's part of rows about the patient stays: only the subject was erased
    const [kept] = await db.admin`select count(*)::int as n from compliance.audit_archived_parts where actor_id = 'staff:nurse' and user_id is null`;
    expect(kept!.n).toBeGreaterThan(0);
    // an archive record a superuser writes from a block of their own accounts for nothing: no
    // bundle is missing for it
    await db.admin`do $$ begin perform compliance_private.append_audit('audit.archived', 'soc2', 'audit_partition', 'audit_logs_y2000m01',
      jsonb_build_object('bundle_uri', 's3://audit-archive/pgcomply/audit_logs_y2000m01.ndjson.gz', 'bundle_sha256', repeat('0', 64))); end $$`;
    await db.admin`select compliance.seal_audit_log()`;
    expect(await verifyArchive(s3(), key, db.admin)).toMatchObject({ ok: true, problems: [] });

    // a part kept in the database, changed by a superuser, no longer matches the digest the bundle holds
    const [part] = await db.admin`select id::int as id, user_agent from compliance.audit_archived_parts where actor_part_salt is not null order by id limit 1`;
    await db.admin`update compliance.audit_archived_parts set user_agent = 'forged-agent' where id = ${part!.id}`;
    try {
      const verdict = await verifyArchive(s3(), key, db.admin);
      expect(verdict.problems).toEqual([expect.objectContaining({ kind: 'digest_mismatch', row_id: part!.id })]);
    } finally {
      await db.admin`update compliance.audit_archived_parts set user_agent = ${part!.user_agent} where id = ${part!.id}`;
    }
  });

  it('names the row when one byte of a bundle\'s rows is edited, and when one byte of the compressed file is', async () => {
    const text = gunzipSync(bundle);
    const lines = text.toString('utf8').split('\n');
    const target = lines.findIndex((l) => l.includes('"resource_id":"hr-30"'));
    const rowId = Number(JSON.parse(lines[target]!).id);
    const edited = Buffer.from(text);
    const at = text.indexOf('"hr-30"') + 4;
    edited[at] = '7'.charCodeAt(0);
    const dir = path.join(work, 'edited');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, bundleName(partition)), gzipSync(edited));
    const verdict = await verifyArchive(openArchiveStore(dir), key);
    expect(verdict.ok).toBe(false);
    expect(verdict.problems).toContainEqual(expect.objectContaining({ kind: 'altered_row', row_id: rowId }));

    // in the compressed file: one byte in the middle of the stretch that holds that row (the
    // writer ends each stretch of lines with a full flush, after which the stream starts afresh)
    const flushes = [10];
    for (let at = bundle.indexOf(FLUSH_POINT, 10); at >= 0; at = bundle.indexOf(FLUSH_POINT, at + 4)) flushes.push(at + 4);
    const stretchText = (i: number) => inflateRawSync(bundle.subarray(flushes[i]!, flushes[i + 1]), { finishFlush: constants.Z_SYNC_FLUSH }).toString('utf8');
    const stretch = flushes.findIndex((_, i) => i + 1 < flushes.length && stretchText(i).includes('"resource_id":"hr-30"'));
    expect(stretch).toBeGreaterThanOrEqual(0);
    const rowsThere = stretchText(stretch).split('\n').filter((l) => l.startsWith('{"type":"row"')).map((l) => Number(JSON.parse(l).id));
    const flipped = Buffer.from(bundle);
    flipped[Math.floor((flushes[stretch]! + flushes[stretch + 1]!) / 2)]! ^= 0x10;
    writeFileSync(path.join(dir, bundleName(partition)), flipped);
    const damaged = await verifyArchive(openArchiveStore(dir), key);
    expect(damaged.ok).toBe(false);
    // the rows whose text the damaged byte changed are named, and only rows of that stretch
    const named = damaged.problems.filter((p) => p.row_id !== null).map((p) => p.row_id!);
    expect(named.length, JSON.stringify(damaged.problems)).toBeGreaterThan(0);
    for (const id of named) expect(rowsThere).toContain(id);
    expect(readFileSync(path.join(dir, bundleName(partition))).equals(bundle)).toBe(false);
  });

  it('is the worker\'s monthly job, on day 2 at 01:00 UTC before that night\'s retention, and the audit_archive check fails while a month waits too long', async () => {
    const items = parseCrontab(CRONTAB);
    const job = items.find((item) => item.task === 'archive_audit')!;
    expect(job.match({ min: 0, hour: 1, date: 2, month: 3, dow: 4 })).toBe(true);
    expect(job.match({ min: 0, hour: 1, date: 3, month: 3, dow: 5 })).toBe(false);
    expect(items.find((item) => item.task === 'retention')!.match({ min: 0, hour: 3, date: 2, month: 3, dow: 4 })).toBe(true);

    const older = await oldAuditMonth(db, 'user:archived-by-the-worker', 2);
    // archiving has begun, and a month long past archive_after has no bundle: the check fails, naming it
    const archiveCheck = async () => (await db.admin`select status, measured from compliance_private.check_audit_archive('{}')`)[0]!;
    expect(await archiveCheck()).toMatchObject({ status: 'fail', measured: { months_overdue: 1, oldest_overdue: older } });
    const dir = path.join(work, 'worker-archive');
    const worker = await startWorker({ connectionString: db.loginUrl('worker'), pollInterval: 200, archive: { store: openArchiveStore(dir), key } });
    try {
      await quickAddJob({ connectionString: db.loginUrl('worker') }, 'archive_audit', {});
      const recorded = await until(async () => (await db.admin`select bundle_uri from compliance.audit_archives where partition_name = ${older}`)[0], 60_000, 'the worker to archive the month');
      expect(recorded.bundle_uri).toBe(path.join(dir, bundleName(older)));
      expect(await archiveCheck()).toMatchObject({ status: 'pass', measured: { months_overdue: 0 } });
    } finally {
      await worker.stop();
    }
    // the archive record counts once sealed
    await db.admin`select compliance.seal_audit_log()`;
    const verdict = await verifyArchive(openArchiveStore(dir), key, db.admin);
    expect(verdict, JSON.stringify(verdict.problems)).toMatchObject({ ok: true, bundles_checked: 1, rows_checked: 60 });
  });
});
