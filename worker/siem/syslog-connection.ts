/**
 * A TLS connection to the SIEM's syslog receiver (RFC 5425), which the feed keeps open across
 * rounds. It says whether it is still open: the receiver closing it (a restart) is how the feed
 * learns that what it wrote last may not have arrived.
 */
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import type { SiemFeedSettings } from '../../core/config.js';

export class SyslogConnection {
  private closedBy: string | undefined;
  private constructor(private readonly socket: tls.TLSSocket) {
    socket.on('error', (error) => { this.closedBy ??= error.message; });
    socket.on('end', () => { this.closedBy ??= 'the receiver closed the connection'; });
    socket.on('close', () => { this.closedBy ??= 'the connection closed'; });
    // the receiver sends nothing; anything it does send is read and dropped
    socket.resume();
  }

  static open(settings: SiemFeedSettings, timeoutMs: number): Promise<SyslogConnection> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ host: settings.host, port: settings.port, servername: settings.host,
        ca: settings.caFile ? readFileSync(settings.caFile) : undefined, minVersion: 'TLSv1.2' });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no TLS connection to ${settings.host}:${settings.port} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      socket.once('secureConnect', () => {
        clearTimeout(timer);
        resolve(new SyslogConnection(socket));
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  /** why it is closed, or undefined while it is open */
  get closed(): string | undefined {
    return this.closedBy;
  }

  /** writes the frames and waits until the socket took them */
  write(frames: string[]): Promise<void> {
    if (this.closedBy) return Promise.reject(new Error(this.closedBy));
    return new Promise((resolve, reject) => {
      this.socket.write(frames.join(''), (error) => (error ? reject(error) : resolve()));
    });
  }

  close(): void {
    this.closedBy ??= 'closed by the feed';
    this.socket.destroy();
  }
}
