// Which platforms an image is built for, and the id of the job that answers it. A name with
// `arm64/` chose its one platform; any other is built for every platform in NIXERY_PLATFORMS (an
// index over them when there are several), and clients that take no index get the host
// platform's manifests. The job id is the tag's cache key for that choice, so it is stable.

import type { Architecture, ImageRequest } from "../../shared/image-name.ts";
import { platformName } from "../../shared/platform.ts";
import { indexTagCacheKey, tagCacheKey } from "./cache-key.ts";
import { platformRequest } from "./platform-builds.ts";

export class PlatformPlan {
  readonly platforms: readonly Architecture[];
  /** The platform whose image clients that take no index get. */
  readonly hostArch: Architecture;

  /** By default amd64 only; a host platform that is not built falls back to the first listed. */
  constructor(platforms: readonly Architecture[] | undefined, hostArch: Architecture | undefined) {
    this.platforms = platforms?.length ? platforms : ["amd64"];
    this.hostArch = hostArch && this.platforms.includes(hostArch) ? hostArch : this.platforms[0]!;
  }

  /** The platforms `image` is built for: the one its name chose, or the configured ones. */
  platformsOf(image: ImageRequest): readonly Architecture[] {
    return image.archNamed ? [image.arch] : this.platforms;
  }

  /** The build job id for an image and tag (stable: the tag's cache key). */
  jobId(sourceId: string, image: ImageRequest, tag: string): string {
    const platforms = this.platformsOf(image);
    return platforms.length === 1
      ? tagCacheKey(sourceId, tag, platformRequest(image, platforms[0]!))
      : indexTagCacheKey(sourceId, tag, platforms, image);
  }

  /** e.g. ["linux/amd64", "linux/arm64"]. */
  get names(): string[] {
    return this.platforms.map(platformName);
  }

  get hostName(): string {
    return platformName(this.hostArch);
  }
}
