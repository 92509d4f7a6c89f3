/**
 * TLS for every database connection, set in the URL as libpq sets it:
 * `?sslmode=verify-full&sslrootcert=/etc/ssl/certs/db-ca.pem`. node-postgres (the worker and the
 * migrations) reads both parameters itself; postgres.js (the server and setup) reads sslmode
 * but would send sslrootcert to the server as a setting, so `connect` reads the CA file and hands
 * it over as TLS options instead.
 */
import { readFileSync } from 'node:fs';
import postgres, { type Options, type Sql } from 'postgres';
import { joinHosts, splitHosts } from './hosts.js';

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
  // postgres.js takes the host list itself (and target_session_attrs); the rest reads the first host's URL
  const { single, hosts } = splitHosts(url);
  const parsed = new URL(single);
  const socketDir = parsed.searchParams.get('host');
  if (socketDir?.startsWith('/')) {
    parsed.searchParams.delete('host');
    return connect(parsed.toString(), { ...options, host: socketDir, port: Number(parsed.port || 5432) });
  }
  const rootCert = parsed.searchParams.get('sslrootcert');
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
  return postgres(joinHosts(parsed.toString(), hosts), { ...options, ssl });
}
