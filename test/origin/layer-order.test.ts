// Layer order with real Nix builds, a real origin and its SQLite history: the pull of
// uses-big and then uses-big/uses-huge by a client that keeps layers by chain ID, and what history
// may and may not change (learned popularity versus a popularity file).

import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ChainIdClient } from "../support/chain-client.ts";
import { imageLayers } from "../support/image-layers.ts";
import { startOrigin, type OriginProcess } from "../support/origin-process.ts";

describe("layer order", () => {
  const origins: OriginProcess[] = [];
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "layer-order-"));
  });
  after(async () => {
    await Promise.all(origins.map((origin) => origin.stop()));
    await rm(dir, { recursive: true, force: true });
  });
  const start = async (env: Record<string, string> = {}) => {
    const origin = await startOrigin({ env });
    origins.push(origin);
    return origin;
  };

  it("pulling uses-big, then uses-big/uses-huge, downloads only the new layers", async () => {
    const origin = await start();
    const client = new ChainIdClient();
    const usesBig = await imageLayers(origin.url, "uses-big");
    client.pull(usesBig);
    const both = await imageLayers(origin.url, "uses-big/uses-huge");
    const cost = client.pull(both);
    // The 115 MB data layer, and what lies below it, is a prefix of the second image.
    const dataAt = usesBig.findIndex((layer) => layer.size > 100e6);
    assert.ok(dataAt >= 0);
    assert.deepEqual(
      both.slice(0, dataAt + 1).map((layer) => layer.diffId),
      usesBig.slice(0, dataAt + 1).map((layer) => layer.diffId),
    );
    assert.ok(cost.missing > 147e6, `${cost.missing} bytes new`);
    assert.ok(
      cost.downloaded <= 1.05 * cost.missing,
      `${cost.downloaded} bytes downloaded for ${cost.missing} bytes new`,
    );
    await origin.stop();
  });

  // hello/goodbye holds busybox and libgreet as layers of their own, equally deep; an origin that
  // published an image holding one of them as a layer puts that one first.
  const histories = { libgreetFirst: "libgreet", busyboxFirst: "busybox" };
  const digestAfter = async (origin: OriginProcess, earlier: string) => {
    await imageLayers(origin.url, earlier);
    const response = await fetch(`${origin.url}/v2/hello/goodbye/manifests/latest`);
    await response.arrayBuffer();
    return response.headers.get("docker-content-digest");
  };

  it("without a file, history changes the order but never the blobs", async () => {
    const [a, b] = await Promise.all([start(), start()]);
    await Promise.all([
      digestAfter(a, histories.libgreetFirst),
      digestAfter(b, histories.busyboxFirst),
    ]);
    const [layersA, layersB] = [
      await imageLayers(a.url, "hello/goodbye"),
      await imageLayers(b.url, "hello/goodbye"),
    ];
    const digests = (layers: { digest: string }[]) => layers.map((layer) => layer.digest);
    assert.notDeepEqual(digests(layersA), digests(layersB), "the two histories order differently");
    // The same store-path blobs (the symlink layer on top is the same too), in another order.
    assert.deepEqual(digests(layersA).sort(), digests(layersB).sort());
    assert.equal(layersA.at(-1)!.digest, layersB.at(-1)!.digest);
    await Promise.all([a.stop(), b.stop()]);
  });

  it("with a popularity file, two origins with different histories agree on every digest", async () => {
    const file = join(dir, "popularity.json");
    await writeFile(file, JSON.stringify({ "hello-2.12": 40, "libgreet-1.0": 3 }));
    const env = { NIX_POPULARITY_URL: file };
    const [a, b] = await Promise.all([start(env), start(env)]);
    const [digestA, digestB] = await Promise.all([
      digestAfter(a, histories.libgreetFirst),
      digestAfter(b, histories.busyboxFirst),
    ]);
    assert.ok(digestA);
    assert.equal(digestA, digestB);
    await Promise.all([a.stop(), b.stop()]);
  });
});
