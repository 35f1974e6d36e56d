/**
 * Choosing among the certificate chains a CA offers (RFC 8555 §7.4.2: the default chain, then each
 * `Link: rel="alternate"`). Like certbot's `--preferred-chain`, the preference names the issuer CN of a
 * chain's topmost certificate (or that certificate's own subject CN, for a chain that ends in its root);
 * the match is exact and case-sensitive. Every chain must carry the same leaf.
 */
import { X509Certificate } from 'node:crypto';
import { ErrorCode, ProtocolError } from '../errors.js';
import { splitPemChain } from '../crypto/certificate.js';

/** The CN of a node DN string ("C=US\nCN=Pebble Root CA 1234"), or undefined. */
function commonName(dn: string | undefined): string | undefined {
  for (const line of (dn ?? '').split('\n')) {
    if (line.startsWith('CN=')) return line.slice(3);
  }
  return undefined;
}

/**
 * Picks one of `chains` (PEM chains, leaf first, the CA's default first): the first whose topmost
 * certificate's issuer CN (or subject CN) equals `preferred`, else the default (index 0).
 *
 * @throws ProtocolError (`ErrorCode.protocol`, step `download`) when there is no chain, or when the
 * chains do not all start with the same leaf (same DER).
 */
export function chooseChain(chains: string[], preferred: string | undefined): { pem: string; index: number } {
  if (chains.length === 0) {
    throw new ProtocolError(ErrorCode.protocol, 'no certificate chain to choose from', { step: 'download' });
  }
  const parsed = chains.map((pem) => splitPemChain(pem).map((p) => new X509Certificate(p)));
  const leaf = parsed[0]![0]!;
  parsed.forEach((certs, index) => {
    if (!certs[0]!.raw.equals(leaf.raw)) {
      throw new ProtocolError(ErrorCode.protocol, `alternate chain ${index} does not carry the same leaf certificate as the default chain`, {
        step: 'download',
        data: { index, defaultLeaf: leaf.fingerprint256, otherLeaf: certs[0]!.fingerprint256 },
      });
    }
  });
  if (preferred !== undefined) {
    const index = parsed.findIndex((certs) => {
      const top = certs[certs.length - 1]!;
      return commonName(top.issuer) === preferred || commonName(top.subject) === preferred;
    });
    if (index !== -1) return { pem: chains[index]!, index };
  }
  return { pem: chains[0]!, index: 0 };
}
