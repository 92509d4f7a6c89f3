/** P2: audited writes at 1 vs 8 clients while the sealer runs, and the lag from commit to sealed. */
import { type BenchDatabase, closeAll, closedLoop, connections, figure, percentile, printConditions } from './lib.js';
import { auditedUpdate, seedSubjects } from './p1-audited-write.js';

export async function run(db: BenchDatabase, quick: boolean) {
  const seconds = quick ? 1.5 : 6;
  await seedSubjects(db, 8);
  await printConditions(db, { benchmark: 'P2', clients: '1 vs 8', seconds_per_run: seconds, sealer_interval_s: 1 });

  let sealing = true;
  const sealer = (async () => {
    while (sealing) {
      await db.admin`select compliance.seal_audit_log(10000, 100)`;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  })();

  // probes: one logged event per 100 ms, its commit time taken from the server clock
  const probes: Array<{ id: string; committed: Date }> = [];
  let probing = true;
  const prober = (async () => {
    while (probing) {
      const [row] = await db.admin.begin(async (tx) => tx`select compliance.log_event('bench.probe', 'system') as id, clock_timestamp() as at`);
      probes.push({ id: String(row!.id), committed: row!.at });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();

  const one = connections(db.adminUrl, 1);
  const eight = connections(db.adminUrl, 8);
  let single: number;
  let parallel: number;
  try {
    single = (await closedLoop(one, seconds, auditedUpdate('compliance.user_profiles'))).perSecond;
    parallel = (await closedLoop(eight, seconds, auditedUpdate('compliance.user_profiles'))).perSecond;
  } finally {
    probing = false;
    await prober;
    await new Promise((resolve) => setTimeout(resolve, 2500));
    sealing = false;
    await sealer;
    await closeAll([...one, ...eight]);
  }
  const sealedAt = await db.admin`
    select u.id::text as id, s.sealed_at from compliance.audit_seals s cross join lateral unnest(s.row_ids) u(id)
     where u.id = any (${probes.map((p) => p.id)}::bigint[])`;
  const byId = new Map(sealedAt.map((r) => [r.id as string, r.sealed_at as Date]));
  const lags = probes.filter((p) => byId.has(p.id)).map((p) => (byId.get(p.id)!.getTime() - p.committed.getTime()) / 1000);
  figure('P2', 'tx_per_s_1_client', single, 'tx/s');
  figure('P2', 'tx_per_s_8_clients', parallel, 'tx/s');
  figure('P2', 'scaling_8_over_1', parallel / single, 'x', { op: '>=', value: 1.6 });
  figure('P2', 'probes_sealed', lags.length / Math.max(1, probes.length), 'fraction');
  figure('P2', 'seal_lag_p99', percentile(lags, 99), 's', { op: '<', value: 2 });
}
