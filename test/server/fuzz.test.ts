/**
 * Property-based tests over every REST route and every tRPC procedure, enumerated from the
 * router, so a new route is covered without editing this file. Hostile input of every
 * kind, with every kind of token. Properties: no 5xx; no stack trace or SQL text in a response; a
 * refused request changes nothing; a mutation that succeeds leaves an audit row.
 *
 * FUZZ_RUNS sets the runs per procedure and transport (default 12; `npm run fuzz` runs 300).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { signDevelopmentToken } from '../../server/auth/token.js';
import { appRouter } from '../../server/routers/index.js';
import { useServer } from './harness.js';

const api = useServer();
const RUNS = Number(process.env.FUZZ_RUNS ?? 12);
// a loaded two-core machine runs other files beside this one; a request that hangs fails on its
// own deadline, naming itself, long before the test's
const REQUEST_DEADLINE_MS = 60_000;
const TEST_DEADLINE_MS = 2 * REQUEST_DEADLINE_MS + RUNS * 2_000;

type Schema = { _zod?: { def?: { type?: string; innerType?: Schema; in?: Schema; shape?: Record<string, Schema> } } };
interface Procedure {
  name: string;
  type: 'query' | 'mutation';
  rest: { method: string; path: string };
  fields: string[];
}

function fieldsOf(schema: Schema | undefined): string[] {
  let current = schema;
  for (let depth = 0; depth < 10 && current?._zod?.def; depth += 1) {
    const def = current._zod.def;
    if (def.type === 'object') return Object.keys(def.shape ?? {});
    current = def.type === 'pipe' ? def.in : def.innerType;
  }
  return [];
}

const procedures: Procedure[] = Object.entries(appRouter._def.procedures as unknown as Record<string, {
  _def: { type: 'query' | 'mutation'; inputs: Schema[]; meta?: { openapi?: { method: string; path: string } } };
}>).map(([name, p]) => ({ name, type: p._def.type, rest: p._def.meta!.openapi!, fields: fieldsOf(p._def.inputs[0]) }));

/** values no input should choke on */
const hostile = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('\u0000', 'a\u0000b', "'; drop table compliance.audit_logs; --", '$1', '%00', '%ff', '\ud800', '../../etc/passwd',
    'a'.repeat(300_000), 'true', '0', '', ' ', '9223372036854775808', '-1', '1e309', 'user:alice', '00000000-0000-0000-0000-000000000000'),
  fc.constantFrom(JSON.parse('{"__proto__": {"polluted": true}}'), { constructor: { prototype: { polluted: true } } }, [], [[[]]], {}, null, true, 1.5, -0),
);

/** an input object: known fields with hostile values, sometimes unknown ones too */
const inputFor = (procedure: Procedure) => fc.oneof(
  fc.record(Object.fromEntries(procedure.fields.map((field) => [field, hostile])), { requiredKeys: [] }),
  fc.dictionary(fc.oneof(fc.constantFrom(...procedure.fields, '__proto__', 'constructor', 'prototype'), fc.string()), hostile, { maxKeys: 4 }),
  hostile,
);

const bodyText = (procedure: Procedure) => fc.oneof(
  inputFor(procedure).map((value) => JSON.stringify(value) ?? 'null'),
  fc.constantFrom('{"full_name": ', '[', 'nul\u0000l', '{"a":1}{"b":2}', `${'['.repeat(100_000)}${']'.repeat(100_000)}`,
    `${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}`, 'consent_type=analytics&granted=true', ''),
  fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from([0xff, 0xfe, ...bytes]).toString('latin1')),
);

const contentType = fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'application/xml', undefined);
type TokenKind = 'subject' | 'dpo' | 'none' | 'forged' | 'expired' | 'garbage';
const tokenKind = fc.constantFrom<TokenKind>('subject', 'dpo', 'none', 'forged', 'expired', 'garbage');

async function token(kind: TokenKind): Promise<string | undefined> {
  switch (kind) {
    case 'subject': return signDevelopmentToken({ subject: 'user:fuzzed' });
    case 'dpo': return signDevelopmentToken({ subject: 'dpo:fuzzer', roles: ['dpo'] });
    case 'forged': return (await signDevelopmentToken({ subject: 'user:fuzzed', roles: ['dpo'] })).replace(/.{4}$/, 'AAAA');
    case 'expired': return signDevelopmentToken({ subject: 'user:fuzzed', ttlSeconds: -60 });
    case 'garbage': return 'not.a.jwt';
    default: return undefined;
  }
}

async function fingerprint() {
  const [row] = await api.db.admin`select
    (select count(*) from compliance.audit_logs where action <> 'security.request_refused') as audit,
    (select count(*) from compliance.user_profiles) as profiles,
    (select count(*) from compliance.consent_records) as consents, (select count(*) from compliance.conversations) as conversations,
    (select count(*) from compliance.messages) as messages, (select count(*) from compliance.dsr_requests) as requests,
    (select count(*) from compliance.legal_holds) as holds, (select count(*) from compliance.user_preferences) as preferences,
    (select count(*) from compliance.sessions) as sessions, (select count(*) from compliance_private.erased_subjects) as erased`;
  return row as Record<string, string>;
}

const LEAKS = /\n\s+at .+:\d+:\d+|PostgresError|ZodError|syntax error at or near|\bselect .+ from\b|compliance_private\.|node_modules/i;
// an answer may quote SQL on purpose (an evidence manifest holds each population's query);
// an internal trace never
const ANSWER_LEAKS = /\n\s+at .+:\d+:\d+|PostgresError|ZodError|syntax error at or near|node_modules/i;

