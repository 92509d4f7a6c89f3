/**
 * The README's flow through a client generated from the OpenAPI document (openapi-typescript
 * types, openapi-fetch calls): what a client in any language gets from the document alone.
 * The contract test generates `paths` into ./generated/ first and typechecks this file against it.
 */
import createClient from 'openapi-fetch';
import type { paths } from './generated/api.js';

export async function readmeFlow(baseUrl: string, token: string) {
  const client = createClient<paths>({ baseUrl: `${baseUrl}/api`, headers: { authorization: `Bearer ${token}` } });
  const data = await client.GET('/v1/users/me/data');
  const profile = await client.PATCH('/v1/users/me', { body: { full_name: 'Carol Danvers' } });
  const granted = await client.POST('/v1/users/me/consent', { body: { consent_type: 'analytics', granted: true } });
  const consents = await client.GET('/v1/users/me/consent');
  const csv = await client.GET('/v1/users/me/export', { params: { query: { format: 'csv' } }, parseAs: 'text' });
  const json = await client.GET('/v1/users/me/export', { params: { query: { format: 'json' } } });
  const erased = await client.DELETE('/v1/users/me', { params: { query: { confirm: true } } });
  return {
    data: data.data,
    fullName: profile.data?.full_name,
    recorded: granted.data?.status,
    purposes: consents.data?.consents.map((c) => `${c.purpose}:${c.granted}`),
    csv: { type: csv.response.headers.get('content-type'), body: csv.data },
    json: { type: json.response.headers.get('content-type'), body: json.data },
    erased: erased.data?.message,
  };
}
