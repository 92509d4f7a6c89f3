import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { parseCrontab, quickAddJob } from 'graphile-worker';
import { afterEach, describe, expect, it } from 'vitest';
import { CRONTAB, startWorker, type Worker } from '../../worker/runner.js';
import { useTestDatabase } from '../provision/database.js';
import { until } from '../provision/until.js';

const db = useTestDatabase();

describe('crontab', () => {
  const items = parseCrontab(CRONTAB);
  const digest = (hour: number, min: number) => ({ min, hour, date: 23, month: 11, dow: 1 });

  it('runs retention daily at 03:00 UTC and at no other time', () => {
    const retention = items.find((item) => item.task === 'retention')!;
    expect(retention.identifier).toBe('retention_daily');
    expect(retention.match(digest(3, 0))).toBe(true);
    expect(retention.match(digest(3, 1))).toBe(false);
    expect(retention.match(digest(15, 0))).toBe(false);
  });

  it('backs up with pgBackRest at 02:00 UTC: full on Sundays, differential on the other days', () => {
    const full = items.find((item) => item.identifier === 'backup_full_weekly')!;
    const diff = items.find((item) => item.identifier === 'backup_diff_daily')!;
    expect([full.task, full.payload]).toEqual(['backup', { type: 'full' }]);
    expect([diff.task, diff.payload]).toEqual(['backup', { type: 'diff' }]);
    const at = (dow: number, hour: number) => ({ min: 0, hour, date: 6, month: 12, dow });
    expect([full.match(at(0, 2)), diff.match(at(0, 2))]).toEqual([true, false]);
    for (const dow of [1, 2, 3, 4, 5, 6]) expect([full.match(at(dow, 2)), diff.match(at(dow, 2))]).toEqual([false, true]);
    expect(diff.match(at(3, 3))).toBe(false);
  });

  it('drills a restore weekly, on Sundays at 04:00 UTC after the full backup', () => {
    const drill = items.find((item) => item.task === 'restore_drill')!;
    expect(drill.identifier).toBe('restore_drill_weekly');
    const at = (dow: number, hour: number) => ({ min: 0, hour, date: 6, month: 12, dow });
    expect(drill.match(at(0, 4))).toBe(true);
    for (const dow of [1, 2, 3, 4, 5, 6]) expect(drill.match(at(dow, 4))).toBe(false);
    expect(drill.match(at(0, 2))).toBe(false);
  });

  it('maintains partitions daily and keeps the sealing loop alive every minute', () => {
    expect(items.find((item) => item.task === 'partition_maintenance')!.match(digest(2, 30))).toBe(true);
    const sealing = items.find((item) => item.task === 'seal_audit_log')!;
    expect(sealing.match(digest(10, 17))).toBe(true);
    expect(sealing.options.jobKey).toBe('seal_audit_log');
  });
});

describe('the daily PHI access review', () => {
  let runner: Worker | undefined;
  afterEach(async () => {
    await runner?.stop();
  });

  it('is scheduled daily at 05:30 UTC, before the compliance checks, and turns a refused staff access into a phi.unusual_access row', async () => {
    const review = parseCrontab(CRONTAB).find((item) => item.task === 'phi_unusual_access')!;
    expect(review.match({ min: 30, hour: 5, date: 2, month: 12, dow: 3 })).toBe(true);
    expect(review.match({ min: 0, hour: 6, date: 2, month: 12, dow: 3 })).toBe(false);
    await db.as('compliance_app', { actor: 'user:watched' }, (tx) => tx`select compliance.ensure_profile('user:watched')`);
    await db.as('compliance_staff', { actor: 'staff:curious', roles: ['staff'] },
      (tx) => tx`select * from compliance.phi_access('user:watched', 'operations', 'read')`);
    runner = await startWorker({ connectionString: db.loginUrl('worker'), sealIntervalSeconds: 1, pollInterval: 200 });
    // the review reads only sealed rows: let the running worker seal first
    await until(async () => ((await db.admin`select 1 from compliance.audit_seals where layout = 2 and last_row_id >=
      (select max(id) from compliance.audit_logs where action = 'phi.denied')`).length ? true : undefined), 10_000, 'the refusal to be sealed');
    await quickAddJob({ connectionString: db.loginUrl('worker') }, 'phi_unusual_access', {});
    const alert = await until(async () => (await db.admin`select user_id, details from compliance.audit_logs where action = 'phi.unusual_access'`)[0], 10_000, 'the review');
    expect(alert).toMatchObject({ user_id: 'staff:curious', details: { finding: 'refused' } });
    // and an alert in the outbox at once, not with the next day's checks
    const [raised] = await db.admin`select topic, actor_id, payload from compliance.alert_outbox where topic = 'phi.unusual_access'`;
    expect(raised).toMatchObject({ actor_id: 'staff:curious', payload: { finding: 'refused' } });
    expect(await db.admin`select 1 from compliance.check_runs`).toHaveLength(0);
  });
});

