// the worker thread's entry: TypeScript through tsx, as the pgcomply executable loads it
import { register } from 'tsx/esm/api';

register();
await import('./range-worker.ts');
