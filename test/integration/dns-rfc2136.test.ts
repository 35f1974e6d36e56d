/**
 * The rfc2136 provider against a real BIND (named) on loopback: TSIG-signed updates that add one TXT
 * value and delete exactly that value (RFC 2136 §2.5.1, §2.5.4), the zone found by a SOA query, every
 * refusal mapped to a typed DnsError (rcode, TSIG error), bad options refused before any packet, UDP
 * retransmission, and the TCP fallback on a truncated UDP answer.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { createRfc2136Provider, rfc2136FromOptions, type Rfc2136Options } from '../../src/dns/rfc2136.js';
import type { Dns01Record } from '../../src/dns/provider.js';
import { DnsError, ErrorCode, InvalidInputError } from '../../src/errors.js';
import { freePort } from '../../src/net/free-port.js';
import { bindMissing, digAnswer, nsupdate, startBind, txtAt, type BindInstance } from '../support/bind-server.js';
import { caught } from '../support/caught.js';

const skip = bindMissing();
const NAME = '_acme-challenge.example.test.';

function rec(value: string, fqdn = NAME): Dns01Record {
  return { domain: fqdn.replace(/^_acme-challenge\./, '').replace(/\.$/, ''), fqdn, value };
}

/** A UDP socket and a TCP server on one free port that count what reaches them and never answer. */
async function silentServer(): Promise<{ address: string; packets: () => number; close: () => Promise<void> }> {
  const port = await freePort('127.0.0.1', { udp: true });
  let count = 0;
  const udp = dgram.createSocket('udp4');
  udp.on('message', () => count++);
  await new Promise<void>((r) => udp.bind(port, '127.0.0.1', () => r()));
  const sockets = new Set<net.Socket>();
  const tcp = net.createServer((s) => {
    count++;
    sockets.add(s);
    s.on('error', () => {});
  });
  await new Promise<void>((r) => tcp.listen(port, '127.0.0.1', () => r()));
  return {
    address: `127.0.0.1:${port}`,
    packets: () => count,
    close: async () => {
      await new Promise<void>((r) => udp.close(() => r()));
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => tcp.close(() => r()));
    },
  };
}

