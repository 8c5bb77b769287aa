// bcrypt for the user directory (user-directory.ts), from bcryptjs: pure JavaScript, so the origin
// and the edge check a password with the same code. In workerd it draws salt from Web Crypto
// (salt is only needed to hash, and the edge only compares).

import bcrypt from "bcryptjs";
import type { PasswordHasher } from "./user-directory.ts";

export const bcryptHasher: PasswordHasher = {
  compare: (password, hash) => bcrypt.compare(password, hash),
  hashWithSalt: (password, salt) => bcrypt.hash(password, salt),
};
