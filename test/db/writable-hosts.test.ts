/**
 * A multi-host URL (postgres://u@h1:p1,h2:p2/db?target_session_attrs=read-write), as an operator
 * gives for a Patroni cluster: postgres.js (server, CLI) and node-postgres through
 * db/writable-pg.ts (the worker) both skip a host that is down and reach one that takes writes,
 * and say which hosts refused when none does.
 */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { splitHosts } from '../../db/hosts.js';
import { parseDatabaseUrl, withDatabase } from '../../db/connection.js';
import { connect } from '../../db/tls.js';
import { writableClient, writablePool } from '../../db/writable-pg.js';
import { useTestDatabase } from '../provision/database.js';

const db = useTestDatabase();

/** a loopback port nothing listens on */
async function deadPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function multiHost(url: string, before: number): string {
  const { single } = splitHosts(url);
  const parsed = new URL(single);
  return single.replace(`@${parsed.host}`, `@127.0.0.1:${before},${parsed.host}`) + (parsed.search ? '&' : '?') + 'target_session_attrs=read-write';
}

describe('multi-host database URLs', () => {
  it('keep their host list through the URL helpers', async () => {
    const url = parseDatabaseUrl('postgres://admin:pw@db1:5432,db2:5433/pgcomply?target_session_attrs=read-write');
    expect(withDatabase(url, 'postgres')).toBe('postgres://admin:pw@db1:5432,db2:5433/postgres?target_session_attrs=read-write');
    expect(() => parseDatabaseUrl('postgres://admin@db1:5432,:x/pgcomply')).toThrow(/not a valid URL/);
  });

  it('reach the host that takes writes past one that is down, with postgres.js and with node-postgres', async () => {
    const url = multiHost(db.loginUrl('worker'), await deadPort());
    const sql = connect(url, { max: 1, onnotice: () => undefined });
    try {
      const [row] = await sql`select pg_is_in_recovery() as standby, current_user as login`;
      expect(row).toEqual({ standby: false, login: 'pgcomply_worker' });
    } finally {
      await sql.end();
    }
    const pool = writablePool(url, { max: 2 });
    try {
      const { rows: [row] } = await pool.query('select current_user as login');
      expect(row.login).toBe('pgcomply_worker');
    } finally {
      await pool.end();
    }
  });

  it('say which hosts refused when none takes writes', async () => {
    const url = `postgres://pgcomply_worker@127.0.0.1:${await deadPort()},127.0.0.1:${await deadPort()}/${db.name}`;
    const client = writableClient(url);
    await expect(client.connect()).rejects.toThrow(/^no host accepts writes \(127\.0\.0\.1:\d+: .*; 127\.0\.0\.1:\d+: /);
  });
});
