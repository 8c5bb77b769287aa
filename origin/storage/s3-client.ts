// A minimal S3 API client over fetch, signed with aws4fetch's SigV4 signer: builds object URLs,
// retries per s3-retry.ts, turns S3's XML errors into S3RequestFailed, presigns GET URLs, and
// lists a prefix page by page.

import { AwsV4Signer } from "aws4fetch";
import {
  defaultRetryOptions,
  isRetryableStatus,
  retryDelayMs,
  sleep,
  type RetryOptions,
} from "./s3-retry.ts";
import type { StoredObject } from "./storage.ts";

export interface S3ClientOptions {
  /** e.g. https://<account>.r2.cloudflarestorage.com or http://127.0.0.1:4568 */
  endpoint: string;
  bucket: string;
  /** "auto" for R2. */
  region?: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Address the bucket as a path segment (default) instead of a subdomain. */
  forcePathStyle?: boolean;
  retry?: Partial<RetryOptions>;
  fetch?: typeof fetch;
}

/** Anything fetch accepts as a request body. */
export type RequestBody = NonNullable<RequestInit["body"]>;

export interface S3Request {
  method: "GET" | "HEAD" | "PUT" | "POST" | "DELETE";
  /** Omitted for requests on the bucket itself. */
  key?: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  /** Makes the body afresh for every try: a stream cannot be sent twice. */
  body?: () => RequestBody;
  /** Lowercase hex sha256 of the body; signed, so the server can verify the payload. */
  payloadSha256?: string;
  /** Statuses returned to the caller instead of thrown (e.g. 404 for a lookup). */
  accept?: number[];
  /** Aborts the request (and any retry still to come). */
  signal?: AbortSignal;
}

/** sha256 of the empty payload, for requests without a body. */
const emptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

export class S3RequestFailed extends Error {
  constructor(
    readonly request: string,
    readonly status: number,
    readonly code: string,
    detail: string,
  ) {
    super(`S3 ${request} failed: ${status} ${code}${detail ? `: ${detail}` : ""}`);
    this.name = "S3RequestFailed";
  }
}

export class S3Client {
  readonly description: string;
  readonly bucket: string;
  private readonly base: URL;
  private readonly region: string;
  private readonly credentials: { accessKeyId: string; secretAccessKey: string };
  private readonly retry: RetryOptions;
  private readonly fetch: typeof fetch;
  private readonly signingKeys = new Map<string, ArrayBuffer>();

  constructor(options: S3ClientOptions) {
    const endpoint = new URL(options.endpoint);
    const path = endpoint.pathname.replace(/\/+$/, "");
    if (options.forcePathStyle ?? true) {
      endpoint.pathname = `${path}/${encodeURIComponent(options.bucket)}`;
    } else {
      endpoint.pathname = path;
      endpoint.hostname = `${options.bucket}.${endpoint.hostname}`;
    }
    this.base = endpoint;
    this.bucket = options.bucket;
    this.description = `${endpoint.origin}${endpoint.pathname.replace(/\/$/, "")}`;
    this.region = options.region ?? "auto";
    this.credentials = {
      accessKeyId: options.accessKeyId,
      secretAccessKey: options.secretAccessKey,
    };
    this.retry = { ...defaultRetryOptions, ...options.retry };
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  /** Sends a signed request, retrying 429, 5xx and network errors; throws on other failures. */
  async send(request: S3Request): Promise<Response> {
    const url = this.urlOf(request.key, request.query);
    const name = `${request.method} ${request.key ?? "/"}${request.query ? `?${new URLSearchParams(request.query)}` : ""}`;
    for (let attempt = 1; ; attempt++) {
      request.signal?.throwIfAborted();
      const signed = await new AwsV4Signer({
        method: request.method,
        url: url.toString(),
        headers: {
          ...request.headers,
          "x-amz-content-sha256": request.payloadSha256 ?? emptySha256,
        },
        ...this.credentials,
        service: "s3",
        region: this.region,
        cache: this.signingKeys,
      }).sign();
      let response: Response;
      try {
        response = await this.fetch(signed.url.toString(), {
          method: request.method,
          headers: signed.headers,
          body: request.body?.(),
          duplex: "half",
          signal: request.signal,
        } as RequestInit);
      } catch (error) {
        if (attempt >= this.retry.attempts || request.signal?.aborted) throw error;
        await sleep(retryDelayMs(this.retry, attempt - 1));
        continue;
      }
      if (response.ok || request.accept?.includes(response.status)) return response;
      if (isRetryableStatus(response.status) && attempt < this.retry.attempts) {
        await response.body?.cancel();
        await sleep(retryDelayMs(this.retry, attempt - 1, response.headers.get("retry-after")));
        continue;
      }
      throw await requestFailed(name, response);
    }
  }

  /** A GET URL for `key` that works without credentials for `expiresSeconds`. */
  async presignGet(key: string, expiresSeconds: number): Promise<string> {
    const url = this.urlOf(key, { "X-Amz-Expires": String(expiresSeconds) });
    const signed = await new AwsV4Signer({
      method: "GET",
      url: url.toString(),
      ...this.credentials,
      service: "s3",
      region: this.region,
      cache: this.signingKeys,
      signQuery: true,
    }).sign();
    return signed.url.toString();
  }

  private urlOf(key: string | undefined, query: Record<string, string> | undefined): URL {
    const url = new URL(this.base);
    if (key !== undefined) {
      url.pathname = `${url.pathname.replace(/\/$/, "")}/${key.split("/").map(encodeURIComponent).join("/")}`;
    }
    for (const [name, value] of Object.entries(query ?? {})) url.searchParams.set(name, value);
    return url;
  }
}

/** Reads S3's XML error body (Code, Message) into an error. */
export async function requestFailed(request: string, response: Response): Promise<S3RequestFailed> {
  const text = await response.text().catch(() => "");
  return new S3RequestFailed(
    request,
    response.status,
    xmlText(text, "Code") ?? response.statusText,
    xmlText(text, "Message") ?? "",
  );
}

/** The text of the first `<tag>` in a small XML document (S3 responses are flat enough). */
export function xmlText(xml: string, tag: string): string | undefined {
  return new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml)?.[1];
}

/** Every object under `prefix`, a page of ListObjectsV2 at a time. */
export async function* listObjects(client: S3Client, prefix: string): AsyncIterable<StoredObject> {
  let token: string | null = null;
  do {
    const query: Record<string, string> = { "list-type": "2", prefix, "max-keys": "1000" };
    if (token) query["continuation-token"] = token;
    const response = await client.send({ method: "GET", query });
    const xml = await response.text();
    for (const block of xml.match(/<Contents>[\s\S]*?<\/Contents>/g) ?? []) {
      const key = xmlText(block, "Key");
      if (key === undefined) continue;
      yield {
        key,
        size: Number(xmlText(block, "Size") ?? 0),
        modifiedAt: Date.parse(xmlText(block, "LastModified") ?? "") || 0,
      };
    }
    token =
      xmlText(xml, "IsTruncated") === "true"
        ? (xmlText(xml, "NextContinuationToken") ?? null)
        : null;
  } while (token);
}
