/**
 * The keygen floor of a cell: N keys of the cell's type made with node:crypto's async generateKeyPair,
 * all started at once. They run on libuv's thread pool (UV_THREADPOOL_SIZE threads, see threadpool.ts),
 * so every core works: no client that makes N fresh keys in this process can finish before this.
 */
import { generateKeyPair } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import type { KeyType } from '../src/crypto/key-type.js';
import type { CellContext } from './leec-runner.js';
import { cellRun, startMeter, type CellRun, type MeterReading } from './measure.js';

const generateKeyPairAsync = promisify(generateKeyPair);

/** One key pair, the same parameters leec uses (src/crypto/keys.ts), no encoding. */
export function makeKey(type: KeyType): Promise<unknown> {
  switch (type) {
    case 'rsa2048':
    case 'rsa3072':
    case 'rsa4096':
      return generateKeyPairAsync('rsa', { modulusLength: Number(type.slice(3)), publicExponent: 0x10001 });
    case 'ec256':
      return generateKeyPairAsync('ec', { namedCurve: 'prime256v1' });
    case 'ec384':
      return generateKeyPairAsync('ec', { namedCurve: 'secp384r1' });
  }
}

export async function runKeygenFloorCell(ctx: CellContext): Promise<CellRun> {
  const meter = startMeter({ serverCpuSeconds: ctx.serverCpuSeconds });
  let perKey: number[];
  let reading: MeterReading;
  try {
    perKey = await Promise.all(
      Array.from({ length: ctx.domains }, async () => {
        const t = performance.now();
        await makeKey(ctx.keyType);
        return (performance.now() - t) / 1000;
      }),
    );
  } finally {
    reading = meter.stop();
  }
  return cellRun({ tool: 'keygen-floor', run: ctx.run, reading, perCertSeconds: perKey, certRequests: 0, setupRequests: 0, timelines: [] });
}
