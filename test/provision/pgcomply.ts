/** runs the real pgcomply executable as a child process, for the CLI tests */
import { spawn } from 'node:child_process';
import path from 'node:path';

export interface Run { code: number | null; stdout: string; stderr: string }

export function runPgcomply(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.resolve('cli/pgcomply.mjs'), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
