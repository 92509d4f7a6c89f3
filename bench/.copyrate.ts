import { copyRowsOnly, verifyIndependently } from '../server/verify/verifier.ts';
const url = 'postgres://postgres@127.0.0.1:5432/pgcomply_verifydev';
for (const p of [1, 2, 3]) {
  let t = Date.now();
  const n = await copyRowsOnly(url, p);
  console.log('p', p, 'binary copy', n, Math.round(n / ((Date.now() - t) / 1000)));
  t = Date.now();
  const v = await verifyIndependently(url, { parallelism: p });
  console.log('p', p, 'verify', v.ok, v.rows_checked, Math.round(v.rows_checked / ((Date.now() - t) / 1000)), v.problems.slice(0, 2));
}
process.exit(0);
