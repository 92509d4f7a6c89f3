import type { Sql, TransactionSql } from 'postgres';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'pgcomply_' });
  const requests = new Histogram({
    name: 'pgcomply_http_request_duration_seconds',
    help: 'HTTP request duration by route group and status',
    labelNames: ['route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const authFailures = new Counter({
    name: 'pgcomply_auth_failures_total',
    help: 'Requests refused for a missing, invalid or expired token',
    registers: [registry],
  });
  return { registry, requests, authFailures };
}

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * Figures the database computes, read at each scrape: uptime over 30 days from the worker's
 * heartbeats (compliance.uptime), the SIEM feed's lag (compliance.siem_lag) and the alerts in the
 * outbox by topic and state. A scrape the
 * database cannot answer keeps the last values rather than failing /metrics.
 */
export function registerDatabaseMetrics(metrics: Metrics, sql: Sql): void {
  const read = <T extends object>(query: (tx: TransactionSql) => Promise<T[]>) =>
    sql.begin(async (tx) => {
      await tx`select set_config('role', 'compliance_app', true)`;
      return query(tx);
    }).catch(() => undefined);
  // both alert metrics are collected in the same scrape, at once: they share one read
  type AlertCount = { topic: string; state: string; alerts: string };
  let alertRead: Promise<AlertCount[] | undefined> | undefined;
  const alertCounts = () => (alertRead ??= read((tx) => tx<AlertCount[]>`select * from compliance.alert_counts()`)
    .finally(() => { alertRead = undefined; }));
  new Gauge({
    name: 'pgcomply_sla_uptime_ratio',
    help: 'Share of the last 30 days (since the first heartbeat, if later) in which the worker was alive; a minute without a heartbeat counts as down',
    registers: [metrics.registry],
    async collect() {
      const rows = await read((tx) => tx<{ ratio: string }[]>`select ratio from compliance.uptime('30 days')`);
      if (rows?.[0]) this.set(Number(rows[0].ratio));
    },
  });
  new Gauge({
    name: 'pgcomply_siem_lag_seconds',
    help: 'How far the SIEM feed is behind: the age of the oldest sealed audit row the SIEM does not have yet (0 when it has all); absent while no feed runs',
    registers: [metrics.registry],
    async collect() {
      const rows = await read((tx) => tx<{ feeding: boolean; lag_seconds: string | null }[]>`select feeding, lag_seconds from compliance.siem_lag()`);
      if (rows?.[0]?.feeding) this.set(Number(rows[0].lag_seconds));
    },
  });
  // counts from the outbox, which keeps every alert: delivered and failed only ever grow
  new Counter({
    name: 'pgcomply_alerts_total',
    help: 'Alerts raised (emergency access, inappropriate reviews, failed compliance checks) by topic and outcome: delivered (by webhook or to the log) or failed',
    labelNames: ['topic', 'outcome'] as const,
    registers: [metrics.registry],
    async collect() {
      const rows = await alertCounts();
      if (!rows) return;
      this.reset();
      for (const row of rows) if (row.state !== 'pending') this.inc({ topic: row.topic, outcome: row.state }, Number(row.alerts));
    },
  });
  new Gauge({
    name: 'pgcomply_alerts_pending',
    help: 'Alerts waiting in the outbox for delivery, by topic',
    labelNames: ['topic'] as const,
    registers: [metrics.registry],
    async collect() {
      const rows = await alertCounts();
      if (!rows) return;
      this.reset();
      for (const row of rows) if (row.state === 'pending') this.set({ topic: row.topic }, Number(row.alerts));
    },
  });
}
