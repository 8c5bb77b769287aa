// A prepared host (Node, Nix, git; no test tools) runs the origin with the command docs/deploy.md
// gives, and nothing on the way calls the package manager: apt-get, apt, dpkg, dpkg-query and
// sudo are shims on PATH that record any call and fail. Both documented forms are tried: `npm run
// origin` and the package's bin, `nixery-edge-origin`.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { repoRoot } from "../support/origin-process.ts";
import { fixturePackageSet, testNixConfDir } from "../support/nix-env.ts";

let work: string;
let shims: string;
let calls: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), "nixery-production-"));
  shims = join(work, "shims");
  calls = join(work, "package-manager-calls");
  await writeFile(calls, "");
  await mkdir(shims);
  for (const name of ["apt-get", "apt", "dpkg", "dpkg-query", "sudo"]) {
    const file = join(shims, name);
    await writeFile(file, `#!/bin/sh\necho "${name} $*" >> '${calls}'\nexit 1\n`);
    await chmod(file, 0o755);
  }
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Runs `command` in its own process group until the origin listens; its URL and a stop. */
async function run(
  command: string[],
  dataDir: string,
): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(command[0]!, command.slice(1), {
    cwd: repoRoot,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      PATH: `${shims}:${join(repoRoot, "node_modules/.bin")}:${process.env.PATH}`,
      HOME: join(work, "home"),
      LANG: "C.UTF-8",
      // The documented production settings, with the offline fixture set as the package source.
      NIXERY_PKGS_PATH: fixturePackageSet,
      NIX_CONF_DIR: testNixConfDir,
      XDG_CACHE_HOME: join(repoRoot, ".cache"),
      NIXERY_DATA_DIR: dataDir,
      PORT: "0",
    },
  });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    process.kill(-child.pid!, "SIGTERM");
    const kill = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), 10_000);
    await exited;
    clearTimeout(kill);
  };
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (!line.startsWith("{")) return;
      const entry = JSON.parse(line) as { event?: string; url?: string };
      if (entry.event === "origin listening") resolve(entry.url!);
    });
    child.once("exit", (code) => reject(new Error(`exited with ${code}:\n${stderr}`)));
    setTimeout(() => reject(new Error(`did not listen in 60 s:\n${stderr}`)), 60_000).unref();
  }).catch(async (error: unknown) => {
    await stop();
    throw error;
  });
  return { url, stop };
}

describe("the origin on a prepared host", () => {
  for (const [label, command] of [
    ["npm run origin", ["npm", "run", "origin"]],
    ["the bin, nixery-edge-origin", [join(repoRoot, "bin/nixery-edge-origin.js")]],
  ] as const) {
    it(`${label} serves /v2/ on 127.0.0.1 and runs no package manager`, async () => {
      const origin = await run([...command], await mkdtemp(join(work, "data-")));
      try {
        assert.match(origin.url, /^http:\/\/127\.0\.0\.1:\d+$/, "loopback unless HOST says so");
        const response = await fetch(`${origin.url}/v2/`);
        assert.equal(response.status, 200);
        assert.equal(response.headers.get("docker-distribution-api-version"), "registry/2.0");
      } finally {
        await origin.stop();
      }
      assert.equal(await readFile(calls, "utf8"), "", "no apt-get, dpkg or sudo call");
    });
  }

  it("the shims do record a call (the check above can fail)", async () => {
    const probe = spawn("sh", ["-c", "dpkg-query -W nix-bin"], {
      env: { PATH: `${shims}:/usr/bin:/bin` },
      stdio: "ignore",
    });
    assert.equal(await new Promise((resolve) => probe.once("exit", resolve)), 1);
    assert.match(await readFile(calls, "utf8"), /^dpkg-query -W nix-bin$/m);
    await writeFile(calls, "");
  });
});
