/** The DPO's and the DBA's work: checks, subjects, holds, the request register, retention. */
import { Option } from 'commander';
import { progress, writeOut } from '../output.js';
import { UsageError } from '../session.js';
import type { Cli } from '../program.js';
import { toCsv } from '../../server/csv.js';
import { exportOnStandby, replicaOf } from '../standby.js';

export function registerDpoWork(cli: Cli): void {
  cli.program.command('check').description('compliance checks').command('run').description('run every compliance check now; exit 1 when one fails')
    .option('--full', 'verify the whole audit chain, not from the last checkpoint')
    .action(async (options: { full?: boolean }) => cli.withSession(async ({ caller }) => {
      const results = await caller.dpo.operations.runChecks({ full_verification: Boolean(options.full) });
      if (results.some((r) => r.status === 'fail')) process.exitCode = cli.EXIT.finding;
      return results.map((r) => ({ check: r.check_name, status: r.status, detail: r.detail }));
    }));

  const subject = cli.program.command('subject').description('a data subject\'s rights');
  subject.command('export <user_id>').description('the subject\'s data with their decrypted health records (Art. 15/20), audited')
    .addOption(new Option('--kind <kind>', 'access or portability').choices(['access', 'portability']).default('access'))
    .addOption(new Option('--format <format>', 'json or csv').choices(['json', 'csv']).default('json'))
    .option('--out <file>', 'write it here instead of stdout')
    .option('--replica <url>', 'read it on this hot standby (REPLICA_DATABASE_URL): the primary records the export first, the standby serves it once it has replayed that')
    .action(async (userId: string, options: { kind: 'access' | 'portability'; format: 'json' | 'csv'; out?: string; replica?: string }) => cli.withSession(async (session) => {
      const replicaUrl = replicaOf(options.replica);
      if (replicaUrl) {
        const { document, readOn } = await exportOnStandby(session, replicaUrl, userId, options.kind);
        writeOut(options.format === 'csv' ? toCsv(document) : JSON.stringify(document, null, 2), options.out);
        process.stderr.write(`read on the standby ${readOn.standby} at ${readOn.replay_lsn} (the primary was at ${readOn.primary_lsn_awaited})\n`);
        return;
      }
      const document = await session.caller.dpo.export({ user_id: userId, kind: options.kind, format: options.format });
      writeOut(options.format === 'csv' ? String((document as { content: string }).content) : JSON.stringify(document, null, 2), options.out);
    }));
  subject.command('erase <user_id>').description('erase the subject (Art. 17) in one transaction; needs --reason and --yes')
    .requiredOption('--reason <text>', 'why, for the register')
    .option('--yes', 'confirm: erasure cannot be undone (there is no prompt)')
    .action(async (userId: string, options: { reason: string; yes?: boolean }) => {
      if (!options.yes) throw new UsageError(`erasing ${userId} cannot be undone: add --yes to confirm`);
      await cli.withSession(({ caller }) => caller.dpo.erase({ user_id: userId, reason: options.reason, confirm: true }));
    });

  const hold = cli.program.command('hold').description('legal holds');
  hold.command('place <user_id>').description('retention and erasure stop for the subject').requiredOption('--reason <text>', 'why')
    .action(async (userId: string, options: { reason: string }) => cli.withSession(({ caller }) => caller.dpo.placeLegalHold({ user_id: userId, reason: options.reason })));
  hold.command('release <user_id>').description('release the subject\'s legal hold')
    .action(async (userId: string) => cli.withSession(({ caller }) => caller.dpo.releaseLegalHold({ user_id: userId })));

  const dsr = cli.program.command('dsr').description('the data subject request register');
  dsr.command('list').description('open requests with their deadlines').action(async () => cli.withSession(({ caller }) => caller.dpo.openRequests()));
  dsr.command('register').description('register a request received outside the API')
    .requiredOption('--user <user_id>', 'the subject')
    .addOption(new Option('--kind <kind>', 'the right exercised').choices(['access', 'rectification', 'erasure', 'portability', 'restriction', 'objection']).makeOptionMandatory())
    .option('--notes <text>', 'notes')
    .action(async (options: { user: string; kind: never; notes?: string }) => cli.withSession(({ caller }) => caller.dpo.registerRequest({ user_id: options.user, kind: options.kind, notes: options.notes })));
  dsr.command('complete <id>').description('mark a request completed (or rejected)')
    .addOption(new Option('--status <status>', 'completed or rejected').choices(['completed', 'rejected']).default('completed'))
    .option('--notes <text>', 'notes')
    .action(async (id: string, options: { status: 'completed' | 'rejected'; notes?: string }) => cli.withSession(({ caller }) => caller.dpo.completeRequest({ id: Number(id), status: options.status, notes: options.notes })));

  const retention = cli.program.command('retention').description('retention');
  retention.command('plan').description('a dry run of every enabled policy: rows due now, per category')
    .action(async () => cli.withSession(({ caller }) => caller.dpo.operations.retentionPlan()));
  retention.command('run').description('apply retention now, batch after batch, for one category or all')
    .option('--category <category>', 'only this category')
    .option('--batch-size <n>', 'rows per batch (each its own transaction)', '1000')
    .action(async (options: { category?: string; batchSize: string }) => cli.withSession(async ({ caller }) => {
      const plan = await caller.dpo.operations.retentionPlan();
      const categories = (options.category ? [options.category] : plan.map((p) => String(p.category)));
      const batchSize = Number(options.batchSize);
      if (!Number.isInteger(batchSize) || batchSize < 1) throw new UsageError('--batch-size must be a whole number of at least 1');
      const due = plan.filter((p) => categories.includes(String(p.category))).reduce((n, p) => n + Number(p.deleted ?? 0), 0);
      const bar = progress(due, 'deleting');
      const done: Record<string, number> = {};
      for (const category of categories) {
        done[category] = 0;
        for (;;) {
          const result = await caller.dpo.operations.retentionRun({ category, batch_size: batchSize });
          const deleted = Number(result.deleted ?? 0);
          done[category] += deleted;
          for (let i = 0; i < deleted; i += 1) bar.tick();
          if (deleted < batchSize || result.skipped) break;
        }
      }
      bar.stop();
      return Object.entries(done).map(([category, deleted]) => ({ category, deleted }));
    }));
}
