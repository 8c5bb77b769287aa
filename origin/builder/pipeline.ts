// The image build pipeline, top to bottom: look up the packages → realise them → read the
// closure graph → group it into layers → pack and upload each layer (or reuse a cached one) →
// symlink layer → config and manifests → publish. Returns what it built; caching of the
// answer is the caller's business (image-producer.ts, tag-job.ts).

import type { Digest } from "../../shared/digest.ts";
import { nonrootUser, type ImageRequest } from "../../shared/image-name.ts";
import { buildImageConfig, buildManifest, type LayerDescriptor } from "../../shared/manifest.ts";
import { manifestMediaType, type ManifestFlavour } from "../../shared/media-types.ts";
import { blobKey, manifestKey } from "../../shared/storage-keys.ts";
import type { LayerCache } from "../cache/layer-cache.ts";
import type { PublishedImage, PublishedImages } from "../cache/published-images.ts";
import type { Pins } from "../gc/pins.ts";
import { layerKey } from "../layers/layer-key.ts";
import type { Layering } from "../layers/layering.ts";
import { readClosure } from "../nix/closure.ts";
import type { ResolvedSource } from "../nix/source.ts";
import { packFormatVersion } from "../pack/pack-layer.ts";
import { storePathEntries } from "../pack/store-entries.ts";
import { symlinkLayerEntries } from "../pack/symlink-layer.ts";
import type { TarEntrySpec } from "../pack/tar-entry.ts";
import { ignoreBuildEvents, type BuildEvents } from "./build-events.ts";
import { findEnvBinary, imageEnv, imageLabels, layerHistory } from "./image-metadata.ts";
import { mapLimited } from "./limiter.ts";
import { PhaseTimes } from "./phase-times.ts";
import { lookupAndRealise, type NixStageDeps } from "./lookup-and-realise.ts";
import { packAndStore, storeBytes, type StoreObjectsDeps } from "./store-objects.ts";

export { packFormatVersion };

export interface PipelineDeps extends NixStageDeps, StoreObjectsDeps {
  layerCache: LayerCache;
  layering: Layering;
  packConcurrency: number;
  /** Where published images are recorded for the storage collector (and restores). */
  published: PublishedImages;
  /** Pins objects this build stores until it has recorded them, so a collection spares them. */
  pins: Pins;
}

export interface BuiltImage {
  manifests: Record<ManifestFlavour, { digest: Digest; size: number }>;
  config: { digest: Digest; size: number };
  layers: LayerDescriptor[];
  packedLayers: number;
}

