/** The HTTP(S) surface: /healthz, /metrics, tRPC under /trpc, REST + OpenAPI under /api, the privacy center and DPO console at / and /dpo. */
import http from 'node:http';
import type { TRPCError } from '@trpc/server';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { createOpenApiNodeHttpHandler } from 'trpc-to-openapi';
import { LOOPBACK_HOST_NAMES } from '../core/config.js';
import { type ContextDeps, createRequestContext } from './context.js';
import { openApiDocument } from './openapi.js';
import { handleExport } from './rest/export.js';
import { handlePropagationCallback } from './rest/propagation-callback.js';
import { handleProcessingRecord } from './rest/processing-record.js';
import { sendError, sendJson, sendTrpcError } from './rest/respond.js';
import { bodyLeftUnread, preReadJsonBody, treatBodylessAsJson } from './input/json-body.js';
import { registerDatabaseMetrics } from './metrics.js';
import { booleanQueryKeys, decodePathSegments, prepareQuery, restMethods, routeMatcher } from './rest/query.js';
import { appRouter } from './routers/index.js';
import { MAX_BODY_BYTES, MAX_HEALTH_RECORD_BODY_BYTES } from './schemas.js';
import { toTRPCError } from './errors.js';
import { serveWeb, type WebOptions } from './pages.js';
import { type ApiServer, createServer, type Transport } from './transport.js';

/** health records may be up to 1 MiB of JSON; every other body stays small */
function bodyLimit(path: string): number {
  return /^\/trpc\/(me\.health\.|staff\.)|^\/api\/v1\/(users\/me\/health-records|staff\/)/.test(path) ? MAX_HEALTH_RECORD_BODY_BYTES : MAX_BODY_BYTES;
}

