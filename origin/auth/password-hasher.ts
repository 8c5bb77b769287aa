// bcrypt for the user directory (shared/user-directory.ts), from bcryptjs: pure JavaScript, the
// same library the edge uses, so both check a password identically.

import bcrypt from "bcryptjs";
import type { PasswordHasher } from "../../shared/user-directory.ts";

export const bcryptHasher: PasswordHasher = {
  compare: (password, hash) => bcrypt.compare(password, hash),
  hashWithSalt: (password, salt) => bcrypt.hash(password, salt),
};
