/** What the CLI prints: JSON for scripts (--json), else aligned text; progress bars only on a TTY's stderr. */
import { writeFileSync } from 'node:fs';
import { SingleBar, Presets } from 'cli-progress';

export function printResult(result: unknown, json: boolean): void {
  if (json || typeof result !== 'object' || result === null) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  const rows = Array.isArray(result) ? result : [result];
  if (rows.length === 0) {
    process.stdout.write('(none)\n');
    return;
  }
  const columns = [...new Set(rows.flatMap((row) => Object.keys(row as object)))];
  const cell = (value: unknown) => (value instanceof Date ? value.toISOString() : typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value ?? ''));
  const cells = rows.map((row) => columns.map((c) => cell((row as Record<string, unknown>)[c])));
  const widths = columns.map((c, i) => Math.min(60, Math.max(c.length, ...cells.map((r) => r[i]!.length))));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  process.stdout.write(`${line(columns)}\n${cells.map(line).join('\n')}\n`);
}

/** writes to a file, or to stdout when none is given */
export function writeOut(content: string, file: string | undefined): void {
  if (file) writeFileSync(file, content);
  else process.stdout.write(content.endsWith('\n') ? content : `${content}\n`);
}

/**
 * A progress bar on stderr when it is a terminal; nothing otherwise. The total may be an
 * estimate (the planner's row count): the bar never shows more done than the total, which
 * grows to what was counted, and ends at the count.
 */
export function progress(total: number, label: string, stream: NodeJS.WriteStream = process.stderr): { tick(count?: number): void; stop(): void; readonly shown: { value: number; total: number } } {
  const shown = { value: 0, total: Math.max(1, total) };
  if (!stream.isTTY) return { tick: () => undefined, stop: () => undefined, shown };
  const bar = new SingleBar({ format: `${label} [{bar}] {value}/{total}`, stream }, Presets.shades_classic);
  bar.start(shown.total, 0);
  return {
    shown,
    tick(count = 1) {
      shown.value += count;
      if (shown.value > shown.total) {
        shown.total = shown.value;
        bar.setTotal(shown.total);
      }
      bar.update(shown.value);
    },
    stop() {
      shown.total = shown.value;
      bar.setTotal(shown.total);
      bar.update(shown.value);
      bar.stop();
    },
  };
}
