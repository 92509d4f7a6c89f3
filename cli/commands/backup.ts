/**
 * pgcomply backup setup: pgBackRest's configuration and the server settings for continuous
 * archiving. pgcomply backup verify: a backup restored into a scratch database and checked, the
 * result recorded for the backup-age check.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { type BackupSetup, pgbackrestConf, type Repository, serverSettings, setupSteps } from '../../server/backups/pgbackrest-setup.js';
import { BackupUnreadable, verifyBackup } from '../../server/backups/verify-backup.js';
import { printResult, progress } from '../output.js';
import { adminConnection, adminUrl, UsageError } from '../session.js';
import type { Cli } from '../program.js';
import { Option } from 'commander';
import { writableClient } from '../../db/writable-pg.js';
import { drillOptionsOf, restoreDrill } from '../../core/backups/restore-drill.js';
import { drillsOf, loadConfig } from '../../core/config.js';

interface SetupOptions {
  dataDir: string; port: string; socketDir?: string; stanza: string; repoPath?: string; s3Bucket?: string; s3Endpoint?: string; s3Region?: string; s3CaFile?: string;
  s3Path: string; s3UriStyle: 'host' | 'path'; retentionFull: string; encryption: boolean; write?: string; logPath?: string; lockPath?: string;
}

/** the repository key: BACKUP_REPO_KEY, or the file BACKUP_REPO_KEY_FILE names, like the other keys */
function repositoryKey(env: NodeJS.ProcessEnv): string | undefined {
  if (env.BACKUP_REPO_KEY) return env.BACKUP_REPO_KEY;
  if (!env.BACKUP_REPO_KEY_FILE) return undefined;
  try {
    return readFileSync(env.BACKUP_REPO_KEY_FILE, 'utf8').trim();
  } catch (error) {
    throw new UsageError(`BACKUP_REPO_KEY_FILE ${env.BACKUP_REPO_KEY_FILE} cannot be read (${(error as NodeJS.ErrnoException).code})`);
  }
}

