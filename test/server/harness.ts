/** Runs the real HTTP app against this file's test database, connected as the server login. */
import type { AddressInfo } from 'node:net';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll } from 'vitest';
import { createApp } from '../../server/app.js';
import { signDevelopmentToken } from '../../server/auth/token.js';
import { createVerifier, type Verifier } from '../../server/auth/verify.js';
import { createLogger } from '../../core/log.js';
import { createMetrics } from '../../server/metrics.js';
import { randomBytes } from 'node:crypto';
import { DataKeys } from '../../core/keys/data-keys.js';
import { keyRing, type MasterKeys } from '../../core/keys/master-keys.js';
import { quiet, useTestDatabase } from '../provision/database.js';
import { WEB_DIST } from '../../web/build.js';
import type { WebOptions } from '../../server/pages.js';

/** a master key ring for one test file: version 1, random */
export const testMasterKeys = (versions: Record<number, Buffer> = { 1: randomBytes(32) }) =>
  keyRing(new Map(Object.entries(versions).map(([v, key]) => [Number(v), key])));

/**
 * The real HTTP app on a loopback port, over the given connection, with the development token
 * verifier; close() stops it and ends the connection.
 */
export async function serveApp(sql: Sql, options: { dataKeys?: DataKeys; verifier?: Verifier; web?: WebOptions; propagationSecret?: string } = {}): Promise<{ baseUrl: string; close: () => Promise<void> }> {
  const server = createApp({ sql, log: createLogger(process.env.HARNESS_LOG ?? 'silent'), verifier: options.verifier ?? createVerifier({}), metrics: createMetrics(),
    sessionIdleTimeoutSeconds: 900, dataKeys: options.dataKeys ?? new DataKeys(testMasterKeys()), propagationSecret: options.propagationSecret }, options.web);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // a request a test left half-sent would hold the server open until headersTimeout
        server.closeAllConnections();
      });
      await sql.end({ timeout: 2 });
    },
  };
}

export function useServer(options: { masterKeys?: MasterKeys; web?: Partial<WebOptions>; verifier?: Verifier; propagationSecret?: string } = {}) {
  const db = useTestDatabase();
  const dataKeys = new DataKeys(options.masterKeys ?? testMasterKeys());
  let baseUrl = '';
  let close: () => Promise<void> = async () => undefined;

  beforeAll(async () => {
    const sql = postgres(db.loginUrl('server'), { ...quiet, max: 10 });
    // the given properties' descriptors, not their values: a getter may name what starts after the server
    const web = options.web ? Object.defineProperties({ distDir: WEB_DIST, auth: { mode: 'development' }, sessionIdleTimeoutSeconds: 900 } as WebOptions,
      Object.getOwnPropertyDescriptors(options.web)) : undefined;
    ({ baseUrl, close } = await serveApp(sql, { dataKeys, verifier: options.verifier, web, propagationSecret: options.propagationSecret }));
  });
  afterAll(() => close());

  return {
    db,
    dataKeys,
    get baseUrl() {
      return baseUrl;
    },
    token: (subject: string, roles: string[] = [], ttlSeconds = 3600) => signDevelopmentToken({ subject, roles, ttlSeconds }),
    async call(method: string, path: string, token?: string, body?: unknown, headers: Record<string, string> = {}) {
      const response = await fetch(`${baseUrl}${path}`, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      let json: any;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: response.status, headers: response.headers, text, json };
    },
  };
}
