import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';

const BENCHMARKS = ['P1', 'P2', 'P3', 'P4', 'P5', 'P6', 'P7', 'P9', 'P11', 'P14'];

function runQuickBench(): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('bench/run.ts'), '--quick'], {
      env: { ...process.env, DATABASE_URL: inject('maintenanceUrl') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('exit', (code) => resolve({ code, output }));
  });
}

describe('npm run bench -- --quick', () => {
  it('runs every benchmark and prints its conditions and figure lines', async () => {
    const { code, output } = await runQuickBench();
    expect(code, output).toBe(0);
    for (const id of BENCHMARKS) {
      expect(output, id).toMatch(new RegExp(`^conditions: postgres=\\S+ synchronous_commit=\\S+ .*benchmark=${id}`, 'm'));
      expect(output, id).toMatch(new RegExp(`^figure ${id} \\w+=-?[\\d.]+ \\S+`, 'm'));
    }
    expect(output).not.toMatch(/^figure \S+ \S+=NaN/m);
  }, 600_000);
});
