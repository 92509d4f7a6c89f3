/**
 * node-postgres connects to one host. Given a multi-host URL (db/hosts.ts), these clients try the
 * hosts in order and keep the first that accepts writes, as libpq's target_session_attrs=read-write
 * does: after a failover, a new connection finds the new primary, and a pool's broken connections
 * are replaced by ones to it.
 */
import pg from 'pg';
import { parse } from 'pg-connection-string';
import { endpointsOf, splitHosts } from './hosts.js';

type Callback = (error: Error | null, client?: pg.Client) => void;

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
        const refusals: string[] = [];
        for (const { host, port } of endpoints) {
          // pg lets a connection string win over host and port: the probe gets the parsed parts
          const probe = new pg.Client({ ...parse(single) as pg.ClientConfig, host, port, connectionTimeoutMillis: 5_000 });
          probe.on('error', () => undefined);
          try {
            await probe.connect();
            const { rows: [state] } = await probe.query<{ standby: boolean }>('select pg_is_in_recovery() as standby');
            if (state!.standby) {
              refusals.push(`${host}:${port} is a standby`);
              continue;
            }
            this.host = host;
            this.port = port;
            return await super.connect();
          } catch (error) {
            refusals.push(`${host}:${port}: ${(error as Error).message}`);
          } finally {
            await probe.end().catch(() => undefined);
          }
        }
        throw new Error(`no host accepts writes (${refusals.join('; ')})`);
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
