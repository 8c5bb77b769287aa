// The environment and paths that tests use to run real Nix offline (defined beside the Nix
// driver so that origin/ tests can use them too; TypeScript project references only point
// from test/ to origin/).

export {
  fixturePackageSet,
  testCacheDir,
  testNixConfDir,
  testNixEnv,
} from "../../origin/nix/fixture-env.ts";
