// The JSON the pages are made of, as the origin serves it under /api/… (and the edge forwards):
// what the instance serves, an image's details, and a build's progress. Everything here is safe
// to show to whoever may see the page: no server paths, no internal errors.

export interface PublicSource {
  /** What the source is, for people: "github.com/NixOS/nixpkgs", "a local package set". */
  label: string;
  /** Where to read it (a forge or channel URL), or null when it is not public. */
  url: string | null;
  /** The revision `latest` names now (a commit or channel), or null when the source has none. */
  revision: string | null;
  /** The revision on its forge, when the source is a known one. */
  revisionUrl: string | null;
}

export interface ImageSummary {
  name: string;
  revision: string | null;
  /** Epoch milliseconds of the first build. */
  builtAt: number;
  /** Manifest requests the origin answered or heard of from its edges. */
  pulls: number;
}

export interface InstanceInfo {
  source: PublicSource;
  /** Platforms a name without `arm64/` is built for, e.g. ["linux/amd64"]. */
  platforms: string[];
  hostPlatform: string;
  builds: { running: number; queued: number };
  recent: ImageSummary[];
  popular: ImageSummary[];
}

export interface PackageInfo {
  /** The attribute path in the package set, e.g. "bashInteractive". */
  attr: string;
  /** Nix's name of the derivation (e.g. "bash-interactive-5.2"), when known. */
  drvName: string | null;
  version: string | null;
  /** Why it is in the image: named in the image name, a meta-package's member, or always added. */
  via: "named" | "shell" | "implicit";
  /**
   * The package set's one-line description, from a ready package index; absent while the index
   * is not ready (the page's script then asks the package search for it).
   */
  description?: string;
}

export interface LayerInfo {
  digest: string;
  size: number;
  /** The store paths it holds (a symlink layer: the packages it links into /bin, /etc, …). */
  paths: string[];
  kind: "store" | "symlink" | "unknown";
  /** How many other known images hold this very layer. */
  sharedWith: number;
}

export interface PlatformImage {
  platform: string;
  /** Manifest digests, Docker schema 2 and OCI. */
  manifests: { docker: string; oci: string };
  layers: LayerInfo[];
  /** Sum of the layers' (compressed) sizes: what a pull downloads. */
  download: number;
  config: {
    env: string[];
    cmd: string[] | null;
    user: string | null;
    labels: Record<string, string>;
  };
}

export interface ImageDetails {
  name: string;
  tag: string;
  revision: string | null;
  source: PublicSource;
  /** The image name's components as typed (meta-packages included). */
  components: string[];
  packages: PackageInfo[];
  /** The index over several platforms, when the name has one. */
  index: { docker: string; oci: string } | null;
  platforms: PlatformImage[];
}

export type BuildPhase =
  | "queued"
  | "resolving"
  | "evaluating"
  | "realising"
  | "grouping"
  | "packing"
  | "uploading"
  | "publishing"
  | "done"
  | "failed";

export interface BuildProgress {
  /** Grows with every change, so a poller asks for what came after the last one it saw. */
  seq: number;
  phase: BuildPhase;
  /** Epoch milliseconds. */
  startedAt: number;
  platform: string | null;
  queuePosition: number | null;
  /** Derivations Nix builds (started of total) and the ones building now, by name. */
  derivations: { started: number; total: number; building: string[] } | null;
  /** Paths fetched from a binary cache (started of total). */
  downloads: { started: number; total: number } | null;
  /** Layers packed of all the image's layers, and their compressed bytes so far. */
  layers: { done: number; total: number; bytes: number } | null;
  /** The last lines of the build's output (untrusted text). */
  log: string[];
  /** Every phase entered so far and when (milliseconds after startedAt), oldest first. */
  history: { phase: BuildPhase; at: number }[];
}

/** What the build of an image is doing: its progress, or how it ended. */
export interface BuildState {
  name: string;
  tag: string;
  state: "unbuilt" | "running" | "done" | "failed";
  progress: BuildProgress | null;
  /** A failure, exactly as a registry client gets it. */
  error: { code: string; message: string } | null;
}

/** A build that could not start or ended in a failure, with the error a registry client gets. */
export function failedBuildState(
  ref: { name: string; tag: string },
  error: { code: string; message: string },
  progress: BuildProgress | null = null,
): BuildState {
  return {
    name: ref.name,
    tag: ref.tag,
    state: "failed",
    progress,
    error: { code: error.code, message: error.message },
  };
}
