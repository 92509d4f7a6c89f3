/**
 * npm run bench [-- --quick] [-- --only P1,P3]: each benchmark on a fresh database, printing its
 * conditions and figure lines (ratios against baselines measured in the same run).
 */
import { parseArgs } from 'node:util';
import { benchDatabase } from './lib.js';
import * as p1 from './p1-audited-write.js';
import * as p2 from './p2-writers-scale.js';
import * as p3 from './p3-erasure.js';
import * as p4 from './p4-export.js';
import * as p5 from './p5-retention.js';
import * as p6 from './p6-api.js';
import * as p7 from './p7-verify.js';
import * as p8 from './p8-phi.js';
import * as p9 from './p9-scale.js';
import * as p10 from './p10-bulk-load.js';
import * as p11 from './p11-backup.js';
import * as p12 from './p12-own-tables.js';
import * as p13 from './p13-permitted-subjects.js';
import * as p14 from './p14-cold-archive.js';
import * as p15 from './p15-citus.js';

const BENCHMARKS = { P1: p1, P2: p2, P3: p3, P4: p4, P5: p5, P6: p6, P7: p7, P8: p8, P9: p9, P10: p10, P11: p11, P12: p12, P13: p13, P14: p14, P15: p15 } as const;

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, only: { type: 'string' } } });
const selected = values.only ? values.only.split(',').map((s) => s.trim().toUpperCase()) : Object.keys(BENCHMARKS);

const started = Date.now();
for (const id of selected) {
  const benchmark = BENCHMARKS[id as keyof typeof BENCHMARKS];
  if (!benchmark) {
    console.error(`bench: unknown benchmark ${id}; known: ${Object.keys(BENCHMARKS).join(', ')}`);
    process.exit(1);
  }
  console.log(`== ${id}${values.quick ? ' (quick)' : ''}`);
  const db = await benchDatabase(`pgcomply_bench_${id.toLowerCase()}`);
  try {
    await benchmark.run(db, values.quick);
  } finally {
    await db.close();
  }
}
console.log(`bench: done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
