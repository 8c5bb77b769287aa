import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { ResolvedSource } from "../nix/source.ts";
import { RevisionMemo } from "./revision-memo.ts";

const source = (revision: string): ResolvedSource => ({
  id: "git:repo",
  revision,
  pinned: false,
  nixArgs: [],
  nixOptions: [],
});

describe("RevisionMemo", () => {
  it("shares one resolution among concurrent callers and keeps it for its time-to-live", async () => {
    let now = 0;
    let calls = 0;
    const memo = new RevisionMemo(
      async (tag) => source(`${tag}-${++calls}`),
      60_000,
      () => now,
    );
    const [a, b] = await Promise.all([memo.get("latest"), memo.get("latest")]);
    assert.equal(a.revision, "latest-1");
    assert.equal(b.revision, "latest-1");
    now = 59_999;
    assert.equal((await memo.get("latest")).revision, "latest-1");
    now = 60_000;
    assert.equal((await memo.get("latest")).revision, "latest-2");
    assert.equal((await memo.get("v1")).revision, "v1-3");
  });

  it("remembers failures too, without leaving them unhandled", async () => {
    let calls = 0;
    const memo = new RevisionMemo(async () => {
      calls++;
      throw new Error("git ls-remote failed");
    }, 60_000);
    memo.get("latest"); // nobody waits for this one
    await assert.rejects(memo.get("latest"), /ls-remote/);
    assert.equal(calls, 1);
  });
});
