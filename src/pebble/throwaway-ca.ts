/**
 * A throwaway CA and a server certificate (localhost, 127.0.0.1, ::1) for Pebble's own HTTPS
 * listeners. Test use only: the keys live in memory and on a temp dir for one fixture's lifetime.
 * This is not the CA that issues ACME certificates (Pebble makes its own root at every start).
 */
import { generateKeyPair, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import forge from 'node-forge';

const generateKeyPairAsync = promisify(generateKeyPair);

/** PEM material for Pebble's HTTPS listener. */
export interface ThrowawayCa {
  /** The CA certificate: the only trust anchor a client needs for Pebble's ACME and management APIs. */
  caPem: string;
  /** The server certificate signed by the CA (SANs DNS:localhost, IP:127.0.0.1, IP:::1). */
  certPem: string;
  /** The server certificate's private key (PKCS#1 PEM). */
  keyPem: string;
}

async function rsaKey(): Promise<{ forgeKey: forge.pki.rsa.PrivateKey; pem: string }> {
  // Node's native key generation; forge's pure-JS generator is far too slow.
  const { privateKey } = await generateKeyPairAsync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  return { forgeKey: forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey, pem: privateKey };
}

function publicOf(key: forge.pki.rsa.PrivateKey): forge.pki.rsa.PublicKey {
  return forge.pki.setRsaPublicKey(key.n, key.e);
}

function serialHex(): string {
  const b = randomBytes(16);
  b[0] = (b[0] ?? 0) & 0x7f; // positive INTEGER
  if (b[0] === 0) b[0] = 1;
  return b.toString('hex');
}

function validity(cert: forge.pki.Certificate): void {
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 60 * 60 * 1000);
  cert.validity.notAfter = new Date(now + 7 * 24 * 60 * 60 * 1000);
}

/**
 * Generates a fresh CA (RSA 2048) and a server certificate for loopback, valid from one hour ago
 * for seven days.
 */
export async function createThrowawayCa(): Promise<ThrowawayCa> {
  const [caKey, serverKey] = await Promise.all([rsaKey(), rsaKey()]);
  const tag = randomBytes(4).toString('hex');

  const ca = forge.pki.createCertificate();
  ca.publicKey = publicOf(caKey.forgeKey);
  ca.serialNumber = serialHex();
  validity(ca);
  const caSubject = [
    { name: 'commonName', value: `leec throwaway test CA ${tag}` },
    { name: 'organizationName', value: 'leec tests' },
  ];
  ca.setSubject(caSubject);
  ca.setIssuer(caSubject);
  ca.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  ca.sign(caKey.forgeKey, forge.md.sha256.create());

  const srv = forge.pki.createCertificate();
  srv.publicKey = publicOf(serverKey.forgeKey);
  srv.serialNumber = serialHex();
  validity(srv);
  srv.setSubject([{ name: 'commonName', value: 'localhost' }]);
  srv.setIssuer(caSubject);
  srv.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.generateSubjectKeyIdentifier().getBytes() },
    {
      name: 'subjectAltName',
      altNames: [
        { type: 2, value: 'localhost' },
        { type: 7, ip: '127.0.0.1' },
        { type: 7, ip: '::1' },
      ],
    },
  ]);
  srv.sign(caKey.forgeKey, forge.md.sha256.create());

  return {
    caPem: forge.pki.certificateToPem(ca),
    certPem: forge.pki.certificateToPem(srv),
    keyPem: serverKey.pem,
  };
}
