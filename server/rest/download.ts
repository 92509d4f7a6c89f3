/**
 * A document served as a file rather than in the tRPC envelope: JSON as it is, CSV as an
 * attachment, HTML as a page. The procedure decides what it returns; this only writes it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { TRPCError } from '@trpc/server';
import type { z } from 'zod';
import { toTRPCError } from '../errors.js';
import { appRouter } from '../routers/index.js';
import { createCallerFactory, type RequestContext } from '../trpc.js';
import { sendError } from './respond.js';

export const createCaller = createCallerFactory(appRouter);
export type Caller = ReturnType<typeof createCaller>;

export type Download = { format: 'json'; filename: string; content: unknown } | { format: 'csv' | 'html'; filename: string; content: string };

const TYPES = { json: 'application/json; charset=utf-8', csv: 'text/csv; charset=utf-8', html: 'text/html; charset=utf-8' } as const;

/** parses the query with `query`, asks `produce` for the document, and sends it */
export async function sendDownload<Q extends z.ZodType>(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, query: Q,
  produce: (caller: Caller, input: z.infer<Q>) => Promise<Download>) {
  try {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const parsed = query.safeParse(Object.fromEntries(url.searchParams));
    if (!parsed.success) {
      throw new TRPCError({ code: 'BAD_REQUEST', message: `the query is not valid: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}` });
    }
    const file = await produce(createCaller(ctx), parsed.data);
    const body = file.format === 'json' ? JSON.stringify(file.content, null, 2) : file.content;
    res.writeHead(200, {
      'content-type': TYPES[file.format],
      // a page is shown; a file is saved
      'content-disposition': `${file.format === 'html' ? 'inline' : 'attachment'}; filename="${file.filename}"`,
      'cache-control': 'no-store',
      // the record's page is self-contained: nothing it shows may load or run anything
      ...(file.format === 'html' ? { 'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'" } : {}),
    });
    res.end(body);
  } catch (error) {
    sendError(res, toTRPCError(error));
  }
}
