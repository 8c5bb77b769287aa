// What makes a wrangler configuration deployable for this Worker, checked before every deploy and
// dry run (wrangler.toml's [build] hook runs check-wrangler.ts): no placeholder left from an
// example, the bindings the Worker reads, and an ORIGIN_URL that is either a real http(s) URL or
// a required secret (wrangler then refuses to deploy a Worker that has none).

/** The part of wrangler's raw configuration this check reads. */
export interface WranglerConfig {
  vars?: Record<string, unknown>;
  secrets?: { required?: string[] };
  kv_namespaces?: { binding?: string; id?: string }[];
  r2_buckets?: { binding?: string; bucket_name?: string }[];
  ratelimits?: { name?: string; namespace_id?: string }[];
  [key: string]: unknown;
}

/** Values copied from an example instead of set: REPLACE_…, <ACCOUNT_ID>, example.com, … */
const placeholder =
  /REPLACE|PLACEHOLDER|CHANGE_?ME|TODO|<[A-Za-z_ -]+>|\bexample\.(com|org|net)\b/i;

/** Every string in the configuration with its path (`kv_namespaces[0].id`). */
function strings(value: unknown, path: string, found: [string, string][]): [string, string][] {
  if (typeof value === "string") found.push([path, value]);
  else if (Array.isArray(value)) value.forEach((item, i) => strings(item, `${path}[${i}]`, found));
  else if (value !== null && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) {
      strings(item, path === "" ? key : `${path}.${key}`, found);
    }
  }
  return found;
}

function seconds(vars: Record<string, unknown>, name: string, max: number): string | null {
  const raw = vars[name];
  if (raw === undefined) return null;
  const value = Number(raw);
  return Number.isInteger(value) && value >= 1 && value <= max
    ? null
    : `vars.${name} = ${JSON.stringify(raw)}: must be a whole number of seconds in 1..${max}`;
}

/** The problems that would make a deploy fail or serve nothing, one sentence each; [] when none. */
export function checkWranglerConfig(config: WranglerConfig): string[] {
  const problems: string[] = [];
  for (const [path, value] of strings(config, "", [])) {
    if (placeholder.test(value)) {
      problems.push(
        path.startsWith("kv_namespaces") && path.endsWith(".id")
          ? `${path} = "${value}" is a placeholder: remove the line (wrangler creates the namespace on the first deploy) or put your namespace's id`
          : `${path} = "${value}" is a placeholder: set the real value or remove it`,
      );
    }
  }
  const vars = config.vars ?? {};
  const required = config.secrets?.required ?? [];
  const originUrl = vars.ORIGIN_URL;
  if (originUrl === undefined) {
    if (!required.includes("ORIGIN_URL")) {
      problems.push(
        "ORIGIN_URL is neither in [vars] nor in [secrets] required: add it to required = [...] and set it with `wrangler secret put ORIGIN_URL`",
      );
    }
  } else if (!/^https?:\/\/[^/\s]+/.test(String(originUrl)) || !URL.canParse(String(originUrl))) {
    problems.push(
      `vars.ORIGIN_URL = ${JSON.stringify(originUrl)}: must be the origin's http(s) URL, e.g. https://builder.your-domain`,
    );
  }
  for (const problem of [
    seconds(vars, "ORIGIN_POLL_SECONDS", 50),
    seconds(vars, "BUILD_DEADLINE_SECONDS", 86400),
  ]) {
    if (problem) problems.push(problem);
  }
  if (!config.kv_namespaces?.some((kv) => kv.binding === "MANIFESTS")) {
    problems.push('no [[kv_namespaces]] with binding = "MANIFESTS" (the Worker\'s tag records)');
  }
  if (!config.r2_buckets?.some((r2) => r2.binding === "BLOBS" && r2.bucket_name)) {
    problems.push(
      'no [[r2_buckets]] with binding = "BLOBS" and a bucket_name (the Worker\'s blobs)',
    );
  }
  for (const [i, limit] of (config.ratelimits ?? []).entries()) {
    if (!/^[1-9]\d{0,9}$/.test(String(limit.namespace_id ?? ""))) {
      problems.push(
        `ratelimits[${i}].namespace_id = ${JSON.stringify(limit.namespace_id)}: must be a positive whole number, unique in your account`,
      );
    }
  }
  return problems;
}
