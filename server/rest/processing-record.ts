/** GET /api/v1/dpo/processing-record?format=json|csv|html: the record of processing as a file, or as a page to hand over. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { RequestContext } from '../trpc.js';
import { sendDownload } from './download.js';

const query = z.strictObject({ format: z.enum(['json', 'csv', 'html']).default('json') });

export function handleProcessingRecord(req: IncomingMessage, res: ServerResponse, ctx: RequestContext) {
  return sendDownload(req, res, ctx, query, async (caller, input) => {
    const result = await caller.dpo.processing.record(input);
    if (input.format === 'json') return { format: 'json', filename: `record_of_processing_${new Date().toISOString().slice(0, 10)}.json`, content: result };
    return result as { format: 'csv' | 'html'; filename: string; content: string };
  });
}
