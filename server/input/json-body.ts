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

/**
 * The body as text. One over maxBytes is refused as soon as it passes the limit, without reading
 * the rest: the caller answers with `Connection: close` (bodyLeftUnread), since on a kept-alive
 * connection the unread rest would be taken for the next request, and answers would go to the
 * wrong requests.
 */
function readBody(req: IncomingMessage, maxBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', reject);
    };
    function onData(chunk: Buffer) {
      size += chunk.length;
      if (size <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      stop();
      req.pause();
      reject(new TRPCError({ code: 'PAYLOAD_TOO_LARGE', message: `the request body is larger than ${maxBytes} bytes` }));
    }
    function onEnd() {
      stop();
      resolve(Buffer.concat(chunks).toString('utf8'));
    }
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', reject);
  });
}

/**
 * A request that carries no body and names no type (a bodyless action such as signing out) is
 * taken as JSON with nothing in it, so both adapters run its procedure rather than answering 415;
 * a body of another type is still refused.
 */
export function treatBodylessAsJson(req: IncomingMessage): void {
  const length = req.headers['content-length'];
  const bodyless = req.headers['transfer-encoding'] === undefined && (length === undefined || length === '0');
  if (bodyless && req.headers['content-type'] === undefined) req.headers['content-type'] = 'application/json';
}

/** whether an answer must close its connection: the request's body was left unread */
export const bodyLeftUnread = (error: unknown) => error instanceof TRPCError && error.code === 'PAYLOAD_TOO_LARGE';

/** reads and checks the body, then leaves it on req.body for the adapter */
export async function preReadJsonBody(req: IncomingMessage & { body?: unknown }, maxBytes: number, keepText: boolean): Promise<void> {
  const text = await readBody(req, maxBytes);
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
