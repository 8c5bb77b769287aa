// The build endpoints the edge Worker talks to (shared/origin-protocol.ts): start or join a build,
// then long-poll its status in requests that each answer well inside Cloudflare's 100 s limit.
// Jobs live in the image service; this file only parses, calls and serialises.

import { Hono } from "hono";
import { RegistryError } from "../../shared/errors.ts";
import { assertValidTag, parseImageName } from "../../shared/image-name.ts";
import {
  maxWaitSeconds,
  originPaths,
  type BuildRequest,
  type BuildStatus,
  type ExistingBuildStatus,
  type TagManifests,
} from "../../shared/origin-protocol.ts";
import type { BuildJob, BuildJobs } from "../builder/images.ts";
import type { JobState } from "../builder/job-table.ts";
import { requestNotes } from "../http/access-log.ts";
import { cacheOutcome } from "../registry-source.ts";
import { mapOriginError } from "../registry-errors.ts";

export function buildRoutes(images: BuildJobs): Hono {
  const app = new Hono();

  app.post(originPaths.builds.template, async (c) => {
    const request = (await c.req.json().catch(() => null)) as Partial<BuildRequest> | null;
    if (!request || typeof request.name !== "string" || typeof request.tag !== "string") {
      throw new RegistryError("BAD_REQUEST", 'expected a JSON body {"name": …, "tag": …}');
    }
    // A request that names no valid image is refused like any bad request (NAME_INVALID,
    // TAG_INVALID); a status answers only for a build that was asked for properly.
    const image = parseImageName(request.name);
    assertValidTag(request.tag);
    const id = images.jobId(image, request.tag);
    try {
      if (request.onlyIfBuilt === true) {
        const existing = await images.existing(image, request.tag);
        if (!existing) return c.json({ id, state: "unbuilt" } satisfies ExistingBuildStatus);
        return c.json(await statusAfter(existing, request.waitSeconds));
      }
      const job = await images.start(image, request.tag);
      const notes = requestNotes(c.env);
      if (notes) notes.cache = cacheOutcome(job);
      return c.json(await statusAfter(job, request.waitSeconds));
    } catch (error) {
      // A build that cannot start now (a full queue, a restart) is a failed build's status.
      return c.json(failedStatus(id, error));
    }
  });

  app.get(originPaths.build.template, async (c) => {
    const id = c.req.param("id");
    const job = images.findJob(id);
    if (!job) throw new RegistryError("NOT_FOUND", `no build with id ${id.slice(0, 80)}`);
    return c.json(await statusAfter(job, c.req.query("wait")));
  });

  return app;
}

/** The job's status once it settles or `waitSeconds` (at most maxWaitSeconds) pass. */
async function statusAfter(job: BuildJob, waitSeconds: unknown): Promise<BuildStatus> {
  const seconds = Math.min(Math.max(Number(waitSeconds) || 0, 0), maxWaitSeconds);
  return toStatus(job.id, await job.waitFor(seconds * 1000));
}

function toStatus(id: string, state: JobState<TagManifests>): BuildStatus {
  if (state.state === "done") return { id, state: "done", result: state.result };
  if (state.state === "failed") return failedStatus(id, state.error);
  return { id, state: "pending" };
}

function failedStatus(id: string, error: unknown): BuildStatus {
  const registryError = mapOriginError(error);
  const [entry] = registryError.toBody().errors;
  const retryAfter = Number(registryError.headers["Retry-After"]);
  return {
    id,
    state: "failed",
    status: registryError.status,
    error: entry!,
    ...(retryAfter > 0 ? { retryAfterSeconds: retryAfter } : {}),
  };
}
