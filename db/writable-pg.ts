/**
 * node-postgres connects to one host. Given a multi-host URL (db/hosts.ts), these clients try the
 * hosts in order and keep the first that accepts writes, as libpq's target_session_attrs=read-write
 * does: after a failover, a new connection finds the new primary, and a pool's broken connections
 * are replaced by ones to it.
 */
import pg from 'pg';
import { parse } from 'pg-connection-string';
import { type Endpoint, endpointsOf, splitHosts } from './hosts.js';

type Callback = (error: Error | null, client?: pg.Client) => void;

/**
 * The first host of the list that accepts writes (not in recovery), asked over a connection of
 * its own with the URL's credentials and TLS; an error that names each host's refusal when none does.
 */
export function findWritableHost(single: string, endpoints: Endpoint[]): Promise<Endpoint> {
  // every connection a pool makes after a failover asks at once: one probe answers them all, and
  // its answer holds for a second
  const key = `${single} ${endpoints.map((e) => `${e.host}:${e.port}`).join(',')}`;
  const known = answers.get(key);
  if (known && (known.pending || Date.now() - known.at < ANSWER_MS)) return known.answer;
  const entry = { at: Date.now(), pending: true, answer: probeHosts(single, endpoints) };
  answers.set(key, entry);
  entry.answer.then(() => {
    entry.pending = false;
    entry.at = Date.now();
  }, () => answers.delete(key));
  return entry.answer;
}

const ANSWER_MS = 1_000;
const PROBE_TIMEOUT_MS = 3_000;
const answers = new Map<string, { at: number; pending: boolean; answer: Promise<Endpoint> }>();

async function probeHosts(single: string, endpoints: Endpoint[]): Promise<Endpoint> {
  const refusals: string[] = [];
  for (const endpoint of endpoints) {
    // pg lets a connection string win over host and port: the probe gets the parsed parts
    // a host that takes the connection and never answers (a node Patroni is restarting) must not hold the probe
    const probe = new pg.Client({ ...parse(single) as pg.ClientConfig, host: endpoint.host, port: endpoint.port,
      connectionTimeoutMillis: PROBE_TIMEOUT_MS, query_timeout: PROBE_TIMEOUT_MS });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      const { rows: [state] } = await probe.query<{ standby: boolean }>('select pg_is_in_recovery() as standby');
      if (!state!.standby) return endpoint;
      refusals.push(`${endpoint.host}:${endpoint.port} is a standby`);
    } catch (error) {
      refusals.push(`${endpoint.host}:${endpoint.port}: ${(error as Error).message}`);
    } finally {
      await probe.end().catch(() => undefined);
    }
  }
  throw new Error(`no host accepts writes (${refusals.join('; ')})`);
}

function clientClassFor(connectionString: string): typeof pg.Client {
  const { single, hosts } = splitHosts(connectionString);
  if (!hosts) return pg.Client;
  const endpoints = endpointsOf(hosts);
  return class WritableClient extends pg.Client {
    // pg's connect takes a callback (the pool's way) or returns a promise
    override connect(): Promise<pg.Client>;
    override connect(callback: Callback): void;
    override connect(callback?: Callback): Promise<pg.Client> | void {
      const connecting = (async () => {
        const { host, port } = await findWritableHost(single, endpoints);
        this.host = host;
        this.port = port;
        return super.connect();
      })();
      if (!callback) return connecting;
      connecting.then((client) => callback(null, client), (error: Error) => callback(error));
    }
  };
}

/** a pool whose connections go to the host that accepts writes */
export function writablePool(connectionString: string, options: Omit<pg.PoolConfig, 'connectionString' | 'Client'> = {}): pg.Pool {
  const { single } = splitHosts(connectionString);
  return new pg.Pool({ ...options, connectionString: single, Client: clientClassFor(connectionString) });
}

/** one client to the host that accepts writes */
export function writableClient(connectionString: string, options: Omit<pg.ClientConfig, 'connectionString'> = {}): pg.Client {
  const { single } = splitHosts(connectionString);
  const Client = clientClassFor(connectionString);
  return new Client({ ...options, connectionString: single });
}
