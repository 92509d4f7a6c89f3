/** P5: dropping a month of audit rows as a partition; deleting expired messages in batches beside a writer. */
import postgres from 'postgres';
import { insertAuditRows } from './fixtures.js';
import { type BenchDatabase, closedLoop, connections, closeAll, figure, percentile, printConditions, quiet, timed } from './lib.js';
import { auditedUpdate, seedSubjects } from './p1-audited-write.js';

export async function run(db: BenchDatabase, quick: boolean) {
  const partitionRows = quick ? 30_000 : 1_000_000;
  const conversations = quick ? 300 : 10_000;
  const messagesPer = 100;
  const batch = 100;
  await printConditions(db, { benchmark: 'P5', partition_rows: partitionRows, expired_messages: conversations * messagesPer, batch_conversations: batch });

  // a month eight years ago, sealed, so retention may drop it
  await db.admin.begin(async (tx) => {
    await tx`set local role compliance_owner`;
    await tx`create table compliance.audit_logs_y2018m01 partition of compliance.audit_logs for values from ('2018-01-01') to ('2018-02-01')`;
    await tx`select compliance_private.protect_audit_relation('compliance.audit_logs_y2018m01')`;
  });
  await insertAuditRows(db.admin, partitionRows, { from: '2018-01-31', spreadSeconds: 20 * 86400 });
  while ((await db.admin`select compliance.seal_audit_log(10000, 100) as n`)[0]!.n > 0);
  const [dropMs, dropped] = await timed(() => db.admin`select compliance.apply_retention('audit_logs') as r`);
  figure('P5', 'partition_rows_dropped', Number(dropped[0]!.r.deleted), 'rows');
  // the DROP holds the lock writers wait for; counting and checking the seals before it do not
  figure('P5', 'partition_drop', Number(dropped[0]!.r.partitions[0].drop_ms), 'ms', { op: '<', value: 50 });
  figure('P5', 'apply_retention_audit_logs_total', dropMs, 'ms');

  // expired conversations with their messages
  await seedSubjects(db, 100, 'user:retained-');
  await db.admin.begin(async (tx) => {
    await tx`set local session_replication_role = replica`;
    await tx`insert into compliance.conversations (conversation_id, user_id, title, last_message_at)
             select gen_random_uuid(), 'user:retained-' || (n % 100), 'old', now() - interval '200 days' from generate_series(1, ${conversations}) n`;
    await tx`insert into compliance.messages (conversation_id, user_id, role, content)
             select c.conversation_id, c.user_id, 'user', 'expired message ' || n from compliance.conversations c cross join generate_series(1, ${messagesPer}) n`;
  });
  await seedSubjects(db, 1);
  await db.admin`analyze`;

  const writer = connections(db.adminUrl, 1);
  const idle = await closedLoop(writer, 2, auditedUpdate('compliance.user_profiles'));
  let running = true;
  const during: number[] = [];
  const writing = (async () => {
    while (running) during.push(...(await closedLoop(writer, 0.5, auditedUpdate('compliance.user_profiles'))).latencies);
  })();
  const worker = postgres(db.loginUrl('worker'), { ...quiet, max: 1 });
  let deleted = 0;
  const [ms] = await timed(async () => {
    for (;;) {
      const [row] = await worker`select compliance.apply_retention('conversations', ${batch}, false) as r`;
      deleted += Number(row!.r.deleted) + Number(row!.r.messages_deleted ?? 0);
      if (Number(row!.r.deleted) < batch) break;
    }
  });
  running = false;
  await writing;
  await worker.end();
  await closeAll(writer);
  figure('P5', 'rows_deleted', deleted, 'rows');
  figure('P5', 'delete_rate', deleted / (ms / 1000), 'rows/s', { op: '>=', value: 100_000 });
  figure('P5', 'writer_p99_idle', percentile(idle.latencies, 99), 'ms');
  figure('P5', 'writer_p99_during_retention', percentile(during, 99), 'ms');
  figure('P5', 'writer_p99_rise', percentile(during, 99) - percentile(idle.latencies, 99), 'ms', { op: '<', value: 100 });
}
