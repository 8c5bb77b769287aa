import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PhaseTimes } from "./phase-times.ts";

describe("PhaseTimes", () => {
  it("charges each phase the time since the previous mark, and sums concurrent work", () => {
    let now = 1000;
    const times = new PhaseTimes(() => now);
    now += 120.4;
    times.end("lookupMs");
    now += 30;
    times.end("closureMs");
    times.add("packMs", 500);
    times.add("packMs", 250.6);
    now += 700;
    times.end("layersMs");
    // A phase passed twice (a lookup that ran again) adds up.
    now += 5;
    times.end("lookupMs");
    assert.deepEqual(times.fields(), {
      lookupMs: 125,
      closureMs: 30,
      packMs: 751,
      layersMs: 700,
    });
  });
});
