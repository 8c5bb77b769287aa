// The edge's client for the origin: starts a build and long-polls it in short requests (each well
// inside the 100 s a proxied request may stay silent), and reads manifests and blobs by digest.
// Every request carries the shared secret. Failures to reach the origin are OriginUnreachable.

import type { Digest } from "../shared/digest.ts";
import { RegistryError } from "../shared/errors.ts";
import { manifestMediaTypeOf } from "../shared/manifest.ts";
import { mediaTypes } from "../shared/media-types.ts";
import {
  originPaths,
  type BuildRequest,
  type ExistingBuildStatus,
  type TagManifests,
  type UsageReport,
} from "../shared/origin-protocol.ts";
import { contentRange, type ByteRange } from "../shared/range.ts";
import type { StoredManifest } from "../shared/registry-handler.ts";
import { registryPaths } from "../shared/routes.ts";
import type { OriginBlob, OriginReader } from "./edge-deps.ts";
import type { EdgeSettings } from "./env.ts";
import { errorFromResponse, failedBuildError, OriginUnreachable } from "./origin-errors.ts";
import { verifyBytes } from "./verify.ts";

const manifestAccept = [
  mediaTypes.dockerManifest,
  mediaTypes.ociManifest,
  mediaTypes.ociIndex,
].join(", ");

export class OriginClient implements OriginReader {
  readonly #readSettings: () => EdgeSettings;
  #cachedSettings: EdgeSettings | null = null;
  readonly #now: () => number;
  readonly #fetch: typeof fetch;

  /**
   * Settings are read on first use, so a misconfigured origin (say, a bad ORIGIN_URL) fails
   * only the requests that need the origin; cached images keep pulling. `fetcher` reaches the
   * origin (the unit tests pass an in-memory origin).
   */
  constructor(
    settings: () => EdgeSettings,
    now: () => number = Date.now,
    fetcher: typeof fetch = (input, init) => fetch(input, init),
  ) {
    this.#readSettings = settings;
    this.#now = now;
    this.#fetch = fetcher;
  }

