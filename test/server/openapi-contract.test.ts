/**
 * The API contract holds for clients that are not TypeScript: the OpenAPI document
 * passes an outside validator, lists a REST route for every tRPC procedure, and a client
 * generated from it runs the README's flow.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import SwaggerParser from '@apidevtools/swagger-parser';
import openapiTS, { astToString } from 'openapi-typescript';
import { describe, expect, it } from 'vitest';
import { appRouter } from '../../server/routers/index.js';
import { useServer } from './harness.js';

const api = useServer();
const contractDir = path.resolve('test/server/contract');

async function document() {
  const response = await api.call('GET', '/api/openapi.json');
  expect(response.status).toBe(200);
  return response.json;
}

describe('the OpenAPI document', () => {
  it('is valid OpenAPI, with a relative server URL', async () => {
    const doc = await document();
    await expect(SwaggerParser.validate(structuredClone(doc))).resolves.toBeDefined();
    expect(doc.servers).toEqual([{ url: '/api' }]);
  });

  it('has a REST route for every tRPC procedure', async () => {
    const doc = await document();
    const procedures = Object.entries(appRouter._def.procedures as unknown as Record<string, { _def: { meta?: { openapi?: { method: string; path: string } } } }>);
    const withoutRoute = procedures.filter(([, p]) => !p._def.meta?.openapi).map(([name]) => name);
    expect(withoutRoute).toEqual([]);
    for (const [name, procedure] of procedures) {
      const { method, path: route } = procedure._def.meta!.openapi!;
      expect(doc.paths[route]?.[method.toLowerCase()], `${name}: ${method} ${route}`).toBeDefined();
    }
  });

  it('describes the export as the file it sends, JSON or CSV', async () => {
    const ok = (await document()).paths['/v1/users/me/export'].get.responses['200'];
    expect(Object.keys(ok.content).sort()).toEqual(['application/json', 'text/csv']);
    expect(ok.content['text/csv'].schema.type).toBe('string');
    expect(ok.content['application/json'].schema.properties?.filename).toBeUndefined();
    expect(ok.headers['Content-Disposition']).toBeDefined();
  });
});

describe('a client generated from the document', () => {
  it('compiles against the README flow and runs it', async () => {
    const source = astToString(await openapiTS(await document()));
    mkdirSync(path.join(contractDir, 'generated'), { recursive: true });
    writeFileSync(path.join(contractDir, 'generated', 'api.ts'), source);
    const tsc = spawnSync(process.execPath, [path.resolve('node_modules/typescript/bin/tsc'), '--noEmit', '--strict', '--skipLibCheck',
      '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', path.join(contractDir, 'readme-flow.ts')], { encoding: 'utf8' });
    expect(tsc.stdout + tsc.stderr, 'the README flow typechecks against the generated client').toBe('');

    // a computed path: the project's own typecheck must not need the generated file
    const flowModule = path.join(contractDir, 'readme-flow.ts');
    const { readmeFlow } = (await import(flowModule)) as { readmeFlow: (baseUrl: string, token: string) => Promise<any> };
    const result = await readmeFlow(api.baseUrl, await api.token('user:carol'));
    expect(result.data).toMatchObject({ profile: expect.anything() });
    expect(result.fullName).toBe('Carol Danvers');
    expect(result.recorded).toBe('consent_recorded');
    expect(result.purposes).toContain('analytics:true');
    expect(result.csv.type).toMatch(/^text\/csv/);
    expect(result.csv.body).toContain('Carol Danvers');
    expect(result.json.type).toMatch(/^application\/json/);
    expect(result.json.body).toMatchObject({ profile: expect.anything() });
    expect(result.erased).toBe('Account deleted successfully');
  });
});

describe('the DPO over REST', () => {
  it('does the whole job: requests, holds, consents, export, erasure and verification', async () => {
    const subjectToken = await api.token('user:rest-subject');
    expect((await api.call('GET', '/api/v1/users/me', subjectToken)).status).toBe(200);
    const dpo = await api.token('dpo:rest', ['dpo']);
    const subject = encodeURIComponent('user:rest-subject');

    const registered = await api.call('POST', '/api/v1/dpo/requests', dpo, { user_id: 'user:rest-subject', kind: 'access' });
    expect(registered.status, registered.text).toBe(200);
    const open = await api.call('GET', '/api/v1/dpo/requests', dpo);
    expect(open.json.map((r: { id: string }) => r.id)).toContain(registered.json.id);
    const completed = await api.call('POST', `/api/v1/dpo/requests/${registered.json.id}/completion`, dpo, { status: 'completed' });
    expect(completed.json.status).toBe('completed');

    const hold = await api.call('POST', `/api/v1/dpo/subjects/${subject}/legal-hold`, dpo, { reason: 'litigation' });
    expect(hold.status, hold.text).toBe(200);
    const held = await api.call('DELETE', `/api/v1/dpo/subjects/${subject}?reason=request&confirm=true`, dpo);
    expect(held.status, held.text).toBe(409);
    expect((await api.call('DELETE', `/api/v1/dpo/subjects/${subject}/legal-hold`, dpo)).status).toBe(200);

    expect((await api.call('GET', `/api/v1/dpo/subjects/${subject}/consents`, dpo)).json).toMatchObject({ current: [], history: [] });
    expect((await api.call('GET', `/api/v1/dpo/subjects/${subject}/export`, dpo)).json).toMatchObject({ profile: expect.anything() });
    const unconfirmed = await api.call('DELETE', `/api/v1/dpo/subjects/${subject}?reason=request&confirm=false`, dpo);
    expect(unconfirmed.status).toBe(400);
    const erased = await api.call('DELETE', `/api/v1/dpo/subjects/${subject}?reason=request&confirm=true`, dpo);
    expect(erased.status, erased.text).toBe(200);
    await api.db.admin`select compliance.seal_audit_log()`;
    const verified = await api.call('GET', '/api/v1/dpo/audit-log/verification', dpo);
    expect(verified.json).toMatchObject({ ok: true, problems: [] });
    expect((await api.call('GET', '/api/v1/dpo/requests', subjectToken)).status).toBe(403);
  });
});
