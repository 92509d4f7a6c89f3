/**
 * What pgBackRest needs to back up a pgcomply cluster with continuous WAL archiving: the stanza's
 * configuration (a local repository or S3-compatible object storage, encrypted with aes-256-cbc
 * unless the operator says otherwise) and the server settings that archive every WAL segment.
 * pgcomply writes these; pgBackRest takes, checks and restores the backups.
 */

export type Repository =
  | { type: 'posix'; path: string }
  | { type: 's3'; bucket: string; endpoint: string; region: string; path: string; uriStyle: 'host' | 'path'; key?: string; keySecret?: string;
      /** the endpoint's port when not 443, and the CA that signed its certificate when not one the machine trusts */
      port?: number; caFile?: string };

export interface BackupSetup {
  stanza: string;
  /** the cluster's data directory and port, as pgBackRest reaches it on this machine */
  dataDir: string;
  port: number;
  /** the Unix socket directory, where the server listens on one (Debian: /var/run/postgresql) */
  socketDir?: string;
  repository: Repository;
  /** the repository key (BACKUP_REPO_KEY or BACKUP_REPO_KEY_FILE); null only when encryption was turned off on purpose */
  cipherPass: string | null;
  /** full backups kept (the differentials and WAL they need go with them) */
  retentionFull: number;
  /** where pgBackRest writes its logs and lock files (defaults: /var/log/pgbackrest, /tmp/pgbackrest) */
  logPath?: string;
  lockPath?: string;
}

/** what stands in the printed configuration instead of a secret */
export const SECRET_PLACEHOLDER = '<from BACKUP_REPO_KEY or BACKUP_REPO_KEY_FILE>';

const ini = (entries: [string, string | number | undefined][]) =>
  entries.filter(([, value]) => value !== undefined && value !== '').map(([key, value]) => `${key}=${value}`).join('\n');

/**
 * The pgbackrest.conf text. `revealSecrets`: write the repository key and S3 secret into it (a
 * file only its owner reads); otherwise placeholders, for a terminal.
 */
export function pgbackrestConf(setup: BackupSetup, revealSecrets: boolean): string {
  const repo = setup.repository;
  const secret = (value: string | undefined, placeholder = SECRET_PLACEHOLDER) => (value === undefined ? undefined : revealSecrets ? value : placeholder);
  const global = ini([
    ['repo1-type', repo.type],
    ['repo1-path', repo.path],
    ...(repo.type === 's3' ? [
      ['repo1-s3-bucket', repo.bucket], ['repo1-s3-endpoint', repo.endpoint], ['repo1-s3-region', repo.region], ['repo1-s3-uri-style', repo.uriStyle],
      ['repo1-storage-port', repo.port?.toString()], ['repo1-storage-ca-file', repo.caFile],
      ['repo1-s3-key', secret(repo.key, '<from AWS_ACCESS_KEY_ID>')], ['repo1-s3-key-secret', secret(repo.keySecret, '<from AWS_SECRET_ACCESS_KEY>')],
    ] as [string, string | undefined][] : []),
    ...(setup.cipherPass === null ? [] : [['repo1-cipher-type', 'aes-256-cbc'], ['repo1-cipher-pass', secret(setup.cipherPass)]] as [string, string | undefined][]),
    ['repo1-retention-full', setup.retentionFull],
    // a backup starts at once rather than at the next checkpoint; WAL is pushed in the background
    ['start-fast', 'y'],
    ['archive-async', 'y'],
    ['spool-path', setup.lockPath ? `${setup.lockPath}/spool` : undefined],
    ['log-path', setup.logPath],
    ['lock-path', setup.lockPath],
    ['compress-type', 'zst'],
  ]);
  const stanza = ini([['pg1-path', setup.dataDir], ['pg1-port', setup.port], ['pg1-socket-path', setup.socketDir]]);
  return `# pgBackRest for pgcomply (pgcomply backup setup). The repository key is the only way to read\n`
    + `# the backups: keep it apart from the repository (docs: README, "Backups").\n[global]\n${global}\n\n[${setup.stanza}]\n${stanza}\n`;
}

/** the server settings continuous archiving needs; archive_mode takes a restart, the rest a reload */
export function serverSettings(setup: BackupSetup, configFile?: string): Record<string, string> {
  const config = configFile ? ` --config=${configFile}` : '';
  return {
    archive_mode: 'on',
    archive_command: `pgbackrest${config} --stanza=${setup.stanza} archive-push %p`,
    wal_level: 'replica',
    // a segment is archived at least once a minute even when little is written: the RPO bound
    archive_timeout: '60s',
    max_wal_senders: '3',
  };
}

/** the steps after writing the configuration, in the order an operator runs them */
export function setupSteps(setup: BackupSetup, configFile?: string): string[] {
  const config = configFile ? ` --config=${configFile}` : '';
  const settings = Object.entries(serverSettings(setup, configFile)).map(([name, value]) => `alter system set ${name} = '${value.replace(/'/g, "''")}';`);
  return [
    `psql -c "${settings.join(' ')}"`,
    'restart PostgreSQL (archive_mode and wal_level take effect only at a restart), e.g. systemctl restart postgresql@15-main',
    `pgbackrest${config} --stanza=${setup.stanza} stanza-create`,
    `pgbackrest${config} --stanza=${setup.stanza} check      # archives a WAL segment and finds it in the repository`,
    `pgbackrest${config} --stanza=${setup.stanza} --type=full backup`,
  ];
}
