// An image's layers as a pulling client sees them: digests and sizes from the Docker manifest,
// diff IDs from the config blob (the bottom layer first).

import { mediaTypes } from "../../shared/media-types.ts";

export interface ImageLayer {
  digest: string;
  diffId: string;
  size: number;
}

async function getJson<T>(url: string, accept: string): Promise<T> {
  const response = await fetch(url, { headers: { accept } });
  const body = await response.text();
  if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${body}`);
  return JSON.parse(body) as T;
}

/** Builds the image if need be (the manifest request does) and reads its layers. */
export async function imageLayers(registry: string, image: string): Promise<ImageLayer[]> {
  const manifest = await getJson<{
    config: { digest: string };
    layers: { digest: string; size: number }[];
  }>(`${registry}/v2/${image}/manifests/latest`, mediaTypes.dockerManifest);
  const config = await getJson<{ rootfs: { diff_ids: string[] } }>(
    `${registry}/v2/${image}/blobs/${manifest.config.digest}`,
    "*/*",
  );
  return manifest.layers.map((layer, i) => ({
    digest: layer.digest,
    diffId: config.rootfs.diff_ids[i]!,
    size: layer.size,
  }));
}
