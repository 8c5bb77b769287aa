// The origin on the s3 storage backend against a real S3-protocol server: a full image pull,
// streamed through the origin and, with presigning on, redirected to the bucket.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runInRootfs, skopeoCopy, umociUnpack } from "../support/clients.ts";
import { startOrigin } from "../support/origin-process.ts";
import { originS3Env, startS3Server, type S3TestServer } from "../support/s3-server.ts";

describe("origin on the s3 backend", () => {
  let s3: S3TestServer;
  let work: string;

  before(async () => {
    s3 = await startS3Server();
    work = await mkdtemp(join(tmpdir(), "nixery-s3-pull-"));
  });
  after(async () => {
    await s3?.stop();
    await rm(work, { recursive: true, force: true });
  });

  const s3Env = () => ({
    ...originS3Env(s3),
    S3_PART_SIZE_MB: "5",
    NIXERY_BIG_PATH_BYTES: "10000000",
  });

  for (const [label, extra] of [
    ["streamed through the origin", {}],
    ["redirected to presigned URLs", { S3_PRESIGN_SECONDS: "300" }],
  ] as const) {
    it(`pulls an image whose blobs are in the bucket, ${label}`, async () => {
      const origin = await startOrigin({ env: { ...s3Env(), ...extra } });
      try {
        const layout = join(work, label.replace(/\W+/g, "-"));
        const copy = await skopeoCopy(`127.0.0.1:${origin.port}`, "bigdata/hello:latest", layout);
        assert.equal(copy.code, 0, copy.stderr);
        const rootfs = await umociUnpack(layout, `${layout}-bundle`);
        const hello = await runInRootfs(rootfs, ["/bin/hello"]);
        assert.equal(hello.stdout.trim(), "hello: greetings from libgreet", hello.stderr);

        const manifest = JSON.parse(
          await (await fetch(`${origin.url}/v2/bigdata/hello/manifests/latest`)).text(),
        ) as { layers: { digest: string; size: number }[] };
        const big = manifest.layers.find((layer) => layer.size > 5 * 1024 * 1024);
        assert.ok(big, "the big layer went up in parts");
        // It went up while it was packed, staged under _staging/ and copied: nothing is left
        // there, and no multipart upload is left open.
        const bucketDir = join(s3.directory, s3.bucket);
        assert.ok(!(await readdir(bucketDir)).includes("_staging"), "no staging objects left");
        assert.deepEqual(
          await readdir(join(bucketDir, "._S3rver_uploads")).catch(() => []),
          [],
          "no unfinished uploads",
        );
        const response = await fetch(`${origin.url}/v2/bigdata/blobs/${big.digest}`, {
          redirect: "manual",
        });
        if ("S3_PRESIGN_SECONDS" in extra) {
          assert.equal(response.status, 307);
          assert.match(response.headers.get("location") ?? "", /X-Amz-Signature=/);
        } else {
          assert.equal(response.status, 200);
          assert.equal(response.headers.get("content-length"), String(big.size));
        }
        await response.arrayBuffer();
      } finally {
        await origin.stop();
      }
    });
  }
});
