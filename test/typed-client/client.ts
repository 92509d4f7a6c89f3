/**
 * A TypeScript application's client, as the README shows it: the server's router type, nothing
 * else shared. This folder is a TypeScript project of its own; the suite type-checks it
 * (test/server/typed-client.test.ts), so an output without a schema, typed {}, fails there.
 */
import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import type { inferRouterOutputs } from '@trpc/server';
import type { AppRouter } from '../../server/routers/index.js';

export type Outputs = inferRouterOutputs<AppRouter>;

export function pgcomplyClient(baseUrl: string, token: string) {
  return createTRPCClient<AppRouter>({
    links: [httpLink({ url: `${baseUrl}/trpc`, headers: { authorization: `Bearer ${token}` } })],
  });
}

/** the subject's name from everything held about them (me.data), and a refusal's SQLSTATE */
export async function readMyData(baseUrl: string, token: string) {
  const client = pgcomplyClient(baseUrl, token);
  const data: Outputs['me']['data'] = await client.me.data.query();
  const fullName: string | null = data.profile?.full_name ?? null;
  const consents: string[] = data.consents.map((c) => `${c.purpose}:${c.granted}`);
  let refusal: string | null = null;
  try {
    await client.me.erase.mutate({ confirm: false });
  } catch (error) {
    if (error instanceof TRPCClientError) refusal = (error.data as { sqlstate?: string } | undefined)?.sqlstate ?? null;
  }
  return { fullName, consents, healthRecords: data.health_records.length, refusal };
}
