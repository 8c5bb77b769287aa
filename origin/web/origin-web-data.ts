// The origin's data for the shared web pages (shared/web/web-handler.ts): the instance from the
// image service, images from the published-image records and storage, and builds from the job
// table, whose job for an image is the very one a registry client's pull of it joins.

import type { Digest } from "../../shared/digest.ts";
import {
  metaPackages,
  parseImageName,
  shellPackages,
  type ImageRequest,
} from "../../shared/image-name.ts";
import { platformName } from "../../shared/platform.ts";
import type { TagManifests } from "../../shared/origin-protocol.ts";
import { manifestKey, blobKey } from "../../shared/storage-keys.ts";
import type { ImageRef } from "../../shared/web/page-path.ts";
import { publicSource } from "../../shared/web/source-display.ts";
import type { WebData } from "../../shared/web/web-handler.ts";
import {
  failedBuildState,
  type BuildState,
  type ImageDetails,
  type InstanceInfo,
  type LayerInfo,
  type PackageInfo,
  type PlatformImage,
} from "../../shared/web/web-types.ts";
import type { BuildJob, Images } from "../builder/images.ts";
import { splitDerivationName } from "../builder/image-metadata.ts";
import { mapOriginError } from "../registry-errors.ts";
import type { ImageCatalog } from "../cache/image-catalog.ts";
import type { BlobReader } from "../storage/storage.ts";
import type { WaitBudget } from "./wait-budget.ts";

export interface OriginWebDeps {
  images: Images;
  catalog: ImageCatalog;
  storage: BlobReader;
  waits: WaitBudget;
  /** Longest a progress request is held waiting for a change. */
  waitMs: number;
  /** A package's description from the revision's ready package index, or null (origin/index). */
  describe?: (revision: string | null, attr: string) => string | null;
}

interface ManifestJson {
  config?: { digest?: string };
  layers?: { digest?: string; size?: number }[];
}

interface ConfigJson {
  architecture?: string;
  config?: { Env?: string[]; Cmd?: string[]; User?: string; Labels?: Record<string, string> };
}

