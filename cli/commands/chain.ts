/** The audit chain from outside: anchors, the independent verifier, the erasure replay. */
import type { Sql } from 'postgres';
import { anchorFindingsIn, anchorRecord, appendAnchor, journalSince, readAnchors, signAnchor, signatureHolds } from '../../core/anchors/anchors.js';
import { ArchiveStoreError } from '../../core/archive/store.js';
import { verifyArchive } from '../../core/archive/verify-archive.js';
import { anchorKeyOf, archiveStoreOf, loadConfig } from '../../core/config.js';
import { auditChains, verifyChainsInDatabase, verifyInDatabase } from '../../core/verify/in-database.js';
import { standbyLag } from '../../core/verify/standby.js';
import { type Verdict, verifyIndependently } from '../../core/verify/verifier.js';
import { printResult, progress } from '../output.js';
import { adminConnection, adminUrl, UsageError, whereIs } from '../session.js';
import type { Cli } from '../program.js';
import { notAStandby, replicaOf } from '../standby.js';

export function registerChain(cli: Cli): void {
  cli.program.command('anchor').description('sign the newest seal and the erasures since the last anchor (Ed25519) and append it to an anchor log kept outside the database')
    .option('--out <file>', 'the anchor log (JSON lines) to append to; stdout when none')
    .action(async (options: { out?: string }) => cli.withSession(async ({ caller }) => {
      const key = anchorKeyOf(loadConfig());
      const since = options.out ? journalSince(readAnchors(options.out)) : null;
      const anchor = signAnchor(await caller.evidence.anchorState({ since: since ?? undefined }), key);
      if (options.out) appendAnchor(options.out, anchor);
      else process.stdout.write(`${JSON.stringify(anchor)}\n`);
      // the chain records that the anchor exists outside it
      await caller.evidence.recordAnchor(anchorRecord(anchor, key, options.out ?? 'stdout') as never);
      return options.out ? { seal_no: anchor.seal_no, seal_hash: anchor.seal_hash, erasures: anchor.erasures.length, key_id: anchor.key_id, appended_to: options.out } : undefined;
    }));

  cli.program.command('verify').description('verify the audit chain independently (db/AUDIT_HASHING.md in TypeScript, rows read with COPY), and with --anchors that every anchored seal is still there, unchanged; exit 1 on any finding')
    .option('--anchors <file>', 'an anchor log written by pgcomply anchor or the worker (ANCHOR_DIR)')
    .option('--sql', 'ask compliance.verify_audit_log() inside the database instead')
    .option('--since-checkpoint', 'only what was sealed after the last passing verification the chain records (as the daily check does)')
    .option('--archive <location>', 'verify the cold archive\'s bundles instead (a directory or s3://bucket/prefix): offline, and chained to the live log when a database is reachable')
    .option('--offline', 'with --archive: the bundles alone, without the database')
    .option('--replica <url>', 'verify on this hot standby instead of the primary (REPLICA_DATABASE_URL), so verification does not load the primary; says how far behind the standby was')
    .action(async (options: { anchors?: string; sql?: boolean; sinceCheckpoint?: boolean; replica?: string; archive?: string; offline?: boolean }) => {
      if (options.archive) return verifyTheArchive(options.archive, Boolean(options.offline));
      const primaryUrl = await adminUrl(cli.globals());
      const replicaUrl = replicaOf(options.replica);
      const url = replicaUrl ?? primaryUrl;
      // measured before the rows are read: what the verification saw is the primary's chain as of then
      const lag = replicaUrl ? await standbyLag(replicaUrl, primaryUrl).catch((error: Error) => {
        throw new UsageError(`cannot reach the replica at ${whereIs(replicaUrl)}: ${error.message}`);
      }) : undefined;
      if (lag && !lag.standby) throw notAStandby(replicaUrl!);
      const sql = await adminConnection(url);
      try {
        // a Citus cluster keeps a chain per shard: each is verified in the database, on its
        // node's shard, and the roots with them (the independent verifier reads one chain)
        const chains = await auditChains(sql);
        const perShard = chains.length > 1;
        const verdict = perShard
          ? await verifyChainsInDatabase(sql, chains)
          : options.sql
            ? await verifyInDatabase(sql, Boolean(options.sinceCheckpoint))
            : await verifyWithProgress(sql, url, Boolean(options.sinceCheckpoint));
        const problems: { kind: string; seal_no: number | null; row_id?: number; detail: string }[] = [...verdict.problems];
        let anchorsChecked = 0;
        if (options.anchors) {
          const anchors = readAnchors(options.anchors);
          if (anchors.length === 0) throw new UsageError(`${options.anchors} holds no anchor`);
          problems.push(...await anchorFindingsIn(sql, anchors, anchorKeyOf(loadConfig())));
          anchorsChecked = anchors.length;
        }
        if (problems.length > 0) process.exitCode = cli.EXIT.finding;
        printResult({ ok: problems.length === 0, verifier: perShard ? 'sql, per shard' : options.sql ? 'sql' : 'independent',
          ...(perShard ? { chains: chains.length, roots_checked: (verdict as { roots_checked?: number }).roots_checked } : {}),
          // said rather than dropped: the operator asked for something this verification did not do
          ...(perShard && (options.sql || options.sinceCheckpoint)
            ? { options_not_applied: 'on a Citus cluster every chain is verified in full, in the database: --sql and --since-checkpoint do not apply' } : {}),
          incremental: (verdict as { incremental?: boolean }).incremental ?? false, seals_checked: verdict.seals_checked,
          rows_checked: verdict.rows_checked, unsealed_rows: verdict.unsealed_rows, anchors_checked: anchorsChecked, problems, notes: verdict.notes,
          ...(lag ? { verified_on: 'standby', standby_lag: lag } : {}) }, Boolean(cli.globals().json));
      } finally {
        await sql.end({ timeout: 5 });
      }
    });

  /** the bundles on their own and together, and chained to the live log unless --offline */
  async function verifyTheArchive(location: string, offline: boolean): Promise<void> {
    const config = loadConfig();
    const store = archiveStoreOf(config, location)!;
    const live = offline ? undefined : await adminConnection(await adminUrl(cli.globals()));
    try {
      const verdict = await verifyArchive(store, anchorKeyOf(config), live).catch((error: Error) => {
        throw error instanceof ArchiveStoreError ? new UsageError(error.message) : error;
      });
      if (!verdict.ok) process.exitCode = cli.EXIT.finding;
      printResult(verdict, Boolean(cli.globals().json));
    } finally {
      await live?.end({ timeout: 5 });
    }
  }

  /** the independent verifier, with a progress bar over the rows on a terminal */
  async function verifyWithProgress(sql: Sql, url: string, sinceCheckpoint: boolean): Promise<Verdict> {
    const [estimate] = await sql<{ n: number }[]>`select coalesce(sum(c.reltuples), 0)::float8 as n from pg_class c
      join pg_inherits i on i.inhrelid = c.oid where i.inhparent = 'compliance.audit_logs'::regclass and c.reltuples > 0`;
    const bar = progress(Math.max(1, Math.round(estimate!.n)), 'verifying rows');
    try {
      return await verifyIndependently(url, { onRows: (count) => bar.tick(count), sinceCheckpoint });
    } finally {
      bar.stop();
    }
  }

  cli.program.command('erasures').description('the erasure journal').command('replay')
    .description('after restoring an older backup: erase again everyone the anchors\' journal lists as erased after the restored chain\'s newest seal')
    .requiredOption('--anchors <file>', 'the anchor log')
    .action(async (options: { anchors: string }) => cli.withSession(async ({ caller }) => {
      const key = anchorKeyOf(loadConfig());
      const anchors = readAnchors(options.anchors);
      const forged = anchors.filter((a) => !signatureHolds(a, key));
      if (forged.length) throw new UsageError(`${forged.length} anchor(s) in ${options.anchors} are not signed by this key (${key.keyId}): nothing replayed`);
      const restored = await caller.evidence.anchorState({});
      // what the restored backup cannot know: erasures after its newest seal
      const journal = anchors.flatMap((a) => a.erasures).filter((e) => e.erased_at > restored.sealed_at);
      const unique = [...new Map(journal.map((e) => [e.subject_digest, e])).values()];
      const outcomes = await caller.dpo.operations.replayErasures({ journal: unique.map((e) => ({ subject_digest: e.subject_digest, erased_at: new Date(e.erased_at) })) });
      if (outcomes.some((o) => o.outcome === 'held')) process.exitCode = cli.EXIT.finding;
      return outcomes;
    }));
}
