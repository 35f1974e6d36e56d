/**
 * Well-known ACME directory URLs (RFC 8555 §7.1.1). LEEC's `environment` option chose between these two.
 */

/** Let's Encrypt production. */
export const LETS_ENCRYPT_PRODUCTION = 'https://acme-v02.api.letsencrypt.org/directory';

/** Let's Encrypt staging: untrusted certificates, generous rate limits; test here first. */
export const LETS_ENCRYPT_STAGING = 'https://acme-staging-v02.api.letsencrypt.org/directory';
