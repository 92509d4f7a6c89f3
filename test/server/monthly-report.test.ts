/**
 * The monthly report: computed for a fixture month, it shows the fixture's numbers;
 * its hash is in the audit chain; its HTML opens in headless Chromium with no request but the
 * page's own and no console error (a screenshot goes to test/artifacts/); every figure links to
 * its population, and following a link gives that many rows.
 */
import { describe, expect, it } from 'vitest';
import { useServer } from './harness.js';
import { openHtmlInChromium } from '../provision/chromium.js';

const api = useServer();

describe('the monthly report', () => {
  it('shows the fixture month\'s numbers, is in the audit chain, and renders as one self-contained page', async () => {
    const month = new Date().toISOString().slice(0, 7);
    for (const user of ['user:mr1', 'user:mr2']) {
      const token = await api.token(user);
      expect((await api.call('POST', '/api/v1/users/me/consent', token, { consent_type: 'analytics', granted: true })).status).toBe(200);
      await api.call('POST', '/api/v1/users/me/health-records', token, { category: 'note', data: { text: `note of ${user}` } });
    }
    const mr1 = await api.token('user:mr1');
    await api.call('POST', '/api/v1/users/me/consent', mr1, { consent_type: 'analytics', granted: false });
    expect((await api.call('GET', '/api/v1/users/me/health-records', mr1)).status).toBe(200);
    // an erased subject's consents go with it: one who gave none keeps the trend as the fixture made it
    const leaving = await api.token('user:mr-leaving');
    await api.call('PATCH', '/api/v1/users/me', leaving, { full_name: 'Leaving' });
    const erased = await api.call('DELETE', '/api/v1/users/me?confirm=true', leaving);
    expect(erased.status, erased.text).toBe(200);
    const dpo = await api.token('dpo:dana', ['dpo']);
    // a minute ago, or the month's first instant when the month began less than a minute ago
    const monthStart = Date.parse(`${month}-01T00:00:00Z`);
    const discovered = new Date(Math.max(Date.now() - 60_000, monthStart)).toISOString();
    await api.call('POST', '/api/v1/dpo/breaches', dpo, { discovered_at: discovered, description: 'misdirected letter', affected_count: 1 });
    // a differential backup, and a restore drill that took 90 seconds, as the worker records them
    const [sealed] = await api.db.admin`select seal_no::int8 as seal_no, encode(seal_hash, 'hex') as seal_hash from compliance.audit_seals order by seal_no desc limit 1`;
    const drillEnd = Math.max(Date.now(), monthStart + 90_000);
    // a month begun less than 90 seconds ago holds no 90-second drill
    const drilled = drillEnd <= Date.now() ? 1 : 0;
    await api.db.as('compliance_worker', null, async (tx) => {
      await tx`select compliance.record_backup(${JSON.stringify({ type: 'diff', ok: true, label: '20260101-020000F_20260102-020000D', started_at: new Date(Date.now() - 60_000).toISOString(),
        stopped_at: new Date().toISOString(), size_bytes: 99 })}::text::jsonb)`;
      if (drilled) {
        await tx`select compliance.record_restore_drill(${JSON.stringify({ ok: true, label: '20260101-020000F', started_at: new Date(drillEnd - 90_000).toISOString(),
          finished_at: new Date(drillEnd).toISOString(), restored_seal_no: sealed?.seal_no ?? null, restored_seal_hash: sealed?.seal_hash ?? null, problems: [] })}::text::jsonb)`;
      }
    });
    await api.db.admin`select compliance.run_compliance_checks()`;

    const asked = Date.now();
    const generated = await api.call('POST', '/api/v1/reports/monthly', dpo, { month });
    const answered = Date.now();
    expect(generated.status, generated.text).toBe(200);
    const { content, content_sha256, id, complete } = generated.json;
    // complete once the month is over: a run that starts in a month's last seconds (the faketime
    // rerun at 2030-12-31 23:59:50) may ask after it ended
    const monthEnd = Date.UTC(Number(month.slice(0, 4)), Number(month.slice(5, 7)), 1);
    if (monthEnd > answered) expect(complete).toBe(false);
    else if (monthEnd <= asked) expect(complete).toBe(true);
    const count = async (query: string) => Number((await api.db.admin.unsafe(query))[0]!.n);
    expect(content.gdpr.erasures.value).toBe(1);
    expect(content.gdpr.requests_received.value).toBe(await count('select count(*) as n from compliance.dsr_requests'));
    expect(content.gdpr.consent_trend.weeks.filter((w: { purpose: string }) => w.purpose === 'analytics')
      .reduce((sum: { granted: number; withdrawn: number }, w: { granted: number; withdrawn: number }) =>
        ({ granted: sum.granted + w.granted, withdrawn: sum.withdrawn + w.withdrawn }), { granted: 0, withdrawn: 0 }))
      .toEqual({ granted: 2, withdrawn: 1 });
    expect(content.hipaa.phi_accesses.value).toBe(await count(`select count(*) as n from compliance.audit_logs where action in ('phi.read', 'phi.created', 'phi.updated', 'phi.deleted')`));
    expect(content.hipaa.phi_accesses.value).toBeGreaterThanOrEqual(3);
    expect(content.breaches.value).toBe(1);
    const [chainCheck] = await api.db.admin`select status, detail from compliance.check_results where check_name = 'audit_chain'`;
    const passed = chainCheck!.status === 'pass' ? 1 : 0;
    expect(content.soc2.check_pass_rates.checks.find((c: { check: string }) => c.check === 'audit_chain')).toMatchObject({ runs: 1, passed, pass_rate: passed });
    // the backup recorded a minute ago is the newest; the drill too, when the month is old enough for its span
    expect(content.soc2.check_pass_rates.checks.find((c: { check: string }) => c.check === 'backup_age')).toMatchObject({ runs: 1, passed: 1, pass_rate: 1 });
    expect(content.soc2.check_pass_rates.checks.find((c: { check: string }) => c.check === 'restore_drill')).toMatchObject({ runs: 1, pass_rate: drilled ? 1 : null });
    expect(content.audit_chain.latest_verification).toMatchObject({ status: chainCheck!.status, detail: chainCheck!.detail });
    // the newest seal is what the chain holds; the last anchor is one written outside it, and none was
    const [newest] = await api.db.admin`select seal_no::int as seal_no from compliance.audit_seals order by seal_no desc limit 1`;
    expect(content.audit_chain.newest_seal?.seal_no ?? null).toBe(newest?.seal_no ?? null);
    expect(content.audit_chain.last_anchor).toBeNull();
    // the TLS versions the month's client_tls runs saw, counted from the check results themselves
    const [tls] = await api.db.admin`select coalesce(jsonb_object_agg(k, n), '{}') as seen from (select k, count(*)::int as n
      from compliance.check_results c join compliance.check_runs r on r.id = c.run_id, jsonb_object_keys(c.measured -> 'versions') k
      where c.check_name = 'client_tls' and r.started_at >= ${content.period.from} and r.started_at < ${content.period.to} group by k) v`;
    expect(content.tls.database_versions_seen).toEqual(tls!.seen);
    expect(Object.keys(content.tls.database_versions_seen).length).toBeGreaterThan(0);
    // mfa_enabled_users: the privileged users whose tokens proved a second factor over the 90 days, counted apart
    const [mfaUsers] = await api.db.admin`select count(distinct actor_id) filter (where (details -> 'authentication' ->> 'mfa')::boolean)::int as n
      from compliance.audit_logs where details ? 'authentication' and occurred_at >= ${content.period.to}::timestamptz - interval '90 days' and occurred_at < ${content.period.to}`;
    expect(content.soc2.mfa_enabled_users).toMatchObject({ value: mfaUsers!.n, population: 'privileged_actions' });
    expect(mfaUsers!.n).toBeGreaterThan(0);
    // recovery: the backups and drills the worker recorded; the test servers archive no WAL, so the recovery point says why it is not measured
    expect(content.recovery.backups).toMatchObject({ value: 1, full: 0, failed: 0, population: 'backups' });
    expect(content.recovery.restore_drills).toMatchObject({ value: drilled, passed: drilled, rto_objective_seconds: 14_400, population: 'restore_drills' });
    if (drilled) expect(Number(content.recovery.restore_drills.max_rto_seconds)).toBeCloseTo(90, 0);
    expect(content.recovery.recovery_point).toMatchObject({ value: null, population: 'recovery_points' });
    expect(content.recovery.recovery_point.not_applicable).toMatch(/no wal_archive_lag check measured continuous archiving/);
    const [audit] = await api.db.admin`select details from compliance.audit_logs where action = 'report.generated' and resource_id = ${id}`;
    expect(audit!.details.content_sha256).toBe(content_sha256);
    // and "report ready" goes out through the alert outbox
    const [ready] = await api.db.admin`select payload from compliance.alert_outbox where topic = 'report.ready' and payload ->> 'report_id' = ${String(id)}`;
    expect(ready!.payload).toMatchObject({ content_sha256, complete });

    const auditor = await api.token('auditor:ann', ['auditor']);
    const page = await api.call('GET', `/api/v1/reports/${id}/html`, auditor);
    expect(page.status, page.text).toBe(200);
    const opened = await openHtmlInChromium(page.json.html, 'monthly-report');
    expect(opened.status).toBe(200);
    expect(opened.title).toBe(`pgcomply compliance report ${month}`);
    expect(page.json.html).toContain('Last anchor: none was written outside the database');
    expect(page.json.html).toContain('<h2>Backups and recovery</h2>');
    expect(page.json.html).toContain('Recovery point: no wal_archive_lag check measured continuous archiving in the period.');
    expect(page.json.html).toMatch(/Versions seen on database connections by the month's client_tls checks .*:\s+(without TLS|TLSv1\.\d) in \d+ run/s);
    expect(opened.requests).toHaveLength(1);
    expect(opened.failed).toEqual([]);
    expect(opened.consoleErrors).toEqual([]);
    expect(opened.pdfBytes).toBeGreaterThan(10_000);

    // every figure links to a population that exists, and the breach figure's link gives its row
    const populations = new Set((await api.db.admin`select name from compliance.evidence_populations`).map((r) => r.name as string));
    const evidenceLinks = opened.links.filter((l) => l.href.startsWith('/api/v1/evidence/'));
    expect(evidenceLinks.length).toBeGreaterThan(15);
    for (const link of evidenceLinks) expect(populations, link.href).toContain(decodeURIComponent(link.href.split('/')[4]!.split('?')[0]!));
    const breachLink = evidenceLinks.find((l) => l.href.startsWith('/api/v1/evidence/breaches?'))!;
    expect(breachLink.text).toBe('1');
    const followed = await api.call('GET', breachLink.href, auditor);
    expect(followed.status, followed.text).toBe(200);
    expect(followed.json.rows).toHaveLength(1);
  });

  it('counts the evidence packages generated in the month, whatever period each one covers', async () => {
    // generated now, for a period long gone
    const [recorded] = await api.db.as('compliance_auditor', { actor: 'auditor:ann', roles: ['auditor'] },
      (tx) => tx`select generated_at from compliance.record_evidence_package('2020-01-01T00:00:00Z', '2020-04-01T00:00:00Z', ${tx.json({ populations: [] })})`);
    // the month it was generated in, read from the database: no clock of the test's own
    const [counted] = await api.db.admin`
      with month as (select date_trunc('month', ${recorded!.generated_at}::timestamptz, 'UTC') as start)
      select (compliance_private.monthly_report_content(m.start, m.start + interval '1 month') -> 'soc2' -> 'evidence_packages' ->> 'value')::int as reported,
             (select count(*)::int from compliance.evidence_packages p where p.generated_at >= m.start and p.generated_at < m.start + interval '1 month') as generated
        from month m`;
    expect(counted!.generated).toBeGreaterThanOrEqual(1);
    expect(counted!.reported).toBe(counted!.generated);
  });

  it('refuses a month that has not begun, and a subject', async () => {
    const dpo = await api.token('dpo:dana', ['dpo']);
    const next = new Date();
    next.setUTCMonth(next.getUTCMonth() + 2);
    const future = await api.call('POST', '/api/v1/reports/monthly', dpo, { month: next.toISOString().slice(0, 7) });
    expect(future.status).toBe(400);
    expect(future.json.data.sqlstate).toBe('BADRG');
    expect((await api.call('POST', '/api/v1/reports/monthly', dpo, { month: '2026-13' })).status).toBe(400);
    expect((await api.call('GET', '/api/v1/reports', await api.token('user:mr3'))).status).toBe(403);
  });
});
