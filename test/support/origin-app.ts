// The origin's HTTP application without a server (app.request), over real storage and a real
// SQLite build record, with a stand-in builder (no Nix) whose package source offers nothing: for
// tests of routes, guards and errors. Private instances get real bcrypt users and real jose tokens.

import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import bcrypt from "bcryptjs";
import { createApp } from "../../origin/app.ts";
import type { AccessControl } from "../../origin/auth/access-control.ts";
import { MemoryLoginLimiter } from "../../shared/memory-login-limiter.ts";
import { bcryptHasher } from "../../shared/password-hasher.ts";
import { createTokenSigner } from "../../shared/token-signer.ts";
import { UsersFile } from "../../origin/auth/users-file.ts";
import type { BuildJob, Images } from "../../origin/builder/images.ts";
import { Job } from "../../origin/builder/job-table.ts";
import { PackagesNotFound } from "../../origin/nix/lookup-errors.ts";
import type { ImageRequest } from "../../shared/image-name.ts";
import { BuildRecords } from "../../origin/cache/build-records.ts";
import { openDatabase } from "../../origin/cache/database.ts";
import { ImageCatalog } from "../../origin/cache/image-catalog.ts";
import { PublishedImages } from "../../origin/cache/published-images.ts";
import { Pins } from "../../origin/gc/pins.ts";
import { GarbageCollector } from "../../origin/gc/scheduler.ts";
import { createLogger } from "../../origin/log.ts";
import { Readiness } from "../../origin/readiness.ts";
import { FilesystemStorage } from "../../origin/storage/filesystem.ts";

export const testTokenKey = "0123456789abcdef0123456789abcdef-test-key";

export interface TestAppOptions {
  secret?: string;
  access?: AccessControl | null;
}

export async function makeTestApp(options: TestAppOptions = {}) {
  const storage = await new FilesystemStorage(await mkdtemp(join(tmpdir(), "nixery-app-"))).init();
  const db = openDatabase(":memory:");
  const builds = new BuildRecords(db);
  const log = createLogger(() => {});
  builds.record({
    image: "broken",
    tag: "latest",
    revision: null,
    outcome: "failed",
    durationMs: 5,
    error: "builder for '/nix/store/x-broken.drv' failed <script>",
    finishedAt: 0,
  });
  return createApp({
    images: emptySourceImages(),
    storage,
    builds,
    originSecret: options.secret ?? null,
    access: options.access ?? null,
    readiness: new Readiness({ storage: () => storage.check() }),
    nixProcesses: new Map([["nix-instantiate", 3]]),
    collector: new GarbageCollector(
      {
        storage,
        published: new PublishedImages(db),
        pins: new Pins(),
        unusedMs: 30 * 24 * 3600 * 1000,
        graceMs: 3600 * 1000,
      },
      log,
    ),
    log,
    catalog: new ImageCatalog(db),
  });
}

/**
 * The builder of a package source that offers no packages: every tag's build fails with
 * PackagesNotFound as a real one would (a remembered failure), nothing is stored or restored.
 */
function emptySourceImages(): Images {
  const jobId = (image: ImageRequest, tag: string) => `${image.name}:${tag}`;
  const failedJob = (image: ImageRequest, tag: string): BuildJob =>
    new Job(jobId(image, tag), Promise.reject(new PackagesNotFound(image.packages)), Date.now);
  return {
    sourceId: "path:/srv/pkgs",
    stats: { running: 0, queued: 0 },
    counters: {
      manifestHits: 0,
      manifestMisses: 0,
      jobsJoined: 0,
      failuresRepeated: 0,
      layersPacked: 0,
      layersReused: 0,
      objectsRestored: 0,
    },
    platformNames: ["linux/amd64", "linux/arm64"],
    hostPlatformName: "linux/amd64",
    currentRevision: async () => "0123456789abcdef0123456789abcdef01234567",
    listTags: async () => ["latest"],
    restore: async () => null,
    touch: () => {},
    countPulls: () => {},
    flushPulls: () => {},
    jobId,
    start: async (image, tag) => failedJob(image, tag),
    existing: async () => null,
    resolve: (image, tag) => failedJob(image, tag).result(),
    findJob: () => undefined,
  };
}

/** An htpasswd file with bcrypt entries of cost 5 (what `htpasswd -B` writes by default). */
export async function writeHtpasswd(
  users: Record<string, string>,
  path?: string,
  cost = 5,
): Promise<string> {
  const file = path ?? join(await mkdtemp(join(tmpdir(), "nixery-users-")), "htpasswd");
  const lines = Object.entries(users).map(([user, pw]) => `${user}:${bcrypt.hashSync(pw, cost)}`);
  await writeFile(file, `${lines.join("\n")}\n`);
  return file;
}

/** The access control main.ts would build, over real users, keys and limiter. */
export async function testAccess(
  options: {
    users?: Record<string, string> | null;
    secret?: string;
    maxFailures?: number;
    htpasswdPath?: string;
    tokenSeconds?: number;
    anonymousPull?: boolean;
  } = {},
): Promise<AccessControl & { htpasswdPath: string | null }> {
  const htpasswdPath =
    options.users === null
      ? null
      : (options.htpasswdPath ?? (await writeHtpasswd(options.users ?? { alice: "secret" })));
  return {
    htpasswdPath,
    users: htpasswdPath
      ? await UsersFile.open(
          htpasswdPath,
          bcryptHasher,
          createLogger(() => {}),
        )
      : null,
    signer: createTokenSigner([testTokenKey]),
    limiter: new MemoryLoginLimiter({ maxFailures: options.maxFailures ?? 5, windowSeconds: 60 }),
    originSecret: options.secret ?? null,
    publicUrl: null,
    tokenSeconds: options.tokenSeconds ?? 300,
    anonymousPull: options.anonymousPull ?? false,
    log: createLogger(() => {}),
  };
}
