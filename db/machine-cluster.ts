/**
 * A PostgreSQL 15 cluster of the machine's own binaries (/usr/lib/postgresql/15/bin), in a
 * temporary directory, on a loopback port, for the harnesses that need settings the shared test
 * server cannot have (archive_mode, a restore). As root, every server and pgBackRest command runs
 * as the postgres OS user, as they do on a real host.
 */
import { execFileSync, type ExecFileSyncOptions } from 'node:child_process';
import { appendFileSync, chownSync, mkdirSync } from 'node:fs';
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

  start(): void {
    runAsPostgres(path.join(this.bin, 'pg_ctl'), ['-D', this.dataDir, '-l', path.join(path.dirname(this.dataDir), `${path.basename(this.dataDir)}.log`), '-w', '-t', '120', 'start']);
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
