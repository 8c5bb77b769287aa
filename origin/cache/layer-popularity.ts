// Learned layer popularity: how many of the images this origin published held each layer (by
// content id, layer-key.ts), for the layer order (group-layers.ts). An image counts once, however
// often it is rebuilt: it is known by the set of its layers.

import { createHash } from "node:crypto";
import type { Db } from "./database.ts";

export class LayerPopularity {
  private readonly selectStmt;
  private readonly insertImageStmt;
  private readonly countStmt;
  private readonly recordTx;

  constructor(db: Db) {
    this.selectStmt = db.prepare<[string], { images: number }>(
      "SELECT images FROM layer_popularity WHERE layer_id = ?",
    );
    this.insertImageStmt = db.prepare(
      "INSERT INTO popularity_images (image_id, recorded_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
    );
    this.countStmt = db.prepare(
      `INSERT INTO layer_popularity (layer_id, images) VALUES (?, 1)
       ON CONFLICT (layer_id) DO UPDATE SET images = images + 1`,
    );
    this.recordTx = db.transaction((layerIds: string[], now: number): boolean => {
      const imageId = createHash("sha256").update(layerIds.join("\n")).digest("hex");
      if (this.insertImageStmt.run(imageId, now).changes === 0) return false;
      for (const id of layerIds) this.countStmt.run(id);
      return true;
    });
  }

  /** How many recorded images held the layer (0 for a layer no image held). */
  count(layerId: string): number {
    return this.selectStmt.get(layerId)?.images ?? 0;
  }

  /** Counts an image's layers, unless an image with the same layers was counted; true if counted. */
  recordImage(layerIds: readonly string[], now = Date.now()): boolean {
    return this.recordTx([...new Set(layerIds)].sort(), now);
  }
}
