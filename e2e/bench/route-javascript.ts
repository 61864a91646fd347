import path from "node:path";
import { fileURLToPath } from "node:url";
import { filesOfRoute, gzippedSize, readRemixManifest } from "./support/route-javascript.ts";

// Route JavaScript budget (issue #6: under 200 KB gzipped per page), beside the baseline every
// page pays anyway: the Remix entry with React and React DOM.

const publicDir = fileURLToPath(new URL("../../public", import.meta.url));
const budgetBytes = 200 * 1024;
const manifest = await readRemixManifest(publicDir);
const baseline = await gzippedSize(publicDir, [
  manifest.entry.module,
  ...(manifest.entry.imports ?? []),
]);
console.log(
  JSON.stringify({
    bench: "route_js",
    metric: "gzip_bytes",
    route: "baseline_entry_react",
    value: baseline,
  }),
);
let overBudget = 0;
for (const routeId of Object.keys(manifest.routes).sort()) {
  const value = await gzippedSize(publicDir, filesOfRoute(manifest, routeId));
  if (value > budgetBytes) overBudget++;
  const route = routeId.replace(/^routes\//, "");
  console.log(
    JSON.stringify({ bench: "route_js", metric: "gzip_bytes", route, value, budget: budgetBytes }),
  );
}
if (overBudget > 0) {
  console.error(
    `${overBudget} route(s) ship more than ${budgetBytes} gzipped bytes of JavaScript (${path.relative(process.cwd(), publicDir)}).`,
  );
  process.exitCode = 1;
}
