/** GET /api/v1/users/me/export?format=json|csv: the portable export as a file download. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { exportFormat } from '../schemas.js';
import type { RequestContext } from '../trpc.js';
import { sendDownload } from './download.js';

const query = z.strictObject({ format: exportFormat.default('json') });

export function handleExport(req: IncomingMessage, res: ServerResponse, ctx: RequestContext) {
  return sendDownload(req, res, ctx, query, async (caller, input) => {
    const result = await caller.me.export(input);
    return result.format === 'csv'
      ? { format: 'csv', filename: result.filename, content: result.content as string }
      : { format: 'json', filename: result.filename, content: result.content };
  });
}
