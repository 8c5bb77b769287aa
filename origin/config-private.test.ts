import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, parseConfig } from "./config.ts";

const base = { NIXERY_PKGS_PATH: "/srv/pkgs" };
const repo = { NIXERY_PKGS_REPO: "ssh://git@git.example.com:2222/pkgs.git" };

describe("private instance settings", () => {
  it("default to a public instance with five-minute tokens", () => {
    const { access, sshSource } = parseConfig(base);
    assert.equal(access.htpasswdPath, null);
    assert.equal(access.tokenKeys, null);
    assert.equal(access.tokenSeconds, 300);
    assert.equal(access.loginMaxFailures, 5);
    assert.equal(sshSource, null);
  });

  it("read users, keys for rotation and the public URL", () => {
    const { access } = parseConfig({
      ...base,
      NIXERY_HTPASSWD: "/etc/nixery/htpasswd",
      NIXERY_TOKEN_KEY: `${"a".repeat(32)} ${"b".repeat(40)}`,
      NIXERY_PUBLIC_URL: "https://registry.example.com/",
    });
    assert.equal(access.htpasswdPath, "/etc/nixery/htpasswd");
    assert.deepEqual(access.tokenKeys, ["a".repeat(32), "b".repeat(40)]);
    assert.equal(access.publicUrl, "https://registry.example.com");
  });

  it("take the deploy key for a flake reached over SSH too", () => {
    const config = parseConfig({
      NIXERY_FLAKE: "git+ssh://git@git.example.com/pkgs.git",
      NIXERY_PKGS_SSH_KEY: "/etc/nixery/deploy_key",
    });
    assert.equal(config.sshSource?.keyPath, "/etc/nixery/deploy_key");
    assert.match(config.childEnv.GIT_SSH_COMMAND ?? "", /-i '\/etc\/nixery\/deploy_key'/);
  });

  it("give git and Nix the deploy key through GIT_SSH_COMMAND only", () => {
    const config = parseConfig({
      ...repo,
      NIXERY_PKGS_SSH_KEY: "/etc/nixery/deploy key",
      NIXERY_PKGS_SSH_KNOWN_HOSTS: "/etc/nixery/known_hosts",
    });
    assert.deepEqual(config.sshSource, {
      keyPath: "/etc/nixery/deploy key",
      knownHostsPath: "/etc/nixery/known_hosts",
    });
    assert.equal(
      config.childEnv.GIT_SSH_COMMAND,
      "ssh -i '/etc/nixery/deploy key' -o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes -o StrictHostKeyChecking=yes -o 'UserKnownHostsFile=/etc/nixery/known_hosts'",
    );
    assert.equal(config.childEnv.NIXERY_PKGS_SSH_KEY, undefined);
    assert.equal(
      parseConfig({ ...base, NIXERY_TOKEN_KEY: "k".repeat(32) }).childEnv.NIXERY_TOKEN_KEY,
      undefined,
    );
  });

  const bad: [Record<string, string>, RegExp][] = [
    [{ ...base, NIXERY_TOKEN_KEY: "short" }, /at least 32 characters/],
    [{ ...base, NIXERY_ANONYMOUS_PULL: "true" }, /needs NIXERY_HTPASSWD/],
    [{ ...base, NIXERY_ANONYMOUS_PULL: "yes" }, /must be true or false/],
    [
      { ...base, NIXERY_TOKEN_SECONDS: "10" },
      /NIXERY_TOKEN_SECONDS must be a whole number from 60/,
    ],
    [{ ...base, NIXERY_PUBLIC_URL: "registry.example.com" }, /must be a URL/],
    [{ ...base, NIXERY_PUBLIC_URL: "https://r.example.com/v2/" }, /no path/],
    [{ ...base, NIXERY_PKGS_SSH_KEY: "/k" }, /for a NIXERY_PKGS_REPO/],
    [{ ...repo, NIXERY_PKGS_SSH_KEY: "/k", GIT_SSH_COMMAND: "ssh" }, /not both/],
    [{ ...repo, NIXERY_PKGS_SSH_KNOWN_HOSTS: "/k" }, /needs NIXERY_PKGS_SSH_KEY/],
    [{ ...repo, NIXERY_PKGS_SSH_KEY: "/k", NIXERY_PKGS_SSH_KNOWN_HOSTS: "/a b" }, /without spaces/],
  ];
  for (const [env, message] of bad) {
    it(`rejects ${JSON.stringify(env)}`, () => {
      assert.throws(
        () => parseConfig(env),
        (error: unknown) => error instanceof ConfigError && message.test(error.message),
      );
    });
  }
});
