/** The HTTP surface: /healthz, /metrics, tRPC under /trpc, REST + OpenAPI under /api. */
import http from 'node:http';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { createOpenApiHttpHandler } from 'trpc-to-openapi';
import { type ContextDeps, createRequestContext } from './context.js';
import { openApiDocument } from './openapi.js';
import { handleExport, sendJson } from './rest/export.js';
import { appRouter } from './routers/index.js';

export function createApp(deps: ContextDeps, publicUrl: () => string): http.Server {
  const createContext = ({ req, res }: { req: http.IncomingMessage | Request; res: http.ServerResponse }) => createRequestContext(deps, req, res);
  const onError = ({ error }: { error: { code: string; cause?: unknown } }) => {
    if (error.code === 'INTERNAL_SERVER_ERROR') deps.log.error({ err: error.cause ?? error }, 'request failed');
  };
  const trpc = createHTTPHandler({ router: appRouter, createContext, basePath: '/trpc/', onError });
  const rest = createOpenApiHttpHandler({ router: appRouter, createContext, onError, maxBodySize: 256 * 1024 });
  let openapi: unknown;

  return http.createServer((req, res) => {
    const started = process.hrtime.bigint();
    const path = (req.url ?? '/').split('?')[0]!;
    const group = path.startsWith('/trpc/') ? 'trpc' : path.startsWith('/api/') ? 'rest' : path;
    res.on('finish', () => {
      deps.metrics.requests.observe({ route: group, status: String(res.statusCode) }, Number(process.hrtime.bigint() - started) / 1e9);
    });
    const fail = (error: unknown) => {
      deps.log.error({ err: error }, 'unhandled request error');
      if (!res.headersSent) sendJson(res, 500, { code: 'INTERNAL_SERVER_ERROR', message: 'internal error' });
      else res.destroy();
    };

    if (path === '/healthz' && req.method === 'GET') {
      deps.sql`select 1`.then(
        () => sendJson(res, 200, { status: 'ok', database: 'ok' }),
        () => sendJson(res, 503, { status: 'unavailable', database: 'unreachable' }),
      );
      return;
    }
    if (path === '/metrics' && req.method === 'GET') {
      deps.metrics.registry.metrics().then((body) => {
        res.writeHead(200, { 'content-type': deps.metrics.registry.contentType });
        res.end(body);
      }, fail);
      return;
    }
    if (path === '/api/openapi.json' && req.method === 'GET') {
      openapi ??= openApiDocument(publicUrl());
      sendJson(res, 200, openapi);
      return;
    }
    if (path.startsWith('/trpc/')) {
      trpc(req, res);
      return;
    }
    if (path === '/api/v1/users/me/export' && req.method === 'GET') {
      createRequestContext(deps, req, res).then((ctx) => handleExport(req, res, ctx)).catch(fail);
      return;
    }
    if (path.startsWith('/api/')) {
      req.url = req.url!.slice('/api'.length);
      rest(req, res).catch(fail);
      return;
    }
    sendJson(res, 404, { code: 'NOT_FOUND', message: `no route ${req.method} ${path}` });
  });
}
