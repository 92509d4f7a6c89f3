/**
 * A TCP proxy in front of the test PostgreSQL that a test can cut and restore: a database that
 * goes away (a restart, a network partition) for one client without touching the others that
 * share the cluster, as a NOLOGIN on a shared role would.
 */
import net from 'node:net';

export interface CuttableProxy {
  port: number;
  /** closes every proxied connection and refuses new ones */
  cut(): Promise<void>;
  /** accepts connections again on the same port */
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startCuttableProxy(target: { host: string; port: number }): Promise<CuttableProxy> {
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    track(client);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  const listen = (port: number) => new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const stopListening = () => new Promise<void>((resolve) => {
    for (const socket of sockets) socket.destroy();
    server.close(() => resolve());
  });
  await listen(0);
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    cut: stopListening,
    restore: () => listen(port),
    close: () => (server.listening ? stopListening() : Promise.resolve()),
  };
}
