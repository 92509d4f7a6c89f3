/**
 * pgcomply on a Citus cluster: a coordinator and two workers of this machine's PostgreSQL 15,
 * started here. Setup spreads the tables; a subject's rows and the audit rows about them sit on
 * one node; export reads them all; erasure runs on the subject's node, its second transaction
 * clears them where they acted, and neither worker keeps a trace.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Sql, TransactionSql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anchorFindingsIn, signAnchor, toAnchorKey, toAnchorState } from '../../core/anchors/anchors.js';
import { auditChains } from '../../core/verify/in-database.js';
import { DEVELOPMENT_LOGIN_PASSWORD } from '../../db/connection.js';
import { type Run, runPgcomply } from '../provision/pgcomply.js';
import type { MachineCluster } from '../../db/machine-cluster.js';
import { type CitusCluster, citusCluster } from '../../db/citus-cluster.js';
import { actAs, type FinishedElsewhere, finishErasuresElsewhere, holdsId, sealEveryChain as sealEveryChainOf, verifyEveryChain as verifyEveryChainOf, workerDump } from '../provision/citus-cluster-tools.js';
import { acknowledgeEachChain } from '../../worker/tasks/siem-feed.js';

const SUBJECTS = 10_000;
const SHARDS = 32;

let cluster: CitusCluster;
let db: Sql;
/** where the cold archive's bundles go */
const scratch = mkdtempSync(path.join(os.tmpdir(), 'pgcomply-citus-archive-'));

const as = <T>(role: string, actor: string, roles: string[], fn: (tx: TransactionSql) => Promise<T>) => actAs(db, role, actor, roles, fn);
/** every audit chain: one per shard */
const chains = () => auditChains(db);
const sealEveryChain = () => sealEveryChainOf(db);
const verifyEveryChain = () => verifyEveryChainOf(db);

/** the chains that fail verification once every chain is sealed: a test that broke one on purpose leaves it so */
async function chainsFailingOnceSealed(): Promise<Set<string>> {
  await sealEveryChain();
  return new Set((await verifyEveryChain()).filter((v) => !v.ok).map((v) => v.placement));
}

/** once every chain is sealed: each chain's verdict, and the problems of those failing beyond the known ones */
async function verifiedOnceSealed(known: Set<string>) {
  await sealEveryChain();
  const verdicts = await verifyEveryChain();
  return { verdicts, newlyFailing: verdicts.filter((v) => !v.ok && !known.has(v.placement)).map((v) => ({ placement: v.placement, problems: v.problems })) };
}

/** what only a superuser on a worker can do: write a shard directly, past the append-only triggers and Citus's guard */
async function onShardsAsSuperuser(worker: MachineCluster, fn: (tx: TransactionSql) => Promise<unknown>): Promise<void> {
  const direct = cluster.connect(worker);
  try {
    await direct.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      await tx`set local citus.enable_manual_changes_to_shards = on`;
      await fn(tx);
    });
  } finally {
    await direct.end();
  }
}

/** the operator's pgcomply executable against the coordinator */
function pgcomplyOn(args: string[]): Promise<Run> {
  return runPgcomply(['--actor', 'dpo:citus', '--json', ...args], { ...process.env, DATABASE_URL: cluster.coordinator.url('pgcomply'),
    DB_LOGIN_PASSWORD: DEVELOPMENT_LOGIN_PASSWORD, TOMBSTONE_PEPPER: cluster.pepper, PGCOMPLY_DATA_DIR: path.join(os.tmpdir(), 'pgcomply-citus-cli'),
    LOG_LEVEL: 'silent' });
}

type Erased = { erased: boolean; audit_rows_redacted: number; deleted: Record<string, number>; finishing_elsewhere: boolean };

/** a statement Citus sent a worker, as citus.log_remote_commands reports it */
type Issued = { port: number; command: string };
/** what only reads: the transaction's begin and end, the request context, a plain SELECT */
const readsOnly = (command: string) =>
  /^(BEGIN TRANSACTION |COMMIT$|ROLLBACK$|set local |SELECT )/.test(command)
  && !/ FOR (NO KEY |KEY )?(UPDATE|SHARE)\b|lock_shard_resources/.test(command);

/** a transaction acting as one of pgcomply's roles, with every statement Citus sends a worker for it */
async function watchingTheWorkers<T>(role: string, actor: string, roles: string[], fn: (tx: TransactionSql) => Promise<T>): Promise<{ result: T; issued: Issued[] }> {
  const issued: Issued[] = [];
  const watched = cluster.connect(cluster.coordinator, {
    max: 1,
    onnotice: (notice) => {
      const port = /on server \S+@[^:\s]+:(\d+)/.exec(String(notice.detail ?? ''))?.[1];
      const message = String(notice.message ?? '');
      if (port && message.startsWith('issuing ')) issued.push({ port: Number(port), command: message.slice('issuing '.length) });
    },
  });
  try {
    const result = await watched.begin(async (tx) => {
      await tx`set local citus.log_remote_commands = on`;
      await tx`set local client_min_messages = log`;
      await tx`select set_config('role', ${role}, true)`;
      await tx`select compliance.set_request_context(${actor}, ${roles})`;
      return fn(tx);
    }) as T;
    return { result, issued };
  } finally {
    await watched.end();
  }
}

/** a DPO's erasure, with every statement Citus sends a worker for it */
const eraseWatchingTheWorkers = async (subject: string): Promise<{ result: Erased; issued: Issued[] }> =>
  watchingTheWorkers('compliance_dpo', 'dpo:citus', ['dpo'], async (tx) =>
    (await tx<{ result: Erased }[]>`select compliance.erase_subject(${subject}, 'asked', true) as result`)[0]!.result);

