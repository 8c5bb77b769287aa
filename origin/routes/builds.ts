// The build endpoints the edge Worker talks to (shared/origin-protocol.ts): start or join a build,
// then long-poll its status in requests that each answer well inside Cloudflare's 100 s limit.

import { Hono } from "hono";
import { RegistryError } from "../../shared/errors.ts";
import { assertValidTag, parseImageName } from "../../shared/image-name.ts";
import {
  maxWaitSeconds,
  type BuildRequest,
  type BuildStatus,
  type TagManifests,
} from "../../shared/origin-protocol.ts";
import type { ImageService } from "../builder/image-service.ts";
import { toBuildRegistryError } from "../builder/map-error.ts";
import { requireSecret } from "./require-secret.ts";

interface Job {
  promise: Promise<TagManifests>;
  settled: BuildStatus | null;
  settledAt: number;
}

/** How long a finished job's status stays available to pollers. */
const keepFinishedMs = 10 * 60 * 1000;

export function buildRoutes(images: ImageService, secret: string | null): Hono {
  const jobs = new Map<string, Job>();
  const app = new Hono();
  app.use("*", requireSecret(secret));

  function track(id: string, promise: Promise<TagManifests>): Job {
    const existing = jobs.get(id);
    if (existing && !existing.settled) return existing;
    const job: Job = { promise, settled: null, settledAt: 0 };
    promise.then(
      (result) => settle(job, { id, state: "done", result }),
      (error: unknown) => settle(job, failedStatus(id, error)),
    );
    jobs.set(id, job);
    return job;
  }

  function settle(job: Job, status: BuildStatus): void {
    job.settled = status;
    job.settledAt = Date.now();
    for (const [id, other] of jobs) {
      if (other.settled && Date.now() - other.settledAt > keepFinishedMs) jobs.delete(id);
    }
  }

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
      const cached = await images.cached(image, request.tag);
      if (cached) return c.json({ id, state: "done", result: cached } satisfies BuildStatus);
      const job = track(id, images.resolve(image, request.tag));
      return c.json(await waitForJob(id, job, request.waitSeconds));
    } catch (error) {
      return c.json(failedStatus(id, error));
    }
  });

  app.get("/builds/:id", async (c) => {
    const id = c.req.param("id");
    const job = jobs.get(id);
    if (!job) throw new RegistryError("NOT_FOUND", `no build with id ${id.slice(0, 80)}`);
    return c.json(await waitForJob(id, job, Number(c.req.query("wait") ?? 0)));
  });

  return app;
}

async function waitForJob(
  id: string,
  job: Job,
  waitSeconds: number | undefined,
): Promise<BuildStatus> {
  if (job.settled) return job.settled;
  const seconds = Math.min(Math.max(Number(waitSeconds) || 0, 0), maxWaitSeconds);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"pending">((resolve) => {
    timer = setTimeout(() => resolve("pending"), seconds * 1000);
  });
  const outcome = await Promise.race([
    job.promise.then(
      () => "settled" as const,
      () => "settled" as const,
    ),
    timeout,
  ]);
  clearTimeout(timer);
  // The job's own settle handler runs first (it was attached before this one).
  if (outcome === "settled" && job.settled) return job.settled;
  return { id, state: "pending" };
}

function failedStatus(id: string, error: unknown): BuildStatus {
  const registryError = toBuildRegistryError(error);
  const [entry] = registryError.toBody().errors;
  return { id, state: "failed", status: registryError.status, error: entry! };
}