/** the requests before a hang, named in its error: the cause may be the one before */
const recent: string[] = [];

async function send(method: string, path: string, tokenValue: string | undefined, body: string | undefined, type: string | undefined) {
  recent.push(`${method} ${path.slice(0, 80)} (${type}) ${String(body).length} bytes: ${String(body).slice(0, 80)}`);
  if (recent.length > 4) recent.shift();
  const headers: Record<string, string> = {};
  if (tokenValue) headers.authorization = `Bearer ${tokenValue}`;
  if (type && body !== undefined) headers['content-type'] = type;
  const signal = AbortSignal.timeout(REQUEST_DEADLINE_MS);
  try {
    const response = await fetch(`${api.baseUrl}${path}`, { method, headers, body: method === 'GET' ? undefined : body, signal });
    return { status: response.status, text: await response.text() };
  } catch (error) {
    if (!signal.aborted) throw error;
    throw new Error(`no answer within ${REQUEST_DEADLINE_MS} ms; the last requests:\n${recent.join('\n')}`);
  }
}

async function check(procedure: Procedure, request: () => Promise<{ status: number; text: string }>) {
  const before = await fingerprint();
  const response = await request();
  const after = await fingerprint();
  expect(response.status, `${procedure.name}: ${response.text.slice(0, 300)}`).toBeLessThan(500);
  expect(response.text, procedure.name).not.toMatch(response.status >= 400 ? LEAKS : ANSWER_LEAKS);
  if (response.status >= 400) expect(after, `${procedure.name} refused (${response.status}) yet changed something`).toEqual(before);
  else if (procedure.type === 'mutation') expect(Number(after.audit), `${procedure.name} succeeded without an audit row`).toBeGreaterThan(Number(before.audit));
}

/** percent-encodes any string, lone surrogates too (their UTF-8 bytes, as a careless client would send them) */
function encodeSegment(value: string): string {
  return [...Buffer.from(value, 'utf8')].map((byte) => (/[A-Za-z0-9_.~-]/.test(String.fromCharCode(byte)) ? String.fromCharCode(byte) : `%${byte.toString(16).padStart(2, '0')}`)).join('');
}

const fillPath = (path: string) => fc.array(hostile.map((v) => encodeSegment(typeof v === 'string' ? v : JSON.stringify(v) ?? '')), { minLength: 3, maxLength: 3 })
  .map((values) => { let i = 0; return path.replace(/\{[^}]+\}/g, () => values[i++] || 'x'); });

describe('every procedure, over tRPC', () => {
  for (const procedure of procedures) {
    it(`${procedure.name}: hostile input, any token`, async () => {
      await fc.assert(fc.asyncProperty(tokenKind, bodyText(procedure), contentType, async (kind, body, type) => {
        const value = await token(kind);
        await check(procedure, () => procedure.type === 'query'
          ? send('GET', `/trpc/${procedure.name}?input=${encodeURIComponent(body)}`, value, undefined, undefined)
          : send('POST', `/trpc/${procedure.name}`, value, body, type));
      }), { numRuns: RUNS });
    }, TEST_DEADLINE_MS);
  }
});

describe('every procedure, over REST', () => {
  for (const procedure of procedures) {
    it(`${procedure.rest.method} ${procedure.rest.path}: hostile input, any token`, async () => {
      const query = fc.dictionary(fc.oneof(fc.constantFrom(...procedure.fields, '__proto__', 'constructor'), fc.string({ maxLength: 8 })),
        hostile.map((v) => (typeof v === 'string' ? v : JSON.stringify(v) ?? '')), { maxKeys: 4 });
      await fc.assert(fc.asyncProperty(tokenKind, fillPath(procedure.rest.path), query, bodyText(procedure), contentType,
        async (kind, path, params, body, type) => {
          const value = await token(kind);
          const search = new URLSearchParams(params).toString();
          await check(procedure, () => send(procedure.rest.method, `/api${path}${search ? `?${search}` : ''}`, value,
            procedure.rest.method === 'GET' ? undefined : body, type));
        }), { numRuns: RUNS });
    }, TEST_DEADLINE_MS);
  }
});

describe('inputs the fuzzer once turned into a 500', () => {
  // a DPO of their own: the runs above may have erased the fuzzer's ids, which then answer ERASD
  const dpoToken = () => signDevelopmentToken({ subject: 'dpo:fixed-examples', roles: ['dpo'] });

  it('refuses a month in year 0 with 400 (22008 as the input\'s fault)', async () => {
    const dpo = await dpoToken();
    for (const month of ['0000-01', '0001-12', '1899-12']) {
      const answer = await send('POST', '/api/v1/reports/monthly', dpo, JSON.stringify({ month }), 'application/json');
      expect(answer.status, `${month}: ${answer.text}`).toBe(400);
    }
  });

  it('refuses an instant beyond year 9999 with 400 on tRPC as on REST', async () => {
    const dpo = await dpoToken();
    const trpc = await send('GET', `/trpc/phi.auditEvents?input=${encodeURIComponent(JSON.stringify({ since: 1e15 }))}`, dpo, undefined, undefined);
    expect(trpc.status, trpc.text).toBe(400);
    const rest = await send('GET', '/api/v1/phi/audit-events?since=1e15', dpo, undefined, undefined);
    expect(rest.status, rest.text).toBe(400);
    const far = await send('GET', `/api/v1/evidence/breaches?from=${encodeURIComponent('+033658-09-27T01:46:40.000Z')}&to=2030-01-01T00:00:00Z`, dpo, undefined, undefined);
    expect(far.status, far.text).toBe(400);
  });
});
