import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { defaultEdgeLimits, parseStackConfig, StackConfigError } from "./config.ts";
import { compatibilityDate, compatibilityFlags } from "./edge-runtime.ts";

const repoRoot = fileURLToPath(new URL("../", import.meta.url));

describe("the local stack's configuration", () => {
  it("runs the Worker as wrangler.toml deploys it: date, flags and rate limits", async () => {
    const toml = await readFile(`${repoRoot}wrangler.toml`, "utf8");
    assert.match(toml, new RegExp(`^compatibility_date = "${compatibilityDate}"$`, "m"));
    assert.match(
      toml,
      new RegExp(`^compatibility_flags = \\["${compatibilityFlags.join('", "')}"\\]$`, "m"),
    );
    const limit = (name: string) =>
      Number(
        new RegExp(`name = "${name}"\\n[^\\[]*?simple = \\{ limit = (\\d+), period = 60 \\}`).exec(
          toml,
        )?.[1],
      );
    assert.equal(limit("LOGIN_LIMITER"), defaultEdgeLimits.loginFailures);
    assert.equal(limit("BUILD_LIMITER"), defaultEdgeLimits.coldBuilds);
  });

  it("reads the users and limits of a private stack", () => {
    const config = parseStackConfig(
      {
        NIXERY_HTPASSWD: "users.htpasswd",
        NIXERY_BUILD_LIMIT: "0",
        NIXERY_LOGIN_MAX_FAILURES: "3",
      },
      "/srv/nixery/",
    );
    assert.equal(config.htpasswdPath, "/srv/nixery/users.htpasswd");
    assert.deepEqual(config.limits, { loginFailures: 3, coldBuilds: 0 });
    assert.equal(
      config.originEnv.NIXERY_HTPASSWD,
      "users.htpasswd",
      "the origin gets the users too",
    );
    assert.deepEqual(parseStackConfig({}, "/srv/nixery/").limits, defaultEdgeLimits);
    assert.throws(
      () => parseStackConfig({ NIXERY_BUILD_LIMIT: "many" }, "/srv/nixery/"),
      (error: unknown) =>
        error instanceof StackConfigError && /NIXERY_BUILD_LIMIT/.test(error.message),
    );
  });
});
