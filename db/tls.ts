/**
 * TLS for every database connection, set in the URL as libpq sets it:
 * `?sslmode=verify-full&sslrootcert=/etc/ssl/certs/db-ca.pem`. node-postgres (the worker and the
 * migrations) reads both parameters itself; postgres.js (the server and setup) reads sslmode
 * but would send sslrootcert to the server as a setting, so `connect` reads the CA file and hands
 * it over as TLS options instead.
 */
import { readFileSync } from 'node:fs';
import postgres, { type Options, type Sql } from 'postgres';
import net from 'node:net';
import { endpointsOf, splitHosts } from './hosts.js';
import { findWritableHost } from './writable-pg.js';

/** how long a new connection waits for a primary to appear among the hosts (Patroni promotes within seconds) */
const FAILOVER_WAIT_MS = 10_000;

/** a TCP socket once it is connected: postgres.js writes its startup message on a given socket at once */
function connectedSocket(host: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, host);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** seconds before a pool connection is made again after a failure: doubling from 50 ms, at most 1 s */
const RECONNECT_BACKOFF = (retries: number) => Math.min(0.05 * 2 ** retries, 1);

/** the URL's parameters (a multi-host URL's too) */
const paramsOf = (url: string) => new URL(splitHosts(url).single).searchParams;

const ENCRYPTED = new Set(['require', 'verify-ca', 'verify-full']);

/** whether a connection string asks for an encrypted connection */
export function requiresTls(url: string): boolean {
  return ENCRYPTED.has(paramsOf(url).get('sslmode') ?? '');
}

/**
 * REQUIRE_TLS=true: throws one sentence unless the URL named `name` asks for TLS that proves
 * whom it talks to: sslmode=verify-full (the certificate chains to the CA and names the host)
 * and sslrootcert, the CA's file (or `system`, the machine's CAs). sslmode=require encrypts but
 * checks no certificate, so a machine in the middle reads everything.
 */
export function refuseUnencrypted(name: string, url: string): void {
  const params = paramsOf(url);
  if (!requiresTls(url)) {
    throw new Error(`REQUIRE_TLS=true: ${name} must ask for TLS, e.g. ?sslmode=verify-full&sslrootcert=/path/to/ca.pem`);
  }
  if (params.get('sslmode') !== 'verify-full' || !params.get('sslrootcert')) {
    throw new Error(`REQUIRE_TLS=true: ${name} must verify the server: sslmode=verify-full with sslrootcert=/path/to/ca.pem (sslmode=${params.get('sslmode')} checks no certificate name)`);
  }
}

/**
 * a postgres.js connection that honours sslmode and sslrootcert in the URL, and a Unix socket
 * directory given as libpq takes it (`?host=/var/run/postgresql`), which postgres.js reads only as
 * an option
 */
export function connect(url: string, options: Options<Record<string, never>> = {}): Sql {
  const { single, hosts } = splitHosts(url);
  if (hosts) {
    // postgres.js's own multi-host connect can write to a connection it has just closed while a
    // primary fails over (postgres 3.4): each new connection asks db/writable-pg.ts for the host
    // that takes writes, and gets a socket to it
    const endpoints = endpointsOf(hosts);
    const parsed = new URL(single);
    parsed.searchParams.delete('target_session_attrs');
    const socket = async () => {
      // during a failover no host takes writes for a few seconds: wait for the new primary
      const deadline = Date.now() + FAILOVER_WAIT_MS;
      for (;;) {
        try {
          const { host, port } = await findWritableHost(single, endpoints);
          return await connectedSocket(host, port);
        } catch {
          // never a rejection: postgres.js (3.4) keeps a connection whose socket function threw
          // in its connecting queue for good. A socket to the first host fails or is refused the
          // ordinary way, and postgres.js connects again after its backoff
          if (Date.now() > deadline) return net.connect(endpoints[0]!.port, endpoints[0]!.host);
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      }
    };
    // postgres.js takes `socket` (a function giving the connection's socket), its types do not say so
    return connect(parsed.toString(), { ...options, socket } as Options<Record<string, never>>);
  }
  const parsed = new URL(single);
  const socketDir = parsed.searchParams.get('host');
  if (socketDir?.startsWith('/')) {
    parsed.searchParams.delete('host');
    return connect(parsed.toString(), { ...options, host: socketDir, port: Number(parsed.port || 5432) });
  }
  const rootCert = parsed.searchParams.get('sslrootcert');
  // after a failover the pool reconnects within a second, not after postgres.js's growing backoff (up to 20 s)
  options = { backoff: RECONNECT_BACKOFF, ...options };
  if (!rootCert || rootCert === 'system') return postgres(url, options);
  const mode = parsed.searchParams.get('sslmode') ?? 'verify-full';
  parsed.searchParams.delete('sslrootcert');
  parsed.searchParams.delete('sslmode');
  let ca: string;
  try {
    ca = readFileSync(rootCert, 'utf8');
  } catch (error) {
    throw new Error(`sslrootcert ${rootCert} cannot be read (${(error as NodeJS.ErrnoException).code}); give the path of the server's CA certificate`);
  }
  // libpq: require with a root certificate verifies the chain like verify-ca; verify-full checks the host name too
  const ssl = { ca, rejectUnauthorized: true, ...(mode === 'verify-full' ? {} : { checkServerIdentity: () => undefined }) };
  return postgres(parsed.toString(), { ...options, ssl });
}
