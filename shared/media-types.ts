// The media types this registry speaks, and Accept negotiation between Docker schema 2 and OCI.

export const mediaTypes = {
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayer: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayer: "application/vnd.oci.image.layer.v1.tar+gzip",
} as const;

export type ManifestFlavour = "docker" | "oci";

export const manifestMediaType: Record<ManifestFlavour, string> = {
  docker: mediaTypes.dockerManifest,
  oci: mediaTypes.ociManifest,
};

/**
 * Picks the manifest flavour for an Accept header (repeated header lines arrive comma-joined).
 * Docker schema 2 works with every client and is the default; OCI is served only to a client
 * that accepts OCI manifests and not Docker schema 2.
 */
export function negotiateFlavour(accept: string | null | undefined): ManifestFlavour {
  if (!accept) return "docker";
  const types = accept
    .split(",")
    .map((part) => part.split(";")[0]!.trim().toLowerCase())
    .filter((type) => type.length > 0);
  if (types.includes(mediaTypes.dockerManifest)) return "docker";
  if (types.includes(mediaTypes.ociManifest)) return "oci";
  return "docker";
}
