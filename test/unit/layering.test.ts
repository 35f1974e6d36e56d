/**
 * The layers import in one direction only: acme/ knows RFC 8555 but not threads, runtime/ knows threads
 * but not ACME, and only the supervisor and the CLI wire them together. Scans the TypeScript sources.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, relative } from 'node:path';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Which src/ folders (or top files, by name without .ts) each layer may import. */
const ALLOWED: Record<string, string[]> = {
  acme: ['acme', 'crypto', 'errors'],
  crypto: ['crypto', 'errors'],
  runtime: ['runtime', 'errors'],
  responder: ['responder', 'store', 'errors'],
  store: ['store', 'errors'],
  tls: ['tls', 'errors'],
  agent: ['agent', 'acme', 'crypto', 'dns', 'runtime', 'errors'],
  net: ['net'],
  pebble: ['pebble', 'net', 'errors'],
  dns: ['dns', 'errors'],
  lifecycle: ['lifecycle', 'runtime', 'errors'],
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

function relativeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  // Static imports and dynamic `import('...')` alike.
  return [...text.matchAll(/(?:from |import\()'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]!);
}

/** The src/ layer a resolved path belongs to: its first folder, or the file name for top-level files. */
function layerOf(path: string): string {
  const rel = relative(join(ROOT, 'src'), path);
  const [head, ...rest] = rel.split('/');
  return rest.length === 0 ? head!.replace(/\.(ts|js)$/, '') : head!;
}

describe('layering', () => {
  it('each layer imports only the layers below it', () => {
    const violations: string[] = [];
    for (const file of sources(join(ROOT, 'src'))) {
      const layer = layerOf(file);
      const allowed = ALLOWED[layer];
      if (!allowed) continue; // top-level files (supervisor, options, ...) and cli/ may import any layer
      for (const spec of relativeImports(file)) {
        const target = layerOf(join(file, '..', spec));
        if (!allowed.includes(target)) violations.push(`${relative(ROOT, file)} imports ${spec} (${layer} → ${target})`);
      }
    }
    assert.deepEqual(violations, []);
  });

  it('nothing in src/ imports workers/, and only cli/ imports cli/', () => {
    const bad: string[] = [];
    for (const file of sources(join(ROOT, 'src'))) {
      for (const spec of relativeImports(file)) {
        const target = relative(ROOT, join(file, '..', spec));
        if (target.startsWith('workers/')) bad.push(`${relative(ROOT, file)} → ${spec}`);
        if (target.startsWith('src/cli/') && layerOf(file) !== 'cli') bad.push(`${relative(ROOT, file)} → ${spec}`);
      }
    }
    assert.deepEqual(bad, []);
  });

  it('node-forge is loaded only for the CSR, the tls-alpn-01 certificate and the test CA, and console is used only by the CLI', () => {
    const forge: string[] = [];
    const forgeAsn1Users: string[] = [];
    const consoles: string[] = [];
    for (const file of sources(join(ROOT, 'src'))) {
      const text = readFileSync(file, 'utf8');
      const rel = relative(ROOT, file);
      if (/(?:from |require\()'node-forge[^']*'/.test(text.replace(/import type [^;]+;/g, ''))) forge.push(rel);
      if (/from '\.\/forge-asn1\.js'/.test(text)) forgeAsn1Users.push(rel);
      if (/\bconsole\.[a-z]+\(/.test(text) && !rel.startsWith('src/cli/')) consoles.push(rel);
    }
    // forge-asn1.ts loads forge's ASN.1 module alone, for these two only.
    assert.deepEqual(forge.sort(), ['src/crypto/forge-asn1.ts', 'src/pebble/throwaway-ca.ts']);
    assert.deepEqual(forgeAsn1Users.sort(), ['src/crypto/csr.ts', 'src/crypto/tls-alpn-certificate.ts']);
    assert.deepEqual(consoles, []);
  });
});
