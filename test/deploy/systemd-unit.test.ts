// The systemd unit: `systemd-analyze verify` accepts it without a warning (and does warn about a
// misspelt key, so the check can fail), and its readiness probe, run as the unit runs it, passes
// once an origin listens.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startOrigin } from "../support/origin-process.ts";

const unitPath = fileURLToPath(
  new URL("../../deploy/systemd/nixery-edge-origin.service", import.meta.url),
);
const hasAnalyze = spawnSync("systemd-analyze", ["--version"]).status === 0;

function verify(path: string): { status: number | null; output: string } {
  const result = spawnSync("systemd-analyze", ["verify", path], { encoding: "utf8" });
  return { status: result.status, output: `${result.stdout}${result.stderr}`.trim() };
}

describe("the systemd unit", () => {
  it(
    "passes systemd-analyze verify without a warning",
    { skip: hasAnalyze ? false : "systemd-analyze is not installed (apt install systemd)" },
    async () => {
      assert.deepEqual(verify(unitPath), { status: 0, output: "" });
      const dir = await mkdtemp(join(tmpdir(), "nixery-unit-"));
      try {
        const broken = join(dir, "nixery-edge-origin.service");
        const text = await readFile(unitPath, "utf8");
        await writeFile(broken, text.replace("ProtectSystem=strict", "ProtectSytem=strict"));
        assert.match(verify(broken).output, /Unknown key 'ProtectSytem'/);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  );

  it("runs the bin as a dynamic user with its state under StateDirectory", async () => {
    const text = await readFile(unitPath, "utf8");
    const values = (key: string) =>
      [...text.matchAll(new RegExp(`^${key}=(.*)$`, "gm"))].map((match) => match[1]);
    assert.deepEqual(values("ExecStart"), [
      "/usr/bin/node /opt/nixery-edge/bin/nixery-edge-origin.js",
    ]);
    assert.deepEqual(values("DynamicUser"), ["yes"]);
    assert.deepEqual(values("StateDirectory"), ["nixery-edge"]);
    assert.match(values("Environment").join(" "), /NIXERY_DATA_DIR=%S\/nixery-edge/);
    assert.deepEqual(values("RestartPreventExitStatus"), ["2"]);
  });

  it("its readiness probe passes once the origin listens", async () => {
    const text = await readFile(unitPath, "utf8");
    const probe = /^ExecStartPost=(.*)$/m.exec(text)![1]!;
    const origin = await startOrigin();
    try {
      const command = probe.replace("${HOST}", "127.0.0.1").replace("${PORT}", String(origin.port));
      const [file, ...args] = command.split(" ");
      const child = spawn(file!, args, { stdio: "ignore" });
      const status = await new Promise((resolve) => child.once("exit", resolve));
      assert.equal(status, 0, command);
    } finally {
      await origin.stop();
    }
  });
});
