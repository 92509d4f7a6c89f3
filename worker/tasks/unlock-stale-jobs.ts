/** Every minute: releases the jobs of workers that stopped without finishing them (worker/stale-locks.ts). */
import type { Task } from 'graphile-worker';
import { unlockStaleJobs as unlock } from '../stale-locks.js';

export function unlockStaleJobs(connectionString: string, staleSeconds: number): Task {
  return async () => {
    await unlock(connectionString, staleSeconds);
  };
}
