import postgres from 'postgres';
import { describe, expect, inject, it } from 'vitest';
import { parseDatabaseUrl, withDatabase } from '../../db/connection.js';
import { setupDatabase } from '../../db/setup.js';
import { expectSqlState, quiet, useTestDatabase } from '../provision/database.js';

const db = useTestDatabase();
const alice = { actor: 'user:alice' };
const bob = { actor: 'user:bob' };

const PERSONAL_TABLES = ['user_profiles', 'user_preferences', 'consent_records', 'conversations', 'messages', 'sessions', 'legal_holds', 'dsr_requests'];

async function seedSubject(actor: string) {
  return db.as('compliance_app', { actor, ip: '192.0.2.1', userAgent: 'vitest' }, async (tx) => {
    await tx`select compliance.ensure_profile(${actor}, ${actor.split(':')[1]!}, ${actor.split(':')[1] + '@example.org'}, 'Some Name')`;
    await tx`select compliance.set_preferences(${actor}, '{"theme":"dark"}')`;
    await tx`select compliance.record_consent(${actor}, 'analytics', true, 'v1')`;
    const [conversation] = await tx`select conversation_id from compliance.start_conversation(${actor}, 'first')`;
    await tx`select compliance.add_message(${conversation!.conversation_id}, 'user', 'hello')`;
    await tx`select compliance.touch_session(${actor}, gen_random_uuid())`;
    return conversation!.conversation_id as string;
  });
}

describe('row-level security between subjects', () => {
  it('shows subject A none of subject B\'s rows in any table', async () => {
    await seedSubject('user:alice');
    await seedSubject('user:bob');
    await db.admin`select compliance.place_legal_hold('user:bob', 'litigation')`;
    await db.admin`select compliance.register_dsr('user:bob', 'access')`;
    for (const table of PERSONAL_TABLES.filter((t) => t !== 'legal_holds')) {
      const rows = await db.as('compliance_app', alice, (tx) => tx.unsafe(`select user_id from compliance.${table}`));
      expect(rows.every((r) => r.user_id === 'user:alice'), table).toBe(true);
      const own = await db.as('compliance_app', bob, (tx) => tx.unsafe(`select count(*)::int as n from compliance.${table}`));
      expect(own[0]!.n, `${table} holds bob's rows`).toBeGreaterThan(0);
    }
    await db.admin`select compliance.release_legal_hold('user:bob')`;
  });

  it('refuses to write rows for another subject', async () => {
    const bobConversation = (await db.admin`select conversation_id from compliance.conversations where user_id = 'user:bob'`)[0]!.conversation_id;
    await expectSqlState(db.as('compliance_app', alice, (tx) => tx`insert into compliance.user_preferences (user_id) values ('user:bob')`), '42501');
    await expectSqlState(db.as('compliance_app', alice, (tx) => tx`insert into compliance.conversations (user_id, title) values ('user:bob', 'x')`), '42501');
    await expectSqlState(db.as('compliance_app', alice, (tx) => tx`insert into compliance.messages (conversation_id, user_id, role, content) values (${bobConversation}, 'user:bob', 'user', 'x')`), '42501');
    await expectSqlState(db.as('compliance_app', alice, (tx) => tx`insert into compliance.sessions (user_id) values ('user:bob')`), '42501');
    await expectSqlState(db.as('compliance_app', alice, (tx) => tx`insert into compliance.user_profiles (user_id) values ('user:mallory')`), '42501');
    await expectSqlState(db.as('compliance_app', alice, (tx) => tx`select compliance.record_consent('user:bob', 'marketing', true, 'v1')`), 'UNKSJ');
    await expectSqlState(db.as('compliance_app', alice, (tx) => tx`select compliance.add_message(${bobConversation}, 'user', 'x')`), 'NOCNV');
    // an UPDATE or DELETE reaches no row of bob's: they are invisible
    const updated = await db.as('compliance_app', alice, (tx) => tx`update compliance.user_profiles set full_name = 'hacked' where user_id = 'user:bob'`);
    expect(updated.count).toBe(0);
    const deleted = await db.as('compliance_app', alice, (tx) => tx`delete from compliance.conversations where user_id = 'user:bob'`);
    expect(deleted.count).toBe(0);
    const [bobProfile] = await db.admin`select full_name from compliance.user_profiles where user_id = 'user:bob'`;
    expect(bobProfile!.full_name).toBe('Some Name');
  });

  it('shows nothing when no request context is set', async () => {
    const rows = await db.as('compliance_app', null, (tx) => tx`select * from compliance.user_profiles`);
    expect(rows).toHaveLength(0);
  });

  it('gives the auditor no personal table and the DPO every subject', async () => {
    for (const table of PERSONAL_TABLES) {
      await expectSqlState(db.as('compliance_auditor', null, (tx) => tx.unsafe(`select * from compliance.${table}`)), '42501');
    }
    const rows = await db.as('compliance_dpo', { actor: 'dpo:carol', roles: ['dpo'] }, (tx) => tx`select distinct user_id from compliance.user_profiles order by 1`);
    expect(rows.map((r) => r.user_id)).toEqual(['user:alice', 'user:bob']);
  });
});

