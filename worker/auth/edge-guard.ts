// A private edge's access control, wired to the shared flow (shared/token-endpoint.ts,
// shared/registry-access.ts): the token endpoint (users from HTPASSWD, failed logins limited by
// LOGIN_LIMITER) and the check of every registry request's token, which the edge does itself,
// with the keys it shares with the origin, before the Cache API, KV, R2 or the origin see it.

import { displayHost, tokenRealm, unauthorized } from "../../shared/auth-challenge.ts";
import { pullAccess } from "../../shared/auth-scope.ts";
import { authorizeRequest, requiredAccess } from "../../shared/registry-access.ts";
import type { LoginLimiter } from "../../shared/login-check.ts";
import type { Route } from "../../shared/routes.ts";
import type { AccessClaims, TokenSigner } from "../../shared/token-claims.ts";
import { handleTokenRequest } from "../../shared/token-endpoint.ts";
import type { Env } from "../env.ts";
import { logEvent } from "../log.ts";
import { readAccessSettings, type EdgeAccessSettings } from "./edge-access.ts";
import { createTokenSigner } from "../../shared/token-signer.ts";
import { edgeUsers } from "./users.ts";

export interface EdgeAccess {
  settings: EdgeAccessSettings;
  signer: TokenSigner;
}

/** Null for a public edge; throws (500, logged) for a misconfigured private one. */
export function edgeAccess(env: Env): EdgeAccess | null {
  const settings = readAccessSettings(env);
  return settings ? { settings, signer: createTokenSigner(settings.tokenKeys) } : null;
}

/** The client's address as Cloudflare (or the local stack's front) saw it. */
export function clientAddress(request: Request): string {
  return request.headers.get("CF-Connecting-IP") ?? "unknown";
}

export async function answerTokenRequest(
  request: Request,
  access: EdgeAccess,
  limiter: LoginLimiter,
): Promise<Response> {
  return handleTokenRequest(request, {
    users: await edgeUsers(access.settings.htpasswd),
    limiter,
    audit: (event, fields) => logEvent(event, fields, "warn"),
    signer: access.signer,
    client: clientAddress(request),
    lifetimeSeconds: access.settings.tokenSeconds,
    anonymousPull: access.settings.anonymousPull,
    host: displayHost(request.url),
  });
}

/** The claims of a registry request's token; throws the 401 challenge without a valid one. */
export function authorizeRoute(
  request: Request,
  route: Route,
  access: EdgeAccess,
): Promise<AccessClaims> {
  return authorizeRequest(
    request,
    requiredAccess(route),
    access.signer,
    () => tokenRealm(request.url, access.settings.publicUrl),
    displayHost(request.url),
  );
}

/** What an anonymous pull of an image nobody built yet gets where only users build. */
export function buildNeedsLogin(request: Request, access: EdgeAccess, name: string, tag: string) {
  const host = displayHost(request.url);
  return unauthorized(
    tokenRealm(request.url, access.settings.publicUrl),
    pullAccess(name),
    `${name}:${tag} is not built yet, and only logged-in users may build new images on ${host}: log in first (docker login ${host})`,
  );
}
