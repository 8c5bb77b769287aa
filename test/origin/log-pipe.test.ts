// An origin whose log reader goes away (its supervisor's pipe closed, a log shipper restarted)
// keeps serving and stays idle: the lines it can no longer write are dropped, not turned into an
// endless loop of errors about writing them (which starved the server: requests went unanswered).

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { startOrigin, type OriginProcess } from "../support/origin-process.ts";

/** CPU seconds (user + system) a process has used, from /proc. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

describe("an origin whose stdout is closed", () => {
  let origin: OriginProcess;
  before(async () => {
    origin = await startOrigin();
  });
  after(async () => {
    await origin.stop();
  });

  it("keeps answering and does not spin on the lines it cannot write", async () => {
    origin.process.stdout!.destroy();
    // Requests that log: unknown packages are evaluated and their failure is logged.
    for (let i = 0; i < 5; i++) {
      const response = await fetch(`${origin.url}/v2/nosuchpackage${i}/manifests/latest`, {
        signal: AbortSignal.timeout(30_000),
      });
      assert.equal(response.status, 404);
      await response.body?.cancel();
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    const pid = origin.process.pid!;
    const before = await cpuSeconds(pid);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const used = (await cpuSeconds(pid)) - before;
    assert.ok(used < 0.5, `an idle origin used ${used.toFixed(2)} s of CPU in 3 s`);
    const live = await fetch(`${origin.url}/livez`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(live.status, 200);
    await live.body?.cancel();
    assert.equal(origin.process.exitCode, null, "still running");
  });
});
