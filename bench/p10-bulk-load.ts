/**
 * P10: a user base loaded in one transaction, audited (a row each), against the same rows into a
 * table of the same shape (columns, constraints, primary key) without pgcomply's triggers, in the
 * same run; by INSERT … SELECT and by COPY, each rolled back afterwards.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { TransactionSql } from 'postgres';
import { type BenchDatabase, figure, printConditions, timed } from './lib.js';

const TARGET = 50_000;

function copySource(prefix: string, rows: number) {
  let i = 0;
  return Readable.from((function* () {
    while (i < rows) {
      const lines: string[] = [];
      for (let k = 0; k < 10_000 && i < rows; k += 1, i += 1) lines.push(`${prefix}${i},u${i}@bulk.example\n`);
      yield lines.join('');
    }
  })());
}

/** ms to load `rows` into `table` in one transaction that is then rolled back */
async function load(db: BenchDatabase, table: string, rows: number, how: 'insert' | 'copy'): Promise<number> {
  let ms = 0;
  await db.admin.begin(async (tx: TransactionSql) => {
    await tx`select compliance.set_request_context('dba:loader')`;
    [ms] = await timed(async () => {
      if (how === 'insert') {
        await tx.unsafe(`insert into ${table} (user_id, email) select 'bulk:' || g, 'u' || g || '@bulk.example' from generate_series(1, $1) g`, [rows]);
      } else {
        await pipeline(copySource('bulk:', rows), await tx.unsafe(`copy ${table} (user_id, email) from stdin (format csv)`).writable());
      }
    });
    throw new Error('rolled back');
  }).catch((error: Error) => {
    if (error.message !== 'rolled back') throw error;
  });
  return ms;
}

export async function run(db: BenchDatabase, quick: boolean) {
  const rows = quick ? 50_000 : 1_000_000;
  await printConditions(db, { benchmark: 'P10', subjects: rows, transactions: 'one per load, rolled back' });
  // the same shape without the triggers: what loading costs before compliance
  await db.admin`create table public.bench_plain_profiles (like compliance.user_profiles including defaults including constraints including indexes)`;
  // a tombstone exists, so every loaded id is checked against the tombstones
  await db.admin`select compliance.ensure_profile('bench:gone')`;
  await db.admin`select compliance.erase_subject('bench:gone', 'bench', true)`;
  for (const how of ['insert', 'copy'] as const) {
    const plain = await load(db, 'public.bench_plain_profiles', rows, how);
    const audited = await load(db, 'compliance.user_profiles', rows, how);
    const rate = (ms: number) => Math.round(rows / (ms / 1000));
    figure('P10', `${how}_unaudited_table`, rate(plain), 'subjects/s');
    figure('P10', `${how}_audited_profiles`, rate(audited), 'subjects/s', { op: '>=', value: TARGET });
    figure('P10', `${how}_audited_vs_unaudited`, Number((rate(audited) / rate(plain)).toFixed(2)), 'x (the audited load\'s rate over the unaudited one\'s)');
  }
  await db.admin`drop table public.bench_plain_profiles`;
}
