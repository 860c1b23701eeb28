// TLS to an agent (or a controller) whose certificate is pinned: the self-signed PEM is the
// only trust anchor, and the presented certificate must be exactly it (by SHA-256). The
// host name is not checked: the pin is the identity, and agents are reached by address.
import { X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';

/** The code of the error a pin mismatch fails the connection with. */
export const PIN_MISMATCH = 'ERR_LABVIRT_PIN_MISMATCH';

/** OpenSSL's verdicts on a chain that does not lead to the pinned certificate. */
const CHAIN_REFUSALS = new Set([
  PIN_MISMATCH,
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** True when a connection failed because the peer showed another certificate. */
export function isPinRefusal(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && CHAIN_REFUSALS.has(code);
}

/** "AB:CD:…" (Node's fingerprint256) → "abcd…"; and back. */
export function fingerprintToHex(fingerprint: string): string {
  return fingerprint.replaceAll(':', '').toLowerCase();
}

/** sha256 (hex, lower case) of a PEM certificate's DER: what join tokens carry. */
export function certificateSha256(pem: string | Buffer): string {
  return fingerprintToHex(new X509Certificate(pem).fingerprint256);
}

export interface PinnedTlsOptions {
  readonly ca?: string | Buffer;
  readonly rejectUnauthorized: true;
  readonly checkServerIdentity: (host: string, cert: PeerCertificate) => Error | undefined;
}

function pinCheck(expectedHex: string) {
  return (_host: string, cert: PeerCertificate): Error | undefined => {
    if (fingerprintToHex(cert.fingerprint256 ?? '') === expectedHex) return undefined;
    return Object.assign(new Error('the peer presented a certificate other than the pinned one'), {
      code: PIN_MISMATCH,
    });
  };
}

/** Trusts exactly this certificate (PEM). */
export function pinnedTls(certificate: string | Buffer): PinnedTlsOptions {
  return {
    ca: certificate,
    rejectUnauthorized: true,
    checkServerIdentity: pinCheck(certificateSha256(certificate)),
  };
}
