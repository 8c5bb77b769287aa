// A private origin's access control for its Hono app: the token endpoint (the realm), the check
// of the registry API (a user's token, or the edge's shared secret), and the guard of the pages
// that say more than "alive" (`/`, `/healthz`, `/metrics`): a token, the secret, or a user's
// Basic login, which a browser asks for. The flow itself is shared (shared/token-endpoint.ts,
// shared/registry-access.ts); this file only wires the origin's users, keys and limiter to it.

import type { Context, MiddlewareHandler } from "hono";
import { displayHost, tokenRealm, unauthorized } from "../../shared/auth-challenge.ts";
import { pullAccess } from "../../shared/auth-scope.ts";
import {
  basicCredentials,
  checkLogin,
  credentialsRefused,
  type LoginLimiter,
} from "../../shared/login-check.ts";
import { authorizeRequest, bearerToken, requiredAccess } from "../../shared/registry-access.ts";
import { matchRoute } from "../../shared/routes.ts";
import type { TokenSigner } from "../../shared/token-claims.ts";
import { handleTokenRequest } from "../../shared/token-endpoint.ts";
import { presentsSecret } from "../routes/require-secret.ts";
import type { UserDirectory } from "../../shared/user-directory.ts";
import type { Logger } from "../log.ts";
import type { UsersFile } from "./users-file.ts";

export interface AccessControl {
  /** The users (null: an origin that serves only its edge, ORIGIN_PRIVATE without users). */
  users: UsersFile | null;
  signer: TokenSigner;
  limiter: LoginLimiter;
  originSecret: string | null;
  /** The registry's public base URL when a proxy in front changes scheme or host. */
  publicUrl: string | null;
  tokenSeconds: number;
  /** Anonymous clients get pull tokens; building a new image still needs a user. */
  anonymousPull: boolean;
  /** Where refused logins are logged. */
  log: Logger;
}

function loginDeps(access: AccessControl, users: UserDirectory) {
  return {
    users,
    limiter: access.limiter,
    audit: (event: string, fields: Record<string, string>) => access.log.warn(event, fields),
  };
}

/** The client's address as the socket saw it (a key of the login limiter). */
export function clientAddress(c: Context): string {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress ?? "unknown";
}

export function tokenHandler(access: AccessControl) {
  return async (c: Context): Promise<Response> => {
    const host = displayHost(c.req.url);
    if (!access.users) {
      throw credentialsRefused(
        `${host} is an image builder that serves only its edge: pull from the edge instead`,
      );
    }
    return handleTokenRequest(c.req.raw, {
      ...loginDeps(access, await access.users.current()),
      signer: access.signer,
      client: clientAddress(c),
      lifetimeSeconds: access.tokenSeconds,
      anonymousPull: access.anonymousPull,
      host,
    });
  };
}

/** Who a registry request comes from, once its token (or the edge's secret) is checked. */
export interface RegistryViewer {
  /** Whether the request may make the origin build: the edge, or a user (not anonymous). */
  mayBuild: boolean;
  /** Who asked, for the access log: a user's name, "" for anonymous, "edge" for the secret. */
  user: string;
}

/** The registry API: the edge's secret, or a token that grants the route; else the challenge. */
export async function authorizeRegistry(
  access: AccessControl,
  c: Context,
): Promise<RegistryViewer> {
  if (presentsSecret(c.req.header("authorization"), access.originSecret)) {
    return { mayBuild: true, user: "edge" };
  }
  const route = matchRoute(c.req.path);
  const claims = await authorizeRequest(
    c.req.raw,
    route ? requiredAccess(route) : null,
    access.signer,
    () => tokenRealm(c.req.url, access.publicUrl),
    displayHost(c.req.url),
  );
  return { mayBuild: claims.sub !== "", user: claims.sub };
}

/** What an anonymous pull of an image nobody built yet gets: a request to log in. */
export function buildNeedsLogin(access: AccessControl, c: Context, name: string, tag: string) {
  const host = displayHost(c.req.url);
  return unauthorized(
    tokenRealm(c.req.url, access.publicUrl),
    pullAccess(name),
    `${name}:${tag} is not built yet, and only logged-in users may build new images on ${host}: log in first (docker login ${host})`,
  );
}

/** Pages with details (start page, readiness): a token, the secret, or a user's Basic login. */
export function pageGuard(access: AccessControl): MiddlewareHandler {
  return async (c, next) => {
    const header = c.req.header("authorization") ?? null;
    if (presentsSecret(header ?? undefined, access.originSecret)) return next();
    const token = bearerToken(header);
    if (token !== null) {
      const claims = await access.signer.verify(token);
      if (claims?.use === "access" && claims.sub !== "") return next();
    }
    const basic = basicCredentials(header);
    if (basic && access.users) {
      await checkLogin(
        loginDeps(access, await access.users.current()),
        clientAddress(c),
        basic.user,
        basic.password,
      );
      return next();
    }
    throw credentialsRefused(
      `${displayHost(c.req.url)} is private: log in with a user name and password`,
    );
  };
}
