import { describe, expect, it } from 'vitest';
import { useServer } from './harness.js';

const api = useServer();

/** a minimal RFC 4180 reader, to check the CSV against the JSON */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { field += '"'; i += 1; } else if (ch === '"') quoted = false; else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') { row.push(field); field = ''; }
    else if (ch === '\r' && text[i + 1] === '\n') { row.push(field); rows.push(row); row = []; field = ''; i += 1; }
    else field += ch;
  }
  return rows;
}

describe('authentication', () => {
  it('answers 401 without a token, with a bad one and with an expired one, never with a stack', async () => {
    const expired = await api.token('user:alice', [], -60);
    for (const token of [undefined, 'not-a-jwt', expired]) {
      const response = await api.call('GET', '/api/v1/users/me/data', token);
      expect(response.status).toBe(401);
      expect(response.text).not.toMatch(/at .*\.ts:\d+|stack/);
    }
    const trpc = await api.call('GET', '/trpc/me.profile', 'garbage');
    expect(trpc.status).toBe(401);
  });

  it('creates the profile from the token on first sight', async () => {
    const response = await api.call('GET', '/api/v1/users/me', await api.token('user:newcomer'));
    expect(response.status).toBe(200);
    expect(response.json).toMatchObject({ user_id: 'user:newcomer', username: 'newcomer', email: 'newcomer@example.org' });
  });

  it('logs a session out after 15 minutes of inactivity (HIPAA automatic logoff)', async () => {
    const token = await api.token('user:sleepy');
    expect((await api.call('GET', '/api/v1/users/me', token)).status).toBe(200);
    await api.db.admin`update compliance.sessions set last_activity_at = now() - interval '16 minutes' where user_id = 'user:sleepy'`;
    const expired = await api.call('GET', '/api/v1/users/me', token);
    expect(expired.status).toBe(401);
    expect(expired.json.message).toContain('session expired after 15 minutes of inactivity');
    const [session] = await api.db.admin`select ended_at from compliance.sessions where user_id = 'user:sleepy'`;
    expect(session!.ended_at).not.toBeNull();
  });
});

