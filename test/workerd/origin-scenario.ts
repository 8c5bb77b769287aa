// What the in-memory origin of the worker unit tests holds and how it misbehaves, as plain JSON:
// the Node side of a test (test/support/workerd-edge.ts) sends it, the test Worker
// (edge-test-worker.ts) serves it through memory-origin.ts.

import type { ErrorBody } from "../../shared/errors.ts";
import type { TagManifests } from "../../shared/origin-protocol.ts";

/** How one GET of a whole blob is answered (successive GETs take successive entries). */
export type BlobAnswer =
  /** The right bytes. */
  | "whole"
  /** Every byte, one of them flipped. */
  | "corrupt"
  /** Half the bytes, then the stream fails (an origin that dies mid-transfer). */
  | "cut"
  /** Half the bytes, then nothing more (an origin, or a request, that hangs). */
  | "stall";

export interface ScenarioBuild {
  /** The answer of a finished build. */
  result?: TagManifests;
  /** The answer of a failed build instead. */
  failure?: {
    status: number;
    error: ErrorBody["errors"][number];
    /** For a full build queue: when to ask again. */
    retryAfterSeconds?: number;
  };
  /** Status requests answered "pending" before the build ends (-1: never ends). */
  pendingPolls?: number;
  /** Whether the origin has it already (an `onlyIfBuilt` request gets it); default true. */
  built?: boolean;
}

export interface OriginScenario {
  /** The shared secret the origin takes; any other is refused with 401. */
  secret: string;
  /** "name:tag" → its build. */
  builds: Record<string, ScenarioBuild>;
  /** Manifests by digest: media type and bytes (base64). */
  manifests: Record<string, { mediaType: string; base64: string }>;
  /** Blobs by digest (base64), with how successive whole GETs are answered (then "whole"). */
  blobs: Record<string, { base64: string; answers?: BlobAnswer[] }>;
  /** Tag lists by image name. */
  tagLists: Record<string, string[]>;
  /** Bytes per chunk of a blob body, and the pause between chunks (a slow link). */
  chunk?: { bytes: number; delayMs: number };
  /** Every connection fails (the origin is down). */
  down?: boolean;
}

/** One request the edge made to the origin. */
export interface OriginCall {
  method: string;
  path: string;
  range: string | null;
  /** For a build request: whether it may start a build (false: only what is built). */
  build?: "start" | "only if built";
}
