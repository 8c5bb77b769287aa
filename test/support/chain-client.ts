// A registry client that keeps what it pulls the way docker and podman (containers/storage) do:
// unpacked layers keyed by chain ID, no compressed blobs. A layer is reused only if its whole chain
// (it and every layer below it) is present; everything from the first missing chain on is
// downloaded, including blobs the client already holds under another chain.

import { createHash } from "node:crypto";

export interface PulledLayer {
  /** What identifies the layer's contents: its diff ID (any stable id does for simulations). */
  diffId: string;
  /** Bytes downloaded when the layer is fetched (the compressed blob's size). */
  size: number;
}

export interface PullCost {
  /** Bytes the client downloads under the chain-ID rule. */
  downloaded: number;
  /** Bytes of layers whose contents the client held under no chain: the least any order costs. */
  missing: number;
  /** Layers reused from the bottom up (the length of the shared chain). */
  reusedLayers: number;
}

export class ChainIdClient {
  private readonly chains = new Set<string>();
  private readonly held = new Set<string>();

  /** Pulls an image (layers bottom first) and keeps it. */
  pull(layers: readonly PulledLayer[]): PullCost {
    let chain = "";
    let downloaded = 0;
    let missing = 0;
    let reusedLayers = 0;
    let reusing = true;
    const newlyHeld: string[] = [];
    for (const layer of layers) {
      // Docker: ChainID(L1) = DiffID(L1); ChainID(L1..Ln) = sha256(ChainID(L1..Ln-1) + " " + DiffID(Ln)).
      chain = chain === "" ? layer.diffId : sha256(`${chain} ${layer.diffId}`);
      if (!this.held.has(layer.diffId)) missing += layer.size;
      if (reusing && this.chains.has(chain)) {
        reusedLayers++;
      } else {
        reusing = false;
        downloaded += layer.size;
      }
      this.chains.add(chain);
      newlyHeld.push(layer.diffId);
    }
    for (const diffId of newlyHeld) this.held.add(diffId);
    return { downloaded, missing, reusedLayers };
  }
}

function sha256(text: string): string {
  return `sha256:${createHash("sha256").update(text).digest("hex")}`;
}
