import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { sha256Digest, type Digest } from "./digest.ts";
import { buildImageConfig, buildIndex, buildManifest, manifestMediaTypeOf } from "./manifest.ts";
import { mediaTypes, negotiateFlavour, negotiateIndexFlavour } from "./media-types.ts";

const d = (c: string) => `sha256:${c.repeat(64)}` as Digest;
const layers = [
  { digest: d("a"), diffId: d("b"), size: 10 },
  { digest: d("c"), diffId: d("d"), size: 20 },
];

describe("image config", () => {
  it("has architecture, os, diff_ids in layer order, env, cmd and sorted labels", () => {
    const config = JSON.parse(
      new TextDecoder().decode(
        buildImageConfig({
          arch: "arm64",
          layers,
          env: ["SSL_CERT_FILE=/etc/ssl/certs/ca-bundle.crt"],
          cmd: ["bash"],
          labels: { z: "1", a: "2" },
        }),
      ),
    );
    assert.equal(config.architecture, "arm64");
    assert.equal(config.os, "linux");
    assert.equal(config.variant, "v8");
    assert.deepEqual(config.rootfs, { type: "layers", diff_ids: [d("b"), d("d")] });
    assert.deepEqual(config.config.Env, ["SSL_CERT_FILE=/etc/ssl/certs/ca-bundle.crt"]);
    assert.deepEqual(config.config.Cmd, ["bash"]);
    assert.deepEqual(Object.keys(config.config.Labels), ["a", "z"]);
    assert.equal(config.created, "1970-01-01T00:00:01Z");
    assert.equal(config.history.length, config.rootfs.diff_ids.length);
  });

  it("omits Cmd without bash", () => {
    const config = JSON.parse(
      new TextDecoder().decode(buildImageConfig({ arch: "amd64", layers, env: [] })),
    );
    assert.equal("Cmd" in config.config, false);
  });

  it("keeps a root image's config byte for byte (pinned digest, recorded before User existed)", async () => {
    const bytes = buildImageConfig({
      arch: "amd64",
      layers: [{ digest: d("a"), diffId: d("b"), size: 1 }],
      env: [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "SSL_CERT_FILE=/etc/ssl/certs/ca-bundle.crt",
      ],
      cmd: ["bash"],
      labels: {
        "dev.nixery.packages": "bashInteractive cacert hello",
        "org.opencontainers.image.revision": "0123456789abcdef0123456789abcdef01234567",
      },
    });
    assert.equal(
      await sha256Digest(bytes),
      "sha256:5a913facbab074f2862adcef54976b25c3664b62863aac69848a1e22f5663172",
    );
  });

  it("sets User and WorkingDir when given", () => {
    const config = JSON.parse(
      new TextDecoder().decode(
        buildImageConfig({
          arch: "amd64",
          layers,
          env: [],
          user: "65532:65532",
          workingDir: "/home/nonroot",
        }),
      ),
    );
    assert.equal(config.config.User, "65532:65532");
    assert.equal(config.config.WorkingDir, "/home/nonroot");
    const root = JSON.parse(
      new TextDecoder().decode(buildImageConfig({ arch: "amd64", layers, env: [] })),
    );
    assert.equal("User" in root.config || "WorkingDir" in root.config, false);
  });

  it("keeps an amd64 config's bytes: architecture then os, no variant", () => {
    const text = new TextDecoder().decode(buildImageConfig({ arch: "amd64", layers, env: [] }));
    assert.match(text, /"architecture":"amd64","os":"linux","config"/);
  });
});

describe("manifests", () => {
  it("builds Docker schema 2 and OCI flavours with matching media types", async () => {
    const config = { digest: d("e"), size: 5 };
    const docker = buildManifest("docker", config, layers);
    const oci = buildManifest("oci", config, layers);
    assert.equal(manifestMediaTypeOf(docker), mediaTypes.dockerManifest);
    assert.equal(manifestMediaTypeOf(oci), mediaTypes.ociManifest);
    const parsed = JSON.parse(new TextDecoder().decode(docker));
    assert.equal(parsed.schemaVersion, 2);
    assert.equal(parsed.config.mediaType, mediaTypes.dockerConfig);
    assert.deepEqual(
      parsed.layers.map((l: { digest: string }) => l.digest),
      [d("a"), d("c")],
    );
    assert.equal(
      JSON.parse(new TextDecoder().decode(oci)).layers[0].mediaType,
      mediaTypes.ociLayer,
    );
    // Same input, same bytes, same digest.
    assert.equal(
      await sha256Digest(docker),
      await sha256Digest(buildManifest("docker", config, layers)),
    );
  });

  it("negotiates Accept", () => {
    assert.equal(negotiateFlavour(null), "docker");
    assert.equal(negotiateFlavour("*/*"), "docker");
    assert.equal(negotiateFlavour(`${mediaTypes.ociManifest}, ${mediaTypes.ociIndex}`), "oci");
    assert.equal(
      negotiateFlavour(`${mediaTypes.ociManifest};q=0.5,${mediaTypes.dockerManifest}`),
      "docker",
    );
    assert.equal(negotiateFlavour(mediaTypes.dockerManifestList), "docker");
  });
});

describe("image indexes", () => {
  const entries = [
    { arch: "amd64" as const, digest: d("1"), size: 100 },
    { arch: "arm64" as const, digest: d("2"), size: 200 },
  ];

  it("lists one manifest per platform, in order, with its platform", () => {
    for (const [flavour, indexType, manifestType] of [
      ["docker", mediaTypes.dockerManifestList, mediaTypes.dockerManifest],
      ["oci", mediaTypes.ociIndex, mediaTypes.ociManifest],
    ] as const) {
      const bytes = buildIndex(flavour, entries);
      assert.equal(manifestMediaTypeOf(bytes), indexType);
      const index = JSON.parse(new TextDecoder().decode(bytes));
      assert.equal(index.schemaVersion, 2);
      assert.deepEqual(index.manifests, [
        {
          mediaType: manifestType,
          digest: d("1"),
          size: 100,
          platform: { architecture: "amd64", os: "linux" },
        },
        {
          mediaType: manifestType,
          digest: d("2"),
          size: 200,
          platform: { architecture: "arm64", os: "linux", variant: "v8" },
        },
      ]);
    }
  });

  it("is deterministic", async () => {
    assert.equal(
      await sha256Digest(buildIndex("oci", entries)),
      await sha256Digest(buildIndex("oci", entries)),
    );
  });

  it("is offered only to clients that name an index type", () => {
    assert.equal(negotiateIndexFlavour(null), null);
    assert.equal(negotiateIndexFlavour("*/*"), null);
    assert.equal(negotiateIndexFlavour(mediaTypes.dockerManifest), null);
    assert.equal(negotiateIndexFlavour(`${mediaTypes.ociManifest},${mediaTypes.ociIndex}`), "oci");
    assert.equal(
      negotiateIndexFlavour(`${mediaTypes.dockerManifest},${mediaTypes.dockerManifestList}`),
      "docker",
    );
    // containers/image and containerd name all four: Docker first, as for single manifests.
    const all = [
      mediaTypes.ociManifest,
      mediaTypes.ociIndex,
      mediaTypes.dockerManifest,
      mediaTypes.dockerManifestList,
    ].join(", ");
    assert.equal(negotiateIndexFlavour(all), "docker");
    // An OCI-only client that also accepts manifest lists gets the OCI index.
    assert.equal(
      negotiateIndexFlavour(
        `${mediaTypes.ociManifest},${mediaTypes.ociIndex},${mediaTypes.dockerManifestList}`,
      ),
      "oci",
    );
  });
});
