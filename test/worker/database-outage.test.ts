/**
 * The database going away for a few seconds (a restart, a failover) as a minute turns: the cron
 * query that schedules that minute's jobs failed, graphile-worker 0.16 left the rejection
 * unhandled, and the worker process died (seen in CI as Ctrl-C on npm start exiting 1). The
 * cron's queries now wait for the database (worker/cron-pool.ts).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitOutConnectionLoss } from '../../worker/cron-pool.js';
import { startCuttableProxy, type CuttableProxy } from '../provision/cuttable-proxy.js';
import { useTestDatabase } from '../provision/database.js';
import { hold, until } from '../provision/until.js';

const db = useTestDatabase();
let proxy: CuttableProxy;

function throughProxy(url: string): string {
  const proxied = new URL(url);
  proxied.hostname = '127.0.0.1';
  proxied.port = String(proxy.port);
  return proxied.toString();
}

beforeAll(async () => {
  const target = new URL(db.adminUrl);
  proxy = await startCuttableProxy({ host: target.hostname, port: Number(target.port) });
});
afterAll(() => proxy.close());

describe('a pool whose queries wait out a lost database', () => {
  it('answers once the database is back, fails a refused statement at once, and gives up when told', async () => {
    const pool = new pg.Pool({ connectionString: throughProxy(db.loginUrl('worker')), max: 2 });
    pool.on('error', () => undefined);
    const waiting = waitOutConnectionLoss(pool);
    try {
      expect((await pool.query('select 1 as n')).rows).toEqual([{ n: 1 }]);

      await proxy.cut();
      const answered = pool.query('select 2 as n');
      await hold(1500);
      await proxy.restore();
      expect((await answered).rows).toEqual([{ n: 2 }]);

      await expect(pool.query('select 1 / 0')).rejects.toMatchObject({ code: '22012' });

      await proxy.cut();
      const abandoned = pool.query('select 3 as n');
      await hold(500);
      waiting.stopWaiting();
      expect((await abandoned).rows).toEqual([]);
    } finally {
      await proxy.restore().catch(() => undefined);
      await pool.end();
    }
  });
});

describe('the worker when its database goes away as a minute turns', () => {
  it('stays up and schedules that minute once the database is back', async () => {
    const worker = spawn(process.execPath, ['--import', 'tsx', path.resolve('worker/main.ts')], {
      env: { ...process.env, WORKER_DATABASE_URL: throughProxy(db.loginUrl('worker')), DATABASE_URL: '', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    worker.stdout!.on('data', (chunk) => (output += chunk));
    worker.stderr!.on('data', (chunk) => (output += chunk));
    try {
      await until(async () => ((await db.admin`select 1 from compliance_private.worker_heartbeats`).length > 0 ? true : undefined), 30_000, 'the first heartbeat');
      // cut from 1.5 s before the minute to 2.5 s after it: the cron's tick falls inside
      const msToCut = 60_000 - (Date.now() % 60_000) - 1500;
      await hold(msToCut < 0 ? msToCut + 60_000 : msToCut);
      const minute = new Date(Math.ceil(Date.now() / 60_000) * 60_000);
      await proxy.cut();
      await hold(4000);
      expect(worker.exitCode, output).toBeNull();
      await proxy.restore();
      await until(async () => ((await db.admin`select 1 from graphile_worker._private_known_crontabs
        where identifier = 'heartbeat' and last_execution >= ${minute}`).length > 0 ? true : undefined), 30_000, 'the heartbeat of the minute the database was away');
      expect(worker.exitCode, output).toBeNull();
      expect(output).not.toMatch(/\n\s+at /);
    } finally {
      if (worker.exitCode === null && worker.signalCode === null) {
        const exited = new Promise((resolve) => worker.once('exit', resolve));
        worker.kill('SIGTERM');
        await exited;
      }
    }
    expect(worker.exitCode, output).toBe(0);
  }, 150_000);
});
