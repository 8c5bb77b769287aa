// Storage upkeep endpoints, behind the shared secret like the build endpoints (app.ts guards
// both): run a collection now (what `npm run gc` calls), and the edge's reports of pulls it
// answered itself (so images used only through the edge's caches still count as used; see
// docs/deploy.md).

import { Hono } from "hono";
import { isDigest, type Digest } from "../../shared/digest.ts";
import { RegistryError } from "../../shared/errors.ts";
import { maxUsageDigests, originPaths, type UsageReport } from "../../shared/origin-protocol.ts";
import type { ImageAnswers } from "../builder/images.ts";
import type { GarbageCollector } from "../gc/scheduler.ts";

export function upkeepRoutes(
  images: Pick<ImageAnswers, "touch">,
  collector: GarbageCollector,
): Hono {
  const app = new Hono();

  app.post(originPaths.gc.template, async (c) => {
    return c.json(await collector.collect());
  });

  app.post(originPaths.usage.template, async (c) => {
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
    return c.json({ recorded: valid.length });
  });

  return app;
}
