/**
 * The challenge responders a supervisor runs itself, as children of its supervision tree: the http-01
 * HTTP server (`http01.mode: 'standalone'`) and the tls-alpn-01 TLS listener (`tlsAlpn01.mode:
 * 'standalone'`), whose other TLS traffic is answered with the supervisor's own certificates (SNI).
 */
import https from 'node:https';
import type { ChallengeType } from './acme/challenges.js';
import type { FilledOptions } from './options.js';
import type { ChallengeStore } from './responder/challenge-store.js';
import { listenHttp01, type Http01Listener } from './responder/standalone.js';
import { listenTlsAlpn01, type TlsAlpn01Listener } from './responder/tls-alpn01.js';
import type { TlsAlpn01Store } from './responder/tls-alpn01-store.js';
import { responderSpec } from './responder-child.js';
import type { ChildSpec } from './runtime/supervisor-tree.js';
import type { CertificateCache } from './tls/certificate-cache.js';

/** The responders' current listeners (replaced when the tree restarts one). */
export interface ResponderListeners {
  http01?: Http01Listener;
  tlsAlpn01?: TlsAlpn01Listener;
}

export function standaloneResponders(deps: {
  options: FilledOptions;
  http01: ChallengeStore;
  tlsAlpn01: TlsAlpn01Store | undefined;
  certificates: CertificateCache;
  listeners: ResponderListeners;
  served: (e: { type: ChallengeType; host: string; token?: string }) => void;
}): ChildSpec[] {
  const { options, listeners } = deps;
  const children: ChildSpec[] = [];
  if (options.http01.mode === 'standalone') {
    const { port, host = '127.0.0.1' } = options.http01;
    const onServed = (h: string, token: string): void => deps.served({ type: 'http-01', host: h, token });
    children.push(
      responderSpec({
        id: 'responder',
        what: 'http-01 responder',
        host,
        port,
        listen: (p) => listenHttp01(deps.http01, { port: p, host, onServed }),
        onListening: (l) => (listeners.http01 = l),
      }),
    );
  }
  if (options.tlsAlpn01?.mode === 'standalone' && deps.tlsAlpn01) {
    const { port, host = '127.0.0.1' } = options.tlsAlpn01;
    const store = deps.tlsAlpn01;
    // Plain TLS on the same port (no acme-tls/1) is served with the certificates leec holds.
    const fallback = https.createServer({ SNICallback: deps.certificates.sniCallback }, (_req, res) => {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('leec: this port answers tls-alpn-01 challenges\n');
    });
    children.push(
      responderSpec({
        id: 'tls-alpn-responder',
        what: 'tls-alpn-01 responder',
        host,
        port,
        listen: (p) => listenTlsAlpn01(store, { port: p, host, fallback, onServed: (e) => deps.served({ type: 'tls-alpn-01', host: e.host }) }),
        onListening: (l) => (listeners.tlsAlpn01 = l),
      }),
    );
  }
  return children;
}
