// What the build pipeline asks of layering: an image's store-path layers in pull order, and, once
// the image is published, a record of its layers, from which later images learn popularity when
// no popularity file is configured (group-layers.ts explains the rule and what it means for
// determinism).

import type { StorePathInfo } from "./graph.ts";
import { groupLayers, type Layer, type LayerOptions } from "./group-layers.ts";

/** Published images' layers (origin/cache/layer-popularity.ts keeps them in SQLite). */
export interface LayerHistory {
  /** How many recorded images held the layer with this content id. */
  count(layerId: string): number;
  /** Counts an image's layers once per distinct set of layers. */
  recordImage(layerIds: readonly string[]): boolean;
}

export interface LayeringConfig {
  /** Popularity from NIX_POPULARITY_URL, or null: the order is learned from `history`. */
  popularity: ReadonlyMap<string, number> | null;
  history: LayerHistory;
  options: Partial<LayerOptions>;
}

const noPopularity: ReadonlyMap<string, number> = new Map();

export class Layering {
  constructor(private readonly config: LayeringConfig) {}

  /** With a file, a function of the closure and the file; otherwise the order also of history. */
  arrange(graph: StorePathInfo[], roots: string[]): Layer[] {
    const { popularity, history, options } = this.config;
    if (popularity) return groupLayers(graph, roots, popularity, options);
    return groupLayers(graph, roots, noPopularity, options, (id) => history.count(id));
  }

  /**
   * Call once the image is published. Recorded with a file too (the order then ignores it), so an
   * origin that drops its file starts from what it has built.
   */
  record(layers: readonly Layer[]): void {
    this.config.history.recordImage(layers.map((layer) => layer.id));
  }
}
