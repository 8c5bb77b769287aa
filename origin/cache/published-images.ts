// What the origin has published, recorded so that storage can be garbage-collected without ever
// breaking a pull: every image (its two manifests, when it was last requested), the small objects
// kept whole in the database (manifests and configs, a few KB each), and for every layer how to
// pack it again (its store paths, or the symlink layer's inputs). A collected object is thereby a
// cache entry of a deterministic computation: requested again, it is restored or repacked and
// has the same digest.
//
// An image index (a name built for several platforms) is recorded as an image too: its two index
// manifests are its objects and the platforms' images are its children, so a use of the index is
// a use of every image it lists.
//
// Invariant: an image is recorded only after all its objects are stored (the pipeline records
// it last), and a recipe is never removed while an image that uses it is recorded.

import type { Digest } from "../../shared/digest.ts";
import type { Db } from "./database.ts";

/** How a layer's bytes are made again: the same entries, through the same packer. */
export type LayerRecipe =
  | { kind: "store"; paths: string[] }
  | { kind: "symlink"; installed: string[]; envBinary: string | null; nonroot?: boolean };

export interface PublishedLayer {
  digest: Digest;
  diffId: Digest;
  size: number;
  recipe: LayerRecipe;
}

export interface PublishedImage {
  /** The image name as built, e.g. "shell/hello" (its packages and architecture). */
  name: string;
  /** The source revision it was built from (null for a local path). */
  revision: string | null;
  manifests: { digest: Digest; mediaType: string; bytes: Uint8Array }[];
  /** Null for an index, which has no config and no layers of its own. */
  config: { digest: Digest; bytes: Uint8Array } | null;
  layers: PublishedLayer[];
  /** For an index: the images it lists (each by its first manifest's digest, its image id). */
  children?: Digest[];
  /** The packer format and gzip level, which decide a layer's bytes. */
  packFormat: string;
  gzipLevel: number;
}

export interface KeptObject {
  digest: Digest;
  mediaType: string;
  bytes: Uint8Array<ArrayBuffer>;
}

export interface LayerRebuild {
  digest: Digest;
  recipe: LayerRecipe;
  packFormat: string;
  gzipLevel: number;
  /** Images holding the layer, most recently used first: how to realise its store paths. */
  images: { name: string; revision: string | null }[];
}

export class PublishedImages {
  constructor(private readonly db: Db) {}

  /** Records an image whose objects are all stored; `now` counts as a use. */
  record(image: PublishedImage, now = Date.now()): void {
    const [first] = image.manifests;
    if (!first) throw new Error("an image has at least one manifest");
    const id = first.digest;
    const insertObject = this.db.prepare(
      `INSERT OR IGNORE INTO kept_objects (digest, media_type, bytes) VALUES (?, ?, ?)`,
    );
    const link = this.db.prepare(
      `INSERT OR IGNORE INTO image_objects (image_id, digest) VALUES (?, ?)`,
    );
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO images (image_id, name, revision, created_at, last_used_at)
           VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (image_id) DO UPDATE SET last_used_at = excluded.last_used_at`,
        )
        .run(id, image.name, image.revision, now, now);
      for (const manifest of image.manifests) {
        insertObject.run(manifest.digest, manifest.mediaType, manifest.bytes);
        link.run(id, manifest.digest);
      }
      if (image.config) {
        insertObject.run(image.config.digest, "application/json", image.config.bytes);
        link.run(id, image.config.digest);
      }
      const child = this.db.prepare(
        `INSERT OR IGNORE INTO image_children (image_id, child_id) VALUES (?, ?)`,
      );
      for (const childId of image.children ?? []) child.run(id, childId);
      const recipe = this.db.prepare(
        `INSERT OR IGNORE INTO layer_recipes (digest, diff_id, size, recipe, pack_format, gzip_level)
         VALUES (?, ?, ?, ?, ?, ?)`,
      );
      for (const layer of image.layers) {
        recipe.run(
          layer.digest,
          layer.diffId,
          layer.size,
          JSON.stringify(layer.recipe),
          image.packFormat,
          image.gzipLevel,
        );
        link.run(id, layer.digest);
      }
    })();
    // The children were recorded (and maybe last used) before the index that lists them.
    if (image.children?.length) this.touch([id], now);
  }

  /**
   * Marks the images holding `digest` (a manifest) as used at `now`, and the images listed by an
   * index among them (an index is used for the images it lists).
   */
  touch(digests: readonly Digest[], now = Date.now()): number {
    const update = this.db.prepare(
      `UPDATE images SET last_used_at = MAX(last_used_at, @now)
       WHERE image_id IN (SELECT image_id FROM image_objects WHERE digest = @digest)
          OR image_id IN (SELECT child_id FROM image_children WHERE image_id IN
               (SELECT image_id FROM image_objects WHERE digest = @digest))`,
    );
    let touched = 0;
    this.db.transaction(() => {
      for (const digest of digests) touched += update.run({ now, digest }).changes;
    })();
    return touched;
  }

  /** A manifest or config kept whole in the database. */
  keptObject(digest: Digest): KeptObject | null {
    const row = this.db
      .prepare<[string], { media_type: string; bytes: Buffer }>(
        "SELECT media_type, bytes FROM kept_objects WHERE digest = ?",
      )
      .get(digest);
    if (!row) return null;
    const bytes = new Uint8Array(row.bytes.byteLength);
    bytes.set(row.bytes);
    return { digest, mediaType: row.media_type, bytes };
  }

  /** How to pack a layer again, or null for a digest that is no recorded layer. */
  layerRebuild(digest: Digest): LayerRebuild | null {
    const row = this.db
      .prepare<[string], { recipe: string; pack_format: string; gzip_level: number }>(
        "SELECT recipe, pack_format, gzip_level FROM layer_recipes WHERE digest = ?",
      )
      .get(digest);
    if (!row) return null;
    const images = this.db
      .prepare<[string], { name: string; revision: string | null }>(
        `SELECT images.name, images.revision FROM images
         JOIN image_objects ON image_objects.image_id = images.image_id
         WHERE image_objects.digest = ? ORDER BY images.last_used_at DESC LIMIT 5`,
      )
      .all(digest);
    return {
      digest,
      recipe: JSON.parse(row.recipe) as LayerRecipe,
      packFormat: row.pack_format,
      gzipLevel: row.gzip_level,
      images,
    };
  }

  /** Every object of the images used at or after `since`: what a collection keeps. */
  objectsInUse(since: number): Set<string> {
    const rows = this.db
      .prepare<[number], { digest: string }>(
        `SELECT DISTINCT image_objects.digest FROM image_objects
         JOIN images ON images.image_id = image_objects.image_id
         WHERE images.last_used_at >= ?`,
      )
      .all(since);
    return new Set(rows.map((row) => row.digest));
  }

  /** How many recorded images were used at or after `since`, and how many were not. */
  counts(since: number): { inUse: number; unused: number } {
    const row = this.db
      .prepare<[{ since: number }], { in_use: number | null; unused: number | null }>(
        `SELECT SUM(last_used_at >= @since) AS in_use, SUM(last_used_at < @since) AS unused
         FROM images`,
      )
      .get({ since });
    return { inUse: row?.in_use ?? 0, unused: row?.unused ?? 0 };
  }
}