describe('rfc2136 provider against BIND', { skip, concurrency: false }, () => {
  let bind: BindInstance;
  let opts: Rfc2136Options;

  before(async () => {
    bind = await startBind({ zone: 'example.test' });
    opts = { server: bind.address, keyName: bind.keyName, keySecret: bind.keySecret };
  });
  after(async () => {
    await bind?.stop();
  });

  it('present adds the value: a TXT query at BIND returns it', async () => {
    const p = createRfc2136Provider(opts);
    assert.equal(p.name, 'rfc2136');
    await p.present(rec('first-value', '_acme-challenge.one.example.test.'));
    assert.deepEqual(await txtAt(bind, '_acme-challenge.one.example.test'), ['first-value']);
  });

  it('two values on one name (wildcard + apex) coexist; cleanup removes only its own, a third party value stays', async () => {
    const p = createRfc2136Provider({ ...opts, ttl: 30 });
    await p.present(rec('apex-value'));
    await p.present(rec('wildcard-value'));
    assert.deepEqual(await txtAt(bind, NAME), ['apex-value', 'wildcard-value']);
    await nsupdate(bind, [`update add ${NAME} 60 TXT "someone-elses"`]);
    assert.deepEqual(await txtAt(bind, NAME), ['apex-value', 'someone-elses', 'wildcard-value']);

    await p.cleanup(rec('apex-value'));
    assert.deepEqual(await txtAt(bind, NAME), ['someone-elses', 'wildcard-value']);
    // Removing a value that is not there succeeds and changes nothing (RFC 2136 §3.4.2.4).
    await p.cleanup(rec('apex-value'));
    await p.cleanup(rec('wildcard-value'));
    assert.deepEqual(await txtAt(bind, NAME), ['someone-elses']);
    // Presenting the same value twice keeps one RR (§3.4.2.2).
    await p.present(rec('twice'));
    await p.present(rec('twice'));
    assert.deepEqual(await txtAt(bind, NAME), ['someone-elses', 'twice']);
    await p.cleanup(rec('twice'));
    await nsupdate(bind, [`update delete ${NAME} TXT "someone-elses"`]);
    assert.deepEqual(await txtAt(bind, NAME), []);
  });

  it('an explicit zone (any case) is used as is; the ttl option is the TTL of the record', async () => {
    const p = createRfc2136Provider({ ...opts, zone: 'Example.Test', ttl: 42 });
    await p.present(rec('zoned'));
    assert.deepEqual(await digAnswer(bind, NAME, 'TXT'), [`${NAME} 42 IN TXT "zoned"`]);
    await p.cleanup(rec('zoned'));
    assert.deepEqual(await txtAt(bind, NAME), []);
  });

  it('a wrong secret: DnsError ERR_DNS_PROVIDER with rcode NOTAUTH and tsigError BADSIG, no secret in it', async () => {
    const wrong = Buffer.alloc(32, 9).toString('base64');
    for (const o of [{ ...opts, keySecret: wrong }, { ...opts, keySecret: wrong, zone: 'example.test' }]) {
      const e = await caught(createRfc2136Provider(o).present(rec('never')), DnsError);
      assert.equal(e.code, ErrorCode.dnsProvider);
      assert.equal(e.step, 'dns');
      assert.equal(e.data['rcode'], 'NOTAUTH');
      assert.equal(e.data['tsigError'], 'BADSIG');
      assert.equal(e.data['tsigFailedAt'], 'server');
      const all = JSON.stringify({ m: e.message, d: e.data, s: e.toJSON() });
      assert.ok(!all.includes(wrong) && !all.includes(bind.keySecret), 'no secret in the error');
    }
    assert.deepEqual(await txtAt(bind, NAME), []);
  });

  it('an unknown key name: NOTAUTH with BADKEY', async () => {
    const e = await caught(createRfc2136Provider({ ...opts, keyName: 'other-key', zone: 'example.test' }).present(rec('never')), DnsError);
    assert.deepEqual([e.data['rcode'], e.data['tsigError']], ['NOTAUTH', 'BADKEY']);
  });

  it('no key: the update is REFUSED', async () => {
    const e = await caught(createRfc2136Provider({ server: bind.address }).present(rec('never')), DnsError);
    assert.equal(e.code, ErrorCode.dnsProvider);
    assert.equal(e.data['rcode'], 'REFUSED');
    assert.equal(e.data['tsigError'], undefined);
    assert.equal(e.data['zone'], 'example.test.');
    assert.deepEqual(await txtAt(bind, NAME), []);
  });

  it('a zone the server does not serve: found by SOA query → REFUSED zoneNotFound; given → NOTAUTH', async () => {
    const p = createRfc2136Provider(opts);
    const e = await caught(p.present(rec('never', '_acme-challenge.other.test.')), DnsError);
    assert.equal(e.code, ErrorCode.dnsProvider);
    assert.deepEqual([e.data['rcode'], e.data['reason'], e.data['fqdn']], ['REFUSED', 'zoneNotFound', '_acme-challenge.other.test.']);

    const given = await caught(createRfc2136Provider({ ...opts, zone: 'other.test' }).present(rec('never', '_acme-challenge.other.test.')), DnsError);
    assert.equal(given.data['rcode'], 'NOTAUTH');
    assert.equal(given.data['tsigError'], undefined);

    const outside = await caught(createRfc2136Provider({ ...opts, zone: 'example.test' }).present(rec('never', '_acme-challenge.other.test.')), InvalidInputError);
    assert.equal(outside.data['zone'], 'example.test.');
  });

  it('hmac-sha512 and hmac-sha1 keys work too', async () => {
    for (const keyAlgorithm of ['hmac-sha512', 'hmac-sha1'] as const) {
      const b = await startBind({ zone: 'example.test', keyAlgorithm });
      try {
        const p = createRfc2136Provider({ server: b.address, keyName: b.keyName, keySecret: b.keySecret, keyAlgorithm });
        await p.present(rec(`via-${keyAlgorithm}`));
        assert.deepEqual(await txtAt(b, NAME), [`via-${keyAlgorithm}`]);
        await p.cleanup(rec(`via-${keyAlgorithm}`));
        assert.deepEqual(await txtAt(b, NAME), []);
        // The right secret under the wrong algorithm is refused by the server.
        const other = keyAlgorithm === 'hmac-sha512' ? 'hmac-sha1' : 'hmac-sha512';
        const e = await caught(createRfc2136Provider({ server: b.address, keyName: b.keyName, keySecret: b.keySecret, keyAlgorithm: other, zone: 'example.test' }).present(rec('x')), DnsError);
        assert.equal(e.data['rcode'], 'NOTAUTH');
        assert.ok(['BADKEY', 'BADSIG'].includes(String(e.data['tsigError'])), String(e.data['tsigError']));
      } finally {
        await b.stop();
      }
    }
  });

  it('falls back to TCP when the UDP answer is truncated', async () => {
    // UDP: answers every query with its header only and TC set. TCP: a proxy to BIND.
    const port = await freePort('127.0.0.1', { udp: true });
    const udp = dgram.createSocket('udp4');
    let truncated = 0;
    udp.on('message', (m, r) => {
      const h = Buffer.from(m.subarray(0, 12));
      h.writeUInt16BE((m.readUInt16BE(2) & 0x7800) | 0x8200, 2); // QR + same opcode + TC
      h.fill(0, 4);
      truncated++;
      udp.send(h, r.port, r.address);
    });
    await new Promise<void>((r) => udp.bind(port, '127.0.0.1', () => r()));
    let tcpConnections = 0;
    const tcp = net.createServer((client) => {
      tcpConnections++;
      const upstream = net.connect(bind.port, '127.0.0.1');
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    await new Promise<void>((r) => tcp.listen(port, '127.0.0.1', () => r()));
    try {
      const p = createRfc2136Provider({ ...opts, server: `127.0.0.1:${port}` });
      await p.present(rec('over-tcp'));
      assert.deepEqual(await txtAt(bind, NAME), ['over-tcp']);
      await p.cleanup(rec('over-tcp'));
      assert.deepEqual(await txtAt(bind, NAME), []);
      assert.equal(truncated, 3); // SOA query, add, delete
      assert.equal(tcpConnections, 3);
    } finally {
      await new Promise<void>((r) => udp.close(() => r()));
      await new Promise<void>((r) => tcp.close(() => r()));
    }
  });
});

describe('rfc2136 provider: no answer, bad options', { concurrency: false }, () => {
  it('a server that never answers: the same query is retransmitted over UDP, then DnsError reason timeout', async () => {
    const s = await silentServer();
    try {
      const p = createRfc2136Provider({ server: s.address, zone: 'example.test', timeoutMs: 700 });
      const t0 = Date.now();
      const e = await caught(p.present(rec('x')), DnsError);
      const took = Date.now() - t0;
      assert.equal(e.code, ErrorCode.dnsProvider);
      assert.deepEqual([e.data['reason'], e.data['timeoutMs'], e.data['server']], ['timeout', 700, s.address]);
      assert.ok(took >= 650 && took < 3000, `took ${took} ms`);
      assert.equal(s.packets(), 1); // 1 s first retransmission interval > 700 ms
      const p2 = createRfc2136Provider({ server: s.address, zone: 'example.test', timeoutMs: 1_500 });
      await caught(p2.present(rec('x')), DnsError);
      assert.equal(s.packets(), 1 + 2); // sent at 0 and retransmitted at 1 s
    } finally {
      await s.close();
    }
  });

  it('nothing listening: DnsError reason network (ECONNREFUSED) quickly', async () => {
    const port = await freePort('127.0.0.1', { udp: true });
    const e = await caught(createRfc2136Provider({ server: `127.0.0.1:${port}`, zone: 'example.test', timeoutMs: 5_000 }).present(rec('x')), DnsError);
    assert.deepEqual([e.data['reason'], e.data['cause']], ['network', 'ECONNREFUSED']);
  });

  it('bad options are InvalidInputError ERR_INVALID_OPTION (step input) and no packet is sent', async () => {
    const s = await silentServer();
    const secret = Buffer.alloc(32, 3).toString('base64');
    const good: Rfc2136Options = { server: s.address, keyName: 'acme-key', keySecret: secret };
    const cases: Array<[Partial<Rfc2136Options> & Record<string, unknown>, string]> = [
      [{ server: 'not a server' }, 'server'],
      [{ server: '127.0.0.1:0' }, 'server'],
      [{ server: '127.0.0.1:70000' }, 'server'],
      [{ server: undefined }, 'server'],
      [{ keySecret: 'not base64!!' }, 'keySecret'],
      [{ keySecret: '' }, 'keySecret'],
      [{ keySecret: undefined }, 'keySecret'],
      [{ keyName: undefined }, 'keyName'],
      [{ keyName: 'bad..name' }, 'keyName'],
      [{ keyAlgorithm: 'hmac-md5' as never }, 'keyAlgorithm'],
      [{ zone: 'bad zone' }, 'zone'],
      [{ zone: '*.example.test' }, 'zone'],
      [{ ttl: -1 }, 'ttl'],
      [{ ttl: 1.5 }, 'ttl'],
      [{ timeoutMs: 0 }, 'timeoutMs'],
      [{ timeoutMs: Number.NaN }, 'timeoutMs'],
    ];
    try {
      for (const [patch, option] of cases) {
        const o = { ...good, ...patch } as Rfc2136Options;
        for (const k of Object.keys(patch)) if (patch[k] === undefined) delete (o as unknown as Record<string, unknown>)[k];
        const e = (() => {
          try {
            createRfc2136Provider(o);
          } catch (err) {
            return err;
          }
          return undefined;
        })();
        assert.ok(e instanceof InvalidInputError, `${JSON.stringify(patch)}: ${String(e)}`);
        assert.equal(e.code, ErrorCode.invalidOption);
        assert.equal(e.step, 'input');
        assert.equal(e.data['option'], option, JSON.stringify(patch));
        const text = JSON.stringify({ m: e.message, d: e.data });
        assert.ok(!text.includes(secret), 'no secret in the error');
        if (typeof patch.keySecret === 'string' && patch.keySecret !== '') assert.ok(!text.includes(patch.keySecret), 'a bad secret is not echoed either');
      }
      // keyAlgorithm without a key
      assert.throws(() => createRfc2136Provider({ server: s.address, keyAlgorithm: 'hmac-sha256' }), InvalidInputError);

      // Bad records are refused by present/cleanup before any packet, too.
      const p = createRfc2136Provider(good);
      await caught(p.present(rec('x'.repeat(256))), InvalidInputError);
      await caught(p.present(rec('line\nbreak')), InvalidInputError);
      await caught(p.cleanup(rec('ok', 'bad..name.')), InvalidInputError);
      await caught(p.present(rec('ok', '*.example.test.')), InvalidInputError);

      // Give any stray datagram time to arrive before counting.
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(s.packets(), 0);
    } finally {
      await s.close();
    }
  });

  it('rfc2136FromOptions: the CLI pairs, integers parsed, unknown keys refused', async () => {
    const s = await silentServer();
    try {
      const p = rfc2136FromOptions({ server: s.address, keyName: 'k', keySecret: 'c2VjcmV0', keyAlgorithm: 'hmac-sha512', zone: 'example.test', ttl: '120', timeoutMs: '300' });
      assert.equal(p.name, 'rfc2136');
      // It works as configured: it sends (and times out after the 300 ms it was given).
      const e = await caught(p.present(rec('x')), DnsError);
      assert.equal(e.data['timeoutMs'], 300);
      assert.equal(s.packets(), 1);

      const refused = (raw: Record<string, string>, option: string): void => {
        assert.throws(
          () => rfc2136FromOptions(raw),
          (err: unknown) => err instanceof InvalidInputError && err.code === ErrorCode.invalidOption && err.step === 'input' && err.data['option'] === option,
          JSON.stringify(raw),
        );
      };
      refused({ server: s.address, secret: 'x' }, 'secret');
      refused({ server: s.address, ttl: '60s' }, 'ttl');
      refused({ server: s.address, timeoutMs: '-1' }, 'timeoutMs');
      refused({ server: s.address, keyAlgorithm: 'md5', keyName: 'k', keySecret: 'c2VjcmV0' }, 'keyAlgorithm');
      refused({}, 'server');
      assert.equal(s.packets(), 1);
    } finally {
      await s.close();
    }
  });
});
