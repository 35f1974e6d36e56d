/**
 * Drives one order through AcmeClient by hand (newOrder with options, http-01 answered, finalize, poll,
 * download), for tests of the newOrder options against the fake CA, which validates challenges at once.
 */
import type { AcmeClient, NewOrderOptions } from '../../src/acme/client.js';
import type { Order } from '../../src/acme/types.js';
import { splitPemChain } from '../../src/crypto/certificate.js';
import { createCsr } from '../../src/crypto/csr.js';
import { generateKeyPair } from '../../src/crypto/keys.js';

export interface DrivenOrder {
  /** The newOrder answer. */
  placed: Order;
  /** The order once valid. */
  order: Order;
  chainPem: string;
  /** The leaf, first of the chain. */
  certPem: string;
}

export async function driveOrder(client: AcmeClient, names: string[], opts: NewOrderOptions = {}): Promise<DrivenOrder> {
  const placed = await client.newOrder(names.map((value) => ({ type: 'dns' as const, value })), opts);
  for (const url of placed.authorizations) {
    const authz = await client.getAuthorization(url);
    const challenge = authz.challenges.find((c) => c.type === 'http-01');
    if (!challenge) throw new Error(`no http-01 challenge in ${url}`);
    await client.respondChallenge(challenge.url);
  }
  const key = await generateKeyPair('ec256');
  await client.finalize(placed, createCsr({ privateKey: key.privateKey, names }).der);
  let order = await client.getOrder(placed.url);
  for (let i = 0; order.status !== 'valid' && i < 50; i += 1) {
    await client.wait(20, 'order');
    order = await client.getOrder(placed.url);
  }
  if (order.certificate === undefined) throw new Error(`order ${placed.url} is ${order.status}, not valid`);
  const { pem } = await client.downloadCertificate(order.certificate);
  return { placed, order, chainPem: pem, certPem: splitPemChain(pem)[0]! };
}
