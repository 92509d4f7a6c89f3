/**
 * What each login and role can reach that it should not. Every test here failed
 * on the code before the fix it names.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { describe, expect, inject, it } from 'vitest';
import { pepperParameters } from '../../db/pepper.js';
import { adoptTombstonePepper } from '../../db/setup.js';
import { expectSqlState, quiet, setContext, useTestDatabase } from '../provision/database.js';

const db = useTestDatabase();
const alice = { actor: 'user:alice' };
const dpo = { actor: 'dpo:dana', roles: ['dpo'] };

async function subject(userId: string) {
  await db.as('compliance_app', { actor: userId }, (tx) => tx`select compliance.ensure_profile(${userId})`);
}

async function erase(userId: string) {
  await subject(userId);
  await db.as('compliance_dpo', dpo, (tx) => tx`select compliance.erase_subject(${userId}, 'test', true)`);
}

/** one transaction on `sql` as `role`, acting as `actor` */
function inSession<T>(sql: postgres.Sql, role: string, actor: { actor: string; roles?: string[] } | null, fn: (tx: postgres.TransactionSql) => Promise<T>) {
  return sql.begin(async (tx) => {
    await tx.unsafe(`set local role ${role}`);
    if (actor) await setContext(tx, actor);
    return fn(tx);
  }) as Promise<T>;
}

/** a profile may not be created again for an erased id: the answer the session gets */
const recreate = (sql: postgres.Sql, userId: string) =>
  inSession(sql, 'compliance_app', { actor: userId }, (tx) => tx`select compliance.ensure_profile(${userId})`);

/** a connection as one of pgcomply's logins, with the run's tombstone pepper */
async function asLogin<T>(login: 'server' | 'worker', fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(db.loginUrl(login), { ...quiet, max: 1 });
  try {
    return await fn(sql);
  } finally {
    await sql.end();
  }
}

describe('no login can plant code that a request runs', () => {
  it('refuses the worker a schema named after the request role, and objects in public and pg_temp', async () => {
    await asLogin('worker', async (sql) => {
      await expectSqlState(sql`create schema compliance_app`, '42501');
      await expectSqlState(sql.unsafe(`create function public.array_to_string(text[], text) returns text language sql as $$ select 'x' $$`), '42501');
      await expectSqlState(sql.unsafe(`create function pg_temp.array_to_string(text[], text) returns text language sql as $$ select 'x' $$`), '42501');
      await expectSqlState(sql`create temporary table shadow (x int)`, '42501');
    });
  });

  it('gives no login CREATE on the database or on public, and every login a fixed search_path', async () => {
    const rows = await db.admin`
      select r.rolname,
             has_database_privilege(r.oid, current_database(), 'CREATE') as create_database,
             has_schema_privilege(r.oid, 'public', 'CREATE') as create_public,
             has_database_privilege(r.oid, current_database(), 'TEMPORARY') as temporary
        from pg_roles r where r.rolcanlogin and r.rolname like 'pgcomply\\_%' order by r.rolname`;
    expect(rows).toEqual(['pgcomply_migrator', 'pgcomply_server', 'pgcomply_worker'].map((rolname) => ({
      rolname, create_database: false, create_public: false, temporary: rolname === 'pgcomply_migrator' })));
    for (const login of ['server', 'worker'] as const) {
      const [path] = await asLogin(login, (sql) => sql`select current_setting('search_path') as value`);
      expect(path!.value, login).toBe('pg_catalog, pg_temp');
    }
  });

  it('keeps set_request_context and the policies on the built-ins even when a schema named after the role holds look-alikes', async () => {
    // as if the attack of the review had been planted by someone who could still create schemas
    await db.admin.unsafe(`
      create schema compliance_app;
      create function compliance_app.array_to_string(text[], text) returns text language plpgsql as $$
        begin perform set_config('role', 'compliance_dpo', true); perform set_config('hijack.ran', 'yes', true); return ''; end $$;
      create function compliance_app.nullif(text, text) returns text language sql as $$ select 'user:bob' $$;
      grant usage on schema compliance_app to compliance_app;
      grant execute on all functions in schema compliance_app to compliance_app;`);
    try {
      await subject('user:bob');
      await subject('user:alice');
      await asLogin('server', (sql) => sql.begin(async (tx) => {
        // the default search_path that let the review's attack in
        await tx`set local search_path to "$user", public`;
        await tx`set local role compliance_app`;
        await tx`select compliance.set_request_context('user:alice', array['x','y'])`;
        const [state] = await tx`select current_user as role, current_setting('hijack.ran', true) as ran,
                                        compliance.current_subject() as subject`;
        expect(state).toEqual({ role: 'compliance_app', ran: null, subject: 'user:alice' });
        const seen = await tx`select user_id from compliance.user_profiles`;
        expect(seen.map((r) => r.user_id)).toEqual(['user:alice']);
      }));
    } finally {
      await db.admin.unsafe('drop schema compliance_app cascade');
    }
  });
});

