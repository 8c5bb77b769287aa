// The package index's JSON API (shared/package-api.ts): search by words and look up one
// attribute, for the tag's revision. A request never waits for the index: it starts the
// revision's build if needed and answers with what is indexed so far ("index": "building").

import { Hono, type MiddlewareHandler } from "hono";
import { RegistryError } from "../../shared/errors.ts";
import { assertValidTag } from "../../shared/image-name.ts";
import {
  packageSearchLimit,
  type PackageLookupResponse,
  type PackageSearchResponse,
} from "../../shared/package-api.ts";
import { mapOriginError } from "../registry-errors.ts";
import type { IndexView, PackageIndex } from "../index/package-index.ts";

const maxQueryLength = 200;
const noStore = { "Cache-Control": "no-store" };

export function packagesApiRoutes(index: PackageIndex, guard: MiddlewareHandler): Hono {
  const app = new Hono();
  app.use("*", guard);

  app.get("/", async (c) => {
    const q = c.req.query("q") ?? "";
    if (q.length > maxQueryLength) {
      throw new RegistryError(
        "BAD_REQUEST",
        `the query is longer than ${maxQueryLength} characters`,
      );
    }
    const limit = parseLimit(c.req.query("limit"));
    const view = await viewOf(index, c.req.query("tag"));
    const results = q.trim() === "" ? [] : index.search(view.revision, q, limit);
    return c.json(
      { revision: view.revision, index: view.state, results } satisfies PackageSearchResponse,
      200,
      noStore,
    );
  });

  app.get("/:attr{.+}", async (c) => {
    const attr = c.req.param("attr");
    if (attr.length > maxQueryLength || !/^[A-Za-z0-9_.+'-]+$/.test(attr)) {
      throw new RegistryError(
        "BAD_REQUEST",
        `"${attr.slice(0, 60)}" is not an attribute path (letters, digits and . _ - + ' only)`,
      );
    }
    const view = await viewOf(index, c.req.query("tag"));
    const found = index.get(view.revision, attr);
    if (!found && view.state !== "building") {
      const suggestions = index.suggest(view.revision, attr);
      const unindexed = index.unindexed(view.revision, attr);
      const hint = unindexed
        ? ` (${unindexed.set} does not evaluate in this revision: ${unindexed.error})`
        : suggestions.length > 0
          ? `; did you mean ${suggestions.join(" or ")}?`
          : "";
      throw new RegistryError(
        "NAME_UNKNOWN",
        `No package ${attr} in revision ${view.revision}${hint}`,
        {
          attr,
          revision: view.revision,
          suggestions,
        },
      );
    }
    return c.json(
      {
        revision: view.revision,
        index: view.state,
        package: found,
      } satisfies PackageLookupResponse,
      200,
      noStore,
    );
  });

  return app;
}

function parseLimit(text: string | undefined): number {
  if (text === undefined || text === "") return packageSearchLimit.default;
  const limit = Number(text);
  if (!Number.isInteger(limit) || limit < 1 || limit > packageSearchLimit.max) {
    throw new RegistryError(
      "BAD_REQUEST",
      `limit must be a whole number from 1 to ${packageSearchLimit.max}, not "${text.slice(0, 20)}"`,
    );
  }
  return limit;
}

async function viewOf(index: PackageIndex, tag: string | undefined): Promise<IndexView> {
  const wanted = tag ?? "latest";
  assertValidTag(wanted);
  try {
    return await index.view(wanted);
  } catch (error) {
    throw mapOriginError(error);
  }
}
