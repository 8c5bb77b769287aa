// The token endpoint of a private instance (the realm of its challenges), as docker, podman,
// skopeo, containerd and Kubernetes pull secrets call it:
// - GET with Basic credentials, `service`, repeated `scope`, and `offline_token=true` when the
//   client wants a refresh token (Docker's `docker login` does, and keeps it as its identity
//   token instead of the password);
// - POST as OAuth2 (a form with grant_type=password and username/password, as containerd sends
//   it, or grant_type=refresh_token, as Docker and containers/image send an identity token).
// Every answer is `{token, access_token, expires_in, issued_at, scope}`, plus `refresh_token`
// when asked for; every failure is registry JSON (401 with a Basic challenge, 429, 400).

import { formatScopes, grantedAccess, parseScopes, type Access } from "./auth-scope.ts";
import { RegistryError } from "./errors.ts";
import { basicCredentials, checkLogin, credentialsRefused, type LoginDeps } from "./login-check.ts";
import {
  accessClaims,
  tokenId,
  tokenIssuer,
  tokenService,
  type RefreshClaims,
  type TokenSigner,
} from "./token-claims.ts";

export interface TokenEndpointDeps extends LoginDeps {
  signer: TokenSigner;
  /** The client's address, a key of the login limiter. */
  client: string;
  /** How long access tokens live. */
  lifetimeSeconds: number;
  /** Whether a request without credentials gets pull access (anonymous pulls allowed). */
  anonymousPull: boolean;
  /** The registry's address as the client wrote it, for messages (e.g. `docker login HOST`). */
  host: string;
  now?: () => number;
}

type Grant =
  | { kind: "password"; user: string; password: string }
  | { kind: "refresh"; token: string }
  | { kind: "anonymous" };

interface TokenRequest {
  grant: Grant;
  scopes: Access[];
  offline: boolean;
}

const maxFormBytes = 64 * 1024;

/** The query string of a URL, parsed without parsing (and so without trusting) its host. */
function queryOf(url: string): URLSearchParams {
  const start = url.indexOf("?");
  if (start < 0) return new URLSearchParams();
  const end = url.indexOf("#", start);
  return new URLSearchParams(url.slice(start + 1, end < 0 ? undefined : end));
}

async function readForm(request: Request): Promise<URLSearchParams> {
  const type = request.headers.get("content-type") ?? "";
  if (!/^application\/x-www-form-urlencoded\b/i.test(type)) {
    throw new RegistryError(
      "BAD_REQUEST",
      "a token POST is an OAuth2 form: Content-Type application/x-www-form-urlencoded",
    );
  }
  const text = await request.text();
  if (text.length > maxFormBytes) {
    throw new RegistryError("BAD_REQUEST", `the token form is larger than ${maxFormBytes} bytes`);
  }
  return new URLSearchParams(text);
}

function checkService(params: URLSearchParams): void {
  const service = params.get("service");
  if (service !== null && service !== "" && service !== tokenService) {
    throw new RegistryError(
      "BAD_REQUEST",
      `this registry issues tokens for service "${tokenService}", not "${service.slice(0, 100)}"`,
    );
  }
}

async function parseTokenRequest(request: Request): Promise<TokenRequest> {
  if (request.method === "GET" || request.method === "HEAD") {
    const params = queryOf(request.url);
    checkService(params);
    const basic = basicCredentials(request.headers.get("authorization"));
    return {
      grant: basic ? { kind: "password", ...basic } : { kind: "anonymous" },
      scopes: parseScopes(params.getAll("scope")),
      offline: params.get("offline_token") === "true",
    };
  }
  if (request.method !== "POST") {
    throw new RegistryError(
      "METHOD_UNKNOWN",
      `the token endpoint answers GET and POST`,
      undefined,
      {
        headers: { Allow: "GET, POST" },
      },
    );
  }
  const form = await readForm(request);
  checkService(form);
  const scopes = parseScopes(form.getAll("scope"));
  const grantType = form.get("grant_type");
  if (grantType === "password") {
    const user = form.get("username") ?? "";
    const password = form.get("password") ?? "";
    if (user === "" || password === "")
      throw credentialsRefused("username and password are required");
    return {
      grant: { kind: "password", user, password },
      scopes,
      offline: form.get("access_type") === "offline",
    };
  }
  if (grantType === "refresh_token") {
    const token = form.get("refresh_token") ?? "";
    if (token === "") throw credentialsRefused("refresh_token is required");
    return { grant: { kind: "refresh", token }, scopes, offline: true };
  }
  throw new RegistryError(
    "BAD_REQUEST",
    `grant_type must be "password" or "refresh_token", got "${(grantType ?? "").slice(0, 40)}"`,
  );
}

/** The subject and, for a refresh grant, the refresh token to hand back. */
async function authenticate(
  grant: Grant,
  deps: TokenEndpointDeps,
): Promise<{ subject: string; version: string | null; refreshToken: string | null }> {
  switch (grant.kind) {
    case "password": {
      const version = await checkLogin(deps, deps.client, grant.user, grant.password);
      return { subject: grant.user, version, refreshToken: null };
    }
    case "refresh": {
      const claims = await deps.signer.verify(grant.token);
      const current =
        claims?.use === "refresh" && claims.aud === tokenService
          ? await deps.users.version(claims.sub)
          : null;
      if (!claims || current === null || claims.use !== "refresh" || claims.ver !== current) {
        await deps.limiter.recordFailure([`client:${deps.client}`]);
        throw credentialsRefused(
          `this login is no longer valid (the password changed, the user was removed or the signing key was rotated): log in to ${deps.host} again`,
        );
      }
      return { subject: claims.sub, version: claims.ver, refreshToken: grant.token };
    }
    case "anonymous":
      if (deps.anonymousPull) return { subject: "", version: null, refreshToken: null };
      throw credentialsRefused(
        `${deps.host} is a private registry: log in first (docker login ${deps.host}, podman login, or skopeo --creds)`,
      );
  }
}

/** Answers one token request (GET or POST on the realm). */
export async function handleTokenRequest(
  request: Request,
  deps: TokenEndpointDeps,
): Promise<Response> {
  const parsed = await parseTokenRequest(request);
  const { subject, version, refreshToken } = await authenticate(parsed.grant, deps);
  const nowMs = (deps.now ?? Date.now)();
  const now = Math.floor(nowMs / 1000);
  const access = grantedAccess(parsed.scopes);
  const token = await deps.signer.sign(accessClaims(subject, access, now, deps.lifetimeSeconds));
  const body: Record<string, unknown> = {
    token,
    access_token: token,
    expires_in: deps.lifetimeSeconds,
    issued_at: new Date(now * 1000).toISOString(),
    scope: formatScopes(access),
  };
  if (parsed.offline && subject !== "" && version !== null) {
    const refresh: RefreshClaims = {
      use: "refresh",
      iss: tokenIssuer,
      sub: subject,
      aud: tokenService,
      iat: now,
      jti: tokenId(),
      ver: version,
    };
    body.refresh_token = refreshToken ?? (await deps.signer.sign(refresh));
  }
  return new Response(request.method === "HEAD" ? null : JSON.stringify(body), {
    headers: {
      "Content-Type": "application/json",
      "Cache-Control": "no-store",
      Pragma: "no-cache",
    },
  });
}
