/**
 * Reads a JSON request body before the tRPC and OpenAPI adapters do, so that a body that is not
 * JSON gets one clear 400 on both transports (the adapters answered "Failed to parse request
 * body", or worse). Both adapters take a body already read from `req.body`.
 */
import type { IncomingMessage } from 'node:http';
import { TRPCError } from '@trpc/server';

/** deeper bodies are refused: nothing the API takes nests this far, and the adapters recurse */
export const MAX_JSON_DEPTH = 64;

/** how deeply the JSON text nests arrays and objects (strings skipped), stopping once past limit */
export function jsonDepth(text: string, limit: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i += 1; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) {
      depth += 1;
      if (depth > deepest && (deepest = depth) > limit) return deepest;
    } else if (c === 93 || c === 125) depth -= 1;
  }
  return deepest;
}

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
  if (jsonDepth(text, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
    throw new TRPCError({ code: 'BAD_REQUEST', message: `the request body nests deeper than ${MAX_JSON_DEPTH} levels` });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new TRPCError({ code: 'BAD_REQUEST', message: `the request body is not valid JSON (${(error as Error).message})` });
  }
  req.body = keepText ? text : parsed;
}
