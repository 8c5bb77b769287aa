import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { portOpen, waitFor } from "./wait-for.ts";

describe("waitFor", () => {
  it("resolves with the first value the check gives, however long it takes", async () => {
    let calls = 0;
    const value = await waitFor("the third call", () => (++calls === 3 ? "third" : null), {
      intervalMs: 1,
    });
    assert.equal(value, "third");
    assert.equal(calls, 3);
  });

  it("rejects naming the event once the deadline passes", async () => {
    await assert.rejects(
      waitFor("nothing", () => false, { timeoutMs: 30, intervalMs: 5 }),
      {
        message: "nothing did not happen within 30 ms",
      },
    );
  });

  it("stops early when failIf gives a reason", async () => {
    await assert.rejects(
      waitFor("a child", () => null, { failIf: () => "it exited (1)" }),
      {
        message: "gave up waiting for a child: it exited (1)",
      },
    );
  });

  it("sees a port open and closed", async () => {
    const server = createServer().listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    const { port } = server.address() as { port: number };
    assert.equal(await portOpen(port), true);
    await new Promise((resolve) => server.close(resolve));
    assert.equal(await portOpen(port), false);
  });
});
