/**
 * Query strings for the REST routes, read before trpc-to-openapi sees them (it takes
 * `req.query` when one is set). Two reasons:
 * - A query string carries text. A boolean input accepts exactly the words `true` and
 *   `false`; any other text stays text and fails the input schema. The adapter's own answer
 *   was to turn the schemas into coercing ones, which made `confirm=false` a confirmation.
 * - Keys such as `constructor` and `__proto__` broke the adapter's plain-object lookups (500);
 *   they are refused with 400.
 */
import type { IncomingMessage } from 'node:http';
import { TRPCError } from '@trpc/server';
import type { AnyTRPCRouter } from '@trpc/server';

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

type Schema = { _zod?: { def?: { type?: string; innerType?: Schema; in?: Schema; shape?: Record<string, Schema> } } };

/** the schema under optional, default, catch and pipe wrappers */
function core(schema: Schema | undefined): Schema | undefined {
  let current = schema;
  for (let depth = 0; depth < 10 && current?._zod?.def; depth += 1) {
    const def = current._zod.def;
    if (['optional', 'default', 'prefault', 'catch', 'nullable', 'readonly'].includes(def.type!)) current = def.innerType;
    else if (def.type === 'pipe') current = def.in;
    else break;
  }
  return current;
}

/** for each REST route, the names of its inputs that are booleans */
export function booleanQueryKeys(router: AnyTRPCRouter): Map<string, Set<string>> {
  const routes = new Map<string, Set<string>>();
  const procedures = router._def.procedures as Record<string, { _def: { meta?: { openapi?: { method: string; path: string } }; inputs: Schema[] } }>;
  for (const procedure of Object.values(procedures)) {
    const openapi = procedure._def.meta?.openapi;
    const input = core(procedure._def.inputs[0]);
    if (!openapi || input?._zod?.def?.type !== 'object') continue;
    const keys = new Set(Object.entries(input._zod.def.shape ?? {})
      .filter(([, field]) => core(field)?._zod?.def?.type === 'boolean')
      .map(([key]) => key));
    routes.set(`${openapi.method} ${openapi.path}`, keys);
  }
  return routes;
}

/** for each REST path, the methods it answers (the export route is served outside the adapter, and listed too) */
export function restMethods(router: AnyTRPCRouter): Map<string, string[]> {
  const paths = new Map<string, string[]>();
  const procedures = router._def.procedures as Record<string, { _def: { meta?: { openapi?: { method: string; path: string } } } }>;
  for (const procedure of Object.values(procedures)) {
    const openapi = procedure._def.meta?.openapi;
    if (!openapi) continue;
    paths.set(openapi.path, [...(paths.get(openapi.path) ?? []), openapi.method].sort());
  }
  return paths;
}

/** a matcher from request path to route template (`/v1/dpo/subjects/{user_id}`), patterns compiled once */
export function routeMatcher(templates: Iterable<string>): (path: string) => string | undefined {
  // a literal segment wins over a parameter (/v1/dpo/requests/x before /v1/dpo/{...}): the method check names the route that answers
  const parameters = (template: string) => (template.match(/\{/g) ?? []).length;
  const patterns = [...templates].sort((a, b) => parameters(a) - parameters(b)).map((template) => ({
    template,
    pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}/g, '[^/]+')}$`),
  }));
  return (path) => patterns.find(({ pattern }) => pattern.test(path))?.template;
}

/** parses req's query string into req.query, for the route `METHOD /template` (path without /api) */
export function prepareQuery(req: IncomingMessage & { query?: unknown }, route: string, booleans: Map<string, Set<string>>): void {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const flags = booleans.get(route);
  const query: Record<string, unknown[]> = Object.create(null);
  for (const [key, value] of url.searchParams) {
    if (FORBIDDEN_KEYS.has(key)) {
      throw new TRPCError({ code: 'BAD_REQUEST', message: `query parameter ${JSON.stringify(key)} is not accepted` });
    }
    const typed = flags?.has(key) && (value === 'true' || value === 'false') ? value === 'true' : value;
    (query[key] ??= []).push(typed);
  }
  req.query = query;
}

/**
 * trpc-to-openapi hands path parameters over as they stand in the URL, still percent-encoded
 * (`user%3Aalice`). Each path segment is decoded here when its text survives the adapter's URL
 * parsing unchanged; a segment with a slash, a space or other characters URLs must encode
 * stays encoded (and such a user id reaches the procedure encoded: use the tRPC route for it).
 */
export function decodePathSegments(url: string): string {
  const query = url.indexOf('?');
  const pathname = query === -1 ? url : url.slice(0, query);
  const decoded = pathname.split('/').map((segment) => {
    try {
      const text = decodeURIComponent(segment);
      return /[/\s"#<>?`{}%\u0000-\u001f\u007f-\uffff]/.test(text) ? segment : text;
    } catch {
      return segment;
    }
  });
  return decoded.join('/') + (query === -1 ? '' : url.slice(query));
}
