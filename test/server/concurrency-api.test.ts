/**
 * Concurrency through the API: an erasure racing the subject's own writes from
 * several connections, two sealers at once, retention racing writers. No 5xx, no resurrected
 * rows, every row sealed exactly once, and a chain that verifies.
 */
import { describe, expect, it } from 'vitest';
import { until } from '../provision/until.js';
import { useServer } from './harness.js';

const api = useServer();
/** answers the writers have had so far, over all of them */
let answered = 0;
/** waits until the writers have had `more` answers beyond now: work done, however slow the machine */
const afterAnswers = (more: number) => {
  const target = answered + more;
  return until(async () => (answered >= target ? true : undefined), 60_000, `${more} more writer answers`);
};

const PERSONAL_TABLES = ['user_profiles', 'user_preferences', 'consent_records', 'conversations', 'messages', 'sessions'];

async function rowsOf(userId: string) {
  const counts: Record<string, number> = {};
  for (const table of PERSONAL_TABLES) {
    const [row] = await api.db.admin.unsafe(`select count(*)::int as n from compliance.${table} where user_id = $1`, [userId]);
    counts[table] = row!.n;
  }
  return counts;
}

/** one writer: mixed writes for the subject until told to stop; returns every status it got */
async function writer(token: string, until: () => boolean): Promise<number[]> {
  const statuses: number[] = [];
  let conversation: string | undefined;
  for (let i = 0; !until(); i += 1) {
    const step = i % 4;
    const response = step === 0 ? await api.call('PATCH', '/api/v1/users/me', token, { full_name: `Name ${i}` })
      : step === 1 ? await api.call('POST', '/api/v1/users/me/consent', token, { consent_type: 'analytics', granted: i % 8 === 1 })
      : step === 2 ? await api.call('POST', '/api/v1/users/me/conversations', token, { title: `t${i}` })
      : await api.call('POST', `/api/v1/users/me/conversations/${conversation ?? '00000000-0000-0000-0000-000000000000'}/messages`, token, { role: 'user', content: `m${i}` });
    if (step === 2 && response.status === 200) conversation = response.json.conversation_id;
    statuses.push(response.status);
    answered += 1;
  }
  return statuses;
}

describe('an erasure racing the subject\'s writes', () => {
  it('erases once, answers no 5xx, and leaves nothing of the subject behind', async () => {
    const subject = 'user:racing';
    const token = await api.token(subject);
    expect((await api.call('GET', '/api/v1/users/me', token)).status).toBe(200);
    const dpo = await api.token('dpo:racer', ['dpo']);
    let erased = false;
    const writers = Array.from({ length: 6 }, () => writer(token, () => erased));
    await afterAnswers(12);
    // two erasures at once: one wins, the other finds nothing to erase
    const erasures = await Promise.all([
      api.call('DELETE', `/api/v1/dpo/subjects/${encodeURIComponent(subject)}?reason=race&confirm=true`, dpo),
      api.call('DELETE', '/api/v1/users/me?confirm=true', token),
    ]);
    await afterAnswers(12); // writes that come after the erasure must fail
    erased = true;
    const statuses = (await Promise.all(writers)).flat();
    expect(erasures.filter((r) => r.status === 200)).toHaveLength(1);
    for (const response of erasures) expect(response.status, response.text).toBeLessThan(500);
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
    expect(statuses.length).toBeGreaterThan(12);
    expect(await rowsOf(subject)).toEqual(Object.fromEntries(PERSONAL_TABLES.map((t) => [t, 0])));
    // and afterwards: the id is refused, not recreated
    expect((await api.call('GET', '/api/v1/users/me', token)).status).toBe(403);
    expect((await rowsOf(subject)).user_profiles).toBe(0);
  });
});

describe('two sealers and writers at once', () => {
  it('seal every row exactly once', async () => {
    const token = await api.token('user:sealed');
    let done = false;
    const writers = Array.from({ length: 3 }, () => writer(token, () => done));
    const sealer = async () => {
      let seals = 0;
      while (!done) {
        const [row] = await api.db.admin`select compliance.seal_audit_log(7) as n`;
        seals += row!.n;
      }
      return seals;
    };
    const sealers = [sealer(), sealer()];
    await afterAnswers(60);
    done = true;
    await Promise.all(writers);
    const made = await Promise.all(sealers);
    expect(made.every((n) => n > 0)).toBe(true);
    await api.db.admin`select compliance.seal_audit_log()`;
    const [coverage] = await api.db.admin`select count(*)::int as listed, count(distinct id)::int as distinct_ids,
                                                 (select count(*)::int from compliance.audit_logs) as rows
                                            from compliance.audit_seals cross join unnest(row_ids) id`;
    expect(coverage!.listed).toBe(coverage!.distinct_ids);
    expect(coverage!.listed).toBe(coverage!.rows);
    const [verified] = await api.db.admin`select ok, problems from compliance.verify_audit_log()`;
    expect(verified!.problems).toEqual([]);
  });
});

describe('retention racing writers', () => {
  it('deletes only what stays expired, answers the writers no 5xx', async () => {
    const token = await api.token('user:retained');
    const created = [];
    for (let i = 0; i < 30; i += 1) {
      created.push((await api.call('POST', '/api/v1/users/me/conversations', token, { title: `old${i}` })).json.conversation_id as string);
    }
    await api.db.admin`update compliance.conversations set last_message_at = now() - interval '400 days' where user_id = 'user:retained'`;
    // the writers revive the even-numbered conversations while retention runs in small batches
    const revived = created.filter((_, i) => i % 2 === 0);
    const writes = Promise.all(revived.map((id) => api.call('POST', `/api/v1/users/me/conversations/${id}/messages`, token, { role: 'user', content: 'revived' })));
    let deleted = 0;
    for (let batch = 0; batch < 20; batch += 1) {
      const [row] = await api.db.as('compliance_worker', null, (tx) => tx`select compliance.apply_retention('conversations', 2) as r`);
      deleted += Number(row!.r.deleted);
    }
    const responses = await writes;
    expect(responses.filter((r) => r.status >= 500)).toEqual([]);
    // a revived conversation either got its message (and stays) or was gone first (404, the write refused)
    const survivors = await api.db.admin`select conversation_id from compliance.conversations where user_id = 'user:retained'`;
    const alive = new Set(survivors.map((r) => r.conversation_id as string));
    revived.forEach((id, i) => expect(responses[i]!.status === 200, id).toBe(alive.has(id)));
    expect(alive.size + deleted).toBe(30);
    const [orphans] = await api.db.admin`select count(*)::int as n from compliance.messages m
      where m.user_id = 'user:retained' and not exists (select from compliance.conversations c where c.conversation_id = m.conversation_id)`;
    expect(orphans!.n).toBe(0);
  });
});
