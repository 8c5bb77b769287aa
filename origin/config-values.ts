// How one setting is read from the environment: a whole number in a range, a required value, an
// http(s) URL, a true/false flag. Every bad value is one ConfigError naming the variable, which
// main.ts prints as one line before it exits.

export class ConfigError extends Error {
  override name = "ConfigError";
}

export type Env = Record<string, string | undefined>;

export function integer(
  env: Env,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw.trim()))
    throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) {
    throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`);
  }
  return value;
}

export function required(env: Env, name: string, why: string): string {
  const value = env[name];
  if (!value) throw new ConfigError(`${name} is required ${why}`);
  return value;
}

export /** An http(s) URL setting: a schemeless or malformed one is one clear line, not a TypeError. */
function httpUrl(env: Env, name: string, why: string): string {
  const raw = required(env, name, why);
  let url: URL | null = null;
  try {
    url = new URL(raw);
  } catch {
    // reported below
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:") || url.host === "") {
    const hint = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? "" : ` (no scheme: try https://${raw})`;
    throw new ConfigError(`${name} must be an http(s) URL, got "${raw.slice(0, 200)}"${hint}`);
  }
  return raw;
}

export function flag(env: Env, name: string): boolean {
  const value = env[name] || "false";
  if (!["true", "false"].includes(value)) {
    throw new ConfigError(`${name} must be true or false, got "${value}"`);
  }
  return value === "true";
}
