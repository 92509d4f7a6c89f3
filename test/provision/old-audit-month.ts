/** An audit month a year back, as its own sealed partition: what the cold archive's tests archive. */
import type { TestDatabase } from './database.js';

/** a month yearsBack years back, as its own partition, with rows about the patient, by the patient, and about nobody */
export async function oldAuditMonth(db: TestDatabase, patient: string, yearsBack = 1): Promise<string> {
  const [month] = await db.admin`select date_trunc('month', b.at) as start, format('audit_logs_y%sm%s', to_char(b.at, 'YYYY'), to_char(b.at, 'MM')) as name
    from (select now() - make_interval(years => ${yearsBack}) as at) b`;
  await db.as('compliance_owner', null, async (tx) => {
    await tx.unsafe(`create table compliance.${month!.name} partition of compliance.audit_logs
      for values from ('${month!.start.toISOString()}') to ('${month!.start.toISOString()}'::timestamptz + interval '1 month')`);
    await tx`select compliance_private.protect_audit_relation(${`compliance.${month!.name}`}::regclass)`;
    await tx`
      with parts as (
        select n, ${month!.start}::timestamptz + make_interval(hours => n) as at,
               case when n % 5 = 0 then null else ${patient} end as subject,
               case when n % 3 = 0 then ${patient} else 'staff:nurse' end as actor,
               decode(md5('s' || n || random()), 'hex') as s_salt, decode(md5('a' || n || random()), 'hex') as a_salt
          from generate_series(1, 60) n
      ), digests as (
        select p.*, compliance_private.audit_subject_digest(p.s_salt, p.subject, case when p.subject is null then null else '{"why": "care"}'::jsonb end) as s_digest,
               compliance_private.audit_actor_digest(p.a_salt, p.actor, '10.1.2.3', 'ward-terminal') as a_digest
          from parts p
      )
      insert into compliance.audit_logs (occurred_at, action, category, resource_type, resource_id, details, user_id, actor_id, ip_address, user_agent,
                                         personal_details, subject_part_salt, subject_part_digest, actor_part_salt, actor_part_digest, personal_digest)
      select d.at, 'phi.access', 'hipaa', 'health_record', 'hr-' || d.n, jsonb_build_object('n', d.n), d.subject, d.actor, '10.1.2.3', 'ward-terminal',
             case when d.subject is null then null else '{"why": "care"}'::jsonb end, d.s_salt, d.s_digest, d.a_salt, d.a_digest, sha256(d.s_digest || d.a_digest)
        from digests d`;
  });
  await db.admin`select compliance.log_event('system.after_the_old_month', 'system')`;
  await db.admin`select compliance.seal_audit_log()`;
  return month!.name as string;
}
