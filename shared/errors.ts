// The one table of registry error codes and the one place that writes the error envelope.
// Handlers throw RegistryError; each app's onError turns it into `{"errors":[…]}` JSON.
// A failed or timed-out image build is reported as MANIFEST_UNKNOWN (404) with the reason in the
// message: skopeo, podman and Docker show a 404's message to the user but hide 5xx bodies, so
// this is the only channel through which "builder for …drv failed: <log>" reaches them.

import { uncachedControl } from "./cache-policy.ts";

export const errorCodes = {
  BLOB_UNKNOWN: { status: 404, message: "blob unknown to registry" },
  MANIFEST_UNKNOWN: { status: 404, message: "manifest unknown" },
  NAME_INVALID: { status: 400, message: "invalid repository name" },
  NAME_UNKNOWN: { status: 404, message: "repository name not known to registry" },
  TAG_INVALID: { status: 400, message: "manifest tag did not match URI" },
  DIGEST_INVALID: { status: 400, message: "provided digest did not match uploaded content" },
  RANGE_INVALID: { status: 416, message: "requested range not satisfiable" },
  UNAUTHORIZED: { status: 401, message: "authentication required" },
  DENIED: { status: 403, message: "requested access to the resource is denied" },
  UNSUPPORTED: { status: 405, message: "the operation is unsupported" },
  BAD_REQUEST: { status: 400, message: "the request is malformed" },
  METHOD_UNKNOWN: { status: 405, message: "method not allowed for this route" },
  NOT_FOUND: { status: 404, message: "no such route" },
  REQUEST_TIMEOUT: { status: 408, message: "the request was not received in time" },
  EXPECTATION_FAILED: { status: 417, message: "the expectation cannot be met" },
  HEADERS_TOO_LARGE: { status: 431, message: "the request's header fields are too large" },
  NOT_IMPLEMENTED: { status: 501, message: "the request method is not implemented" },
  TOOMANYREQUESTS: { status: 429, message: "too many requests" },
  ORIGIN_UNAVAILABLE: { status: 503, message: "the image builder is unreachable" },
  SOURCE_UNAVAILABLE: { status: 503, message: "the package source is unreachable" },
  INTERNAL: { status: 500, message: "internal error" },
  UNAVAILABLE: { status: 503, message: "the service is not answering; try again later" },
  VERSION_NOT_SUPPORTED: { status: 505, message: "this HTTP version is not supported" },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof errorCodes;

export interface ErrorBody {
  errors: { code: string; message: string; detail?: unknown }[];
}

export class RegistryError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: unknown;
  readonly headers: Record<string, string>;

  constructor(
    code: ErrorCode,
    message?: string,
    detail?: unknown,
    options: { status?: number; headers?: Record<string, string> } = {},
  ) {
    super(message ?? errorCodes[code].message);
    this.name = "RegistryError";
    this.code = code;
    this.status = options.status ?? errorCodes[code].status;
    this.detail = detail;
    this.headers = options.headers ?? {};
  }

  toBody(): ErrorBody {
    const entry: ErrorBody["errors"][number] = { code: this.code, message: this.message };
    if (this.detail !== undefined) entry.detail = this.detail;
    return { errors: [entry] };
  }
}

/** Turns anything thrown into a registry error; unknown errors become INTERNAL without leaking text. */
export function toRegistryError(error: unknown): RegistryError {
  if (error instanceof RegistryError) return error;
  return new RegistryError("INTERNAL");
}

/** The single writer of error responses: JSON envelope, exact Content-Type, never cached. */
export function errorResponse(error: RegistryError, method = "GET"): Response {
  const headers = new Headers(error.headers);
  headers.set("Content-Type", "application/json");
  headers.set("Cache-Control", uncachedControl);
  headers.set("Docker-Distribution-API-Version", "registry/2.0");
  const body = JSON.stringify(error.toBody());
  headers.set("Content-Length", String(new TextEncoder().encode(body).byteLength));
  return new Response(method === "HEAD" ? null : body, { status: error.status, headers });
}
