/**
 * Continuous compliance: each check fails when the real thing is broken and passes
 * when it is whole; what cannot be measured is not_applicable, never a pass; a run stores its
 * results, is audited, and raises one alert per failing check.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { anchorRecord, signAnchor, toAnchorKey, toAnchorState } from '../../core/anchors/anchors.js';
import postgres from 'postgres';
import { quiet, useTestDatabase } from '../provision/database.js';

const db = useTestDatabase();
const dpo = { actor: 'dpo:dana', roles: ['dpo'] };

interface Result { check_name: string; status: string; measured: Record<string, any>; detail: string; evidence: string; run_id: string }

async function run(requireTls = false, full = false): Promise<Map<string, Result>> {
  const rows = await db.as('compliance_dpo', dpo, (tx) => tx`select * from compliance.run_compliance_checks('demand', ${requireTls}, ${full})`);
  return new Map((rows as unknown as Result[]).map((r) => [r.check_name, r]));
}
const statusOf = async (name: string, requireTls = false) => (await run(requireTls)).get(name)!;
const seal = () => db.admin`select compliance.seal_audit_log()`;

describe('compliance checks', () => {
  it('verify the audit chain, and fail on a row deleted with the triggers off', async () => {
    await db.admin`select compliance.log_event('system.check_me', 'system')`;
    await seal();
    expect((await statusOf('audit_chain')).status).toBe('pass');
    await db.admin.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      await tx`delete from compliance.audit_logs where action = 'system.check_me'`;
    });
    const broken = await statusOf('audit_chain');
    expect(broken.status).toBe('fail');
    expect(broken.measured.problems).toBeGreaterThan(0);
  });

  it('measure the seal lag', async () => {
    await db.admin`update compliance.compliance_check_settings set seal_lag_seconds = 1`;
    await db.admin`select compliance.log_event('system.unsealed', 'system')`;
    await db.admin`select pg_sleep(1.2)`;
    expect((await statusOf('seal_lag')).status).toBe('fail');
    await seal();
    const whole = await statusOf('seal_lag');
    // the run's own audit rows are seconds old at most
    expect(whole.status).toBe('pass');
  });

  it('fail on rows kept past retention beyond the grace, and pass once retention ran', async () => {
    await db.as('compliance_app', { actor: 'user:old' }, async (tx) => {
      await tx`select compliance.ensure_profile('user:old')`;
      await tx`select compliance.start_conversation('user:old', 'stale')`;
    });
    expect((await statusOf('retention_backlog')).status).toBe('pass');
    await db.admin`update compliance.conversations set last_message_at = now() - interval '95 days' where user_id = 'user:old'`;
    const overdue = await statusOf('retention_backlog');
    expect(overdue).toMatchObject({ status: 'fail', measured: { overdue_rows: { conversations: 1 } } });
    await db.as('compliance_worker', null, (tx) => tx`select compliance.apply_retention('conversations')`);
    expect((await statusOf('retention_backlog')).status).toBe('pass');
  });

  it('fail on an overdue data subject request and an overdue emergency review', async () => {
    await db.as('compliance_app', { actor: 'user:asks' }, (tx) => tx`select compliance.ensure_profile('user:asks')`);
    const [request] = await db.as('compliance_dpo', dpo, (tx) => tx`select id from compliance.register_dsr('user:asks', 'objection')`);
    expect((await statusOf('overdue_requests')).status).toBe('pass');
    await db.admin`update compliance.dsr_requests set due_at = now() - interval '1 day' where id = ${request!.id}`;
    expect(await statusOf('overdue_requests')).toMatchObject({ status: 'fail', measured: { overdue_requests: 1 } });
    await db.as('compliance_dpo', dpo, (tx) => tx`select compliance.complete_dsr(${request!.id})`);
    expect((await statusOf('overdue_requests')).status).toBe('pass');
    // an erasure a cluster left for its second transaction, waiting more than an hour
    await db.admin`insert into compliance_private.erasures_finishing_elsewhere (placement, request_id, person, queued_at)
                   values ('', ${request!.id}, 'user:asks', now() - interval '61 minutes')`;
    expect(await statusOf('overdue_requests')).toMatchObject({ status: 'fail', measured: { overdue_requests: 0, erasures_unfinished_elsewhere: 1 } });
    await db.as('compliance_worker', null, (tx) => tx`select compliance.finish_erasure_elsewhere('', ${request!.id})`);
    expect((await statusOf('overdue_requests')).status).toBe('pass');

    const [grant] = await db.as('compliance_staff', { actor: 'staff:er', roles: ['staff'] },
      (tx) => tx`select id from compliance.break_glass('user:asks', 'collapsed at reception, needs history')`);
    expect((await statusOf('emergency_reviews')).status).toBe('pass');
    await db.admin`update compliance.access_grants set review_due_at = now() - interval '1 hour' where id = ${grant!.id}`;
    expect((await statusOf('emergency_reviews')).status).toBe('fail');
    await db.as('compliance_approver', { actor: 'approver:ada', roles: ['approver'] },
      (tx) => tx`select compliance.review_emergency_access(${grant!.id}, 'appropriate')`);
    expect((await statusOf('emergency_reviews')).status).toBe('pass');
  });

  it('report PHI findings since the last run, once', async () => {
    await run();
    await db.admin`select compliance_private.log_phi_access('phi.integrity_failure', null, 'patient_request', 'read', '{}', 'failure', 'integrity_code')`;
    expect(await statusOf('phi_findings')).toMatchObject({ status: 'fail', measured: { integrity_failures: 1 } });
    expect((await statusOf('phi_findings')).status).toBe('pass');
  });

  it('find a table with a user_id and no forced row-level security from the catalog', async () => {
    expect((await statusOf('row_level_security')).status).toBe('pass');
    await db.admin`alter table compliance.sessions no force row level security`;
    const broken = await statusOf('row_level_security');
    expect(broken).toMatchObject({ status: 'fail', measured: { tables_without_forced_rls: ['compliance.sessions'] } });
    await db.admin`alter table compliance.sessions force row level security`;
    await db.admin`create table compliance.new_personal (user_id text)`;
    expect((await statusOf('row_level_security')).measured.tables_without_forced_rls).toEqual(['compliance.new_personal']);
    await db.admin`drop table compliance.new_personal`;
    expect((await statusOf('row_level_security')).status).toBe('pass');
  });

  it('find a grant the migrations did not make, and a login acting as a pgcomply role', async () => {
    expect((await statusOf('privileges')).status).toBe('pass');
    await db.admin`grant select on compliance.user_profiles to compliance_auditor`;
    const granted = await statusOf('privileges');
    expect(granted.status).toBe('fail');
    expect(granted.measured.unexpected_grants).toContain('SELECT: compliance.user_profiles to compliance_auditor');
    await db.admin`revoke select on compliance.user_profiles from compliance_auditor`;
    expect((await statusOf('privileges')).status).toBe('pass');
    const login = `pgcomply_intruder_${randomBytes(3).toString('hex')}`;
    await db.admin.unsafe(`create role ${login} login in role compliance_dpo`);
    try {
      expect((await statusOf('privileges')).measured.unexpected_members).toContain(`${login} in compliance_dpo`);
    } finally {
      await db.admin.unsafe(`drop role ${login}`);
    }
  });

  it('check password hashing and, when TLS is required, every client connection', async () => {
    expect((await statusOf('password_encryption')).status).toBe('pass');
    const md5 = await db.admin.begin(async (tx) => {
      await tx`set local password_encryption = 'md5'`;
      await tx`set local role compliance_dpo`;
      await tx`select compliance.set_request_context('dpo:dana', '{dpo}')`;
      const rows = await tx`select status from compliance.run_compliance_checks('demand') where check_name = 'password_encryption'`;
      return rows[0]!.status;
    });
    expect(md5).toBe('fail');
    expect((await statusOf('client_tls')).status).toBe('not_applicable');
    // a client without TLS: with REQUIRE_TLS that is a failure, counted
    const plain = postgres(db.adminUrl, { ...quiet, ssl: false, max: 1 });
    try {
      await plain`select 1`;
      const found = await statusOf('client_tls', true);
      expect(found.status).toBe('fail');
      expect(found.measured.plain_connections).toBeGreaterThanOrEqual(1);
    } finally {
      await plain.end();
    }
  });

  it('measure the master key\'s age, and say not_applicable for backups, what lies outside and a database without pgaudit', async () => {
    expect((await statusOf('master_key_age')).status).toBe('not_applicable');
    await db.as('compliance_app', { actor: 'user:keyed' }, (tx) => tx`select compliance.ensure_profile('user:keyed')`);
    await db.admin`insert into compliance_private.subject_keys (user_id, wrapped_key, kek_version, created_at) values ('user:keyed', ${randomBytes(60)}, 1, now() - interval '400 days')`;
    expect(await statusOf('master_key_age')).toMatchObject({ status: 'fail', measured: { kek_version: 1 } });
    await db.admin`update compliance_private.subject_keys set kek_version = 2, rewrapped_at = now() where user_id = 'user:keyed'`;
    expect((await statusOf('master_key_age')).status).toBe('pass');
    const results = await run();
    expect(results.get('backup_age')!.status).toBe('not_applicable');
    expect(results.get('outside_the_database')).toMatchObject({ status: 'not_applicable' });
    // the test servers archive no WAL: the recovery point cannot be measured, and says why
    expect(results.get('wal_archive_lag')).toMatchObject({ status: 'not_applicable' });
    expect(results.get('wal_archive_lag')!.detail).toMatch(/^archive_mode is off/);
    expect(results.get('outside_the_database')!.detail).toContain('vulnerability');
    // the test servers load no pgaudit: a DBA's read leaves no trace in the server log, and it says so
    expect(results.get('database_audit')).toMatchObject({ status: 'not_applicable', measured: { pgaudit_loaded: false } });
    expect(results.get('database_audit')!.detail).toMatch(/^pgaudit is not loaded/);
    expect(results.get('siem_lag')).toMatchObject({ status: 'not_applicable', measured: { feeding: false } });
    expect(results.get('audit_archive')).toMatchObject({ status: 'not_applicable', measured: { archives: 0 } });
  });

  it('fail without a recent heartbeat, and compute uptime exactly, gaps counted as downtime', async () => {
    expect((await statusOf('worker_heartbeat')).status).toBe('fail');
    await db.as('compliance_worker', null, (tx) => tx`select compliance.record_heartbeat()`);
    expect((await statusOf('worker_heartbeat')).status).toBe('pass');
    await db.admin`delete from compliance_private.worker_heartbeats`;
    await db.admin`insert into compliance_private.worker_heartbeats select date_trunc('minute', now()) - interval '10 minutes'`;
    expect((await statusOf('worker_heartbeat')).status).toBe('fail');

    // 100 minutes from 10:00, one of them (10:42) without a beat: exactly 99%
    await db.admin`delete from compliance_private.worker_heartbeats`;
    await db.admin`insert into compliance_private.worker_heartbeats
                   select timestamptz '2026-11-01 10:00Z' + make_interval(mins => m) from generate_series(0, 99) m where m <> 42`;
    const [uptime] = await db.as('compliance_dpo', dpo, (tx) => tx`select * from compliance.uptime('30 days', timestamptz '2026-11-01 11:40:30Z')`);
    expect(uptime).toMatchObject({ ratio: '0.990000', minutes_up: '99', minutes_counted: '100' });
    // a window that starts after the first beat: 10:30 to 11:40, the gap inside
    const [window] = await db.as('compliance_dpo', dpo, (tx) => tx`select * from compliance.uptime('70 minutes', timestamptz '2026-11-01 11:40Z')`);
    expect(window).toMatchObject({ ratio: '0.985714', minutes_up: '69', minutes_counted: '70' });
    // the 2026-11 gap lies in a ten-year window: below 99.9%
    await db.admin`update compliance.compliance_check_settings set uptime_window = '3650 days'`;
    expect(await statusOf('uptime')).toMatchObject({ status: 'fail' });
    // every minute of the last hour beaten: whole
    await db.admin`delete from compliance_private.worker_heartbeats`;
    await db.admin`insert into compliance_private.worker_heartbeats select date_trunc('minute', now()) - make_interval(mins => m) from generate_series(0, 60) m`;
    expect(await statusOf('uptime')).toMatchObject({ status: 'pass', measured: { ratio: 1 } });
  });

  it('count a minute with a failed service probe as down though the worker beat in it, and never let a probe fill a gap afterwards (BADRG)', async () => {
    await db.admin`update compliance.compliance_check_settings set uptime_window = '2 hours'`;
    await db.admin`insert into compliance_private.worker_heartbeats select date_trunc('minute', now()) - make_interval(mins => m) from generate_series(0, 60) m
                   on conflict do nothing`;
    const probe = (probes: unknown[]) => db.as('compliance_worker', null, (tx) => tx`select compliance.record_service_probes(${JSON.stringify(probes)}::text::jsonb) as n`);
    // the API and the primary answered in each of the last 30 minutes
    await db.admin`insert into compliance_private.service_minutes (minute, probes_passed, api_probes)
                   select date_trunc('minute', now()) - make_interval(mins => m), 4, 4 from generate_series(1, 30) m`;
    const whole = await statusOf('uptime');
    expect(whole).toMatchObject({ status: 'pass', measured: { ratio: 1, minutes_api_down: 0, minutes_primary_down: 0 } });
    // the API did not answer 10 minutes ago, and the primary could not be written 5 minutes ago (told late, after a failover)
    const tenAgo = new Date(Date.now() - 10 * 60_000).toISOString();
    const fiveAgo = new Date(Date.now() - 5 * 60_000).toISOString();
    expect((await probe([{ at: tenAgo, api: 'down', database: 'up', detail: '/healthz answered 503' },
      { at: fiveAgo, api: 'up', database: 'down', detail: 'connection refused' }]))[0]!.n).toBe(2);
    const [counted] = await db.as('compliance_dpo', dpo, (tx) => tx`select * from compliance.uptime('2 hours')`);
    expect(Number(counted!.minutes_counted) - Number(counted!.minutes_up)).toBe(2);
    const broken = await statusOf('uptime');
    expect(broken).toMatchObject({ status: 'fail', measured: { minutes_api_down: 1, minutes_primary_down: 1 } });
    expect(broken.detail).toMatch(/1 with the API down, 1 with the primary unreachable/);
    // a passing probe that names an old instant counts now: the minute 40 minutes ago stays empty, and down
    const fortyAgo = new Date(Date.now() - 40 * 60_000).toISOString();
    await probe([{ at: fortyAgo, api: 'up', database: 'up' }]);
    const [gap] = await db.admin`select count(*)::int as n from compliance_private.service_minutes where minute = date_trunc('minute', ${fortyAgo}::timestamptz)`;
    expect(gap!.n).toBe(0);
    // a failure is told within the hour, with its instant, or not at all
    for (const bad of [[{ at: new Date(Date.now() - 2 * 3_600_000).toISOString(), api: 'down', database: 'up' }], [{ api: 'down', database: 'up' }],
      [{ at: tenAgo, api: 'sideways', database: 'up' }], []]) {
      await expect(probe(bad)).rejects.toMatchObject({ code: 'BADRG' });
    }
    // only the worker probes
    await expect(db.as('compliance_app', { actor: 'user:eve', roles: [] }, (tx) => tx`select compliance.record_service_probes('[]'::jsonb)`))
      .rejects.toMatchObject({ code: '42501' });
  });

  it('say when the API was not probed: the uptime figure then measures the database and the worker only', async () => {
    await db.admin`delete from compliance_private.service_minutes`;
    await db.as('compliance_worker', null, (tx) => tx`select compliance.record_service_probes(${JSON.stringify([{ api: 'not_probed', database: 'up' }])}::text::jsonb)`);
    await db.admin`insert into compliance_private.service_minutes (minute, probes_passed) select date_trunc('minute', now()) - make_interval(mins => m), 4 from generate_series(1, 5) m`;
    await db.admin`update compliance.compliance_check_settings set uptime_window = '30 minutes'`;
    const uptime = await statusOf('uptime');
    expect(uptime).toMatchObject({ status: 'pass', measured: { minutes_api_probed: 0 } });
    expect(uptime.detail).toMatch(/the API was not probed \(the worker has no SERVICE_HEALTH_URL\)/);
  });

  it('fail when no anchor was written outside the database for twice the anchor interval, pass after one', async () => {
    await seal();
    const fresh = await statusOf('anchors');
    expect(fresh).toMatchObject({ status: 'not_applicable', threshold: { max_age_hours: 2 } });
    // a chain older than the limit with no anchor: tamper evidence is off
    await db.admin`update compliance.compliance_check_settings set anchor_max_age = interval '1 millisecond'`;
    await db.admin`select pg_sleep(0.01)`;
    const none = await statusOf('anchors');
    expect(none.status).toBe('fail');
    expect(none.detail).toMatch(/no anchor was ever written/);
    await db.admin`update compliance.compliance_check_settings set anchor_max_age = interval '2 hours'`;
    const [digest] = await db.admin`select seal_no, seal_hash, last_row_id, sealed_at from compliance.audit_digest()`;
    const key = toAnchorKey(generateKeyPairSync('ed25519').privateKey);
    const record = anchorRecord(signAnchor(toAnchorState(db.name, digest as never, []), key), key, '/anchors/anchors.jsonl');
    // an anchor under a key that is not the anchor key does not count
    const otherKey = toAnchorKey(generateKeyPairSync('ed25519').privateKey);
    const other = anchorRecord(signAnchor(toAnchorState(db.name, digest as never, []), otherKey), otherKey, '/anchors/anchors.jsonl');
    await db.as('compliance_dpo', dpo, (tx) => tx`select compliance.record_anchor(${other.seal_no}, ${other.seal_hash}, ${other.key_fingerprint},
      ${other.signature}, ${JSON.stringify(other.signed)}::text::jsonb, ${other.destination})`);
    expect((await statusOf('anchors')).status).not.toBe('pass');
    await db.as('compliance_worker', null, (tx) => tx`select compliance.set_anchor_key(${key.fingerprint})`);
    // a DPO session through the server's login records one with the configured key (and no real
    // signature): it is not counted, only the worker's login records anchors the check trusts
    const server = postgres(db.loginUrl('server'), { ...quiet, max: 1 });
    try {
      await server.begin(async (tx) => {
        await tx`set local role compliance_dpo`;
        await tx`select compliance.set_request_context('dpo:mallory', '{dpo}'::text[])`;
        await tx`select compliance.record_anchor(${record.seal_no}, ${record.seal_hash}, ${record.key_fingerprint},
          ${Buffer.alloc(64).toString('base64')}, ${JSON.stringify(record.signed)}::text::jsonb, '/nowhere')`;
      });
    } finally {
      await server.end();
    }
    expect((await statusOf('anchors')).status).not.toBe('pass');
    const worker = postgres(db.loginUrl('worker'), { ...quiet, max: 1 });
    try {
      await worker`select compliance.record_anchor(${record.seal_no}, ${record.seal_hash}, ${record.key_fingerprint},
        ${record.signature}, ${JSON.stringify(record.signed)}::text::jsonb, ${record.destination})`;
    } finally {
      await worker.end();
    }
    expect(await statusOf('anchors')).toMatchObject({ status: 'pass', measured: { seal_no: Number(digest!.seal_no) } });
    // an anchor older than the limit
    await db.admin`update compliance.compliance_check_settings set anchor_max_age = interval '1 millisecond'`;
    expect((await statusOf('anchors')).status).toBe('fail');
    await db.admin`update compliance.compliance_check_settings set anchor_max_age = interval '2 hours'`;
  });

  it('store a run, audit it, and raise one alert per failing check', async () => {
    await db.admin`delete from compliance_private.worker_heartbeats`;
    const results = await run();
    const failing = [...results.values()].filter((r) => r.status === 'fail').map((r) => r.check_name).sort();
    expect(failing).toContain('worker_heartbeat');
    const runId = [...results.values()][0]!.run_id;
    const [stored] = await db.admin`select passed, failed, not_applicable, finished_at from compliance.check_runs where id = ${runId}`;
    expect(stored!.failed).toBe(failing.length);
    expect(stored!.passed + stored!.failed + stored!.not_applicable).toBe(27);
    const alerts = await db.admin`select payload ->> 'check' as check from compliance.alert_outbox
                                   where topic = 'compliance.check_failed' and payload ->> 'run_id' = ${String(runId)} order by 1`;
    expect(alerts.map((a) => a.check)).toEqual(failing);
    const [audit] = await db.admin`select details from compliance.audit_logs where action = 'compliance.checks_run' and resource_id = ${String(runId)}`;
    expect(audit!.details).toMatchObject({ failed: failing.length, failed_checks: failing });
    expect(audit!.details.results_sha256).toMatch(/^[0-9a-f]{64}$/);
  });
});
