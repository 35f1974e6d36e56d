/**
 * Revocation reasons for `leec revoke --reason`: the CRLReason codes of RFC 5280 §5.3.1, which RFC 8555
 * §7.6 sends as `reason`, given by number or by name. Value 7 is not used by RFC 5280 and is refused.
 * Which reasons a CA accepts is its own policy (Let's Encrypt: 0, 1, 3, 4, 5); the CA answers
 * `badRevocationReason` for the others.
 */
import { badOption } from './connection-options.js';

/** RFC 5280 §5.3.1 CRLReason, name to code. */
export const REVOCATION_REASONS: Readonly<Record<string, number>> = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  // 7 is not used
  removeFromCRL: 8,
  privilegeWithdrawn: 9,
  aACompromise: 10,
};

/** The RFC 5280 name of a reason code, e.g. `keyCompromise` for 1. */
export function reasonName(code: number): string {
  return Object.entries(REVOCATION_REASONS).find(([, c]) => c === code)?.[0] ?? String(code);
}

/**
 * `--reason`: a code (`1`) or a name (`keyCompromise`, any case). Anything else, 7 included, is
 * ERR_INVALID_OPTION.
 */
export function parseRevocationReason(raw: string): number {
  const list = Object.entries(REVOCATION_REASONS).map(([n, c]) => `${c} ${n}`).join(', ');
  const s = raw.trim();
  if (/^\d+$/.test(s)) {
    const code = Number(s);
    if (code === 7) badOption('--reason 7 is not a CRLReason: RFC 5280 §5.3.1 leaves 7 unused', { reason: raw });
    if (Object.values(REVOCATION_REASONS).includes(code)) return code;
  } else {
    const found = Object.entries(REVOCATION_REASONS).find(([n]) => n.toLowerCase() === s.toLowerCase());
    if (found) return found[1];
  }
  return badOption(`--reason ${JSON.stringify(raw)} is not an RFC 5280 CRLReason; use one of ${list}`, { reason: raw });
}
