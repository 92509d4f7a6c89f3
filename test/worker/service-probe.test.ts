/**
 * The worker's service probe measures the service: the API's /healthz and a write to the primary,
 * every interval. An API that stops answering makes its minutes down while the worker lives; a
 * primary that cannot be reached is told once it is back, so those minutes count as down too.
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServiceProbe } from '../../worker/service-probe.js';
import { serveApp } from '../server/harness.js';
import { startCuttableProxy, type CuttableProxy } from '../provision/cuttable-proxy.js';
import { quiet, useTestDatabase } from '../provision/database.js';
import { hold, until } from '../provision/until.js';

const db = useTestDatabase();
let proxy: CuttableProxy;

beforeAll(async () => {
  const target = new URL(db.adminUrl);
  proxy = await startCuttableProxy({ host: target.hostname, port: Number(target.port) });
});
afterAll(() => proxy.close());

const totals = async () => (await db.admin<{ passed: number; api_probes: number; api_failures: number; database_failures: number; failures: string[] }[]>`
  select coalesce(sum(probes_passed), 0)::int as passed, coalesce(sum(api_probes), 0)::int as api_probes, coalesce(sum(api_failures), 0)::int as api_failures,
         coalesce(sum(database_failures), 0)::int as database_failures, coalesce(array_agg(last_failure) filter (where last_failure is not null), '{}') as failures
    from compliance_private.service_minutes`)[0]!;

describe('the service probe', () => {
  it('records passing probes, an API that stops answering, and a primary that was unreachable once it is back; uptime counts those minutes down', async () => {
    const app = await serveApp(postgres(db.loginUrl('server'), { ...quiet, max: 4 }));
    const workerUrl = new URL(db.loginUrl('worker'));
    workerUrl.hostname = '127.0.0.1';
    workerUrl.port = String(proxy.port);
    const probe = startServiceProbe({ connectionString: workerUrl.toString(), healthUrl: `${app.baseUrl}/healthz`, intervalMs: 200 });
    let appClosed = false;
    try {
      await until(async () => ((await totals()).passed >= 3 ? true : undefined), 30_000, 'passing probes');
      expect(await totals()).toMatchObject({ api_failures: 0, database_failures: 0 });

      await proxy.cut();
      await hold(1_500);
      expect((await totals()).database_failures).toBe(0);
      await proxy.restore();
      await until(async () => ((await totals()).database_failures > 0 ? true : undefined), 30_000, 'the outage to be told');
      expect((await totals()).failures.join('\n')).toMatch(/the primary (did not answer|could not be written)/);

      await app.close();
      appClosed = true;
      await until(async () => ((await totals()).api_failures > 0 ? true : undefined), 30_000, 'a probe of the closed API');
      expect((await totals()).failures.join('\n')).toMatch(/\/healthz did not answer/);

      const [uptime] = await db.admin`select * from compliance.uptime('1 hour', now() + interval '1 minute')`;
      const down = await db.admin`select minute from compliance_private.service_minutes where api_failures > 0 or database_failures > 0`;
      expect(Number(uptime!.minutes_counted) - Number(uptime!.minutes_up)).toBeGreaterThanOrEqual(down.length);
      expect(down.length).toBeGreaterThan(0);
    } finally {
      await proxy.restore().catch(() => undefined);
      await probe.stop();
      if (!appClosed) await app.close();
    }
  }, 120_000);
});
