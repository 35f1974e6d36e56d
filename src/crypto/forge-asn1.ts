/**
 * node-forge's ASN.1 module alone (`node-forge/lib/asn1.js`), for the CSR and the tls-alpn-01
 * certificate: the only node-forge code agents load. It is CommonJS, loaded with `require`: an ESM
 * `import` of it first runs Node's CommonJS export scanner over forge's sources, which cost every new
 * agent thread ~15 ms of CPU (measured: 43 ms against 30 ms for a worker that only requires it).
 */
import { createRequire } from 'node:module';
import type forge from 'node-forge';

const require = createRequire(import.meta.url);

export const asn1: typeof forge.asn1 = require('node-forge/lib/asn1.js') as typeof forge.asn1;