function backupSetupOf(options: SetupOptions, env: NodeJS.ProcessEnv): BackupSetup {
  let repository: Repository;
  if (options.s3Bucket) {
    if (!options.s3Endpoint || !options.s3Region) throw new UsageError('an S3 repository needs --s3-endpoint and --s3-region as well as --s3-bucket');
    const endpoint = /^([A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(options.s3Endpoint);
    if (!endpoint || (endpoint[2] !== undefined && (Number(endpoint[2]) < 1 || Number(endpoint[2]) > 65535))) {
      throw new UsageError(`--s3-endpoint ${options.s3Endpoint} is not a host name with an optional port (s3.eu-central-1.amazonaws.com, minio.internal:9000)`);
    }
    repository = { type: 's3', bucket: options.s3Bucket, endpoint: endpoint[1]!, port: endpoint[2] ? Number(endpoint[2]) : undefined, caFile: options.s3CaFile,
      region: options.s3Region, path: options.s3Path, uriStyle: options.s3UriStyle, key: env.AWS_ACCESS_KEY_ID, keySecret: env.AWS_SECRET_ACCESS_KEY };
  } else if (options.repoPath) {
    repository = { type: 'posix', path: options.repoPath };
  } else {
    throw new UsageError('name the repository: --repo-path /var/lib/pgbackrest, or --s3-bucket with --s3-endpoint and --s3-region');
  }
  const key = repositoryKey(env);
  if (options.encryption && (!key || key.length < 32)) {
    throw new UsageError('the repository is encrypted (aes-256-cbc): set BACKUP_REPO_KEY_FILE to a file holding at least 32 characters, e.g. openssl rand -base64 48 > /etc/pgcomply/backup-repo.key, and keep it apart from the repository; --no-encryption only if the storage encrypts on its own');
  }
  const port = Number(options.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError('--port must be a port number');
  const retentionFull = Number(options.retentionFull);
  if (!Number.isInteger(retentionFull) || retentionFull < 1 || retentionFull > 100) throw new UsageError('--retention-full must be between 1 and 100');
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(options.stanza)) throw new UsageError('--stanza takes letters, digits, _ and -');
  return { stanza: options.stanza, dataDir: options.dataDir, port, socketDir: options.socketDir, repository,
    cipherPass: options.encryption ? key! : null, retentionFull, logPath: options.logPath, lockPath: options.lockPath };
}

export function registerBackup(cli: Cli): void {
  const backup = cli.program.command('backup').description('backups');
  backup.command('setup')
    .description('pgBackRest\'s configuration for this cluster (a local or S3 repository, encrypted) and the server settings for continuous WAL archiving, with the steps that follow; --write writes the configuration with its secrets, readable by its owner only')
    .requiredOption('--data-dir <dir>', 'the cluster\'s data directory')
    .option('--port <port>', 'the cluster\'s port', '5432')
    .option('--socket-dir <dir>', 'the cluster\'s Unix socket directory (Debian: /var/run/postgresql)')
    .option('--stanza <name>', 'the stanza name', 'pgcomply')
    .option('--repo-path <dir>', 'a repository on a local or mounted path')
    .option('--s3-bucket <bucket>', 'a repository in S3-compatible object storage (credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)')
    .option('--s3-endpoint <host[:port]>', 'the object storage endpoint (always HTTPS), with its port when not 443')
    .option('--s3-ca-file <file>', 'the CA certificate that signed the endpoint\'s, when the machine does not trust it already')
    .option('--s3-region <region>', 'the object storage region')
    .option('--s3-path <path>', 'the repository\'s path in the bucket', '/pgcomply')
    .addOption(new Option('--s3-uri-style <style>', 'host or path (most S3-compatible stores on premises: path)').choices(['host', 'path']).default('host'))
    .option('--retention-full <n>', 'full backups kept', '4')
    .option('--no-encryption', 'an unencrypted repository, only where the storage encrypts on its own')
    .option('--log-path <dir>', 'where pgBackRest logs')
    .option('--lock-path <dir>', 'where pgBackRest keeps its locks and spool')
    .option('--write <file>', 'write the configuration here (mode 0600), secrets included')
    .action((options: SetupOptions) => {
      const setup = backupSetupOf(options, process.env);
      if (options.write) writeFileSync(options.write, pgbackrestConf(setup, true), { mode: 0o600 });
      const lines = [
        options.write ? `# written to ${options.write} (readable by its owner only): make it the postgres user's, whose archive_command reads it` : pgbackrestConf(setup, false),
        '# the server settings (postgresql.conf or ALTER SYSTEM):',
        ...Object.entries(serverSettings(setup, options.write)).map(([name, value]) => `${name} = '${value}'`),
        '',
        '# then, in order:',
        ...setupSteps(setup, options.write).map((step, i) => `# ${i + 1}. ${step}`),
        ...(setup.cipherPass === null ? ['# warning: the repository is NOT encrypted (--no-encryption)'] : []),
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });

  backup.command('verify')
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

  backup.command('drill')
    .description('restore the newest backup (to the end of the archived WAL), or a point in time, with pgBackRest into a scratch cluster on this machine; replay the erasure journal, verify the audit chain and the anchors, check row-level security and grants, measure the time it all took (RTO), remove the scratch cluster and record the result (the restore_drill check reads it); exit 1 on any finding. Needs BACKUP_STANZA (and PGBACKREST_CONFIG), the tombstone pepper, and room for a copy of the cluster under BACKUP_DRILL_DIR')
    .option('--to <timestamp>', 'a point in time with its zone, e.g. 2026-12-06T14:30:00Z or "2026-12-06 15:30:00.123456+01"')
    .action(async (options: { to?: string }) => {
      const drills = drillsOf(loadConfig());
      if (!drills) throw new UsageError('set BACKUP_STANZA (and PGBACKREST_CONFIG) to the stanza pgcomply backup setup configured');
      // the target goes to PostgreSQL as written (to the microsecond); it must name its zone and have passed
      if (options.to !== undefined && (!/(Z|[+-]\d\d(:?\d\d)?)$/.test(options.to.trim()) || Number.isNaN(Date.parse(options.to.replace(' ', 'T'))))) {
        throw new UsageError(`--to ${options.to} is not a point in time with its zone (e.g. 2026-12-06T14:30:00Z)`);
      }
      if (options.to !== undefined && Date.parse(options.to.replace(' ', 'T')) > Date.now()) throw new UsageError(`--to ${options.to} has not happened yet`);
      const prepared = await drillOptionsOf(drills).catch((error: Error) => {
        throw new UsageError(error.message);
      });
      const live = writableClient(await adminUrl(cli.globals()), { application_name: 'pgcomply-backup-drill' });
      await live.connect();
      const bar = progress(5, 'check the repository, restore, recover, replay erasures, verify');
      try {
        if (cli.globals().actor) await live.query("select set_config('compliance.actor', $1, false)", [cli.globals().actor]);
        const outcome = await restoreDrill(live, { ...prepared, target: options.to?.trim(), onStage: () => bar.tick() });
        bar.stop();
        if (!outcome.drilled) throw new UsageError('another restore drill is running (the worker\'s, or another pgcomply backup drill): try again when it ends');
        if (!outcome.ok) process.exitCode = cli.EXIT.finding;
        printResult(outcome, Boolean(cli.globals().json));
      } finally {
        bar.stop();
        await live.end();
      }
    });
}
