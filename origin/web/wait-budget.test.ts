import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { WaitBudget } from "./wait-budget.ts";

describe("wait budget", () => {
  it("bounds waits per client and in total, and gives each back once", () => {
    const budget = new WaitBudget(2, 3);
    const a1 = budget.take("a");
    const a2 = budget.take("a");
    assert.ok(a1 && a2);
    assert.equal(budget.take("a"), null, "a third wait of one client");
    const b1 = budget.take("b");
    assert.ok(b1);
    assert.equal(budget.take("c"), null, "past the total");
    a1();
    a1();
    assert.equal(budget.waiting, 2, "a release counts once");
    assert.ok(budget.take("c"));
    assert.equal(budget.take("a"), null);
    a2();
    b1();
    assert.ok(budget.take("a"));
  });
});
