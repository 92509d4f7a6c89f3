/**
 * What the product imports when it runs is a dependency, not a devDependency: `npm ci --omit=dev`
 * must leave everything npm start, the worker and the CLI load. Type-only imports need nothing.
 */
import { builtinModules } from 'node:module';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const RUNTIME_FOLDERS = ['db', 'core', 'server', 'worker', 'cli', 'web'];
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };

function filesUnder(folder: string): string[] {
  return readdirSync(folder).flatMap((name) => {
    const file = path.join(folder, name);
    if (name === 'node_modules' || name === 'dist') return [];
    return statSync(file).isDirectory() ? filesUnder(file) : /\.(ts|tsx|mjs)$/.test(name) ? [file] : [];
  });
}

/** the package a bare specifier names: @scope/name or name */
const packageOf = (specifier: string) => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');

describe('dependencies', () => {
  it('declare every package the product loads at run time, as a dependency', () => {
    const undeclared: string[] = [];
    for (const file of RUNTIME_FOLDERS.flatMap(filesUnder)) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/^import\s+(?!type\s)[^'"]*?['"]([^.'"][^'"]*)['"]|import\(\s*['"]([^.'"][^'"]*)['"]\s*\)/gm)) {
        const specifier = m[1] ?? m[2]!;
        if (specifier.startsWith('node:') || builtinModules.includes(specifier)) continue;
        const name = packageOf(specifier);
        if (!pkg.dependencies[name]) undeclared.push(`${file}: ${name}${pkg.devDependencies[name] ? ' (only a devDependency)' : ''}`);
      }
    }
    expect([...new Set(undeclared)]).toEqual([]);
  });
});
