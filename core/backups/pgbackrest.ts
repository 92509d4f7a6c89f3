/**
 * pgBackRest as pgcomply runs it: the command (as the cluster's OS user where that is needed), the
 * configuration file and the stanza, the same for backups (take-backup.ts) and drills
 * (restore-drill.ts).
 */
import { execFile } from 'node:child_process';

export interface PgBackRest {
  /** the command that runs pgBackRest, e.g. ['pgbackrest'] or ['runuser', '-u', 'postgres', '--', 'pgbackrest'] */
  command: string[];
  config?: string;
  stanza: string;
}

/** runs one pgBackRest command; its standard output, or an error with the last lines it said */
export function runPgBackRest(tool: PgBackRest, args: string[]): Promise<string> {
  const [program, ...prefix] = tool.command;
  const argv = [...prefix, ...(tool.config ? [`--config=${tool.config}`] : []), `--stanza=${tool.stanza}`, ...args];
  return new Promise((resolve, reject) => {
    execFile(program!, argv, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error((stderr || stdout || error.message).trim().split('\n').slice(-3).join(' ')));
      else resolve(stdout);
    });
  });
}

interface InfoBackup { label: string; type: string; timestamp: { start: number; stop: number }; info: { size: number; repository: { size: number } }; archive: { start: string; stop: string } }

/** the stanza's backups, oldest first, as pgbackrest info --output=json lists them */
export async function backupsIn(tool: PgBackRest): Promise<InfoBackup[]> {
  const [stanza] = JSON.parse(await runPgBackRest(tool, ['--output=json', 'info'])) as { backup: InfoBackup[] }[];
  return stanza?.backup ?? [];
}
