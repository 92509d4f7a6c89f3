/**
 * P7: verify_audit_log over a sealed audit log of five million rows; then a day's rows more,
 * verified incrementally from the checkpoint the full run reached (issue #19).
 */
import { copyRowsOnly, verifyIndependently } from '../core/verify/verifier.js';
import { insertAuditRows } from './fixtures.js';
import { type BenchDatabase, figure, printConditions, timed } from './lib.js';

export async function run(db: BenchDatabase, quick: boolean) {
  const rows = quick ? 60_000 : 5_000_000;
  await insertAuditRows(db.admin, rows, { subjects: 50_000 });
  const [sealMs] = await timed(async () => {
    while ((await db.admin`select compliance.seal_audit_log(10000, 100) as n`)[0]!.n > 0);
  });
  await db.admin`vacuum analyze compliance.audit_logs`;
  await printConditions(db, { benchmark: 'P7', rows });
  const [ms, result] = await timed(() => db.admin`select ok, rows_checked, seals_checked, last_seal_no, last_seal_hash from compliance.verify_audit_log()`);
  const checked = Number(result[0]!.rows_checked);
  figure('P7', 'verify_ok', result[0]!.ok ? 1 : 0, 'bool');
  figure('P7', 'rows_checked', checked, 'rows');
  figure('P7', 'seal_rate', rows / (sealMs / 1000), 'rows/s');
  figure('P7', 'verify_rate', checked / (ms / 1000), 'rows/s', { op: '>=', value: 500_000 });

  // P7b: pgcomply verify, the independent TypeScript verifier over COPY, beside COPY alone
  const [copyMs, copied] = await timed(() => copyRowsOnly(db.adminUrl));
  figure('P7b', 'copy_only_rate', copied / (copyMs / 1000), 'rows/s');
  const [independentMs, independent] = await timed(() => verifyIndependently(db.adminUrl));
  figure('P7b', 'independent_verify_ok', independent.ok ? 1 : 0, 'bool');
  const independentRate = independent.rows_checked / (independentMs / 1000);
  figure('P7b', 'independent_verify_rate', independentRate, 'rows/s');
  figure('P7b', 'independent_verify_over_copy', independentRate / (copied / (copyMs / 1000)), 'x', { op: '>=', value: 0.5 });

  // a day's rows on top of the five million, then the daily check's verification from the checkpoint
  const dayRows = quick ? 5_000 : 50_000;
  await insertAuditRows(db.admin, dayRows, { subjects: 50_000 });
  while ((await db.admin`select compliance.seal_audit_log(10000, 100) as n`)[0]!.n > 0);
  const [incrementalMs, incremental] = await timed(() => db.admin`select ok, rows_checked, incremental
    from compliance.verify_audit_log(${result[0]!.last_seal_no}, ${result[0]!.last_seal_hash})`);
  figure('P7', 'incremental_ok', incremental[0]!.ok && incremental[0]!.incremental ? 1 : 0, 'bool');
  figure('P7', 'incremental_rows_checked', Number(incremental[0]!.rows_checked), 'rows');
  figure('P7', 'incremental_ms', incrementalMs, 'ms');
  // what the day's rows would cost at the full run's rate: the incremental run should cost that, not more
  const expectedMs = (Number(incremental[0]!.rows_checked) / checked) * ms;
  figure('P7', 'incremental_over_day_rows_cost', incrementalMs / expectedMs, 'x', { op: '<=', value: 2 });
}
