/**
 * RFC 8555 resource shapes as leec reads them. Only the fields leec uses are typed; servers may send
 * more (a directory with unknown fields or no `meta` is fine, §7.1.1). Plain data, no behaviour.
 */

/** §7.1.1 Directory. */
export interface Directory {
  newNonce: string;
  newAccount: string;
  newOrder: string;
  revokeCert?: string;
  keyChange?: string;
  newAuthz?: string;
  /** RFC 9773 §3: base URL of the renewalInfo resource (ARI). */
  renewalInfo?: string;
  meta?: {
    termsOfService?: string;
    website?: string;
    caaIdentities?: string[];
    externalAccountRequired?: boolean;
    /** draft-aaron-acme-profiles: certificate profile name → human-readable description (or URL). */
    profiles?: Record<string, string>;
  };
}

/** §9.7.7 identifier types: `dns` (RFC 8555) and `ip` (RFC 8738). */
export interface Identifier {
  type: 'dns' | 'ip';
  value: string;
}

/** §7.1.6 status values of an order. */
export type OrderStatus = 'pending' | 'ready' | 'processing' | 'valid' | 'invalid';
/** §7.1.6 status values of an authorization. */
export type AuthorizationStatus = 'pending' | 'valid' | 'invalid' | 'deactivated' | 'expired' | 'revoked';
/** §7.1.6 status values of a challenge. */
export type ChallengeStatus = 'pending' | 'processing' | 'valid' | 'invalid';

/** §7.1.3 Order object. `url` is the order's Location, kept by leec to poll and resume it. */
export interface Order {
  url: string;
  status: OrderStatus;
  expires?: string;
  identifiers: Identifier[];
  authorizations: string[];
  finalize: string;
  certificate?: string;
  error?: unknown;
  /** §7.1.3: the validity the order asked for, as the CA echoes it (RFC 3339). */
  notBefore?: string;
  notAfter?: string;
  /** RFC 9773 §5: the certID of the certificate this order replaces, as the CA echoes it. */
  replaces?: string;
  /** draft-aaron-acme-profiles: the certificate profile the order uses. */
  profile?: string;
}

/** §7.1.5 Challenge object. */
export interface Challenge {
  type: string;
  url: string;
  status: ChallengeStatus;
  token: string;
  validated?: string;
  error?: unknown;
}

/** §7.1.4 Authorization object. */
export interface Authorization {
  url: string;
  identifier: Identifier;
  status: AuthorizationStatus;
  expires?: string;
  challenges: Challenge[];
  wildcard?: boolean;
}

/** §7.1.2 Account object, with the account URL from the Location header (used as JWS `kid`). */
export interface Account {
  url: string;
  status: 'valid' | 'deactivated' | 'revoked';
  contact?: string[];
  /** Not an account field: set by newAccount, true when the CA created the account then (201, §7.3). */
  created?: boolean;
}
