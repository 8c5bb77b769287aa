// The origin's one map from what a handler throws to the registry error a client gets: used by
// the app's onError for every response, and by the build endpoints for a failed build's status.
// Domain errors (nix/errors.ts, builder/errors.ts, builder/restore.ts) stay typed until here; their
// messages are written for the client already, so this adds the code and the machine-readable
// detail, never a prefix of its own. Anything else is INTERNAL, its text kept from the client.

import { RegistryError, toRegistryError } from "../shared/errors.ts";
import { typedPackageName } from "../shared/image-name.ts";
import { PackagesNotFound } from "./nix/lookup-errors.ts";
import { NixBuildFailed } from "./nix/build-errors.ts";
import {
  NixCommandFailed,
  NixBuildTimedOut,
  NixEvalFailed,
  SourceUnavailable,
  TagNotFound,
} from "./nix/errors.ts";
import { redactCredentials } from "./nix/source.ts";
import {
  BuildQueueFull,
  LayerNotRestorable,
  OriginStopping,
  PlatformBuildFailed,
} from "./builder/errors.ts";

export function mapOriginError(error: unknown): RegistryError {
  if (error instanceof RegistryError) return error;
  if (error instanceof PlatformBuildFailed) return platformFailure(error);
  if (error instanceof BuildQueueFull) {
    return new RegistryError(
      "TOOMANYREQUESTS",
      `${error.queued} image builds are already waiting; try again in a minute`,
      undefined,
      { headers: { "Retry-After": String(error.retryAfterSeconds) } },
    );
  }
  if (error instanceof OriginStopping) {
    return new RegistryError("ORIGIN_UNAVAILABLE", "the image builder is restarting; try again", {
      reason: "origin_stopping",
    });
  }
  if (error instanceof LayerNotRestorable) {
    return new RegistryError(
      "BLOB_UNKNOWN",
      `${error.message}; pull the image again by its tag to get a fresh build`,
      { reason: "not_restorable", digest: error.digest },
    );
  }
  if (error instanceof PackagesNotFound) {
    return new RegistryError("MANIFEST_UNKNOWN", error.message, {
      missing: error.missing.map(typedPackageName),
      ...(Object.keys(error.suggestions).length > 0
        ? {
            suggestions: Object.fromEntries(
              Object.entries(error.suggestions).map(([name, close]) => [
                typedPackageName(name),
                close,
              ]),
            ),
          }
        : {}),
      ...(error.unevaluable.length > 0
        ? {
            unevaluable: error.unevaluable.map((pkg) => ({
              ...pkg,
              name: typedPackageName(pkg.name),
            })),
          }
        : {}),
    });
  }
  if (error instanceof TagNotFound) {
    return new RegistryError("MANIFEST_UNKNOWN", error.message, { reason: "tag_not_found" });
  }
  if (error instanceof NixBuildFailed) {
    return new RegistryError("MANIFEST_UNKNOWN", error.message, {
      reason: error.download ? "download_failed" : "build_failed",
      packages: error.packages.map(typedPackageName),
      derivation: error.derivation,
      log: error.logTail,
    });
  }
  if (error instanceof NixBuildTimedOut) {
    return new RegistryError("MANIFEST_UNKNOWN", error.message, {
      reason: "build_timeout",
      seconds: error.seconds,
    });
  }
  if (error instanceof NixEvalFailed) {
    // A git source's URL may carry a token, and fetchGit's errors name the URL.
    return new RegistryError("MANIFEST_UNKNOWN", redactCredentials(error.message), {
      reason: "eval_failed",
    });
  }
  if (error instanceof NixCommandFailed) {
    return new RegistryError("INTERNAL", `${error.message} (see the origin's log)`);
  }
  if (error instanceof SourceUnavailable) {
    return new RegistryError("SOURCE_UNAVAILABLE", redactCredentials(error.message), {
      reason: "source_unavailable",
    });
  }
  return toRegistryError(error);
}

/**
 * A platform of an index failed: the first failed platform's error, its message saying which
 * platform and that no index is served without it; the detail lists every failed platform.
 */
function platformFailure(error: PlatformBuildFailed): RegistryError {
  const [first] = error.failures;
  const inner = mapOriginError(first?.error);
  const detail =
    inner.detail && typeof inner.detail === "object"
      ? (inner.detail as Record<string, unknown>)
      : {};
  return new RegistryError(
    inner.code,
    `the ${first?.platform} image failed, and an index is served only when every platform builds: ${inner.message}`,
    { ...detail, platform: first?.platform, failedPlatforms: error.platforms },
    { status: inner.status, headers: inner.headers },
  );
}
