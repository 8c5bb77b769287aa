// What a private instance answers a request without a valid token: 401 UNAUTHORIZED in registry
// JSON with `WWW-Authenticate: Bearer realm="<this host>/auth/token",service=…,scope=…` (RFC 6750
// §3, as Docker's token spec uses it). The realm is a URL on the host the client used, so the
// client sends its credentials to the registry it logged in to, not to a name the server picked.

import { formatScopes, type Access } from "./auth-scope.ts";
import { RegistryError } from "./errors.ts";
import { tokenService } from "./token-claims.ts";

/** Where clients get tokens (GET with Basic credentials, or POST as OAuth2). */
export const tokenPath = "/auth/token";

/** A host as HTTP clients send it: a DNS name or IPv4 address, or an IPv6 literal, and a port. */
const hostPattern =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?$/;
const urlPrefix = /^(https?):\/\/([^/?#]*)/i;

/**
 * The token endpoint's URL for a request: `publicUrl` when the operator set one (a proxy in
 * front changes the scheme or host), else the request's own scheme and host. A Host header
 * that names no host (anything but letters, digits, dots, dashes, an IPv6 literal and a port)
 * cannot be put in a challenge: that is the client's mistake (400), never a 500.
 */
export function tokenRealm(requestUrl: string, publicUrl: string | null = null): string {
  if (publicUrl) return `${publicUrl.replace(/\/+$/, "")}${tokenPath}`;
  const match = urlPrefix.exec(requestUrl);
  const host = match?.[2] ?? "";
  if (!match || !hostPattern.test(host)) {
    throw new RegistryError(
      "BAD_REQUEST",
      `the request's Host "${host.slice(0, 100)}" is not a host name this registry can send credentials to; use the registry's address`,
    );
  }
  return `${match[1]!.toLowerCase()}://${host}${tokenPath}`;
}

/** The host a request names, as the client wrote it, for messages only (never parsed). */
export function displayHost(requestUrl: string): string {
  return (urlPrefix.exec(requestUrl)?.[2] ?? "").slice(0, 100) || "this registry";
}

export type ChallengeError = "invalid_token" | "insufficient_scope";

/** The `WWW-Authenticate` value: realm, service, the scope needed, and why a token was refused. */
export function bearerChallenge(
  realm: string,
  scope: Access | null,
  error?: ChallengeError,
): string {
  const parts = [`realm="${realm}"`, `service="${tokenService}"`];
  if (scope) parts.push(`scope="${formatScopes([scope])}"`);
  if (error) parts.push(`error="${error}"`);
  return `Bearer ${parts.join(",")}`;
}

/** A Basic challenge, for the token endpoint itself (and pages a browser opens). */
export function basicChallenge(): string {
  return `Basic realm="${tokenService}", charset="UTF-8"`;
}

/** The 401 a registry route answers without a token that grants `scope`. */
export function unauthorized(
  realm: string,
  scope: Access | null,
  message: string,
  error?: ChallengeError,
): RegistryError {
  const detail = scope
    ? scope.actions.map((action) => ({ Type: scope.type, Name: scope.name, Action: action }))
    : undefined;
  return new RegistryError("UNAUTHORIZED", message, detail, {
    headers: { "WWW-Authenticate": bearerChallenge(realm, scope, error) },
  });
}
