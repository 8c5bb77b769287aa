// Storage garbage collection that never breaks a pull: an unused image's unique objects leave
// storage while an image in use keeps all of its own; the collected image requested again, by
// tag, by manifest digest or by one of its blob digests, comes back with the same digests and
// runs; orphans go too; a layer whose store paths the Nix store collected is built again. On the
// filesystem backend and on S3 (s3rver).

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { mediaTypes } from "../../shared/media-types.ts";
import { S3Storage } from "../../origin/storage/s3.ts";
import type { Storage } from "../../origin/storage/storage.ts";
import { FilesystemStorage } from "../../origin/storage/filesystem.ts";
import { runInRootfs, skopeoCopy, umociUnpack } from "../support/clients.ts";
import { testNixEnv } from "../support/nix-env.ts";
import { runOriginToExit, startOrigin, type OriginProcess } from "../support/origin-process.ts";
import { originS3Env, startS3Server, type S3TestServer } from "../support/s3-server.ts";
import { originPaths } from "../../shared/origin-protocol.ts";

const exec = promisify(execFile);
const gcSet = fileURLToPath(new URL("../fixtures/gc-pkgs", import.meta.url));
const secret = "gc-test-secret";
const unusedSeconds = 3;

interface ImageDigests {
  manifest: string;
  blobs: string[];
}

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), "nixery-gc-"));
});
after(() => rm(work, { recursive: true, force: true }));

async function digestsOf(origin: OriginProcess, name: string): Promise<ImageDigests> {
  const response = await fetch(`${origin.url}/v2/${name}/manifests/latest`, {
    headers: { Accept: mediaTypes.dockerManifest },
  });
  assert.equal(response.status, 200, await response.clone().text());
  const manifest = (await response.json()) as {
    config: { digest: string };
    layers: { digest: string }[];
  };
  return {
    manifest: response.headers.get("docker-content-digest")!,
    blobs: [manifest.config.digest, ...manifest.layers.map((layer) => layer.digest)],
  };
}

async function pullAndRun(origin: OriginProcess, name: string, args: string[]): Promise<string> {
  const layout = join(work, `${name.replaceAll("/", "_")}-${randomBytes(4).toString("hex")}`);
  const copy = await skopeoCopy(`127.0.0.1:${origin.port}`, `${name}:latest`, layout);
  assert.equal(copy.code, 0, copy.stderr);
  const rootfs = await umociUnpack(layout, `${layout}-bundle`);
  const run = await runInRootfs(rootfs, args);
  assert.equal(run.code, 0, run.stderr);
  return run.stdout;
}

async function collect(origin: OriginProcess) {
  const response = await fetch(`${origin.url}${originPaths.gc.path()}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${secret}` },
  });
  assert.equal(response.status, 200, await response.clone().text());
  return (await response.json()) as {
    deleted: { objects: number; bytes: number; keys: string[] };
    kept: { objects: number; bytes: number };
  };
}

async function storedDigests(storage: Storage): Promise<Set<string>> {
  const digests = new Set<string>();
  for (const prefix of ["blobs/", "manifests/"]) {
    for await (const object of storage.list(prefix)) {
      digests.add(`sha256:${object.key.split("/").at(-1)}`);
    }
  }
  return digests;
}

function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Backend {
  name: string;
  env: () => Record<string, string>;
  /** The same storage the origin writes, for the test to look into. */
  storage: (dataDir: string) => Promise<Storage>;
  setUp?: () => Promise<void>;
  tearDown?: () => Promise<void>;
}

let s3: S3TestServer;
const backends: Backend[] = [
  {
    name: "filesystem",
    env: () => ({}),
    storage: (dataDir) => new FilesystemStorage(join(dataDir, "storage")).init(),
  },
  {
    name: "s3",
    setUp: async () => {
      s3 = await startS3Server();
    },
    tearDown: async () => {
      await s3?.stop();
    },
    env: () => originS3Env(s3),
    storage: (dataDir) =>
      new S3Storage({
        endpoint: s3.endpoint,
        bucket: s3.bucket,
        accessKeyId: s3.accessKeyId,
        secretAccessKey: s3.secretAccessKey,
        scratchDir: join(dataDir, "test-scratch"),
      }).init(),
  },
];

