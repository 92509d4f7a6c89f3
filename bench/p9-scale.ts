/**
 * P9: how cost grows. The same product data at two sizes a hundred times apart (10,000 and
 * 1,000,000 subjects, with 20 audit rows, 5 messages and a tenth of a health record each), built
 * through the audited bulk-load path, then each per-subject operation and each scheduled job
 * measured on both, side by side, with memory high-water marks and how many audit rows each read.
 */
import { readFileSync } from 'node:fs';
import postgres, { type Sql, type TransactionSql } from 'postgres';
import { buildEvidencePackage } from '../server/evidence/package.js';
import { insertAuditRows } from './fixtures.js';
import { type BenchDatabase, figure, percentile, printConditions, quiet, timed } from './lib.js';

export interface Scale {
  label: 'small' | 'large';
  subjects: number;
  auditRows: number;
  messagesPerSubject: number;
  /** one subject in this many has a health record */
  healthRecordEvery: number;
}

export const PREFIX = 'user:p9-';
const CHUNK = 100_000;
const RETENTION_DAYS = 90; // the conversations policy's default
const SPREAD_DAYS = 365;

// ---------------------------------------------------------------------------------------------
// building a database of a given size

async function asLoader<T>(db: BenchDatabase, work: (tx: TransactionSql) => Promise<T>) {
  return db.admin.begin(async (tx) => {
    await tx`select compliance.set_request_context('dba:loader')`;
    return work(tx);
  });
}

/** subjects with a consent, one conversation and its messages, all audited, a chunk per transaction */
async function loadSubjects(db: BenchDatabase, scale: Scale) {
  for (let from = 0; from < scale.subjects; from += CHUNK) {
    const to = Math.min(scale.subjects, from + CHUNK) - 1;
    await asLoader(db, async (tx) => {
      await tx`insert into compliance.user_profiles (user_id, email, full_name)
               select ${PREFIX} || g, 'p9-' || g || '@scale.example', 'Subject ' || g from generate_series(${from}::int, ${to}::int) g`;
      await tx`insert into compliance.consent_records (user_id, purpose, granted, policy_version)
               select ${PREFIX} || g, 'analytics', g % 3 <> 0, 'v1' from generate_series(${from}::int, ${to}::int) g`;
      // last messages spread over the retention period and one day more: a day's conversations are due
      await tx`insert into compliance.conversations (conversation_id, user_id, title, last_message_at)
               select md5('p9-conversation-' || g)::uuid, ${PREFIX} || g, 'conversation',
                      now() - make_interval(secs => (g % 8640) * ${(RETENTION_DAYS + 1) * 10}::float8)
                 from generate_series(${from}::int, ${to}::int) g`;
      await tx`insert into compliance.messages (conversation_id, user_id, role, content)
               select md5('p9-conversation-' || g)::uuid, ${PREFIX} || g, case when m % 2 = 0 then 'assistant' else 'user' end,
                      repeat('message text ', 8) || m
                 from generate_series(${from}::int, ${to}::int) g cross join generate_series(1, ${scale.messagesPerSubject}) m`;
    });
  }
}

/**
 * Health records as the server writes them, minus the encryption (done in TypeScript, and no
 * measured job decrypts): a subject key and one record per `healthRecordEvery` subjects.
 */
async function loadHealthRecords(db: BenchDatabase, scale: Scale) {
  await db.admin.begin(async (tx) => {
    await tx`set local session_replication_role = replica`;
    const [category] = await tx<{ category: string }[]>`select category from compliance.health_record_categories order by category limit 1`;
    await tx`insert into compliance_private.subject_keys (user_id, key_version, wrapped_key, kek_version)
             select ${PREFIX} || g, 1, substring(sha512(int4send(g)) for 60), 1
               from generate_series(0, ${scale.subjects - 1}, ${scale.healthRecordEvery}) g`;
    await tx`insert into compliance.health_records (id, user_id, category, key_version, ciphertext, integrity, recorded_at)
             select gen_random_uuid(), ${PREFIX} || g, ${category!.category}, 1, sha512(int4send(g)), sha256(int4send(g)),
                    date_trunc('milliseconds', now() - make_interval(days => g % ${SPREAD_DAYS}))
               from generate_series(0, ${scale.subjects - 1}, ${scale.healthRecordEvery}) g`;
  });
}

