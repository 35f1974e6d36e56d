/**
 * Types for node-forge's ASN.1 module loaded on its own (`node-forge/lib/asn1.js`), which
 * @types/node-forge only describes as part of the whole package.
 */
declare module 'node-forge/lib/asn1.js' {
  import type forge from 'node-forge';
  const asn1: typeof forge.asn1;
  export default asn1;
}