export async function buildImage(
  deps: PipelineDeps,
  image: ImageRequest,
  source: ResolvedSource,
  signal?: AbortSignal,
  events: BuildEvents = ignoreBuildEvents,
): Promise<BuiltImage> {
  // The lookup ends where realising starts (the Nix stage says so in its events).
  const times = new PhaseTimes();
  const timed: BuildEvents = (event) => {
    if (event.kind === "phase" && event.phase === "realising") times.end("lookupMs");
    events(event);
  };
  const { lookup, packages, realised } = await lookupAndRealise(deps, image, source, signal, timed);
  times.end("realiseMs");
  const pinned = deps.pins.pin();
  try {
    events({ kind: "phase", phase: "grouping" });
    const graph = await readClosure(deps.runner, realised.outPaths, {
      signal,
      version: deps.nix.version,
    });
    times.end("closureMs");
    const groups = deps.layering.arrange(graph, realised.outPaths);
    times.end("groupingMs");
    let packedLayers = 0;
    // Layers ready (packed and stored, or found), of the store layers and the symlink layer.
    let readyLayers = 0;
    let readyBytes = 0;
    events({ kind: "phase", phase: "packing" });
    events({ kind: "layers", done: 0, total: groups.length + 1, bytes: 0 });
    const ready = (layer: LayerDescriptor): LayerDescriptor => {
      readyBytes += layer.size;
      events({ kind: "layers", done: ++readyLayers, total: groups.length + 1, bytes: readyBytes });
      return layer;
    };
    const cachedOrPacked = async (
      key: string,
      entries: () => Promise<AsyncIterable<TarEntrySpec> | Iterable<TarEntrySpec>>,
      packSignal: AbortSignal | undefined,
    ): Promise<LayerDescriptor> => {
      const cached = deps.layerCache.get(key);
      if (cached) pinned.add(cached.digest);
      if (cached && (await deps.storage.has(blobKey(cached.digest)))) return ready(cached);
      const layer = await packAndStore(deps, await entries(), key, {
        signal: packSignal,
        pinned,
        times,
      });
      deps.layerCache.put(key, layer);
      packedLayers++;
      return ready(layer);
    };
    // Fail-fast: the first layer that fails stops the others, and this waits for all of them
    // before the GC roots are released (finally, below).
    const storeLayers = await mapLimited(
      groups,
      deps.packConcurrency,
      (group, _index, packSignal) =>
        cachedOrPacked(
          layerKey(group.paths, packFormatVersion),
          async () => storePathEntries(group.paths),
          packSignal,
        ),
      signal,
    );

    const installed = lookup.found.flatMap((pkg) => pkg.outPaths);
    const preferred = installed.filter((path) => path === lookup.coreutils);
    const envBinary = await findEnvBinary([...preferred, ...installed]);
    // The symlink layer is a function of the installed outputs (immutable store paths), and of
    // the user for a nonroot image (a root image's key is what it was before nonroot existed).
    const nonroot = image.nonroot;
    const symlinkKey = layerKey(
      [...new Set(installed)]
        .map((path) => `symlink:${path}`)
        .concat(`env:${envBinary ?? ""}`, ...(nonroot ? ["user:nonroot"] : [])),
      packFormatVersion,
    );
    const symlinkLayer = await cachedOrPacked(
      symlinkKey,
      () => symlinkLayerEntries(installed, { envBinary, nonroot }),
      signal,
    );
    const layers = [...storeLayers, symlinkLayer];
    times.end("layersMs");

    events({ kind: "phase", phase: "uploading" });
    const configBytes = buildImageConfig({
      arch: image.arch,
      layers,
      env: imageEnv(packages, { nonroot }),
      cmd: packages.includes("bashInteractive") ? ["bash"] : undefined,
      labels: imageLabels(image, source, lookup.found, packages),
      history: layerHistory(
        groups.map((group) => group.paths),
        installed,
      ),
      // Numeric, so that Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
      ...(nonroot
        ? { user: `${nonrootUser.uid}:${nonrootUser.gid}`, workingDir: nonrootUser.home }
        : {}),
    });
    const config = await storeBytes(deps.storage, configBytes, blobKey, "application/json", pinned);
    const manifests = {} as BuiltImage["manifests"];
    const manifestBytes: PublishedImage["manifests"] = [];
    for (const flavour of ["docker", "oci"] as const) {
      const bytes = buildManifest(flavour, config, layers);
      const mediaType = manifestMediaType[flavour];
      manifests[flavour] = await storeBytes(deps.storage, bytes, manifestKey, mediaType, pinned);
      manifestBytes.push({ digest: manifests[flavour].digest, mediaType, bytes });
    }
    times.end("manifestsMs");
    // Last, once every object is stored: what the collector and restores know of this image.
    events({ kind: "phase", phase: "publishing" });
    deps.published.record({
      name: image.name,
      revision: source.revision,
      manifests: manifestBytes,
      config: { digest: config.digest, bytes: configBytes },
      layers: [
        ...storeLayers.map((layer, index) => ({
          ...layer,
          recipe: { kind: "store" as const, paths: groups[index]!.paths },
        })),
        {
          ...symlinkLayer,
          recipe: {
            kind: "symlink" as const,
            installed,
            envBinary,
            ...(nonroot ? { nonroot } : {}),
          },
        },
      ],
      packFormat: packFormatVersion,
      gzipLevel: deps.gzipLevel,
    });
    deps.layering.record(groups);
    times.end("publishingMs");
    deps.log.info("build phases", {
      image: image.name,
      paths: graph.length,
      layers: layers.length,
      packedLayers,
      ...times.fields(),
    });
    return { manifests, config, layers, packedLayers };
  } finally {
    pinned.release();
    await realised.release();
  }
}
