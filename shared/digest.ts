// Content digests as the registry spells them (`sha256:<64 hex>`), parsed once at the edge of a route.

export type Digest = `sha256:${string}`;

const digestPattern = /^sha256:[a-f0-9]{64}$/;
const anyDigestPattern = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export function isDigest(value: string): value is Digest {
  return digestPattern.test(value);
}

/** True for anything shaped like `algorithm:encoded`, valid or not (used to tell a digest from a tag). */
export function looksLikeDigest(value: string): boolean {
  return value.includes(":") && anyDigestPattern.test(value);
}

export function digestHex(digest: Digest): string {
  return digest.slice("sha256:".length);
}

export function digestFromHex(hex: string): Digest {
  if (!/^[a-f0-9]{64}$/.test(hex)) throw new Error(`not a sha256 hex string: ${hex}`);
  return `sha256:${hex}`;
}

/** sha256 of a small payload (manifests, configs) with Web Crypto, available in Node and workerd. */
export async function sha256Digest(bytes: Uint8Array<ArrayBuffer>): Promise<Digest> {
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  let hex = "";
  for (const byte of hash) hex += byte.toString(16).padStart(2, "0");
  return `sha256:${hex}`;
}
