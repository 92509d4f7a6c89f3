/**
 * A restore drill: pgBackRest checks its repository, then restores the newest backup (to the end
 * of the archived WAL) or a point in time into a scratch cluster on this machine, reachable only
 * over its own Unix socket. The erasure journal of the live database is replayed into it, so
 * erasures made after the backup hold; its audit chain is verified independently, with the
 * anchors; its own row-level security and privileges checks run. The time all of it took is the
 * recovery time measured (RTO). The scratch cluster is removed, and the result is recorded in the
 * live database (compliance.record_restore_drill), where the restore_drill check reads it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import type { Sql } from 'postgres';
import { freePort } from '../../db/embedded.js';
import { MachineCluster, ownedDirectory } from '../../db/machine-cluster.js';
import { connect } from '../../db/tls.js';
import { type Anchor, ANCHOR_FILE, anchorFindingsIn, type AnchorKey, readAnchors } from '../anchors/anchors.js';
import type { AnchorPublishing } from '../anchors/publish.js';
import { type PepperSource, pepperParameters, readKeyring } from '../../db/pepper.js';
import { verifyIndependently } from '../verify/verifier.js';
import { accessProblems, type BackupProblem } from './access-checks.js';
import { type PgBackRest, runPgBackRest } from './pgbackrest.js';

/** what the configuration says a drill needs (core/config.ts drillsOf): pgBackRest, room, the pepper's source, the anchors */
export interface RestoreDrills {
  tool: PgBackRest;
  workDir: string;
  pepper: PepperSource;
  anchors?: AnchorPublishing;
}

/** the drill's options from the configuration: the pepper read and the anchor log loaded, as the worker and the CLI run it */
export async function drillOptionsOf(drills: RestoreDrills): Promise<Pick<DrillOptions, 'tool' | 'workDir' | 'keyring' | 'anchors'>> {
  const keyring = await readKeyring(drills.pepper).catch((error: Error) => {
    throw new Error(`the tombstone pepper, which the erasure journal needs: ${error.message}`);
  });
  const anchors = drills.anchors ? { key: drills.anchors.key, log: readAnchors(path.join(drills.anchors.dir, ANCHOR_FILE)) } : undefined;
  return { tool: drills.tool, workDir: drills.workDir, keyring, anchors };
}

export interface DrillOptions {
  tool: PgBackRest;
  /** where the scratch cluster goes (BACKUP_DRILL_DIR): room for a whole copy of the cluster */
  workDir: string;
  /** a point in time (ISO 8601 with its zone); the newest state the archive holds when absent */
  target?: string;
  /** the tombstone pepper keyring: the erasure journal names subjects by their peppered digest */
  keyring: string;
  /** the anchor signing key and the anchor log, when the deployment publishes anchors */
  anchors?: { key: AnchorKey; log: Anchor[] };
  /** the longest a recovery may take before the drill gives up on it (default: 4 hours, the RTO) */
  recoveryTimeoutMs?: number;
  onStage?: (stage: DrillStage) => void;
}

export type DrillStage = 'repository' | 'restore' | 'recovery' | 'erasures' | 'verification';

export interface ErasureReplay { erased: number; already_erased: number; tombstoned: number; held: number }

export interface DrillResult {
  ok: boolean;
  target: string;
  label: string | null;
  started_at: string;
  finished_at: string;
  rto_seconds: number;
  restored_seal_no: number | null;
  restored_seal_hash: string | null;
  rows_checked: number;
  erasures: ErasureReplay;
  problems: BackupProblem[];
}

export type DrillOutcome = (DrillResult & { drilled: true; recorded_as: string }) | { drilled: false; reason: 'another_drill_running' };

/** one drill at a time across workers and the CLI: each needs room for a whole copy */
const DRILL_LOCK = "hashtextextended('pgcomply.restore_drill', 0)";

