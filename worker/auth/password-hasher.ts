// bcrypt for the user directory (shared/user-directory.ts), from bcryptjs: pure JavaScript, the
// same library the origin uses, so both check a password identically. It draws salt from Web
// Crypto in workerd (salt is only needed to hash, and the edge only compares).

import bcrypt from "bcryptjs";
import type { PasswordHasher } from "../../shared/user-directory.ts";

export const bcryptHasher: PasswordHasher = {
  compare: (password, hash) => bcrypt.compare(password, hash),
  hashWithSalt: (password, salt) => bcrypt.hash(password, salt),
};