describe('retention takes no clock from its caller', () => {
  it('has no now parameter for the worker or the DPO, and only the owner can move its clock', async () => {
    for (const [role, context] of [['compliance_worker', null], ['compliance_dpo', dpo]] as const) {
      await expectSqlState(db.as(role, context, (tx) => tx`select compliance.apply_retention('audit_logs', now => '2100-01-01')`), '42883');
      await expectSqlState(db.as(role, context, (tx) => tx`select compliance.apply_retention('conversations', 100, false, '2100-01-01'::timestamptz)`), '42883');
      await expectSqlState(db.as(role, context, (tx) => tx`insert into compliance_private.clock_override (frozen_at) values ('2100-01-01')`), '42501');
    }
    await db.as('compliance_owner', null, (tx) => tx`insert into compliance_private.clock_override (frozen_at) values ('2100-01-01')`);
    await db.as('compliance_owner', null, (tx) => tx`delete from compliance_private.clock_override`);
    const moves = await db.admin`select details ->> 'operation' as operation from compliance.audit_logs where action = 'retention.clock_overridden' order by id`;
    expect(moves.map((m) => m.operation)).toEqual(['insert', 'delete']);
  });

  it('keeps the current audit partition through any number of runs, and the DPO cannot shorten the audit period below six years', async () => {
    await db.admin`select compliance.log_event('system.probe', 'system')`;
    await db.admin`select compliance.seal_audit_log()`;
    for (let i = 0; i < 2; i += 1) {
      const [run] = await db.as('compliance_worker', null, (tx) => tx`select compliance.apply_retention('audit_logs') as r`);
      expect(run!.r.partitions).toEqual([]);
      await db.admin`select compliance.seal_audit_log()`;
    }
    const [probe] = await db.admin`select count(*)::int as n from compliance.audit_logs where action = 'system.probe'`;
    expect(probe!.n).toBe(1);
    await expectSqlState(db.as('compliance_dpo', dpo, (tx) => tx`update compliance.retention_policies set retention_period = interval '1 day' where category = 'audit_logs'`), '23514');
  });
});

describe('the app role learns nothing about other subjects', () => {
  it('cannot ask whether another subject is under hold or erased, nor compute a tombstone hash', async () => {
    await subject('user:alice');
    await erase('user:erased-bob');
    await subject('user:held-carol');
    await db.as('compliance_dpo', dpo, (tx) => tx`select compliance.place_legal_hold('user:held-carol', 'litigation')`);
    const app = <T>(fn: (tx: postgres.TransactionSql) => Promise<T>) => db.as('compliance_app', alice, fn);
    await expectSqlState(app((tx) => tx`select compliance.is_under_legal_hold('user:held-carol')`), '42501');
    await expectSqlState(app((tx) => tx`select compliance_private.is_erased('user:erased-bob')`), '42501');
    await expectSqlState(app((tx) => tx`select compliance_private.subject_digest('user:erased-bob')`), '42501');
    await expectSqlState(db.as('compliance_dpo', dpo, (tx) => tx`select compliance_private.subject_digest('user:erased-bob')`), '42501');
    // refuse_erased answers the same for an erased id as for one that never existed
    await app((tx) => tx`select compliance_private.refuse_erased('user:erased-bob')`);
    await expectSqlState(app((tx) => tx`select compliance.update_profile('user:erased-bob', '{"full_name":"x"}')`), 'UNKSJ');
    await expectSqlState(app((tx) => tx`select compliance.update_profile('user:never-was', '{"full_name":"x"}')`), 'UNKSJ');
    await expectSqlState(app((tx) => tx`select compliance.ensure_profile('user:erased-bob')`), '42501');
    await expectSqlState(app((tx) => tx`select compliance.ensure_profile('user:never-was')`), '42501');
    // its own erasure it still learns, and the DPO still learns any
    await expectSqlState(db.as('compliance_app', { actor: 'user:erased-bob' }, (tx) => tx`select compliance.ensure_profile('user:erased-bob')`), 'ERASD');
    await expectSqlState(db.as('compliance_dpo', dpo, (tx) => tx`select compliance.export_subject('user:erased-bob')`), 'ERASD');
  });

  it('lets the app role log events only about its own subject (OTHSJ)', async () => {
    await subject('user:alice');
    await subject('user:victim');
    await expectSqlState(db.as('compliance_app', alice, (tx) => tx`select compliance.log_event('note.written', 'gdpr', subject_id => 'user:victim')`), 'OTHSJ');
    await db.as('compliance_app', alice, (tx) => tx`select compliance.log_event('note.written', 'gdpr', subject_id => 'user:alice')`);
    await db.as('compliance_dpo', dpo, (tx) => tx`select compliance.log_event('note.reviewed', 'gdpr', subject_id => 'user:victim')`);
    const [doc] = await db.as('compliance_dpo', dpo, (tx) => tx`select compliance.export_subject('user:victim') as d`);
    const actions = (doc!.d.audit_trail as { action: string }[]).map((a) => a.action);
    expect(actions).toContain('note.reviewed');
    expect(actions).not.toContain('note.written');
  });
});

