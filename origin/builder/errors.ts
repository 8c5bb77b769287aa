// The builder's own failure conditions (Nix's are in origin/nix/errors.ts). Mapped to registry
// errors at the app's edge (registry-errors.ts); nothing here knows about HTTP.

import type { Digest } from "../../shared/digest.ts";

/** Too many image builds are waiting for a build slot; the request may be retried later. */
export class BuildQueueFull extends Error {
  override readonly name = "BuildQueueFull";
  readonly queued: number;
  readonly retryAfterSeconds: number;

  constructor(queued: number, retryAfterSeconds = 60) {
    super(`${queued} image builds are already waiting for a build slot`);
    this.queued = queued;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** The origin is shutting down; builds in progress were stopped and none are started. */
export class OriginStopping extends Error {
  override readonly name = "OriginStopping";

  constructor() {
    super("the image builder is restarting");
  }
}

/**
 * One or more platforms of a name built for several failed, so there is no index: a partial one
 * is never served. The first failure (in NIXERY_PLATFORMS order) decides the registry error.
 */
export class PlatformBuildFailed extends Error {
  override readonly name = "PlatformBuildFailed";

  constructor(readonly failures: readonly { platform: string; error: unknown }[]) {
    const [first] = failures;
    const reason = first?.error instanceof Error ? first.error.message : String(first?.error);
    super(`the ${first?.platform} image failed: ${reason}`);
  }

  get platforms(): string[] {
    return this.failures.map((failure) => failure.platform);
  }
}

/** Whether a build error says nothing about the image (a full queue, a restart): never remembered. */
export function isTransient(error: unknown): boolean {
  if (error instanceof BuildQueueFull || error instanceof OriginStopping) return true;
  return error instanceof PlatformBuildFailed && error.failures.some((f) => isTransient(f.error));
}

/** A layer whose store paths are gone and cannot be realised again. */
export class LayerNotRestorable extends Error {
  override readonly name = "LayerNotRestorable";

  constructor(
    readonly digest: Digest,
    reason: string,
  ) {
    super(`layer ${digest} was collected and cannot be made again: ${reason}`);
  }
}