for (const backend of backends) {
  describe(`storage collection on ${backend.name}`, () => {
    let origin: OriginProcess;
    let storage: Storage;
    before(async () => {
      await backend.setUp?.();
      const dataDir = await mkdtemp(join(work, `${backend.name}-`));
      origin = await startOrigin({
        dataDir,
        env: {
          ...backend.env(),
          ORIGIN_SECRET: secret,
          NIXERY_GC_UNUSED_SECONDS: String(unusedSeconds),
          NIXERY_GC_GRACE_SECONDS: "0",
          NIXERY_GC_INTERVAL_SECONDS: "0",
          NIXERY_TAG_TTL_SECONDS: "3600",
        },
      });
      storage = await backend.storage(dataDir);
    });
    after(async () => {
      await origin?.stop();
      await backend.tearDown?.();
    });

    it("removes an unused image's own objects and keeps every object of an image in use", async () => {
      const unused = await digestsOf(origin, "hello");
      const inUse = await digestsOf(origin, "goodbye/jq");
      await pullAndRun(origin, "goodbye/jq", ["/bin/goodbye"]);
      const shared = new Set(inUse.blobs);
      const unique = unused.blobs.filter((digest) => !shared.has(digest));
      assert.ok(unique.length > 0, "hello has layers goodbye/jq lacks");

      await sleep(unusedSeconds * 1000 + 500);
      await digestsOf(origin, "goodbye/jq"); // a pull keeps it in use
      // An orphan: an object no image holds, as a crashed build or the edge can leave.
      const orphan = randomBytes(64);
      await storage.putBytes(`blobs/sha256/${sha256(orphan).slice(7)}`, new Uint8Array(orphan), {
        sha256: sha256(orphan).slice(7),
      });
      const before = await storedDigests(storage);
      const report = await collect(origin);

      const after = await storedDigests(storage);
      for (const digest of [inUse.manifest, ...inUse.blobs]) {
        assert.ok(after.has(digest), `${digest} of the image in use is kept`);
      }
      for (const digest of [unused.manifest, ...unique]) {
        assert.ok(
          before.has(digest) && !after.has(digest),
          `${digest} of the unused image is gone`,
        );
      }
      assert.ok(!after.has(sha256(orphan)), "the orphan is gone");
      assert.ok(
        report.deleted.objects >= unique.length + 3,
        "two manifests, its layers, the orphan",
      );
      assert.ok(report.deleted.bytes > 0);
    });

    it("brings a collected image back by tag, by manifest digest and by blob digest", async () => {
      const original = await digestsOf(origin, "hello");
      // By tag: same digests, and the image runs.
      assert.deepEqual(await digestsOf(origin, "hello"), original);
      assert.match(await pullAndRun(origin, "hello", ["/bin/hello"]), /greetings from libgreet/);

      // By manifest digest and by blob digest, after another collection.
      await sleep(unusedSeconds * 1000 + 500);
      await digestsOf(origin, "goodbye/jq");
      await collect(origin);
      assert.ok(!(await storedDigests(storage)).has(original.manifest));
      const byDigest = await fetch(`${origin.url}/v2/hello/manifests/${original.manifest}`, {
        headers: { Accept: mediaTypes.dockerManifest },
      });
      const manifestBytes = new Uint8Array(await byDigest.arrayBuffer());
      assert.equal(byDigest.status, 200, new TextDecoder().decode(manifestBytes));
      assert.equal(sha256(manifestBytes), original.manifest);
      for (const digest of original.blobs) {
        const blob = await fetch(`${origin.url}/v2/hello/blobs/${digest}`);
        const bytes = new Uint8Array(await blob.arrayBuffer());
        assert.equal(blob.status, 200, `${digest}: ${new TextDecoder().decode(bytes)}`);
        assert.equal(sha256(bytes), digest);
      }
      const metrics = await (await fetch(`${origin.url}/metrics`)).text();
      assert.match(metrics, /nixery_restored_objects_total [1-9]/);
      assert.match(metrics, /nixery_gc_runs_total\{outcome="done"\} 2/);
      assert.match(metrics, /nixery_gc_freed_bytes_total [1-9]/);
      assert.match(metrics, /nixery_storage_bytes [1-9]/);
    });

    it("counts the edge's reports of pulls it answered as uses", async () => {
      const image = await digestsOf(origin, "goodbye");
      await sleep(unusedSeconds * 1000 + 500);
      const report = await fetch(`${origin.url}${originPaths.usage.path()}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${secret}`, "Content-Type": "application/json" },
        body: JSON.stringify({ digests: [image.manifest] }),
      });
      assert.equal(report.status, 200);
      const malformed = await fetch(`${origin.url}/_origin/usage`, {
        method: "POST",
        headers: { Authorization: `Bearer ${secret}`, "Content-Type": "application/json" },
        body: JSON.stringify({ digests: "sha256:nope" }),
      });
      assert.equal(malformed.status, 400, "a malformed report is a registry error");
      assert.equal(malformed.headers.get("content-type"), "application/json");
      await malformed.arrayBuffer();
      const unauthorised = await fetch(`${origin.url}/_origin/usage`, {
        method: "POST",
        body: "{}",
      });
      assert.equal(unauthorised.status, 401);
      await unauthorised.arrayBuffer();
      await collect(origin);
      const after = await storedDigests(storage);
      for (const digest of [image.manifest, ...image.blobs]) assert.ok(after.has(digest));
    });
  });
}

