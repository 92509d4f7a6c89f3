/** GET /api/v1/users/me/export?format=json|csv: the portable export as a file download. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { exportFormat } from '../schemas.js';
import { appRouter } from '../routers/index.js';
import { createCallerFactory, type RequestContext } from '../trpc.js';
import { toTRPCError } from '../errors.js';
import { sendError } from './respond.js';

const createCaller = createCallerFactory(appRouter);
const query = z.strictObject({ format: exportFormat.default('json') });

export async function handleExport(req: IncomingMessage, res: ServerResponse, ctx: RequestContext) {
  try {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const parsed = query.safeParse(Object.fromEntries(url.searchParams));
    if (!parsed.success) {
      throw new TRPCError({ code: 'BAD_REQUEST', message: `format must be json or csv (${parsed.error.issues[0]?.message})` });
    }
    const result = await createCaller(ctx).me.export(parsed.data);
    const body = result.format === 'csv' ? (result.content as string) : JSON.stringify(result.content, null, 2);
    res.writeHead(200, {
      'content-type': result.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8',
      'content-disposition': `attachment; filename="${result.filename}"`,
      'cache-control': 'no-store',
    });
    res.end(body);
  } catch (error) {
    sendError(res, toTRPCError(error));
  }
}
