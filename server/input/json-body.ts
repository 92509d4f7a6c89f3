/**
 * Reads a JSON request body before the tRPC and OpenAPI adapters do, so that a body that is not
 * JSON gets one clear 400 on both transports (the adapters answered "Failed to parse request
 * body", or worse). Both adapters take a body already read from `req.body`.
 */
import type { IncomingMessage } from 'node:http';
import { TRPCError } from '@trpc/server';

/** reads and checks the body, then leaves it on req.body for the adapter */
export async function preReadJsonBody(req: IncomingMessage & { body?: unknown }, maxBytes: number, keepText: boolean): Promise<void> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new TRPCError({ code: 'PAYLOAD_TOO_LARGE', message: `the request body is larger than ${maxBytes} bytes` });
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') {
    req.body = undefined;
    return;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new TRPCError({ code: 'BAD_REQUEST', message: `the request body is not valid JSON (${(error as Error).message})` });
  }
  req.body = keepText ? text : parsed;
}
