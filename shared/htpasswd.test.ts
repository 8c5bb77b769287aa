import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { dummyCost, HtpasswdInvalid, parseHtpasswd } from "./htpasswd.ts";

// Written by `htpasswd -nbB alice secret` (Debian's apache2-utils 2.4).
const alice = "alice:$2y$05$/eOS7FSFNf.42sDnCVY8E..aAfxSr9U4FX8WabrTHMsyR8JXNHGO2";

describe("htpasswd files", () => {
  it("reads bcrypt entries, skipping blank lines, comments and CRLF", () => {
    const entries = parseHtpasswd(
      `# users\r\n${alice}\r\n\nbob:$2b$10$abcdefghijklmnopqrstuuhKF09ZYWwH2zP/0fwE1X8e/Q1YNx/hO\n`,
    );
    assert.deepEqual(
      entries.map((entry) => [entry.user, entry.cost]),
      [
        ["alice", 5],
        ["bob", 10],
      ],
    );
  });

  it("refuses other schemes, bad lines and duplicates, naming the line", () => {
    const cases: [string, RegExp][] = [
      ["carol:$apr1$abc$def", /line 1: user carol has MD5 \(\$apr1\$\); only bcrypt/],
      ["dave:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", /SHA-1/],
      ["erin:plain", /plain text/],
      ["nocolon", /line 1: expected user:hash/],
      [`${alice}\n${alice}`, /line 2: user alice is listed twice/],
      ["x:$2y$05$short", /malformed bcrypt/],
    ];
    for (const [text, message] of cases) {
      assert.throws(
        () => parseHtpasswd(text),
        (error: unknown) => error instanceof HtpasswdInvalid && message.test(error.message),
        text,
      );
    }
  });

  it("gives unknown users the most common cost", () => {
    const entries = parseHtpasswd(alice);
    assert.deepEqual(dummyCost(entries), { cost: 5, mixedCosts: false });
    const mixed = [
      ...entries,
      { user: "b", hash: "", cost: 12 },
      { user: "c", hash: "", cost: 12 },
    ];
    assert.deepEqual(dummyCost(mixed), { cost: 12, mixedCosts: true });
    assert.deepEqual(dummyCost([]), { cost: 5, mixedCosts: false });
  });
});
