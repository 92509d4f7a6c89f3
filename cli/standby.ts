/**
 * Reads for the DPO and the auditor on a hot standby (--replica, REPLICA_DATABASE_URL), so an
 * export or an evidence package does not load the primary. What the primary must record is
 * recorded there first, the standby is waited for until it has replayed it, and only then does it
 * serve the read: nothing is read on a standby that the primary did not audit, and nothing the
 * primary held when the command started is missing.
 */
import type { TransactionSql } from 'postgres';
import { loginUrlOn } from '../core/boot.js';
import { loadConfig } from '../core/config.js';
import { connect } from '../db/tls.js';
import { pepperParameters } from '../db/pepper.js';
import { type ManifestEntry, type ReadOn, readEvidencePopulations, recordEvidencePackage } from '../server/evidence/package.js';
import { openRecords, type StoredRecord } from '../server/health-records/records.js';
import type { RoleChoice } from '../server/request/transaction.js';
import { DPO_ROLES, REVIEWER_ROLES } from '../server/trpc.js';
import { type Session, UsageError, whereIs } from './session.js';

/** the standby a command reads on: --replica, else REPLICA_DATABASE_URL, else none (the primary) */
export const replicaOf = (option: string | undefined): string | undefined => option ?? loadConfig().REPLICA_DATABASE_URL;

/** the same words for the not-a-standby refusal wherever --replica is taken */
export const notAStandby = (replicaUrl: string) =>
  new UsageError(`${whereIs(replicaUrl)} is not a standby (pg_is_in_recovery() is false): give the standby's URL, or leave --replica out`);

/** how long a standby may take to replay what the primary has written when the command starts */
const REPLAY_WAIT_MS = 60_000;

async function onStandby<T>(session: Session, replicaUrl: string, choices: readonly RoleChoice[], work: (tx: TransactionSql) => Promise<T>): Promise<{ value: T; readOn: ReadOn }> {
  const choice = choices.find((c) => c.tokenRole === null || session.identity.roles.includes(c.tokenRole));
  if (!choice) throw new UsageError(`this needs the ${choices.map((c) => c.tokenRole).join(' or ')} role (--role)`);
  const [primary] = await session.sql<{ lsn: string }[]>`select pg_current_wal_lsn()::text as lsn`;
  const standby = connect(loginUrlOn(loadConfig(), replicaUrl, 'server'), { max: 1, onnotice: () => undefined,
    connection: { application_name: 'pgcomply-cli-standby', ...pepperParameters(session.keyring) } });
  try {
    const deadline = Date.now() + REPLAY_WAIT_MS;
    for (;;) {
      const [state] = await standby<{ standby: boolean; replayed: boolean; replay_lsn: string | null }[]>`
        select pg_is_in_recovery() as standby, coalesce(pg_last_wal_replay_lsn() >= ${primary!.lsn}::pg_lsn, false) as replayed,
               pg_last_wal_replay_lsn()::text as replay_lsn`.catch((error: Error) => {
        throw new UsageError(`cannot reach the replica at ${whereIs(replicaUrl)}: ${error.message}`);
      });
      if (!state!.standby) throw notAStandby(replicaUrl);
      if (state!.replayed) {
        const value = await standby.begin('isolation level repeatable read read only', async (tx) => {
          await tx`select set_config('role', 'compliance_app', true)`;
          await tx`select set_config('role', ${choice.role}, true)`;
          return work(tx);
        }) as T;
        return { value, readOn: { standby: whereIs(replicaUrl), replay_lsn: state!.replay_lsn!, primary_lsn_awaited: primary!.lsn } };
      }
      if (Date.now() > deadline) {
        throw new UsageError(`the standby at ${whereIs(replicaUrl)} has not replayed the primary's WAL up to ${primary!.lsn} in ${REPLAY_WAIT_MS / 1000} s `
          + `(it is at ${state!.replay_lsn ?? 'nothing'}): try again, or leave --replica out to read on the primary`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await standby.end({ timeout: 2 });
  }
}

/**
 * The subject's export as `subject export` gives it, read on a standby: the primary records the
 * request, the export and the health records it may read (compliance.lease_subject_export), the
 * standby returns them under that ticket, and a record failing a check here is reported to the primary.
 */
export async function exportOnStandby(session: Session, replicaUrl: string, userId: string, kind: 'access' | 'portability') {
  const lease = await session.inRequest(DPO_ROLES, async (tx) =>
    (await tx<{ ticket: string }[]>`select ticket from compliance.lease_subject_export(${userId}, ${kind})`)[0]!);
  const read = await onStandby(session, replicaUrl, DPO_ROLES, async (tx) => {
    const [row] = await tx<{ document: Record<string, unknown> }[]>`select compliance.standby_subject_export(${lease.ticket}::uuid, ${userId}) as document`;
    const rows = await tx<StoredRecord[]>`select * from compliance.standby_health_records(${lease.ticket}::uuid, ${userId})`;
    return { document: row!.document, rows: [...rows] };
  });
  const failures: { id: string; check: string }[] = [];
  const records = await openRecords(session.dataKeys, userId, read.value.rows, async (id, check) => failures.push({ id, check }));
  if (failures.length) {
    await session.inRequest(DPO_ROLES, async (tx) => {
      for (const failure of failures) await tx`select compliance.report_standby_integrity_failure(${lease.ticket}::uuid, ${failure.id}::uuid, ${failure.check})`;
    });
  }
  return { document: { ...read.value.document, health_records: records }, readOn: read.readOn };
}

/** an evidence package whose populations are read on a standby and whose manifest, naming the standby, is recorded on the primary */
export async function evidenceOnStandby(session: Session, replicaUrl: string, from: Date, to: Date) {
  const read = await onStandby<{ entries: ManifestEntry[]; csv: Record<string, string> }>(session, replicaUrl, REVIEWER_ROLES,
    (tx) => readEvidencePopulations(tx, from, to));
  return session.inRequest(REVIEWER_ROLES, (tx) => recordEvidencePackage(tx, from, to, read.value, read.readOn));
}
