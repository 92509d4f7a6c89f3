/**
 * How far a hot standby is behind, for a verification run there (pgcomply verify --replica): what
 * it shows is the primary's chain as of its last replayed transaction. Measured from the standby
 * (the last replayed commit's age, WAL received but not yet replayed) and, given the primary, the
 * WAL the primary has written that the standby has not replayed.
 */
import { connect } from '../../db/tls.js';

export interface StandbyLag {
  standby: boolean;
  /** when the last transaction replayed was committed on the primary */
  last_replayed_commit: string | null;
  /** how old that commit is now (on a primary that is idle, this grows without anything missing) */
  seconds_behind: number | null;
  /** WAL the primary has written past what the standby replayed; null without the primary */
  bytes_behind: number | null;
  replay_lsn: string | null;
}

export async function standbyLag(standbyUrl: string, primaryUrl?: string): Promise<StandbyLag> {
  const standby = connect(standbyUrl, { max: 1, onnotice: () => undefined });
  try {
    const [row] = await standby<{ standby: boolean; replayed: Date | null; seconds: number | null; replay_lsn: string | null }[]>`
      select pg_is_in_recovery() as standby, pg_last_xact_replay_timestamp() as replayed,
             extract(epoch from now() - pg_last_xact_replay_timestamp())::float8 as seconds, pg_last_wal_replay_lsn()::text as replay_lsn`;
    let bytes: number | null = null;
    if (primaryUrl && row!.replay_lsn) {
      const primary = connect(primaryUrl, { max: 1, onnotice: () => undefined });
      try {
        const [diff] = await primary<{ bytes: string }[]>`select pg_wal_lsn_diff(pg_current_wal_lsn(), ${row!.replay_lsn}::pg_lsn)::text as bytes`;
        bytes = Math.max(0, Number(diff!.bytes));
      } finally {
        await primary.end({ timeout: 2 });
      }
    }
    return { standby: row!.standby, last_replayed_commit: row!.replayed?.toISOString() ?? null,
      seconds_behind: row!.seconds === null ? null : Math.round(row!.seconds * 10) / 10, bytes_behind: bytes, replay_lsn: row!.replay_lsn };
  } finally {
    await standby.end({ timeout: 2 });
  }
}
