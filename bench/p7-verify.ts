/** P7: verify_audit_log over a sealed audit log of five million rows. */
import { insertAuditRows } from './fixtures.js';
import { type BenchDatabase, figure, printConditions, timed } from './lib.js';

export async function run(db: BenchDatabase, quick: boolean) {
  const rows = quick ? 200_000 : 5_000_000;
  await insertAuditRows(db.admin, rows, { subjects: 50_000 });
  const [sealMs] = await timed(async () => {
    while ((await db.admin`select compliance.seal_audit_log(10000, 100) as n`)[0]!.n > 0);
  });
  await db.admin`vacuum analyze compliance.audit_logs`;
  await printConditions(db, { benchmark: 'P7', rows });
  const [ms, result] = await timed(() => db.admin`select ok, rows_checked, seals_checked from compliance.verify_audit_log()`);
  const checked = Number(result[0]!.rows_checked);
  figure('P7', 'verify_ok', result[0]!.ok ? 1 : 0, 'bool');
  figure('P7', 'rows_checked', checked, 'rows');
  figure('P7', 'seal_rate', rows / (sealMs / 1000), 'rows/s');
  figure('P7', 'verify_rate', checked / (ms / 1000), 'rows/s', { op: '>=', value: 500_000 });
}
