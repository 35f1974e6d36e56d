/**
 * What `openssl x509 -text` and `openssl verify` would say about a certificate chain, as data: each
 * certificate's subject, names, issuer, validity, key, serial and fingerprint, whether the chain is in
 * order (each issued by the next), and whether it verifies up to a trust anchor. Reads, never fetches.
 */
import { X509Certificate } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { describeCertificate, splitPemChain } from './certificate.js';

export interface CertificateReport {
  subject: string;
  names: string[];
  issuer: string;
  notBefore: string;
  notAfter: string;
  daysLeft: number;
  keyType: string;
  serialNumber: string;
  fingerprint256: string;
  isCa: boolean;
}

export interface ChainReport {
  certificates: CertificateReport[];
  /** Each certificate is signed by the next one (RFC 5246 §7.4.2 order: leaf first). */
  inOrder: boolean;
  /** The last certificate is signed by one of the trust anchors (or is one). */
  verified: boolean;
  /** Why not, when `verified` or `inOrder` is false. */
  problems: string[];
}

function keyDescription(x: X509Certificate): string {
  const k = x.publicKey;
  const d = k.asymmetricKeyDetails ?? {};
  if (k.asymmetricKeyType === 'rsa') return `RSA ${d.modulusLength ?? '?'} bits`;
  if (k.asymmetricKeyType === 'ec') return `EC ${d.namedCurve ?? '?'}`;
  return k.asymmetricKeyType ?? 'unknown';
}

/** Reports on a PEM chain (leaf first). `trustPem` is the trust anchors; default: Node's bundled roots. */
export function reportChain(pem: string, opts: { trustPem?: string | undefined; now?: number } = {}): ChainReport {
  const now = opts.now ?? Date.now();
  const blocks = splitPemChain(pem);
  const certs = blocks.map((b) => new X509Certificate(b));
  const problems: string[] = [];
  const certificates = blocks.map((b, i) => {
    const info = describeCertificate(b);
    const x = certs[i]!;
    if (info.notAfter.getTime() < now) problems.push(`certificate ${i} expired on ${info.notAfter.toISOString()}`);
    return {
      subject: info.subject,
      names: info.names,
      issuer: info.issuer,
      notBefore: info.notBefore.toISOString(),
      notAfter: info.notAfter.toISOString(),
      daysLeft: Math.floor((info.notAfter.getTime() - now) / 86_400_000),
      keyType: keyDescription(x),
      serialNumber: info.serialNumber,
      fingerprint256: info.fingerprint256,
      isCa: x.ca,
    };
  });
  let inOrder = true;
  for (let i = 0; i + 1 < certs.length; i++) {
    const [child, parent] = [certs[i]!, certs[i + 1]!];
    if (!child.checkIssued(parent) || !child.verify(parent.publicKey)) {
      inOrder = false;
      problems.push(`certificate ${i} is not signed by certificate ${i + 1}`);
    }
  }
  const anchors = (opts.trustPem === undefined ? [...rootCertificates] : splitPemChain(opts.trustPem)).map((p) => new X509Certificate(p));
  const top = certs[certs.length - 1]!;
  const verified =
    inOrder &&
    anchors.some((a) => a.fingerprint256 === top.fingerprint256 || (top.checkIssued(a) && top.verify(a.publicKey)));
  if (!verified && inOrder) problems.push('the chain does not lead to a trusted root');
  return { certificates, inOrder, verified, problems };
}
