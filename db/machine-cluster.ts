/**
 * A PostgreSQL 15 cluster of the machine's own binaries (/usr/lib/postgresql/15/bin), in a
 * temporary directory, on a loopback port, for the harnesses that need settings the shared test
 * server cannot have (archive_mode, a restore). As root, every server and pgBackRest command runs
 * as the postgres OS user, as they do on a real host.
 */
import { execFileSync, type ExecFileSyncOptions } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { postgresPrograms } from './postgres-binaries.js';

const asRoot = process.getuid?.() === 0;
const postgresUser = () => ({
  uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })),
  gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })),
});

/** runs a program as the cluster's OS user; its output, or an error naming what it said */
export function runAsPostgres(program: string, args: string[], options: ExecFileSyncOptions = {}): string {
  const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', program, ...args]] : [program, args];
  try {
    return execFileSync(file, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options }) as string;
  } catch (error) {
    const failure = error as { stderr?: Buffer | string; stdout?: Buffer | string; message: string };
    throw new Error(`${path.basename(program)} ${args.join(' ')} failed: ${String(failure.stderr ?? '')}${String(failure.stdout ?? '')}`.trim());
  }
}

/** a directory the postgres OS user owns */
export function ownedDirectory(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (asRoot) {
    const { uid, gid } = postgresUser();
    chownSync(dir, uid, gid);
  }
  return dir;
}

/** a file the postgres OS user owns (the configuration its archive_command reads) */
export function ownedFile(file: string): string {
  if (asRoot) {
    const { uid, gid } = postgresUser();
    chownSync(file, uid, gid);
  }
  return file;
}

/** a file of the postgres OS user's, readable by it alone */
function writeOwnedFile(file: string, text: string): void {
  writeFileSync(file, text, { mode: 0o600 });
  ownedFile(file);
}

export class MachineCluster {
  private readonly bin: string;
  constructor(readonly dataDir: string, readonly port: number, readonly socketDir: string) {
    const initdb = postgresPrograms('initdb').get(15);
    if (!initdb) throw new Error('no PostgreSQL 15 initdb on this machine (Debian: apt-get install postgresql-15)');
    this.bin = path.dirname(initdb);
  }

  /** initdb (trust on loopback), then the settings given, appended to postgresql.conf */
  init(settings: Record<string, string>): void {
    ownedDirectory(path.dirname(this.dataDir));
    runAsPostgres(path.join(this.bin, 'initdb'), ['-D', this.dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync']);
    this.configure(settings);
  }

  configure(settings: Record<string, string>): void {
    const lines = Object.entries({ port: String(this.port), listen_addresses: '127.0.0.1', unix_socket_directories: this.socketDir, fsync: 'off', ...settings })
      .map(([name, value]) => `${name} = '${value.replace(/'/g, "''")}'`);
    appendFileSync(path.join(this.dataDir, 'postgresql.conf'), `\n${lines.join('\n')}\n`);
  }

  /**
   * For a copy restored from a backup: settings that win over its own postgresql.conf and ALTER
   * SYSTEM's (appended to postgresql.auto.conf, after what the restore wrote there), and clients
   * only over the Unix socket as the postgres user, whom only that OS user (or root) reaches
   * through the socket directory. A Debian cluster keeps postgresql.conf outside the data
   * directory, so the copy may have none: an empty one is made.
   */
  isolateRestoredCopy(settings: Record<string, string>): void {
    const conf = path.join(this.dataDir, 'postgresql.conf');
    if (!existsSync(conf)) writeOwnedFile(conf, '# made for a restored copy (pgcomply backup drill)\n');
    const hba = path.join(this.dataDir, 'pg_hba.conf');
    writeOwnedFile(hba, '# a restored copy: the postgres user over the Unix socket only (pgcomply backup drill)\nlocal all postgres trust\n');
    const auto = path.join(this.dataDir, 'postgresql.auto.conf');
    const lines = Object.entries({ port: String(this.port), listen_addresses: '', unix_socket_directories: this.socketDir, hba_file: hba,
      ident_file: path.join(this.dataDir, 'pg_ident.conf'), external_pid_file: '', ssl: 'off', ...settings })
      .map(([name, value]) => `${name} = '${value.replace(/'/g, "''")}'`);
    if (!existsSync(auto)) writeOwnedFile(auto, '');
    appendFileSync(auto, `\n${lines.join('\n')}\n`);
  }

  get logFile(): string {
    return path.join(path.dirname(this.dataDir), `${path.basename(this.dataDir)}.log`);
  }

  /** starts the server; with `wait` false returns at once (a recovery may take longer than pg_ctl waits) */
  start(wait = true): void {
    runAsPostgres(path.join(this.bin, 'pg_ctl'), ['-D', this.dataDir, '-l', this.logFile, ...(wait ? ['-w', '-t', '120'] : ['-W']), 'start']);
  }

  /** whether the server runs (pg_ctl status) */
  running(): boolean {
    try {
      runAsPostgres(path.join(this.bin, 'pg_ctl'), ['-D', this.dataDir, 'status']);
      return true;
    } catch {
      return false;
    }
  }

  /** the last lines of the server's log that say what went wrong (FATAL, PANIC, ERROR) */
  logErrors(count = 3): string[] {
    if (!existsSync(this.logFile)) return [];
    return readFileSync(this.logFile, 'utf8').split('\n').filter((line) => /\b(FATAL|PANIC|ERROR):/.test(line)).slice(-count);
  }

  stop(mode: 'fast' | 'immediate' = 'fast'): void {
    try {
      runAsPostgres(path.join(this.bin, 'pg_ctl'), ['-D', this.dataDir, '-m', mode, '-w', 'stop']);
    } catch (error) {
      if (!/Is server running|No such file|does not exist|not a database cluster directory/.test((error as Error).message)) throw error;
    }
  }

  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }
}