/** the erasures' second transactions, as the worker runs them, with every statement Citus sends a worker for them */
const finishWatchingTheWorkers = async (): Promise<{ result: FinishedElsewhere[]; issued: Issued[] }> => {
  const issued: Issued[] = [];
  const result = await finishErasuresElsewhere(db, async (chain, requestId) => {
    const one = await watchingTheWorkers('compliance_worker', 'worker:erasures', [], async (tx) =>
      (await tx<{ result: FinishedElsewhere }[]>`select compliance.finish_erasure_elsewhere(${chain}, ${requestId}::bigint) as result`)[0]!.result);
    issued.push(...one.issued);
    return one.result;
  });
  return { result, issued };
};

/** the worker port that holds a subject's shard now (a shard may have moved) */
async function workerOf(subject: string): Promise<number> {
  const [home] = await db<{ port: number }[]>`
    select n.nodeport as port from pg_dist_placement pl join pg_dist_node n on n.groupid = pl.groupid
     where pl.shardid = get_shard_id_for_distribution_column('compliance.user_profiles', ${subject}::text)`;
  return home!.port;
}

beforeAll(async () => {
  cluster = await citusCluster(mkdtempSync(path.join(os.tmpdir(), 'pgcomply-citus-')), 2, SHARDS);
  db = cluster.connect();
});

