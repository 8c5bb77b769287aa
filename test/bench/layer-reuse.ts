// Layer reuse benchmark: a sequence of images with overlapping closures, built one after another by
// one fresh origin and pulled by one client that keeps what it pulls by chain ID, as docker and
// podman do (test/support/chain-client.ts). Per image: its layers and bytes, the bytes the client
// downloads, and the bytes of layers it did not have under any chain, the least any order could
// cost. The figure is downloaded ÷ not had over the sequence; the goal is at most 1.05.

import { ChainIdClient } from "../support/chain-client.ts";
import { imageLayers } from "../support/image-layers.ts";
import { startOrigin } from "../support/origin-process.ts";

/** Sessions of someone working with an interpreter and its libraries, and with big data. */
export const reuseSequence = [
  "interp",
  "interp/numlib",
  "interp/numlib/frames",
  "interp/mlhuge",
  "interp/webfw",
  "shell/interp",
  "uses-big",
  "uses-big/uses-huge",
  "hello",
  "shell/hello",
  "interp/frames/webfw",
  "interp/numlib/mlhuge",
];

export interface ReuseStep {
  image: string;
  /** Layer sizes, bottom first (the last is the symlink layer). */
  layerBytes: number[];
  downloaded: number;
  missing: number;
  reusedLayers: number;
}

export interface ReuseResult {
  steps: ReuseStep[];
  downloaded: number;
  missing: number;
  /** downloaded ÷ missing over the sequence. */
  ratio: number;
}

export async function runReuseBench(sequence = reuseSequence): Promise<ReuseResult> {
  const origin = await startOrigin();
  try {
    const client = new ChainIdClient();
    const steps: ReuseStep[] = [];
    for (const image of sequence) {
      const layers = await imageLayers(origin.url, image);
      const cost = client.pull(layers);
      steps.push({ image, layerBytes: layers.map((layer) => layer.size), ...cost });
    }
    const downloaded = steps.reduce((sum, step) => sum + step.downloaded, 0);
    const missing = steps.reduce((sum, step) => sum + step.missing, 0);
    return { steps, downloaded, missing, ratio: downloaded / missing };
  } finally {
    await origin.stop();
  }
}

const mb = (bytes: number) => (bytes / 1e6).toFixed(1);

export function formatReuseBench(result: ReuseResult): string {
  const lines = [
    "layer reuse (chain-ID client, one fresh origin)   layers   image MB   downloaded MB   not had MB   ratio",
  ];
  for (const step of result.steps) {
    const total = step.layerBytes.reduce((a, b) => a + b, 0);
    const ratio = step.missing > 0 ? `${(step.downloaded / step.missing).toFixed(2)}×` : "-";
    lines.push(
      `${step.image.padEnd(48)} ${String(step.layerBytes.length).padStart(6)}   ${mb(total).padStart(8)}   ${mb(step.downloaded).padStart(13)}   ${mb(step.missing).padStart(10)}   ${ratio.padStart(5)}`,
    );
  }
  lines.push(
    `${"sequence".padEnd(48)} ${"".padStart(6)}   ${"".padStart(8)}   ${mb(result.downloaded).padStart(13)}   ${mb(result.missing).padStart(10)}   ${`${result.ratio.toFixed(3)}×`.padStart(5)}  (goal ≤ 1.05×)`,
  );
  return lines.join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await runReuseBench();
  console.log(formatReuseBench(result));
  console.log(
    JSON.stringify({
      ratio: result.ratio,
      steps: result.steps.map((s) => ({ image: s.image, layerBytes: s.layerBytes })),
    }),
  );
}
