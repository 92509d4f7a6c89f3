/**
 * The service probe (SOC 2 A1.2): every 15 s the worker asks the API's /healthz and writes what
 * it saw to the primary (compliance.record_service_probes), so compliance.uptime measures the
 * service, not the worker alone. A probe that could not reach the primary is kept and told once
 * the primary is back (a new one after a failover), so those minutes count as down.
 */
import { isDatabaseUnavailable } from '../db/unavailable.js';
import { writablePool } from '../db/writable-pg.js';
import { workerLog } from './log.js';

export interface ServiceProbeOptions {
  connectionString: string;
  /** the API's /healthz (SERVICE_HEALTH_URL); without it only the primary is probed, and the uptime check says so */
  healthUrl?: string;
  intervalMs?: number;
}

interface Probe {
  at: string;
  api: 'up' | 'down' | 'not_probed';
  database: 'up' | 'down';
  detail?: string;
}

export const PROBE_INTERVAL_MS = 15_000;
const ANSWER_WITHIN_MS = 5_000;
/** the database takes failures up to an hour old; older ones are let go */
const UNTOLD_FOR_MS = 55 * 60_000;

async function probeApi(healthUrl: string | undefined): Promise<Pick<Probe, 'api' | 'detail'>> {
  if (!healthUrl) return { api: 'not_probed' };
  try {
    const response = await fetch(healthUrl, { signal: AbortSignal.timeout(ANSWER_WITHIN_MS) });
    await response.body?.cancel();
    return response.status === 200 ? { api: 'up' } : { api: 'down', detail: `${healthUrl} answered ${response.status}` };
  } catch (error) {
    return { api: 'down', detail: `${healthUrl} did not answer: ${(error as Error).message}` };
  }
}

export interface ServiceProbe {
  /** from now on, probe the API at this /healthz too (npm start knows its address once it listens) */
  probeApiAt(healthUrl: string): void;
  /** ends the probing; waits for the probe under way, within its timeouts */
  stop(): Promise<void>;
}

export function startServiceProbe(options: ServiceProbeOptions): ServiceProbe {
  let healthUrl = options.healthUrl;
  const pool = writablePool(options.connectionString, { max: 1, connectionTimeoutMillis: ANSWER_WITHIN_MS, query_timeout: ANSWER_WITHIN_MS,
    application_name: 'pgcomply-service-probe' });
  // a connection the database ends is what the probe measures and records: no log line of its own
  pool.on('error', () => undefined);
  const untold: Probe[] = [];
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let wake = () => undefined as void;

  /** whether a connection to the primary answers now; asked beside the API, so an outage shorter than the API's answer is still seen */
  async function probePrimary(): Promise<Pick<Probe, 'database' | 'detail'>> {
    try {
      await pool.query('select 1');
      return { database: 'up' };
    } catch (error) {
      return { database: 'down', detail: `the primary did not answer: ${(error as Error).message}` };
    }
  }

  async function probeOnce(): Promise<void> {
    const at = new Date().toISOString();
    const [api, primary] = await Promise.all([probeApi(healthUrl), probePrimary()]);
    const probe: Probe = { at, api: api.api, database: primary.database,
      ...(api.detail || primary.detail ? { detail: [api.detail, primary.detail].filter(Boolean).join('; ') } : {}) };
    while (untold.length && Date.parse(untold[0]!.at) < Date.now() - UNTOLD_FOR_MS) untold.shift();
    try {
      await pool.query('select compliance.record_service_probes($1::text::jsonb)', [JSON.stringify([...untold, probe])]);
      untold.length = 0;
    } catch (error) {
      const unreachable = isDatabaseUnavailable(error) || typeof (error as { code?: unknown }).code !== 'string';
      if (!unreachable) {
        // refused by the database itself: a fault here, not downtime; never sent again
        workerLog.error({ err: error }, 'the service probe was refused');
        untold.length = 0;
        return;
      }
      untold.push({ ...probe, database: 'down',
        detail: [probe.detail, `the primary could not be written: ${(error as Error).message}`].filter(Boolean).join('; ') });
    }
  }

  const running = (async () => {
    while (!stopped) {
      const started = Date.now();
      await probeOnce().catch((error: unknown) => workerLog.error({ err: error }, 'the service probe failed'));
      if (stopped) break;
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, Math.max(0, started + (options.intervalMs ?? PROBE_INTERVAL_MS) - Date.now()));
      });
    }
  })();

  return {
    probeApiAt(url: string) {
      healthUrl = url;
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      wake();
      // a probe under way ends within its own timeouts; shutting down never waits longer than that
      await Promise.race([running, new Promise((resolve) => setTimeout(resolve, 2 * ANSWER_WITHIN_MS).unref())]);
      await Promise.race([pool.end().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, ANSWER_WITHIN_MS).unref())]);
    },
  };
}
