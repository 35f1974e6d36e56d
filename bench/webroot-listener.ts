/**
 * The shared responder's listener for lego and certbot: it serves the http-01 token files they write
 * under `<webroot>/.well-known/acme-challenge/` (lego --http.webroot, certbot --webroot -w), as the web
 * server in front of a webroot would. Only that path and base64url token names (RFC 8555 §8.3); anything
 * else is 404, so no other file can be read.
 */
import { readFile } from 'node:fs/promises';
import type { RequestListener } from 'node:http';
import path from 'node:path';

const TOKEN_PATH = /^\/\.well-known\/acme-challenge\/([A-Za-z0-9_-]+)$/;

export function webrootListener(webroot: string): RequestListener {
  return (req, res) => {
    const m = TOKEN_PATH.exec((req.url ?? '').split('?')[0] ?? '');
    if (req.method !== 'GET' || !m) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    readFile(path.join(webroot, '.well-known', 'acme-challenge', m[1]!)).then(
      (body) => res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body),
      () => res.writeHead(404, { 'content-type': 'text/plain' }).end('no such token\n'),
    );
  };
}
