// A private edge's Basic login for what a browser asks (the pages, their data, the package
// search): checked against the edge's users and limited per client like a token request.

import { displayHost } from "../../shared/auth-challenge.ts";
import {
  basicCredentials,
  checkLogin,
  credentialsRefused,
  type LoginLimiter,
} from "../../shared/login-check.ts";
import { logEvent } from "../log.ts";
import { clientAddress, type EdgeAccess } from "./edge-guard.ts";
import { edgeUsers } from "./users.ts";

/** The logged-in user's name; a missing or wrong login is refused with a Basic challenge. */
export async function requireLogin(
  request: Request,
  access: EdgeAccess,
  limiter: LoginLimiter,
): Promise<string> {
  const basic = basicCredentials(request.headers.get("authorization"));
  if (!basic) {
    throw credentialsRefused(
      `${displayHost(request.url)} is private: log in with a user name and password`,
    );
  }
  await checkLogin(
    {
      users: await edgeUsers(access.settings.htpasswd),
      limiter,
      audit: (event, fields) => logEvent(event, fields, "warn"),
    },
    clientAddress(request),
    basic.user,
    basic.password,
  );
  return basic.user;
}
