/** What a newcomer meets through the API: words for the caller, and a conversation's messages. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useServer } from './harness.js';

const api = useServer();

async function signedIn(userId: string) {
  const token = await api.token(userId);
  expect((await api.call('GET', '/api/v1/users/me', token)).status).toBe(200);
  return token;
}

describe('reading a conversation', () => {
  it('pages through its messages over tRPC and REST, and shows nobody else\'s', async () => {
    const token = await signedIn('user:reader');
    const started = await api.call('POST', '/trpc/me.startConversation', token, { title: 'Questions' });
    const conversationId = started.json.result.data.conversation_id as string;
    for (const content of ['one', 'two', 'three']) {
      expect((await api.call('POST', '/trpc/me.addMessage', token, { conversation_id: conversationId, role: 'user', content })).status).toBe(200);
    }
    const first = await api.call('GET', `/api/v1/users/me/conversations/${conversationId}/messages?page_size=2`, token);
    expect(first.status, first.text).toBe(200);
    expect(first.json.map((m: { content: string }) => m.content)).toEqual(['one', 'two']);
    const rest = await api.call('GET', `/api/v1/users/me/conversations/${conversationId}/messages?after_id=${first.json[1].id}`, token);
    expect(rest.json.map((m: { content: string }) => m.content)).toEqual(['three']);
    const input = encodeURIComponent(JSON.stringify({ conversation_id: conversationId }));
    const trpc = await api.call('GET', `/trpc/me.conversationMessages?input=${input}`, token);
    expect(trpc.json.result.data).toHaveLength(3);

    const stranger = await signedIn('user:stranger');
    const refused = await api.call('GET', `/api/v1/users/me/conversations/${conversationId}/messages`, stranger);
    expect(refused.status).toBe(404);
    expect(refused.text).not.toContain('three');
  });
});

describe('messages in the caller\'s words', () => {
  it('tells a REST client how to confirm an erasure without SQL', async () => {
    const token = await signedIn('user:unconfirmed');
    const refused = await api.call('DELETE', '/api/v1/users/me', token);
    expect(refused.status).toBe(400);
    expect(refused.json.message).toContain('confirm=true');
    expect(refused.json.message).not.toContain('=>');
  });

  it('names each invalid field in a sentence, not a JSON-encoded issue list', async () => {
    const token = await signedIn('user:invalid');
    const response = await api.call('POST', '/trpc/me.addMessage', token, { conversation_id: 'not-a-uuid', role: 'robot', content: '' });
    expect(response.status).toBe(400);
    const message = response.json.error.message as string;
    expect(message).toMatch(/^conversation_id: .+; role: .+; content: .+$/);
    expect(() => JSON.parse(message)).toThrow();
  });

  it('states the idle timeout in force when it logs a session out', async () => {
    await signedIn('user:dozy');
    const [session] = await api.db.admin`update compliance.sessions set last_activity_at = now() - interval '6 minutes'
                                          where user_id = 'user:dozy' returning id`;
    const refused = await api.db.as('compliance_app', { actor: 'user:dozy' },
      (tx) => tx`select compliance.touch_session('user:dozy', ${session!.id}, interval '5 minutes')`).catch((error: Error) => error);
    expect((refused as Error).message).toBe('session expired after 5 minutes of inactivity');
  });

  it('ends with one line for a bad LOG_LEVEL', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', path.resolve('server/main.ts')], {
      env: { ...process.env, LOG_LEVEL: 'loud' }, encoding: 'utf8', timeout: 30_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^pgcomply: LOG_LEVEL: /);
  });
});
