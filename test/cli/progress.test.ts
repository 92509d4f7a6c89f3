/**
 * The CLI's progress bar over an estimated total (verify counts audit rows the planner
 * estimated): it never shows more done than the total, and it ends at what was counted.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { progress } from '../../cli/output.js';

/** a terminal's stderr as the bar sees it: a stream that says it is a TTY, 80 columns wide */
function terminal() {
  const stream = Object.assign(new PassThrough(), { isTTY: true, columns: 80, cursorTo: () => true, clearLine: () => true, moveCursor: () => true });
  let text = '';
  stream.on('data', (chunk) => { text += String(chunk); });
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => text };
}

describe('the progress bar', () => {
  it('grows its total when the estimate was low: 282 rows counted against an estimate of 269 end at 282/282', () => {
    const { stream, text } = terminal();
    const bar = progress(269, 'verifying rows', stream);
    for (let i = 0; i < 282; i += 1) bar.tick();
    expect(bar.shown).toEqual({ value: 282, total: 282 });
    bar.stop();
    expect(text()).toContain('282/282');
    expect(text()).not.toMatch(/\b28\d\/269\b/);
  });

  it('ends at the count when the estimate was high', () => {
    const { stream, text } = terminal();
    const bar = progress(500, 'verifying rows', stream);
    bar.tick(120);
    bar.stop();
    expect(bar.shown).toEqual({ value: 120, total: 120 });
    expect(text()).toContain('120/120');
  });
});
