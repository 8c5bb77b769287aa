// Start-up as an operator meets it: every misconfiguration is one line naming the variable, its
// value and what is wrong, with exit status 2; a data dir belongs to one origin; a crash (kill -9)
// leaves nothing behind after the next start.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { S3Client } from "../../origin/storage/s3-client.ts";
import { runOriginToExit, startOrigin } from "../support/origin-process.ts";
import { originS3Env, startS3Server, type S3TestServer } from "../support/s3-server.ts";

let work: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), "nixery-startup-"));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Runs an origin that must refuse to start; returns its one line of complaint. */
async function refusal(env: Record<string, string>, dataDir?: string): Promise<string> {
  const dir = dataDir ?? (await mkdtemp(join(work, "data-")));
  const result = await runOriginToExit(dir, { env });
  assert.equal(result.code, 2, `exit status 2, got ${result.code}: ${result.stderr}`);
  const lines = result.stderr.trim().split("\n");
  assert.equal(lines.length, 1, `one line, got:\n${result.stderr}`);
  assert.doesNotMatch(result.stderr, /\n\s+at |Error:/, "no stack trace");
  return lines[0]!;
}

describe("start-up checks", () => {
  it("names a port that is in use", async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const line = await refusal({ PORT: String(port) });
      assert.equal(
        line,
        `configuration error: PORT=${port}: 127.0.0.1:${port} is already in use; stop what listens there or choose another PORT`,
      );
    } finally {
      blocker.close();
    }
  });

  it("names a data dir that cannot be a directory", async () => {
    const file = join(work, "a-file");
    await writeFile(file, "not a directory");
    const line = await refusal({}, join(file, "data"));
    assert.match(
      line,
      new RegExp(
        `^configuration error: NIXERY_DATA_DIR=${file}/data: cannot use it as a directory \\(ENOTDIR`,
      ),
    );
  });

  it("names a package path that does not exist, or is not a package set", async () => {
    const missing = join(work, "no-such-set");
    assert.match(
      await refusal({ NIXERY_PKGS_PATH: missing }),
      new RegExp(`^configuration error: NIXERY_PKGS_PATH=${missing}: does not exist`),
    );
    const empty = await mkdtemp(join(work, "empty-"));
    assert.equal(
      await refusal({ NIXERY_PKGS_PATH: empty }),
      `configuration error: NIXERY_PKGS_PATH=${empty}: is a directory without default.nix, so not a Nix package set`,
    );
    const number = await mkdtemp(join(work, "number-"));
    await writeFile(join(number, "default.nix"), "42\n");
    assert.equal(
      await refusal({ NIXERY_PKGS_PATH: number }),
      `configuration error: NIXERY_PKGS_PATH=${number}: does not evaluate to an attribute set of packages`,
    );
    const broken = await mkdtemp(join(work, "broken-"));
    await writeFile(join(broken, "default.nix"), "{ this is not nix\n");
    assert.match(
      await refusal({ NIXERY_PKGS_PATH: broken }),
      new RegExp(`^configuration error: NIXERY_PKGS_PATH=${broken}: is not a Nix package set: `),
    );
  });

  it("names an unreadable popularity file", async () => {
    const missing = join(work, "popularity.json");
    assert.match(
      await refusal({ NIX_POPULARITY_URL: missing }),
      new RegExp(`^configuration error: NIX_POPULARITY_URL=${missing}: cannot read file \\(ENOENT`),
    );
  });

  it("names an htpasswd file it cannot use, and the line that is wrong", async () => {
    const file = join(work, "htpasswd");
    await writeFile(file, "# users\nalice:$apr1$xyz$0123456789abcdefghijkl\n");
    assert.equal(
      await refusal({ NIXERY_HTPASSWD: file }),
      `configuration error: NIXERY_HTPASSWD=${file}: line 2: user alice has MD5 ($apr1$); only bcrypt entries are accepted (htpasswd -B)`,
    );
    await writeFile(file, "# nobody yet\n");
    assert.equal(
      await refusal({ NIXERY_HTPASSWD: file }),
      `configuration error: NIXERY_HTPASSWD=${file}: lists no users; add one with htpasswd -B FILE NAME`,
    );
    const missing = join(work, "no-htpasswd");
    assert.match(
      await refusal({ NIXERY_HTPASSWD: missing }),
      new RegExp(`^configuration error: NIXERY_HTPASSWD=${missing}: cannot read it \\(ENOENT`),
    );
  });

  it("names a deploy key ssh would refuse", async () => {
    const key = join(work, "deploy_key");
    await writeFile(key, "not really a key\n", { mode: 0o644 });
    await chmod(key, 0o644);
    const env = { NIXERY_PKGS_REPO: "ssh://git@127.0.0.1:1/pkgs.git", NIXERY_PKGS_SSH_KEY: key };
    assert.equal(
      await refusal(env),
      `configuration error: NIXERY_PKGS_SSH_KEY=${key}: is readable by others (mode 644); ssh refuses such keys: chmod 600 it`,
    );
    assert.match(
      await refusal({ ...env, NIXERY_PKGS_SSH_KEY: join(work, "none") }),
      /^configuration error: NIXERY_PKGS_SSH_KEY=.*none: cannot read it \(ENOENT/,
    );
  });

  it("rejects a bad value with the variable's name", async () => {
    assert.equal(
      await refusal({ NIXERY_MAX_BUILDS: "lots" }),
      'configuration error: NIXERY_MAX_BUILDS must be a whole number, got "lots"',
    );
  });

  describe("on S3", () => {
    let s3: S3TestServer;
    before(async () => {
      s3 = await startS3Server();
    });
    after(async () => {
      await s3?.stop();
    });
    const s3Env = (overrides: Record<string, string> = {}) => ({
      ...originS3Env(s3),
      ...overrides,
    });

    it("names an unreachable endpoint", async () => {
      const blocker: Server = createServer();
      await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
      const port = (blocker.address() as { port: number }).port;
      blocker.close();
      const line = await refusal(s3Env({ S3_ENDPOINT: `http://127.0.0.1:${port}` }));
      assert.match(
        line,
        new RegExp(
          `^configuration error: S3_BUCKET=${s3.bucket} at S3_ENDPOINT=http://127.0.0.1:${port}: unreachable or refused \\(.*ECONNREFUSED`,
        ),
        'the cause, not only "fetch failed"',
      );
    });

    it("names a schemeless endpoint in one line", async () => {
      assert.equal(
        await refusal(s3Env({ S3_ENDPOINT: "127.0.0.1:9" })),
        'configuration error: S3_ENDPOINT must be an http(s) URL, got "127.0.0.1:9" (no scheme: try https://127.0.0.1:9)',
      );
    });

    it("names refused credentials without showing the secret", async () => {
      const secret = "wrong-secret-0123456789";
      const line = await refusal(s3Env({ AWS_SECRET_ACCESS_KEY: secret }));
      assert.match(line, /^configuration error: S3_BUCKET=.*: unreachable or refused \(.*403/);
      assert.ok(!line.includes(secret));
    });

    it("aborts the multipart uploads a crashed run left in its journal, and only those", async () => {
      const dataDir = await mkdtemp(join(work, "s3-crash-"));
      const client = new S3Client({
        endpoint: s3.endpoint,
        bucket: s3.bucket,
        accessKeyId: s3.accessKeyId,
        secretAccessKey: s3.secretAccessKey,
      });
      const create = async (key: string) => {
        const response = await client.send({ method: "POST", key, query: { uploads: "" } });
        return /<UploadId>([^<]+)<\/UploadId>/.exec(await response.text())![1]!;
      };
      const ours = await create("blobs/sha256/ours");
      const theirs = await create("blobs/sha256/theirs");
      // What uploadMultipart journals before its first part (origin/storage/upload-journal.ts).
      const { UploadJournal } = await import("../../origin/storage/upload-journal.ts");
      const journal = await new UploadJournal(join(dataDir, "uploads")).init();
      await journal.add({ key: "blobs/sha256/ours", uploadId: ours, startedAt: 0 });
      await mkdir(join(dataDir, "scratch"), { recursive: true });
      await writeFile(join(dataDir, "scratch", "left-by-crash.tar.gz"), "partial");

      const origin = await startOrigin({ dataDir, env: s3Env() });
      try {
        const cleaned = origin.logs.find(
          (line) => line.event === "removed leftovers of an earlier run",
        );
        assert.equal(cleaned?.abortedUploads, 1);
        assert.equal(cleaned?.scratchFiles, 1);
        const listed = await (await client.send({ method: "GET", query: { uploads: "" } })).text();
        assert.ok(!listed.includes(ours), "our upload is aborted");
        assert.ok(listed.includes(theirs), "another origin's upload is left alone");
        assert.deepEqual(await readdir(join(dataDir, "uploads")), []);
      } finally {
        await origin.stop();
      }
    });
  });
});