/** pgBackRest verify names each damaged file in its log ("invalid checksum '20261206-021500F/pg_data/base/1/2838.zst'") */
const DAMAGED_FILE = /INFO: ((?:invalid|missing|file missing)[^']*) '([^']+)'/;

/** a repository file by its path in the repository: backups under backup/<stanza>/, WAL under archive/<stanza>/ */
const repositoryPath = (stanza: string, file: string) => (/^\d+-\d+\//.test(file) ? `archive/${stanza}/${file}` : `backup/${stanza}/${file}`);

async function repositoryProblems(tool: PgBackRest): Promise<BackupProblem[]> {
  let output: string;
  try {
    output = await runPgBackRest(tool, ['--log-level-console=info', '--output=text', 'verify']);
  } catch (error) {
    return [{ kind: 'repository_unreadable', detail: `pgbackrest verify failed: ${(error as Error).message}` }];
  }
  const damaged: BackupProblem[] = output.split('\n').map((line) => DAMAGED_FILE.exec(line)).filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ kind: 'repository_corrupt', file: repositoryPath(tool.stanza, m[2]!),
      detail: `the repository file ${repositoryPath(tool.stanza, m[2]!)} is damaged (${m[1]}): restores that need it fail` }));
  if (damaged.length === 0 && /^status: error/m.test(output)) {
    damaged.push({ kind: 'repository_corrupt',
      detail: `pgbackrest verify found the repository damaged: ${output.split('\n').filter((l) => /invalid|missing/.test(l)).slice(0, 3).join('; ').trim()}` });
  }
  return damaged;
}

/** polls until the copy has ended recovery and promoted; the server's own error when it stops instead */
async function promoted(cluster: MachineCluster, url: string, timeoutMs: number): Promise<string | null> {
  const started = Date.now();
  const deadline = started + timeoutMs;
  // pg_ctl returned before the server wrote its pid file: not running yet is not stopped
  let seenRunning = false;
  for (let wait = 200; Date.now() < deadline; wait = Math.min(wait * 2, 5_000)) {
    const probe = connect(url, { max: 1, onnotice: () => undefined, connect_timeout: 10 });
    try {
      const [row] = await probe<{ r: boolean }[]>`select pg_is_in_recovery() as r`;
      if (!row!.r) return null;
    } catch {
      // starting up, or recovering without hot standby: not yet
    } finally {
      await probe.end({ timeout: 1 });
    }
    if (cluster.running()) seenRunning = true;
    else if (seenRunning || Date.now() - started > 120_000) return `the restored server stopped during recovery: ${cluster.logErrors().join(' ') || 'its log says no more'}`;
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
  return `recovery did not end within ${Math.round(timeoutMs / 60_000)} minutes`;
}

async function replayErasures(copy: Sql, journal: { subject_digest: string; erased_at: string }[]): Promise<{ replay: ErasureReplay; problems: BackupProblem[] }> {
  const replay: ErasureReplay = { erased: 0, already_erased: 0, tombstoned: 0, held: 0 };
  const problems: BackupProblem[] = [];
  if (journal.length === 0) return { replay, problems };
  const outcomes = await copy.begin(async (tx) => {
    await tx`select set_config('role', 'compliance_dpo', true)`;
    await tx`select compliance.set_request_context('system:restore-drill', '{dpo}')`;
    return tx<{ subject_digest: string; erased_at: Date; outcome: keyof ErasureReplay }[]>`
      select * from compliance.replay_erasures(${JSON.stringify(journal)}::text::jsonb, 'erasure replayed by the restore drill')`;
  });
  for (const o of outcomes) {
    replay[o.outcome] += 1;
    if (o.outcome === 'held') {
      problems.push({ kind: 'erasure_held', detail: `a subject erased at ${o.erased_at.toISOString()} (digest ${o.subject_digest.slice(0, 12)}…) is back in the restored data under a legal hold and was not erased again: the DPO decides` });
    }
  }
  return { replay, problems };
}

/** what a drill found so far: it outlives an error the drill did not foresee */
interface Findings {
  label: string | null;
  seal?: { seal_no: string; seal_hash: string };
  rowsChecked: number;
  replay: ErasureReplay;
  problems: BackupProblem[];
}

/** restores, replays, verifies and checks a scratch copy, writing down in `found` what it learns as it goes */
async function drillInto(cluster: MachineCluster, live: pg.ClientBase, options: DrillOptions, stage: (s: DrillStage) => void, found: Findings): Promise<void> {
  const { problems } = found;
  stage('repository');
  problems.push(...await repositoryProblems(options.tool));
  if (problems.length > 0) return;

  stage('restore');
  const targetArgs = options.target ? ['--type=time', `--target=${options.target}`, '--target-action=promote'] : ['--type=default'];
  let restoreLog: string;
  try {
    restoreLog = await runPgBackRest(options.tool, ['--log-level-console=info', `--pg1-path=${cluster.dataDir}`, '--archive-mode=off', ...targetArgs, 'restore']);
  } catch (error) {
    problems.push({ kind: 'restore_failed', detail: `pgbackrest restore failed: ${(error as Error).message}` });
    return;
  }
  found.label = /restore backup set (\d{8}-\d{6}F(?:_\d{8}-\d{6}[DI])?)/.exec(restoreLog)?.[1] ?? null;
  if (!found.label) problems.push({ kind: 'restore_failed', detail: 'pgbackrest restore did not say which backup set it restored' });
  // archive_mode off: a promoted copy must never push WAL into the live cluster's repository
  // hot_standby off: no read-only connection during recovery, and no check of the live server's
  // connection limits against this one's
  cluster.isolateRestoredCopy({ archive_mode: 'off', hot_standby: 'off' });
  cluster.start(false);

  stage('recovery');
  const [{ database }] = (await live.query<{ database: string }>('select current_database() as database')).rows as [{ database: string }];
  const url = `postgres://postgres@localhost:${cluster.port}/${encodeURIComponent(database)}?host=${encodeURIComponent(cluster.socketDir)}`;
  const stopped = await promoted(cluster, url, options.recoveryTimeoutMs ?? 4 * 3_600_000);
  if (stopped) {
    problems.push({ kind: 'recovery_failed', detail: stopped });
    return;
  }

  const copy = connect(url, { max: 1, onnotice: () => undefined, connection: { application_name: 'pgcomply-restore-drill', ...pepperParameters(options.keyring) } });
  try {
    // the restored chain's newest seal, before the replay adds to it: the live chain holds it
    [found.seal] = await copy<{ seal_no: string; seal_hash: string }[]>`
      select seal_no::text, encode(seal_hash, 'hex') as seal_hash from compliance.audit_seals order by seal_no desc limit 1`;

    stage('erasures');
    const { rows: journal } = await live.query<{ subject_digest: string; erased_at: Date }>(
      "select subject_digest, erased_at from compliance.erasure_journal('-infinity')");
    const replayed = await replayErasures(copy, journal.map((j) => ({ subject_digest: j.subject_digest, erased_at: j.erased_at.toISOString() })));
    found.replay = replayed.replay;
    problems.push(...replayed.problems);
    await copy`select compliance.seal_audit_log()`;

    stage('verification');
    const verdict = await verifyIndependently(url);
    found.rowsChecked = verdict.rows_checked;
    problems.push(...verdict.problems);
    if (options.anchors) {
      // anchors made after the backup name seals a restored chain cannot hold
      const restoredUpTo = Number(found.seal?.seal_no ?? 0);
      problems.push(...await anchorFindingsIn(copy, options.anchors.log.filter((a) => Number(a.seal_no) <= restoredUpTo), options.anchors.key));
    }
    problems.push(...await accessProblems(copy));
  } finally {
    await copy.end({ timeout: 5 });
  }
}

/**
 * Runs one drill unless another is running, and records it. `live` is a connection to the live
 * database as the worker (or an administrator): it gives the erasure journal and takes the record.
 */
export async function restoreDrill(live: pg.ClientBase, options: DrillOptions): Promise<DrillOutcome> {
  const { rows: [lock] } = await live.query<{ locked: boolean }>(`select pg_try_advisory_lock(${DRILL_LOCK}) as locked`);
  if (!lock!.locked) return { drilled: false, reason: 'another_drill_running' };
  const stage = options.onStage ?? (() => undefined);
  const started = new Date();
  let scratch: string | undefined;
  let cluster: MachineCluster | undefined;
  const found: Findings = { label: null, rowsChecked: 0, replay: { erased: 0, already_erased: 0, tombstoned: 0, held: 0 }, problems: [] };
  let finished: Date;
  try {
    try {
      scratch = ownedDirectory(mkdtempSync(path.join(options.workDir, 'pgcomply-drill-')));
      cluster = new MachineCluster(ownedDirectory(path.join(scratch, 'data')), await freePort(), ownedDirectory(path.join(scratch, 'socket')));
      await drillInto(cluster, live, options, stage, found);
    } catch (error) {
      // anything the drill did not foresee fails it, recorded with what was said
      found.problems.push({ kind: 'drill_failed', detail: (error as Error).message });
    }
    finished = new Date();
  } finally {
    cluster?.stop('immediate');
    if (scratch) rmSync(scratch, { recursive: true, force: true });
    await live.query(`select pg_advisory_unlock(${DRILL_LOCK})`);
  }
  const result: DrillResult = {
    ok: found.problems.length === 0, target: options.target ?? 'newest', label: found.label,
    started_at: started.toISOString(), finished_at: finished.toISOString(), rto_seconds: (finished.getTime() - started.getTime()) / 1000,
    restored_seal_no: found.seal ? Number(found.seal.seal_no) : null, restored_seal_hash: found.seal?.seal_hash ?? null,
    rows_checked: found.rowsChecked, erasures: found.replay, problems: found.problems,
  };
  const { rows: [row] } = await live.query<{ id: string }>('select compliance.record_restore_drill($1)::text as id', [JSON.stringify(result)]);
  return { ...result, drilled: true, recorded_as: row!.id };
}
