import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { recordedOutput, recordedVersions } from "../../test/support/nix-output.ts";
import { decodeBuildLog, downloadFailureInLog, parseRealiseFailure } from "./build-output.ts";

const drvPattern = /^\/nix\/store\/[a-z0-9]{32}-[^/]+\.drv$/;

describe("a failed nix-store --realise, as each Nix version prints it", () => {
  for (const version of recordedVersions()) {
    it(`${version}: names the failed builder and its exit code`, () => {
      const failure = parseRealiseFailure(recordedOutput(version, "realise-failed").stderr);
      assert.match(failure.failed?.drv ?? "", /-broken-1\.0\.drv$/);
      assert.equal(failure.failed?.exitCode, 1);
      assert.deepEqual(failure.toBuild, [failure.failed!.drv]);
      assert.equal(failure.gone, null);
      assert.equal(failure.download, null);
    });

    it(`${version}: names a derivation that is gone, so the build evaluates again`, () => {
      const failure = parseRealiseFailure(recordedOutput(version, "realise-gone").stderr);
      assert.equal(failure.gone, "/nix/store/00000000000000000000000000000000-collected-1.0.drv");
    });

    it(`${version}: names the failed download, its dependent and what was to be built`, () => {
      const failure = parseRealiseFailure(recordedOutput(version, "realise-download").stderr);
      assert.match(failure.failed?.drv ?? "", /-fromsource-1\.0\.tar\.gz\.drv$/);
      assert.equal(failure.dependents.length, 1);
      assert.match(failure.dependents[0]!, /-fromsource-1\.0\.drv$/);
      assert.equal(failure.toBuild.length, 2);
      for (const drv of failure.toBuild) assert.match(drv, drvPattern);
      assert.equal(failure.download?.url, "http://127.0.0.1:1/fromsource-1.0.tar.gz");
      assert.match(failure.download?.error ?? "", /^Could(n't| not) connect to server \(7\)/);
      assert.deepEqual(failure.unreachableCaches, []);
    });

    it(`${version}: sees a binary cache that cannot be reached`, () => {
      const recorded = recordedOutput(version, "realise-download-unreachable-cache");
      const failure = parseRealiseFailure(recorded.stderr);
      assert.deepEqual(failure.unreachableCaches, ["http://127.0.0.1:1"]);
      assert.equal(failure.download?.url, "http://127.0.0.1:1/fromsource-1.0.tar.gz");
    });

    it(`${version}: reads a fetch's structured build log as text`, () => {
      const log = decodeBuildLog(recordedOutput(version, "read-log-download").stdout);
      assert.ok(log.length > 0);
      for (const line of log) {
        assert.doesNotMatch(line, /@nix|\{"action"|\x1b|\\u001b/, line);
        assert.match(
          line,
          /unable to download 'http:\/\/127\.0\.0\.1:1\/fromsource-1\.0\.tar\.gz'/,
        );
      }
      const plain = decodeBuildLog(recordedOutput(version, "read-log-failed").stdout);
      assert.deepEqual(plain, [
        "broken: configuring",
        "broken: compiling",
        "broken: error: this package always fails",
      ]);
    });
  }

  it("finds nixpkgs' fetcher failures in a build log", () => {
    const log = [
      "curl: (6) Could not resolve host: ftp.gnu.org",
      "error: cannot download hello-2.12.tar.gz from any mirror",
    ];
    assert.deepEqual(downloadFailureInLog(log), {
      url: "hello-2.12.tar.gz",
      error: "cannot download hello-2.12.tar.gz from any mirror",
    });
    assert.equal(downloadFailureInLog(["make: *** [all] Error 2"]), null);
  });

  it("2.26: sees the derivations Nix's own auto-GC deleted as the build started (min-free)", () => {
    // As seen in the Nix 2.26 chroot with min-free set above the free space.
    const stderr = [
      "these 2 derivations will be built:",
      "  /nix/store/b7q5j0w8damw4s951my1ix8z04ja292s-busybox-1.35.0.drv",
      "  /nix/store/w6jrg0b2jicbmj14xi7f4hjly8ww1hyy-fleeting-2c1dd5dbb5ce.drv",
      "running auto-GC to free 1999923483303936 bytes",
      "finding garbage collector roots...",
      "deleting garbage...",
      "deleting '/nix/store/9kml8vz3635x180mil9s8v15i1id6xxz-iana-etc-20240318.drv'",
      "deleting '/nix/store/w6jrg0b2jicbmj14xi7f4hjly8ww1hyy-fleeting-2c1dd5dbb5ce.drv'",
      "deleting unused links...",
      "nix-store: ../src/libstore/build/derivation-goal.cc:187: nix::Goal::Co nix::DerivationGoal::loadDerivation(): Assertion `drv' failed.",
    ];
    assert.equal(
      parseRealiseFailure(stderr).gone,
      "/nix/store/w6jrg0b2jicbmj14xi7f4hjly8ww1hyy-fleeting-2c1dd5dbb5ce.drv",
    );
  });
});
