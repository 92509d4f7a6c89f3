/** What every command module gets: the program, its global options, a session runner and the exit codes. */
import type { Command } from 'commander';
import type { GlobalOptions, Session } from './session.js';

export const EXIT = { ok: 0, finding: 1, usage: 2 } as const;

export interface Cli {
  program: Command;
  globals(): GlobalOptions & { json?: boolean };
  /** runs a command in a session and prints what it returns */
  withSession(work: (session: Session) => Promise<unknown>): Promise<void>;
  EXIT: typeof EXIT;
}
