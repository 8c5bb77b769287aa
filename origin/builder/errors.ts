// The builder's own failure conditions (Nix's are in origin/nix/errors.ts). Mapped to registry
// errors in map-error.ts; nothing here knows about HTTP.

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