describe('the seed guide\'s REST paths', () => {
  it('rectifies the profile with PATCH and audits old and new values', async () => {
    const token = await api.token('user:alice');
    const response = await api.call('PATCH', '/api/v1/users/me', token, { full_name: 'Alice Liddell' });
    expect(response.status).toBe(200);
    expect(response.json.full_name).toBe('Alice Liddell');
    const [audit] = await api.db.admin`select personal_details from compliance.audit_logs where action = 'profile.updated' and user_id = 'user:alice'`;
    expect(audit!.personal_details.new).toEqual({ full_name: 'Alice Liddell' });
  });

  it('rejects unknown and oversized fields with 400', async () => {
    const token = await api.token('user:alice');
    expect((await api.call('PATCH', '/api/v1/users/me', token, { full_name: 'x', is_admin: true })).status).toBe(400);
    expect((await api.call('PATCH', '/api/v1/users/me', token, { full_name: 'x'.repeat(600) })).status).toBe(400);
    expect((await api.call('PATCH', '/api/v1/users/me', token, {})).status).toBe(400);
  });

  it('exports every section as JSON and as CSV holding the same rows', async () => {
    const token = await api.token('user:alice');
    await api.call('POST', '/api/v1/users/me/consent', token, { consent_type: 'analytics', granted: true });
    await api.call('POST', '/trpc/me.setPreferences', token, { preferences: { theme: 'dark' } });
    const started = await api.call('POST', '/trpc/me.startConversation', token, { title: 'hello, "world"' });
    await api.call('POST', '/trpc/me.addMessage', token, { conversation_id: started.json.result.data.conversation_id, role: 'user', content: 'line one\nline two, with comma' });

    const data = await api.call('GET', '/api/v1/users/me/data', token);
    expect(data.status).toBe(200);
    expect(Object.keys(data.json).sort()).toEqual(['archived_audit_trail', 'audit_trail', 'breach_notices', 'consents', 'conversations', 'dsr_requests', 'generated_at', 'health_records', 'objections_and_restrictions', 'preferences', 'profile', 'recipients_told', 'registered_tables', 'sessions', 'subject_id']);

    const json = await api.call('GET', '/api/v1/users/me/export?format=json', token);
    expect(json.headers.get('content-disposition')).toBe('attachment; filename="user_data_user_alice.json"');
    const csv = await api.call('GET', '/api/v1/users/me/export?format=csv', token);
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toContain('text/csv');
    expect(csv.headers.get('content-disposition')).toBe('attachment; filename="user_data_user_alice.csv"');
    const rows = parseCsv(csv.text);
    expect(rows[0]).toEqual(['section', 'record', 'field', 'value']);
    const document = json.json;
    const csvRecords = (section: string) => new Set(rows.filter((r) => r[0] === section).map((r) => r[1]));
    expect(csvRecords('consents')).toEqual(new Set(document.consents.map((c: { id: number }) => String(c.id))));
    expect(csvRecords('conversations')).toEqual(new Set(document.conversations.map((c: { conversation_id: string }) => c.conversation_id)));
    expect(csvRecords('messages')).toEqual(new Set(document.conversations.flatMap((c: { messages: { id: number }[] }) => c.messages.map((m) => String(m.id)))));
    expect(csvRecords('sessions')).toEqual(new Set(document.sessions.map((s: { id: string }) => s.id)));
    // the CSV export is one request later than the JSON one: its trail holds at least the same rows
    for (const id of document.audit_trail.map((a: { id: number }) => String(a.id))) expect(csvRecords('audit_trail').has(id)).toBe(true);
    expect(rows.find((r) => r[0] === 'messages' && r[2] === 'content')![3]).toBe('line one\nline two, with comma');
    expect(rows.find((r) => r[0] === 'profile' && r[2] === 'full_name')![3]).toBe('Alice Liddell');
    expect((await api.call('GET', '/api/v1/users/me/export?format=xml', token)).status).toBe(400);
  });

  it('refuses DELETE without confirm=true (400) and erases with it', async () => {
    const token = await api.token('user:leaving');
    await api.call('POST', '/api/v1/users/me/consent', token, { consent_type: 'marketing', granted: true });
    const refused = await api.call('DELETE', '/api/v1/users/me', token);
    expect(refused.status).toBe(400);
    expect(refused.json.message).toContain('confirm');
    const erased = await api.call('DELETE', '/api/v1/users/me?confirm=true', token);
    expect(erased.status).toBe(200);
    expect(erased.json.receipt.deleted).toMatchObject({ user_profiles: 1, consent_records: 1 });
    const after = await api.call('GET', '/api/v1/users/me', token);
    expect(after.status).toBe(403);
    expect(after.json.data.sqlstate).toBe('ERASD');
  });

  it('serves an OpenAPI document with those paths among the rest', async () => {
    const response = await api.call('GET', '/api/openapi.json');
    expect(response.status).toBe(200);
    expect(Object.keys(response.json.paths)).toEqual(expect.arrayContaining(['/v1/users/me', '/v1/users/me/consent',
      '/v1/users/me/data', '/v1/users/me/export']));
    expect(Object.keys(response.json.paths['/v1/users/me']).sort()).toEqual(['delete', 'get', 'patch']);
    expect(response.json.paths['/v1/users/me/export'].get.responses['200'].content['text/csv']).toBeDefined();
  });

  it('answers /healthz and /metrics', async () => {
    expect((await api.call('GET', '/healthz')).json).toEqual({ status: 'ok', database: 'ok' });
    const metrics = await api.call('GET', '/metrics');
    expect(metrics.text).toContain('pgcomply_http_request_duration_seconds');
  });
});

