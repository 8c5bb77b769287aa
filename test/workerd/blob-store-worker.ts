// A test Worker around the real R2BlobStore (worker/blob-store.ts) for worker/blob-store.test.ts:
// reads a blob through an R2 binding that records every R2 call, and answers what it read.

import { isDigest } from "../../shared/digest.ts";
import { RegistryError } from "../../shared/errors.ts";
import { rangeRequest } from "../../shared/range.ts";
import { R2BlobStore } from "../../worker/blob-store.ts";

export interface BlobStoreReadResult {
  /** The R2 calls the read made, by method name. */
  ops: string[];
  found?: boolean;
  size?: number;
  range?: { start: number; end: number } | null;
  hex?: string;
  status?: number;
  contentRange?: string | null;
}

/** `bucket`, with every method call recorded in `ops`. */
function countingBucket(bucket: R2Bucket, ops: string[]): R2Bucket {
  return new Proxy(bucket, {
    get(target, name) {
      const value: unknown = Reflect.get(target, name);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        ops.push(String(name));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

function hexOf(bytes: Uint8Array): string {
  return [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

export default {
  async fetch(request: Request, env: { BLOBS: R2Bucket }): Promise<Response> {
    const ops: string[] = [];
    const digest = new URL(request.url).searchParams.get("digest") ?? "";
    if (!isDigest(digest)) return new Response("bad digest", { status: 400 });
    const store = new R2BlobStore(countingBucket(env.BLOBS, ops));
    let result: BlobStoreReadResult;
    try {
      const blob = await store.read(digest, rangeRequest(request.headers.get("range")));
      if (!blob) {
        result = { ops, found: false };
      } else {
        const bytes = new Uint8Array(await new Response(blob.body).arrayBuffer());
        result = { ops, size: blob.size, range: blob.range, hex: hexOf(bytes) };
      }
    } catch (error) {
      if (!(error instanceof RegistryError)) throw error;
      result = { ops, status: error.status, contentRange: error.headers["Content-Range"] ?? null };
    }
    return Response.json(result);
  },
};
