// Manifest cache: cache key (source, revision or tag, architecture, packages) → the image's two
// manifests. Pinned revisions never expire; moving tags expire after the configured time-to-live.
// A name built for several platforms also carries its index (both flavours) and the platforms'
// manifests. Invariant: an entry is written only after every manifest it names is durably stored.
// This class is the only writer of its table (one origin holds the data dir), so it keeps the
// entries it has read in memory: a warm tag costs no SQLite query (a sixth of a warm manifest
// GET's CPU when measured); a put or delete forgets the key, so the next get reads the row again.

import type { Digest } from "../../shared/digest.ts";
import type { ManifestFlavour } from "../../shared/media-types.ts";
import type { TagIndex } from "../../shared/origin-protocol.ts";
import type { Db } from "./database.ts";

export interface ManifestEntry {
  image: string;
  tag: string;
  revision: string | null;
  pinned: boolean;
  /** The single manifests; with an index, the host platform's. */
  manifests: Record<ManifestFlavour, { digest: Digest; size: number }>;
  /** The index over every platform, for a name built for several. */
  index: TagIndex | null;
  createdAt: number;
  /** Epoch milliseconds; null for pinned entries. */
  expiresAt: number | null;
}

interface ManifestRow {
  image: string;
  tag: string;
  revision: string | null;
  pinned: number;
  docker_digest: string;
  docker_size: number;
  oci_digest: string;
  oci_size: number;
  created_at: number;
  expires_at: number | null;
  index_json: string | null;
}

/** Entries kept in memory at most; beyond it the memory starts again empty. */
const memoLimit = 4096;

export class ManifestCache {
  readonly #memo = new Map<string, ManifestEntry>();
  private readonly selectStmt;
  private readonly upsertStmt;
  private readonly deleteStmt;

  constructor(db: Db) {
    this.selectStmt = db.prepare<[string], ManifestRow>(
      "SELECT * FROM manifests WHERE cache_key = ?",
    );
    this.upsertStmt = db.prepare(
      `INSERT INTO manifests (cache_key, image, tag, revision, pinned, docker_digest, docker_size,
         oci_digest, oci_size, created_at, expires_at, index_json)
       VALUES (@key, @image, @tag, @revision, @pinned, @dockerDigest, @dockerSize, @ociDigest,
         @ociSize, @createdAt, @expiresAt, @indexJson)
       ON CONFLICT (cache_key) DO UPDATE SET image = excluded.image, tag = excluded.tag,
         revision = excluded.revision, pinned = excluded.pinned,
         docker_digest = excluded.docker_digest, docker_size = excluded.docker_size,
         oci_digest = excluded.oci_digest, oci_size = excluded.oci_size,
         created_at = excluded.created_at, expires_at = excluded.expires_at,
         index_json = excluded.index_json`,
    );
    this.deleteStmt = db.prepare("DELETE FROM manifests WHERE cache_key = ?");
  }

  /** The entry for `key`, or null when absent or expired at `now`. */
  get(key: string, now = Date.now()): ManifestEntry | null {
    const entry = this.#memo.get(key) ?? this.#read(key);
    if (!entry || (entry.expiresAt !== null && entry.expiresAt <= now)) return null;
    return entry;
  }

  #read(key: string): ManifestEntry | null {
    const row = this.selectStmt.get(key);
    if (!row) return null;
    if (this.#memo.size >= memoLimit) this.#memo.clear();
    const entry: ManifestEntry = {
      image: row.image,
      tag: row.tag,
      revision: row.revision,
      pinned: row.pinned === 1,
      manifests: {
        docker: { digest: row.docker_digest as Digest, size: row.docker_size },
        oci: { digest: row.oci_digest as Digest, size: row.oci_size },
      },
      index: row.index_json === null ? null : (JSON.parse(row.index_json) as TagIndex),
      createdAt: row.created_at,
      expiresAt: row.expires_at,
    };
    this.#memo.set(key, entry);
    return entry;
  }

  put(key: string, entry: ManifestEntry): void {
    this.#memo.delete(key);
    this.upsertStmt.run({
      key,
      image: entry.image,
      tag: entry.tag,
      revision: entry.revision,
      pinned: entry.pinned ? 1 : 0,
      dockerDigest: entry.manifests.docker.digest,
      dockerSize: entry.manifests.docker.size,
      ociDigest: entry.manifests.oci.digest,
      ociSize: entry.manifests.oci.size,
      createdAt: entry.createdAt,
      expiresAt: entry.expiresAt,
      indexJson: entry.index ? JSON.stringify(entry.index) : null,
    });
  }

  delete(key: string): void {
    this.#memo.delete(key);
    this.deleteStmt.run(key);
  }
}
