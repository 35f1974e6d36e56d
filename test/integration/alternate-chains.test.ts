/**
 * RFC 8555 §7.4.2 alternate chains against a real Pebble with two alternate roots and two-intermediate
 * chains: the default chain without a preference (no alternate fetched), `preferredChain` picking a
 * chain by the issuer CN of its topmost certificate, an unknown preference falling back to the default,
 * and chooseChain on chains cut from real Pebble chains, including a leaf mismatch.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { startHarness, opensslVerify, sanNames, type Harness } from '../support/pebble-harness.js';
import { chooseChain } from '../../src/acme/chain-choice.js';
import { splitPemChain } from '../../src/crypto/certificate.js';
import { ErrorCode, InvalidInputError, ProtocolError } from '../../src/errors.js';
import { fillOptions } from '../../src/options.js';

function cn(dn: string | undefined): string {
  const line = (dn ?? '').split('\n').find((l) => l.startsWith('CN='));
  assert.ok(line, `a CN in ${dn}`);
  return line.slice(3);
}

/** GET a PEM from Pebble's management interface, trusting only the fixture's CA. */
function managementPem(h: Harness, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    https
      .get(`${h.pebble.managementUrl}${path}`, { ca: h.pebble.caPem }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`GET ${path}: ${res.statusCode} ${body}`))));
      })
      .on('error', reject);
  });
}

interface Issued {
  leaf: string;
  chain: string;
  fullchain: string;
}

