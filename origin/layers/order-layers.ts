// The pull order of an image's store-path layers (group-layers.ts explains why): popularity
// descending, then depth ascending, then content id ascending. The key belongs to the layer alone,
// never to the image, so every image that holds the same layers holds them in the same relative
// order, and images with common popular layers share a prefix of layers, and with it chain IDs.

export interface OrderKey {
  /** Higher first; may be Infinity (cacert and iana-etc without a popularity file). */
  popularity: number;
  /** Most store paths that any one path of the layer keeps alive, itself included; lower first. */
  depth: number;
  /** The layer's content id (layer-key.ts); ascending, the final tie-break. */
  id: string;
}

export function compareForOrder(a: OrderKey, b: OrderKey): number {
  if (a.popularity !== b.popularity) return a.popularity > b.popularity ? -1 : 1;
  if (a.depth !== b.depth) return a.depth - b.depth;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** A sorted copy. */
export function orderLayers<T extends OrderKey>(layers: readonly T[]): T[] {
  return [...layers].sort(compareForOrder);
}
