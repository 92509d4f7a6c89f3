/**
 * Point-in-time recovery with pgBackRest, on a PostgreSQL 15 cluster of this machine's binaries
 * with continuous WAL archiving as `pgcomply backup setup` configures it (an encrypted local
 * repository). A full backup is taken; rows are written, a subject erased, more rows written and
 * another subject erased; the cluster is restored to an instant between the two writes. Every row
 * written before that instant is there, none after; the erasure after it is replayed from the
 * erasure journal, so both erased subjects stay erased; the audit chain verifies. Restore drills
 * do the same into a scratch cluster and record it; a damaged repository file fails one, named.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANCHOR_FILE, readAnchors, toAnchorKey } from '../../core/anchors/anchors.js';
import { publishAnchorWith } from '../../core/anchors/publish.js';
import { restoreDrill } from '../../core/backups/restore-drill.js';
import { takeBackup } from '../../core/backups/take-backup.js';
import { takeInventory } from '../../core/backups/inventory.js';
import { freePort } from '../../db/embedded.js';
import { MachineCluster, ownedDirectory } from '../../db/machine-cluster.js';
import { until } from '../provision/until.js';
import { type ArchivedCluster, archivedCluster, asDpo, subject } from './archived-cluster.js';

const work = ownedDirectory(mkdtempSync(path.join(os.tmpdir(), 'pgcomply-pitr-')));
let archived: ArchivedCluster;
let primary: MachineCluster;
let restored: MachineCluster | undefined;
let sql: Sql;

const pgbackrest = (...args: string[]) => archived.pgbackrest(...args);
const connect = (cluster: MachineCluster) => archived.connect(cluster);

beforeAll(async () => {
  archived = await archivedCluster(work, { type: 'posix', path: ownedDirectory(path.join(work, 'repo')) });
  primary = archived.primary;
  sql = connect(primary);
}, 300_000);

afterAll(async () => {
  await sql?.end({ timeout: 5 });
  restored?.stop('immediate');
  primary?.stop('immediate');
  if (!process.env.KEEP_HARNESS) rmSync(work, { recursive: true, force: true });
});

/** the wal_archive_lag check as the daily run computes it */
async function walArchiveLag(db: Sql) {
  const [row] = await asDpo(db, (tx) => tx`select status, measured, detail from compliance.run_compliance_checks('demand') where check_name = 'wal_archive_lag'`);
  return row as { status: string; measured: { archive_failing: boolean; lag_seconds: number; failed_count: number }; detail: string };
}

describe('the recovery point (wal_archive_lag)', () => {
  it('passes while WAL reaches the archive, fails while archive_command fails, and passes again once it is fixed', async () => {
    expect(await walArchiveLag(sql)).toMatchObject({ status: 'pass', measured: { archive_failing: false } });
    await sql`alter system set archive_command = 'false'`;
    await sql`select pg_reload_conf()`;
    const failures = (await sql`select failed_count from pg_stat_archiver`)[0]!.failed_count as number;
    await subject(sql, 'user:while-broken');
    await sql`select pg_switch_wal()`;
    await until(async () => ((await sql`select failed_count from pg_stat_archiver`)[0]!.failed_count > failures ? true : undefined), 120_000, 'archive_command to fail');
    const failing = await walArchiveLag(sql);
    expect(failing).toMatchObject({ status: 'fail', measured: { archive_failing: true } });
    expect(failing.detail).toMatch(/^archive_command is failing/);
    // fixed: the server archives what waited, and the check passes again
    await sql`alter system reset archive_command`;
    await sql`select pg_reload_conf()`;
    await until(async () => {
      const [a] = await sql`select last_archived_time > coalesce(last_failed_time, '-infinity') as caught_up from pg_stat_archiver`;
      return a!.caught_up ? true : undefined;
    }, 120_000, 'the archive to catch up');
    expect(await walArchiveLag(sql)).toMatchObject({ status: 'pass', measured: { archive_failing: false } });
  });
});

