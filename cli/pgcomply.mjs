#!/usr/bin/env node
// the pgcomply executable: TypeScript through tsx, as npm start runs it
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
