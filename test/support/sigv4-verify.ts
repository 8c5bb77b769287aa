// An independent AWS Signature V4 check (header and presigned-query forms) for the test S3 server:
// s3rver accepts any well-formed V4 signature, so without this a signing bug would go unnoticed.

import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

export interface SignedRequest {
  method: string;
  /** The request target as received: path and query, still percent-encoded. */
  url: string;
  headers: IncomingHttpHeaders;
}

export type Verdict =
  { ok: true; payloadSha256: string } | { ok: false; code: string; message: string };

/** Checks the request's signature against `secrets` (access key id → secret key). */
export function verifySigV4(
  request: SignedRequest,
  secrets: Map<string, string>,
  now = new Date(),
): Verdict {
  const url = new URL(request.url, "http://localhost");
  const presigned = url.searchParams.has("X-Amz-Signature");
  let credential: string, signedHeaders: string, signature: string, amzDate: string;
  if (presigned) {
    credential = url.searchParams.get("X-Amz-Credential") ?? "";
    signedHeaders = url.searchParams.get("X-Amz-SignedHeaders") ?? "";
    signature = url.searchParams.get("X-Amz-Signature") ?? "";
    amzDate = url.searchParams.get("X-Amz-Date") ?? "";
    const expires = Number(url.searchParams.get("X-Amz-Expires"));
    if (!(parseAmzDate(amzDate) + expires * 1000 >= now.getTime())) {
      return { ok: false, code: "AccessDenied", message: "Request has expired" };
    }
  } else {
    const match =
      /^AWS4-HMAC-SHA256 Credential=([^,]+), ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(
        String(request.headers.authorization ?? ""),
      );
    if (!match)
      return {
        ok: false,
        code: "AccessDenied",
        message: "missing or malformed SigV4 Authorization",
      };
    [, credential = "", signedHeaders = "", signature = ""] = match;
    amzDate = String(request.headers["x-amz-date"] ?? "");
  }
  const [accessKeyId = "", ...scopeParts] = credential.split("/");
  const secret = secrets.get(accessKeyId);
  if (secret === undefined) return { ok: false, code: "InvalidAccessKeyId", message: accessKeyId };
  const payloadSha256 = presigned
    ? "UNSIGNED-PAYLOAD"
    : String(request.headers["x-amz-content-sha256"] ?? "UNSIGNED-PAYLOAD");

  const query = [...url.searchParams]
    .filter(([name]) => !(presigned && name === "X-Amz-Signature"))
    .map(([name, value]) => [encode(name), encode(value)] as const)
    .sort(([n1, v1], [n2, v2]) => (n1 < n2 ? -1 : n1 > n2 ? 1 : v1 < v2 ? -1 : v1 > v2 ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join("&");
  const path = decodeURIComponent(url.pathname).split("/").map(encode).join("/");
  const headers = signedHeaders
    .split(";")
    .map((name) => `${name}:${headerValue(request.headers[name])}\n`)
    .join("");
  const canonical = [request.method, path, query, headers, signedHeaders, payloadSha256].join("\n");
  const scope = scopeParts.join("/");
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256Hex(canonical)].join("\n");
  let key: Buffer = Buffer.from(`AWS4${secret}`);
  for (const part of scopeParts) key = createHmac("sha256", key).update(part).digest();
  const expected = createHmac("sha256", key).update(stringToSign).digest();
  const provided = Buffer.from(signature, "hex");
  if (provided.length !== expected.length || !timingSafeEqual(provided, expected)) {
    return {
      ok: false,
      code: "SignatureDoesNotMatch",
      message: `canonical request:\n${canonical}`,
    };
  }
  return { ok: true, payloadSha256 };
}

/** RFC 3986 percent-encoding, as SigV4 canonicalization requires. */
function encode(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function headerValue(value: string | string[] | undefined): string {
  return (Array.isArray(value) ? value.join(",") : (value ?? "")).trim().replace(/\s+/g, " ");
}

function parseAmzDate(text: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  return m ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) : NaN;
}

function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}
