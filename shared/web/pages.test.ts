import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { renderBuildPage, renderImagePage } from "./image-page.ts";
import { imagePath, isPagePath, parseImageRef } from "./page-path.ts";
import { endpointOf, pullCommands } from "./pull-commands.ts";
import { renderStartPage } from "./start-page.ts";
import type { ImageDetails, InstanceInfo } from "./web-types.ts";

const hostile = `<script>alert("x")</script><img src=x onerror=alert(1)> & "quotes" 'too'`;

const instance: InstanceInfo = {
  source: { label: hostile, url: null, revision: hostile, revisionUrl: null },
  platforms: ["linux/amd64"],
  hostPlatform: "linux/amd64",
  builds: { running: 0, queued: 0 },
  recent: [{ name: "hello", revision: null, builtAt: 0, pulls: 1 }],
  popular: [],
};

const image: ImageDetails = {
  name: "shell/hello",
  tag: "latest",
  revision: null,
  source: {
    label: "a local package set (not versioned)",
    url: null,
    revision: null,
    revisionUrl: null,
  },
  components: ["shell", "hello"],
  packages: [{ attr: hostile, drvName: hostile, version: hostile, via: "named" }],
  index: null,
  platforms: [
    {
      platform: "linux/amd64",
      manifests: { docker: "sha256:d", oci: "sha256:o" },
      layers: [
        {
          digest: "sha256:l",
          size: 1234567,
          paths: [`/nix/store/${"a".repeat(32)}-${hostile}`],
          kind: "store",
          sharedWith: 2,
        },
      ],
      download: 1234567,
      config: { env: [hostile], cmd: [hostile], user: hostile, labels: { [hostile]: hostile } },
    },
  ],
};

/** No element or attribute the untrusted text could have made. */
function assertInert(html: string): void {
  assert.doesNotMatch(html, /<script>alert|<img|onerror=alert\(1\)>/);
  assert.equal((html.match(/<script/g) ?? []).length, 1, "only the page's own script tag");
}

describe("pages", () => {
  const plain = endpointOf("http://127.0.0.1:8080/", null);
  const tls = endpointOf("https://registry.example.com/", null);

  it("escape every piece of untrusted text", () => {
    assertInert(
      renderStartPage({ info: instance, endpoint: plain, role: "edge", isPrivate: false }),
    );
    assertInert(renderImagePage(image, plain));
    assertInert(
      renderBuildPage(
        {
          name: "hello",
          tag: "latest",
          state: "failed",
          progress: null,
          error: { code: "MANIFEST_UNKNOWN", message: hostile },
        },
        plain,
      ),
    );
  });

  it("render a package's description from the index as text, and leave the others to the script", () => {
    const described: ImageDetails = {
      ...image,
      packages: [
        {
          attr: "hello",
          drvName: "hello-2.12",
          version: "2.12",
          via: "named",
          description: hostile,
        },
        { attr: "git", drvName: "git-2.0", version: "2.0", via: "named" },
      ],
    };
    const html = renderImagePage(described, plain);
    assertInert(html);
    assert.ok(html.includes(`<td class="desc">&#60;script&#62;alert(`), "the description, escaped");
    assert.doesNotMatch(html, /data-describe="hello"/);
    assert.match(html, /<td class="desc" data-describe="git"><\/td>/);
  });

  it("write pull commands for the host and scheme of the request", () => {
    const commands = (endpoint: typeof plain) =>
      Object.fromEntries(pullCommands(endpoint, "shell/hello").map((c) => [c.client, c.command]));
    assert.deepEqual(commands(plain), {
      docker: "docker pull 127.0.0.1:8080/shell/hello:latest",
      podman: "podman pull --tls-verify=false 127.0.0.1:8080/shell/hello:latest",
      skopeo:
        "skopeo copy --src-tls-verify=false docker://127.0.0.1:8080/shell/hello:latest oci:shell-hello:latest",
      containerd: "ctr images pull --plain-http 127.0.0.1:8080/shell/hello:latest",
      nerdctl: "nerdctl pull --insecure-registry 127.0.0.1:8080/shell/hello:latest",
      kubernetes:
        "kubectl run shell-hello --image=127.0.0.1:8080/shell/hello:latest --restart=Never",
    });
    assert.ok(Object.values(commands(tls)).every((c) => !/tls-verify|plain-http|insecure/.test(c)));
    assert.equal(endpointOf("http://r.example.com/", "https").tls, true, "behind a TLS proxy");
    const note = pullCommands(endpointOf("http://r.example.com/", null), "hello")[0]!.note;
    assert.match(note!, /insecure-registries/, "docker needs the daemon told, except for loopback");
    assert.equal(pullCommands(plain, "hello")[0]!.note, null);
  });

  it("tell image pages from the apps' other paths", () => {
    for (const path of [
      "/v2/",
      "/v2/hello/manifests/latest",
      "/_origin/builds",
      "/api/images/x",
      "/-/web.js",
      "/healthz",
      "/metrics",
      "/favicon.ico",
      "/robots.txt",
      "/auth/token",
      "/",
    ]) {
      assert.equal(isPagePath(path), false, path);
    }
    assert.ok(isPagePath("/shell/hello"));
    assert.deepEqual(parseImageRef("/shell/hello"), { name: "shell/hello", tag: "latest" });
    assert.deepEqual(parseImageRef("shell/hello:v1.2"), { name: "shell/hello", tag: "v1.2" });
    assert.deepEqual(parseImageRef("/hello%3Av1/"), { name: "hello", tag: "v1" });
    assert.throws(() => parseImageRef("/Hello"), { code: "NAME_INVALID" });
    assert.throws(() => parseImageRef("/hello:-x"), { code: "TAG_INVALID" });
    assert.equal(imagePath({ name: "a/b", tag: "latest" }), "/a/b");
    assert.equal(imagePath({ name: "a/b", tag: "v1" }), "/a/b:v1");
  });
});
