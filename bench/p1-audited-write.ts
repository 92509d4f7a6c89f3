/** P1: an audited profile update through the app role vs the same update on an identical unaudited table. */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import postgres, { type Sql } from 'postgres';
import { postgresPrograms } from '../db/postgres-binaries.js';
import { BENCH_PEPPER, type BenchDatabase, closeAll, closedLoop, connections, figure, median, printConditions, quiet } from './lib.js';

const CLIENTS = 8;

export async function seedSubjects(db: BenchDatabase, count: number, prefix = 'user:bench-') {
  await db.admin`insert into compliance.user_profiles (user_id, full_name)
                 select ${prefix} || n, 'name ' || n from generate_series(0, ${count - 1}) n on conflict do nothing`;
}

type ProfileTable = 'compliance.user_profiles' | 'public.bench_identical_profiles' | 'public.bench_bare_profiles';

export function auditedUpdate(table: ProfileTable) {
  return async (sql: Sql, client: number, n: number) => {
    const subject = `user:bench-${client}`;
    await sql.begin(async (tx) => {
      await tx`set local role compliance_app`;
      await tx`select compliance.set_request_context(${subject}, '{}', '127.0.0.1', 'bench')`;
      await tx.unsafe(`update ${table} set full_name = $1 where user_id = $2`, [`name ${n}`, subject]);
    });
  };
}

/**
 * A copy of user_profiles with its columns, constraints, indexes and updated_at trigger; with
 * `policies`, also its row-level security and policies, so that the audit trigger is the only
 * difference from the real table.
 */
async function copyProfiles(db: BenchDatabase, table: string, policies: boolean) {
  await db.admin.unsafe(`create table ${table} (like compliance.user_profiles including defaults including constraints including indexes)`);
  await db.admin.unsafe(`insert into ${table} select * from compliance.user_profiles`);
  await db.admin.unsafe(`create trigger _100_set_updated_at before update on ${table} for each row execute function compliance_private.tg__set_updated_at()`);
  await db.admin.unsafe(`grant select, update on ${table} to compliance_app`);
  if (!policies) return;
  await db.admin.unsafe(`alter table ${table} enable row level security, force row level security`);
  const rows = await db.admin`select policyname, cmd, roles, qual, with_check from pg_policies where schemaname = 'compliance' and tablename = 'user_profiles'`;
  for (const p of rows) {
    await db.admin.unsafe(`create policy ${p.policyname} on ${table} for ${p.cmd} to ${(p.roles as string[]).join(', ')}
                           using (${p.qual}) with check (${p.with_check})`);
  }
}

/** the newest pgbench on this machine (any version drives any server); null where there is none */
function findPgbench(): string | null {
  const programs = postgresPrograms('pgbench');
  return programs.size === 0 ? null : programs.get(Math.max(...programs.keys()))!;
}

/** the same update as auditedUpdate, as a pgbench script: each client updates its own subject ('user:' || 'bench-': pgbench reads :name as a variable even inside a string) */
const pgbenchScript = (table: ProfileTable) => `BEGIN;
SET LOCAL ROLE compliance_app;
SELECT compliance.set_request_context('user:' || 'bench-' || (:client_id % ${CLIENTS}), '{}', '127.0.0.1', 'bench');
UPDATE ${table} SET full_name = 'name ' || random() WHERE user_id = 'user:' || 'bench-' || (:client_id % ${CLIENTS});
COMMIT;
`;

/**
 * The outside measurement: pgbench with 8 clients, while a sealer seals every two seconds as the
 * worker does, so that sealing's share of the machine counts against the audited table.
 */
async function pgbenchRounds(db: BenchDatabase, pgbench: string, seconds: number, rounds: number) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pgcomply-p1-'));
  const sealer = postgres(db.adminUrl, { ...quiet, max: 1 });
  let sealing = true;
  const sealed = (async () => {
    while (sealing) {
      await sealer`select compliance.seal_audit_log(10000, 100)`;
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  })();
  const scripts = new Map<ProfileTable, string>();
  for (const table of ['compliance.user_profiles', 'public.bench_identical_profiles'] as const) {
    scripts.set(table, path.join(dir, `${table}.sql`));
    writeFileSync(scripts.get(table)!, pgbenchScript(table));
  }
  const tps = async (table: ProfileTable) => {
    const script = scripts.get(table)!;
    const { stdout } = await promisify(execFile)(pgbench, ['-n', '-c', String(CLIENTS), '-j', '2', '-T', String(seconds), '-M', 'prepared', '-f', script, db.adminUrl],
      { env: { ...process.env, PGOPTIONS: `-c compliance.tombstone_pepper=${BENCH_PEPPER}` } });
    const match = /tps = ([\d.]+)/.exec(stdout);
    if (!match) throw new Error(`pgbench printed no tps: ${stdout}`);
    return Number(match[1]);
  };
  const audited: number[] = [];
  const identical: number[] = [];
  try {
    for (let round = 0; round < rounds; round += 1) {
      audited.push(await tps('compliance.user_profiles'));
      identical.push(await tps('public.bench_identical_profiles'));
    }
  } finally {
    sealing = false;
    await sealed;
    await sealer.end();
    rmSync(dir, { recursive: true, force: true });
  }
  return { audited, identical };
}

export async function run(db: BenchDatabase, quick: boolean) {
  const seconds = quick ? 1 : 4;
  const rounds = quick ? 2 : 5;
  await seedSubjects(db, CLIENTS);
  await db.admin`grant usage on schema public to compliance_app`;
  await copyProfiles(db, 'public.bench_identical_profiles', true);
  await copyProfiles(db, 'public.bench_bare_profiles', false);
  await printConditions(db, { benchmark: 'P1', clients: CLIENTS, seconds_per_run: seconds, runs_each: rounds });

  const clients = connections(db.adminUrl, CLIENTS);
  const audited: number[] = [];
  const identical: number[] = [];
  const bare: number[] = [];
  try {
    for (let round = 0; round < rounds; round += 1) {
      audited.push((await closedLoop(clients, seconds, auditedUpdate('compliance.user_profiles'))).perSecond);
      identical.push((await closedLoop(clients, seconds, auditedUpdate('public.bench_identical_profiles'))).perSecond);
      bare.push((await closedLoop(clients, seconds, auditedUpdate('public.bench_bare_profiles'))).perSecond);
    }
  } finally {
    await closeAll(clients);
  }
  const pgbench = findPgbench();
  if (pgbench) {
    const outside = await pgbenchRounds(db, pgbench, seconds, rounds);
    figure('P1', 'pgbench_audited_tps', median(outside.audited), 'tx/s');
    figure('P1', 'pgbench_unaudited_tps', median(outside.identical), 'tx/s');
    figure('P1', 'pgbench_audited_over_unaudited', median(outside.audited) / median(outside.identical), 'x', { op: '>=', value: 0.85 });
  } else {
    console.log('figure P1 pgbench_audited_over_unaudited: not measured, no pgbench on this machine');
  }
  figure('P1', 'audited_tx_per_s', median(audited), 'tx/s');
  figure('P1', 'unaudited_tx_per_s', median(identical), 'tx/s');
  figure('P1', 'audited_over_unaudited', median(audited) / median(identical), 'x', { op: '>=', value: 0.85 });
  // informational: the same table without row-level security either
  figure('P1', 'no_rls_tx_per_s', median(bare), 'tx/s');
  figure('P1', 'audited_over_no_rls', median(audited) / median(bare), 'x');
}