afterAll(async () => {
  await db?.end();
  cluster?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

type SiemEvent = { chain: string; seal_no: string; seal_position: number; id: string };
/** the SIEM feed as the worker runs it, the SIEM taking every batch: events until none is left */
async function drainSiemFeed(): Promise<SiemEvent[]> {
  const received: SiemEvent[] = [];
  for (;;) {
    const batch = await as('compliance_worker', 'worker:siem', [], (tx) =>
      tx<SiemEvent[]>`select chain, seal_no::text, seal_position, id::text from compliance.siem_events(5000)`);
    if (batch.length === 0) return received;
    received.push(...batch);
    await as('compliance_worker', 'worker:siem', [], (tx) => acknowledgeEachChain((text, values) => tx.unsafe(text, values as string[]), batch));
  }
}

describe('pgcomply on a Citus coordinator with two workers', () => {
  it('places every table: a subject\'s tables by user_id, the records that outlive them by placement, all co-located, the rest on every node', async () => {
    const tables = await db<{ relation: string; method: string | null; column: string | null; colocation: number | null }[]>`
      select c.oid::regclass::text as relation, d.partmethod::text as method,
             case when d.partmethod = 'h' then column_to_column_name(d.logicalrelid, d.partkey) end as column,
             case when d.partmethod = 'h' then d.colocationid end as colocation
        from pg_class c left join pg_dist_partition d on d.logicalrelid = c.oid
       where c.relnamespace in ('compliance'::regnamespace, 'compliance_private'::regnamespace)
         and c.relkind in ('r', 'p') and not c.relispartition`;
    expect(tables.filter((t) => t.method === null).map((t) => t.relation)).toEqual([]);
    const distributed = Object.fromEntries(tables.filter((t) => t.method === 'h').map((t) => [t.relation, t.column]));
    expect(distributed).toMatchObject({
      'compliance.user_profiles': 'user_id', 'compliance.consent_records': 'user_id', 'compliance.health_records': 'user_id',
      'compliance.messages': 'user_id', 'compliance_private.subject_keys': 'user_id',
      'compliance.audit_logs': 'placement', 'compliance.dsr_requests': 'placement', 'compliance.access_grants': 'placement',
    });
    expect(new Set(tables.filter((t) => t.method === 'h').map((t) => t.colocation)).size).toBe(1);
    expect(tables.find((t) => t.relation === 'compliance.consent_purposes')!.method).toBe('n');

    const [placements] = await db<{ shards: number; outside: number }[]>`
      select count(*)::integer as shards,
             count(*) filter (where hashtext(placement) not between hash_min and hash_max)::integer as outside
        from compliance_private.shard_placements`;
    expect(placements).toEqual({ shards: SHARDS, outside: 0 });

    // every routine on every node, for the triggers that run on the shards
    const [coordinator] = await db<{ routines: number }[]>`
      select count(*)::integer as routines from pg_proc p
       where p.pronamespace in ('compliance'::regnamespace, 'compliance_private'::regnamespace)`;
    for (const worker of cluster.workers) {
      const sql = cluster.connect(worker);
      try {
        const [row] = await sql<{ routines: number }[]>`
          select count(*)::integer as routines from pg_proc p
           where p.pronamespace in ('compliance'::regnamespace, 'compliance_private'::regnamespace)`;
        expect(row!.routines).toBe(coordinator!.routines);
      } finally {
        await sql.end();
      }
    }
  });

  it(`spreads ${SUBJECTS} subjects over both workers, each profile's audit row in the shard of its subject`, async () => {
    await as('compliance_dpo', 'dpo:import', ['dpo'], async (tx) => {
      for (let start = 0; start < SUBJECTS; start += 1000) {
        const rows = Array.from({ length: 1000 }, (_, i) => ({ user_id: `citizen-${start + i}`, email: `citizen-${start + i}@example.org` }));
        await tx`insert into compliance.user_profiles ${tx(rows, 'user_id', 'email')}`;
      }
    });
    const perNode = await db<{ port: number; subjects: number }[]>`
      select n.nodeport as port, count(*)::integer as subjects
        from compliance.user_profiles p
        join pg_dist_placement pl on pl.shardid = get_shard_id_for_distribution_column('compliance.user_profiles', p.user_id)
        join pg_dist_node n on n.groupid = pl.groupid
       where p.user_id like 'citizen-%'
       group by n.nodeport order by n.nodeport`;
    expect(perNode.map((r) => r.port).sort()).toEqual(cluster.workers.map((w) => w.port).sort());
    for (const node of perNode) expect(node.subjects).toBeGreaterThan(SUBJECTS / 4);
    expect(perNode.reduce((sum, node) => sum + node.subjects, 0)).toBe(SUBJECTS);

    const [audit] = await db<{ rows: number; elsewhere: number }[]>`
      select count(*)::integer as rows,
             count(*) filter (where not hashtext(a.user_id) between s.hash_min and s.hash_max)::integer as elsewhere
        from compliance.audit_logs a join compliance_private.shard_placements s on s.placement = a.placement
       where a.action = 'profile.created' and a.user_id like 'citizen-%'`;
    expect(audit).toEqual({ rows: SUBJECTS, elsewhere: 0 });
  });

  it('exports a subject whole: profile, consents and the audit rows about them', async () => {
    const subject = 'citizen-7';
    await as('compliance_app', subject, [], async (tx) => {
      await tx`select compliance.record_consent(${subject}, 'marketing', true, null, 'api')`;
      await tx`select compliance.record_consent(${subject}, 'marketing', false, null, 'api')`;
    });
    const document = await as('compliance_dpo', 'dpo:citus', ['dpo'], async (tx) => {
      const [row] = await tx<{ document: Record<string, unknown> }[]>`select compliance.export_subject(${subject}, 'access') as document`;
      return row!.document as {
        profile: { email: string }; consents: { granted: boolean }[]; audit_trail: { action: string }[]; dsr_requests: { kind: string }[];
      };
    });
    expect(document.profile.email).toBe(`${subject}@example.org`);
    expect(document.consents.map((c) => c.granted)).toEqual([true, false]);
    expect(document.audit_trail.map((a) => a.action).filter((a) => a.startsWith('profile.') || a.startsWith('consent.')))
      .toEqual(['profile.created', 'consent.granted', 'consent.withdrawn']);
    expect(document.dsr_requests.map((r) => r.kind)).toEqual(['access']);
  });

  it('seals each shard\'s chain on the node that holds it, and every chain verifies', async () => {
    const all = await chains();
    expect(all).toHaveLength(SHARDS);
    // a call in a transaction block stays on the coordinator, which holds no chain (CITUS)
    await expect(db.begin((tx) => tx`select compliance.seal_audit_log(10000, 100, ${all[1]!})`)).rejects.toMatchObject({ code: 'CITUS' });
    await sealEveryChain();
    const [sealed] = await db<{ rows: number; unsealed: number }[]>`
      select (select sum(row_count)::integer from compliance.audit_seals) as rows,
             (select count(*)::integer from compliance.audit_logs) - (select sum(row_count)::integer from compliance.audit_seals) as unsealed`;
    expect(sealed!.rows).toBeGreaterThan(SUBJECTS);
    expect(sealed!.unsealed).toBe(0);
    const verdicts = await verifyEveryChain();
    expect(verdicts.filter((v) => !v.ok)).toEqual([]);
    expect(verdicts).toHaveLength(SHARDS);
    // the operator's command says the same
    const run = await pgcomplyOn(['verify']);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ ok: true, verifier: 'sql, per shard', chains: SHARDS });
    expect(JSON.parse(run.stdout).options_not_applied).toBeUndefined();
    // an option the cluster cannot honour is named, not dropped
    const incremental = await pgcomplyOn(['verify', '--since-checkpoint']);
    expect(incremental.code, incremental.stderr).toBe(0);
    expect(JSON.parse(incremental.stdout).options_not_applied).toContain('--since-checkpoint');
  });

  it('seals on after a worker is killed mid-seal and restarted: no chain forks, the roots resume, everything verifies', async () => {
    const all = await chains();
    await db`select compliance.seal_audit_root()`;
    const before = (await db<{ before: number }[]>`select max(root_no)::integer as before from compliance.audit_roots`)[0]!.before;
    // a backlog on every chain: an audited update of a thousand profiles
    await as('compliance_dpo', 'dpo:citus', ['dpo'], (tx) => tx`
      update compliance.user_profiles set full_name = 'Renamed' where user_id like 'citizen-1%' and length(user_id) = 12`);
    const victim = cluster.workers[1]!;
    // small seals, so that each chain's sealing is under way when the worker dies
    const sealing = Promise.allSettled(all.map((placement) => db`select compliance.seal_audit_log(5, 1000, ${placement})`));
    await new Promise((resolve) => setTimeout(resolve, 100));
    victim.stop('immediate');
    const outcomes = await sealing;
    expect(outcomes.some((o) => o.status === 'rejected')).toBe(true);
    victim.start();

    await sealEveryChain();
    const after = (await db<{ after: number }[]>`select compliance.seal_audit_root()::integer as after`)[0]!.after;
    expect(after).toBeGreaterThan(before);
    expect((await verifyEveryChain()).filter((v) => !v.ok || v.unsealed > 0)).toEqual([]);
    const [roots] = await db<{ ok: boolean }[]>`select ok from compliance.verify_audit_roots()`;
    expect(roots!.ok).toBe(true);
  });

  it('runs every check and the monthly report over every node, and an auditor\'s evidence holds every node\'s rows; with a worker silent the chain check fails naming it and its chains, and the run refuses to start (NODES)', async () => {
    const check = async () => (await db<{ status: string; measured: { chains: number; unreachable: { placement: string }[]; nodes_not_answering: string[] };
      detail: string }[]>`
      select status, measured, detail from compliance_private.check_audit_chain('{}')`)[0]!;
    const healthy = await check();
    expect(healthy, JSON.stringify(healthy)).toMatchObject({ status: 'pass' });
    expect(healthy.measured.chains).toBe(SHARDS);
    // the daily run of every check, recorded on the cluster
    const runs = async () => (await db<{ n: number }[]>`select count(*)::integer as n from compliance.check_runs where finished_at is not null`)[0]!.n;
    const results = await as('compliance_dpo', 'dpo:citus', ['dpo'], (tx) =>
      tx<{ check_name: string; status: string }[]>`select check_name, status from compliance.run_compliance_checks('demand')`);
    expect(results.find((r) => r.check_name === 'audit_chain')?.status).toBe('pass');
    expect(results.length).toBeGreaterThan(20);
    const recorded = await runs();
    expect(recorded).toBeGreaterThanOrEqual(1);
    // and the monthly report, counted over every node: the profiles' consents, the checks just run
    const [report] = await as('compliance_worker', 'worker:report', [], (tx) =>
      tx<{ content: { soc2: { check_pass_rates: { checks: { check: string; runs: number }[] } } } }[]>`
        select content from compliance.generate_monthly_report(date_trunc('month', now())::date)`);
    expect(report!.content.soc2.check_pass_rates.checks.find((c) => c.check === 'audit_chain')?.runs).toBeGreaterThanOrEqual(1);
    // and an auditor's evidence population holds the rows of every node
    const byWorker = new Map<number, string>();
    for (let n = 7001; byWorker.size < cluster.workers.length; n += 1) byWorker.set(await workerOf(`citizen-${n}`), `citizen-${n}`);
    for (const subject of byWorker.values()) {
      await as('compliance_app', subject, [], (tx) => tx`select compliance.ensure_profile(${subject})`);
      await as('compliance_app', subject, [], (tx) => tx`select compliance.record_consent(${subject}, 'marketing', true, null, 'api')`);
    }
    const [counted] = await db<{ consents: number }[]>`
      select count(*)::integer as consents from compliance.consent_records where recorded_at > now() - interval '1 day'`;
    const consents = counted!.consents;
    expect(consents).toBeGreaterThanOrEqual(cluster.workers.length);
    const population = await as('compliance_auditor', 'auditor:citus', ['auditor'], (tx) =>
      tx`select * from compliance.evidence_population('consent_changes', now() - interval '1 day', now() + interval '1 minute')`);
    expect(population).toHaveLength(consents);
    const victim = cluster.workers[0]!;
    const held = (await db<{ placement: string }[]>`
      select p.placement from compliance_private.shard_placements p
        join pg_dist_placement pl on pl.shardid = get_shard_id_for_distribution_column('compliance.audit_logs', p.placement)
        join pg_dist_node n on n.groupid = pl.groupid
       where n.nodeport = ${victim.port}`).map((r) => r.placement);
    victim.stop('immediate');
    try {
      const down = await check();
      expect(down.status).toBe('fail');
      expect(down.measured.nodes_not_answering).toEqual([`127.0.0.1:${victim.port}`]);
      // its chains cannot be verified (nor the others, whose accounting records it may hold)
      const unverified = new Set(down.measured.unreachable.map((u) => u.placement));
      for (const placement of held) expect(unverified.has(placement)).toBe(true);
      expect(down.detail).toContain('did not answer');
      // the run of every check refuses to start, naming the node (NODES): no check passes, and
      // no run is recorded
      const refused = await as('compliance_dpo', 'dpo:citus', ['dpo'], (tx) => tx`select * from compliance.run_compliance_checks('demand')`)
        .then(() => undefined, (error: { code?: string; message: string }) => error);
      expect(refused).toMatchObject({ code: 'NODES' });
      expect(refused!.message).toContain(`127.0.0.1:${victim.port}`);
      expect(await runs()).toBe(recorded);
    } finally {
      victim.start();
    }
  });

  it('moves a shard to the other worker with its chain: new rows sort after the sealed ones, and every chain verifies', async () => {
    const subject = 'citizen-5';
    const [placed] = await db<{ placement: string }[]>`select placement from compliance.audit_logs where user_id = ${subject} limit 1`;
    const placement = placed!.placement;
    const nodeOf = async () => (await db<{ port: number }[]>`
      select n.nodeport as port from pg_dist_placement pl join pg_dist_node n on n.groupid = pl.groupid
       where pl.shardid = get_shard_id_for_distribution_column('compliance.audit_logs', ${placement}::text)`)[0]!.port;
    const from = await nodeOf();
    const to = cluster.workers.find((w) => w.port !== from)!;
    await db`select compliance.seal_audit_log(10000, 100, ${placement})`;
    const sealedEnd = (await db<{ end: string }[]>`
      select max(last_row_id)::text as end from compliance.audit_seals where placement = ${placement}`)[0]!.end;

    await db`call compliance.move_shard(${placement}, '127.0.0.1', ${to.port})`;
    expect(await nodeOf()).toBe(to.port);
    // the subject's rows went with it, and new ones land there
    await as('compliance_app', subject, [], (tx) => tx`select compliance.record_consent(${subject}, 'analytics', true, null, 'api')`);
    const [newest] = await db<{ id: string }[]>`
      select max(id)::text as id from compliance.audit_logs where placement = ${placement} and action = 'consent.granted'`;
    expect(BigInt(newest!.id)).toBeGreaterThan(BigInt(sealedEnd));

    await sealEveryChain();
    await db`select compliance.seal_audit_root()`;
    expect((await verifyEveryChain()).filter((v) => !v.ok || v.unsealed > 0)).toEqual([]);
    const [roots] = await db<{ ok: boolean }[]>`select ok from compliance.verify_audit_roots()`;
    expect(roots!.ok).toBe(true);
    const [moved] = await db<{ n: number }[]>`select count(*)::integer as n from compliance.audit_logs where action = 'audit.shard_moved'`;
    expect(moved!.n).toBe(1);
  });

  it('names a sealed row deleted from a worker\'s shard by its superuser, in that shard\'s chain only', async () => {
    const [audited] = await db<{ id: string; placement: string }[]>`
      select id::text, placement from compliance.audit_logs where action = 'profile.created' and user_id = 'citizen-99'`;
    const [row] = await db<{ id: string; placement: string; shard: string; port: number }[]>`
      select ${audited!.id} as id, ${audited!.placement} as placement, pl.shardid::text as shard, n.nodeport as port
        from pg_dist_placement pl join pg_dist_node n on n.groupid = pl.groupid
       where pl.shardid = get_shard_id_for_distribution_column('compliance.audit_logs', ${audited!.placement}::text)`;
    await onShardsAsSuperuser(cluster.workers.find((w) => w.port === row!.port)!,
      (tx) => tx.unsafe(`delete from compliance.audit_logs_${row!.shard} where id = ${row!.id}`));
    const broken = (await verifyEveryChain()).filter((v) => !v.ok);
    expect(broken.map((v) => v.placement)).toEqual([row!.placement]);
    expect(broken[0]!.problems).toEqual([expect.objectContaining({ kind: 'deleted_row', row_id: Number(row!.id) })]);
    const run = await pgcomplyOn(['verify']);
    expect(run.code).not.toBe(0);
    expect(JSON.parse(run.stdout).problems).toEqual([expect.objectContaining({ kind: 'deleted_row', placement: row!.placement })]);
  });

  it('seals the chains\' newest seals into the root chain, and finds a chain rewritten whole after a root named it', async () => {
    await db`select compliance.seal_audit_root()`;
    const roots = (await db<{ roots: number }[]>`select count(*)::integer as roots from compliance.audit_roots`)[0]!.roots;
    expect(roots).toBeGreaterThan(0);
    const [before] = await db<{ ok: boolean; roots_checked: number }[]>`select ok, roots_checked::integer from compliance.verify_audit_roots()`;
    expect(before).toEqual({ ok: true, roots_checked: roots });
    // an anchor of the newest root, as the worker signs and writes it outside the database
    const key = toAnchorKey(generateKeyPairSync('ed25519').privateKey);
    const [digest] = await db<{ seal_no: string; seal_hash: string; last_row_id: string; sealed_at: Date; root_no: string; root_hash: string }[]>`
      select * from compliance.audit_digest()`;
    expect(digest!.root_no).toBe(String(roots));
    const anchor = signAnchor(toAnchorState('pgcomply', digest!, []), key);

    // a superuser on a worker alters a row of one chain and seals that chain again from its start:
    // rows, seals and head agree, so the chain alone verifies
    const [target] = await db<{ id: string; placement: string }[]>`
      select id::text, placement from compliance.audit_logs where action = 'profile.created' and user_id = 'citizen-123'`;
    const [shards] = await db<{ rows: string; seals: string; head: string; port: number }[]>`
      select get_shard_id_for_distribution_column('compliance.audit_logs', ${target!.placement}::text)::text as rows,
             get_shard_id_for_distribution_column('compliance.audit_seals', ${target!.placement}::text)::text as seals,
             get_shard_id_for_distribution_column('compliance_private.audit_seal_head', ${target!.placement}::text)::text as head,
             (select n.nodeport from pg_dist_placement pl join pg_dist_node n on n.groupid = pl.groupid
               where pl.shardid = get_shard_id_for_distribution_column('compliance.audit_logs', ${target!.placement}::text)) as port`;
    await onShardsAsSuperuser(cluster.workers.find((w) => w.port === shards!.port)!, async (tx) => {
      await tx.unsafe(`update compliance.audit_logs_${shards!.rows} set details = '{"rewritten": true}' where id = ${target!.id}`);
      await tx.unsafe(`delete from compliance.audit_seals_${shards!.seals} where placement = '${target!.placement}'`);
      await tx.unsafe(`delete from compliance_private.audit_seal_head_${shards!.head} where placement = '${target!.placement}'`);
    });
    await db`select compliance.seal_audit_log(10000, 100, ${target!.placement})`;
    const [chain] = await db<{ ok: boolean }[]>`select ok from compliance.verify_audit_log(null, null, ${target!.placement})`;
    expect(chain!.ok).toBe(true);

    // the roots still name the seal it had
    const [after] = await db<{ ok: boolean; problems: { kind: string; placement: string }[] }[]>`
      select ok, problems from compliance.verify_audit_roots()`;
    expect(after!.ok).toBe(false);
    expect(new Set(after!.problems.map((p) => `${p.kind} ${p.placement}`))).toEqual(new Set([`root_mismatch ${target!.placement}`]));

    // the superuser makes the roots agree too, from a new first root: the root chain verifies, and
    // only the anchor kept outside still tells
    await db.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      await tx`delete from compliance.audit_roots`;
    });
    await db`select compliance.seal_audit_root()`;
    const [rewritten] = await db<{ ok: boolean }[]>`select ok from compliance.verify_audit_roots()`;
    expect(rewritten!.ok).toBe(true);
    const findings = await anchorFindingsIn(db, [anchor], key);
    expect(findings).toEqual([expect.objectContaining({ root_no: roots, kind: roots === 1 ? 'anchor_mismatch' : 'anchor_missing' })]);
  });

  it('erases a subject on their node alone, and neither worker\'s dump then holds their id or e-mail, while each still holds other subjects', async () => {
    const subject = 'citizen-4242';
    await as('compliance_app', subject, [], (tx) => tx`select compliance.record_consent(${subject}, 'marketing', true, null, 'api')`);
    const [before] = await db<{ placement: string }[]>`
      select placement from compliance.audit_logs where user_id = ${subject} and action = 'profile.created'`;
    const homePort = await workerOf(subject);
    const elsewhere = cluster.workers.find((w) => w.port !== homePort)!;
    const untouched = workerDump(elsewhere);
    const { result: erased, issued } = await eraseWatchingTheWorkers(subject);
    expect(erased.erased).toBe(true);
    expect(erased.audit_rows_redacted).toBeGreaterThanOrEqual(2);
    expect(erased.finishing_elsewhere).toBe(true);

    // the erasure's transaction sends the other worker nothing at all: not a read, not a lock
    expect(issued.filter((i) => i.port !== homePort)).toEqual([]);
    const onHome = issued.filter((i) => i.port === homePort).map((i) => i.command);
    expect(onHome.some((command) => command.startsWith('DELETE FROM compliance.user_profiles_'))).toBe(true);

    // the other worker holds exactly what it held: the tombstone, the kept consent proof and the
    // erasure's record went to the subject's node
    const changed = (a: string, b: string) => { const was = new Set(b.split('\n')); return a.split('\n').filter((line) => !was.has(line)); };
    const unchangedThere = () => {
      const now = workerDump(elsewhere);
      expect({ added: changed(now, untouched), removed: changed(untouched, now) }).toEqual({ added: [], removed: [] });
    };
    unchangedThere();

    // the second transaction looks on every node for where they acted (nowhere), changes nothing
    // on the other worker, and takes the erased id off the subject's node
    const { result: finished, issued: looked } = await finishWatchingTheWorkers();
    expect(finished).toHaveLength(1);
    expect(finished[0]).toMatchObject({ audit_rows_redacted: 0, anonymised: { legal_holds_anonymised: 0, health_records_anonymised: 0 } });
    expect(looked.filter((i) => i.port === elsewhere.port).map((i) => i.command).filter((command) => !readsOnly(command))).toEqual([]);
    unchangedThere();
    const dumps = cluster.workers.map(workerDump);
    for (const dump of dumps) {
      expect(dump).not.toContain(subject);
      expect(dump).not.toContain(`${subject}@example.org`);
      // the dump does hold the shards: other subjects are in it
      expect(dump.match(/citizen-\d+@example\.org/g)?.length ?? 0).toBeGreaterThan(SUBJECTS / 4);
    }
    // the audit rows about them stay, redacted, in the subject's shard
    const [after] = await db<{ rows: number }[]>`
      select count(*)::integer as rows from compliance.audit_logs
       where placement = ${before!.placement} and action in ('profile.created', 'consent.granted')
         and user_id is null and redacted_at is not null`;
    expect(after!.rows).toBeGreaterThanOrEqual(2);
  });

  it('erases someone who acted on another worker\'s subject there too: who placed a hold is cleared on that node, no row is audited twice, every chain verifies', async () => {
    // two chains that verify now (an earlier test deleted a sealed row from one on purpose)
    const broken = await chainsFailingOnceSealed();
    const chainOf = async (subject: string) =>
      (await db<{ placement: string }[]>`select compliance_private.placement_of(${subject}) as placement`)[0]!.placement;
    let actor = '';
    for (let n = 5151; !actor; n += 1) if (!broken.has(await chainOf(`citizen-${n}`))) actor = `citizen-${n}`;
    const actorPort = await workerOf(actor);
    let patient = '';
    for (let n = 6161; !patient; n += 1) {
      const candidate = `citizen-${n}`;
      if (await workerOf(candidate) !== actorPort && !broken.has(await chainOf(candidate))) patient = candidate;
    }
    // the actor, a subject too, places and releases a hold as a DPO on the patient held elsewhere
    await as('compliance_dpo', actor, ['dpo'], (tx) => tx`select compliance.place_legal_hold(${patient}, 'a matter')`);
    await as('compliance_dpo', actor, ['dpo'], (tx) => tx`select compliance.release_legal_hold(${patient})`);
    const auditedAbout = async () => (await db<{ rows: number }[]>`
      select count(*)::integer as rows from compliance.audit_logs
       where placement = compliance_private.placement_of(${patient}) and user_id = ${patient}`)[0]!.rows;
    const before = await auditedAbout();
    await sealEveryChain();

    const { result: erased, issued: erasing } = await eraseWatchingTheWorkers(actor);
    expect(erased.finishing_elsewhere).toBe(true);
    expect(erasing.every((i) => i.port === actorPort)).toBe(true);
    // the hold on the other worker still names them until the second transaction runs
    const [waiting] = await db<{ placed_by: string | null }[]>`select placed_by from compliance.legal_holds where user_id = ${patient}`;
    expect(waiting!.placed_by).toBe(actor);
    const { result: finished, issued } = await finishWatchingTheWorkers();
    expect(finished.map((f) => f.anonymised.legal_holds_anonymised)).toEqual([1]);
    expect(finished[0]!.audit_rows_redacted).toBeGreaterThanOrEqual(2);
    expect(await finishWatchingTheWorkers()).toMatchObject({ result: [] });
    const [hold] = await db<{ placed_by: string | null; released_by: string | null }[]>`
      select placed_by, released_by from compliance.legal_holds where user_id = ${patient}`;
    expect(hold).toEqual({ placed_by: null, released_by: null });
    const [named] = await db<{ rows: number }[]>`
      select count(*)::integer as rows from compliance.audit_logs where actor_id = ${actor} or user_id = ${actor}`;
    expect(named!.rows).toBe(0);
    // the hold's own audit rows stay, the actor's part redacted; the change wrote no row of its own
    expect(await auditedAbout()).toBe(before);
    const patientPort = await workerOf(patient);
    expect(issued.some((i) => i.port === patientPort && i.command.startsWith('UPDATE compliance.legal_holds_'))).toBe(true);

    // the hold's chain, with the rows sealed before the redaction, verifies: the second
    // transaction's record, in the actor's chain, names the rows it redacted there
    const { verdicts, newlyFailing } = await verifiedOnceSealed(broken);
    expect(newlyFailing).toEqual([]);
    const theirs = [await chainOf(actor), await chainOf(patient)];
    expect(verdicts.filter((v) => theirs.includes(v.placement)).map((v) => v.ok)).toEqual([true, true]);
  });

  it('feeds the SIEM from every chain: every sealed row once, named by its chain, each chain in its order', async () => {
    await sealEveryChain();
    const events = await drainSiemFeed();
    // a row an earlier test deleted from a shard as superuser is not there to send: verification names it
    const sealed = await db<{ placement: string; id: string }[]>`
      select s.placement, u.id::text as id from compliance.audit_seals s cross join lateral unnest(s.row_ids) u(id)
        join compliance.audit_logs a on a.placement = s.placement and a.id = u.id`;
    // every sealed row of every chain, once, named by its chain
    expect(events.map((e) => `${e.chain}/${e.id}`).sort()).toEqual(sealed.map((r) => `${r.placement}/${r.id}`).sort());
    const chainsFed = new Set(events.map((e) => e.chain));
    expect(chainsFed.size).toBe(new Set(sealed.map((r) => r.placement)).size);
    expect(chainsFed.size).toBeGreaterThan(SHARDS / 2);
    // each chain's events in its order: seal by seal, position by position
    for (const chain of chainsFed) {
      const order = events.filter((e) => e.chain === chain).map((e) => [BigInt(e.seal_no), e.seal_position] as const);
      order.slice(1).forEach(([seal, position], n) => {
        const [seal0, position0] = order[n]!;
        expect(seal > seal0 || (seal === seal0 && position > position0)).toBe(true);
      });
    }
    const [lag] = await db<{ feeding: boolean; lag_seconds: string }[]>`select feeding, lag_seconds::text from compliance.siem_lag()`;
    expect(lag).toEqual({ feeding: true, lag_seconds: '0' });
  });

  it('archives and drops an expired audit month in every chain once the SIEM feed has passed it there: the bundle holds each chain\'s seals, each chain records its own drop, the personal parts stay on their subject\'s node, where erasure reaches them, and the chains and the archive verify', async () => {
    const broken = await chainsFailingOnceSealed();
    const months = (await chains()).filter((placement) => !broken.has(placement)).slice(0, 4);
    // a month a year gone (past archive_after, within retention), with rows in four chains,
    // written as the owner (every other writer takes today's date)
    const [month] = await db<{ name: string; start: Date }[]>`
      select format('audit_logs_y%sm%s', to_char(b.at, 'YYYY'), to_char(b.at, 'MM')) as name, date_trunc('month', b.at) as start
        from (select now() - interval '1 year' as at) b`;
    await db.begin(async (tx) => {
      await tx`select set_config('role', 'compliance_owner', true)`;
      await tx.unsafe(`create table compliance.${month!.name} partition of compliance.audit_logs
        for values from ('${month!.start.toISOString()}') to ('${month!.start.toISOString()}'::timestamptz + interval '1 month')`);
      await tx`select compliance_private.protect_audit_relation(${`compliance.${month!.name}`}::regclass)`;
    });
    const [digest] = await db<{ value: Buffer }[]>`
      select compliance_private.audit_personal_digest('\\x00'::bytea, null, null, null, null, null) as value`;
    // the first chain's rows are about one of its subjects, read by a nurse: personal parts that
    // stay in the database when the month goes
    const [patient] = await db<{ user_id: string }[]>`
      select p.user_id from compliance.user_profiles p
       where compliance_private.placement_of(p.user_id) = ${months[0]!} and p.user_id like 'citizen-%' order by p.user_id limit 1`;
    const [parts] = await db<{ subject_salt: Buffer; subject_digest: Buffer; actor_salt: Buffer; actor_digest: Buffer; personal_digest: Buffer }[]>`
      select s.salt as subject_salt, s.digest as subject_digest, a.salt as actor_salt, a.digest as actor_digest, sha256(s.digest || a.digest) as personal_digest
        from (select '\\x01'::bytea as salt, compliance_private.audit_subject_digest('\\x01'::bytea, ${patient!.user_id}, '{"why": "care"}'::jsonb) as digest) s,
             (select '\\x02'::bytea as salt, compliance_private.audit_actor_digest('\\x02'::bytea, 'staff:archivist', '10.1.2.3'::inet, 'ward-terminal') as digest) a`;
    const rows = months.flatMap((placement, chain) => Array.from({ length: 5 }, (_, n) => ({
      placement, occurred_at: new Date(month!.start.getTime() + ((chain * 60 + n) * 60_000)), action: 'phi.access', category: 'hipaa', details: '{}',
      ...(chain === 0
        ? { user_id: patient!.user_id, actor_id: 'staff:archivist', ip_address: '10.1.2.3', user_agent: 'ward-terminal', personal_details: { why: 'care' },
            personal_salt: null, subject_part_salt: parts!.subject_salt, subject_part_digest: parts!.subject_digest, actor_part_salt: parts!.actor_salt,
            actor_part_digest: parts!.actor_digest, personal_digest: parts!.personal_digest }
        : { user_id: null, actor_id: null, ip_address: null, user_agent: null, personal_details: null, personal_salt: Buffer.from([0]),
            subject_part_salt: null, subject_part_digest: null, actor_part_salt: null, actor_part_digest: null, personal_digest: digest!.value }),
    })));
    await db.begin(async (tx) => {
      await tx`select set_config('role', 'compliance_owner', true)`;
      await tx`insert into compliance.audit_logs ${tx(rows, 'placement', 'occurred_at', 'action', 'category', 'details', 'user_id', 'actor_id', 'ip_address',
        'user_agent', 'personal_details', 'personal_salt', 'subject_part_salt', 'subject_part_digest', 'actor_part_salt', 'actor_part_digest', 'personal_digest')}`;
    });
    await sealEveryChain();

    // the cold archive takes the month once every chain has sealed it: its bundle holds the seals
    // of each chain, and verifies chained to each live chain
    const archive = path.join(scratch, 'archive');
    const archived = JSON.parse((await pgcomplyOn(['archive', '--to', archive])).stdout) as { archived: { partition: string; rows: number; bundle_uri: string }[] };
    expect(archived.archived).toEqual([expect.objectContaining({ partition: month!.name, rows: rows.length })]);
    const sealLines = gunzipSync(readFileSync(archived.archived[0]!.bundle_uri)).toString('utf8').split('\n')
      .filter((line) => line.startsWith('{"type":"seal"')).map((line) => JSON.parse(line) as { chain: string });
    expect([...new Set(sealLines.map((seal) => seal.chain))].sort()).toEqual([...months].sort());
    // the archive's own record counts once it is sealed
    await sealEveryChain();
    const verdictBefore = await pgcomplyOn(['verify', '--archive', archive]);
    expect(JSON.parse(verdictBefore.stdout), verdictBefore.stderr)
      .toMatchObject({ ok: true, bundles_checked: 1, rows_checked: rows.length, chained_to_live_log: true, problems: [] });

    // the SIEM feed, started by the test before, has not sent the month's rows in any chain yet
    const [held] = await as('compliance_worker', 'worker:retention', [], (tx) =>
      tx<{ r: { partitions: unknown[] } }[]>`select compliance.apply_retention('audit_logs') as r`);
    expect(held!.r.partitions).toEqual([]);
    const [kept] = await db<{ details: { reason: string; chain: string } }[]>`
      select details from compliance.audit_logs where action = 'audit.partition_kept' and resource_id = ${month!.name}`;
    expect(kept!.details).toMatchObject({ reason: 'SIEM feed behind', chain: months[0] });
    const fed = await drainSiemFeed();
    expect(months.every((placement) => fed.some((e) => e.chain === placement))).toBe(true);
    await sealEveryChain();
    await drainSiemFeed();

    const [run] = await as('compliance_worker', 'worker:retention', [], (tx) =>
      tx<{ r: { partitions: { partition: string; rows: number; chains: { placement: string; rows: number }[] }[] } }[]>`
        select compliance.apply_retention('audit_logs') as r`);
    expect(run!.r.partitions).toEqual([expect.objectContaining({ partition: month!.name, rows: rows.length, archive: archived.archived[0]!.bundle_uri })]);
    const [gone] = await db<{ t: string | null }[]>`select to_regclass(${`compliance.${month!.name}`})::text as t`;
    expect(gone!.t).toBeNull();
    // one drop record in each chain that had rows in the month, naming that chain's rows
    const records = await db<{ placement: string; rows: number }[]>`
      select placement, (details ->> 'rows')::integer as rows
        from compliance.audit_logs where action = 'audit.partition_dropped' and placement = any (${months})`;
    expect(records.map((r) => [r.placement, r.rows]).sort()).toEqual(months.map((placement) => [placement, 5]).sort());

    // once the drop records are sealed, every chain verifies without the month, and the archive
    // still joins each live chain where the month left it
    expect((await verifiedOnceSealed(broken)).newlyFailing).toEqual([]);
    const verdictAfter = await pgcomplyOn(['verify', '--archive', archive]);
    expect(JSON.parse(verdictAfter.stdout), verdictAfter.stderr).toMatchObject({ ok: true, chained_to_live_log: true, problems: [] });

    // the personal parts the month left behind sit in its chain's shard, on the patient's node
    const [keptParts] = await db<{ placement: string; n: number }[]>`
      select placement, count(*)::integer as n from compliance.audit_archived_parts where user_id = ${patient!.user_id} group by placement`;
    expect(keptParts).toEqual({ placement: months[0], n: 5 });
    // erasing the patient redacts them there, and writes nothing on the other worker
    const homePort = await workerOf(patient!.user_id);
    const elsewhere = cluster.workers.find((w) => w.port !== homePort)!;
    const { result: erased, issued } = await eraseWatchingTheWorkers(patient!.user_id);
    expect(erased.erased).toBe(true);
    expect(issued.filter((i) => i.port === elsewhere.port)).toEqual([]);
    const { issued: looked } = await finishWatchingTheWorkers();
    expect(looked.filter((i) => i.port === elsewhere.port).map((i) => i.command).filter((command) => !readsOnly(command))).toEqual([]);
    // the nurse's part stays on record; the patient's is gone
    const [left] = await db<{ subject: number; redacted: number }[]>`
      select count(*) filter (where user_id = ${patient!.user_id})::integer as subject,
             count(*) filter (where actor_id = 'staff:archivist' and user_id is null and subject_part_salt is null and redacted_at is not null)::integer as redacted
        from compliance.audit_archived_parts where placement = ${months[0]!}`;
    expect(left).toEqual({ subject: 0, redacted: 5 });
    for (const dump of cluster.workers.map(workerDump)) expect(holdsId(dump, patient!.user_id)).toBe(false);
    await sealEveryChain();
    const verdictErased = await pgcomplyOn(['verify', '--archive', archive]);
    expect(JSON.parse(verdictErased.stdout), verdictErased.stderr).toMatchObject({ ok: true, problems: [] });
  });
});
