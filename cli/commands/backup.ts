/** pgcomply backup verify: a backup restored into a scratch database and checked, the result recorded for the backup-age check. */
import { BackupUnreadable, verifyBackup } from '../../server/backups/verify-backup.js';
import { printResult, progress } from '../output.js';
import { adminConnection, adminUrl, UsageError } from '../session.js';
import type { Cli } from '../program.js';

export function registerBackup(cli: Cli): void {
  cli.program.command('backup').description('backups').command('verify')
    .description('restore a pg_dump -Fc archive into a scratch database on the same server, verify its audit chain, row-level security and grants, drop it, and record the result (the backup-age check reads it); exit 1 on any finding')
    .argument('<file>', 'the archive (pg_dump -Fc)')
    .option('--pg-restore <path>', 'the pg_restore to use (its major version at least the dump\'s)', 'pg_restore')
    .action(async (file: string, options: { pgRestore: string }) => {
      const url = await adminUrl(cli.globals());
      const admin = await adminConnection(url);
      const bar = progress(4, 'restore, verify the chain, check access, record');
      try {
        const result = await verifyBackup({ file, adminUrl: url, admin, pgRestore: options.pgRestore, actor: cli.globals().actor, onStage: () => bar.tick() });
        bar.stop();
        if (!result.ok) process.exitCode = cli.EXIT.finding;
        printResult(result, Boolean(cli.globals().json));
      } catch (error) {
        if (error instanceof BackupUnreadable) throw new UsageError(error.message);
        throw error;
      } finally {
        bar.stop();
        await admin.end({ timeout: 5 });
      }
    });
}
