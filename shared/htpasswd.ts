// The users of a private instance, as Apache's `htpasswd -B` writes them: one `user:hash` per
// line, bcrypt hashes only ($2y$, $2b$ or $2a$ and a two-digit cost). Other schemes htpasswd
// knows (MD5 $apr1$, {SHA}, crypt) are refused with the line that holds one: they are fast to
// guess, and a file that mixes them would make some users far weaker than the operator thinks.

export interface HtpasswdEntry {
  user: string;
  hash: string;
  cost: number;
}

export class HtpasswdInvalid extends Error {
  override name = "HtpasswdInvalid";
}

const bcryptPattern = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;
export const maxUserLength = 256;

function schemeOf(hash: string): string {
  if (hash.startsWith("$apr1$")) return "MD5 ($apr1$)";
  if (hash.startsWith("{SHA}")) return "SHA-1 ({SHA})";
  if (hash.startsWith("$1$") || hash.startsWith("$5$") || hash.startsWith("$6$")) {
    return `crypt (${hash.slice(0, 3)})`;
  }
  if (hash.startsWith("$2")) return "a malformed bcrypt hash";
  return hash.length === 13 ? "DES crypt" : "plain text or an unknown scheme";
}

/** Every entry of the file; throws HtpasswdInvalid naming the first bad line. */
export function parseHtpasswd(text: string): HtpasswdEntry[] {
  const entries: HtpasswdEntry[] = [];
  const seen = new Set<string>();
  const lines = text.split("\n");
  for (const [index, raw] of lines.entries()) {
    const line = raw.replace(/\r$/, "").trim();
    if (line === "" || line.startsWith("#")) continue;
    const where = `line ${index + 1}`;
    const colon = line.indexOf(":");
    if (colon <= 0) throw new HtpasswdInvalid(`${where}: expected user:hash`);
    const user = line.slice(0, colon);
    const hash = line.slice(colon + 1);
    if (user.length > maxUserLength) {
      throw new HtpasswdInvalid(`${where}: the user name is longer than ${maxUserLength}`);
    }
    if (seen.has(user)) throw new HtpasswdInvalid(`${where}: user ${user} is listed twice`);
    const bcrypt = bcryptPattern.exec(hash);
    if (!bcrypt) {
      throw new HtpasswdInvalid(
        `${where}: user ${user} has ${schemeOf(hash)}; only bcrypt entries are accepted (htpasswd -B)`,
      );
    }
    const cost = Number(bcrypt[1]);
    if (cost < 4 || cost > 31) {
      throw new HtpasswdInvalid(`${where}: user ${user} has bcrypt cost ${cost} (4-31)`);
    }
    seen.add(user);
    entries.push({ user, hash, cost });
  }
  return entries;
}

/**
 * The cost an unknown user's check is given, so it takes as long as a wrong password: the most
 * common cost in the file (ties: the higher). With mixed costs some users' checks take longer
 * than others'; `mixedCosts` says so, for a warning.
 */
export function dummyCost(entries: readonly HtpasswdEntry[]): {
  cost: number;
  mixedCosts: boolean;
} {
  const counts = new Map<number, number>();
  for (const entry of entries) counts.set(entry.cost, (counts.get(entry.cost) ?? 0) + 1);
  let cost = 5;
  let best = 0;
  for (const [candidate, count] of counts) {
    if (count > best || (count === best && candidate > cost)) {
      cost = candidate;
      best = count;
    }
  }
  return { cost, mixedCosts: counts.size > 1 };
}
