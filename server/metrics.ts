import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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
