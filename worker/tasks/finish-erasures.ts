/**
 * Finishes the erasures a Citus cluster left for a second transaction (compliance.
 * erasures_finishing_elsewhere): each in its own call of compliance.finish_erasure_elsewhere, which
 * clears the person where they acted on other nodes. One that fails is logged and left for the
 * next minute; it does not hold up the others. On a single node the list is always empty.
 */
import type { Task } from 'graphile-worker';
import { workerLog } from '../log.js';

export const finishErasures: Task = async (_payload, helpers) => {
  const { rows } = await helpers.query<{ chain: string; request_id: string }>(
    'select chain, request_id::text from compliance.erasures_finishing_elsewhere()');
  let failed = 0;
  for (const erasure of rows) {
    try {
      await helpers.query('select compliance.finish_erasure_elsewhere($1, $2::bigint)', [erasure.chain, erasure.request_id]);
    } catch (error) {
      failed += 1;
      workerLog.error({ dsr_request_id: erasure.request_id, error: (error as Error).message },
        'an erasure could not be finished on the other nodes; it is tried again next minute');
    }
  }
  if (failed > 0) throw new Error(`${failed} of ${rows.length} erasures could not be finished on the other nodes`);
};
