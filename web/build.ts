/**
 * Builds the pages (Vite) into web/dist when the build is missing or older than any of its
 * sources. `npm install` builds them (the prepare script), `npm run build:web` unconditionally;
 * npm start in development and the browser tests rebuild a stale build, production never builds.
 */
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const WEB_ROOT = here;
export const WEB_DIST = path.join(here, 'dist');
const STAMP = path.join(WEB_DIST, '.built');

function newestSource(): number {
  const sources = [path.join(here, 'index.html'), path.join(here, '..', 'package-lock.json'),
    ...readdirSync(path.join(here, 'src'), { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath, entry.name))];
  // the API's types shape the client: a changed router rebuilds too
  const routers = path.join(here, '..', 'server', 'routers');
  sources.push(...readdirSync(routers).map((name) => path.join(routers, name)));
  // the server modules the pages bundle (export file names)
  sources.push(path.join(here, '..', 'server', 'csv.ts'));
  return Math.max(...sources.filter(existsSync).map((file) => statSync(file).mtimeMs));
}

/** whether a build exists, current or not */
export const webIsBuilt = (): boolean => existsSync(STAMP);

export function webBuildIsCurrent(): boolean {
  return existsSync(STAMP) && statSync(STAMP).mtimeMs >= newestSource();
}

/** builds when missing or stale; returns whether it built */
export async function ensureWebBuilt(options: { force?: boolean; log?: (message: string) => void } = {}): Promise<boolean> {
  if (!options.force && webBuildIsCurrent()) return false;
  options.log?.('building the privacy center and DPO console (web/) with Vite');
  const [{ build }, { default: react }] = await Promise.all([import('vite'), import('@vitejs/plugin-react')]);
  await build({
    root: here,
    configFile: false,
    logLevel: 'warn',
    plugins: [react()],
    build: { outDir: WEB_DIST, emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 1024 },
  });
  writeFileSync(STAMP, new Date().toISOString());
  return true;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await ensureWebBuilt({ force: process.argv.includes('--force'), log: (m) => console.log(m) });
}