describe('the tombstone pepper lives outside the database', () => {
  const pepper = inject('tombstonePepper');

  it('keeps no pepper in any table, only a check value that does not reveal it', async () => {
    await erase('user:gone');
    const tables = await db.admin`select format('%I.%I', n.nspname, c.relname) as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
                                   where c.relkind in ('r', 'p') and n.nspname in ('compliance', 'compliance_private')`;
    for (const table of tables) {
      const [row] = await db.admin.unsafe(`select coalesce(string_agg(t::text, ' '), '') as text from ${table.name} t`);
      expect(row!.text, table.name).not.toContain(pepper);
      expect(row!.text, table.name).not.toContain(`\\x${pepper}`);
    }
    const [legacy] = await db.admin`select count(*)::int as n from compliance_private.settings where key = 'subject_pepper'`;
    expect(legacy!.n).toBe(0);
  });

  it('refuses erasure and the erased-subject check (PEPPR) to a session without the pepper or with a wrong one, changing nothing', async () => {
    await erase('user:tombstoned');
    await subject('user:stays');
    for (const connection of [{}, pepperParameters(randomBytes(32).toString('hex')), pepperParameters(`${pepper},${pepper}`)]) {
      const sql = postgres(db.adminUrl, { onnotice: () => undefined, max: 1, connection });
      try {
        await expectSqlState(inSession(sql, 'compliance_dpo', dpo, (tx) => tx`select compliance.erase_subject('user:stays', 'test', true)`), 'PEPPR');
        await expectSqlState(recreate(sql, 'user:tombstoned'), 'PEPPR');
      } finally {
        await sql.end();
      }
    }
    const [stays] = await db.admin`select count(*)::int as n from compliance.user_profiles where user_id = 'user:stays'`;
    expect(stays!.n).toBe(1);
  });

  it('rotates: every tombstone is hashed under one more pepper and still recognised with the longer keyring', async () => {
    await erase('user:rotated');
    const next = randomBytes(32).toString('hex');
    const rotator = postgres(db.adminUrl, { onnotice: () => undefined, max: 1, connection: pepperParameters(`${pepper},${next}`) });
    try {
      const [result] = await inSession(rotator, 'compliance_owner', null, (tx) => tx`select compliance_private.rotate_tombstone_pepper() as r`);
      expect(result!.r.peppers).toBe(2);
      expect(result!.r.tombstones_rehashed).toBeGreaterThan(0);
      await expectSqlState(recreate(rotator, 'user:rotated'), 'ERASD');
    } finally {
      await rotator.end();
    }
    // the old keyring alone no longer fits
    await expectSqlState(db.as('compliance_app', { actor: 'user:rotated' }, (tx) => tx`select compliance.ensure_profile('user:rotated')`), 'PEPPR');
  });
});

describe('a database that still keeps its pepper inside, after an upgrade', () => {
  it('exports that pepper to the pepper file at setup, removes it from the database, and keeps its tombstones valid', async () => {
    // the state an older pgcomply left: the pepper in settings, tombstones made with it, no check values
    const legacy = randomBytes(32);
    await db.admin`delete from compliance_private.tombstone_peppers`;
    await db.admin`delete from compliance_private.erased_subjects`;
    await db.admin`insert into compliance_private.settings (key, value) values ('subject_pepper', ${legacy})`;
    await db.admin`insert into compliance_private.erased_subjects (subject_digest)
                   values (sha256(${legacy}::bytea || convert_to('user:erased-long-ago', 'UTF8')))`;
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'pgcomply-pepper-')), 'tombstone-pepper');
    expect(existsSync(file)).toBe(false);

    const keyring = await adoptTombstonePepper(db.adminUrl, inject('loginPassword'), { file, create: true });
    expect(keyring).toBe(legacy.toString('hex'));
    expect(readFileSync(file, 'utf8').trim()).toBe(legacy.toString('hex'));
    const [left] = await db.admin`select count(*)::int as n from compliance_private.settings where key = 'subject_pepper'`;
    expect(left!.n).toBe(0);

    const sql = postgres(db.adminUrl, { onnotice: () => undefined, max: 1, connection: pepperParameters(keyring) });
    try {
      await expectSqlState(recreate(sql, 'user:erased-long-ago'), 'ERASD');
    } finally {
      await sql.end();
    }
    // a different pepper than the one those tombstones need is refused
    await db.admin`delete from compliance_private.tombstone_peppers`;
    await db.admin`insert into compliance_private.settings (key, value) values ('subject_pepper', ${legacy})`;
    await expect(adoptTombstonePepper(db.adminUrl, inject('loginPassword'), { keyring: randomBytes(32).toString('hex') }))
      .rejects.toMatchObject({ code: 'PEPPR' });
  });
});
