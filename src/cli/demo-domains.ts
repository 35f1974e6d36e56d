/**
 * The names the demo issues certificates for: a fixed list of plausible sites under `example.test`
 * (RFC 2606 reserves `.test`; Pebble's DNS resolves every name to 127.0.0.1), then `site-<i>`.
 * About every third domain carries an extra subjectAltName.
 */

import type { ChallengeType } from '../acme/challenges.js';

/** One demo certificate: its primary name and extra names, and the challenge that validates them (default http-01). */
export interface DemoDomain {
  domain: string;
  sans: string[];
  challenge?: ChallengeType;
}

/** The name a TLS handshake checks for a certificate name: a wildcard is checked with one concrete label under it. */
export function probeName(name: string): string {
  return name.startsWith('*.') ? `any-host.${name.slice(2)}` : name;
}

const ZONE = 'example.test';

/** The fixed part of the list; index % 3 === 0 carries a SAN. */
const FIXED: ReadonlyArray<readonly [string, string?]> = Object.freeze([
  ['shop', 'www.shop'],
  ['blog'],
  ['api'],
  ['mail', 'webmail'],
  ['docs'],
  ['status'],
  ['app', 'www.app'],
  ['wiki'],
  ['chat'],
  ['cdn', 'static'],
  ['auth'],
  ['admin'],
]);

/** The most domains the demo issues in one run. */
export const MAX_DEMO_DOMAINS = 200;

/**
 * The first `n` demo domains: the fixed list, then `site-<i>.example.test` (i = position, 1-based),
 * with `www.site-<i>.example.test` on every third one.
 *
 * @example demoDomains(2) // [{ domain: 'shop.example.test', sans: ['www.shop.example.test'] }, { domain: 'blog.example.test', sans: [] }]
 */
export function demoDomains(n: number): DemoDomain[] {
  const out: DemoDomain[] = [];
  for (let i = 0; i < n; i++) {
    const fixed = FIXED[i];
    if (fixed !== undefined) {
      const [label, san] = fixed;
      out.push({ domain: `${label}.${ZONE}`, sans: san === undefined ? [] : [`${san}.${ZONE}`] });
    } else {
      const domain = `site-${i + 1}.${ZONE}`;
      out.push({ domain, sans: i % 3 === 0 ? [`www.${domain}`] : [] });
    }
  }
  return out;
}

/**
 * The demo's wildcard certificate, issued beside the others: a wildcard and its apex in one order, so
 * dns-01 with two TXT values on one name (RFC 8555 §8.4), published through pebble-challtestsrv.
 */
export const WILDCARD_DEMO: DemoDomain = Object.freeze({ domain: `wild.${ZONE}`, sans: [`*.wild.${ZONE}`], challenge: 'dns-01' as const });
