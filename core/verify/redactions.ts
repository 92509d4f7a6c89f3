/** Each redaction against the erasure records: every redacted part listed, every listed part redacted. */
import type { Note } from './notes.js';
import { problem, type Problem } from './range-check.js';

export const missing = (have: string | undefined, need: string | undefined) =>
  ((need ?? '').includes('a') && !(have ?? '').includes('a')) || ((need ?? '').includes('s') && !(have ?? '').includes('s'));

/**
 * redacted: the parts found redacted per row ('1': a layout-1 row); expected: what sealed erasures
 * list; pending: what erasures not sealed yet list; listedPresent: listed rows that are still
 * there; rangeFrom: incremental, the first row id checked
 */
export function compareRedactions(redacted: Map<number, string>, expected: Map<number, string>, pending: Map<number, string>,
  listedPresent: Set<number>, rangeFrom: number): { problems: Problem[]; notes: Note[] } {
  const problems: Problem[] = [];
  const notes: Note[] = [];
  const add = (kind: string, sealNo: number | null, rowId?: number) => problems.push(problem(kind, sealNo, rowId));
  const ids = [...new Set([...redacted.keys(), ...expected.keys()])].sort((a, b) => a - b);
  for (const id of ids) {
    const found = redacted.get(id);
    const listed = expected.get(id);
    if (found === undefined && !listedPresent.has(id)) continue;
    // incremental: only the rows the checked seals and the unsealed tail hold
    if (id < rangeFrom) continue;
    let kind: string | null = null;
    if (found === '1') kind = listed === undefined ? 'unaccounted_redaction' : null;
    else if (missing(listed, found)) {
      if (missing(`${listed ?? ''}${pending.get(id) ?? ''}`, found)) kind = 'unaccounted_redaction';
      else {
        notes.push({ kind: 'pending_redaction', seal_no: null, row_id: id,
          detail: 'redacted by an erasure whose record is not sealed yet; it counts once the worker seals it' });
        continue;
      }
    }
    else if (missing(found, listed)) kind = 'unredacted_row';
    if (kind) add(kind, null, id);
  }
  return { problems, notes };
}
