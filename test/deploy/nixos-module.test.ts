// The NixOS module (nix/nixos-module.nix) and the package expression (nix/package.nix). Offline
// and everywhere: both parse. With NIXPKGS_PATH (a nixpkgs tree; any since 20.09 works for the
// module): a whole NixOS configuration is evaluated with the module (no build): defaults pass
// every assertion and give the expected unit, bad combinations are refused with a message, the
// firewall and remote builders reach NixOS's options, and systemd-analyze accepts the unit.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../support/origin-process.ts";

const nixpkgs = process.env.NIXPKGS_PATH;
const skip = nixpkgs ? false : "NIXPKGS_PATH is not set (a nixpkgs tree to evaluate NixOS with)";

interface Evaluation {
  failed: string[];
  unit: string;
  firewall: number[];
  buildMachines: string[];
  distributedBuilds: boolean;
  stub: string;
}

function evaluate(settings: Record<string, unknown> = {}): Evaluation {
  const result = spawnSync(
    "nix-instantiate",
    [
      "--eval",
      "--strict",
      "--json",
      join(repoRoot, "test/deploy/nixos-eval.nix"),
      "--arg",
      "nixpkgs",
      nixpkgs!,
      "--argstr",
      "settings",
      JSON.stringify(settings),
    ],
    { encoding: "utf8", env: { ...process.env, NIX_PATH: "" } },
  );
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout) as Evaluation;
}

const lines = (unit: string, key: string) =>
  [...unit.matchAll(new RegExp(`^${key}=(.*)$`, "gm"))].map((match) => match[1]);

describe("the NixOS module", () => {
  it("and the package expression parse", () => {
    for (const file of ["nix/nixos-module.nix", "nix/package.nix"]) {
      const result = spawnSync("nix-instantiate", ["--parse", join(repoRoot, file)], {
        encoding: "utf8",
      });
      assert.equal(result.status, 0, `${file}: ${result.stderr}`);
    }
  });

  it("evaluates with every default: the unit runs the package's bin, hardened", { skip }, () => {
    const { failed, unit, firewall, stub } = evaluate();
    assert.deepEqual(failed, []);
    assert.deepEqual(lines(unit, "ExecStart"), [`${stub}/bin/nixery-edge-origin`]);
    const environment = lines(unit, "Environment").join("\n");
    for (const setting of [
      '"NIXERY_CHANNEL=nixos-unstable"',
      '"HOST=127.0.0.1"',
      '"PORT=8081"',
      '"NIXERY_DATA_DIR=/var/lib/nixery-edge"',
      '"STORAGE_PATH=/var/lib/nixery-edge/storage"',
      '"NIXERY_PLATFORMS=linux/amd64"',
      '"NIX_REMOTE=daemon"',
    ]) {
      assert.ok(environment.includes(setting), `${setting} in\n${environment}`);
    }
    for (const [key, value] of [
      ["DynamicUser", "true"],
      ["StateDirectory", "nixery-edge"],
      ["ProtectSystem", "strict"],
      ["PrivateTmp", "true"],
      ["NoNewPrivileges", "true"],
      ["CapabilityBoundingSet", ""],
      ["RestartPreventExitStatus", "2"],
    ] as const) {
      assert.deepEqual(lines(unit, key), [value], key);
    }
    assert.match(lines(unit, "ExecStartPost")[0]!, /curl .*http:\/\/127\.0\.0\.1:8081\/livez$/);
    assert.deepEqual(firewall, []);
    assert.deepEqual(lines(unit, "EnvironmentFile"), []);
  });

  it("wires S3 storage, secrets, users, firewall and remote builders", { skip }, () => {
    const evaluation = evaluate({
      source: { repo: "https://git.example/pkgs.git" },
      host: "0.0.0.0",
      port: 9000,
      openFirewall: true,
      storage: {
        backend: "s3",
        s3: { endpoint: "https://acct.r2.cloudflarestorage.com" },
        credentialsFile: "/run/keys/s3.env",
      },
      environmentFile: "/run/keys/origin.env",
      originPrivate: true,
      privateUsersFile: "/etc/nixery-edge/users.htpasswd",
      platforms: ["linux/amd64", "linux/arm64"],
      remoteBuilders: [{ hostName: "arm-builder", system: "aarch64-linux", maxJobs: 4 }],
      gc: { unusedSeconds: 86400 },
    });
    assert.deepEqual(evaluation.failed, []);
    const environment = lines(evaluation.unit, "Environment").join("\n");
    for (const setting of [
      '"NIXERY_PKGS_REPO=https://git.example/pkgs.git"',
      '"NIXERY_STORAGE_BACKEND=s3"',
      '"S3_ENDPOINT=https://acct.r2.cloudflarestorage.com"',
      '"S3_BUCKET=nixery-blobs"',
      '"ORIGIN_PRIVATE=true"',
      '"NIXERY_HTPASSWD=/etc/nixery-edge/users.htpasswd"',
      '"NIXERY_PLATFORMS=linux/amd64,linux/arm64"',
      '"NIXERY_GC_UNUSED_SECONDS=86400"',
      '"HOST=0.0.0.0"',
    ]) {
      assert.ok(environment.includes(setting), `${setting} in\n${environment}`);
    }
    assert.ok(!environment.includes("NIXERY_CHANNEL"), "one package source only");
    assert.ok(!/AWS_SECRET|ORIGIN_SECRET/.test(evaluation.unit), "no secret in the store");
    assert.deepEqual(lines(evaluation.unit, "EnvironmentFile"), [
      "/run/keys/s3.env",
      "/run/keys/origin.env",
    ]);
    assert.match(lines(evaluation.unit, "ExecStartPost")[0]!, /http:\/\/127\.0\.0\.1:9000\/livez$/);
    assert.deepEqual(evaluation.firewall, [9000]);
    assert.deepEqual(evaluation.buildMachines, ["arm-builder"]);
    assert.equal(evaluation.distributedBuilds, true);
  });

  it("refuses settings that cannot work, with a message", { skip }, () => {
    assert.deepEqual(evaluate({ source: { channel: "nixos-24.05", path: "/srv/pkgs" } }).failed, [
      "services.nixery-edge.source: set exactly one of channel, repo and path.",
    ]);
    assert.deepEqual(evaluate({ storage: { backend: "s3" } }).failed, [
      'services.nixery-edge.storage: backend "s3" needs s3.endpoint and credentialsFile.',
    ]);
    assert.deepEqual(evaluate({ originPrivate: true }).failed, [
      "services.nixery-edge.originPrivate needs ORIGIN_SECRET in environmentFile.",
    ]);
  });

  it(
    "generates a unit systemd-analyze accepts",
    {
      skip:
        skip ||
        (spawnSync("systemd-analyze", ["--version"]).status === 0 ? false : "no systemd-analyze"),
    },
    async () => {
      const { unit } = evaluate();
      const dir = await mkdtemp(join(tmpdir(), "nixery-nixos-unit-"));
      try {
        await writeFile(join(dir, "nixery-edge.service"), unit);
        const result = spawnSync("systemd-analyze", ["verify", join(dir, "nixery-edge.service")], {
          encoding: "utf8",
        });
        // The store paths of an evaluation that was never built do not exist here: only those
        // complaints are expected.
        const complaints = `${result.stdout}${result.stderr}`
          .split("\n")
          .filter(
            (line) =>
              line.trim() !== "" && !/Command \/nix\/store\/\S+ is not executable/.test(line),
          );
        assert.deepEqual(complaints, []);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  );
});
