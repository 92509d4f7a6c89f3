/**
 * Evidence populations: each population's row count equals an
 * independent count, every CSV and the manifest hash verify, the manifest's hash is in the audit
 * chain, and the same seed draws the same sample.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { useServer } from './harness.js';

const api = useServer();
// the year the test runs in (the suite also runs under faketime at other dates)
const year = new Date().getUTCFullYear();
const period = { from: `${year}-01-01T00:00:00Z`, to: `${year + 1}-01-01T00:00:00Z` };

describe('evidence packages', () => {
  it('count each population as an independent query does, and hash what they hold', async () => {
    for (const user of ['user:ev1', 'user:ev2', 'user:ev3']) {
      const token = await api.token(user);
      await api.call('POST', '/api/v1/users/me/consent', token, { consent_type: 'analytics', granted: true });
      await api.call('POST', '/api/v1/users/me/health-records', token, { category: 'note', data: { n: user } });
    }
    const dpo = await api.token('dpo:dana', ['dpo']);
    await api.call('POST', '/api/v1/dpo/requests', dpo, { user_id: 'user:ev1', kind: 'objection' });
    await api.call('POST', '/api/v1/dpo/breaches', dpo, { discovered_at: new Date(Date.now() - 60_000).toISOString(), description: 'lost laptop', affected_count: 2 });
    // something in every population: an erasure, a retention run, a grant, a review, a check run, a package
    expect((await api.call('DELETE', '/api/v1/dpo/subjects/user:ev3?reason=asked&confirm=true', dpo)).status).toBe(200);
    expect((await api.call('POST', '/api/v1/dpo/retention/sessions/run', dpo, {})).status).toBe(200);
    const staff = await api.token('staff:sam', ['staff']);
    const requested = await api.call('POST', '/api/v1/staff/access-requests', staff, { patient_id: 'user:ev1', scope: 'phi.read', purpose: 'treatment', reason: 'follow-up visit' });
    expect(requested.status, requested.text).toBe(200);
    expect((await api.call('POST', '/api/v1/dpo/access-reviews', dpo, {})).status).toBe(200);
    const [previous] = await api.db.admin`select coalesce(max(audit_high_water), 0)::bigint as since from compliance.check_runs`;
    const checked = await api.call('POST', '/api/v1/dpo/checks/run', dpo, {});
    expect(checked.status).toBe(200);
    // privileged_mfa, counted apart: the audit rows a privileged API request wrote since the last
    // run, up to the run's own record (the run's request wrote some before the check read them)
    const mfa = (checked.json as { check_name: string; measured: Record<string, number> }[]).find((c) => c.check_name === 'privileged_mfa')!;
    const [run] = await api.db.admin`select max(id)::text as id from compliance.check_runs`;
    const [independent] = await api.db.admin`select count(*)::int as n, count(*) filter (where not (details -> 'authentication' ->> 'mfa')::boolean)::int as without
      from compliance.audit_logs where details ? 'authentication' and id > ${previous!.since}
       and id < (select id from compliance.audit_logs where action = 'compliance.checks_run' and resource_id = ${run!.id})`;
    expect(mfa.measured).toEqual({ privileged_actions: independent!.n, privileged_actions_without_mfa: independent!.without });
    expect(independent!.n).toBeGreaterThan(0);
    // a backup and a failed restore drill, as the worker records them
    await api.db.as('compliance_worker', null, async (tx) => {
      await tx`select compliance.record_backup(${JSON.stringify({ type: 'full', ok: true, label: '20260101-020000F', started_at: new Date(Date.now() - 120_000).toISOString(),
        stopped_at: new Date(Date.now() - 60_000).toISOString(), size_bytes: 1234, wal_start: '000000010000000000000002', wal_stop: '000000010000000000000003' })}::text::jsonb)`;
      await tx`select compliance.record_restore_drill(${JSON.stringify({ ok: false, started_at: new Date(Date.now() - 60_000).toISOString(), finished_at: new Date().toISOString(),
        problems: [{ kind: 'restore_failed', detail: 'pgbackrest restore failed' }] })}::text::jsonb)`;
    });
    // a grant given and taken back, as a migration would record them
    await api.db.admin`grant select on compliance.reports to compliance_worker`;
    await api.db.admin`select compliance_private.record_expected_grants()`;
    await api.db.admin`revoke select on compliance.reports from compliance_worker`;
    await api.db.admin`select compliance_private.record_expected_grants()`;

    const auditor = await api.token('auditor:ann', ['auditor']);
    expect((await api.call('POST', '/api/v1/evidence/packages', auditor, period)).status).toBe(200);
    const made = await api.call('POST', '/api/v1/evidence/packages', auditor, period);
    expect(made.status, made.text).toBe(200);
    const { manifest, csv, manifest_sha256, package_id } = made.json;
    const count = async (query: string) => Number((await api.db.admin.unsafe(query, [period.from, period.to]))[0]!.n);
    // each written apart from the stored query it checks
    const expected: Record<string, number> = {
      dsr_requests: await count('select count(*) as n from compliance.dsr_requests where received_at >= $1 and received_at < $2'),
      erasures: await count(`select count(*) as n from compliance.audit_logs where action = 'subject.erased' and occurred_at >= $1 and occurred_at < $2`),
      consent_changes: await count('select count(*) as n from compliance.consent_records where recorded_at >= $1 and recorded_at < $2'),
      retention_runs: await count(`select count(*) as n from compliance.audit_logs where action = 'retention.applied' and occurred_at >= $1 and occurred_at < $2`),
      access_grants: await count('select count(*) as n from compliance.access_grants where requested_at >= $1 and requested_at < $2'),
      access_reviews: await count(`select count(*) as n from compliance.access_review_items i where exists (select from compliance.access_review_campaigns c
                                     where c.id = i.campaign_id and c.opened_at >= $1 and c.opened_at < $2)`),
      phi_accesses: await count(`select count(*) as n from compliance.audit_logs where action like 'phi.%' and action not in ('phi.unusual_access', 'phi.keys_rotated') and occurred_at >= $1 and occurred_at < $2`),
      phi_unusual_access: await count(`select count(*) as n from compliance.audit_logs where action = 'phi.unusual_access' and occurred_at >= $1 and occurred_at < $2`),
      role_memberships: await count(`select count(*) as n from pg_auth_members m join pg_roles r on r.oid = m.roleid where starts_with(r.rolname, 'compliance_') and $1::timestamptz < $2::timestamptz`)
        + await count(`select coalesce(sum(jsonb_array_length(details -> 'changes')), 0) as n from compliance.audit_logs
                        where action = 'security.grants_recorded' and occurred_at >= $1 and occurred_at < $2`),
      verification_results: await count(`select count(*) as n from compliance.check_results c join compliance.check_runs r on r.id = c.run_id where r.started_at >= $1 and r.started_at < $2`),
      breaches: await count('select count(*) as n from compliance.breaches where discovered_at >= $1 and discovered_at < $2'),
      evidence_packages: await count(`select count(*) as n from compliance.evidence_packages where id < ${Number(package_id)} and generated_at >= $1 and generated_at < $2`),
      worker_heartbeats: await count('select count(*) as n from compliance_private.worker_heartbeats where beat_at >= $1 and beat_at < $2'),
      // what the package's own request wrote before it recorded the package counts; its record does not
      backups: await count(`select count(*) as n from compliance.audit_logs where action in ('backup.taken', 'backup.failed') and details ->> 'written_by' = 'compliance.record_backup'
                              and occurred_at >= $1 and occurred_at < $2`),
      restore_drills: await count(`select count(*) as n from compliance.audit_logs where action = 'backup.drill' and details ->> 'written_by' = 'compliance.record_restore_drill'
                                     and occurred_at >= $1 and occurred_at < $2`),
      recovery_points: await count(`select count(*) as n from compliance.check_results c join compliance.check_runs r on r.id = c.run_id
                                      where c.check_name = 'wal_archive_lag' and r.started_at >= $1 and r.started_at < $2`),
      privileged_actions: await count(`select count(*) as n from compliance.audit_logs where details ? 'authentication' and occurred_at >= $1 and occurred_at < $2
                                         and id < (select id from compliance.audit_logs where action = 'evidence.package_generated' and resource_id = '${Number(package_id)}')`),
    };
    expect(Object.keys(expected).sort()).toEqual(manifest.populations.map((p: { name: string }) => p.name).sort());
    const [header, ...lines] = (csv.role_memberships as string).split('\r\n');
    const at = (name: string) => header!.split(',').indexOf(name);
    const grantChanges = lines.map((line) => line.split(',')).filter((cells) => cells[at('kind')]!.startsWith('grant_'))
      .map((cells) => ['kind', 'grantee', 'role_or_object', 'privilege'].map((c) => cells[at(c)]).join(','));
    expect(grantChanges).toEqual(expect.arrayContaining([
      'grant_added,compliance_worker,compliance.reports,SELECT', 'grant_removed,compliance_worker,compliance.reports,SELECT']));
    for (const name of ['erasures', 'retention_runs', 'access_grants', 'access_reviews', 'verification_results', 'evidence_packages', 'role_memberships',
      'backups', 'restore_drills', 'recovery_points']) {
      expect(expected[name], name).toBeGreaterThan(0);
    }
    // three given, the erased subject's gone with it
    expect(expected.consent_changes).toBe(2);
    for (const [name, n] of Object.entries(expected)) {
      const entry = manifest.populations.find((p: { name: string }) => p.name === name);
      expect(entry.rows, name).toBe(n);
      expect(csv[name].trimEnd().split('\r\n').length - 1, `${name} CSV rows`).toBe(n);
      expect(createHash('sha256').update(csv[name]).digest('hex'), `${name} hash`).toBe(entry.sha256);
      expect(entry).toMatchObject({ database: api.db.name, schema_version: expect.stringMatching(/^\d{6}\.sql$/) });
      expect(entry.query).toContain('$1');
    }
    const [stored] = await api.db.admin`select manifest, manifest_sha256, encode(sha256(convert_to(manifest::text, 'UTF8')), 'hex') as recomputed
                                         from compliance.evidence_packages where id = ${package_id}`;
    expect(stored!.recomputed).toBe(manifest_sha256);
    const [audit] = await api.db.admin`select details from compliance.audit_logs where action = 'evidence.package_generated' and resource_id = ${package_id}`;
    expect(audit!.details.manifest_sha256).toBe(manifest_sha256);
    // an altered package no longer matches the hash the chain holds
    await api.db.admin.begin(async (tx) => {
      await tx`alter table compliance.evidence_packages drop constraint evidence_packages_manifest_hash`;
      await tx`update compliance.evidence_packages set manifest = jsonb_set(manifest, '{populations,0,rows}', '999') where id = ${package_id}`;
      const [altered] = await tx`select encode(sha256(convert_to(manifest::text, 'UTF8')), 'hex') as h from compliance.evidence_packages where id = ${package_id}`;
      expect(altered!.h).not.toBe(audit!.details.manifest_sha256);
      throw new Error('rolled back');
    }).catch(() => undefined);
  });

  it('draws the same sample from the same seed, and refuses a subject', async () => {
    const auditor = await api.token('auditor:ann', ['auditor']);
    const path = (seed: string) => `/api/v1/evidence/phi_accesses/sample?from=${period.from}&to=${period.to}&size=2&seed=${seed}`;
    const first = await api.call('GET', path('audit-2026-q4'), auditor);
    expect(first.status, first.text).toBe(200);
    expect(first.json.rows).toHaveLength(2);
    expect((await api.call('GET', path('audit-2026-q4'), auditor)).json.rows).toEqual(first.json.rows);
    expect((await api.call('GET', path('x'), await api.token('user:ev1'))).status).toBe(403);
    expect((await api.call('GET', `/api/v1/evidence/nothing/sample?from=${period.from}&to=${period.to}&seed=s`, auditor)).status).toBe(400);
  });
});
