/**
 * Every limit the OpenAPI document gives a field the database also checks is the limit the
 * server enforces: the documented boundary is accepted, one past it refused with 400 before the
 * database is asked. A limit documented looser than the SQL (a reason of 1 character where the
 * database needs 20) fails at the boundary; one documented stricter fails past it only if the
 * API does not refuse it, and LIMITS says where both come from.
 */
import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../server/limits.js';
import { useServer } from './harness.js';

const api = useServer();
let serial = 0;
const fresh = (prefix: string) => `${prefix}:limits-${(serial += 1)}`;

async function patient(): Promise<string> {
  const id = fresh('user');
  expect((await api.call('PATCH', '/api/v1/users/me', await api.token(id), { full_name: 'Lim Its' })).status).toBe(200);
  return id;
}

interface Bound { min?: number; max?: number }
type Sent = { status: number; text: string };

/** one field the database bounds: where the document describes it, and a request carrying a value for it */
interface Case {
  name: string;
  method: 'get' | 'post' | 'delete';
  route: string;
  field: string;
  limit: Bound;
  kind: 'string' | 'integer';
  send(value: string | number): Promise<Sent>;
}

const text = (n: number) => 'r'.repeat(n);

const cases: Case[] = [
  {
    name: 'break-glass reason', method: 'post', route: '/v1/staff/patients/{patient_id}/emergency-access', field: 'reason', kind: 'string',
    limit: LIMITS.emergencyReason,
    send: async (reason) => api.call('POST', `/api/v1/staff/patients/${encodeURIComponent(await patient())}/emergency-access`,
      await api.token(fresh('staff'), ['staff']), { reason }),
  },
  {
    name: 'access request reason', method: 'post', route: '/v1/staff/access-requests', field: 'reason', kind: 'string', limit: LIMITS.grantReason,
    send: async (reason) => api.call('POST', '/api/v1/staff/access-requests', await api.token(fresh('staff'), ['staff']),
      { patient_id: await patient(), purpose: 'treatment', reason }),
  },
  {
    name: 'grant days', method: 'post', route: '/v1/approver/access-grants', field: 'days', kind: 'integer', limit: LIMITS.grantDays,
    send: async (days) => api.call('POST', '/api/v1/approver/access-grants', await api.token(fresh('approver'), ['approver']),
      { grantee: fresh('staff'), patient_id: await patient(), purpose: 'treatment', reason: 'ward round', days }),
  },
  {
    name: 'approval days', method: 'post', route: '/v1/approver/access-requests/{grant_id}/approval', field: 'days', kind: 'integer', limit: LIMITS.grantDays,
    send: async (days) => {
      const requested = await api.call('POST', '/api/v1/staff/access-requests', await api.token(fresh('staff'), ['staff']),
        { patient_id: await patient(), purpose: 'treatment', reason: 'ward round' });
      expect(requested.status).toBe(200);
      return api.call('POST', `/api/v1/approver/access-requests/${requested.json.id}/approval`, await api.token(fresh('approver'), ['approver']), { days });
    },
  },
  {
    name: 'erasure reason', method: 'delete', route: '/v1/dpo/subjects/{user_id}', field: 'reason', kind: 'string', limit: LIMITS.erasureReason,
    // a DELETE carries its input in the query string
    send: async (reason) => api.call('DELETE', `/api/v1/dpo/subjects/${encodeURIComponent(await patient())}?confirm=true&reason=${reason}`,
      await api.token('dpo:limits', ['dpo'])),
  },
  {
    name: 'breach description', method: 'post', route: '/v1/dpo/breaches', field: 'description', kind: 'string', limit: LIMITS.breachDescription,
    send: async (description) => api.call('POST', '/api/v1/dpo/breaches', await api.token('dpo:limits', ['dpo']),
      { discovered_at: new Date().toISOString(), description }),
  },
  {
    name: 'subject search', method: 'get', route: '/v1/dpo/subjects', field: 'query', kind: 'string', limit: LIMITS.subjectQuery,
    send: async (query) => api.call('GET', `/api/v1/dpo/subjects?query=${encodeURIComponent(String(query))}`, await api.token('dpo:limits', ['dpo'])),
  },
];

/** the bounds the document gives a field of a request body or a query parameter */
function documented(doc: any, c: Case): Bound {
  const operation = doc.paths[c.route]?.[c.method];
  expect(operation, `${c.method} ${c.route} is documented`).toBeDefined();
  const schema = operation.requestBody?.content?.['application/json']?.schema?.properties?.[c.field]
    ?? operation.parameters?.find((p: any) => p.name === c.field)?.schema;
  expect(schema, `${c.route} documents ${c.field}`).toBeDefined();
  return c.kind === 'string' ? { min: schema.minLength, max: schema.maxLength } : { min: schema.minimum, max: schema.maximum };
}

const value = (c: Case, n: number) => (c.kind === 'string' ? text(n) : n);

describe('the documented limits', () => {
  for (const c of cases) {
    it(`${c.name}: the document's bounds are LIMITS', the boundary is accepted and one past it refused with 400`, async () => {
      const doc = (await api.call('GET', '/api/openapi.json')).json;
      const bound = documented(doc, c);
      expect(bound).toEqual({ min: c.limit.min, max: c.limit.max });
      for (const n of [bound.min!, bound.max!]) {
        const sent = await c.send(value(c, n));
        expect(sent.status, `${c.name} = ${n} (documented as allowed): ${sent.text.slice(0, 300)}`).toBe(200);
      }
      // below a minimum of 1 character is the empty string; an integer goes to min - 1
      for (const n of [bound.min! - 1, bound.max! + 1]) {
        const sent = await c.send(value(c, n));
        expect(sent.status, `${c.name} = ${n} (documented as refused): ${sent.text.slice(0, 300)}`).toBe(400);
      }
    });
  }

  it('a reason of spaces only is no reason: refused before the database (it counts characters after trimming)', async () => {
    const sent = await cases[0]!.send(' '.repeat(40));
    expect(sent.status).toBe(400);
  });
});
