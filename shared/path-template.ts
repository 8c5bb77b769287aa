// A route's path written once, as a template, and used both ways: to match a request's path
// (giving its parameters, percent-decoded) and to build a path from parameters (percent-encoded).
// The syntax is the subset of Hono's that both apps need, so a Hono router takes `template` as is:
//   `:id`        one path segment
//   `:name{.+}`  one or more segments (an image name: `shell/git`)
//   `/*`         at the end: anything further, or nothing (matched, never built)
//   a trailing `/` may be left out by the request (`/v2/` matches `/v2`).

/** The parameter names a template declares, as a union of string literals. */
export type ParamsOf<T extends string> = T extends `${string}:${infer Param}/${infer Rest}`
  ? NameOf<Param> | ParamsOf<`/${Rest}`>
  : T extends `${string}:${infer Param}`
    ? NameOf<Param>
    : never;
type NameOf<Param extends string> = Param extends `${infer Name}{${string}}` ? Name : Param;

export type PathParams<T extends string> = Record<ParamsOf<T>, string>;

export interface PathTemplate<T extends string> {
  readonly template: T;
  /** The parameters of `pathname`, or null when it is not this route. */
  match(pathname: string): PathParams<T> | null;
  /** The path for these parameters (a template ending in `/*` builds its fixed part). */
  path(...params: ParamsOf<T> extends never ? [] : [PathParams<T>]): string;
}

type Piece =
  | { kind: "text"; text: string }
  | { kind: "segment"; name: string }
  | { kind: "segments"; name: string };

export function pathTemplate<const T extends string>(template: T): PathTemplate<T> {
  const rest = template.endsWith("/*");
  const body = rest ? template.slice(0, -2) : template;
  const pieces = parse(body);
  const names = pieces.flatMap((piece) => (piece.kind === "text" ? [] : [piece.name]));
  const source = pieces
    .map((piece) =>
      piece.kind === "text"
        ? escapeRegExp(piece.text)
        : piece.kind === "segment"
          ? "([^/]+)"
          : "(.+)",
    )
    .join("");
  // `/v2/` also matches `/v2`; `…/uploads/*` matches `…/uploads` and anything below it.
  const ending = rest ? "(?:/.*)?" : "";
  const open = !rest && body.length > 1 && body.endsWith("/");
  const pattern = new RegExp(`^${open ? `${source.slice(0, -1)}/?` : source}${ending}$`);
  return {
    template,
    match(pathname) {
      const found = pattern.exec(pathname);
      if (!found) return null;
      const params: Record<string, string> = {};
      names.forEach((name, i) => (params[name] = safeDecode(found[i + 1] ?? "")));
      return params as PathParams<T>;
    },
    path(...args) {
      const params = (args[0] ?? {}) as Record<string, string>;
      return pieces
        .map((piece) => {
          if (piece.kind === "text") return piece.text;
          const value = params[piece.name] ?? "";
          return piece.kind === "segment"
            ? encodeSegment(value)
            : value.split("/").map(encodeSegment).join("/");
        })
        .join("");
    },
  };
}

function parse(body: string): Piece[] {
  const pieces: Piece[] = [];
  const token = /:([A-Za-z_][A-Za-z0-9_]*)(\{\.\+\})?/g;
  let at = 0;
  for (const found of body.matchAll(token)) {
    if (found.index > at) pieces.push({ kind: "text", text: body.slice(at, found.index) });
    pieces.push({ kind: found[2] ? "segments" : "segment", name: found[1]! });
    at = found.index + found[0].length;
  }
  if (at < body.length) pieces.push({ kind: "text", text: body.slice(at) });
  return pieces;
}

/**
 * Percent-encodes one path segment, leaving the characters a segment may hold as they are (RFC
 * 3986 pchar: `:` and `@` and the sub-delimiters), so `sha256:…` stays readable on the wire.
 */
function encodeSegment(value: string): string {
  return encodeURIComponent(value).replace(/%(?:24|26|2B|2C|3A|3B|3D|40)/g, (escaped) =>
    decodeURIComponent(escaped),
  );
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
