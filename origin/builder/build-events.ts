// What a build reports as it goes, as events into a sink function: the tag job (resolving), the
// platform builds (queued, evaluating) and the pipeline (realising to publishing, Nix's lines,
// layers done) produce them; whoever wants them passes a sink in (the job table passes its
// job's BuildProgressTracker). Nothing here is needed for a build to succeed.

import type { BuildPhase } from "../../shared/web/web-types.ts";

export type BuildEvent =
  /** The build moved on to `phase` (for `queued`: at `queuePosition`). */
  | { kind: "phase"; phase: BuildPhase; queuePosition?: number; platform?: string }
  /** A line Nix wrote while realising (its plan, what it builds or fetches, builders' output). */
  | { kind: "nix-line"; line: string }
  /** Layers packed (or found in the cache) of `total`, and their compressed bytes so far. */
  | { kind: "layers"; done: number; total: number; bytes: number };

export type BuildEvents = (event: BuildEvent) => void;

/** For callers with no job to report to (restores, tests). */
export const ignoreBuildEvents: BuildEvents = () => {};
