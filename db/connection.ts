/**
 * Connection strings for each part of pgcomply, derived from one admin URL.
 *
 * DATABASE_URL names the database and a role allowed to create roles (a superuser in
 * development). Setup and migrations use it; the server, the worker and the migrator
 * connect as their own login roles on the same host and database, each with the
 * password DB_LOGIN_PASSWORD, unless SERVER_DATABASE_URL / WORKER_DATABASE_URL say otherwise.
 */
import { endpointsOf, joinHosts, splitHosts } from './hosts.js';

export const LOGIN_ROLES = {
  migrator: 'pgcomply_migrator',
  server: 'pgcomply_server',
  worker: 'pgcomply_worker',
} as const;

export type LoginRole = keyof typeof LOGIN_ROLES;

/** a name quoted as an SQL identifier, for statements that take no parameters (ALTER DATABASE, GRANT) */
export const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;

export const DEVELOPMENT_LOGIN_PASSWORD = 'pgcomply-development-only';

/** a database URL; a multi-host one (db/hosts.ts) keeps its host list beside the first host's URL */
export type DatabaseUrl = URL & { readonly hostList?: string | null };

export function parseDatabaseUrl(raw: string, name = 'DATABASE_URL'): DatabaseUrl {
  let url: URL;
  const { single, hosts } = splitHosts(raw);
  try {
    url = new URL(single);
    if (hosts) endpointsOf(hosts);
  } catch {
    throw new Error(`${name} is not a valid URL; expected postgres://user:password@host:5432/database`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new Error(`${name} must start with postgres:// (got ${url.protocol}//)`);
  }
  if (!url.hostname) throw new Error(`${name} has no host; expected postgres://user:password@host:5432/database`);
  if (databaseName(url) === '') throw new Error(`${name} names no database; add /database to the URL`);
  return Object.assign(url, { hostList: hosts });
}

export function databaseName(url: URL): string {
  return decodeURIComponent(url.pathname.replace(/^\//, ''));
}

export function withDatabase(url: DatabaseUrl, database: string): string {
  const copy = new URL(url.toString());
  copy.pathname = `/${encodeURIComponent(database)}`;
  return joinHosts(copy.toString(), url.hostList ?? null);
}

export function loginRoleUrl(adminUrl: DatabaseUrl, role: LoginRole, password: string): string {
  const copy = new URL(adminUrl.toString());
  copy.username = LOGIN_ROLES[role];
  copy.password = encodeURIComponent(password);
  return joinHosts(copy.toString(), adminUrl.hostList ?? null);
}
