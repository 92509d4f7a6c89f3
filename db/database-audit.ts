/**
 * Database-level audit with pgaudit, where the server loads it (Debian: postgresql-15-pgaudit,
 * shared_preload_libraries = 'pgaudit'). Object audit: the database's pgaudit.role is
 * compliance_pgaudit, which holds the privileges on every table holding personal data
 * (compliance.grant_database_audit), so any other role's statement on one, a superuser's SELECT
 * included, is written to the server log. pgcomply's own logins are exempted: their statements
 * are in the audit chain, and would put every request's values into the server log. Without
 * pgaudit nothing is done, and the database_audit check says not_applicable.
 */
import { connect } from './tls.js';
import { databaseName, ident, LOGIN_ROLES, parseDatabaseUrl } from './connection.js';

const quiet = { onnotice: () => undefined, max: 1 } as const;

/** configures pgaudit's object audit for the database when the server loads pgaudit; whether it does */
export async function configureDatabaseAudit(adminUrl: string): Promise<boolean> {
  const db = ident(databaseName(parseDatabaseUrl(adminUrl)));
  const sql = connect(adminUrl, quiet);
  try {
    const [row] = await sql<{ loaded: boolean; superuser: boolean }[]>`
      select compliance_private.pgaudit_loaded() as loaded, (select rolsuper from pg_roles where rolname = current_user) as superuser`;
    // pgaudit.role may be set by a superuser only: the check says what is missing otherwise
    if (!row!.loaded || !row!.superuser) return false;
    await sql.begin(async (tx) => {
      await tx.unsafe(`alter database ${db} set pgaudit.role = 'compliance_pgaudit'`);
      for (const login of Object.values(LOGIN_ROLES)) await tx.unsafe(`alter role ${ident(login)} in database ${db} set pgaudit.role = ''`);
      await tx`select compliance.grant_database_audit()`;
    });
    return true;
  } finally {
    await sql.end();
  }
}