async function sealAll(db: BenchDatabase) {
  while ((await db.admin`select compliance.seal_audit_log(10000, 100) as n`)[0]!.n > 0);
}

export async function build(db: BenchDatabase, scale: Scale) {
  const steps: Record<string, number> = {};
  await db.admin`select compliance.ensure_audit_partitions(3, 13)`;
  [steps.subjects_ms] = await timed(() => loadSubjects(db, scale));
  [steps.health_records_ms] = await timed(() => loadHealthRecords(db, scale));
  const [{ count }] = (await db.admin`select count(*)::bigint as count from compliance.audit_logs`) as unknown as [{ count: string }];
  // the rest of the audit log: a year of reads of the subjects' data, 5% of them PHI reads
  [steps.audit_rows_ms] = await timed(() => insertAuditRows(db.admin, scale.auditRows - Number(count),
    { subjects: scale.subjects, subjectPrefix: PREFIX, spreadSeconds: SPREAD_DAYS * 86400, phiReadsPercent: 5 }));
  [steps.seal_ms] = await timed(() => sealAll(db));
  [steps.vacuum_analyze_ms] = await timed(() => db.admin`vacuum analyze`);
  return steps;
}

// ---------------------------------------------------------------------------------------------
// measuring a job: time, memory high-water marks, audit rows read

interface Measured {
  ms: number;
  /** the PostgreSQL backend's private memory, sampled while the job ran (null: the server is not on this machine) */
  backendPeakMiB: number | null;
  nodePeakMiB: number;
  /** audit rows the job's transaction read by sequential scan and through indexes (null: several transactions) */
  auditRowsScanned: number | null;
  auditRowsFetched: number | null;
}

