/** The typed tRPC client the pages use: the same API, the same refusals, as every other client. */
import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import type { AppRouter } from '../../server/routers/index.js';

const TOKEN_KEY = 'pgcomply.token';

export const tokenStore = {
  get: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set: (token: string) => sessionStorage.setItem(TOKEN_KEY, token),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

export const api = createTRPCClient<AppRouter>({
  // a call may carry its own token (context.token): sign-out sends the one it is about to forget
  links: [httpLink({ url: '/trpc', headers: ({ op }) => {
    const token = (op.context.token as string | undefined) ?? tokenStore.get();
    return token ? { authorization: `Bearer ${token}` } : {};
  } })],
});

export interface ApiProblem {
  message: string;
  sqlstate: string | null;
  code: string | null;
  /** the API wants a fresh or stronger sign-in first (RFC 9470): what to ask the identity provider for */
  stepUp: { acr_values: string | null; max_age: number | null } | null;
}

export function problemOf(error: unknown): ApiProblem {
  if (error instanceof TRPCClientError) {
    const data = error.data as { sqlstate?: string | null; code?: string; step_up?: ApiProblem['stepUp'] } | undefined;
    return { message: error.message, sqlstate: data?.sqlstate ?? null, code: data?.code ?? null, stepUp: data?.step_up ?? null };
  }
  return { message: error instanceof Error ? error.message : String(error), sqlstate: null, code: null, stepUp: null };
}

export { when } from './formats.js';

/** saves content as a file through the browser's download */
export function download(filename: string, content: string | Uint8Array<ArrayBuffer>, type: string): void {
  const url = URL.createObjectURL(new Blob([content], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
