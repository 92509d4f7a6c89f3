/**
 * P13: purposes that are enforced. 100,000 subjects, half with marketing consent in force (a
 * quarter of those withdrew it again), 1% objecting to the newsletter, 0.1% restricted. The
 * mailing list by compliance.permitted_subjects against the same rule written by hand for this one
 * activity, in the same run; and one processing_permitted answer, as a product asks before each use.
 */
import postgres from 'postgres';
import { type BenchDatabase, figure, percentile, printConditions, quiet, timed } from './lib.js';

const SUBJECTS = 100_000;

/** what an adopter would write for "consent in force for marketing, no objection, no restriction" */
const listByHand = `
  select p.user_id from compliance.user_profiles p
   where coalesce((select c.granted from compliance.consent_records c where c.user_id = p.user_id and c.purpose = 'marketing'
                    order by c.recorded_at desc, c.id desc limit 1), false)
     and not exists (select from compliance.processing_limits l where l.user_id = p.user_id and l.lifted_at is null
                       and (l.kind = 'restriction' or l.activity = 'newsletter' or l.activity is null))
   order by 1`;

export async function run(db: BenchDatabase, quick: boolean) {
  const subjects = quick ? SUBJECTS / 10 : SUBJECTS;
  const repetitions = quick ? 3 : 10;
  await printConditions(db, { benchmark: 'P13', subjects, repetitions });
  await db.admin.begin(async (tx) => {
    await tx`set local session_replication_role = replica`;
    await tx`insert into compliance.user_profiles (user_id) select 'user:p13-' || n from generate_series(1, ${subjects}) n`;
    await tx`insert into compliance.consent_records (user_id, purpose, granted, policy_version, recorded_at)
             select 'user:p13-' || n, 'marketing', true, 'v1', now() - interval '2 days' from generate_series(1, ${subjects}) n where n % 2 = 0`;
    await tx`insert into compliance.consent_records (user_id, purpose, granted, policy_version, recorded_at)
             select 'user:p13-' || n, 'marketing', false, 'v1', now() - interval '1 day' from generate_series(1, ${subjects}) n where n % 8 = 0`;
    await tx`insert into compliance.processing_limits (user_id, kind, activity) select 'user:p13-' || n, 'objection', 'newsletter' from generate_series(1, ${subjects}) n where n % 100 = 2`;
    await tx`insert into compliance.processing_limits (user_id, kind) select 'user:p13-' || n, 'restriction' from generate_series(1, ${subjects}) n where n % 1000 = 4`;
  });
  await db.admin`select compliance.set_request_context('dpo:bench', '{dpo}')`;
  await db.admin`select compliance.record_processing_activity('newsletter', 'Newsletter',
    '[{"purpose": "Sending the newsletter", "legal_basis": "consent", "consent_purpose": "marketing", "direct_marketing": true}]')`;
  await db.admin`analyze`;
  const sql = postgres(db.adminUrl, { ...quiet, max: 1 });
  const times = { ours: [] as number[], hand: [] as number[], one: [] as number[] };
  try {
    const [first] = await Promise.all([sql`select user_id from compliance.permitted_subjects('newsletter')`, sql.unsafe(listByHand)]);
    const [, byHand] = await timed(() => sql.unsafe(listByHand));
    if (first.length !== byHand.length) throw new Error(`the two lists differ: ${first.length} against ${byHand.length}`);
    for (let i = 0; i < repetitions; i += 1) {
      times.ours.push((await timed(() => sql`select user_id from compliance.permitted_subjects('newsletter')`))[0]);
      times.hand.push((await timed(() => sql.unsafe(listByHand)))[0]);
    }
    for (let i = 0; i < repetitions * 20; i += 1) {
      times.one.push((await timed(() => sql`select compliance.processing_permitted(${`user:p13-${(i * 7919) % subjects + 1}`}, 'newsletter')`))[0]);
    }
    figure('P13', 'permitted_subjects_listed', first.length, 'subjects');
  } finally {
    await sql.end();
  }
  figure('P13', 'permitted_subjects_p50', percentile(times.ours, 50), 'ms');
  figure('P13', 'list_by_hand_p50', percentile(times.hand, 50), 'ms');
  figure('P13', 'hand_over_permitted_subjects', percentile(times.hand, 50) / percentile(times.ours, 50), 'x', { op: '>=', value: 0.5 });
  figure('P13', 'processing_permitted_p50', percentile(times.one, 50), 'ms', { op: '<=', value: 5 });
}