describe('bodyless actions', () => {
  it('signs out on a POST that carries no body and no content type, over REST and tRPC, and still refuses a body of another type (415)', async () => {
    const rest = await api.token('user:bodyless-rest');
    expect((await api.call('GET', '/api/v1/users/me', rest)).status).toBe(200);
    const closed = await api.call('POST', '/api/v1/users/me/session/close', rest);
    expect(closed.status, closed.text).toBe(200);
    expect(closed.json).toEqual({ closed: true });
    expect((await api.call('GET', '/api/v1/users/me', rest)).status).toBe(401);
    const trpc = await api.token('user:bodyless-trpc');
    expect((await api.call('GET', '/api/v1/users/me', trpc)).status).toBe(200);
    const viaTrpc = await api.call('POST', '/trpc/me.signOut', trpc);
    expect(viaTrpc.status, viaTrpc.text).toBe(200);
    const typed = await api.call('POST', '/api/v1/users/me/consent', await api.token('user:bodyless-typed'), undefined,
      { 'content-type': 'text/plain', 'content-length': '0' });
    expect(typed.status).toBe(415);
  });
});

describe('consent over HTTP', () => {
  it('stores the request\'s IP address and user agent with the consent, not the body\'s', async () => {
    const token = await api.token('user:consenter');
    const response = await api.call('POST', '/api/v1/users/me/consent', token, { consent_type: 'analytics', granted: true }, { 'user-agent': 'EvidenceBrowser/2.0' });
    expect(response.status).toBe(200);
    const [row] = await api.db.admin`select host(ip_address) as ip, user_agent from compliance.consent_records where user_id = 'user:consenter'`;
    expect(row).toEqual({ ip: '127.0.0.1', user_agent: 'EvidenceBrowser/2.0' });
    const forged = await api.call('POST', '/api/v1/users/me/consent', token, { consent_type: 'analytics', granted: true, ip_address: '8.8.8.8' });
    expect(forged.status).toBe(400);
    const list = await api.call('GET', '/api/v1/users/me/consent', token);
    expect(list.json.consents).toEqual([expect.objectContaining({ purpose: 'analytics', granted: true })]);
    const unknown = await api.call('POST', '/api/v1/users/me/consent', token, { consent_type: 'telepathy', granted: true });
    expect(unknown.status).toBe(400);
    expect(unknown.json.message).toContain('valid purposes');
  });

  it('records the version a purpose is asked under now when the client names none, and the named one when it does', async () => {
    const token = await api.token('user:unversioned');
    const [before] = await api.db.admin`select policy_version from compliance.consent_purposes where purpose = 'marketing'`;
    await api.db.admin`update compliance.consent_purposes set policy_version = '2026-11' where purpose = 'marketing'`;
    try {
      expect((await api.call('POST', '/api/v1/users/me/consent', token, { consent_type: 'marketing', granted: true })).status).toBe(200);
      expect((await api.call('POST', '/api/v1/users/me/consent', token, { consent_type: 'marketing', granted: false, policy_version: '2026-10' })).status).toBe(200);
      const rows = await api.db.admin`select policy_version from compliance.consent_records where user_id = 'user:unversioned' order by id`;
      expect(rows.map((r) => r.policy_version)).toEqual(['2026-11', '2026-10']);
    } finally {
      await api.db.admin`update compliance.consent_purposes set policy_version = ${before!.policy_version} where purpose = 'marketing'`;
    }
  });

  it('never shows subject A subject B\'s consents', async () => {
    const other = await api.call('GET', '/api/v1/users/me/consent', await api.token('user:stranger'));
    expect(other.json.consents).toEqual([]);
  });
});

