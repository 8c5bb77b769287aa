// The image build pipeline, top to bottom: look up the packages → realise them → read the
// closure graph → group it into layers → pack and upload each layer (or reuse a cached one) →
// symlink layer → config and manifests → publish. Returns what it built; caching of the
// answer is the caller's business (image-producer.ts, tag-job.ts).

import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { access, rm } from "node:fs/promises";
import { digestHex, sha256Digest, type Digest } from "../../shared/digest.ts";
import { nixSystems, nonrootUser, type ImageRequest } from "../../shared/image-name.ts";
import { buildImageConfig, buildManifest, type LayerDescriptor } from "../../shared/manifest.ts";
import { manifestMediaType, type ManifestFlavour } from "../../shared/media-types.ts";
import { blobKey, manifestKey } from "../../shared/storage-keys.ts";
import type { LayerCache } from "../cache/layer-cache.ts";
import type { PublishedImage, PublishedImages } from "../cache/published-images.ts";
import type { Pins } from "../gc/pins.ts";
import { layerKey } from "../layers/layer-key.ts";
import type { Layering } from "../layers/layering.ts";
import type { Logger } from "../log.ts";
import { PackagesNotFound } from "../nix/lookup-errors.ts";
import { DerivationsGone } from "../nix/errors.ts";
import { explainFailures, type ExplainSlots } from "../nix/explain.ts";
import type { PackageSetPolicy } from "../nix/expression.ts";
import { lookupPackages, type PackageLookup } from "../nix/packages.ts";
import { readClosure } from "../nix/closure.ts";
import { realisePackages, type RealisedPackages } from "../nix/realise.ts";
import type { NixRunner } from "../nix/runner.ts";
import type { ResolvedSource } from "../nix/source.ts";
import type { NixInstallation } from "../nix/version.ts";
import { packFormatVersion, packLayer } from "../pack/pack-layer.ts";
import { storePathEntries } from "../pack/store-entries.ts";
import { symlinkLayerEntries } from "../pack/symlink-layer.ts";
import type { TarEntrySpec } from "../pack/tar-entry.ts";
import type { BlobWriter } from "../storage/storage.ts";
import { mapLimited } from "./limiter.ts";
import { noProgress, type ProgressSink } from "./build-progress.ts";
import { imageLabels, layerHistory } from "./image-metadata.ts";
import { PhaseTimes } from "./phase-times.ts";

export { packFormatVersion };

export interface PipelineDeps {
  runner: NixRunner;
  storage: BlobWriter & { readonly scratchDir: string };
  layerCache: LayerCache;
  layering: Layering;
  packConcurrency: number;
  gzipLevel: number;
  nixTimeoutMs: number;
  gcRootDir: string;
  log: Logger;
  /** Where published images are recorded for the storage collector (and restores). */
  published: PublishedImages;
  /** Pins objects this build stores until it has recorded them, so a collection spares them. */
  pins: Pins;
  /** The Nix in use (detectNix at start): its version picks command flags. */
  nix: NixInstallation;
  /** What the package set's config allows (NIXERY_ALLOW_UNFREE, …). */
  policy: PackageSetPolicy;
  /** Bounds the Nix processes that explain unevaluable names, across all builds. */
  explainSlots: ExplainSlots;
  /** Close names for names the set lacks ("did you mean …?"), from the package index. */
  packageHints?: (
    source: ResolvedSource,
    names: readonly string[],
  ) => { suggestions: Record<string, string[]>; building: boolean };
}

export interface BuiltImage {
  manifests: Record<ManifestFlavour, { digest: Digest; size: number }>;
  config: { digest: Digest; size: number };
  layers: LayerDescriptor[];
  packedLayers: number;
}

/**
 * Looks the image's packages up (all missing or unevaluable names reported together) and builds
 * the derivations that lookup evaluated. The .drv files an evaluation writes are not GC roots, so
 * if a garbage collection removed one in between, the lookup runs once more.
 */
export async function lookupAndRealise(
  deps: PipelineDeps,
  image: ImageRequest,
  source: ResolvedSource,
  signal: AbortSignal | undefined,
  progress: ProgressSink = noProgress,
  times: PhaseTimes = new PhaseTimes(),
): Promise<{ lookup: PackageLookup; packages: string[]; realised: RealisedPackages }> {
  const system = nixSystems[image.arch];
  for (let attempt = 1; ; attempt++) {
    const lookup = await lookupPackages(deps.runner, source, image.packages, system, {
      signal,
      policy: deps.policy,
    });
    const missing = lookup.missing.filter((name) => !image.optional.includes(name));
    const failed = lookup.failed.filter((pkg) => !image.optional.includes(pkg.name));
    if (missing.length > 0 || failed.length > 0) {
      const unevaluable = await explainFailures(deps.runner, source, failed, system, {
        signal,
        policy: deps.policy,
        slots: deps.explainSlots,
        onNixOutput: (name, output) =>
          deps.log.info("package does not evaluate", {
            image: image.name,
            package: name,
            nixOutput: output.join("\n"),
          }),
      });
      const hints = missing.length > 0 ? deps.packageHints?.(source, missing) : undefined;
      throw new PackagesNotFound(missing, unevaluable, {
        found: lookup.found.map((pkg) => pkg.name).filter((name) => !image.optional.includes(name)),
        suggestions: hints?.suggestions,
        indexBuilding: hints?.building,
      });
    }
    // Implicit packages (cacert, iana-etc) that the set lacks are left out rather than failing:
    // what is still missing or unevaluable here is only those.
    const packages = lookup.found.map((pkg) => pkg.name);
    const leftOut = [...lookup.missing, ...lookup.failed.map((pkg) => pkg.name)];
    deps.log.info("build started", {
      image: image.name,
      revision: source.revision,
      ...(leftOut.length > 0 ? { leftOut } : {}),
    });
    times.end("lookupMs");
    progress.phase("realising");
    try {
      const realised = await realisePackages(deps.runner, lookup.found, {
        onOutput: (line) => progress.nixLine(line),
        timeoutMs: deps.nixTimeoutMs,
        rootDir: deps.gcRootDir,
        signal,
        substituters: deps.nix.substituters,
        implicit: image.optional,
      });
      times.end("realiseMs");
      return { lookup, packages, realised };
    } catch (error) {
      if (!(error instanceof DerivationsGone) || attempt > 1) throw error;
      deps.log.warn("derivation collected before the build; evaluating again", {
        image: image.name,
        derivation: error.derivation,
      });
    }
  }
}

