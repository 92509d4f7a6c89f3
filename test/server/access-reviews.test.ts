/**
 * Access reviews over the API: the DPO opens a campaign, reads its worklist, decides
 * items; deciding one's own access is 403 RVSLF; a non-DPO token is refused.
 */
import { describe, expect, it } from 'vitest';
import { useServer } from './harness.js';

const api = useServer();

describe('access reviews over REST', () => {
  it('open, list, decide; never one\'s own access', async () => {
    const dora = await api.token('dpo:dora', ['dpo']);
    const eve = await api.token('dpo:eve', ['dpo']);
    // dora acts as DPO, so the campaign lists her
    expect((await api.call('GET', '/api/v1/dpo/requests', dora)).status).toBe(200);
    const opened = await api.call('POST', '/api/v1/dpo/access-reviews', eve, { due_in_days: 3 });
    expect(opened.status, opened.text).toBe(200);
    expect(opened.json).toMatchObject({ items: expect.any(Number), decided: 0, overdue: false, completed_at: null });
    const items = await api.call('GET', `/api/v1/dpo/access-reviews/${opened.json.id}/items`, eve);
    expect(items.status, items.text).toBe(200);
    expect(items.json.length).toBe(opened.json.items);
    const dorasItem = items.json.find((i: { actor_id: string | null }) => i.actor_id === 'dpo:dora');
    expect(dorasItem).toMatchObject({ kind: 'application_actor', roles: ['dpo'] });

    const own = await api.call('POST', `/api/v1/dpo/access-reviews/items/${dorasItem.id}/decision`, dora, { decision: 'keep', note: 'me' });
    expect(own.status).toBe(403);
    expect(own.json.data.sqlstate).toBe('RVSLF');
    const kept = await api.call('POST', `/api/v1/dpo/access-reviews/items/${dorasItem.id}/decision`, eve, { decision: 'keep', note: 'still the DPO' });
    expect(kept.status, kept.text).toBe(200);
    expect(kept.json).toMatchObject({ decision: 'keep', decided_by: 'dpo:eve' });
    const list = await api.call('GET', '/api/v1/dpo/access-reviews', eve);
    expect(list.json[0]).toMatchObject({ id: opened.json.id, decided: 1 });

    const user = await api.token('user:someone');
    expect((await api.call('GET', '/api/v1/dpo/access-reviews', user)).status).toBe(403);
  });
});
