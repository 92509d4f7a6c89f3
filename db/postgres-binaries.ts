/**
 * The PostgreSQL programs installed on this machine (pg_dump, pgbench, …), by major version:
 * the Debian and source-install layouts, Homebrew's, and whatever PATH finds first.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

const INSTALL_ROOTS = ['/usr/lib/postgresql', '/usr/local/pgsql', '/opt/homebrew/opt'];

/** every copy of the program, keyed by the major version it reports; the first found per version wins */
export function postgresPrograms(program: string): Map<number, string> {
  const found = new Map<number, string>();
  const installed = INSTALL_ROOTS.filter(existsSync)
    .flatMap((root) => readdirSync(root).map((entry) => path.join(root, entry, 'bin', program)));
  const onPath = spawnSync('sh', ['-c', `command -v ${program}`], { encoding: 'utf8' }).stdout.trim();
  for (const candidate of [...installed, onPath].filter((p) => p && existsSync(p))) {
    const version = spawnSync(candidate, ['--version'], { encoding: 'utf8' }).stdout.match(/(\d+)\.\d+/);
    if (version && !found.has(Number(version[1]))) found.set(Number(version[1]), candidate);
  }
  return found;
}