export function createApp(deps: ContextDeps, web?: WebOptions, transport: Transport = {}): ApiServer {
  registerDatabaseMetrics(deps.metrics, deps.sql);
  const createContext = ({ req, res }: { req: http.IncomingMessage | Request; res: http.ServerResponse }) => createRequestContext(deps, req, res);
  const onError = ({ error }: { error: { code: string; cause?: unknown } }) => {
    if (error.code === 'INTERNAL_SERVER_ERROR') deps.log.error({ err: error.cause ?? error }, 'request failed');
  };
  const trpc = createHTTPHandler({ router: appRouter, createContext, basePath: '/trpc/', onError, maxBodySize: MAX_HEALTH_RECORD_BODY_BYTES });
  // the Node handler, not the standalone one: that one turns the request into a fetch Request
  // first, which drops the query prepared below and answers invalid JSON with a 500
  const rest = createOpenApiNodeHttpHandler({ router: appRouter, onError, maxBodySize: MAX_HEALTH_RECORD_BODY_BYTES,
    createContext: ({ req, res }) => createRequestContext(deps, req as http.IncomingMessage, res as http.ServerResponse) });
  const booleans = booleanQueryKeys(appRouter);
  const methods = restMethods(appRouter);
  const routeTemplate = routeMatcher(methods.keys());
  let openapi: unknown;

  const allowedHosts = new Set(deps.allowedHosts ?? LOOPBACK_HOST_NAMES);
  /** each route: when it applies, and what answers; the first that applies answers */
  const routes: Route[] = [
    { when: (method, path) => method === 'GET' && path === '/healthz', answer: (_req, res) => {
      deps.sql`select 1`.then(
        () => sendJson(res, 200, { status: 'ok', database: 'ok' }),
        () => sendJson(res, 503, { status: 'unavailable', database: 'unreachable' }),
      );
    } },
    { when: (method, path) => method === 'GET' && path === '/metrics', answer: (_req, res, _path, fail) => {
      deps.metrics.registry.metrics().then((body) => {
        res.writeHead(200, { 'content-type': deps.metrics.registry.contentType });
        res.end(body);
      }, fail);
    } },
    { when: (method, path) => method === 'GET' && path === '/api/openapi.json', answer: (_req, res) => {
      openapi ??= openApiDocument();
      sendJson(res, 200, openapi);
    } },
    { when: (method, path) => path.startsWith('/trpc/') && method !== 'POST', answer: (req, res) => trpc(req, res) },
    { when: (_method, path) => path.startsWith('/trpc/'), answer: (req, res, path, fail) => {
      treatBodylessAsJson(req);
      preReadJsonBody(req, bodyLimit(path), true).then(() => trpc(req, res), (error: unknown) => refuse(res, error, sendTrpcError)).catch(fail);
    } },
    { when: (method, path) => method === 'GET' && path === '/api/v1/users/me/export', answer: (req, res, _path, fail) => {
      createRequestContext(deps, req, res).then((ctx) => handleExport(req, res, ctx)).catch(fail);
    } },
    { when: (method, path) => method === 'GET' && path === '/api/v1/dpo/processing-record', answer: (req, res, _path, fail) => {
      createRequestContext(deps, req, res).then((ctx) => handleProcessingRecord(req, res, ctx)).catch(fail);
    } },
    { when: (method, path) => method === 'POST' && path === '/api/v1/propagation/callback', answer: (req, res, _path, fail) => {
      createRequestContext(deps, req, res).then((ctx) => handlePropagationCallback(req, res, ctx, deps.propagationSecret)).catch(fail);
    } },
    { when: (_method, path) => path.startsWith('/api/'), answer: (req, res, path, fail) => {
      const template = routeTemplate(path.slice('/api'.length));
      const allowed = template ? methods.get(template) : undefined;
      if (allowed && !allowed.includes(req.method ?? '')) {
        res.setHeader('allow', allowed.join(', '));
        sendJson(res, 405, { code: 'METHOD_NOT_SUPPORTED', message: `${req.method} is not allowed on ${path}; use ${allowed.join(', ')}` });
        return;
      }
      req.url = decodePathSegments(req.url!.slice('/api'.length));
      if (req.method === 'POST') treatBodylessAsJson(req);
      const json = req.headers['content-type']?.toLowerCase().startsWith('application/json') ?? false;
      Promise.resolve()
        .then(() => {
          prepareQuery(req, `${req.method} ${template}`, booleans);
          // the adapter parses a body only when its type is exactly application/json
          if (json) req.headers['content-type'] = 'application/json';
          return json ? preReadJsonBody(req, bodyLimit(path), false) : undefined;
        })
        .then(() => rest(req, res), (error: unknown) => refuse(res, error, sendError))
        .catch(fail);
    } },
    { when: () => web !== undefined, answer: (req, res, path) => {
      if (!serveWeb(web!, req, res, path)) notFound(req, res, path);
    } },
  ];

  const server = createServer(transport, (req, res) => {
    const started = process.hrtime.bigint();
    const path = (req.url ?? '/').split('?')[0]!;
    // no answer is sniffed into something it is not
    res.setHeader('x-content-type-options', 'nosniff');
    // a page whose own name was rebound to this address must not read or act here (DNS
    // rebinding); liveness probes name the pod's address, and learn only that it is up
    if (!allowedHosts.has(hostName(req.headers.host)) && path !== '/healthz') {
      sendJson(res, 421, { code: 'MISDIRECTED_REQUEST', message: 'this server does not answer for that host name (ALLOWED_HOSTS)' });
      return;
    }
    const group = path.startsWith('/trpc/') ? 'trpc' : path.startsWith('/api/') ? 'rest' : path;
    res.on('finish', () => {
      deps.metrics.requests.observe({ route: group, status: String(res.statusCode) }, Number(process.hrtime.bigint() - started) / 1e9);
    });
    const fail = (error: unknown) => {
      deps.log.error({ err: error }, 'unhandled request error');
      if (!res.headersSent) sendJson(res, 500, { code: 'INTERNAL_SERVER_ERROR', message: 'internal error' });
      else res.destroy();
    };
    const route = routes.find((r) => r.when(req.method ?? 'GET', path));
    if (route) route.answer(req, res, path, fail);
    else notFound(req, res, path);
  });
  // an idle connection is closed by the client, not by us at the moment it sends the next
  // request (Node's 5 s default races clients and load balancers, whose idle limit is often 60 s)
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  return server;
}

interface Route {
  when: (method: string, path: string) => boolean;
  answer: (req: http.IncomingMessage, res: http.ServerResponse, path: string, fail: (error: unknown) => void) => void;
}

/** answers a request refused before its adapter ran; one whose body was left unread closes its connection */
function refuse(res: http.ServerResponse, error: unknown, send: (res: http.ServerResponse, error: TRPCError) => void) {
  if (bodyLeftUnread(error)) res.setHeader('connection', 'close');
  send(res, toTRPCError(error));
}

function notFound(req: http.IncomingMessage, res: http.ServerResponse, path: string) {
  sendJson(res, 404, { code: 'NOT_FOUND', message: `no route ${req.method} ${path}` });
}

/** the Host header's name without the port, lower case; '' when there is none */
function hostName(host: string | undefined): string {
  if (!host) return '';
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0]!;
  return name.toLowerCase();
}
