// The recorded outputs of Nix commands (test/fixtures/nix-output/<major.minor>/<case>.json,
// written by test/nix-current/record-nix-output.ts on each Nix version), for table tests of
// the parsers: every test runs over every recorded version.

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { nixOutputFixtures } from "./nix-env.ts";

export interface RecordedOutput {
  nix: string;
  command: string[];
  env?: Record<string, string>;
  exitCode: number | null;
  stdout: string;
  stderr: string[];
}

/** The recorded versions, oldest first, e.g. ["2.8", "2.26", "2.34"]. */
export function recordedVersions(): string[] {
  return readdirSync(nixOutputFixtures)
    .filter((name) => /^\d+\.\d+$/.test(name))
    .sort((a, b) => {
      const [am, an] = a.split(".").map(Number);
      const [bm, bn] = b.split(".").map(Number);
      return am! - bm! || an! - bn!;
    });
}

export function recordedOutput(version: string, name: string): RecordedOutput {
  return JSON.parse(
    readFileSync(join(nixOutputFixtures, version, `${name}.json`), "utf8"),
  ) as RecordedOutput;
}
