/**
 * A worker whose database connections are cut while it starts (a failover, a restart of
 * PostgreSQL, a proxy that drops) keeps running and seals once the database answers again: a job
 * loop that dies before its runner is handed over is restarted like any other, never an unhandled
 * rejection that ends the process.
 */
import { EventEmitter } from 'node:events';
import { quickAddJob, type WorkerEvents } from 'graphile-worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorker, type Worker } from '../../worker/runner.js';
import { startCuttableProxy, type CuttableProxy } from '../provision/cuttable-proxy.js';
import { useTestDatabase } from '../provision/database.js';
import { hold, until } from '../provision/until.js';

const db = useTestDatabase();
let proxy: CuttableProxy;

beforeAll(async () => {
  const target = new URL(db.loginUrl('worker'));
  proxy = await startCuttableProxy({ host: target.hostname, port: Number(target.port) });
});
afterAll(() => proxy.close());

function throughProxy(url: string): string {
  const proxied = new URL(url);
  proxied.hostname = '127.0.0.1';
  proxied.port = String(proxy.port);
  return proxied.toString();
}

describe('a worker whose connections are cut while it starts', () => {
  it('keeps running, and seals once the database answers again', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    let worker: Worker | undefined;
    try {
      // a job waits, so a job loop runs one while the runner is still being set up; the first
      // job it starts cuts the database off, and the loop cannot record the job's end
      await quickAddJob({ connectionString: db.loginUrl('worker') }, 'heartbeat', {});
      const observer: WorkerEvents = new EventEmitter();
      let cuts = 0;
      observer.on('job:start', () => {
        if (cuts > 0) return;
        cuts += 1;
        void proxy.cut().then(() => hold(300)).then(() => proxy.restore());
      });
      worker = await startWorker({ connectionString: throughProxy(db.loginUrl('worker')), pollInterval: 100, observer });
      // the waiting job starts while the runner is set up, mostly, or just after: either way the loop dies
      await until(async () => (cuts === 1 ? true : undefined), 30_000, 'the first job to start');
      const [row] = await db.admin`select compliance.log_event('system.after_cut', 'system') as id`;
      await until(async () => ((await db.admin`select 1 from compliance.audit_seals where layout = 2 and last_row_id >= ${row!.id}`).length ? true : undefined),
        60_000, 'the worker to seal after the cut');
      expect(unhandled).toEqual([]);
    } finally {
      await worker?.stop();
      process.off('unhandledRejection', onUnhandled);
    }
  }, 120_000);
});
