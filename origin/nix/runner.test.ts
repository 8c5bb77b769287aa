import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createNixRunner } from "./runner.ts";

const env = { PATH: "/usr/bin:/bin", ONLY_THIS: "yes" };

describe("createNixRunner", () => {
  it("passes argv without a shell and collects stdout", async () => {
    const run = createNixRunner({ env });
    const result = await run("printf", ["%s|", "a; echo injected", "$HOME", "`id`"]);
    assert.equal(result.exitCode, 0);
    assert.equal(result.stdout, "a; echo injected|$HOME|`id`|");
    assert.equal(result.timedOut, false);
  });

  it("gives the child exactly the configured environment plus per-call variables", async () => {
    const run = createNixRunner({ env });
    const result = await run("env", [], { env: { EXTRA: "1" } });
    const names = result.stdout
      .trim()
      .split("\n")
      .map((line) => line.split("=")[0])
      .sort();
    assert.deepEqual(names, ["EXTRA", "ONLY_THIS", "PATH"]);
  });

  it("keeps only the last lines of stderr and reports the exit code", async () => {
    const run = createNixRunner({ env, stderrLines: 3 });
    const result = await run("sh", ["-c", "for i in 1 2 3 4 5; do echo line$i >&2; done; exit 7"]);
    assert.equal(result.exitCode, 7);
    assert.deepEqual(result.stderrTail, ["line3", "line4", "line5"]);
  });

  it("stops a process that runs too long with SIGTERM", async () => {
    const run = createNixRunner({ env });
    const started = Date.now();
    const result = await run("sleep", ["30"], { timeoutMs: 200 });
    assert.equal(result.timedOut, true);
    assert.equal(result.signal, "SIGTERM");
    assert.ok(Date.now() - started < 5_000);
  });

  it("sends SIGKILL when SIGTERM is ignored past the grace period", async () => {
    const run = createNixRunner({ env, killGraceMs: 300 });
    const result = await run("sh", ["-c", "trap '' TERM; while :; do sleep 0.05; done"], {
      timeoutMs: 200,
    });
    assert.equal(result.timedOut, true);
    assert.equal(result.signal, "SIGKILL");
  });

  it("rejects with the abort reason once the process is stopped", async () => {
    const run = createNixRunner({ env });
    const controller = new AbortController();
    const pending = run("sleep", ["30"], { signal: controller.signal });
    setTimeout(() => controller.abort(new Error("client went away")), 100);
    await assert.rejects(pending, /client went away/);
    const already = run("true", [], { signal: controller.signal });
    await assert.rejects(already, /client went away/);
  });

  it("rejects when the program does not exist", async () => {
    const run = createNixRunner({ env });
    await assert.rejects(run("no-such-program-here", []), /ENOENT/);
  });
});
