import { citusCluster } from './db/citus-cluster.js';
import { actAs } from './test/provision/citus-cluster-tools.js';
try {
  await citusCluster('/tmp/dev-iu', 2, 32, undefined, async (single) => {
    await actAs(single, 'compliance_app', 'early-1', [], async (tx) => { await tx`select compliance.ensure_profile('early-1', 'e@example.org')`; });
  });
} catch (e) { const x = e as Record<string, unknown>; console.log(x.message, '\nWHERE:', x.where, '\nCTX', x.internal_query); }
