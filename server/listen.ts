import type { Server } from 'node:net';

/** listens, turning the usual failures into one sentence that says what to change */
export function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      if (error.code === 'EADDRINUSE') reject(new Error(`port ${port} on ${host} is already in use; set PORT to a free port`));
      else if (error.code === 'EACCES') reject(new Error(`no permission to listen on port ${port}; set PORT to 1024 or above`));
      else if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND') reject(new Error(`HOST ${host} is not an address of this machine; set HOST (e.g. 127.0.0.1 or 0.0.0.0)`));
      else reject(new Error(`cannot listen on ${host}:${port}: ${error.message}`));
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}
