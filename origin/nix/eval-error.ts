// How Nix's evaluation errors read, in every version the origin supports, and what of them a
// registry client may see. Nix 2.8 prints the message on the `error:` line; 2.26 and 2.34 print a
// bare `error:` line, then a trace (`… while evaluating …`, `at /file.nix:131:10:` and the source
// lines with a caret) and the message last. Clients get the message only, without code frames and
// without paths of the server's files; the whole stderr goes to the origin's log.

/** The message of a Nix (or git) error, without trace, code frames and server paths. */
export function evalErrorMessage(stderr: readonly string[]): string {
  return hideServerPaths(rawEvalMessage(stderr)) || "no error output";
}

/** The message as Nix printed it (paths included): for the origin's log and for parsing. */
export function rawEvalMessage(stderr: readonly string[]): string {
  const lines = stderr.map((line) => line.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "").trimEnd());
  // git's "fatal:" comes before Nix's "program 'git' failed" and is the useful part.
  const start = lines.findIndex((line) => /^(error|fatal):/.test(line));
  let body = start >= 0 ? lines.slice(start) : lines;
  // 2.26+: the message is the last nested `error:` of the first error block.
  if (body.length > 0 && /^error:\s*$/.test(body[0]!)) {
    const end = body.findIndex((line, index) => index > 0 && /^\S/.test(line));
    const block = end > 0 ? body.slice(0, end) : body;
    const nested = block.findLastIndex((line) => /^\s+error: /.test(line));
    body = nested >= 0 ? block.slice(nested) : block.slice(1);
  }
  return body
    .filter((line) => !isTraceLine(line))
    .map((line) => line.trim())
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .replace(/^error:\s*/, "")
    .trim();
}

/** Trace, position and code-frame lines: `… while …`, `at /f.nix:1:2:`, ` 131| code`, `   |  ^`. */
export function isTraceLine(line: string): boolean {
  const text = line.trim();
  return (
    text.startsWith("…") ||
    /^at \S+:\d+(:\d+)?:?$/.test(text) ||
    /^at «[^»]*»(:\d+:\d+)?:?$/.test(text) ||
    /^\d+\|/.test(text) ||
    /^\|/.test(text) ||
    text.includes("--show-trace")
  );
}

/**
 * Replaces paths of the server's files with their last component: `/srv/pkgs/default.nix:12` →
 * `…/default.nix:12`. Store paths of derivations and outputs (`/nix/store/<hash>-name`) stay:
 * they name what failed and are the same on every machine. Files inside store paths (e.g. a
 * nixpkgs source file) are code locations and are shortened too.
 */
export function hideServerPaths(text: string): string {
  return text.replace(/(^|[\s'"‘`(=])(\/[^\s'"’`),;]+)/g, (whole, before: string, path: string) => {
    if (/^\/nix\/store\/[a-z0-9]{32}-[^/]+$/.test(path)) return whole;
    const parts = path.split("/").filter(Boolean);
    const last = parts.at(-1);
    return last === undefined ? whole : `${before}…/${last}`;
  });
}

export type Refusal = "unfree" | "insecure" | "broken" | "unsupported";

/**
 * A nixpkgs check-meta refusal in an error message (older wording "Package ‘x-1.0’ in … has an
 * unfree license", newer "Refusing to evaluate package 'x-1.0' in … because it has an unfree
 * license"), with the refused derivation's name; null for any other error.
 */
export function parseRefusal(message: string): { reason: Refusal; drvName: string } | null {
  const named = /Package ‘([^’]+)’ in .*?(?:has an|is)|Refusing to evaluate package '([^']+)'/.exec(
    message,
  );
  if (!named) return null;
  const drvName = named[1] ?? named[2]!;
  const reasons: [RegExp, Refusal][] = [
    [/has an unfree license/, "unfree"],
    [/is marked as insecure/, "insecure"],
    [/is marked as broken/, "broken"],
    [/is not available on the requested hostPlatform|is not supported on/, "unsupported"],
  ];
  const found = reasons.find(([pattern]) => pattern.test(message));
  return found ? { reason: found[1], drvName } : null;
}
