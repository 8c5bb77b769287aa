// Waiting for a build's progress costs the origin a bounded amount, and nothing once the client is
// gone: against a real origin building a package that never finishes (`hangs`), one client's
// long polls are held up to the per-client bound and the next is answered at once; when the
// clients go away (their connections close), their share is free again.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startOrigin, type OriginProcess } from "../support/origin-process.ts";

interface State {
  state: string;
  progress: { seq: number; phase: string; queuePosition: number | null } | null;
}

describe("progress long polls at the origin", { timeout: 120_000 }, () => {
  let origin: OriginProcess;

  before(async () => {
    origin = await startOrigin({ env: { NIXERY_MAX_BUILDS: "1" } });
  });
  after(async () => {
    await origin?.stop();
  });

  it("holds at most 6 per client, and frees them when the clients leave", async () => {
    const url = `${origin.url}/api/builds/hangs:latest`;
    const started = (await (await fetch(url, { method: "POST" })).json()) as State;
    assert.equal(started.state, "running");
    // Wait until Nix runs the build, so the progress stays still.
    let seq = started.progress!.seq;
    for (let phase = ""; phase !== "realising";) {
      const state = (await (await fetch(`${url}?after=${seq}`)).json()) as State;
      seq = state.progress!.seq;
      phase = state.progress!.phase;
    }
    const settle = async () => {
      // A quiet moment: the build's output lines have been read.
      for (;;) {
        const before = Date.now();
        const state = (await (
          await fetch(`${url}?after=${seq}`, { signal: AbortSignal.timeout(1500) }).catch(
            () => null,
          )
        )?.json()) as State | undefined;
        if (!state) return;
        seq = state.progress!.seq;
        if (Date.now() - before > 1400) return;
      }
    };
    await settle();

    const leaving = Array.from({ length: 6 }, () => new AbortController());
    const held = leaving.map((controller) =>
      fetch(`${url}?after=${seq}`, { signal: controller.signal }).then(
        () => "answered",
        () => "left",
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    const t0 = Date.now();
    const seventh = (await (await fetch(`${url}?after=${seq}`)).json()) as State;
    assert.equal(seventh.state, "running");
    assert.ok(Date.now() - t0 < 1000, `the 7th was answered at once (${Date.now() - t0} ms)`);

    for (const controller of leaving) controller.abort();
    assert.deepEqual(await Promise.all(held), Array(6).fill("left"));
    // Their places are free: a new poll is held again (it does not answer within a second).
    await new Promise((resolve) => setTimeout(resolve, 300));
    const again = await fetch(`${url}?after=${seq}`, { signal: AbortSignal.timeout(1000) }).then(
      () => "answered",
      () => "held",
    );
    assert.equal(again, "held");
  });

  it("says where a build waits in the queue while the one build slot is taken", async () => {
    const url = `${origin.url}/api/builds/goodbye:latest`;
    let state = (await (await fetch(url, { method: "POST" })).json()) as State;
    // Long polls until the build has reached the limiter (the slot is held by `hangs`).
    while (state.state === "running" && state.progress?.queuePosition == null) {
      state = (await (await fetch(`${url}?after=${state.progress!.seq}`)).json()) as State;
    }
    assert.equal(state.state, "running");
    assert.equal(state.progress?.phase, "queued");
    assert.equal(state.progress?.queuePosition, 1);
  });
});
