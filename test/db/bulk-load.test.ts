/**
 * A DBA adopting pgcomply loads an existing user base in one transaction: a million profiles by
 * INSERT … SELECT or by COPY, each audited, without running out of lock slots; an erasure running
 * at the same time still wins or waits, never lets a profile outlive it.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { TransactionSql } from 'postgres';
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../provision/database.js';
import { signal } from '../provision/signal.js';
import { until as poll } from '../provision/until.js';

const db = useTestDatabase();
const MILLION = 1_000_000;

/** runs fn in a transaction that is rolled back: the load is measured, not kept */
async function rolledBack(fn: (tx: TransactionSql) => Promise<void>) {
  await db.admin.begin(async (tx) => {
    await tx`select compliance.set_request_context('dba:loader')`;
    await fn(tx);
    throw new Error('rolled back on purpose');
  }).catch((error: Error) => {
    if (error.message !== 'rolled back on purpose') throw error;
  });
}

describe('bulk loads of subjects', () => {
  it('inserts a million profiles with INSERT … SELECT in one transaction, one audit row each', async () => {
    await rolledBack(async (tx) => {
      await tx`insert into compliance.user_profiles (user_id, email)
               select 'bulk:' || g, 'u' || g || '@bulk.example' from generate_series(1, ${MILLION}) g`;
      const [audit] = await tx`select count(*)::int as n from compliance.audit_logs where action = 'profile.created' and actor_id = 'dba:loader'`;
      expect(audit!.n).toBe(MILLION);
    });
  }, 600_000);

  it('copies a million profiles in one transaction, one audit row each', async () => {
    await rolledBack(async (tx) => {
      let i = 0;
      const source = Readable.from((function* () {
        while (i < MILLION) {
          const lines: string[] = [];
          for (let k = 0; k < 10_000 && i < MILLION; k += 1, i += 1) lines.push(`copy:${i},c${i}@bulk.example\n`);
          yield lines.join('');
        }
      })());
      await pipeline(source, await tx`copy compliance.user_profiles (user_id, email) from stdin (format csv)`.writable());
      const [audit] = await tx`select count(*)::int as n from compliance.audit_logs where action = 'profile.created' and actor_id = 'dba:loader'`;
      expect(audit!.n).toBe(MILLION);
    });
  }, 600_000);

  it('makes a bulk load that includes a subject being erased wait for the erasure, then refuse it (ERASD)', async () => {
    await db.as('compliance_dpo', { actor: 'dpo:dana', roles: ['dpo'] }, (tx) => tx`select compliance.ensure_profile('race:1')`);
    const erasing = signal();
    const release = signal();
    const erasure = db.as('compliance_dpo', { actor: 'dpo:dana', roles: ['dpo'] }, async (tx) => {
      await tx`select compliance.erase_subject('race:1', 'Art. 17', true)`;
      erasing.fire();
      await release.fired;
    });
    await erasing.fired;
    const load = db.admin.begin(async (tx) => {
      await tx`select compliance.set_request_context('dba:loader')`;
      await tx`insert into compliance.user_profiles (user_id) select 'race:' || g from generate_series(1, 500) g`;
    });
    // the load has inserted its rows and now waits for the erasure's lock
    await until(async () => (await db.admin`select count(*)::int as n from pg_locks where not granted`)[0]!.n > 0);
    release.fire();
    await erasure;
    await expect(load).rejects.toMatchObject({ code: 'ERASD' });
    expect((await db.admin`select count(*)::int as n from compliance.user_profiles where user_id like 'race:%'`)[0]!.n).toBe(0);
  });

  it('makes an erasure that starts during a bulk load wait for it, then erase the loaded profile too', async () => {
    const loaded = signal();
    const release = signal();
    const load = db.admin.begin(async (tx) => {
      await tx`select compliance.set_request_context('dba:loader')`;
      await tx`insert into compliance.user_profiles (user_id) select 'late:' || g from generate_series(1, 500) g`;
      loaded.fire();
      await release.fired;
    });
    await loaded.fired;
    const erasure = db.as('compliance_dpo', { actor: 'dpo:dana', roles: ['dpo'] },
      (tx) => tx`select compliance.erase_subject('late:7', 'Art. 17', true) as r`);
    await until(async () => (await db.admin`select count(*)::int as n from pg_locks where not granted`)[0]!.n > 0);
    release.fire();
    await load;
    const [result] = await erasure;
    expect(result!.r.erased).toBe(true);
    expect((await db.admin`select count(*)::int as n from compliance.user_profiles where user_id = 'late:7'`)[0]!.n).toBe(0);
    expect((await db.admin`select count(*)::int as n from compliance.user_profiles where user_id like 'late:%'`)[0]!.n).toBe(499);
  });
});

async function until(probe: () => Promise<boolean>) {
  await poll(async () => ((await probe()) ? true : undefined), 60_000, 'a session waiting for the other');
}