describe('what the server login can do', () => {
  it('cannot become the owner, create objects or read compliance_private', async () => {
    const server = postgres(db.loginUrl('server'), { ...quiet, max: 1 });
    try {
      await expectSqlState(server`set role compliance_owner`, '42501');
      await expectSqlState(server.begin((tx) => tx`set local role compliance_app; create table compliance.sneaky (x int)`.simple()), '42501');
      await expectSqlState(server.begin(async (tx) => { await tx`set local role compliance_app`; await tx`create table public.sneaky (x int)`; }), '42501');
      await expectSqlState(server.begin(async (tx) => { await tx`set local role compliance_app`; await tx`select * from compliance_private.settings`; }), '42501');
      await expectSqlState(server.begin(async (tx) => { await tx`set local role compliance_app`; await tx`select * from compliance_private.erased_subjects`; }), '42501');
      // NOINHERIT: without choosing a role the login holds nothing
      await expectSqlState(server`select * from compliance.user_profiles`, '42501');
      const [who] = await server`select rolsuper, rolbypassrls from pg_roles where rolname = current_user`;
      expect(who).toEqual({ rolsuper: false, rolbypassrls: false });
    } finally {
      await server.end();
    }
  });
});

describe('profiles', () => {
  it('cascades a profile deletion to every child table', async () => {
    await seedSubject('user:dave');
    await db.admin`select compliance.register_dsr('user:dave', 'access')`;
    await db.admin`insert into compliance.legal_holds (user_id, reason, released_at) values ('user:dave', 'old matter', now())`;
    await db.admin`delete from compliance.user_profiles where user_id = 'user:dave'`;
    for (const table of PERSONAL_TABLES) {
      const [row] = await db.admin.unsafe(`select count(*)::int as n from compliance.${table} where user_id = 'user:dave'`);
      expect(row!.n, table).toBe(0);
    }
  });

  it('refuses to delete a profile under an active legal hold (LHOLD)', async () => {
    await seedSubject('user:erin');
    await db.admin`select compliance.place_legal_hold('user:erin', 'litigation')`;
    await expectSqlState(db.admin`delete from compliance.user_profiles where user_id = 'user:erin'`, 'LHOLD');
  });

  it('moves updated_at on every update', async () => {
    const [before] = await db.admin`select updated_at from compliance.user_profiles where user_id = 'user:alice'`;
    const [after] = await db.as('compliance_app', alice, (tx) => tx`select updated_at from compliance.update_profile('user:alice', '{"full_name":"Alice Liddell"}')`);
    expect(after!.updated_at.getTime()).toBeGreaterThan(before!.updated_at.getTime());
    const [prefsBefore] = await db.admin`select updated_at from compliance.user_preferences where user_id = 'user:alice'`;
    const [prefsAfter] = await db.as('compliance_app', alice, (tx) => tx`select updated_at from compliance.set_preferences('user:alice', '{"lang":"en"}')`);
    expect(prefsAfter!.updated_at.getTime()).toBeGreaterThan(prefsBefore!.updated_at.getTime());
  });

  it('rejects unknown profile fields (BADFL)', async () => {
    await expectSqlState(db.as('compliance_app', alice, (tx) => tx`select compliance.update_profile('user:alice', '{"is_admin":true}')`), 'BADFL');
  });
});

