#!/usr/bin/env node
// The origin's command (package.json "bin"): `nixery-edge-origin` serves, `nixery-edge-origin gc`
// collects storage once. It runs origin/main.ts through tsx's loader in this same process, so
// signals (SIGTERM from systemd or a container runtime) reach the origin itself. Settings come
// from the environment (docs/deploy.md); nothing is installed.
import { register } from "tsx/esm/api";

register();
await import("../origin/main.ts");
