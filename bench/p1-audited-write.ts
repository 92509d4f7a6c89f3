/** P1: an audited profile update through the app role vs the same update on an identical unaudited table. */
import type { Sql } from 'postgres';
import { type BenchDatabase, closeAll, closedLoop, connections, figure, median, printConditions } from './lib.js';

const CLIENTS = 8;

export async function seedSubjects(db: BenchDatabase, count: number, prefix = 'user:bench-') {
  await db.admin`insert into compliance.user_profiles (user_id, full_name)
                 select ${prefix} || n, 'name ' || n from generate_series(0, ${count - 1}) n on conflict do nothing`;
}

export function auditedUpdate(table: 'compliance.user_profiles' | 'public.bench_plain_profiles') {
  return async (sql: Sql, client: number, n: number) => {
    const subject = `user:bench-${client}`;
    await sql.begin(async (tx) => {
      await tx`set local role compliance_app`;
      await tx`select compliance.set_request_context(${subject}, '{}', '127.0.0.1', 'bench')`;
      await tx.unsafe(`update ${table} set full_name = $1 where user_id = $2`, [`name ${n}`, subject]);
    });
  };
}

export async function run(db: BenchDatabase, quick: boolean) {
  const seconds = quick ? 1 : 4;
  const rounds = quick ? 2 : 5;
  await seedSubjects(db, CLIENTS);
  await db.admin`create table public.bench_plain_profiles (like compliance.user_profiles including defaults including constraints including indexes)`;
  await db.admin`insert into public.bench_plain_profiles select * from compliance.user_profiles`;
  await db.admin`create trigger _100_set_updated_at before update on public.bench_plain_profiles for each row execute function compliance_private.tg__set_updated_at()`;
  await db.admin`grant select, update on public.bench_plain_profiles to compliance_app`;
  await db.admin`grant usage on schema public to compliance_app`;
  await printConditions(db, { benchmark: 'P1', clients: CLIENTS, seconds_per_run: seconds, runs_each: rounds });

  const clients = connections(db.adminUrl, CLIENTS);
  const audited: number[] = [];
  const plain: number[] = [];
  try {
    for (let round = 0; round < rounds; round += 1) {
      audited.push((await closedLoop(clients, seconds, auditedUpdate('compliance.user_profiles'))).perSecond);
      plain.push((await closedLoop(clients, seconds, auditedUpdate('public.bench_plain_profiles'))).perSecond);
    }
  } finally {
    await closeAll(clients);
  }
  figure('P1', 'audited_tx_per_s', median(audited), 'tx/s');
  figure('P1', 'unaudited_tx_per_s', median(plain), 'tx/s');
  figure('P1', 'audited_over_unaudited', median(audited) / median(plain), 'x', { op: '>=', value: 0.8 });
}
