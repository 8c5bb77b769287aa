// The Worker's entry point (wrangler.toml `main`): the edge app as a module worker.

import { createApp } from "./app.ts";

export default createApp();
