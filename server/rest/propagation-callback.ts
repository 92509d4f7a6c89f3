/**
 * POST /api/v1/propagation/callback: another system confirms a request pgcomply sent it. The
 * system signs the body with its own secret (core/signing.ts), which the server checks before the
 * database sees anything; a body that does not verify is refused (401) and recorded as a refused
 * request. The database then takes the confirmation as compliance_receiver, for that system's own
 * tasks only, and a confirmed task stays confirmed, so a replayed callback changes nothing.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { systemSecret, verifySignature } from '../../core/signing.js';
import { toTRPCError } from '../errors.js';
import { preReadJsonBody } from '../input/json-body.js';
import type { RequestContext } from '../trpc.js';
import { recordRefusal } from '../request/refusals.js';
import { sendError, sendJson } from './respond.js';

/** an export's part may come back with the confirmation */
const MAX_CALLBACK_BYTES = 80 * 1024;

const callback = z.strictObject({
  task_id: z.union([z.string().regex(/^\d{1,18}$/), z.number().int().positive()]).transform(String),
  system: z.string().regex(/^[a-z][a-z0-9_]{0,62}$/),
  outcome: z.enum(['done', 'nothing_held']),
  response: z.string().max(65_536).optional(),
});

export async function handlePropagationCallback(req: IncomingMessage & { body?: unknown }, res: ServerResponse, ctx: RequestContext,
  propagationSecret: string | undefined) {
  try {
    if (!propagationSecret) {
      throw new TRPCError({ code: 'NOT_FOUND', message: 'callbacks are not configured here (PROPAGATION_SECRET is not set)' });
    }
    await preReadJsonBody(req, MAX_CALLBACK_BYTES, true);
    const text = typeof req.body === 'string' ? req.body : '';
    const parsed = callback.safeParse(text ? JSON.parse(text) : undefined);
    if (!parsed.success) {
      throw new TRPCError({ code: 'BAD_REQUEST', message: `a callback is {"task_id", "system", "outcome": "done" | "nothing_held", "response"?} (${parsed.error.issues[0]?.message})` });
    }
    const { task_id: taskId, system, outcome, response } = parsed.data;
    const header = (name: string) => [req.headers[name]].flat()[0];
    if (!verifySignature(systemSecret(propagationSecret, system), header('x-pgcomply-timestamp'), text, header('x-pgcomply-signature'))) {
      await recordRefusal(ctx, 'invalid_token', 'a propagation callback whose signature does not verify, or is older than 5 minutes');
      throw new TRPCError({ code: 'UNAUTHORIZED', message: 'the callback\'s signature does not verify with that system\'s secret, or its timestamp is more than 5 minutes off' });
    }
    const [task] = await ctx.sql.begin(async (tx) => {
      await tx`select set_config('role', 'compliance_receiver', true)`;
      await tx`select compliance.set_request_context(${`system:${system}`}, array['receiver'], ${ctx.clientIp}::inet, ${ctx.userAgent})`;
      return tx`select id::text, state, request_id::text from compliance.record_propagation_callback(${taskId}::bigint, ${outcome}, ${response ?? null})`;
    });
    sendJson(res, 200, task);
  } catch (error) {
    sendError(res, toTRPCError(error));
  }
}
