// Loads the popularity data layering uses: a JSON object mapping package names (store path names
// without the hash) to how many nixpkgs packages refer to them, from a file or an HTTP(S) URL.

import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

/** The popularity data could not be read, or is not a JSON object of non-negative whole numbers. */
export class InvalidPopularityData extends Error {
  constructor(source: string, reason: string, options?: ErrorOptions) {
    super(`popularity data from ${source}: ${reason}`, options);
    this.name = "InvalidPopularityData";
  }
}

/**
 * Reads popularity from `source`: a file path, a `file://` URL or an `http(s)://` URL; `null` means
 * no data (every package then counts 1). Throws InvalidPopularityData for anything else.
 */
export async function loadPopularity(
  source: string | null,
  fetchImpl: typeof fetch = fetch,
): Promise<Map<string, number>> {
  if (source === null) return new Map();
  return parsePopularity(source, await readSource(source, fetchImpl));
}

/** Validates popularity JSON text; `source` only names it in errors. */
export function parsePopularity(source: string, text: string): Map<string, number> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (cause) {
    throw new InvalidPopularityData(source, `not JSON (${(cause as Error).message})`, { cause });
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    const shape = data === null ? "null" : Array.isArray(data) ? "an array" : typeof data;
    throw new InvalidPopularityData(source, `expected an object of name → count, got ${shape}`);
  }
  const popularity = new Map<string, number>();
  for (const [name, count] of Object.entries(data)) {
    if (typeof count !== "number" || !Number.isSafeInteger(count) || count < 0) {
      throw new InvalidPopularityData(
        source,
        `count of ${JSON.stringify(name)} must be a whole number ≥ 0, got ${JSON.stringify(count)}`,
      );
    }
    popularity.set(name, count);
  }
  return popularity;
}

async function readSource(source: string, fetchImpl: typeof fetch): Promise<string> {
  if (/^https?:\/\//i.test(source)) {
    let response: Response;
    try {
      response = await fetchImpl(source, { headers: { accept: "application/json" } });
    } catch (cause) {
      throw new InvalidPopularityData(source, `fetch failed (${(cause as Error).message})`, {
        cause,
      });
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new InvalidPopularityData(
        source,
        `HTTP ${response.status} ${response.statusText}`.trim(),
      );
    }
    return response.text();
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source) && !/^file:\/\//i.test(source)) {
    throw new InvalidPopularityData(
      source,
      "only file paths, file:// and http(s):// URLs are supported",
    );
  }
  try {
    return await readFile(/^file:\/\//i.test(source) ? fileURLToPath(source) : source, "utf8");
  } catch (cause) {
    throw new InvalidPopularityData(source, `cannot read file (${(cause as Error).message})`, {
      cause,
    });
  }
}
