/** npm run setup-db: roles, database privileges and migrations for DATABASE_URL (idempotent). */
import { DEVELOPMENT_LOGIN_PASSWORD, databaseName, parseDatabaseUrl } from '../db/connection.js';
import { pepperSource } from '../db/pepper.js';
import { setupDatabase } from '../db/setup.js';
import { refuseUnencrypted } from '../db/tls.js';

try {
  const adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) throw new Error('DATABASE_URL is required, e.g. postgres://postgres:secret@127.0.0.1:5432/pgcomply');
  if (process.env.REQUIRE_TLS === 'true') refuseUnencrypted('DATABASE_URL', adminUrl);
  const password = process.env.DB_LOGIN_PASSWORD ?? DEVELOPMENT_LOGIN_PASSWORD;
  if (password.length < 8) throw new Error('DB_LOGIN_PASSWORD must have at least 8 characters');
  const tombstonePepper = pepperSource(process.env, process.env.PGCOMPLY_DATA_DIR ?? '.data', process.env.NODE_ENV === 'production');
  await setupDatabase({ adminUrl, loginPassword: password, tombstonePepper });
  process.stdout.write(`pgcomply: database ${databaseName(parseDatabaseUrl(adminUrl))} is set up and migrated\n`);
} catch (error) {
  process.stderr.write(`pgcomply setup: ${(error as Error).message}\n`);
  process.exit(1);
}
