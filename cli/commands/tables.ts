/**
 * pgcomply tables: your own tables under pgcomply's rules (db/README.md, "Your own tables").
 * Registering changes the table, so it runs on the admin connection (--database, DATABASE_URL) as
 * the table's owner would, with --actor in the audit log; listing and marking go through the DPO's
 * API procedures, as every other command does.
 */
import { Option } from 'commander';
import type { Sql } from 'postgres';
import { printResult } from '../output.js';
import { adminConnection, adminUrl, UsageError } from '../session.js';
import type { Cli } from '../program.js';

/** column=value pairs; an empty value is null (an anonymized column with nothing in it) */
function pairs(values: string[] | undefined, what: string, allowEmpty: boolean): Record<string, string | null> | undefined {
  if (!values) return undefined;
  return Object.fromEntries(values.map((pair) => {
    const at = pair.indexOf('=');
    if (at < 1 || (!allowEmpty && at === pair.length - 1)) throw new UsageError(`${what} takes column=value (got ${JSON.stringify(pair)})`);
    const value = pair.slice(at + 1);
    return [pair.slice(0, at), value === '' ? null : value];
  }));
}

async function asOwner<T>(cli: Cli, work: (sql: Sql) => Promise<T>): Promise<T> {
  const { actor, role } = cli.globals();
  if (!actor) throw new UsageError('say who is acting: --actor dba:jane (it goes into the audit log)');
  const sql = await adminConnection(await adminUrl(cli.globals()));
  try {
    return await sql.begin(async (tx) => {
      await tx`select compliance.set_request_context(${actor}, ${[role ?? 'dpo']}::text[], null, 'pgcomply-cli')`;
      return work(tx as unknown as Sql);
    }) as T;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

interface RegisterOptions {
  subject: string; personal: string[]; via?: string; erasure: 'delete' | 'anonymize'; anonymize?: string[]; keptBasis?: string;
  retention?: string; retentionFrom?: string; retentionBasis?: string; subjectReads?: boolean; applicationRole?: string[];
}

export function registerTables(cli: Cli): void {
  const tables = cli.program.command('tables').description('your own tables under pgcomply\'s rules: export, erasure, retention and the audit chain');
  tables.command('list').description('the registered tables, their personal columns, erasure and retention')
    .action(async () => cli.withSession(({ caller }) => caller.dpo.personalTables.list()));
  tables.command('register <table>').description('put schema.table under pgcomply\'s rules (as its owner; again to change the settings)')
    .requiredOption('--subject <column>', 'the column holding the subject id (text, uuid, bigint), or with --via the foreign key column reaching it')
    .requiredOption('--personal <column=category...>', 'each personal column and its data category (contact, identifier, financial, location, online, demographic, free_text, special_category, other)')
    .option('--via <table>', 'the registered table the --subject column references, which holds the subject id')
    .addOption(new Option('--erasure <how>', 'what erasure does to the subject\'s rows').choices(['delete', 'anonymize']).default('delete'))
    .option('--anonymize <column=value...>', 'with --erasure anonymize: the value each column gets (column= for null)')
    .option('--kept-basis <text>', 'with --erasure anonymize: the legal basis for what is kept')
    .option('--retention <interval>', 'how long a row is kept (10 years)')
    .option('--retention-from <column>', 'the date column the retention counts from')
    .option('--retention-basis <text>', 'why it is kept that long')
    .option('--subject-reads', 'the API acting for a subject may read the subject\'s rows')
    .option('--application-role <role...>', 'roles besides the owner that keep every row (the application writing the table)')
    .action(async (table: string, options: RegisterOptions) => {
      const personal = pairs(options.personal, '--personal', false)!;
      const anonymize = pairs(options.anonymize, '--anonymize', true);
      const row = await asOwner(cli, async (sql) => (await sql`
        select relation::text, erasure, retention_period::text, subject_reads from compliance.register_personal_table(
          ${table}::regclass, ${options.subject}, ${JSON.stringify(personal)}::text::jsonb, ${options.erasure},
          ${anonymize ? JSON.stringify(anonymize) : null}::text::jsonb, ${options.keptBasis ?? null}, ${options.retention ?? null}::interval,
          ${options.retentionFrom ?? null}, ${options.retentionBasis ?? null}, ${Boolean(options.subjectReads)}, ${options.via ?? null}::regclass,
          ${options.applicationRole ?? []}::regrole[])`)[0]);
      printResult(row, Boolean(cli.globals().json));
    });
  tables.command('unregister <table>').description('take schema.table out of pgcomply\'s rules (as its owner)')
    .option('--reason <text>', 'why, when it still holds rows of subjects (audited)')
    .action(async (table: string, options: { reason?: string }) => {
      await asOwner(cli, (sql) => sql`select compliance.unregister_personal_table(${table}::regclass, ${options.reason ?? null})`);
      printResult({ unregistered: table }, Boolean(cli.globals().json));
    });
  tables.command('mark-not-personal <table> <column>').description('record that a column (or * for the whole table) holds no personal data, for the data_map check')
    .requiredOption('--reason <text>', 'why (audited)')
    .action(async (table: string, column: string, options: { reason: string }) => cli.withSession(({ caller }) =>
      caller.dpo.personalTables.markNotPersonal({ table, column, reason: options.reason })));
}
