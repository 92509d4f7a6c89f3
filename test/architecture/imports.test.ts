/**
 * Every import points down: db/ at the bottom, core/ (what the processes share: configuration,
 * logging, keys, anchors, verification) above it, then the two processes, server/ and worker/,
 * which never import each other. Above the server sit its two clients: cli/, which calls the same
 * tRPC procedures in-process so that a command validates, audits and refuses as the API does, and
 * web/, whose pages take the API's types. The one file that starts server, worker and pages
 * (server/main.ts, npm start's composition root) may import them all. The README's diagram draws
 * these rules.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/** each folder, and the folders its files may import from (besides itself) */
export const ALLOWED: Record<string, string[]> = {
  db: [],
  core: ['db'],
  worker: ['core', 'db'],
  server: ['core', 'db'],
  cli: ['server', 'core', 'db'],
  web: ['server'],
};

/** the domain code: it raises core/refusal.ts's Refusal, and the API maps it (server/errors.ts) */
const DOMAIN = ['core', 'server/health-records', 'server/reports', 'server/backups', 'server/imports', 'server/evidence'];

/** files that start more than one process: they may import every folder */
export const COMPOSITION_ROOTS = ['server/main.ts'];

const SOURCE = /\.(ts|tsx|mjs)$/;
const SPECIFIER = /(?:from\s+|import\s*\(\s*|import\s+|new URL\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g;

function filesUnder(folder: string): string[] {
  return readdirSync(folder).flatMap((name) => {
    const file = path.join(folder, name);
    if (name === 'node_modules' || name === 'dist') return [];
    return statSync(file).isDirectory() ? filesUnder(file) : SOURCE.test(name) ? [file] : [];
  });
}

function importsOf(file: string): { target: string; line: number }[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(SPECIFIER)].map((m) => ({
    target: path.normalize(path.join(path.dirname(file), m[1]!)),
    line: text.slice(0, m.index).split('\n').length,
  }));
}

const topFolder = (file: string) => file.split(path.sep)[0]!;

describe('imports', () => {
  it('point down: no folder imports one above it, and server/ and worker/ never import each other', () => {
    const wrong: string[] = [];
    for (const folder of Object.keys(ALLOWED)) {
      for (const file of filesUnder(folder)) {
        if (COMPOSITION_ROOTS.includes(file)) continue;
        for (const { target, line } of importsOf(file)) {
          const to = topFolder(target);
          if (to !== folder && !ALLOWED[folder]!.includes(to)) wrong.push(`${file}:${line} imports ${target}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it('leave the domain code ignorant of tRPC: health records, keys, anchors, verification, reports, backups, imports, evidence', () => {
    const wrong: string[] = [];
    for (const folder of DOMAIN) {
      for (const file of filesUnder(folder)) {
        const text = readFileSync(file, 'utf8');
        if (/from ['"](@trpc\/|trpc-to-openapi)/.test(text)) wrong.push(`${file} imports tRPC`);
        for (const { target, line } of importsOf(file)) {
          if (/^server\/(trpc|errors|app|context)\.|^server\/(routers|rest|input|auth)\//.test(target)) wrong.push(`${file}:${line} imports ${target}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it('have a rule for every top-level source folder', () => {
    const folders = readdirSync('.').filter((name) => !name.startsWith('.') && !['node_modules', 'test', 'bench', 'docs'].includes(name)
      && statSync(name).isDirectory() && filesUnder(name).length > 0);
    expect(folders.sort()).toEqual(Object.keys(ALLOWED).sort());
  });

  it('are drawn in the README as the rules say', () => {
    const readme = readFileSync('README.md', 'utf8');
    const diagram = /```mermaid\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    const drawn = [...diagram.matchAll(/^\s*(\w+) --> (\w+)\s*$/gm)].map((m) => `${m[1]} --> ${m[2]}`).sort();
    const rules = Object.entries(ALLOWED).flatMap(([from, tos]) => tos.map((to) => `${from} --> ${to}`)).sort();
    expect(drawn).toEqual(rules);
  });
});