  get #settings(): EdgeSettings {
    this.#cachedSettings ??= this.#readSettings();
    return this.#cachedSettings;
  }

  async #request(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.#settings.originSecret)
      headers.set("Authorization", `Bearer ${this.#settings.originSecret}`);
    let response: Response;
    try {
      const url = `${this.#settings.originUrl}${path}`;
      response = await fetchOnce(this.#fetch, url, { ...init, headers, redirect: "manual" });
      const location = response.headers.get("Location");
      if (response.status >= 300 && response.status < 400 && location) {
        // The origin may redirect blob reads to storage (a presigned URL): follow it without
        // the shared secret, which is for the origin only.
        await response.body?.cancel();
        headers.delete("Authorization");
        response = await this.#fetch(new URL(location, url), { ...init, headers });
      }
    } catch (error) {
      throw new OriginUnreachable(`cannot connect to the origin: ${(error as Error).message}`);
    }
    if (response.status === 401 || response.status === 403) {
      await response.body?.cancel();
      throw new OriginUnreachable(`the origin refused the edge's credentials (${response.status})`);
    }
    if (response.status === 502 || response.status === 504 || response.status >= 520) {
      await response.body?.cancel();
      throw new OriginUnreachable(`the origin's gateway answered ${response.status}`);
    }
    return response;
  }

  /**
   * A request for the web pages' data (/api/…): forwarded with the secret, answered as the
   * origin answers it. `client` names the browser it is for (the origin shares out its
   * waiting requests per client); `signal` ends the request when the browser goes away.
   */
  async web(
    path: string,
    init: { method?: string; client: string; signal?: AbortSignal },
  ): Promise<Response> {
    return this.#request(path, {
      method: init.method ?? "GET",
      headers: { Accept: "application/json", "X-Nixery-Client": init.client },
      signal: init.signal,
    });
  }

  /**
   * A GET of the origin's package API (path and query as the client sent them): the origin's
   * JSON answer, or its registry error thrown as one.
   */
  async packageApi(pathAndQuery: string, init: { signal?: AbortSignal } = {}): Promise<Response> {
    const response = await this.#request(pathAndQuery, {
      headers: { Accept: "application/json" },
      signal: init.signal,
    });
    const text = await response.text();
    if (!response.ok) throw errorFromResponse(response, text);
    return new Response(text, {
      status: 200,
      headers: { "Content-Type": "application/json", "Cache-Control": "no-store" },
    });
  }

  /** Tells the origin's storage collector that these manifests were served from the edge. */
  async reportUsage(digests: readonly string[]): Promise<void> {
    const body: UsageReport = { digests: [...digests] };
    const response = await this.#request(originPaths.usage.path(), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    await response.body?.cancel();
    if (!response.ok)
      throw new OriginUnreachable(`the origin refused a usage report (${response.status})`);
  }

  /** Builds (or finds) the image for name:tag, polling until done or the deadline passes. */
  async resolveTag(name: string, tag: string): Promise<TagManifests> {
    const { pollSeconds } = this.#settings;
    const result = await this.#settle({ name, tag, waitSeconds: pollSeconds });
    if (!result) throw new OriginUnreachable("the origin answered a build request with unbuilt");
    return result;
  }

  /**
   * The image for name:tag if the origin has it or is building it (then polled like a build),
   * never starting a build; null when there is none.
   */
  async existingTag(name: string, tag: string): Promise<TagManifests | null> {
    const { pollSeconds } = this.#settings;
    return this.#settle({ name, tag, waitSeconds: pollSeconds, onlyIfBuilt: true });
  }

  async #settle(start: BuildRequest): Promise<TagManifests | null> {
    const { name, tag } = start;
    const { pollSeconds, deadlineSeconds } = this.#settings;
    const deadline = this.#now() + deadlineSeconds * 1000;
    let status = await this.#buildStatus(originPaths.builds.path(), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(start),
    });
    while (status.state === "pending") {
      const left = Math.ceil((deadline - this.#now()) / 1000);
      if (left <= 0) {
        throw new RegistryError(
          "ORIGIN_UNAVAILABLE",
          `the image ${name}:${tag} is still being built after ${deadlineSeconds} s; the build continues, try again later`,
          undefined,
          { headers: { "Retry-After": "30" } },
        );
      }
      const wait = Math.min(pollSeconds, left);
      status = await this.#buildStatus(
        `${originPaths.build.path({ id: status.id })}?wait=${wait}`,
        {},
        start,
      );
    }
    if (status.state === "failed") throw failedBuildError(status);
    if (status.state === "unbuilt") return null;
    return status.result;
  }

  async #buildStatus(
    path: string,
    init: RequestInit,
    restart?: BuildRequest,
  ): Promise<ExistingBuildStatus> {
    const response = await this.#request(path, init);
    if (response.status === 404 && restart) {
      // The origin forgot the build (restarted): start it again.
      await response.body?.cancel();
      return this.#buildStatus(originPaths.builds.path(), {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(restart),
      });
    }
    const text = await response.text();
    if (!response.ok) throw errorFromResponse(response, text);
    const status = JSON.parse(text) as ExistingBuildStatus;
    if (
      !status ||
      typeof status.id !== "string" ||
      !["pending", "done", "failed", "unbuilt"].includes(status.state)
    ) {
      throw new OriginUnreachable(
        `the origin sent an unreadable build status (${text.slice(0, 100)})`,
      );
    }
    return status;
  }

  /** A manifest by digest, verified against it; null when the origin does not know it. */
  async fetchManifest(name: string, digest: Digest): Promise<StoredManifest | null> {
    const response = await this.#request(registryPaths.manifest.path({ name, reference: digest }), {
      headers: { Accept: manifestAccept },
    });
    if (response.status === 404) {
      await response.body?.cancel();
      return null;
    }
    if (!response.ok) throw errorFromResponse(response, await response.text());
    const bytes = new Uint8Array(await response.arrayBuffer());
    await verifyBytes(bytes, digest);
    const mediaType = response.headers.get("Content-Type") ?? manifestMediaTypeOf(bytes);
    if (!mediaType)
      throw new OriginUnreachable(`the origin sent manifest ${digest} without a media type`);
    return { digest, mediaType, bytes };
  }

  /** A blob's size (HEAD); null when the origin does not know it. */
  /** The origin's tag list for an image (all pages: the origin answers unpaginated). */
  async listTags(name: string): Promise<string[]> {
    const response = await this.#request(registryPaths.tags.path({ name }));
    const text = await response.text();
    if (!response.ok) throw errorFromResponse(response, text);
    const body = JSON.parse(text) as { tags?: unknown };
    if (!Array.isArray(body.tags) || !body.tags.every((tag) => typeof tag === "string")) {
      throw new OriginUnreachable("the origin's tag list is malformed");
    }
    return body.tags;
  }

  async blobSize(name: string, digest: Digest): Promise<number | null> {
    const response = await this.#request(registryPaths.blob.path({ name, digest }), {
      method: "HEAD",
    });
    if (response.status === 404) return null;
    if (!response.ok) throw errorFromResponse(response, "");
    return lengthOf(response);
  }

  /** A blob (or a span of it, unverified); null when the origin does not know it. */
  async fetchBlob(name: string, digest: Digest, range?: ByteRange): Promise<OriginBlob | null> {
    const headers: Record<string, string> = {};
    if (range) headers.Range = `bytes=${range.start}-${range.end}`;
    const response = await this.#request(registryPaths.blob.path({ name, digest }), { headers });
    if (response.status === 404) {
      await response.body?.cancel();
      return null;
    }
    const expected = range ? 206 : 200;
    if (response.status !== expected || !response.body) {
      throw errorFromResponse(response, await response.text());
    }
    const size = lengthOf(response);
    if (range) {
      const total = Number(response.headers.get("Content-Range")?.split("/")[1]);
      if (response.headers.get("Content-Range") !== contentRange(range, total)) {
        await response.body.cancel();
        throw new OriginUnreachable(
          `the origin answered range ${contentRange(range, total)} wrongly`,
        );
      }
      return { size: total, body: response.body };
    }
    return { size, body: response.body };
  }
}

/**
 * fetch, tried a second time when the first attempt fails at the network level: a kept-alive
 * connection that the origin closed as it was reused (Node closes idle ones after 5 s) fails
 * without the origin having seen the request. Every request to the origin is idempotent (reads,
 * and starting a build that joins a running one), so asking again is safe.
 */
async function fetchOnce(fetcher: typeof fetch, url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetcher(url, init);
  } catch {
    return fetcher(url, init);
  }
}

function lengthOf(response: Response): number {
  const size = Number(response.headers.get("Content-Length"));
  if (response.headers.get("Content-Length") === null || !Number.isSafeInteger(size) || size < 0) {
    throw new OriginUnreachable("the origin sent a blob without Content-Length");
  }
  return size;
}
