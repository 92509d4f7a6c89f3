/**
 * db/README.md's SQL examples run top to bottom on a fresh database, in one session that brings
 * the tombstone pepper as the README tells a DBA to.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../provision/database.js';

const db = useTestDatabase();

function sqlBlocks(file: string): string[] {
  const text = readFileSync(path.resolve(file), 'utf8');
  const start = text.indexOf('## Acting as someone');
  return [...text.slice(start).matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

describe('db/README.md', () => {
  it('has examples that run top to bottom on a fresh database', async () => {
    const blocks = sqlBlocks('db/README.md');
    expect(blocks.length).toBeGreaterThanOrEqual(6);
    await db.admin.reserve().then(async (session) => {
      try {
        for (const [index, block] of blocks.entries()) {
          await session.unsafe(block).catch((error: Error & { code?: string }) => {
            throw new Error(`block ${index + 1} failed (${error.code}): ${error.message}\n${block}`);
          });
        }
      } finally {
        session.release();
      }
    });
    const [bob] = await db.admin`select count(*)::int as n from compliance.user_profiles where user_id = 'user:bob'`;
    expect(bob!.n).toBe(0); // erased, then re-registered: the profile comes back only on first sight
    const [alice] = await db.admin`select email from compliance.user_profiles where user_id = 'user:alice'`;
    expect(alice!.email).toBe('alice@new.example');
    // right after the examples (an erasure among them), without waiting for the worker to seal:
    // verification and the daily check pass, the erasure's redactions listed as pending
    const [verdict] = await db.admin`select ok, problems, notes from compliance.verify_audit_log()`;
    expect(verdict!.problems).toEqual([]);
    expect(verdict!.ok).toBe(true);
    const [check] = await db.as('compliance_dpo', { actor: 'dpo:dana', roles: ['dpo'] },
      (tx) => tx`select status from compliance.run_compliance_checks('demand', false) where check_name = 'audit_chain'`);
    expect(check!.status).toBe('pass');
  });
});
