// Which requested packages a failed `nix-store --realise --keep-going` kept from being built, and
// why each: its own builder failed, or a dependency's did (found in the package's derivation
// closure, `nix-store --query --requisites`), so that a message names the packages the user
// asked for and never blames a dependency (iana-etc, bash, a source tarball) as if it had been
// asked for.

import { basename } from "node:path";
import type { RealiseFailure } from "./build-output.ts";
import type { NixRunner } from "./runner.ts";

export interface PackageFailure {
  /** The requested package (attribute path as looked up). */
  name: string;
  /** The failed derivation that kept it from building: its own or a dependency's (null: unknown). */
  cause: RealiseFailure["failures"][number] | null;
  /** True when `cause` is the package's own derivation. */
  own: boolean;
}

interface Requested {
  name: string;
  drvPath: string;
}

// Closures are read only for this many failed packages (each is one short nix-store call).
const maxClosureQueries = 20;

export async function packageFailures(
  runner: NixRunner,
  packages: readonly Requested[],
  failure: RealiseFailure,
): Promise<PackageFailure[]> {
  const failedDrvs = new Map(failure.failures.map((entry) => [entry.drv, entry]));
  const named = new Set([...failure.notBuilt, ...failure.dependents, ...failedDrvs.keys()]);
  const unbuilt = packages.filter((pkg) => named.has(pkg.drvPath));
  const result: PackageFailure[] = [];
  let queries = 0;
  for (const pkg of unbuilt) {
    const own = failedDrvs.get(pkg.drvPath);
    if (own) {
      result.push({ name: pkg.name, cause: own, own: true });
      continue;
    }
    let cause: PackageFailure["cause"] = null;
    if (failedDrvs.size === 1) cause = [...failedDrvs.values()][0]!;
    else if (failedDrvs.size > 1 && queries++ < maxClosureQueries) {
      const closure = await requisites(runner, pkg.drvPath);
      cause = failure.failures.find((entry) => closure.has(entry.drv)) ?? null;
    }
    result.push({ name: pkg.name, cause, own: false });
  }
  return result;
}

async function requisites(runner: NixRunner, drv: string): Promise<Set<string>> {
  const result = await runner("nix-store", ["--query", "--requisites", drv], {
    timeoutMs: 30_000,
  }).catch(() => null);
  if (!result || result.exitCode !== 0) return new Set();
  return new Set(result.stdout.split("\n").filter((line) => line.endsWith(".drv")));
}

/**
 * A derivation as a user can read it: its name without store hash and `.drv` (`bash-4.4`);
 * fetcher derivations named after a URL's query (`?id=14adc898…`) say nothing, and become null
 * so that the message names the download's URL instead.
 */
export function derivationLabel(drv: string): string | null {
  const name = basename(drv)
    .replace(/^[a-z0-9]{32}-/, "")
    .replace(/\.drv$/, "");
  return /^[A-Za-z0-9]/.test(name) && !/[?=&]/.test(name) ? name : null;
}
