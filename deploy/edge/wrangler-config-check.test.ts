// The deploy check on its own (every kind of problem, the repository's wrangler.toml passes) and
// as wrangler runs it: `wrangler deploy --dry-run` of a configuration with a placeholder fails
// with the check's line, and the same configuration without it bundles.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { experimental_readRawConfig } from "wrangler";
import { checkWranglerConfig, type WranglerConfig } from "./wrangler-config-check.ts";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const wranglerToml = join(repoRoot, "wrangler.toml");

function repoConfig(): WranglerConfig {
  return experimental_readRawConfig({ config: wranglerToml }).rawConfig as WranglerConfig;
}

describe("the wrangler configuration check", () => {
  it("accepts the repository's wrangler.toml as it is", () => {
    assert.deepEqual(checkWranglerConfig(repoConfig()), []);
  });

  it("names each problem", () => {
    const config: WranglerConfig = {
      vars: { ORIGIN_URL: "builder.internal:8081", ORIGIN_POLL_SECONDS: "90" },
      kv_namespaces: [{ binding: "MANIFESTS", id: "REPLACE_WITH_KV_NAMESPACE_ID" }],
      r2_buckets: [{ binding: "BLOBS" }],
      ratelimits: [{ name: "LOGIN_LIMITER", namespace_id: "x1" }],
      routes: [{ pattern: "registry.example.com", custom_domain: true }],
    };
    assert.deepEqual(checkWranglerConfig(config), [
      'kv_namespaces[0].id = "REPLACE_WITH_KV_NAMESPACE_ID" is a placeholder: remove the line (wrangler creates the namespace on the first deploy) or put your namespace\'s id',
      'routes[0].pattern = "registry.example.com" is a placeholder: set the real value or remove it',
      'vars.ORIGIN_URL = "builder.internal:8081": must be the origin\'s http(s) URL, e.g. https://builder.your-domain',
      'vars.ORIGIN_POLL_SECONDS = "90": must be a whole number of seconds in 1..50',
      'no [[r2_buckets]] with binding = "BLOBS" and a bucket_name (the Worker\'s blobs)',
      'ratelimits[0].namespace_id = "x1": must be a positive whole number, unique in your account',
    ]);
  });

  it("wants ORIGIN_URL as a var or a required secret", () => {
    const config = repoConfig();
    assert.deepEqual(
      checkWranglerConfig({ ...config, vars: { ORIGIN_URL: "https://b.test" } }),
      [],
    );
    assert.match(
      checkWranglerConfig({ ...config, secrets: { required: ["ORIGIN_SECRET"] } }).join("\n"),
      /^ORIGIN_URL is neither in \[vars\] nor in \[secrets\] required/,
    );
  });
});

/** `wrangler deploy --dry-run` of `toml` (placed beside a copy-free pointer to the Worker). */
async function dryRun(toml: string): Promise<{ code: number | null; output: string }> {
  const dir = await mkdtemp(join(tmpdir(), "nixery-wrangler-"));
  try {
    const config = toml
      .replace(/^main = .*$/m, `main = "${join(repoRoot, "worker/index.ts")}"`)
      .replace(
        /^command = .*$/m,
        `command = "node --import tsx ${join(repoRoot, "deploy/edge/check-wrangler.ts")} ${join(dir, "wrangler.toml")}"`,
      );
    await writeFile(join(dir, "wrangler.toml"), config);
    const child = spawn(
      join(repoRoot, "node_modules/.bin/wrangler"),
      ["deploy", "--dry-run", "--outdir", join(dir, "out"), "--config", join(dir, "wrangler.toml")],
      {
        cwd: repoRoot,
        env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", CI: "1" },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let output = "";
    child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    return { code, output };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe("wrangler deploy --dry-run", () => {
  it("refuses a placeholder namespace id and bundles once it is gone", async () => {
    const toml = await readFile(wranglerToml, "utf8");
    const withPlaceholder = toml.replace(
      /^binding = "MANIFESTS"$/m,
      'binding = "MANIFESTS"\nid = "REPLACE_WITH_KV_NAMESPACE_ID"',
    );
    assert.notEqual(withPlaceholder, toml);
    const refused = await dryRun(withPlaceholder);
    assert.notEqual(refused.code, 0, refused.output);
    assert.match(
      refused.output,
      /kv_namespaces\[0\]\.id = "REPLACE_WITH_KV_NAMESPACE_ID" is a placeholder/,
    );
    assert.doesNotMatch(refused.output, /--dry-run: exiting now/);

    const accepted = await dryRun(toml);
    assert.equal(accepted.code, 0, accepted.output);
    assert.match(accepted.output, /--dry-run: exiting now/);
  });
});
