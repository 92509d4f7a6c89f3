/**
 * libpq's multi-host URL, postgres://user:pw@h1:5432,h2:5433/db?target_session_attrs=read-write:
 * what an operator gives for a replicated cluster (Patroni). The WHATWG URL parser takes one host,
 * so pgcomply sets the list aside, works on the first host's URL, and puts the list back.
 * postgres.js (the server, the CLI) connects with the list itself; node-postgres (the worker, under
 * graphile-worker) cannot, and gets db/writable-pg.ts.
 */
const AUTHORITY = /^(postgres(?:ql)?:\/\/(?:[^@/?#]*@)?)([^/?#]*)(.*)$/s;

export interface Endpoint { host: string; port: number }

/** the URL with its first host only, and the whole host list when there was more than one */
export function splitHosts(raw: string): { single: string; hosts: string | null } {
  const m = AUTHORITY.exec(raw);
  if (!m || !m[2]!.includes(',')) return { single: raw, hosts: null };
  return { single: `${m[1]}${m[2]!.split(',')[0]}${m[3]}`, hosts: m[2]! };
}

/** a single-host URL given the host list back */
export function joinHosts(single: string, hosts: string | null): string {
  return hosts ? single.replace(AUTHORITY, (_, before: string, _host: string, after: string) => `${before}${hosts}${after}`) : single;
}

/** each host of the list, with the port it names or the URL's default */
export function endpointsOf(hosts: string, defaultPort = 5432): Endpoint[] {
  return hosts.split(',').map((entry) => {
    const m = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(entry.trim());
    if (!m) throw new Error(`${entry} is not host:port`);
    return { host: m[1] ?? m[2]!, port: m[3] ? Number(m[3]) : defaultPort };
  });
}
