// Storage upkeep endpoints, guarded by the shared secret like the build endpoints: run a
// collection now (what `npm run gc` calls), and the edge's reports of pulls it answered itself
// (so images used only through the edge's caches still count as used; see docs/deploy.md).

import { Hono } from "hono";
import { isDigest, type Digest } from "../../shared/digest.ts";
import { RegistryError } from "../../shared/errors.ts";
import { maxUsageDigests, type UsageReport } from "../../shared/origin-protocol.ts";
import type { ImageService } from "../builder/image-service.ts";
import type { GarbageCollector } from "../gc/scheduler.ts";
import { requireSecret } from "./require-secret.ts";

export function upkeepRoutes(
  images: ImageService,
  collector: GarbageCollector | null,
  secret: string | null,
): Hono {
  const app = new Hono();
  app.use("*", requireSecret(secret));

  app.post("/gc", async (c) => {
    if (!collector) throw new RegistryError("UNSUPPORTED", "this origin has no storage collector");
    return c.json(await collector.collect());
  });

  app.post("/usage", async (c) => {
    const report = (await c.req.json().catch(() => null)) as Partial<UsageReport> | null;
    const digests = report?.digests;
    if (!Array.isArray(digests) || digests.length > maxUsageDigests) {
      throw new RegistryError(
        "BAD_REQUEST",
        `expected a JSON body {"digests": [manifest digests]} with at most ${maxUsageDigests}`,
      );
    }
    const valid = digests.filter(
      (digest): digest is Digest => typeof digest === "string" && isDigest(digest),
    );
    images.touch(valid);
    images.countPulls(valid);
    return c.json({ recorded: valid.length });
  });

  return app;
}