describe('the DPO router', () => {
  it('is forbidden (403) without the dpo role', async () => {
    const token = await api.token('user:alice');
    expect((await api.call('GET', `/trpc/dpo.export?input=${encodeURIComponent(JSON.stringify({ user_id: 'user:consenter' }))}`, token)).status).toBe(403);
    expect((await api.call('POST', '/trpc/dpo.erase', token, { user_id: 'user:consenter', reason: 'x', confirm: true })).status).toBe(403);
    const [still] = await api.db.admin`select count(*)::int as n from compliance.user_profiles where user_id = 'user:consenter'`;
    expect(still!.n).toBe(1);
  });

  it('lets a DPO export, hold, and read the register', async () => {
    const token = await api.token('dpo:dana', ['dpo']);
    const exported = await api.call('GET', `/trpc/dpo.export?input=${encodeURIComponent(JSON.stringify({ user_id: 'user:consenter' }))}`, token);
    expect(exported.status).toBe(200);
    expect(exported.json.result.data.profile.user_id).toBe('user:consenter');
    expect((await api.call('POST', '/trpc/dpo.placeLegalHold', token, { user_id: 'user:consenter', reason: 'audit 2026' })).status).toBe(200);
    const refused = await api.call('POST', '/trpc/dpo.erase', token, { user_id: 'user:consenter', reason: 'x', confirm: true });
    expect(refused.status).toBe(409);
    expect(refused.json.error.data.sqlstate).toBe('LHOLD');
    const unknown = await api.call('GET', `/trpc/dpo.export?input=${encodeURIComponent(JSON.stringify({ user_id: 'user:nobody' }))}`, token);
    expect(unknown.status).toBe(404);
    const csv = await api.call('GET', `/trpc/dpo.consentRecordsCsv?input=${encodeURIComponent(JSON.stringify({ from: '2000-01-01', to: '2100-01-01' }))}`, token);
    expect(csv.json.result.data.csv.split('\r\n')[0]).toBe('id,user_id,purpose,granted,policy_version,source,recorded_at,ip_address,user_agent');
    // the request register: register, read, complete
    const registered = await api.call('POST', '/trpc/dpo.registerRequest', token, { user_id: 'user:consenter', kind: 'access' });
    expect(registered.status).toBe(200);
    const open = await api.call('GET', '/trpc/dpo.openRequests', token);
    expect(open.json.result.data.map((r: { id: string }) => r.id)).toContain(registered.json.result.data.id);
    const completed = await api.call('POST', '/trpc/dpo.completeRequest', token, { id: Number(registered.json.result.data.id) });
    expect(completed.json.result.data.status).toBe('completed');
    const after = await api.call('GET', '/trpc/dpo.openRequests', token);
    expect(after.json.result.data.map((r: { id: string }) => r.id)).not.toContain(registered.json.result.data.id);
  });
});

describe('the DPO\'s breach register over REST', () => {
  it('opens, lists with deadlines, notifies and closes a breach; a subject\'s token cannot', async () => {
    const dpo = await api.token('dpo:dana', ['dpo']);
    const opened = await api.call('POST', '/api/v1/dpo/breaches', dpo, { discovered_at: new Date(Date.now() - 3_600_000).toISOString(), description: 'stolen backup tape', data_categories: ['profile'], affected_count: 600 });
    expect(opened.status, opened.text).toBe(200);
    const list = await api.call('GET', '/api/v1/dpo/breaches', dpo);
    expect(list.json.find((b: { breach_id: string }) => b.breach_id === opened.json.id)).toMatchObject({ authority: 'pending', hhs_and_media_required: true });
    const notified = await api.call('POST', `/api/v1/dpo/breaches/${opened.json.id}/notifications`, dpo, { recipient: 'authority' });
    expect(notified.status, notified.text).toBe(200);
    expect(notified.json.notified_authority_at).not.toBeNull();
    expect((await api.call('POST', `/api/v1/dpo/breaches/${opened.json.id}/closure`, dpo, {})).json.status).toBe('closed');
    expect((await api.call('GET', '/api/v1/dpo/breaches', await api.token('user:curious'))).status).toBe(403);
  });
});