function backendPrivateMiB(pid: number): number | null {
  try {
    const match = /^RssAnon:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}

async function measure(url: string, work: (sql: Sql) => Promise<unknown>, oneTransaction: boolean): Promise<Measured> {
  const sql = postgres(url, { ...quiet, max: 1 });
  try {
    const [{ pid }] = (await sql`select pg_backend_pid() as pid`) as unknown as [{ pid: number }];
    let backendPeak = backendPrivateMiB(pid);
    let nodePeak = process.memoryUsage().rss / 2 ** 20;
    const sampler = setInterval(() => {
      const backend = backendPrivateMiB(pid);
      if (backend !== null) backendPeak = Math.max(backendPeak ?? 0, backend);
      nodePeak = Math.max(nodePeak, process.memoryUsage().rss / 2 ** 20);
    }, 50);
    let scanned: number | null = null;
    let fetched: number | null = null;
    try {
      const [ms] = await timed(async () => {
        if (!oneTransaction) return work(sql);
        return sql.begin(async (tx) => {
          await work(tx as unknown as Sql);
          // this transaction's own counts: what the job read, before they reach pg_stat_user_tables
          const [reads] = await tx<{ scanned: string; fetched: string }[]>`
            select coalesce(sum(seq_tup_read), 0) as scanned, coalesce(sum(idx_tup_fetch), 0) as fetched
              from pg_catalog.pg_stat_xact_user_tables where schemaname = 'compliance' and relname like 'audit\\_logs%'`;
          scanned = Number(reads!.scanned);
          fetched = Number(reads!.fetched);
        });
      });
      return { ms, backendPeakMiB: backendPeak, nodePeakMiB: nodePeak, auditRowsScanned: scanned, auditRowsFetched: fetched };
    } finally {
      clearInterval(sampler);
    }
  } finally {
    await sql.end();
  }
}

async function asDpo(sql: Sql) {
  await sql`set local role compliance_dpo`;
  await sql`select compliance.set_request_context('dpo:scale', '{dpo}')`;
}

interface Results {
  build: Record<string, number>;
  jobs: Record<string, Measured & { rows?: number }>;
  erasures: number[];
  exports: number[];
}

async function measureAll(db: BenchDatabase, scale: Scale, samples: number): Promise<Results> {
  const built = await build(db, scale);
  const jobs: Results['jobs'] = {};
  const worker = db.loginUrl('worker');

  // Sunday's checks verify the whole chain; they leave the checkpoint the daily run starts from
  jobs.checks_weekly_full = await measure(worker, (sql) => sql`select compliance.run_compliance_checks('schedule', false, true)`, true);
  const [checkpoint] = await db.admin<{ seal_no: string; seal_hash: Buffer }[]>`
    select seal_no, seal_hash from compliance.audit_seals order by seal_no desc limit 1`;

  // a day of activity, sealed
  const dayRows = Math.round(scale.auditRows / SPREAD_DAYS);
  await insertAuditRows(db.admin, dayRows, { subjects: scale.subjects, subjectPrefix: PREFIX, spreadSeconds: 86_400, phiReadsPercent: 5 });
  await sealAll(db);

  jobs.incremental_verification = await measure(db.adminUrl, (sql) => sql`
    select ok from compliance.verify_audit_log(${checkpoint!.seal_no}, ${checkpoint!.seal_hash})`, true);
  jobs.incremental_verification.rows = dayRows;
  // 05:30: the PHI access review reads the day's PHI accesses against the weeks before
  jobs.phi_review_daily = await measure(worker, (sql) => sql`select * from compliance.review_phi_access()`, true);
  jobs.checks_daily = await measure(worker, (sql) => sql`select compliance.run_compliance_checks('schedule', false, false)`, true);
  jobs.monthly_report = await measure(worker, (sql) => sql`
    select compliance.generate_monthly_report((date_trunc('month', now()) - interval '1 month')::date)`, true);
  jobs.evidence_month = await measure(db.adminUrl, async (sql) => {
    await asDpo(sql);
    const [{ from, to }] = (await sql`select date_trunc('month', now()) - interval '1 month' as from, date_trunc('month', now()) as to`) as unknown as [{ from: Date; to: Date }];
    await buildEvidencePackage(sql as never, from, to);
  }, true);
  let deleted = 0;
  jobs.retention_day = await measure(worker, async (sql) => {
    for (;;) {
      const [row] = await sql<{ r: { deleted: number; messages_deleted?: number } }[]>`select compliance.apply_retention('conversations', 1000, false) as r`;
      deleted += Number(row!.r.deleted) + Number(row!.r.messages_deleted ?? 0);
      if (Number(row!.r.deleted) < 1000) break;
    }
  }, false);
  jobs.retention_day.rows = deleted;

  // typical subjects, spread over the id space, distinct for export and erasure
  const subject = (i: number, offset: number) => `${PREFIX}${Math.floor(((i * 2 + offset) * scale.subjects) / (samples * 2)) + 1}`;
  const exports: number[] = [];
  const erasures: number[] = [];
  const dpo = postgres(db.adminUrl, { ...quiet, max: 1 });
  try {
    // the connection's first export and erasure compile the PL/pgSQL and fill its caches (P3 reports
    // that on its own): subject 0, never sampled, takes them
    await dpo.begin(async (tx) => {
      await asDpo(tx as unknown as Sql);
      await tx`select compliance.export_subject(${`${PREFIX}0`})::text`;
      await tx`select compliance.erase_subject(${`${PREFIX}0`}, 'scale benchmark', true)`;
    });
    for (let i = 0; i < samples; i += 1) {
      exports.push((await timed(() => dpo.begin(async (tx) => {
        await asDpo(tx as unknown as Sql);
        await tx`select compliance.export_subject(${subject(i, 0)})::text`;
      })))[0]);
      erasures.push((await timed(() => dpo.begin(async (tx) => {
        await asDpo(tx as unknown as Sql);
        await tx`select compliance.erase_subject(${subject(i, 1)}, 'scale benchmark', true)`;
      })))[0]);
    }
  } finally {
    await dpo.end();
  }
  return { build: built, jobs, erasures, exports };
}

// ---------------------------------------------------------------------------------------------

const fmt = (value: number | null | undefined, digits = 0) => (value === null || value === undefined ? '—' : value.toFixed(digits));

function printTable(small: Results, large: Results, sizes: { small: Scale; large: Scale }) {
  const growth = sizes.large.subjects / sizes.small.subjects;
  console.log(`\n| P9 | small (${sizes.small.subjects} subjects) | large (${sizes.large.subjects} subjects) | large/small | rows, large | backend MiB small/large | node MiB small/large | audit rows scanned / fetched, large |`);
  console.log('|---|---|---|---|---|---|---|---|');
  const per = (name: string, a: number[], b: number[], p: number) =>
    console.log(`| ${name} p${p} | ${fmt(percentile(a, p), 1)} ms | ${fmt(percentile(b, p), 1)} ms | ${fmt(percentile(b, p) / percentile(a, p), 2)}x | | | | |`);
  per('erasure', small.erasures, large.erasures, 50);
  per('erasure', small.erasures, large.erasures, 99);
  per('export', small.exports, large.exports, 50);
  per('export', small.exports, large.exports, 99);
  for (const name of Object.keys(small.jobs)) {
    const a = small.jobs[name]!;
    const b = large.jobs[name]!;
    console.log(`| ${name} | ${fmt(a.ms)} ms | ${fmt(b.ms)} ms | ${fmt(b.ms / a.ms, 1)}x (data ${growth}x) | ${fmt(b.rows)} | ${fmt(a.backendPeakMiB, 1)} / ${fmt(b.backendPeakMiB, 1)} | ${fmt(a.nodePeakMiB)} / ${fmt(b.nodePeakMiB)} | ${fmt(b.auditRowsScanned)} / ${fmt(b.auditRowsFetched)} |`);
  }
  console.log('');
}

export async function run(db: BenchDatabase, quick: boolean) {
  const samples = quick ? 5 : 40;
  const sizes: { small: Scale; large: Scale } = quick
    ? { small: { label: 'small', subjects: 1_000, auditRows: 20_000, messagesPerSubject: 5, healthRecordEvery: 10 },
        large: { label: 'large', subjects: 10_000, auditRows: 200_000, messagesPerSubject: 5, healthRecordEvery: 10 } }
    : { small: { label: 'small', subjects: 10_000, auditRows: 200_000, messagesPerSubject: 5, healthRecordEvery: 10 },
        large: { label: 'large', subjects: 1_000_000, auditRows: 20_000_000, messagesPerSubject: 5, healthRecordEvery: 10 } };
  await printConditions(db, { benchmark: 'P9', small: `${sizes.small.subjects} subjects/${sizes.small.auditRows} audit rows`,
    large: `${sizes.large.subjects} subjects/${sizes.large.auditRows} audit rows`, samples });
  const smallDb = await db.beside(`${db.name}_small`);
  let small: Results;
  try {
    small = await measureAll(smallDb, sizes.small, samples);
  } finally {
    await smallDb.close();
  }
  const large = await measureAll(db, sizes.large, samples);

  for (const [label, results] of [['small', small], ['large', large]] as const) {
    for (const [step, ms] of Object.entries(results.build)) figure('P9', `build_${label}_${step}`, ms, 'ms');
    figure('P9', `build_${label}_total`, Object.values(results.build).reduce((a, b) => a + b, 0) / 1000, 's');
  }
  printTable(small, large, sizes);
  const growth = sizes.large.subjects / sizes.small.subjects;
  for (const p of [50, 99]) {
    figure('P9', `erase_p${p}_large_over_small`, percentile(large.erasures, p) / percentile(small.erasures, p), 'x', { op: '<=', value: 1.3 });
    figure('P9', `export_p${p}_large_over_small`, percentile(large.exports, p) / percentile(small.exports, p), 'x', { op: '<=', value: 1.3 });
  }
  for (const name of ['phi_review_daily', 'checks_daily', 'monthly_report', 'evidence_month', 'incremental_verification', 'retention_day']) {
    figure('P9', `${name}_large_over_small`, large.jobs[name]!.ms / small.jobs[name]!.ms, 'x', { op: '<=', value: growth });
  }
  figure('P9', 'checks_daily_large', large.jobs.checks_daily!.ms / 1000, 's', { op: '<', value: 300 });
  figure('P9', 'monthly_report_large', large.jobs.monthly_report!.ms / 1000, 's', { op: '<', value: 600 });
}
