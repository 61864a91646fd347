import { ensureFreshBuilds } from "./build-freshness.ts";

// First global setup of both Vitest projects: no test runs against a build older than its
// sources (build-freshness.ts says how).
export default async function setup() {
  await ensureFreshBuilds();
}
