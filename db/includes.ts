/**
 * `--!include <area>/<file>.sql` in db/migrations/current.sql pulls in a fixture file from
 * db/migrations/fixtures/, the single home of a function's, view's or policy's current definition.
 * `npm run db -- commit` inlines them before graphile-migrate commits, as graphile-migrate 2 does.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const FIXTURES_FOLDER = path.join(here, 'migrations', 'fixtures');
export const CURRENT_MIGRATION = path.join(here, 'migrations', 'current.sql');

export function expandIncludes(file: string): void {
  const text = readFileSync(file, 'utf8');
  const expanded = text.replace(/^--!include\s+(\S+)\s*$/gm, (_, relative: string) => {
    const fixture = path.resolve(FIXTURES_FOLDER, relative);
    if (!fixture.startsWith(FIXTURES_FOLDER + path.sep) || !existsSync(fixture)) {
      throw new Error(`--!include ${relative}: no such file under db/migrations/fixtures`);
    }
    return `-- included from fixtures/${relative}\n${readFileSync(fixture, 'utf8').trimEnd()}\n`;
  });
  if (expanded !== text) writeFileSync(file, expanded);
}
