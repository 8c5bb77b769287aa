// The edge's users: the text of the HTPASSWD secret (the origin's NIXERY_HTPASSWD file, put with
// `wrangler secret put HTPASSWD < FILE`). Parsing it costs one bcrypt hash (the dummy an unknown
// user is checked against), so the directory is kept per isolate, keyed by the text: plain
// values and functions, no I/O object, and a new secret (a new deployment) takes effect at once.

import { UserDirectory } from "../../shared/user-directory.ts";
import { bcryptHasher } from "../../shared/password-hasher.ts";

let kept: { text: string; users: UserDirectory } | null = null;

/** The users of HTPASSWD; throws (a 500, logged, never shown) when the secret does not parse. */
export async function edgeUsers(text: string): Promise<UserDirectory> {
  if (kept?.text === text) return kept.users;
  let users: UserDirectory;
  try {
    users = await UserDirectory.fromHtpasswd(text, bcryptHasher);
  } catch (error) {
    // A plain Error: the client sees "internal error", the log sees which line is wrong.
    throw new Error(
      `the HTPASSWD secret is not a usable htpasswd file: ${(error as Error).message}`,
    );
  }
  kept = { text, users };
  return users;
}
