// The edge's web pages: the shared handler (shared/web/web-handler.ts) over data the edge asks its
// origin for, through the origin client with the secret, one request at a time (nothing is kept
// across requests; a progress request is held open at the origin, and ends there when the
// browser goes away, as its abort signal reaches the fetch). A private edge asks for a user's
// login first. The package search (/api/packages) has its own route (worker/package-api.ts).

import type { MiddlewareHandler } from "hono";
import { errorCodes, RegistryError, type ErrorCode } from "../shared/errors.ts";
import { requestTarget } from "../shared/request-target.ts";
import type { ImageRef } from "../shared/web/page-path.ts";
import {
  handleWebRequest,
  isPublicAsset,
  isWebRequest,
  type WebData,
} from "../shared/web/web-handler.ts";
import {
  failedBuildState,
  type BuildState,
  type ImageDetails,
  type InstanceInfo,
} from "../shared/web/web-types.ts";
import { clientAddress } from "./auth/edge-guard.ts";
import { requireLogin } from "./auth/page-login.ts";
import { clientKey, rateLimitedBuilds } from "./cold-build-admission.ts";
import type { EdgeAppEnv, OriginReader } from "./edge-deps.ts";
import { OriginUnreachable } from "./origin-errors.ts";

export function edgeWebRoutes<Bindings extends object>(): MiddlewareHandler<EdgeAppEnv<Bindings>> {
  return async (c, next) => {
    const deps = c.get("deps");
    const request = c.req.raw;
    const { pathname } = requestTarget(request.url);
    if (!isWebRequest(request, pathname)) return next();
    const access = deps.access();
    let user: string | null = null;
    if (access && !isPublicAsset(pathname)) {
      user = await requireLogin(request, access, deps.loginLimiter);
    }
    const origin = deps.origin;
    const client = clientAddress(request);
    const data = edgeWebData(origin, client, request, deps.buildLimiter, user);
    const response = await handleWebRequest(request, pathname, data, {
      role: "edge",
      isPrivate: access !== null,
    });
    return response ?? next();
  };
}

function edgeWebData(
  origin: OriginReader,
  client: string,
  request: Request,
  buildLimiter: RateLimit | null,
  user: string | null,
): WebData {
  const ask = async (path: string, method = "GET", signal?: AbortSignal): Promise<Response> => {
    try {
      return await origin.web(path, { method, client, signal });
    } catch (error) {
      if (error instanceof OriginUnreachable || error instanceof RegistryError) {
        throw new RegistryError(
          "ORIGIN_UNAVAILABLE",
          "the image builder is unreachable; try again later",
        );
      }
      throw error;
    }
  };
  const refPath = (ref: ImageRef) => `${ref.name}:${ref.tag}`;

  return {
    async instance(): Promise<InstanceInfo> {
      const response = await ask("/api/instance").catch(() => null);
      if (response?.ok) return (await response.json()) as InstanceInfo;
      await response?.body?.cancel();
      // The start page still says how to pull what this edge has cached.
      return {
        source: {
          label: "unknown: the image builder is unreachable now",
          url: null,
          revision: null,
          revisionUrl: null,
        },
        platforms: ["linux/amd64"],
        hostPlatform: "linux/amd64",
        builds: { running: 0, queued: 0 },
        recent: [],
        popular: [],
      };
    },
    async image(ref): Promise<ImageDetails | null> {
      const response = await ask(`/api/images/${refPath(ref)}`);
      if (response.status === 404) {
        const body = (await response.json().catch(() => null)) as {
          errors?: { code?: string }[];
        } | null;
        if (body?.errors?.[0]?.code === "MANIFEST_UNKNOWN") return null;
        throw originError(404, body);
      }
      return (await answer(response)) as ImageDetails;
    },
    async startBuild(ref): Promise<BuildState> {
      // A page that starts a build counts as a cold build of this client, as a pull would.
      const admission = rateLimitedBuilds(buildLimiter, clientKey(request, user));
      if (admission && !(await admission.mayBuild(true))) {
        return failedBuildState(ref, admission.refused(ref.name, ref.tag));
      }
      return (await answer(await ask(`/api/builds/${refPath(ref)}`, "POST"))) as BuildState;
    },
    async buildState(ref, after, signal): Promise<BuildState> {
      const path = `/api/builds/${refPath(ref)}?after=${after}`;
      return (await answer(await ask(path, "GET", signal))) as BuildState;
    },
  };
}

async function answer(response: Response): Promise<unknown> {
  const body: unknown = await response.json().catch(() => null);
  if (!response.ok) throw originError(response.status, body);
  return body;
}

/** The origin's registry error, passed on as it is (its code and message are for the client). */
function originError(status: number, body: unknown): RegistryError {
  const entry = (body as { errors?: { code?: string; message?: string }[] } | null)?.errors?.[0];
  const code =
    entry?.code && entry.code in errorCodes ? (entry.code as ErrorCode) : "ORIGIN_UNAVAILABLE";
  return new RegistryError(code, entry?.message, undefined, { status: entry ? status : 503 });
}
