/** Holds and erasure against concurrent transactions, with controlled interleavings. */
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { quiet, setContext, useTestDatabase } from '../provision/database.js';
import { signal } from '../provision/signal.js';

const db = useTestDatabase();
const dpo = { actor: 'dpo:dana', roles: ['dpo'] };
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function withConnections<T>(count: number, fn: (...sql: postgres.Sql[]) => Promise<T>): Promise<T> {
  const connections = Array.from({ length: count }, () => postgres(db.adminUrl, { ...quiet, max: 1 }));
  try {
    return await fn(...connections);
  } finally {
    await Promise.all(connections.map((c) => c.end()));
  }
}

async function subjectWithConversation(userId: string): Promise<string> {
  return db.as('compliance_app', { actor: userId }, async (tx) => {
    await tx`select compliance.ensure_profile(${userId})`;
    const [c] = await tx`select conversation_id from compliance.start_conversation(${userId}, 'topic')`;
    await tx`select compliance.add_message(${c!.conversation_id}, 'user', 'first')`;
    return c!.conversation_id as string;
  });
}

describe('erasure against the subject\'s own writes', () => {
  it('wins or waits, never dies in a deadlock, when a writer holds the conversation and then adds a message', async () => {
    const conversation = await subjectWithConversation('user:busy');
    await withConnections(2, async (writer, eraser) => {
      const holding = signal();
      const mayWrite = signal();
      const write = writer.begin(async (tx) => {
        await tx`set local role compliance_app`;
        await setContext(tx, { actor: 'user:busy' });
        await tx`select 1 from compliance.conversations where conversation_id = ${conversation} for no key update`;
        holding.fire();
        await mayWrite.fired;
        await tx`select compliance.add_message(${conversation}, 'user', 'while erasing')`;
      }).then(() => 'committed', (e: { code?: string }) => e.code);
      await holding.fired;
      const erasure = eraser.begin(async (tx) => {
        await tx`set local role compliance_dpo`;
        await setContext(tx, dpo);
        return tx`select compliance.erase_subject('user:busy', 'request', true) as r`;
      }).then(() => 'erased', (e: { code?: string }) => e.code);
      await pause(300); // the erasure now waits for the conversation
      mayWrite.fire();
      expect(await erasure).toBe('erased');
      expect(['committed', '23503']).toContain(await write);
    });
    for (const table of ['user_profiles', 'conversations', 'messages']) {
      const [row] = await db.admin.unsafe(`select count(*)::int as n from compliance.${table} where user_id = 'user:busy'`);
      expect(row!.n, table).toBe(0);
    }
  });
});

describe('a legal hold placed while retention runs', () => {
  it('stops the batch: it waits for the hold in flight, then keeps every held row', async () => {
    for (let i = 0; i < 20; i += 1) await subjectWithConversation('user:litigant');
    await subjectWithConversation('user:bystander');
    await db.admin`update compliance.conversations set last_message_at = now() - interval '200 days'`;
    await withConnections(2, async (holder, worker) => {
      const placed = signal();
      const mayCommit = signal();
      const hold = holder.begin(async (tx) => {
        await tx`set local role compliance_dpo`;
        await setContext(tx, dpo);
        await tx`select compliance.place_legal_hold('user:litigant', 'litigation')`;
        placed.fire();
        await mayCommit.fired;
      });
      await placed.fired;
      let finished = false;
      const batch = worker.begin(async (tx) => {
        await tx`set local role compliance_worker`;
        return tx`select compliance.apply_retention('conversations', 1000, false) as r`;
      }).finally(() => { finished = true; });
      await pause(300);
      expect(finished).toBe(false); // it waits for the hold
      mayCommit.fire();
      await hold;
      const [run] = await batch;
      expect(run!.r.deleted).toBe(1);
    });
    const rows = await db.admin`select user_id, count(*)::int as n from compliance.conversations group by user_id order by user_id`;
    expect(rows).toEqual([{ user_id: 'user:litigant', n: 20 }]);
  });
});

describe('retention against a writer', () => {
  it('keeps a conversation that got a message while the batch waited for it, and the message', async () => {
    const conversation = await subjectWithConversation('user:late-reply');
    await db.admin`update compliance.conversations set last_message_at = now() - interval '400 days' where conversation_id = ${conversation}`;
    await withConnections(2, async (writer, retention) => {
      const replied = signal();
      const mayCommit = signal();
      const write = writer.begin(async (tx) => {
        await tx`set local role compliance_app`;
        await setContext(tx, { actor: 'user:late-reply' });
        await tx`select compliance.add_message(${conversation}, 'user', 'still here')`;
        replied.fire();
        await mayCommit.fired;
      });
      await replied.fired;
      // the batch picks the conversation (the reply is not committed), then waits for its row
      const batch = retention.begin(async (tx) => {
        await tx`set local role compliance_worker`;
        return tx`select compliance.apply_retention('conversations') as r`;
      });
      await pause(300);
      mayCommit.fire();
      await write;
      const [result] = await batch;
      expect(result!.r.deleted).toBe(0);
    });
    const [left] = await db.admin`select count(*)::int as n from compliance.messages where conversation_id = ${conversation}`;
    expect(left!.n).toBe(2);
  });
});
