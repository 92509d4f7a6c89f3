/**
 * pgcomply processing: the record of processing (GDPR Art. 30) to hand over, the requests other
 * systems have not confirmed, and the secret each system signs its callbacks with.
 */
import { Option } from 'commander';
import { loadConfig } from '../../core/config.js';
import { systemSecret } from '../../core/signing.js';
import { writeOut } from '../output.js';
import type { Cli } from '../program.js';
import { UsageError } from '../session.js';

export function registerProcessing(cli: Cli): void {
  const processing = cli.program.command('processing').description('the record of processing activities and the requests sent to other systems');
  processing.command('record').description('the record of processing activities (GDPR Art. 30), with what it lacks')
    .addOption(new Option('--format <format>', 'json, csv, or html (a page to hand over)').choices(['json', 'csv', 'html']).default('json'))
    .option('--out <file>', 'write it here instead of stdout')
    .action(async (options: { format: 'json' | 'csv' | 'html'; out?: string }) => cli.withSession(async ({ caller }) => {
      const made = await caller.dpo.processing.record({ format: options.format });
      writeOut(options.format === 'json' ? JSON.stringify(made, null, 2) : (made as { content: string }).content, options.out);
    }));
  processing.command('tasks').description('the requests other systems have not confirmed yet (--all: every one)')
    .option('--all', 'every task, confirmed ones too')
    .option('--request <id>', 'the tasks of one request')
    .action(async (options: { all?: boolean; request?: string }) => cli.withSession(({ caller }) =>
      caller.dpo.processing.tasks({ state: options.all ? 'all' : 'open', ...(options.request ? { request_id: Number(options.request) } : {}) })));
  processing.command('confirm <task>').description('record by hand that a system carried out a request')
    .requiredOption('--note <text>', 'how it confirmed: who, when, which channel')
    .action(async (task: string, options: { note: string }) => cli.withSession(({ caller }) => caller.dpo.processing.confirmTask({ task_id: Number(task), note: options.note })));
  processing.command('secret <system>').description('the secret a webhook system checks requests with and signs its callbacks with (from PROPAGATION_SECRET)')
    .action(async (system: string) => {
      if (!/^[a-z][a-z0-9_]{0,62}$/.test(system)) throw new UsageError('a system key is lower case: letters, digits and _');
      const secret = loadConfig().PROPAGATION_SECRET;
      if (!secret) throw new UsageError('PROPAGATION_SECRET is not set: set it (openssl rand -hex 32) for the server, the worker and this command');
      process.stdout.write(`${systemSecret(secret, system)}\n`);
    });
}
