// The build endpoints the edge Worker talks to (shared/origin-protocol.ts): start or join a build,
// then long-poll its status in requests that each answer well inside Cloudflare's 100 s limit.
// Jobs live in the image service; this file only parses, calls and serialises.

import { Hono } from "hono";
import { RegistryError } from "../../shared/errors.ts";
import { assertValidTag, parseImageName } from "../../shared/image-name.ts";
import {
  maxWaitSeconds,
  type BuildRequest,
  type BuildStatus,
  type ExistingBuildStatus,
  type TagManifests,
} from "../../shared/origin-protocol.ts";
import type { BuildJob, ImageService } from "../builder/image-service.ts";
import type { JobState } from "../builder/job-table.ts";
import { toBuildRegistryError } from "../builder/map-error.ts";
import { requestNotes } from "../http/access-log.ts";
import { requireSecret } from "./require-secret.ts";

export function buildRoutes(images: ImageService, secret: string | null): Hono {
  const app = new Hono();
  app.use("*", requireSecret(secret));

  app.post("/builds", async (c) => {
    const request = (await c.req.json().catch(() => null)) as Partial<BuildRequest> | null;
    if (!request || typeof request.name !== "string" || typeof request.tag !== "string") {
      throw new RegistryError("BAD_REQUEST", 'expected a JSON body {"name": …, "tag": …}');
    }
    let id = "";
    try {
      const image = parseImageName(request.name);
      assertValidTag(request.tag);
      id = images.jobId(image, request.tag);
      if (request.onlyIfBuilt === true) {
        const existing = await images.existing(image, request.tag);
        if (!existing) return c.json({ id, state: "unbuilt" } satisfies ExistingBuildStatus);
        return c.json(await statusAfter(existing, request.waitSeconds));
      }
      const job = await images.start(image, request.tag);
      const notes = requestNotes(c.env);
      if (notes)
        notes.cache = { done: "hit", failed: "failed", running: "build" }[job.status.state];
      return c.json(await statusAfter(job, request.waitSeconds));
    } catch (error) {
      return c.json(failedStatus(id, error));
    }
  });

  app.get("/builds/:id", async (c) => {
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
  const registryError = toBuildRegistryError(error);
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
