/** A worker thread of the independent verifier: checks the slice it is given and posts progress, then the result. */
import { parentPort, workerData } from 'node:worker_threads';
import { checkRange, type RangeTask } from './range-check.js';

const port = parentPort!;
checkRange(workerData as RangeTask, (count) => port.postMessage({ rows: count })).then(
  (result) => port.postMessage({ result }),
  (error: unknown) => port.postMessage({ error: (error as Error).message ?? String(error) }),
);
