// The origin's SQLite database (better-sqlite3): opened once, migrated forward in order.
// Migrations are append-only; `PRAGMA user_version` records how many have been applied.

import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";

export type Db = Database.Database;

const migrations: readonly string[] = [
  // 1: layer cache, manifest cache, build records.
  `CREATE TABLE layers (
     layer_key TEXT PRIMARY KEY,
     digest TEXT NOT NULL,
     diff_id TEXT NOT NULL,
     size INTEGER NOT NULL,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE manifests (
     cache_key TEXT PRIMARY KEY,
     image TEXT NOT NULL,
     tag TEXT NOT NULL,
     revision TEXT,
     pinned INTEGER NOT NULL,
     docker_digest TEXT NOT NULL,
     docker_size INTEGER NOT NULL,
     oci_digest TEXT NOT NULL,
     oci_size INTEGER NOT NULL,
     created_at INTEGER NOT NULL,
     expires_at INTEGER
   );
   CREATE TABLE builds (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     image TEXT NOT NULL,
     tag TEXT NOT NULL,
     revision TEXT,
     outcome TEXT NOT NULL,
     duration_ms INTEGER NOT NULL,
     error TEXT,
     finished_at INTEGER NOT NULL
   );
   CREATE INDEX builds_by_outcome ON builds (outcome, finished_at);`,
  // 2: published images for the storage collector (published-images.ts): when each image was
  // last requested, its manifests and config kept whole, and how to pack each layer again.
  `CREATE TABLE images (
     image_id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     revision TEXT,
     created_at INTEGER NOT NULL,
     last_used_at INTEGER NOT NULL
   );
   CREATE INDEX images_by_use ON images (last_used_at);
   CREATE TABLE image_objects (
     image_id TEXT NOT NULL,
     digest TEXT NOT NULL,
     PRIMARY KEY (image_id, digest)
   );
   CREATE INDEX image_objects_by_digest ON image_objects (digest);
   CREATE TABLE kept_objects (
     digest TEXT PRIMARY KEY,
     media_type TEXT NOT NULL,
     bytes BLOB NOT NULL
   );
   CREATE TABLE layer_recipes (
     digest TEXT PRIMARY KEY,
     diff_id TEXT NOT NULL,
     size INTEGER NOT NULL,
     recipe TEXT NOT NULL,
     pack_format TEXT NOT NULL,
     gzip_level INTEGER NOT NULL
   );`,
  // 3: learned layer popularity (layer-popularity.ts): images published, counted once each by
  // their set of layers, and how many of them held each layer.
  `CREATE TABLE popularity_images (
     image_id TEXT PRIMARY KEY,
     recorded_at INTEGER NOT NULL
   );
   CREATE TABLE layer_popularity (
     layer_id TEXT PRIMARY KEY,
     images INTEGER NOT NULL
   );`,
  // 4: image indexes (NIXERY_PLATFORMS): a tag's index and its platforms' manifests in the
  // manifest cache, and which images an index lists, so that using the index uses them too.
  `ALTER TABLE manifests ADD COLUMN index_json TEXT;
   CREATE TABLE image_children (
     image_id TEXT NOT NULL,
     child_id TEXT NOT NULL,
     PRIMARY KEY (image_id, child_id)
   );`,
  // 5: how often each image's manifests were asked for (pull-counts.ts), for the start page's
  // most pulled images.
  `ALTER TABLE images ADD COLUMN pulls INTEGER NOT NULL DEFAULT 0;`,
];

export function openDatabase(path: string): Db {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("busy_timeout = 5000");
  migrate(db);
  return db;
}

export function migrate(db: Db): void {
  const applied = db.pragma("user_version", { simple: true }) as number;
  if (applied > migrations.length) {
    throw new Error(
      `database schema version ${applied} is newer than this origin knows (${migrations.length}); upgrade the origin`,
    );
  }
  for (let version = applied; version < migrations.length; version++) {
    db.transaction(() => {
      db.exec(migrations[version]!);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
}

export const schemaVersion = migrations.length;
