/** pgcomply import: a user base brought in from CSV or NDJSON, all of a file or nothing (server/imports/import-file.ts). */
import { IMPORT_KINDS, type ImportKind, ImportRefused, importFile } from '../../server/imports/import-file.js';
import { progress } from '../output.js';
import { UsageError } from '../session.js';
import type { Cli } from '../program.js';

export function registerImport(cli: Cli): void {
  cli.program.command('import')
    .description('load profiles, preferences or consent records (with their evidence: given_at, policy_version, source) from CSV with a header or NDJSON, in one transaction as the DPO --actor, audited row by row; a bad line is named with its number and nothing of the file is loaded')
    .argument('<kind>', IMPORT_KINDS.join(' | '))
    .argument('<file>', 'the file (.csv or .ndjson)')
    .option('--format <format>', 'csv or ndjson (default: from the file name)')
    .action(async (kind: string, file: string, options: { format?: string }) => {
      if (!IMPORT_KINDS.includes(kind as ImportKind)) throw new UsageError(`unknown kind ${kind}: use ${IMPORT_KINDS.join(', ')}`);
      await cli.withSession(async (session) => {
        const bar = progress(100, `importing ${kind}`);
        let shown = 0;
        try {
          return await importFile(session.sql, { kind: kind as ImportKind, file, format: options.format, actor: cli.globals().actor!,
            onBytes: (done, total) => {
              const percent = Math.floor((done / Math.max(1, total)) * 100);
              if (percent > shown) bar.tick(percent - shown);
              shown = Math.max(shown, percent);
            } });
        } catch (error) {
          if (error instanceof ImportRefused) throw new UsageError(`nothing was imported: ${error.message}`);
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new UsageError(`${file} does not exist`);
          throw error;
        } finally {
          bar.stop();
        }
      });
    });
}
