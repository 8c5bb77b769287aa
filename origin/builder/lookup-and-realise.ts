// The Nix stage of a build: look the image's packages up (every missing or unevaluable name
// reported at once, with reasons and close names), then realise what the lookup evaluated, with
// GC roots for the rest of the build. The first steps of the pipeline (pipeline.ts) and of a
// restore (restore.ts).

import { nixSystems, type ImageRequest } from "../../shared/image-name.ts";
import type { Logger } from "../log.ts";
import { DerivationsGone } from "../nix/errors.ts";
import { explainFailures, type ExplainSlots } from "../nix/explain.ts";
import type { PackageSetPolicy } from "../nix/expression.ts";
import { PackagesNotFound } from "../nix/lookup-errors.ts";
import { lookupPackages, type PackageLookup } from "../nix/packages.ts";
import { realisePackages, type RealisedPackages } from "../nix/realise.ts";
import type { NixRunner } from "../nix/runner.ts";
import type { ResolvedSource } from "../nix/source.ts";
import type { NixInstallation } from "../nix/version.ts";
import { ignoreBuildEvents, type BuildEvents } from "./build-events.ts";

export interface NixStageDeps {
  runner: NixRunner;
  nixTimeoutMs: number;
  gcRootDir: string;
  log: Logger;
  /** The Nix in use (detectNix at start): its version picks command flags. */
  nix: NixInstallation;
  /** What the package set's config allows (NIXERY_ALLOW_UNFREE, …). */
  policy: PackageSetPolicy;
  /** Bounds the Nix processes that explain unevaluable names, across all builds. */
  explainSlots: ExplainSlots;
  /** Close names for names the set lacks ("did you mean …?"), from the package index. */
  packageHints?: (
    source: ResolvedSource,
    names: readonly string[],
  ) => { suggestions: Record<string, string[]>; building: boolean };
}

/**
 * Looks the image's packages up (all missing or unevaluable names reported together) and builds
 * the derivations that lookup evaluated. The .drv files an evaluation writes are not GC roots, so
 * if a garbage collection removed one in between, the lookup runs once more.
 */
export async function lookupAndRealise(
  deps: NixStageDeps,
  image: ImageRequest,
  source: ResolvedSource,
  signal: AbortSignal | undefined,
  events: BuildEvents = ignoreBuildEvents,
): Promise<{ lookup: PackageLookup; packages: string[]; realised: RealisedPackages }> {
  const system = nixSystems[image.arch];
  for (let attempt = 1; ; attempt++) {
    const lookup = await lookupPackages(deps.runner, source, image.packages, system, {
      signal,
      policy: deps.policy,
    });
    const missing = lookup.missing.filter((name) => !image.optional.includes(name));
    const failed = lookup.failed.filter((pkg) => !image.optional.includes(pkg.name));
    if (missing.length > 0 || failed.length > 0) {
      const unevaluable = await explainFailures(deps.runner, source, failed, system, {
        signal,
        policy: deps.policy,
        slots: deps.explainSlots,
        onNixOutput: (name, output) =>
          deps.log.info("package does not evaluate", {
            image: image.name,
            package: name,
            nixOutput: output.join("\n"),
          }),
      });
      const hints = missing.length > 0 ? deps.packageHints?.(source, missing) : undefined;
      throw new PackagesNotFound(missing, unevaluable, {
        found: lookup.found.map((pkg) => pkg.name).filter((name) => !image.optional.includes(name)),
        suggestions: hints?.suggestions,
        indexBuilding: hints?.building,
      });
    }
    // Implicit packages (cacert, iana-etc) that the set lacks are left out rather than failing:
    // what is still missing or unevaluable here is only those.
    const packages = lookup.found.map((pkg) => pkg.name);
    const leftOut = [...lookup.missing, ...lookup.failed.map((pkg) => pkg.name)];
    deps.log.info("build started", {
      image: image.name,
      revision: source.revision,
      ...(leftOut.length > 0 ? { leftOut } : {}),
    });
    events({ kind: "phase", phase: "realising" });
    try {
      const realised = await realisePackages(deps.runner, lookup.found, {
        onOutput: (line) => events({ kind: "nix-line", line }),
        timeoutMs: deps.nixTimeoutMs,
        rootDir: deps.gcRootDir,
        signal,
        substituters: deps.nix.substituters,
        implicit: image.optional,
      });
      return { lookup, packages, realised };
    } catch (error) {
      if (!(error instanceof DerivationsGone) || attempt > 1) throw error;
      deps.log.warn("derivation collected before the build; evaluating again", {
        image: image.name,
        derivation: error.derivation,
      });
    }
  }
}
