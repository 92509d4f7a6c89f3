/** Bulk data for the benchmarks, made with generate_series (never row by row). */
import type { Sql } from 'postgres';

/** audit rows with valid personal digests, in chunks of at most one million */
export async function insertAuditRows(admin: Sql, count: number,
  options: { subjects?: number; subjectPrefix?: string; from?: string; spreadSeconds?: number; userId?: string; phiReadsPercent?: number } = {}) {
  const subjects = options.subjects ?? 10_000;
  const prefix = options.subjectPrefix ?? 'user:bg-';
  const spread = options.spreadSeconds ?? 3600;
  // rows step back through the spread evenly, so a longer spread than rows still covers all of it
  const step = Math.max(1, spread / count);
  const phiReads = options.phiReadsPercent ?? 0;
  for (let start = 0; start < count; start += 1_000_000) {
    const end = Math.min(count, start + 1_000_000) - 1;
    // layout 2, as the triggers and log_event write it: a subject part and an actor part
    await admin`
      insert into compliance.audit_logs (occurred_at, action, category, resource_type, resource_id, details,
                                         user_id, actor_id, ip_address, user_agent, subject_part_salt, subject_part_digest,
                                         actor_part_salt, actor_part_digest, personal_digest)
      select y.ts, case when y.n % 100 < ${phiReads} then 'phi.read' else 'phi.access' end, 'hipaa',
             case when y.n % 100 < ${phiReads} then 'health_record' else 'patient_record' end, y.n::text, '{}', y.uid, y.uid, '10.0.0.1', 'bench-agent',
             y.salt, y.subject_digest, y.salt, y.actor_digest, sha256(y.subject_digest || y.actor_digest)
        from (select x.*, compliance_private.audit_subject_digest(x.salt, x.uid, null) as subject_digest,
                     compliance_private.audit_actor_digest(x.salt, x.uid, '10.0.0.1', 'bench-agent') as actor_digest
        from (select n, int8send(n) as salt,
                     coalesce(${options.userId ?? null}::text, ${prefix}::text || (n % ${subjects})) as uid,
                     coalesce(${options.from ?? null}::timestamptz, now() - interval '1 minute')
                       - make_interval(secs => (n % ${Math.ceil(spread / step)}) * ${step}::float8) as ts
                from generate_series(${start}::bigint, ${end}::bigint) n) x) y`;
  }
}

/** a subject with conversations, messages and audit rows, inserted without firing the row triggers */
export async function createSubject(admin: Sql, userId: string, size: { conversations: number; messagesPerConversation: number; auditRows: number }) {
  await admin.begin(async (tx) => {
    await tx`set local session_replication_role = replica`;
    await tx`insert into compliance.user_profiles (user_id, username, email, full_name) values (${userId}, 'u', ${userId.replace(/\W/g, '') + '@example.org'}, 'Bench Subject')`;
    await tx`insert into compliance.user_preferences (user_id, preferences) values (${userId}, '{"theme":"dark"}')`;
    await tx`insert into compliance.consent_records (user_id, purpose, granted, policy_version) values (${userId}, 'analytics', true, 'v1'), (${userId}, 'marketing', false, 'v1')`;
    await tx`insert into compliance.sessions (user_id, ip_address, user_agent) values (${userId}, '10.1.2.3', 'bench')`;
    await tx`insert into compliance.conversations (conversation_id, user_id, title)
             select gen_random_uuid(), ${userId}, 'conversation ' || n from generate_series(1, ${size.conversations}) n`;
    await tx`insert into compliance.messages (conversation_id, user_id, role, content)
             select c.conversation_id, c.user_id, case when n % 2 = 0 then 'user' else 'assistant' end, repeat('message text ', 8) || n
               from compliance.conversations c cross join generate_series(1, ${size.messagesPerConversation}) n
              where c.user_id = ${userId}`;
  });
  await insertAuditRows(admin, size.auditRows, { userId, spreadSeconds: 600 });
}
