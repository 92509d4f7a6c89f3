/** JSON responses the HTTP layer sends itself, outside the tRPC and OpenAPI adapters. */
import type { ServerResponse } from 'node:http';
import type { TRPCError } from '@trpc/server';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import { TRPC_ERROR_CODES_BY_KEY } from '@trpc/server/rpc';

export function sendJson(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

export function sendError(res: ServerResponse, error: TRPCError) {
  sendJson(res, getHTTPStatusCodeFromError(error), { code: error.code, message: error.message });
}

/** an error refused before the tRPC adapter ran, in the shape tRPC clients read */
export function sendTrpcError(res: ServerResponse, error: TRPCError) {
  const httpStatus = getHTTPStatusCodeFromError(error);
  sendJson(res, httpStatus, { error: { message: error.message, code: TRPC_ERROR_CODES_BY_KEY[error.code], data: { code: error.code, httpStatus, sqlstate: null } } });
}
