// Blob misses: the origin's body is verified as it streams, teed to the client and into R2 (under
// waitUntil), so the first pull is served at origin speed and the next one from R2. Only verified,
// complete bytes are stored; a corrupt body ends the client's stream with an error instead of its
// last bytes. Concurrent misses in one isolate wait for the first one's copy instead of asking again.

import type { Digest } from "../shared/digest.ts";
import type { ByteRange } from "../shared/range.ts";
import type { BlobRead, RangeResolver } from "../shared/registry-handler.ts";
import { maxSinglePutBytes, type BlobStore } from "./blob-store.ts";
import { logEvent } from "./log.ts";
import type { OriginClient } from "./origin-client.ts";
import { SingleFlight } from "./single-flight.ts";
import { verifyingTransform, withLength } from "./verify.ts";

type Outcome = "stored" | "absent" | "failed";

const blobFlights = new SingleFlight<Outcome>();

export interface BlobBackfillDeps {
  blobs: BlobStore;
  origin: OriginClient;
  waitUntil: (promise: Promise<unknown>) => void;
  repository: string;
}

export class BlobBackfill {
  readonly #deps: BlobBackfillDeps;

  constructor(deps: BlobBackfillDeps) {
    this.#deps = deps;
  }

  async read(
    digest: Digest,
    resolve: RangeResolver,
    method: "GET" | "HEAD",
  ): Promise<BlobRead | null> {
    const { origin, blobs, repository } = this.#deps;
    if (method === "HEAD") {
      const size = await origin.blobSize(repository, digest);
      return size === null ? null : { size, range: resolve(size), body: null };
    }
    const running = blobFlights.current(digest);
    if (running) {
      const outcome = await running;
      if (outcome === "absent") return null;
      const stored = await blobs.read(digest, resolve);
      if (stored) return stored;
    }
    return this.#lead(digest, resolve);
  }

  /** Fetches the whole blob from the origin and stores it; the client gets it or its range. */
  async #lead(digest: Digest, resolve: RangeResolver): Promise<BlobRead | null> {
    const { origin, blobs, repository, waitUntil } = this.#deps;
    let settle!: (outcome: Outcome) => void;
    void blobFlights.run(digest, () => new Promise<Outcome>((done) => (settle = done)));
    try {
      const started = Date.now();
      const blob = await origin.fetchBlob(repository, digest);
      if (!blob) {
        settle("absent");
        return null;
      }
      let range: ByteRange | null = null;
      let rangeError: unknown = null;
      try {
        range = resolve(blob.size);
      } catch (error) {
        rangeError = error;
      }
      const verified = blob.body.pipeThrough(verifyingTransform(digest, blob.size));
      const wholeToClient = range === null && rangeError === null;
      let toStore = verified;
      let toClient: ReadableStream<Uint8Array> | null = null;
      if (wholeToClient) [toClient, toStore] = verified.tee();

      if (blob.size > maxSinglePutBytes) {
        settle("failed");
        void toStore.cancel();
        logEvent("blob too large to store", { digest, size: blob.size });
      } else {
        const storing = blobs.put(digest, toStore, blob.size).then(
          (): Outcome => {
            logEvent("blob backfilled", { digest, size: blob.size, ms: Date.now() - started });
            return "stored";
          },
          (error: unknown): Outcome => {
            logEvent("blob backfill refused", { digest, reason: (error as Error).message });
            return "failed";
          },
        );
        storing.then(settle, () => settle("failed"));
        waitUntil(storing);
      }
      if (rangeError !== null) throw rangeError;
      if (toClient) return { size: blob.size, range: null, body: withLength(toClient, blob.size) };
      // A range on a miss is forwarded to the origin, unverified (the client checks the whole
      // blob); the whole blob is being stored meanwhile, so the next request is served by R2.
      const span = await origin.fetchBlob(repository, digest, range!);
      if (!span) return null;
      return { size: blob.size, range, body: withLength(span.body, range!.end - range!.start + 1) };
    } catch (error) {
      settle("failed");
      throw error;
    }
  }
}
