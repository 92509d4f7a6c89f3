/**
 * pgcomply archive: the audit months older than archive_after written to the cold archive
 * (ARCHIVE_TO or --to), each read back and verified before the database records it. Retention
 * drops the partitions afterwards (the worker's daily job, or compliance.apply_retention).
 */
import { archiveAuditMonths } from '../../core/archive/archive-months.js';
import { BundleError } from '../../core/archive/write-bundle.js';
import { anchorKeyOf, archiveStoreOf, loadConfig } from '../../core/config.js';
import { writableClient } from '../../db/writable-pg.js';
import { printResult } from '../output.js';
import { adminUrl, UsageError } from '../session.js';
import type { Cli } from '../program.js';

export function registerArchive(cli: Cli): void {
  cli.program.command('archive').description('write each sealed audit month older than archive_after (90 days) to the cold archive: a bundle signed with the anchor key, read back and verified from where it is kept, then recorded; retention may drop the partition afterwards')
    .option('--to <location>', 'a directory, or s3://bucket/prefix (ARCHIVE_TO; ARCHIVE_S3_* for the endpoint, encryption and object lock)')
    .option('--max <months>', 'at most this many months in one run', '12')
    .action(async (options: { to?: string; max: string }) => {
      const config = loadConfig();
      const store = archiveStoreOf(config, options.to);
      if (!store) throw new UsageError('name the archive: --to /srv/audit-archive or --to s3://bucket/prefix, or set ARCHIVE_TO');
      const max = Number(options.max);
      if (!Number.isInteger(max) || max < 1 || max > 120) throw new UsageError('--max is a whole number of months, 1 to 120');
      const client = writableClient(await adminUrl(cli.globals()), { application_name: 'pgcomply-archive' });
      await client.connect();
      try {
        const archived = await archiveAuditMonths(client, store, anchorKeyOf(config), { maxMonths: max }).catch((error: Error) => {
          throw error instanceof BundleError ? new UsageError(error.message) : error;
        });
        printResult({ location: store.location, archived }, Boolean(cli.globals().json));
      } finally {
        await client.end();
      }
    });
}