/** The data of one request (`client` keys its share of the wait budget). */
export function originWebData(deps: OriginWebDeps, client: string): WebData {
  const { images } = deps;
  const parse = (ref: ImageRef): ImageRequest => parseImageName(ref.name);

  async function instance(): Promise<InstanceInfo> {
    const revision = await images.currentRevision().catch(() => null);
    images.flushPulls();
    return {
      source: publicSource(images.sourceId, revision),
      platforms: images.platformNames,
      hostPlatform: images.hostPlatformName,
      builds: images.stats,
      recent: deps.catalog.recent(10),
      popular: deps.catalog.popular(10),
    };
  }

  async function readJson<T>(digest: Digest, key: (digest: Digest) => string): Promise<T | null> {
    const bytes = deps.catalog.keptBytes(digest) ?? (await deps.storage.readBytes(key(digest)));
    if (!bytes) return null;
    try {
      return JSON.parse(new TextDecoder().decode(bytes)) as T;
    } catch {
      return null;
    }
  }

  async function platformImage(
    name: string,
    platform: string,
    manifests: { docker: Digest; oci: Digest },
  ): Promise<PlatformImage | null> {
    const manifest = await readJson<ManifestJson>(manifests.oci, manifestKey);
    const configDigest = manifest?.config?.digest as Digest | undefined;
    if (!manifest || !configDigest) return null;
    const config = await readJson<ConfigJson>(configDigest, blobKey);
    const layers: LayerInfo[] = (manifest.layers ?? []).map((layer) => {
      const digest = String(layer.digest) as Digest;
      const record = deps.catalog.layer(digest, name);
      const recipe = record.recipe;
      return {
        digest,
        size: Number(layer.size) || 0,
        paths: recipe ? (recipe.kind === "store" ? recipe.paths : recipe.installed) : [],
        kind: recipe?.kind ?? "unknown",
        sharedWith: record.sharedWith,
      };
    });
    const body = config?.config ?? {};
    return {
      platform,
      manifests,
      layers,
      download: layers.reduce((sum, layer) => sum + layer.size, 0),
      config: {
        env: body.Env ?? [],
        cmd: body.Cmd ?? null,
        user: body.User || null,
        labels: body.Labels ?? {},
      },
    };
  }

  async function details(image: ImageRequest, result: TagManifests): Promise<ImageDetails> {
    const entries = result.index
      ? result.index.platforms.map((p) => ({ platform: p.platform, manifests: p.manifests }))
      : [{ platform: platformName(image.arch), manifests: result.manifests }];
    const platforms = (
      await Promise.all(
        entries.map((entry) =>
          platformImage(
            entry.platform === "linux/arm64" && !image.archNamed
              ? `arm64/${image.name}`
              : image.name,
            entry.platform,
            {
              docker: entry.manifests.docker.digest,
              oci: entry.manifests.oci.digest,
            },
          ),
        ),
      )
    ).filter((platform): platform is PlatformImage => platform !== null);
    const labels = platforms[0]?.config.labels ?? {};
    return {
      name: image.name,
      tag: result.tag,
      revision: result.revision,
      source: publicSource(images.sourceId, result.revision),
      components: image.name.split("/"),
      packages: packagesOf(image, labels).map((pkg) => {
        const description = deps.describe?.(result.revision, pkg.attr);
        return description === null || description === undefined ? pkg : { ...pkg, description };
      }),
      index: result.index
        ? {
            docker: result.index.manifests.docker.digest,
            oci: result.index.manifests.oci.digest,
          }
        : null,
      platforms,
    };
  }

  async function image(ref: ImageRef): Promise<ImageDetails | null> {
    const request = parse(ref);
    const job = await images.existing(request, ref.tag).catch((error: unknown) => {
      throw mapOriginError(error);
    });
    const status = job?.status;
    if (status?.state !== "done") return null;
    return details(request, status.result);
  }

  function stateOf(ref: ImageRef, job: BuildJob): BuildState {
    const status = job.status;
    const base = { name: ref.name, tag: ref.tag, progress: job.progress.snapshot };
    if (status.state === "running") return { ...base, state: "running", error: null };
    if (status.state === "done") return { ...base, state: "done", error: null };
    return failedBuildState(ref, mapOriginError(status.error), base.progress);
  }

  async function startBuild(ref: ImageRef): Promise<BuildState> {
    const request = parse(ref);
    try {
      return stateOf(ref, await images.start(request, ref.tag));
    } catch (error) {
      return failedBuildState(ref, mapOriginError(error));
    }
  }

  async function buildState(
    ref: ImageRef,
    after: number,
    signal: AbortSignal,
  ): Promise<BuildState> {
    const request = parse(ref);
    const job =
      images.findJob(images.jobId(request, ref.tag)) ??
      (await images.existing(request, ref.tag).catch(() => null));
    if (!job)
      return { name: ref.name, tag: ref.tag, state: "unbuilt", progress: null, error: null };
    if (job.status.state === "running") {
      const release = deps.waits.take(client);
      if (release) {
        try {
          await job.progress.waitForChange(after, deps.waitMs, signal);
        } finally {
          release();
        }
      }
    }
    return stateOf(ref, job);
  }

  return { instance, image, startBuild, buildState };
}

/** The packages of the image as its config names them, with how each came to be in it. */
function packagesOf(image: ImageRequest, labels: Record<string, string>): PackageInfo[] {
  const names = new Map<string, string>();
  for (const pair of (labels["dev.nixery.derivations"] ?? "").split(" ")) {
    const eq = pair.indexOf("=");
    if (eq > 0) names.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  const built = (labels["dev.nixery.packages"] ?? "").split(" ").filter(Boolean);
  const attrs = names.size > 0 ? [...names.keys()] : built.length > 0 ? built : image.packages;
  const named = new Set(
    image.name
      .split("/")
      .filter((c) => !(metaPackages as readonly string[]).includes(c))
      .map((c) => c.toLowerCase()),
  );
  return attrs.map((attr) => {
    const drvName = names.get(attr) ?? null;
    const via: PackageInfo["via"] = named.has(attr.toLowerCase().replace(/^_(?=[0-9])/, ""))
      ? "named"
      : (shellPackages as readonly string[]).includes(attr) &&
          image.name.split("/").includes("shell")
        ? "shell"
        : image.optional.includes(attr)
          ? "implicit"
          : "named";
    return { attr, drvName, version: drvName ? splitDerivationName(drvName).version : null, via };
  });
}
