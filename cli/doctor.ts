/** pgcomply doctor: what an operator checks first, each a line with pass or fail and why: exit 1 when one fails, the audit chain and the anchors' age among them. */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import { MIGRATIONS_FOLDER } from '../db/setup.js';
import { loadConfig } from '../core/config.js';
import { AnchorError, loadAnchorKey, recordedAnchorFindings } from '../core/anchors/anchors.js';
import { verifyInDatabase } from '../core/verify/in-database.js';
import { adminUrl, type GlobalOptions, whereIs } from './session.js';

export interface Finding {
  check: string;
  status: 'pass' | 'fail';
  detail: string;
}

const MIGRATIONS = path.join(MIGRATIONS_FOLDER, 'committed');

export async function doctor(options: GlobalOptions): Promise<Finding[]> {
  const findings: Finding[] = [];
  const add = (check: string, ok: boolean, detail: string) => findings.push({ check, status: ok ? 'pass' : 'fail', detail });
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
    add('configuration', true, `NODE_ENV=${config.NODE_ENV}, data directory ${config.PGCOMPLY_DATA_DIR}`);
  } catch (error) {
    add('configuration', false, (error as Error).message);
    return findings;
  }
  const url = await adminUrl(options);
  const sql = postgres(url, { max: 1, onnotice: () => undefined, connect_timeout: 5, connection: { application_name: 'pgcomply-doctor' } });
  try {
    const [server] = await sql`select current_setting('server_version') as version, current_database() as database`;
    add('connectivity', true, `PostgreSQL ${server!.version} at ${whereIs(url)}, database ${server!.database}`);
  } catch (error) {
    add('connectivity', false, `cannot reach ${whereIs(url)}: ${(error as Error).message}`);
    await sql.end({ timeout: 1 });
    return findings;
  }
  try {
    const roles = await sql<{ rolname: string; rolcanlogin: boolean }[]>`
      select rolname, rolcanlogin from pg_roles where rolname in ('pgcomply_server', 'pgcomply_worker', 'pgcomply_migrator',
        'compliance_owner', 'compliance_app', 'compliance_dpo', 'compliance_worker', 'compliance_auditor', 'compliance_staff', 'compliance_approver')`;
    const missing = ['pgcomply_server', 'pgcomply_worker', 'compliance_owner', 'compliance_app', 'compliance_dpo', 'compliance_worker', 'compliance_auditor']
      .filter((name) => !roles.some((r) => r.rolname === name));
    add('roles', missing.length === 0, missing.length ? `missing: ${missing.join(', ')} (run npm run setup-db)` : `${roles.length} pgcomply roles present`);

    const committed = readdirSync(MIGRATIONS).filter((f) => f.endsWith('.sql')).length;
    const [applied] = await sql`select count(*)::int as n, max(filename) as newest from graphile_migrate.migrations`.catch(() => [{ n: 0, newest: null }]);
    add('migrations', applied!.n === committed, applied!.n === committed
      ? `all ${committed} applied (newest ${applied!.newest})`
      : `${applied!.n} of ${committed} applied: run npm run setup-db`);

    const [beat] = await sql`select max(beat_at) as last, (select heartbeat_max_age from compliance.compliance_check_settings) as max_age,
                                    max(beat_at) > now() - (select heartbeat_max_age from compliance.compliance_check_settings) as fresh
                               from compliance_private.worker_heartbeats`.catch(() => [{ last: null, fresh: false }]);
    add('worker heartbeat', Boolean(beat!.fresh), beat!.last ? `last beat ${(beat!.last as Date).toISOString()}` : 'the worker has never beaten: start it (npm start or npm run worker)');

    // the chain from the daily check's checkpoint (the whole chain without one), as the check verifies it
    const chain = await verifyInDatabase(sql, true);
    add('audit chain', chain.ok, chain.ok
      ? `verifies${chain.incremental ? ` after seal ${chain.from_seal}` : ''}; ${chain.unsealed_rows} rows not sealed yet${chain.notes.length ? `, ${chain.notes.length} note(s)` : ''}`
      : `${chain.problems.length} problem(s), first: ${[...new Set(chain.problems.map((p) => p.kind))].join(', ')} (pgcomply verify names them)`);

    // how old the newest anchor is (the check), and whether every anchor the chain records was
    // signed by the anchor key (PostgreSQL cannot check an Ed25519 signature; this can)
    const [anchors] = await sql<{ status: string; detail: string }[]>`select status, detail from compliance_private.check_anchors('{}')`;
    let unsigned: { detail: string }[] = [];
    try {
      unsigned = await recordedAnchorFindings(sql, loadAnchorKey(config, config.PGCOMPLY_DATA_DIR, { create: false }));
    } catch (error) {
      if (!(error instanceof AnchorError)) throw error;  // no key here: the signatures are verify --anchors' to check
    }
    add('anchors', anchors!.status !== 'fail' && unsigned.length === 0, unsigned.length
      ? `${unsigned.length} anchor(s) the chain records are not signed by the anchor key: ${unsigned[0]!.detail}` : anchors!.detail);
  } finally {
    await sql.end({ timeout: 5 });
  }
  return findings;
}
