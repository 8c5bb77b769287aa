// One tag job from start to end: resolve the revision the tag names, produce the answer
// (image-producer.ts), cache it under the tag's key, and record the outcome for the start page.
// Returns the answer with what the job built (for the service's counters). Every failure is
// logged and recorded with the tag before it is thrown on.

import type { Architecture, ImageRequest } from "../../shared/image-name.ts";
import type { TagManifests } from "../../shared/origin-protocol.ts";
import type { BuildOutcome, BuildRecords } from "../cache/build-records.ts";
import type { ManifestCache } from "../cache/manifest-cache.ts";
import type { Logger } from "../log.ts";
import { nixOutputOf } from "../nix/errors.ts";
import type { ResolvedSource } from "../nix/source.ts";
import type { BuildEvents } from "./build-events.ts";
import { OriginStopping } from "./errors.ts";
import type { ImageProducer } from "./image-producer.ts";
import type { RevisionMemo } from "./revision-memo.ts";
import { outcomeOf, toTagManifests } from "./tag-entry.ts";

export interface TagJobDeps {
  revisions: RevisionMemo;
  producer: ImageProducer;
  manifests: ManifestCache;
  builds: BuildRecords;
  log: Logger;
  signal?: AbortSignal;
  now: () => number;
}

export interface TagJob {
  image: ImageRequest;
  /** The platforms the image is built for (several: an index over them). */
  platforms: readonly Architecture[];
  tag: string;
  /** The tag's cache key (the job's id). */
  key: string;
  /** Where the job's events go (the job table's tracker of this job). */
  events?: BuildEvents;
}

export interface TagJobDone {
  answer: TagManifests;
  layersPacked: number;
  layersReused: number;
}

export async function runTagJob(deps: TagJobDeps, job: TagJob): Promise<TagJobDone> {
  const { image, tag } = job;
  const started = deps.now();
  const record = (revision: string | null, outcome: BuildOutcome, error: string | null) =>
    deps.builds.record({
      image: image.name,
      tag,
      revision,
      outcome,
      durationMs: deps.now() - started,
      error,
      finishedAt: deps.now(),
    });
  let source: ResolvedSource | null = null;
  try {
    job.events?.({ kind: "phase", phase: "resolving" });
    source = await deps.revisions.get(tag);
    const produced = await deps.producer.produce(image, job.platforms, tag, source, job.events);
    const { entry } = produced;
    // Every manifest is stored by now (buildImage and publishIndex store before returning).
    deps.manifests.put(job.key, entry);
    if (produced.built) record(source.revision, "success", null);
    deps.log.info(produced.built ? "build finished" : "revision already built", {
      image: image.name,
      tag,
      digest: (entry.index ?? entry).manifests.docker.digest,
      ...produced.fields,
      ms: deps.now() - started,
    });
    return {
      answer: toTagManifests(image, tag, entry, deps.now()),
      layersPacked: produced.layersPacked,
      layersReused: produced.layersReused,
    };
  } catch (error) {
    const failure = deps.signal?.aborted === true ? new OriginStopping() : error;
    const outcome = outcomeOf(failure);
    const message = error instanceof Error ? error.message : String(error);
    record(source?.revision ?? null, outcome, message);
    deps.log.warn("build failed", {
      image: image.name,
      tag,
      outcome,
      error: message,
      ...nixOutputOf(error),
    });
    throw failure;
  }
}