describe('the heartbeat and the daily compliance checks', () => {
  let runner: Worker | undefined;
  afterEach(async () => {
    await runner?.stop();
  });

  it('beats at start and every minute, and runs the checks at 06:00 UTC as a scheduled run', async () => {
    const items = parseCrontab(CRONTAB);
    expect(items.find((item) => item.task === 'compliance_checks')!.match({ min: 0, hour: 6, date: 2, month: 12, dow: 3 })).toBe(true);
    expect(items.find((item) => item.task === 'heartbeat')!.match({ min: 17, hour: 13, date: 2, month: 12, dow: 3 })).toBe(true);
    runner = await startWorker({ connectionString: db.loginUrl('worker'), pollInterval: 200 });
    await until(async () => ((await db.admin`select 1 from compliance_private.worker_heartbeats`).length ? true : undefined), 10_000, 'the first heartbeat');
    await quickAddJob({ connectionString: db.loginUrl('worker') }, 'compliance_checks', {});
    const run = await until(async () => (await db.admin`select trigger, failed, passed from compliance.check_runs where finished_at is not null`)[0], 10_000, 'a scheduled check run');
    expect(run.trigger).toBe('schedule');
    expect(run.passed).toBeGreaterThan(0);
  });
});

describe('the second transaction of an erasure on a Citus cluster', () => {
  let runner: Worker | undefined;
  afterEach(async () => {
    await runner?.stop();
  });

  it('runs every minute, clears the person where they acted, takes the erasure off the list, and writes a record verification trusts', async () => {
    expect(parseCrontab(CRONTAB).find((item) => item.task === 'finish_erasures')!.match({ min: 41, hour: 13, date: 2, month: 12, dow: 3 })).toBe(true);
    await db.as('compliance_app', { actor: 'user:held' }, (tx) => tx`select compliance.ensure_profile('user:held')`);
    await db.as('compliance_dpo', { actor: 'dpo:leaving', roles: ['dpo'] }, (tx) => tx`select compliance.place_legal_hold('user:held', 'a matter')`);
    // what a cluster's erasure of the DPO leaves (a single node's erasure never does: it finishes at once)
    await db.admin`insert into compliance_private.erasures_finishing_elsewhere (placement, request_id, person) values ('', 4711, 'dpo:leaving')`;
    runner = await startWorker({ connectionString: db.loginUrl('worker'), sealIntervalSeconds: 1, pollInterval: 200 });
    await quickAddJob({ connectionString: db.loginUrl('worker') }, 'finish_erasures', {});
    const [record] = await until(async () => {
      const rows = await db.admin`select details from compliance.audit_logs where action = 'subject.erased_elsewhere'`;
      return rows.length ? rows : undefined;
    }, 10_000, 'the second transaction');
    expect(record!.details).toMatchObject({ written_by: 'compliance_private.finish_erasure_elsewhere_core', anonymised: { legal_holds_anonymised: 1 } });
    // the audit rows in the subject's own chain are the erasure's to redact, not this transaction's
    expect(record!.details.redacted_actor_rows).toEqual([]);
    expect(await db.admin`select 1 from compliance_private.erasures_finishing_elsewhere`).toHaveLength(0);
    expect(await db.admin`select 1 from compliance.legal_holds where placed_by is not null`).toHaveLength(0);
    await until(async () => ((await db.admin`select 1 from compliance.audit_logs a
      where not exists (select from compliance.audit_seals s where a.id = any (s.row_ids))`).length === 0 ? true : undefined), 10_000, 'the record to be sealed');
    const [verified] = await db.admin`select ok, problems from compliance.verify_audit_log()`;
    expect(verified).toEqual({ ok: true, problems: [] });
  });
});

describe('sealing on its own', () => {
  let runner: Worker | undefined;
  afterEach(async () => {
    await runner?.stop();
  });

  it('seals every row from finished transactions within seconds', async () => {
    await db.admin`select compliance.log_event('system.a', 'system')`;
    await db.admin`select compliance.log_event('system.b', 'system')`;
    runner = await startWorker({ connectionString: db.loginUrl('worker'), sealIntervalSeconds: 1, pollInterval: 200 });
    await db.admin`select compliance.log_event('system.c', 'system')`;
    const unsealed = async () => {
      const [row] = await db.admin`
        select count(*)::int as n from compliance.audit_logs a
         where not exists (select from compliance.audit_seals s where a.id = any (s.row_ids))`;
      return row!.n === 0 ? true : undefined;
    };
    await until(unsealed, 10_000, 'every audit row to be sealed');
    const [verified] = await db.admin`select ok from compliance.verify_audit_log()`;
    expect(verified!.ok).toBe(true);
  });
});

