/**
 * Types for comlink's ES module builds (`dist/esm/*.mjs`), which comlink ships typed only as `.d.ts`
 * beside its package entry: the same API.
 */
declare module 'comlink/dist/esm/comlink.mjs' {
  export * from 'comlink';
}

declare module 'comlink/dist/esm/node-adapter.mjs' {
  import type { Endpoint } from 'comlink';
  export default function nodeEndpoint(nep: unknown): Endpoint;
}
