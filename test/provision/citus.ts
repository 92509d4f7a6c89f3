/**
 * The suite against a Citus coordinator (PGCOMPLY_TEST_ON_CITUS=1, test/citus-suite.config.ts):
 * global setup starts a coordinator and two workers with pgcomply set up and spread over them,
 * and each test file gets a copy of that distributed database. A copy is made on every node
 * from the same template, so the coordinator's shard metadata names shards that exist, under
 * the same names, in the copies on the workers; Citus reaches a worker's database by the
 * coordinator's database name.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { citusCluster, onNode } from '../../db/citus-cluster.js';

/** the database citusCluster sets up on every node, copied by each test file */
export const CITUS_TEMPLATE = 'pgcomply';

export function onCitus(): boolean {
  return !!process.env.PGCOMPLY_TEST_ON_CITUS;
}

/** a coordinator and two workers on loopback; the template takes no connections, so it can be copied */
export async function startCitusForTests(pepper: string) {
  const cluster = await citusCluster(mkdtempSync(path.join(os.tmpdir(), 'pgcomply-citus-suite-')), 2, 32, pepper);
  const nodes = [cluster.coordinator, ...cluster.workers].map((node) => node.url('postgres'));
  for (const url of nodes) {
    await onNode(url, (sql) => sql`update pg_database set datallowconn = false where datname = ${CITUS_TEMPLATE}`);
  }
  return {
    maintenanceUrl: nodes[0]!,
    workerMaintenanceUrls: nodes.slice(1),
    source: 'citus',
    stop: async () => cluster.stop(),
  };
}

/**
 * `name` copied from the template on each node (workers first), with the template's database
 * settings, which CREATE DATABASE does not copy and which Citus needs (distribute_on_citus).
 * The caller holds the template lock.
 */
export async function copyCitusTemplate(name: string, maintenanceUrls: string[]): Promise<void> {
  for (const url of [...maintenanceUrls.slice(1), maintenanceUrls[0]!]) {
    await onNode(url, async (sql) => {
      // Citus's maintenance daemon connects to every database with the extension; it is refused
      // now, and CREATE DATABASE waits out the one still connected
      await sql`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${CITUS_TEMPLATE} and pid <> pg_backend_pid()`;
      await sql`set citus.enable_ddl_propagation = off`;
      await sql.unsafe(`create database "${name}" template "${CITUS_TEMPLATE}"`);
      const settings = await sql<{ setting: string }[]>`
        select unnest(s.setconfig) as setting from pg_db_role_setting s join pg_database d on d.oid = s.setdatabase
         where d.datname = ${CITUS_TEMPLATE} and s.setrole = 0`;
      for (const { setting } of settings) {
        const at = setting.indexOf('=');
        await sql.unsafe(`alter database "${name}" set ${setting.slice(0, at)} = '${setting.slice(at + 1).replaceAll("'", "''")}'`);
      }
    });
  }
}
