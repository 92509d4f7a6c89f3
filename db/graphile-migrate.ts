/**
 * Runs the graphile-migrate CLI (watch, commit, uncommit, status, ...) for development,
 * as pgcomply_migrator, with the shadow database <db>_shadow.
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/pgcomply_dev npm run db -- commit
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { databaseName, DEVELOPMENT_LOGIN_PASSWORD, loginRoleUrl, parseDatabaseUrl, withDatabase } from './connection.js';
import { CURRENT_MIGRATION, expandIncludes } from './includes.js';
import { createRoles, ensureDatabase, grantDatabase, withCreateOnDatabase } from './setup.js';

const adminRaw = process.env.DATABASE_URL;
if (!adminRaw) {
  console.error('DATABASE_URL is required, e.g. postgres://postgres@127.0.0.1:5432/pgcomply_dev');
  process.exit(1);
}
const password = process.env.DB_LOGIN_PASSWORD ?? DEVELOPMENT_LOGIN_PASSWORD;
const admin = parseDatabaseUrl(adminRaw);
const shadowAdmin = withDatabase(admin, `${databaseName(admin)}_shadow`);

await ensureDatabase(admin.toString());
await createRoles(admin.toString(), password);
await grantDatabase(admin.toString());

const cli = createRequire(import.meta.url).resolve('graphile-migrate/dist/cli.js');
// graphile-migrate 1.4 has no --!include: commit inlines the fixture files itself, so the
// committed migration stays self-contained
if (process.argv[2] === 'commit') expandIncludes(CURRENT_MIGRATION);
// the owner may create schemas only while the CLI runs (graphile-migrate recreates the
// shadow database, which then needs the same grants)
const result = await withCreateOnDatabase(admin.toString(), async () =>
  spawnSync(process.execPath, [cli, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: {
      ...process.env,
      DATABASE_URL: loginRoleUrl(admin, 'migrator', password),
      SHADOW_DATABASE_URL: loginRoleUrl(parseDatabaseUrl(shadowAdmin), 'migrator', password),
      ROOT_DATABASE_URL: withDatabase(admin, 'postgres'),
      // for the afterAllMigrations hook that rewrites db/schema.sql (db/schema-dump.ts)
      PGCOMPLY_SCHEMA_DUMP_URL: admin.toString(),
    },
  }));
process.exit(result.status ?? 1);
