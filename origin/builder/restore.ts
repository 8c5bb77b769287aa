// Makes a collected object again, with the same digest: a manifest or config is written back from
// the bytes the database keeps; a layer is packed again from its recorded store paths, which are
// realised first if the Nix store has collected them (from a substituter, or by evaluating and
// building the image that held the layer again, at its recorded revision). The packed bytes are
// verified against the digest before they are stored, so a layer that can no longer be made
// byte for byte (another zlib version) is refused rather than served under a wrong digest. Layers
// of older packers are packed their way again (pack-v1: one zlib stream; pack-v2: blocks with
// zlib's memLevel 8; gzipModeFor).

import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { digestHex, type Digest } from "../../shared/digest.ts";
import { parseImageName } from "../../shared/image-name.ts";
import { blobKey, manifestKey } from "../../shared/storage-keys.ts";
import type { LayerRebuild, PublishedImages } from "../cache/published-images.ts";
import type { Logger } from "../log.ts";
import type { NixRunner } from "../nix/runner.ts";
import { resolveSource, type SourceConfig } from "../nix/source.ts";
import { gzipModeFor } from "../pack/pack-layer.ts";
import { storePathEntries } from "../pack/store-entries.ts";
import { symlinkLayerEntries } from "../pack/symlink-layer.ts";
import { lookupAndRealise } from "./lookup-and-realise.ts";
import type { PipelineDeps } from "./pipeline.ts";
import { LayerNotRestorable } from "./errors.ts";
import { packAndStore } from "./store-objects.ts";

export interface RestoreDeps {
  source: SourceConfig;
  published: PublishedImages;
  /** The pipeline's Nix, storage and GC roots: a restore writes what a build would. */
  pipeline: PipelineDeps;
  runner: NixRunner;
  log: Logger;
}

/** What was restored: a kept manifest, a kept blob (a config), a repacked layer, or nothing. */
export type Restored = "manifest" | "blob" | "layer" | null;

export async function restoreObject(
  deps: RestoreDeps,
  digest: Digest,
  signal?: AbortSignal,
): Promise<Restored> {
  const kept = deps.published.keptObject(digest);
  if (kept) {
    const isManifest = kept.mediaType.includes("manifest") || kept.mediaType.includes("index");
    const key = isManifest ? manifestKey(digest) : blobKey(digest);
    await deps.pipeline.storage.putBytes(key, kept.bytes, {
      sha256: digestHex(digest),
      contentType: kept.mediaType,
      signal,
    });
    deps.log.info("object restored", { digest, kind: isManifest ? "manifest" : "blob" });
    return isManifest ? "manifest" : "blob";
  }
  const rebuild = deps.published.layerRebuild(digest);
  if (!rebuild) return null;
  const gzip = gzipModeFor(rebuild.packFormat);
  if (!gzip) {
    throw new LayerNotRestorable(
      digest,
      `it was packed by ${rebuild.packFormat}, which this origin's packer cannot imitate`,
    );
  }
  const started = Date.now();
  const roots = await realiseLayerPaths(deps, rebuild, signal);
  try {
    const entries =
      rebuild.recipe.kind === "store"
        ? storePathEntries(rebuild.recipe.paths)
        : await symlinkLayerEntries(rebuild.recipe.installed, {
            envBinary: rebuild.recipe.envBinary,
            nonroot: rebuild.recipe.nonroot === true,
          });
    await packAndStore(
      { storage: deps.pipeline.storage, gzipLevel: rebuild.gzipLevel, log: deps.log },
      entries,
      `restore of ${digest}`,
      {
        signal,
        gzip,
        beforeStore: (packed) => {
          if (packed.digest === digest) return;
          throw new LayerNotRestorable(
            digest,
            `packing it again gave ${packed.digest} (recorded with ${rebuild.packFormat})`,
          );
        },
      },
    );
    deps.log.info("object restored", { digest, kind: "layer", ms: Date.now() - started });
    return "layer";
  } finally {
    await roots.release();
  }
}

/** The store paths a layer's recipe reads. */
function pathsOf(rebuild: LayerRebuild): string[] {
  return rebuild.recipe.kind === "store" ? rebuild.recipe.paths : rebuild.recipe.installed;
}

/**
 * Makes sure the layer's store paths are valid and rooted while it is packed: they may still be
 * in the store; else a substituter may have them; else an image that held the layer is built
 * again at its recorded revision (which writes the same paths when the source is pinned).
 */
async function realiseLayerPaths(
  deps: RestoreDeps,
  rebuild: LayerRebuild,
  signal: AbortSignal | undefined,
): Promise<{ release(): Promise<void> }> {
  const paths = pathsOf(rebuild);
  await mkdir(deps.pipeline.gcRootDir, { recursive: true });
  const rootDir = await mkdtemp(join(deps.pipeline.gcRootDir, "restore-"));
  const release = () => rm(rootDir, { recursive: true, force: true });
  const realised = await deps.runner(
    "nix-store",
    ["--realise", ...paths, "--add-root", join(rootDir, "result"), "--indirect"],
    { timeoutMs: deps.pipeline.nixTimeoutMs, signal },
  );
  if (realised.exitCode === 0) return { release };

  const reasons: string[] = [];
  for (const image of rebuild.images) {
    try {
      const source = await resolveSource(deps.source, image.revision ?? "latest", deps.runner, {
        signal,
      });
      const { realised: built } = await lookupAndRealise(
        deps.pipeline,
        parseImageName(image.name),
        source,
        signal,
      );
      const check = await deps.runner("nix-store", ["--check-validity", ...paths], {
        timeoutMs: 60_000,
        signal,
      });
      if (check.exitCode === 0) {
        // The image's roots now hold every path the layer needs.
        await release();
        return built;
      }
      await built.release();
      reasons.push(
        `${image.name} at ${image.revision ?? "the current source"} no longer holds them`,
      );
    } catch (error) {
      reasons.push(`${image.name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  await release();
  throw new LayerNotRestorable(
    rebuild.digest,
    `its store paths are gone${reasons.length > 0 ? ` (${reasons.join("; ")})` : ""}`,
  );
}
