/** P4: export_subject vs COPY of the same rows. */
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import postgres from 'postgres';
import { createSubject } from './fixtures.js';
import { type BenchDatabase, figure, percentile, printConditions, quiet, timed } from './lib.js';

const SUBJECT = 'user:exported';

const COPIES = [
  `select * from compliance.user_profiles where user_id = '${SUBJECT}'`,
  `select * from compliance.user_preferences where user_id = '${SUBJECT}'`,
  `select * from compliance.consent_records where user_id = '${SUBJECT}'`,
  `select * from compliance.conversations where user_id = '${SUBJECT}'`,
  `select * from compliance.messages where user_id = '${SUBJECT}'`,
  `select * from compliance.sessions where user_id = '${SUBJECT}'`,
  `select * from compliance.audit_logs where user_id = '${SUBJECT}' or actor_id = '${SUBJECT}'`,
  `select * from compliance.dsr_requests where user_id = '${SUBJECT}'`,
];

export async function run(db: BenchDatabase, quick: boolean) {
  const repetitions = quick ? 30 : 200;
  await createSubject(db.admin, SUBJECT, { conversations: 100, messagesPerConversation: 20, auditRows: 1000 });
  await db.admin`analyze`;
  await printConditions(db, { benchmark: 'P4', subject: '100 conversations, 2000 messages, 1000 audit rows', repetitions });

  const sql = postgres(db.adminUrl, { ...quiet, max: 1 });
  // COPY through node-postgres: postgres.js's COPY streams stall a long run of them
  const copier = new pg.Client({ connectionString: db.adminUrl });
  await copier.connect();
  const exports: number[] = [];
  const copies: number[] = [];
  let bytes = 0;
  try {
    for (let i = 0; i < repetitions; i += 1) {
      // opened the way the API opens a request: BEGIN, role and context in one write
      const [ms, size] = await timed(async () => {
        const tx = await sql.reserve();
        try {
          await Promise.all([tx`begin`, tx`set local role compliance_dpo`, tx`select compliance.set_request_context('dpo:bench', '{dpo}')`]);
          const [row] = await tx`select compliance.export_subject(${SUBJECT})::text as doc`;
          await tx`commit`;
          return (row!.doc as string).length;
        } finally {
          tx.release();
        }
      });
      exports.push(ms);
      bytes = size;
      copies.push(
        (await timed(async () => {
          for (const query of COPIES) {
            await pipeline(copier.query(copyTo(`copy (${query}) to stdout`)), new Writable({ write: (_chunk, _encoding, done) => done() }));
          }
        }))[0],
      );
    }
  } finally {
    await sql.end();
    await copier.end();
  }
  const exportRate = 1000 / percentile(exports, 50);
  const copyRate = 1000 / percentile(copies, 50);
  figure('P4', 'document_bytes', bytes, 'B');
  figure('P4', 'export_p50', percentile(exports, 50), 'ms');
  figure('P4', 'export_p99', percentile(exports, 99), 'ms', { op: '<=', value: 25 });
  figure('P4', 'copy_baseline_p50', percentile(copies, 50), 'ms');
  figure('P4', 'export_over_copy_throughput', exportRate / copyRate, 'x', { op: '>=', value: 0.5 });
}
