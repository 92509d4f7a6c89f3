/**
 * docs/COMPLIANCE.md names SQL objects and tests; every one of them must exist, so a rename that
 * is not carried into the matrix fails here.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../provision/database.js';

const db = useTestDatabase();
const matrix = readFileSync('docs/COMPLIANCE.md', 'utf8');

/** `file › test name` references, and the backticked schema-qualified SQL names */
function references(text: string) {
  const tests = [...text.matchAll(/(test\/[\w/.-]+\.test\.ts) › ([^|]+?)\s*\|/g)].map((m) => ({ file: m[1]!, name: m[2]! }));
  const objects = [...new Set([...text.matchAll(/`(compliance(?:_private)?\.[a-z_][a-z0-9_]*)`/g)].map((m) => m[1]!))];
  return { tests, objects };
}

describe('the compliance matrix', () => {
  const { tests, objects } = references(matrix);

  it('maps every article the seeds name', () => {
    for (const name of ['Art. 5(1)(e)', 'Art. 33', 'Art. 34', '§164.312(a)(2)(ii)', '§164.312(e)', '§164.404–408', 'CC6.1', 'CC6.6', 'A1.2', 'C1.2']) {
      expect(matrix, name).toContain(`| ${name} |`);
    }
    expect(tests.length).toBeGreaterThan(25);
    expect(objects.length).toBeGreaterThan(40);
  });

  it('names only tests that exist', () => {
    for (const { file, name } of tests) {
      const source = readFileSync(file, 'utf8');
      expect(source.includes(`'${name}'`) || source.includes(`'${name.replace(/'/g, "\\'")}'`), `${file} › ${name}`).toBe(true);
    }
  });

  it('names only SQL objects that exist', async () => {
    const missing = await db.admin`
      select o from unnest(${objects}::text[]) o
       where to_regclass(o) is null
         and not exists (select from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                          where n.nspname || '.' || p.proname = o)`;
    expect(missing.map((m) => m.o)).toEqual([]);
  });

  it('notices a renamed test', () => {
    const renamed = references(matrix.replace('› audits a policy change |', '› audits a policy change, renamed |'));
    const test = renamed.tests.find((t) => t.name === 'audits a policy change, renamed')!;
    expect(readFileSync(test.file, 'utf8').includes(`'${test.name}'`)).toBe(false);
  });
});