describe('backups the worker takes', () => {
  it('never runs two at once: a second backup steps aside while the first holds the lock; each is recorded, a failure alerts', async () => {
    const tool = archived.tool;
    const clients = [new pg.Client({ connectionString: primary.url('pgcomply') }), new pg.Client({ connectionString: primary.url('pgcomply') })];
    await Promise.all(clients.map((c) => c.connect()));
    try {
      const first = takeBackup(clients[0]!, tool, 'full');
      await until(async () => ((await sql`select count(*)::int as n from pg_locks where locktype = 'advisory' and granted`)[0]!.n > 0 ? true : undefined),
        60_000, 'the first backup to hold the lock');
      expect(await takeBackup(clients[1]!, tool, 'diff')).toEqual({ taken: false, reason: 'another_backup_running' });
      const taken = await first;
      expect(taken).toMatchObject({ taken: true, label: expect.stringMatching(/^\d{8}-\d{6}F$/) });
      const [row] = await sql`select action, resource_id, details from compliance.audit_logs where id = ${(taken as { auditRowId: string }).auditRowId}`;
      expect(row).toMatchObject({ action: 'backup.taken', resource_id: (taken as { label: string }).label,
        details: { tool: 'pgbackrest', type: 'full', written_by: 'compliance.record_backup' } });
      expect(Number(row!.details.size_bytes)).toBeGreaterThan(1_000_000);
      expect(row!.details.wal_start).toMatch(/^[0-9A-F]{24}$/);
      // backup_age counts it
      const [age] = await asDpo(sql, (tx) => tx`select status, measured from compliance.run_compliance_checks('demand') where check_name = 'backup_age'`);
      expect(age).toMatchObject({ status: 'pass', measured: { pgbackrest_label: (taken as { label: string }).label } });
      // a backup that fails is recorded and raises an alert
      const failed = await takeBackup(clients[1]!, { ...tool, stanza: 'no_such_stanza' }, 'diff');
      expect(failed).toMatchObject({ taken: false, reason: 'failed' });
      const [alert] = await sql`select topic from compliance.alert_outbox where topic = 'backup.failed'`;
      expect(alert).toBeDefined();
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });
});

describe('point-in-time recovery with pgBackRest', () => {
  it('restores to an instant between two writes, replays the later erasure from the journal, and the chain verifies', async () => {
    pgbackrest('--type=full', 'backup');
    const info = JSON.parse(pgbackrest('--output=json', 'info'))[0];
    const newest = info.backup.at(-1);
    expect(newest).toMatchObject({ type: 'full' });

    // before the target: ana, cem and dan written, cem erased
    for (const id of ['user:ana', 'user:cem', 'user:dan']) await subject(sql, id);
    await asDpo(sql, (tx) => tx`select compliance.erase_subject('user:cem', 'asked', true)`);
    // the instant to the microsecond, as text: a JavaScript Date keeps milliseconds, and a commit in
    // the same millisecond would fall after a target cut short
    const [before] = await sql`select to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00' as at`;
    const target = before!.at as string;
    // after the target: ben written, dan erased
    await subject(sql, 'user:ben');
    await asDpo(sql, (tx) => tx`select compliance.erase_subject('user:dan', 'asked', true)`);
    // the erasure journal an anchor carries outside the database
    const journal = await sql`select subject_digest, erased_at from compliance.erasure_journal('-infinity')`;
    expect(journal).toHaveLength(2);
    await sql`select pg_switch_wal()`;
    pgbackrest('check');
    await sql.end({ timeout: 5 });
    primary.stop('fast');

    restored = new MachineCluster(path.join(work, 'restored'), await freePort(), primary.socketDir);
    ownedDirectory(restored.dataDir);
    // the backup named: pgBackRest picks one by its stop time in whole seconds, and this run is faster than that
    pgbackrest(`--pg1-path=${restored.dataDir}`, `--set=${newest.label}`, '--type=time', `--target=${target}`, '--target-action=promote', 'restore');
    restored.configure({ archive_mode: 'off' });
    restored.start();
    const db = connect(restored);
    try {
      // pg_ctl returns once read-only connections are taken; recovery goes on until the target, then promotes
      await until(async () => ((await db`select pg_is_in_recovery() as r`)[0]!.r ? undefined : true), 300_000, 'recovery to reach the target and promote');
      const profiles = async () => (await db`select user_id from compliance.user_profiles order by user_id`).map((r) => r.user_id as string);
      // written before the instant: there (cem's erasure too, and the row written while archiving was broken);
      // after it: not. dan's erasure came after: he is back
      expect(await profiles()).toEqual(['user:ana', 'user:dan', 'user:while-broken']);
      // the journal erases him again
      const replayed = await asDpo(db, (tx) => tx`select * from compliance.replay_erasures(${JSON.stringify(journal.map((j) => ({
        subject_digest: j.subject_digest, erased_at: (j.erased_at as Date).toISOString() })))}::text::jsonb, 'replayed after the PITR drill')`);
      expect(replayed.map((r) => r.outcome).sort()).toEqual(['already_erased', 'erased']);
      expect(await profiles()).toEqual(['user:ana', 'user:while-broken']);
      await db`select compliance.seal_audit_log()`;
      const [verdict] = await db`select ok, problems from compliance.verify_audit_log()`;
      expect(verdict!.problems).toEqual([]);
      expect(verdict!.ok).toBe(true);
    } finally {
      await db.end({ timeout: 5 });
    }
  });
});

describe('what pgBackRest says, recorded before the daily checks', () => {
  it('records every backup pgbackrest info lists once, and fails wal_archive_lag while pgbackrest check fails', async () => {
    if (!primary.running()) primary.start();
    const db = connect(primary);
    const client = new pg.Client({ connectionString: primary.url('pgcomply') });
    await client.connect();
    try {
      // taken by hand, outside the worker: the inventory finds it
      pgbackrest('--type=diff', 'backup');
      const listed = JSON.parse(pgbackrest('--output=json', 'info'))[0].backup as { label: string }[];
      expect(await takeInventory(client, archived.tool)).toEqual({ backups_listed: listed.length, archive_check: { ok: true } });
      expect(await takeInventory(client, archived.tool)).toMatchObject({ archive_check: { ok: true } });
      const recorded = await db`select resource_id, count(*)::int as n from compliance.audit_logs
        where action = 'backup.taken' and details ->> 'written_by' = 'compliance.record_backup' group by resource_id`;
      expect(recorded.map((r) => r.resource_id).sort()).toEqual(listed.map((b) => b.label).sort());
      expect(recorded.every((r) => r.n === 1)).toBe(true);
      const [age] = await asDpo(db, (tx) => tx`select status, measured from compliance.run_compliance_checks('demand') where check_name = 'backup_age'`);
      expect(age).toMatchObject({ status: 'pass', measured: { pgbackrest_label: listed.at(-1)!.label } });

      // a repository pgBackRest cannot reach: its archive check fails, and so does wal_archive_lag
      const unreachable = await takeInventory(client, { ...archived.tool, stanza: 'no_such_stanza' });
      expect(unreachable.archive_check.ok).toBe(false);
      const lag = async () => (await asDpo(db, (tx) => tx`select status, measured, detail from compliance.run_compliance_checks('demand') where check_name = 'wal_archive_lag'`))[0]!;
      const failing = await lag();
      expect(failing).toMatchObject({ status: 'fail', measured: { archive_failing: false, pgbackrest_check: { ok: false } } });
      expect(failing.detail).toMatch(/^pgBackRest's archive check failed at .*: ERROR: \[\d+\]/);
      await takeInventory(client, archived.tool);
      expect(await lag()).toMatchObject({ status: 'pass', measured: { pgbackrest_check: { ok: true } } });
    } finally {
      await client.end();
      await db.end({ timeout: 5 });
    }
  });
});

describe('restore drills', () => {
  const anchors = { dir: path.join(work, 'anchors'), key: toAnchorKey(generateKeyPairSync('ed25519').privateKey) };
  const drillWork = ownedDirectory(path.join(work, 'drills'));
  let live: pg.Client;

  beforeAll(async () => {
    if (!primary.running()) primary.start();
    sql = connect(primary);
    live = new pg.Client({ connectionString: primary.url('pgcomply') });
    await live.connect();
  }, 180_000);
  afterAll(async () => {
    await live?.end();
    await sql?.end({ timeout: 5 });
    primary.stop('fast');
  });

  const drill = (target?: string) => restoreDrill(live, { tool: archived.tool, workDir: drillWork, target, keyring: archived.pepper,
    anchors: { key: anchors.key, log: readAnchors(path.join(anchors.dir, ANCHOR_FILE)) } });
  const restoreDrillCheck = async () => (await asDpo(sql, (tx) => tx`select status, measured, detail from compliance.run_compliance_checks('demand') where check_name = 'restore_drill'`))[0]!;

  it('restores a point in time into a scratch cluster, replays the later erasure, verifies chain and anchors, measures the RTO, records it, and removes the cluster', async () => {
    pgbackrest('--type=full', 'backup');
    for (const id of ['user:fay', 'user:gus']) await subject(sql, id);
    await sql`select compliance.seal_audit_log()`;
    const published = await publishAnchorWith(live, anchors);
    const [before] = await sql`select to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00' as at`;
    await asDpo(sql, (tx) => tx`select compliance.erase_subject('user:fay', 'asked', true)`);
    await sql`select pg_switch_wal()`;
    pgbackrest('check');

    const outcome = await drill(before!.at as string);
    // pgBackRest picks the newest backup that stopped before the instant, by its stop time in whole
    // seconds: here the one before it may be picked, and the WAL since then replayed
    const labels = JSON.parse(pgbackrest('--output=json', 'info'))[0].backup.map((b: { label: string }) => b.label);
    expect(outcome).toMatchObject({ drilled: true, ok: true, problems: [], target: before!.at });
    if (!outcome.drilled) return;
    expect(labels).toContain(outcome.label);
    // fay was erased after the instant: the journal erased her again; cem and dan were already erased in the backup
    expect(outcome.erasures).toMatchObject({ erased: 1, held: 0 });
    expect(outcome.erasures.already_erased).toBeGreaterThanOrEqual(2);
    expect(outcome.restored_seal_no).toBe(Number(published!.anchor.seal_no));
    expect(outcome.rows_checked).toBeGreaterThan(0);
    expect(outcome.rto_seconds).toBeGreaterThan(0);
    console.info(`restore drill to a point in time: ${outcome.rto_seconds.toFixed(1)} s restore through verification (RTO 4 h)`);
    expect(readdirSync(drillWork)).toEqual([]);
    const [row] = await sql`select action, outcome, details from compliance.audit_logs where id = ${outcome.recorded_as}`;
    expect(row).toMatchObject({ action: 'backup.drill', outcome: 'success', details: { written_by: 'compliance.record_restore_drill', label: outcome.label } });
    expect(await restoreDrillCheck()).toMatchObject({ status: 'pass', measured: { label: outcome.label } });
  });

  it('restores the newest state the archive holds by default', async () => {
    const outcome = await drill();
    expect(outcome).toMatchObject({ drilled: true, ok: true, problems: [], target: 'newest' });
    if (!outcome.drilled) return;
    expect(outcome.erasures.erased).toBe(0);
    expect(outcome.erasures.already_erased).toBeGreaterThanOrEqual(3);
  });

  it('fails on a corrupted repository file and names it; the check fails and the drill alerts', async () => {
    const label = JSON.parse(pgbackrest('--output=json', 'info'))[0].backup.at(-1).label as string;
    const base = path.join((archived.setup.repository as { path: string }).path, 'backup', archived.setup.stanza);
    const files = readdirSync(path.join(base, label, 'pg_data', 'base'), { recursive: true, withFileTypes: true })
      .filter((f) => f.isFile()).map((f) => path.join(f.parentPath, f.name));
    const victim = files.map((f) => ({ f, size: statSync(f).size })).sort((a, b) => b.size - a.size)[0]!.f;
    const original = readFileSync(victim);
    const damaged = Buffer.from(original);
    for (let i = damaged.length >> 1; i < (damaged.length >> 1) + 16; i += 1) damaged[i]! ^= 0xff;
    writeFileSync(victim, damaged);
    try {
      const outcome = await drill();
      expect(outcome).toMatchObject({ drilled: true, ok: false });
      if (!outcome.drilled) return;
      const named = `backup/${archived.setup.stanza}/${path.relative(base, victim)}`;
      expect(outcome.problems).toEqual([expect.objectContaining({ kind: 'repository_corrupt', file: named })]);
      expect(readdirSync(drillWork)).toEqual([]);
      const check = await restoreDrillCheck();
      expect(check.status).toBe('fail');
      expect(check.detail).toContain(named);
      const [alert] = await sql`select payload from compliance.alert_outbox where topic = 'backup.drill_failed' order by id desc limit 1`;
      expect(alert!.payload).toMatchObject({ audit_row_id: Number(outcome.recorded_as) });
    } finally {
      writeFileSync(victim, original);
    }
  });
});

describe('losing the primary\'s data directory', () => {
  it('restores every transaction up to the archived WAL, and the window lost stays within what wal_archive_lag measured and its threshold', async () => {
    if (!primary.running()) primary.start();
    const db = connect(primary);
    const written: { id: string; at: Date }[] = [];
    try {
      await db`create table public.loss_probe (id text primary key, at timestamptz not null default clock_timestamp())`;
      for (let i = 0; i < 200; i += 1) {
        const [row] = await db`insert into public.loss_probe (id) values (${`w${String(i).padStart(3, '0')}`}) returning id, at`;
        written.push(row as { id: string; at: Date });
        // part of the writes reach the archive: a segment switch halfway
        if (i === 100) await db`select pg_switch_wal()`;
      }
      const lag = await walArchiveLag(db);
      expect(lag.status).toBe('pass');
      const measuredLagSeconds = Number(lag.measured.lag_seconds);
      // the loss: the server dies and its data directory is gone, WAL not yet archived with it
      primary.stop('immediate');
      rmSync(primary.dataDir, { recursive: true, force: true });

      const recovered = new MachineCluster(path.join(work, 'recovered'), await freePort(), primary.socketDir);
      ownedDirectory(recovered.dataDir);
      pgbackrest(`--pg1-path=${recovered.dataDir}`, '--type=default', 'restore');
      recovered.configure({ archive_mode: 'off' });
      recovered.start();
      const back = connect(recovered);
      try {
        await until(async () => ((await back`select pg_is_in_recovery() as r`)[0]!.r ? undefined : true), 300_000, 'recovery to the end of the archive');
        const kept = (await back`select id, at from public.loss_probe order by id`) as unknown as { id: string; at: Date }[];
        // every transaction up to the archived WAL, in order, none missing in between
        expect(kept.length).toBeGreaterThanOrEqual(101);
        expect(kept.map((r) => r.id)).toEqual(written.slice(0, kept.length).map((r) => r.id));
        const lostSeconds = kept.length === written.length ? 0
          : (written.at(-1)!.at.getTime() - written[kept.length - 1]!.at.getTime()) / 1000;
        console.info(`lost on losing the data directory: ${written.length - kept.length} of ${written.length} writes, ${lostSeconds.toFixed(3)} s of work; `
          + `wal_archive_lag measured ${measuredLagSeconds} s; threshold 300 s; RPO 3600 s`);
        expect(lostSeconds).toBeLessThanOrEqual(measuredLagSeconds + 1);
        expect(lostSeconds).toBeLessThan(300);
      } finally {
        await back.end({ timeout: 5 });
        recovered.stop('immediate');
      }
    } finally {
      await db.end({ timeout: 1 }).catch(() => undefined);
    }
  });
});
