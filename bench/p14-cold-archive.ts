/**
 * P14: the cold archive. One old month of audit rows (layout 2, a subject and an actor on each)
 * written to a bundle in a local directory, read back and verified, and recorded; then the bundle
 * verified again on its own (verify --archive --offline), and the partition dropped by retention.
 * The bundle's size against the partition's on disk, in the same run.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { toAnchorKey } from '../core/anchors/anchors.js';
import { archiveAuditMonths } from '../core/archive/archive-months.js';
import { bundleName } from '../core/archive/bundle.js';
import { openArchiveStore } from '../core/archive/store.js';
import { verifyArchive } from '../core/archive/verify-archive.js';
import { type BenchDatabase, figure, printConditions, timed } from './lib.js';

const ROWS = 200_000;

export async function run(db: BenchDatabase, quick: boolean) {
  const rows = quick ? ROWS / 40 : ROWS;
  await printConditions(db, { benchmark: 'P14', rows });
  const [month] = await db.admin`select date_trunc('month', now() - interval '1 year') as start,
    format('audit_logs_y%sm%s', to_char(now() - interval '1 year', 'YYYY'), to_char(now() - interval '1 year', 'MM')) as name`;
  const name = month!.name as string;
  // as ensure_audit_partitions makes them: owned by the owner, whose routines read them
  await db.admin.begin(async (tx) => {
    await tx`set local role compliance_owner`;
    await tx.unsafe(`create table compliance.${name} partition of compliance.audit_logs
      for values from ('${month!.start.toISOString()}') to ('${month!.start.toISOString()}'::timestamptz + interval '1 month')`);
    await tx`select compliance_private.protect_audit_relation(${`compliance.${name}`}::regclass)`;
  });
  await db.admin`
    with parts as (
      select n, ${month!.start}::timestamptz + make_interval(secs => n * 10) as at, 'user:p14-' || (n % 5000) as subject,
             'staff:p14-' || (n % 40) as actor, decode(md5('s' || n), 'hex') as s_salt, decode(md5('a' || n), 'hex') as a_salt
        from generate_series(1, ${rows}) n
    ), digests as (
      select p.*, compliance_private.audit_subject_digest(p.s_salt, p.subject, '{"reason": "care"}'::jsonb) as s_digest,
             compliance_private.audit_actor_digest(p.a_salt, p.actor, '10.1.2.3', 'ward-terminal/2.1') as a_digest
        from parts p
    )
    insert into compliance.audit_logs (occurred_at, action, category, resource_type, resource_id, details, user_id, actor_id, ip_address, user_agent,
                                       personal_details, subject_part_salt, subject_part_digest, actor_part_salt, actor_part_digest, personal_digest)
    select d.at, 'phi.access', 'hipaa', 'health_record', 'hr-' || (d.n % 20000), jsonb_build_object('fields', jsonb_build_array('diagnosis')), d.subject, d.actor,
           '10.1.2.3', 'ward-terminal/2.1', '{"reason": "care"}', d.s_salt, d.s_digest, d.a_salt, d.a_digest, sha256(d.s_digest || d.a_digest)
      from digests d`;
  while ((await db.admin`select compliance.seal_audit_log(10000, 100) as n`)[0]!.n > 0);
  await db.admin`vacuum analyze compliance.${db.admin(name)}`;
  const [size] = await db.admin`select pg_total_relation_size(${`compliance.${name}`}::regclass)::float8 as bytes`;

  const key = toAnchorKey(generateKeyPairSync('ed25519').privateKey);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pgcomply-p14-'));
  const worker = new pg.Client({ connectionString: db.loginUrl('worker') });
  await worker.connect();
  try {
    const store = openArchiveStore(dir);
    const [digestMs] = await timed(() => db.admin`select * from compliance_private.audit_partition_digest(${`compliance.${name}`}::regclass)`);
    figure('P14', 'rows_digest_in_sql_rows_per_second', rows / (digestMs / 1000), 'rows/s');
    const [archiveMs, archived] = await timed(() => archiveAuditMonths(worker, store, key));
    if (archived.length !== 1 || archived[0]!.rows !== rows) throw new Error(`archived ${JSON.stringify(archived)}`);
    const bundleBytes = statSync(path.join(dir, bundleName(name))).size;
    const [verifyMs, verdict] = await timed(() => verifyArchive(store, key));
    if (!verdict.ok) throw new Error(`the archive does not verify: ${JSON.stringify(verdict.problems.slice(0, 3))}`);
    const [dropMs] = await timed(() => db.admin`select compliance.apply_retention('audit_logs')`);
    figure('P14', 'archive_rows_per_second', rows / (archiveMs / 1000), 'rows/s');
    figure('P14', 'verify_archive_rows_per_second', rows / (verifyMs / 1000), 'rows/s');
    figure('P14', 'bundle_bytes_per_row', bundleBytes / rows, 'B');
    figure('P14', 'bundle_over_partition_size', bundleBytes / size!.bytes, 'x', { op: '<=', value: 1 });
    figure('P14', 'archived_drop_ms', dropMs, 'ms');
  } finally {
    await worker.end();
    rmSync(dir, { recursive: true, force: true });
  }
}
