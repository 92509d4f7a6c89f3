/**
 * P6's server process: the real tRPC app on one port and, on another, a bare node:http handler
 * running the same transaction with postgres.js and nothing else (no JWT, no zod, no router).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import postgres from 'postgres';
import { pepperParameters } from '../db/pepper.js';
import { createApp } from '../server/app.js';
import { createVerifier } from '../server/auth/verify.js';
import { createLogger } from '../core/log.js';
import { createMetrics } from '../server/metrics.js';
import { randomBytes } from 'node:crypto';
import { DataKeys } from '../core/keys/data-keys.js';
import { keyRing } from '../core/keys/master-keys.js';

const url = process.env.SERVER_DATABASE_URL!;
const sql = postgres(url, { max: 10, onnotice: () => undefined, connection: pepperParameters(process.env.TOMBSTONE_PEPPER!) });
const trpc = createApp({ sql, log: createLogger('silent'), verifier: createVerifier({}), metrics: createMetrics(), sessionIdleTimeoutSeconds: 900,
  dataKeys: new DataKeys(keyRing(new Map([[1, randomBytes(32)]]))) });

const bare = http.createServer((req, res) => {
  const subject = String(req.headers['x-subject']);
  const session = String(req.headers['x-session']);
  let body = '';
  req.on('data', (chunk) => (body += chunk));
  req.on('end', () => {
    const { preferences } = JSON.parse(body) as { preferences: Record<string, unknown> };
    (async () => {
      // the same statements as the tRPC middleware, pipelined the same way
      const tx = await sql.reserve();
      try {
        await Promise.all([
          tx`begin`,
          tx`set local role compliance_app`,
          tx`select compliance.open_request(${subject}, '{}'::text[], '127.0.0.1'::inet, 'bench', ${session}::uuid, make_interval(secs => 900), null, null, null)`,
        ]);
        const [row] = await tx`select preferences from compliance.set_preferences(${subject}, ${tx.json(preferences as never)}, true)`;
        await tx`commit`;
        return row!.preferences;
      } catch (error) {
        await tx`rollback`.catch(() => undefined);
        throw error;
      } finally {
        tx.release();
      }
    })()
      .then((result) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(result));
      }, (error: Error) => {
        res.writeHead(500);
        res.end(error.message);
      });
  });
});

await new Promise<void>((resolve) => trpc.listen(0, '127.0.0.1', resolve));
await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
process.stdout.write(`${JSON.stringify({ trpc: (trpc.address() as AddressInfo).port, bare: (bare.address() as AddressInfo).port })}\n`);
// a clean exit on SIGINT lets `node --cpu-prof` write its profile
process.on('SIGINT', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
