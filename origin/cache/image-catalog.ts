// What the pages read of the published images (published-images.ts): the recently built and the
// most pulled ones, the manifests and configs kept whole, and for a layer its store paths and how
// many other images hold it. Read only; every value reaches SQLite as a bound parameter.

import type { Digest } from "../../shared/digest.ts";
import type { ImageSummary } from "../../shared/web/web-types.ts";
import type { Db } from "./database.ts";
import type { LayerRecipe } from "./published-images.ts";

interface SummaryRow {
  name: string;
  revision: string | null;
  built_at: number;
  pulls: number;
}

export interface LayerRecord {
  recipe: LayerRecipe | null;
  /** Other images (by name) that hold this layer. */
  sharedWith: number;
}

export class ImageCatalog {
  readonly #recent;
  readonly #popular;
  readonly #recipe;
  readonly #holders;
  readonly #kept;

  constructor(db: Db) {
    // An index's platform images are recorded under the index's name (or arm64/NAME): one entry
    // per name, its first build and the pulls of all its records.
    this.#recent = db.prepare<[number], SummaryRow>(
      `SELECT name, MAX(revision) AS revision, MIN(created_at) AS built_at, SUM(pulls) AS pulls
       FROM images GROUP BY name ORDER BY MAX(created_at) DESC LIMIT ?`,
    );
    this.#popular = db.prepare<[number], SummaryRow>(
      `SELECT name, MAX(revision) AS revision, MIN(created_at) AS built_at, SUM(pulls) AS pulls
       FROM images GROUP BY name HAVING SUM(pulls) > 0 ORDER BY SUM(pulls) DESC, name LIMIT ?`,
    );
    this.#recipe = db.prepare<[string], { recipe: string }>(
      "SELECT recipe FROM layer_recipes WHERE digest = ?",
    );
    this.#holders = db.prepare<[string, string], { holders: number }>(
      `SELECT COUNT(DISTINCT images.name) AS holders FROM image_objects
       JOIN images ON images.image_id = image_objects.image_id
       WHERE image_objects.digest = ? AND images.name != ?`,
    );
    this.#kept = db.prepare<[string], { bytes: Buffer }>(
      "SELECT bytes FROM kept_objects WHERE digest = ?",
    );
  }

  recent(limit = 10): ImageSummary[] {
    return this.#recent.all(limit).map(toSummary);
  }

  popular(limit = 10): ImageSummary[] {
    return this.#popular.all(limit).map(toSummary);
  }

  /** A manifest or config as published (kept whole in the database), or null. */
  keptBytes(digest: Digest): Uint8Array | null {
    const row = this.#kept.get(digest);
    return row ? new Uint8Array(row.bytes) : null;
  }

  /** How a layer was made (its store paths) and how many images other than `name` hold it. */
  layer(digest: Digest, name: string): LayerRecord {
    const row = this.#recipe.get(digest);
    const holders = this.#holders.get(digest, name)?.holders ?? 0;
    return { recipe: row ? (JSON.parse(row.recipe) as LayerRecipe) : null, sharedWith: holders };
  }
}

function toSummary(row: SummaryRow): ImageSummary {
  return { name: row.name, revision: row.revision, builtAt: row.built_at, pulls: row.pulls ?? 0 };
}
