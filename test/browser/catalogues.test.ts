/**
 * The pages' catalogues: English and German hold the same strings, and every string a page asks
 * for by a literal key exists in both, so no reader sees a key instead of words.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LANGUAGES } from './language.js';

type Tree = { [key: string]: string | Tree };
const catalogue = (language: string) => JSON.parse(readFileSync(`web/src/locales/${language}.json`, 'utf8')) as Tree;
const keys = (tree: Tree, prefix = ''): string[] =>
  Object.entries(tree).flatMap(([key, value]) => (typeof value === 'string' ? [`${prefix}${key}`] : keys(value, `${prefix}${key}.`)));
/** a key as i18next resolves it: the key itself, or its plural and context forms */
const present = (all: Set<string>, key: string) => all.has(key) || [...all].some((k) => k.startsWith(`${key}_`));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name);
    return entry.isDirectory() ? sources(file) : /\.tsx?$/.test(entry.name) ? [file] : [];
  });
}

describe('the catalogues', () => {
  it('hold the same keys in every language', () => {
    const [first, ...rest] = LANGUAGES.map((language) => new Set(keys(catalogue(language))));
    for (const other of rest) {
      expect([...first!].filter((k) => !other.has(k))).toEqual([]);
      expect([...other].filter((k) => !first!.has(k))).toEqual([]);
    }
  });

  it('hold every key a page names literally (t(\'…\'), explain maps, i18nKey)', () => {
    const used = new Set<string>();
    for (const file of sources('web/src')) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/\bt\(\s*'([a-zA-Z_.]+)'/g)) used.add(m[1]!);
      for (const m of text.matchAll(/i18nKey="([a-zA-Z_.]+)"/g)) used.add(m[1]!);
      for (const m of text.matchAll(/'(explain\.[a-zA-Z_.]+)'/g)) used.add(m[1]!);
    }
    expect(used.size).toBeGreaterThan(150);
    for (const language of LANGUAGES) {
      const all = new Set(keys(catalogue(language)));
      expect([...used].filter((key) => !present(all, key)), language).toEqual([]);
    }
  });

  it('say every subject-facing refusal without naming a SQL function', () => {
    for (const language of LANGUAGES) {
      const refusals = catalogue(language).subjectProblem as Record<string, string>;
      for (const [code, text] of Object.entries(refusals)) expect(text, `${language} ${code}`).not.toMatch(/compliance\.|[a-z]+_[a-z_]+\(|\([A-Z0-9]{5}\)/);
    }
  });
});
