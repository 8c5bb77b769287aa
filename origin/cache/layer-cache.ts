// Layer cache: layer identity (hash of its store paths and the packer format) → the stored blob.
// Invariant: an entry is added only after its blob is durably stored (builder/pipeline.ts stores
// the layer, then records it here).

import type { Digest } from "../../shared/digest.ts";
import type { LayerDescriptor } from "../../shared/manifest.ts";
import type { Db } from "./database.ts";

interface LayerRow {
  digest: string;
  diff_id: string;
  size: number;
}

export class LayerCache {
  private readonly selectStmt;
  private readonly insertStmt;
  private readonly deleteStmt;

  constructor(db: Db) {
    this.selectStmt = db.prepare<[string], LayerRow>(
      "SELECT digest, diff_id, size FROM layers WHERE layer_key = ?",
    );
    this.insertStmt = db.prepare(
      `INSERT INTO layers (layer_key, digest, diff_id, size, created_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (layer_key) DO UPDATE SET digest = excluded.digest, diff_id = excluded.diff_id,
         size = excluded.size, created_at = excluded.created_at`,
    );
    this.deleteStmt = db.prepare("DELETE FROM layers WHERE layer_key = ?");
  }

  get(layerKey: string): LayerDescriptor | null {
    const row = this.selectStmt.get(layerKey);
    if (!row) return null;
    return { digest: row.digest as Digest, diffId: row.diff_id as Digest, size: row.size };
  }

  put(layerKey: string, layer: LayerDescriptor, now = Date.now()): void {
    this.insertStmt.run(layerKey, layer.digest, layer.diffId, layer.size, now);
  }

  delete(layerKey: string): void {
    this.deleteStmt.run(layerKey);
  }
}