describe('retention in a real worker process', () => {
  function workerProcess(env: Record<string, string> = {}): ChildProcess {
    return spawn(process.execPath, ['--import', 'tsx', path.resolve('worker/main.ts')], {
      env: { ...process.env, WORKER_DATABASE_URL: db.loginUrl('worker'), LOG_LEVEL: 'error', DATABASE_URL: '', ...env },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }

  async function stop(child: ChildProcess, signal: NodeJS.Signals) {
    if (child.exitCode !== null) return;
    child.kill(signal);
    await new Promise((resolve) => child.once('exit', resolve));
  }

  it('releases the job of a killed worker once its lock is stale, and the same job finishes (not four hours later)', async () => {
    await db.as('compliance_app', { actor: 'user:orphaned' }, async (tx) => {
      await tx`select compliance.ensure_profile('user:orphaned')`;
      await tx`select compliance.start_conversation('user:orphaned', 'old' || n) from generate_series(1, 40) n`;
    });
    await db.admin`update compliance.conversations set last_message_at = now() - interval '100 days' where user_id = 'user:orphaned'`;
    const job = await quickAddJob({ connectionString: db.adminUrl }, 'retention', { batch_size: 5, batch_pause_ms: 300, categories: ['conversations'] });

    const first = workerProcess();
    await until(async () => {
      const [row] = await db.admin`select locked_by from graphile_worker.jobs where id = ${job.id} and locked_by is not null`;
      return row ? true : undefined;
    }, 30_000, 'the first worker to take the job');
    await stop(first, 'SIGKILL');
    const [orphan] = await db.admin`select locked_by from graphile_worker.jobs where id = ${job.id}`;
    expect(orphan!.locked_by).not.toBeNull();

    // the lock, made older than the threshold: what time would do, without waiting for it
    await db.admin`update graphile_worker._private_jobs set locked_at = locked_at - interval '1 minute' where id = ${job.id}`;
    const second = workerProcess({ WORKER_STALE_LOCK_SECONDS: '2' });
    try {
      await until(async () => {
        const [row] = await db.admin`select count(*)::int as n from graphile_worker.jobs where id = ${job.id}`;
        return row!.n === 0 ? true : undefined;
      }, 30_000, 'the orphaned job to finish');
    } finally {
      await stop(second, 'SIGTERM');
    }
    const [left] = await db.admin`select count(*)::int as n from compliance.conversations where user_id = 'user:orphaned'`;
    expect(left!.n).toBe(0);
  });

  it('deletes each expired row exactly once when killed between batches and run again', async () => {
    await db.as('compliance_app', { actor: 'user:chatty' }, async (tx) => {
      await tx`select compliance.ensure_profile('user:chatty')`;
      await tx`select compliance.start_conversation('user:chatty', 'n' || n) from generate_series(1, 150) n`;
      await tx`select compliance.start_conversation('user:chatty', 'keep' || n) from generate_series(1, 20) n`;
    });
    await db.admin`update compliance.conversations set last_message_at = now() - interval '100 days' where title like 'n%'`;
    const payload = { batch_size: 5, batch_pause_ms: 40, categories: ['conversations'] };
    const [{ last }] = await db.admin`select coalesce(max(id), 0) as last from compliance.audit_logs` as unknown as [{ last: string }];

    const first = workerProcess();
    await quickAddJob({ connectionString: db.adminUrl }, 'retention', payload);
    await until(async () => {
      const [row] = await db.admin`select count(*)::int as n from compliance.conversations where title like 'n%'`;
      return row!.n < 130 ? true : undefined;
    }, 30_000, 'the first batches');
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    const [midway] = await db.admin`select count(*)::int as n from compliance.conversations where title like 'n%'`;
    expect(midway!.n).toBeGreaterThan(0);

    const second = workerProcess();
    try {
      await quickAddJob({ connectionString: db.adminUrl }, 'retention', { ...payload, batch_pause_ms: 0 });
      await until(async () => {
        const [row] = await db.admin`select count(*)::int as n from compliance.conversations where title like 'n%'`;
        return row!.n === 0 ? true : undefined;
      }, 30_000, 'the rerun to finish');
    } finally {
      second.kill('SIGTERM');
      await new Promise((resolve) => second.once('exit', resolve));
    }
    const [kept] = await db.admin`select count(*)::int as n from compliance.conversations where title like 'keep%'`;
    expect(kept!.n).toBe(20);
    const runs = await db.admin`select (details ->> 'deleted')::int as deleted from compliance.audit_logs
                                 where action = 'retention.applied' and resource_id = 'conversations' and id > ${last}`;
    expect(runs.reduce((sum, r) => sum + r.deleted, 0)).toBe(150);
  });
});