export async function buildImage(
  deps: PipelineDeps,
  image: ImageRequest,
  source: ResolvedSource,
  signal?: AbortSignal,
  progress: ProgressSink = noProgress,
): Promise<BuiltImage> {
  const times = new PhaseTimes();
  const { lookup, packages, realised } = await lookupAndRealise(
    deps,
    image,
    source,
    signal,
    progress,
    times,
  );
  const pinned = deps.pins.pin();
  try {
    progress.phase("grouping");
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
    progress.phase("packing");
    progress.layers(0, groups.length + 1, 0);
    const ready = (layer: LayerDescriptor): LayerDescriptor => {
      readyBytes += layer.size;
      progress.layers(++readyLayers, groups.length + 1, readyBytes);
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
      const layer = await packAndStore(deps, await entries(), key, packSignal, pinned, times);
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

    progress.phase("uploading");
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
    progress.phase("publishing");
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

async function packAndStore(
  deps: PipelineDeps,
  entries: AsyncIterable<TarEntrySpec> | Iterable<TarEntrySpec>,
  label: string,
  signal: AbortSignal | undefined,
  pinned?: { add(digest: string): void },
  times?: PhaseTimes,
): Promise<LayerDescriptor> {
  const started = performance.now();
  const scratch = join(deps.storage.scratchDir, `${randomUUID()}.tar.gz`);
  // Where uploading takes time (S3/R2), parts go up while later ones are packed.
  const upload = deps.storage.startFileUpload?.(scratch, signal);
  let packed: Awaited<ReturnType<typeof packLayer>>;
  try {
    packed = await packLayer(entries, scratch, {
      gzipLevel: deps.gzipLevel,
      signal,
      onWritten: upload && ((chunk) => upload.written(chunk)),
    });
    signal?.throwIfAborted();
  } catch (error) {
    await upload?.abort();
    await rm(scratch, { force: true });
    throw error;
  }
  const packedAt = performance.now();
  const layer = { digest: packed.digest, diffId: packed.diffId, size: packed.size };
  pinned?.add(layer.digest);
  // The backend skips the upload when the blob is already stored (and removes the scratch file).
  const options = {
    sha256: digestHex(layer.digest),
    contentType: "application/octet-stream",
    signal,
  };
  if (upload) await upload.finish(blobKey(layer.digest), options);
  else await deps.storage.putFile(blobKey(layer.digest), scratch, options);
  const storedAt = performance.now();
  times?.add("packMs", packedAt - started);
  times?.add("storeMs", storedAt - packedAt);
  deps.log.info("layer stored", {
    layer: label,
    digest: layer.digest,
    ms: Math.round(storedAt - started),
    packMs: Math.round(packedAt - started),
  });
  return layer;
}

async function storeBytes(
  storage: BlobWriter,
  bytes: Uint8Array<ArrayBuffer>,
  keyOf: (digest: Digest) => string,
  contentType: string | undefined,
  pinned?: { add(digest: string): void },
): Promise<{ digest: Digest; size: number }> {
  const digest = await sha256Digest(bytes);
  pinned?.add(digest);
  await storage.putBytes(keyOf(digest), bytes, { sha256: digestHex(digest), contentType });
  return { digest, size: bytes.byteLength };
}

/**
 * The config's Env. PATH is always set: containerd (and so Kubernetes) adds its default PATH only
 * when Env is empty, so without it `ctr run IMAGE figlet` cannot find figlet. The symlink layer
 * merges the packages' bin and sbin into /bin and /sbin; the FHS directories come too, in the
 * order Docker and containerd use by default. A nonroot image sets HOME itself rather than rely on
 * the runtime looking the user's home up in /etc/passwd.
 */
export function imageEnv(
  packages: readonly string[],
  options: { nonroot?: boolean } = {},
): string[] {
  const env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"];
  if (options.nonroot) env.push(`HOME=${nonrootUser.home}`);
  if (packages.includes("cacert")) env.push("SSL_CERT_FILE=/etc/ssl/certs/ca-bundle.crt");
  return env;
}

/** `/usr/bin/env` points at the first requested output that has bin/env (coreutils first). */
async function findEnvBinary(candidates: string[]): Promise<string | null> {
  for (const candidate of candidates) {
    const path = `${candidate}/bin/env`;
    try {
      await access(path);
      return path;
    } catch {
      continue;
    }
  }
  return null;
}
