// `npm run deploy:check`, and wrangler.toml's [build] hook before every `wrangler deploy` and dry
// run: reads the configuration as wrangler does and refuses it, one line per problem on stderr and
// exit status 2, when a deploy would fail or serve nothing (wrangler-config-check.ts).

import { resolve } from "node:path";
import { experimental_readRawConfig } from "wrangler";
import { checkWranglerConfig, type WranglerConfig } from "./wrangler-config-check.ts";

const file = resolve(process.argv[2] ?? "wrangler.toml");
let raw: WranglerConfig;
try {
  raw = experimental_readRawConfig({ config: file }).rawConfig as WranglerConfig;
} catch (error) {
  process.stderr.write(`${file}: cannot read it (${(error as Error).message.split("\n")[0]})\n`);
  process.exit(2);
}
const problems = checkWranglerConfig(raw);
for (const problem of problems) process.stderr.write(`${file}: ${problem}\n`);
process.exit(problems.length === 0 ? 0 : 2);
