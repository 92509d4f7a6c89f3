/**
 * Each test file gets its own database, copied from the migrated template, so files run
 * in parallel and start clean. Helpers run SQL as a given role with a given request context.
 */
import { randomBytes } from 'node:crypto';
import postgres, { type Sql, type TransactionSql } from 'postgres';
import { afterAll, beforeAll, expect, inject } from 'vitest';
import { type LoginRole, loginRoleUrl, parseDatabaseUrl, withDatabase } from '../../db/connection.js';
import { pepperParameters } from '../../db/pepper.js';
import { grantDatabase } from '../../db/setup.js';
import { copyCitusTemplate } from './citus.js';

export type GroupRole = 'compliance_owner' | 'compliance_app' | 'compliance_dpo' | 'compliance_worker' | 'compliance_auditor' | 'compliance_staff' | 'compliance_approver';

export interface RequestContext {
  actor: string | null;
  roles?: string[];
  ip?: string | null;
  userAgent?: string | null;
}

export interface TestDatabase {
  readonly name: string;
  /** superuser URL of this file's database */
  readonly adminUrl: string;
  /** superuser connection to this file's database */
  readonly admin: Sql;
  loginUrl(role: LoginRole): string;
  /** runs fn in one transaction as `role`, with the request context set when given */
  as<T>(role: GroupRole, context: RequestContext | null, fn: (tx: TransactionSql) => Promise<T>): Promise<T>;
}

/** every test session brings the run's tombstone pepper, as the server's sessions do */
export const quiet = { onnotice: () => undefined, connection: pepperParameters(inject('tombstonePepper')) } as const;

export async function copyTemplate(name: string): Promise<string> {
  const maintenance = inject('maintenanceUrl');
  const sql = postgres(maintenance, { ...quiet, max: 1 });
  try {
    // a template cannot be copied while another session copies it
    await sql`select pg_advisory_lock(hashtext('pgcomply.test-template'))`;
    const workers = inject('citusWorkerUrls');
    if (workers.length > 0) await copyCitusTemplate(name, [maintenance, ...workers]);
    else await sql.unsafe(`create database "${name}" template "${inject('templateDatabase')}"`);
    await sql`select pg_advisory_unlock(hashtext('pgcomply.test-template'))`;
  } finally {
    await sql.end();
  }
  const url = withDatabase(parseDatabaseUrl(maintenance), name);
  // database privileges are not copied with the template: grant them as setup does
  await grantDatabase(url);
  return url;
}

export async function setContext(tx: TransactionSql, context: RequestContext): Promise<void> {
  await tx`select compliance.set_request_context(${context.actor}, ${context.roles ?? []}::text[],
             ${context.ip ?? null}::inet, ${context.userAgent ?? null})`;
}

export function useTestDatabase(): TestDatabase {
  const name = `${inject('runPrefix')}_${randomBytes(4).toString('hex')}`;
  let adminUrl = '';
  let admin: Sql | undefined;

  beforeAll(async () => {
    adminUrl = await copyTemplate(name);
    admin = postgres(adminUrl, { ...quiet, max: 10 });
  });
  afterAll(async () => {
    await admin?.end({ timeout: 5 });
  });

  return {
    name,
    get adminUrl() {
      return adminUrl;
    },
    get admin() {
      if (!admin) throw new Error('the test database is created in beforeAll');
      return admin;
    },
    loginUrl(role) {
      return loginRoleUrl(parseDatabaseUrl(adminUrl), role, inject('loginPassword'));
    },
    async as(role, context, fn) {
      if (!admin) throw new Error('the test database is created in beforeAll');
      return admin.begin(async (tx) => {
        // not SET LOCAL ROLE, which Citus would repeat on the connections a routine's owner opens
        await tx`select set_config('role', ${role}, true)`;
        if (context) await setContext(tx, context);
        return fn(tx);
      }) as Promise<never>;
    },
  };
}

/** asserts that a promise fails with the given SQLSTATE */
export async function expectSqlState(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e as { code?: string; message?: string },
  );
  expect(error, `expected SQLSTATE ${code}, but the statement succeeded`).toBeDefined();
  expect(error?.code, error?.message).toBe(code);
}
