// The facts the hostile cases need about an image the edge serves (a layer, the manifest digest),
// found by pulling its manifest, which builds it on first use.

import type { ImageFacts } from "./hostile-cases.ts";

export async function imageFactsOf(edge: string, name: string): Promise<ImageFacts> {
  const response = await fetch(`${edge}/v2/${name}/manifests/latest`, {
    headers: { Accept: "application/vnd.oci.image.manifest.v1+json" },
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`cannot pull ${name}: ${response.status} ${text}`);
  const manifest = JSON.parse(text) as { layers: { digest: string; size: number }[] };
  const layer = manifest.layers[0]!;
  return {
    name,
    layer: layer.digest,
    layerSize: layer.size,
    manifestDigest: response.headers.get("docker-content-digest")!,
  };
}
