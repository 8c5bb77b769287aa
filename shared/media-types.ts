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

/** The image index of each flavour: a Docker manifest list lists Docker manifests, an OCI index OCI ones. */
export const indexMediaType: Record<ManifestFlavour, string> = {
  docker: mediaTypes.dockerManifestList,
  oci: mediaTypes.ociIndex,
};

function acceptedTypes(accept: string | null | undefined): string[] {
  if (!accept) return [];
  return accept
    .split(",")
    .map((part) => part.split(";")[0]!.trim().toLowerCase())
    .filter((type) => type.length > 0);
}

/**
 * Picks the manifest flavour for an Accept header (repeated header lines arrive comma-joined).
 * Docker schema 2 works with every client and is the default; OCI is served only to a client
 * that accepts OCI manifests and not Docker schema 2.
 */
export function negotiateFlavour(accept: string | null | undefined): ManifestFlavour {
  const types = acceptedTypes(accept);
  if (types.includes(mediaTypes.dockerManifest)) return "docker";
  if (types.includes(mediaTypes.ociManifest)) return "oci";
  return "docker";
}

/**
 * The flavour of image index a client accepts (a Docker manifest list or an OCI index), or null
 * when it names neither: such a client gets a single manifest. `*\/*` names neither, so a client
 * that never asked for an index is never given one. The index's flavour follows the manifest
 * flavour the client would get, when it accepts that one.
 */
export function negotiateIndexFlavour(accept: string | null | undefined): ManifestFlavour | null {
  const types = acceptedTypes(accept);
  const docker = types.includes(mediaTypes.dockerManifestList);
  const oci = types.includes(mediaTypes.ociIndex);
  if (docker && oci) return negotiateFlavour(accept);
  if (docker) return "docker";
  if (oci) return "oci";
  return null;
}

/**
 * What a client's Accept asks a tag to answer with: the single manifest's flavour, and the index
 * flavour it takes (null: none). A name built for one platform answers with the manifest either way.
 */
export interface ManifestWanted {
  flavour: ManifestFlavour;
  index: ManifestFlavour | null;
}

export function negotiateManifest(accept: string | null | undefined): ManifestWanted {
  return { flavour: negotiateFlavour(accept), index: negotiateIndexFlavour(accept) };
}

/** A short name for what was wanted (tag answers vary on Accept, so caches key on it). */
export function wantedKey(wanted: ManifestWanted): string {
  return wanted.index ? `${wanted.flavour}+${wanted.index}-index` : wanted.flavour;
}
