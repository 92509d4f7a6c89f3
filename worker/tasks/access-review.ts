/**
 * The weekly access review (Monday 09:00 UTC): compliance.open_access_review takes the snapshot
 * and audits it; the DPO decides the items. An unfinished campaign past its due date fails the
 * daily access_review check.
 */
import type { Task } from 'graphile-worker';
import { workerLog } from '../log.js';

export const accessReview: Task = async (_payload, helpers) => {
  const { rows } = await helpers.query<{ id: string; due_at: Date }>('select id, due_at from compliance.open_access_review()');
  workerLog.info({ task: 'access_review', campaign_id: rows[0]!.id, due_at: rows[0]!.due_at }, 'access review campaign opened');
};