describe("npm run gc", () => {
  it("asks the running origin to collect, or collects itself when none runs, and prints what it removed", async () => {
    const dataDir = await mkdtemp(join(work, "command-"));
    const env = {
      ORIGIN_SECRET: secret,
      NIXERY_GC_UNUSED_SECONDS: "0",
      NIXERY_GC_GRACE_SECONDS: "0",
      NIXERY_GC_INTERVAL_SECONDS: "0",
    };
    const origin = await startOrigin({ dataDir, env });
    let image: ImageDigests;
    try {
      image = await digestsOf(origin, "hello");
      const asked = await runOriginToExit(dataDir, { env, args: ["gc"] });
      assert.equal(asked.code, 0, asked.stderr);
      assert.match(asked.stderr, /an origin is running on .*; asking it/);
      assert.match(asked.stdout, /^removed \d+ objects/m);
      assert.ok(asked.stdout.includes(`manifests/sha256/${image.manifest.slice(7)}`), asked.stdout);
      // Requested again, so there is something to collect once the origin is gone.
      await digestsOf(origin, "hello");
    } finally {
      await origin.stop();
    }
    const alone = await runOriginToExit(dataDir, { env, args: ["gc"] });
    assert.equal(alone.code, 0, alone.stderr);
    assert.doesNotMatch(alone.stderr, /asking it/);
    assert.ok(alone.stdout.includes(`manifests/sha256/${image.manifest.slice(7)}`), alone.stdout);
    assert.match(alone.stdout, /^images in use: 0; unused/m);
  });
});

describe("a layer whose store paths the Nix store collected", () => {
  it("is built again by Nix and packed to the same digest", async () => {
    const nonce = randomBytes(6).toString("hex");
    const origin = await startOrigin({
      pkgsPath: gcSet,
      env: {
        NIX_TEST_NONCE: nonce,
        ORIGIN_SECRET: secret,
        NIXERY_GC_UNUSED_SECONDS: "0",
        NIXERY_GC_GRACE_SECONDS: "0",
        NIXERY_GC_INTERVAL_SECONDS: "0",
      },
    });
    try {
      const image = await digestsOf(origin, "fleeting");
      await collect(origin);
      // The build released its GC roots; the path exists only for this test run, so deleting it
      // from the shared store touches nothing else.
      const { stdout } = await exec("sh", ["-c", `ls -d /nix/store/*-fleeting-${nonce}`]);
      const path = stdout.trim();
      await exec("nix-store", ["--delete", path], { env: { ...process.env, ...testNixEnv() } });
      await assert.rejects(exec("test", ["-e", path]));

      for (const digest of image.blobs) {
        const blob = await fetch(`${origin.url}/v2/fleeting/blobs/${digest}`);
        const bytes = new Uint8Array(await blob.arrayBuffer());
        assert.equal(blob.status, 200, `${digest}: ${new TextDecoder().decode(bytes)}`);
        assert.equal(sha256(bytes), digest);
      }
      assert.match(await pullAndRun(origin, "fleeting", ["/bin/fleeting"]), new RegExp(nonce));
    } finally {
      await origin.stop();
    }
  });
});