describe('alternate chains (RFC 8555 §7.4.2) against Pebble', () => {
  let h: Harness;
  let roots: string[];
  before(async () => {
    h = await startHarness({ PEBBLE_ALTERNATE_ROOTS: '2', PEBBLE_CHAIN_LENGTH: '3' });
    roots = await Promise.all([0, 1, 2].map((i) => managementPem(h, `/roots/${i}`)));
  });
  after(async () => h.close());

  const issue = async (domain: string, preferredChain?: string): Promise<Issued> => {
    const sup = await h.supervisor(preferredChain === undefined ? {} : { preferredChain });
    try {
      const r = await sup.obtainCertificate(domain);
      return {
        leaf: readFileSync(r.paths.cert, 'utf8'),
        chain: readFileSync(r.paths.chain, 'utf8'),
        fullchain: readFileSync(r.paths.fullchain, 'utf8'),
      };
    } finally {
      await sup.shutdown();
    }
  };
  const topIssuerCn = (chainPem: string): string => cn(new X509Certificate(splitPemChain(chainPem).at(-1)!).issuer);

  let byDefault: Issued;
  let byRoot1: Issued;

  it('the three roots have distinct CNs', () => {
    assert.equal(new Set(roots.map((r) => cn(new X509Certificate(r).subject))).size, 3);
  });

  it('without a preference: the default chain, ending at root 0', async () => {
    byDefault = await issue('default.alt.example.test');
    assert.deepEqual(sanNames(byDefault.leaf), ['default.alt.example.test']);
    assert.ok(splitPemChain(byDefault.chain).length >= 2, 'several intermediates (PEBBLE_CHAIN_LENGTH=3)');
    assert.equal(topIssuerCn(byDefault.chain), cn(new X509Certificate(roots[0]!).subject));
    assert.match(opensslVerify(roots[0]!, byDefault.chain, byDefault.leaf), /: OK$/);
    assert.throws(() => opensslVerify(roots[1]!, byDefault.chain, byDefault.leaf));
  });

  it('preferredChain = root 1’s CN: the chain issued by root 1, which verifies against root 1', async () => {
    const root1 = new X509Certificate(roots[1]!);
    byRoot1 = await issue('root1.alt.example.test', cn(root1.subject));
    const pems = splitPemChain(byRoot1.chain);
    assert.equal(pems.length, splitPemChain(byDefault.chain).length);
    const top = new X509Certificate(pems.at(-1)!);
    assert.equal(cn(top.issuer), cn(root1.subject));
    assert.ok(top.verify(root1.publicKey), 'the top certificate is signed by root 1');
    assert.match(opensslVerify(roots[1]!, byRoot1.chain, byRoot1.leaf), /: OK$/);
    assert.throws(() => opensslVerify(roots[0]!, byRoot1.chain, byRoot1.leaf));
    assert.equal(byRoot1.fullchain, byRoot1.leaf + byRoot1.chain);
  });

  it('preferredChain = root 2’s CN picks the second alternate', async () => {
    const r = await issue('root2.alt.example.test', cn(new X509Certificate(roots[2]!).subject));
    assert.equal(topIssuerCn(r.chain), cn(new X509Certificate(roots[2]!).subject));
    assert.match(opensslVerify(roots[2]!, r.chain, r.leaf), /: OK$/);
  });

  it('a preferredChain that names no chain: the default chain', async () => {
    const r = await issue('nomatch.alt.example.test', 'No Such Root CA');
    assert.equal(topIssuerCn(r.chain), cn(new X509Certificate(roots[0]!).subject));
    assert.match(opensslVerify(roots[0]!, r.chain, r.leaf), /: OK$/);
  });

  it('preferredChain must be a non-empty string', () => {
    for (const preferredChain of ['', 42]) {
      assert.throws(
        () => fillOptions({ directoryUrl: 'https://ca.example/dir', storeDir: '/tmp/x', preferredChain } as never),
        (e: unknown) => e instanceof InvalidInputError && e.code === ErrorCode.invalidOption,
      );
    }
    assert.equal(fillOptions({ directoryUrl: 'https://ca.example/dir', storeDir: '/tmp/x', preferredChain: 'ISRG Root X1' }).preferredChain, 'ISRG Root X1');
    assert.equal(fillOptions({ directoryUrl: 'https://ca.example/dir', storeDir: '/tmp/x' }).preferredChain, undefined);
  });

  describe('chooseChain on chains cut from Pebble’s', () => {
    // One leaf with the default chain's intermediates, and the same leaf with root 1's (Pebble's
    // alternate chains share the bottom intermediate's key and name, so both are real chains of it).
    const chains = (): string[] => {
      const leaf = byDefault.leaf;
      return [leaf + byDefault.chain, leaf + byRoot1.chain];
    };
    const root0Cn = (): string => cn(new X509Certificate(roots[0]!).subject);
    const root1Cn = (): string => cn(new X509Certificate(roots[1]!).subject);

    it('no preference: the default', () => {
      const c = chains();
      assert.deepEqual(chooseChain(c, undefined), { pem: c[0], index: 0 });
    });

    it('by the issuer CN of the topmost certificate, exact and case-sensitive', () => {
      const c = chains();
      assert.deepEqual(chooseChain(c, root1Cn()), { pem: c[1], index: 1 });
      assert.deepEqual(chooseChain(c, root0Cn()), { pem: c[0], index: 0 });
      assert.equal(chooseChain(c, root1Cn().toUpperCase()).index, 0);
      assert.equal(chooseChain(c, root1Cn().slice(0, -1)).index, 0);
      assert.equal(chooseChain(c, 'No Such Root CA').index, 0);
    });

    it('by the subject CN of the topmost certificate when a chain ends in its root', () => {
      const c = [...chains(), byDefault.leaf + byRoot1.chain + roots[2]!];
      // Root 2 is not root 1's issuer, but it is the topmost certificate of the third chain.
      assert.equal(chooseChain(c, cn(new X509Certificate(roots[2]!).subject)).index, 2);
    });

    it('refuses chains whose leaves differ', () => {
      const c = [byDefault.leaf + byDefault.chain, byRoot1.leaf + byRoot1.chain];
      for (const preferred of [undefined, root1Cn()]) {
        assert.throws(
          () => chooseChain(c, preferred),
          (e: unknown) => e instanceof ProtocolError && e.code === ErrorCode.protocol && e.step === 'download',
        );
      }
    });

    it('refuses an empty list', () => {
      assert.throws(() => chooseChain([], undefined), (e: unknown) => e instanceof ProtocolError && e.step === 'download');
    });
  });
});