describe("a data dir belongs to one origin", () => {
  it("refuses a second origin on the same data dir, and frees it when the first is killed", async () => {
    const dataDir = await mkdtemp(join(work, "shared-"));
    const first = await startOrigin({ dataDir });
    try {
      const line = await refusal({}, dataDir);
      assert.match(
        line,
        new RegExp(
          `^configuration error: NIXERY_DATA_DIR=${dataDir}: is in use by another origin \\(pid ${first.process.pid}, started .*\\); stop that origin or give this one its own NIXERY_DATA_DIR$`,
        ),
      );
    } finally {
      first.process.kill("SIGKILL");
      await first.stop();
    }
    const second = await startOrigin({ dataDir });
    await second.stop();
  });

  it("leaves no staging files after kill -9 in the middle of packing", async () => {
    const dataDir = await mkdtemp(join(work, "killed-"));
    const staging = join(dataDir, "storage", "_staging");
    const origin = await startOrigin({ dataDir });
    let sawStaging = false;
    try {
      // bigdata is a 26 MB layer: packing takes long enough to be caught writing it.
      const pull = fetch(`${origin.url}/v2/bigdata/manifests/latest`).catch(() => null);
      for (let i = 0; i < 2000 && !sawStaging; i++) {
        const names = await readdir(staging).catch(() => [] as string[]);
        sawStaging = names.length > 0;
        if (!sawStaging) await new Promise((resolve) => setTimeout(resolve, 5));
      }
      origin.process.kill("SIGKILL");
      await pull;
    } finally {
      origin.process.kill("SIGKILL");
      await origin.stop();
    }
    // Whether or not the kill landed mid-write, a leftover from a crash is planted as well.
    await mkdir(staging, { recursive: true });
    await writeFile(join(staging, "planted.put"), "half a layer");
    const restarted = await startOrigin({ dataDir });
    try {
      assert.deepEqual(
        await readdir(staging),
        [],
        `staging is empty (caught mid-pack: ${sawStaging})`,
      );
      const response = await fetch(`${restarted.url}/v2/bigdata/manifests/latest`);
      assert.equal(response.status, 200);
      await response.arrayBuffer();
    } finally {
      await restarted.stop();
    }
  });
});
