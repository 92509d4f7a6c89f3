/**
 * How the API is reached: HTTPS of its own (TLS 1.3 only, with HSTS) when given a certificate,
 * plain HTTP behind a TLS-terminating proxy that says so (X-Forwarded-Proto: https), or plain
 * HTTP on loopback for development. The certificate is read again on SIGHUP, without a restart.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { sendJson } from './rest/respond.js';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

export interface Transport {
  /** serve HTTPS with this certificate and key */
  tls?: TlsFiles;
  /** a proxy in front terminates TLS: refuse a request it did not receive over HTTPS */
  trustProxyTls?: boolean;
}

export type ApiServer = http.Server | https.Server;

/** a year, with subdomains: a browser that saw HTTPS once never tries plain HTTP again */
const HSTS = 'max-age=31536000; includeSubDomains';

const secureContext = (files: TlsFiles) => ({ cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) });

/** the server for the handler over the transport asked for */
export function createServer(transport: Transport, handler: http.RequestListener): ApiServer {
  const guarded: http.RequestListener = (req, res) => {
    if (transport.tls || transport.trustProxyTls) res.setHeader('strict-transport-security', HSTS);
    // liveness probes talk to the pod directly, over plain HTTP, and learn only that it is up
    const path = (req.url ?? '/').split('?')[0];
    if (transport.trustProxyTls && req.headers['x-forwarded-proto'] !== 'https' && path !== '/healthz') {
      sendJson(res, 403, { code: 'FORBIDDEN', message: 'this server answers only requests its proxy received over HTTPS (X-Forwarded-Proto: https)' });
      return;
    }
    handler(req, res);
  };
  if (!transport.tls) return http.createServer(guarded);
  return https.createServer({ ...secureContext(transport.tls), minVersion: 'TLSv1.3' }, guarded);
}

/** reads the certificate and key again (SIGHUP): new connections use them, open ones keep theirs */
export function reloadCertificate(server: ApiServer, files: TlsFiles): void {
  if (!(server instanceof https.Server)) throw new Error('the server does not serve HTTPS: nothing to reload');
  server.setSecureContext({ ...secureContext(files), minVersion: 'TLSv1.3' });
}
