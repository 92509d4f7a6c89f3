/**
 * Connection strings for each part of pgcomply, derived from one admin URL.
 *
 * DATABASE_URL names the database and a role allowed to create roles (a superuser in
 * development). Setup and migrations use it; the server, the worker and the migrator
 * connect as their own login roles on the same host and database, each with the
 * password DB_LOGIN_PASSWORD, unless SERVER_DATABASE_URL / WORKER_DATABASE_URL say otherwise.
 */
export const LOGIN_ROLES = {
  migrator: 'pgcomply_migrator',
  server: 'pgcomply_server',
  worker: 'pgcomply_worker',
} as const;

export type LoginRole = keyof typeof LOGIN_ROLES;

export const DEVELOPMENT_LOGIN_PASSWORD = 'pgcomply-development-only';

export function parseDatabaseUrl(raw: string, name = 'DATABASE_URL'): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`${name} is not a valid URL; expected postgres://user:password@host:5432/database`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new Error(`${name} must start with postgres:// (got ${url.protocol}//)`);
  }
  if (!url.hostname) throw new Error(`${name} has no host; expected postgres://user:password@host:5432/database`);
  if (databaseName(url) === '') throw new Error(`${name} names no database; add /database to the URL`);
  return url;
}

export function databaseName(url: URL): string {
  return decodeURIComponent(url.pathname.replace(/^\//, ''));
}

export function withDatabase(url: URL, database: string): string {
  const copy = new URL(url.toString());
  copy.pathname = `/${encodeURIComponent(database)}`;
  return copy.toString();
}

export function loginRoleUrl(adminUrl: URL, role: LoginRole, password: string): string {
  const copy = new URL(adminUrl.toString());
  copy.username = LOGIN_ROLES[role];
  copy.password = encodeURIComponent(password);
  return copy.toString();
}