describe('catalogue documentation', () => {
  it('has a comment on every table, partition, view, column, sequence and function of ours (extension members excepted)', async () => {
    // partitions made later (the worker's monthly ones) get theirs as they are made
    await db.admin`select compliance.ensure_audit_partitions(4, 0)`;
    const missing = await db.admin`
      select c.relname || coalesce('.' || a.attname, '') as object
        from pg_class c
        join pg_namespace n on n.oid = c.relnamespace
        left join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
                               and c.relkind in ('r', 'p', 'v') and not c.relispartition
       where n.nspname in ('compliance', 'compliance_private') and c.relkind in ('r', 'p', 'v', 'S')
         and not exists (select from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
         and (case when a.attname is null then obj_description(c.oid, 'pg_class') else col_description(c.oid, a.attnum) end) is null
      union all
      select p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace
       where n.nspname in ('compliance', 'compliance_private') and obj_description(p.oid, 'pg_proc') is null
         and not exists (select from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')`;
    expect(missing.map((m) => m.object)).toEqual([]);
  });

  it('pins search_path (pg_catalog first) on every function, or binds its names at creation (SQL-standard body)', async () => {
    const unpinned = await db.admin`
      select p.oid::regprocedure::text as function from pg_proc p join pg_namespace n on n.oid = p.pronamespace
       where n.nspname in ('compliance', 'compliance_private')
         and p.prosqlbody is null
         and not exists (select from unnest(p.proconfig) c where c like 'search_path=pg_catalog,%' or c = 'search_path=pg_catalog')
         and not exists (select from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')`;
    expect(unpinned.map((r) => r.function)).toEqual([]);
    const [counted] = await db.admin`select count(*)::int as n from pg_proc p
      where p.pronamespace = 'compliance'::regnamespace and p.prosqlbody is not null`;
    expect(counted!.n).toBeGreaterThan(3);
  });

  it('names every foreign key and check constraint for what it means, never PostgreSQL\'s <table>_<column>_fkey or _check', async () => {
    const defaults = await db.admin`
      select c.conrelid::regclass::text || '.' || c.conname as constraint from pg_constraint c
       where c.connamespace in ('compliance'::regnamespace, 'compliance_private'::regnamespace)
         and c.contype in ('f', 'c') and c.conname ~ '_(fkey|check)$'`;
    expect(defaults.map((r) => r.constraint)).toEqual([]);
  });
});

describe('a database that is not pgcomply\'s own', () => {
  it('stops the migration with a clear message when hstore lives in another schema', async () => {
    const name = `${inject('runPrefix')}_hstore_elsewhere`;
    const maintenance = postgres(inject('maintenanceUrl'), { ...quiet, max: 1 });
    await maintenance.unsafe(`create database "${name}"`);
    const url = withDatabase(parseDatabaseUrl(inject('maintenanceUrl')), name);
    try {
      const other = postgres(url, { ...quiet, max: 1 });
      await other`create extension hstore with schema public`;
      await other.end();
      await expect(setupDatabase({ adminUrl: url, loginPassword: inject('loginPassword'), tombstonePepper: { keyring: inject('tombstonePepper') } }))
        .rejects.toThrow(/hstore extension is installed in schema public/);
    } finally {
      await maintenance.unsafe(`drop database if exists "${name}" with (force)`);
      await maintenance.end();
    }
  });
});
