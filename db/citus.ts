/**
 * pgcomply on a Citus cluster (README, "On Citus"). Where the database has the citus extension
 * and workers, setup gives pgcomply's group roles LOGIN, since Citus reaches the workers as the
 * role that runs a statement, and after the migrations spreads the tables over the cluster
 * (compliance_private.distribute_on_citus). Elsewhere it does nothing.
 */
import { connect } from './tls.js';

const quiet = { onnotice: () => undefined, max: 1 } as const;

/**
 * The roles Citus connects to the workers as: every group role a statement on pgcomply's tables
 * runs as (pgaudit's audit role runs none). pg_hba.conf on the workers must admit them from the
 * cluster's nodes only (README, "On Citus").
 */
export const ROLES_CITUS_CONNECTS_AS = ['compliance_owner', 'compliance_app', 'compliance_dpo', 'compliance_worker',
  'compliance_auditor', 'compliance_staff', 'compliance_approver', 'compliance_receiver'] as const;

/** how many workers the database's Citus cluster has, or null where the citus extension is not installed */
export async function citusWorkerCount(adminUrl: string): Promise<number | null> {
  const sql = connect(adminUrl, quiet);
  try {
    const [row] = await sql<{ installed: boolean }[]>`select exists (select from pg_extension where extname = 'citus') as installed`;
    if (!row!.installed) return null;
    const [nodes] = await sql<{ workers: number }[]>`
      select count(*)::integer as workers from pg_dist_node where noderole = 'primary' and groupid <> 0 and isactive`;
    return nodes!.workers;
  } finally {
    await sql.end();
  }
}

/** LOGIN for the roles Citus connects as; Citus propagates the change to every node */
export async function letCitusConnectAsGroupRoles(adminUrl: string): Promise<void> {
  const sql = connect(adminUrl, quiet);
  try {
    for (const role of ROLES_CITUS_CONNECTS_AS) await sql.unsafe(`alter role ${role} login`);
  } finally {
    await sql.end();
  }
}

/** spreads pgcomply's tables over the cluster, once (a superuser on the coordinator) */
export async function distributeOnCitus(adminUrl: string, shardCount = 32): Promise<void> {
  const sql = connect(adminUrl, quiet);
  try {
    await sql`call compliance_private.distribute_on_citus(${shardCount})`;
    // apart: Citus refuses, in the transaction that placed the tables as the superuser, the owner's reads of them
    await sql`select compliance_private.record_expected_grants()`;
  } finally {
    await sql.end();
  }
}
