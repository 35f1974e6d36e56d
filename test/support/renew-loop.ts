/**
 * Child process of test/integration/kill-store.test.ts: saves certificates for one domain in a
 * loop, as fast as it can, until it is killed. It only drives CertStore; it checks nothing.
 *
 * argv: <store root> <domain> <chain.pem> <pair dir>... (each pair dir holds cert.pem and key.pem).
 * Prints `saved <n>` after every completed save; the first line tells the parent it is running.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CertStore, type CertificateFiles } from '../../src/store/cert-store.js';

const [root, domain, chainFile, ...pairDirs] = process.argv.slice(2);
if (root === undefined || domain === undefined || chainFile === undefined || pairDirs.length === 0) {
  process.stderr.write('usage: renew-loop <store root> <domain> <chain.pem> <pair dir>...\n');
  process.exit(2);
}
const chainPem = readFileSync(chainFile, 'utf8');
const sets: CertificateFiles[] = pairDirs.map((dir) => {
  const certPem = readFileSync(join(dir, 'cert.pem'), 'utf8');
  return {
    domain,
    names: [domain],
    keyType: 'ec256',
    certPem,
    chainPem,
    fullchainPem: certPem + chainPem,
    keyPem: readFileSync(join(dir, 'key.pem'), 'utf8'),
    csrPem: `CSR of ${dir}\n`,
    notBefore: '2025-01-01T00:00:00.000Z',
    notAfter: '2025-04-01T00:00:00.000Z',
  };
});

const store = new CertStore(root);
// Start at a random pair so consecutive children do not all write the same sequence.
let n = 0;
let i = Math.floor(Math.random() * sets.length);
for (;;) {
  const set = sets[i % sets.length]!;
  // Every other save drops the CSR, so the optional file's link comes and goes too.
  const files: CertificateFiles = n % 2 === 0 ? set : { ...set, csrPem: undefined };
  if (files.csrPem === undefined) delete files.csrPem;
  await store.saveCertificate(files);
  n += 1;
  i += 1;
  process.stdout.write(`saved ${n}\n`);
}
