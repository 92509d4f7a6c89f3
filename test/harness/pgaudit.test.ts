/**
 * Database-level audit on a PostgreSQL 15 cluster that loads pgaudit (Debian's
 * postgresql-15-pgaudit): setup makes compliance_pgaudit the database's object-audit role, so a
 * superuser's SELECT on a personal table lands in the server log, while pgcomply's own server
 * login, whose statements are in its audit chain, leaves nothing there; a table registered later
 * is audited from its registration on; the database_audit check passes. The same check without pgaudit is not_applicable (the suite's own databases).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEVELOPMENT_LOGIN_PASSWORD, loginRoleUrl, parseDatabaseUrl } from '../../db/connection.js';
import { freePort } from '../../db/embedded.js';
import { MachineCluster, ownedDirectory } from '../../db/machine-cluster.js';
import { pepperParameters } from '../../db/pepper.js';
import { setupDatabase } from '../../db/setup.js';
import { quiet } from '../provision/database.js';
import { until } from '../provision/until.js';

const work = ownedDirectory(mkdtempSync(path.join(os.tmpdir(), 'pgcomply-pgaudit-')));
const pepper = randomBytes(32).toString('hex');
let cluster: MachineCluster;
let superuser: Sql;

const auditLines = () => readFileSync(cluster.logFile, 'utf8').split('\n').filter((line) => line.includes('AUDIT: OBJECT'));

beforeAll(async () => {
  cluster = new MachineCluster(path.join(work, 'data'), await freePort(), ownedDirectory(path.join(work, 'sockets')));
  cluster.init({ shared_preload_libraries: 'pgaudit' });
  cluster.start();
  await setupDatabase({ adminUrl: cluster.url('pgcomply'), loginPassword: DEVELOPMENT_LOGIN_PASSWORD, tombstonePepper: { keyring: pepper } });
  superuser = postgres(cluster.url('pgcomply'), { ...quiet, max: 1, connection: pepperParameters(pepper) });
}, 300_000);

afterAll(async () => {
  await superuser?.end({ timeout: 5 });
  cluster?.stop('immediate');
  rmSync(work, { recursive: true, force: true });
});

describe('pgaudit', () => {
  it('logs a superuser\'s SELECT on a personal table, and nothing of pgcomply\'s own server login', async () => {
    const server = postgres(loginRoleUrl(parseDatabaseUrl(cluster.url('pgcomply')), 'server', DEVELOPMENT_LOGIN_PASSWORD), { ...quiet, max: 1 });
    try {
      await server.begin(async (tx) => {
        await tx`set local role compliance_app`;
        await tx`select compliance.set_request_context('user:pga')`;
        await tx`select compliance.ensure_profile('user:pga', null, 'pga@example.org', null)`;
        await tx`select email from compliance.user_profiles where user_id = 'user:pga'`;
      });
    } finally {
      await server.end({ timeout: 5 });
    }
    expect(auditLines().filter((line) => line.includes('compliance.user_profiles'))).toEqual([]);

    const rows = await superuser`select user_id, email from compliance.user_profiles where user_id = 'user:pga'`;
    expect(rows).toHaveLength(1);
    const logged = await until(async () => {
      const lines = auditLines().filter((line) => line.includes('compliance.user_profiles') && line.includes('SELECT'));
      return lines.length > 0 ? lines : undefined;
    }, 30_000, 'the superuser\'s SELECT in the server log');
    expect(logged[0]).toMatch(/AUDIT: OBJECT,\d+,\d+,READ,SELECT,TABLE,compliance\.user_profiles,/);
  });

  it('passes the database_audit check, which names what a missing grant leaves unaudited', async () => {
    const [passing] = await superuser`select * from compliance_private.check_database_audit('{}')`;
    expect(passing).toMatchObject({ status: 'pass', measured: { pgaudit_loaded: true, pgaudit_role: 'compliance_pgaudit', tables_not_audited: [] } });
    await superuser`revoke select on compliance.user_profiles from compliance_pgaudit`;
    const [failing] = await superuser`select * from compliance_private.check_database_audit('{}')`;
    expect(failing!.status).toBe('fail');
    expect(failing!.detail).toContain('no statement on compliance.user_profiles is audited');
    await superuser`select compliance.grant_database_audit()`;
    const [again] = await superuser`select status from compliance_private.check_database_audit('{}')`;
    expect(again!.status).toBe('pass');
    const [privileges] = await superuser`select status, measured from compliance_private.check_privileges('{}')`;
    expect(privileges!.measured.unexpected_grants).toEqual([]);
  });

  it('audits a table registered afterwards from its registration on', async () => {
    await superuser`create schema shop`;
    await superuser`create table shop.newsletter_signups (id bigint generated always as identity primary key, user_id text not null, email text not null)`;
    await superuser`select compliance.register_personal_table('shop.newsletter_signups', 'user_id', '{"email": "contact"}')`;
    const [granted] = await superuser`select has_table_privilege('compliance_pgaudit', 'shop.newsletter_signups', 'SELECT') as audited`;
    expect(granted!.audited).toBe(true);
    await superuser`select count(*) from shop.newsletter_signups`;
    await until(async () => (auditLines().some((line) => line.includes('shop.newsletter_signups')) ? true : undefined), 30_000, 'the read of the registered table in the server log');
    const [check] = await superuser`select status from compliance_private.check_database_audit('{}')`;
    expect(check!.status).toBe('pass');
  });
});
