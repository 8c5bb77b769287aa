import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { recordedOutput, recordedVersions } from "../../test/support/nix-output.ts";
import { evalErrorMessage, hideServerPaths, parseRefusal, rawEvalMessage } from "./eval-error.ts";

/** Nothing of a trace, a code frame or a server file may reach a client. */
function assertClean(message: string): void {
  assert.doesNotMatch(message, /^\s*… |while evaluating|while calling|\d+\||^\s*\|/m, message);
  assert.doesNotMatch(message, /\/work\/|\/tmp\/|packages\.nix:\d|--show-trace/, message);
  assert.doesNotMatch(message, /^error:/, message);
}

describe("Nix evaluation errors, as each version prints them", () => {
  for (const version of recordedVersions()) {
    it(`${version}: a throw gives its message alone`, () => {
      const message = evalErrorMessage(recordedOutput(version, "eval-throw").stderr);
      assert.equal(
        message,
        "removed-tool has been removed from this package set: it was unmaintained",
      );
    });

    it(`${version}: a missing package set names the path by its last part`, () => {
      const message = evalErrorMessage(recordedOutput(version, "eval-missing-set").stderr);
      assertClean(message);
      assert.match(message, /'…\/set'/);
      assert.match(message, /does not exist|No such file or directory/);
    });

    it(`${version}: a syntax error gives the error without its code frame`, () => {
      const message = evalErrorMessage(recordedOutput(version, "eval-syntax-error").stderr);
      assertClean(message);
      assert.equal(message, "syntax error, unexpected ';'");
    });

    it(`${version}: an unfree package's refusal is recognised, its advice not passed on`, () => {
      const stderr = recordedOutput(version, "eval-unfree").stderr;
      const raw = rawEvalMessage(stderr);
      assert.match(
        raw,
        /^Package ‘unfree-tool-1\.0’ in \/\S+default\.nix:\d+ has an unfree license/,
      );
      assert.deepEqual(parseRefusal(raw), { reason: "unfree", drvName: "unfree-tool-1.0" });
      assertClean(evalErrorMessage(stderr));
    });
  }

  it("recognises nixpkgs' newer wording and every kind of refusal", () => {
    const cases: [string, string, string][] = [
      [
        "Refusing to evaluate package 'vscode-1.99' in /nix/store/x-source/pkgs/vscode.nix:60 because it has an unfree license ('unfree')",
        "unfree",
        "vscode-1.99",
      ],
      [
        "Package ‘openssl-1.1.1w’ in /nix/store/x/default.nix:211 is marked as insecure, refusing to evaluate.",
        "insecure",
        "openssl-1.1.1w",
      ],
      [
        "Package ‘foo-1’ in /srv/pkgs/foo.nix:3 is marked as broken, refusing to evaluate.",
        "broken",
        "foo-1",
      ],
      [
        "Package ‘bar-2’ in /x.nix:1 is not available on the requested hostPlatform:",
        "unsupported",
        "bar-2",
      ],
    ];
    for (const [message, reason, drvName] of cases) {
      assert.deepEqual(parseRefusal(message), { reason, drvName }, message);
    }
    assert.equal(parseRefusal("attribute 'x' missing"), null);
  });

  it("keeps store paths of derivations, hides paths of files", () => {
    assert.equal(
      hideServerPaths("builder for '/nix/store/00000000000000000000000000000000-x-1.0.drv' failed"),
      "builder for '/nix/store/00000000000000000000000000000000-x-1.0.drv' failed",
    );
    assert.equal(
      hideServerPaths(
        "in /nix/store/00000000000000000000000000000000-source/pkgs/x.nix:58 and /srv/pkgs/default.nix:3",
      ),
      "in …/x.nix:58 and …/default.nix:3",
    );
    assert.equal(
      hideServerPaths("unable to download 'http://h/a/b.tar.gz'"),
      "unable to download 'http://h/a/b.tar.gz'",
    );
  });
});
