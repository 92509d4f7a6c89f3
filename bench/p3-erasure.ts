/** P3: erase_subject in one transaction vs the seeds' separate round trips, in audit logs of two sizes. */
import type { Sql } from 'postgres';
import { createSubject, insertAuditRows } from './fixtures.js';
import { type BenchDatabase, figure, percentile, printConditions, quiet, timed } from './lib.js';
import postgres from 'postgres';

const SIZE = { conversations: 100, messagesPerConversation: 20, auditRows: 1000 };

async function eraseInOneTransaction(sql: Sql, userId: string) {
  await sql.begin(async (tx) => {
    await tx`set local role compliance_dpo`;
    await tx`select compliance.set_request_context('dpo:bench', '{dpo}')`;
    await tx`select compliance.erase_subject(${userId}, 'benchmark', true)`;
  });
}

/** what the seed guide's code does: one auto-committed statement per table (triggers off, so no audit cost) */
async function eraseAsTheSeedsDo(sql: Sql, userId: string) {
  await sql`delete from compliance.messages where user_id = ${userId}`;
  await sql`delete from compliance.conversations where user_id = ${userId}`;
  await sql`delete from compliance.sessions where user_id = ${userId}`;
  await sql`delete from compliance.user_preferences where user_id = ${userId}`;
  await sql`delete from compliance.consent_records where user_id = ${userId}`;
  await sql`update compliance.audit_logs set user_id = 'anonymized' where user_id = ${userId}`;
  await sql`delete from compliance.user_profiles where user_id = ${userId}`;
}

async function measure(db: BenchDatabase, label: string, repetitions: number) {
  const ours: number[] = [];
  const seeds: number[] = [];
  let first = Number.NaN;
  const one = postgres(db.adminUrl, { ...quiet, max: 1 });
  const baseline = postgres(db.adminUrl, { ...quiet, max: 1, connection: { ...quiet.connection, session_replication_role: 'replica' } });
  try {
    for (let i = 0; i < repetitions; i += 1) {
      await createSubject(db.admin, `user:${label}-ours-${i}`, SIZE);
      await createSubject(db.admin, `user:${label}-seeds-${i}`, SIZE);
    }
    await createSubject(db.admin, `user:${label}-first`, SIZE);
    await db.admin`analyze`;
    // a connection's first erasure compiles the PL/pgSQL and fills its caches: what a pooled
    // server pays once per connection, reported on its own rather than as the tail
    [first] = await timed(() => eraseInOneTransaction(one, `user:${label}-first`));
    for (let i = 0; i < repetitions; i += 1) {
      ours.push((await timed(() => eraseInOneTransaction(one, `user:${label}-ours-${i}`)))[0]);
      seeds.push((await timed(() => eraseAsTheSeedsDo(baseline, `user:${label}-seeds-${i}`)))[0]);
    }
  } finally {
    await one.end();
    await baseline.end();
  }
  return { ours, seeds, first };
}

export async function run(db: BenchDatabase, quick: boolean) {
  const small = 100_000;
  const large = quick ? 150_000 : 5_000_000;
  const repetitions = quick ? 5 : 20;
  await printConditions(db, { benchmark: 'P3', subject: '100 conversations, 2000 messages, 1000 audit rows', audit_rows: `${small} then ${large}`, repetitions });

  await insertAuditRows(db.admin, small);
  const atSmall = await measure(db, 'small', repetitions);
  await insertAuditRows(db.admin, large - small, { subjects: 50_000 });
  const atLarge = await measure(db, 'large', repetitions);

  figure('P3', `erase_p50_at_${small}`, percentile(atSmall.ours, 50), 'ms');
  figure('P3', `erase_p99_at_${small}`, percentile(atSmall.ours, 99), 'ms', { op: '<=', value: 50 });
  figure('P3', `erase_p50_at_${large}`, percentile(atLarge.ours, 50), 'ms');
  figure('P3', `erase_p99_at_${large}`, percentile(atLarge.ours, 99), 'ms', { op: '<=', value: 50 });
  for (const [label, at] of [[small, atSmall], [large, atLarge]] as const) {
    figure('P3', `erase_p99_over_p50_at_${label}`, percentile(at.ours, 99) / percentile(at.ours, 50), 'x', { op: '<=', value: 1.6 });
  }
  figure('P3', `first_erasure_on_a_connection_at_${large}`, atLarge.first, 'ms');
  figure('P3', 'large_over_small_p50', percentile(atLarge.ours, 50) / percentile(atSmall.ours, 50), 'x', { op: '<=', value: 1.3 });
  figure('P3', `round_trip_baseline_p50_at_${large}`, percentile(atLarge.seeds, 50), 'ms');
  // the seeds' statements run without the audit triggers: what auditing an erasure costs, not a target
  figure('P3', 'speedup_over_round_trips_p50', percentile(atLarge.seeds, 50) / percentile(atLarge.ours, 50), 'x');
}
