import path from "node:path";
import { fileURLToPath } from "node:url";
import { filesOfRoute, gzippedSize, readRemixManifest } from "./support/route-javascript.ts";

// Route JavaScript budget (issue #6: under 200 KB gzipped per page), beside the baseline every
// page pays anyway: the Remix entry with React and React DOM.

const printFigure = (figure: Record<string, unknown>) =>
  process.stdout.write(
    `${JSON.stringify({ bench: "route_js", metric: "gzip_bytes", ...figure })}\n`,
  );

const publicDir = fileURLToPath(new URL("../../public", import.meta.url));
const budgetBytes = 200 * 1024;
const manifest = await readRemixManifest(publicDir);
const entryFiles = [manifest.entry.module, ...(manifest.entry.imports ?? [])];
printFigure({ route: "baseline_entry_react", value: await gzippedSize(publicDir, entryFiles) });
let overBudget = 0;
for (const routeId of Object.keys(manifest.routes).sort()) {
  const value = await gzippedSize(publicDir, filesOfRoute(manifest, routeId));
  if (value > budgetBytes) overBudget++;
  printFigure({ route: routeId.replace(/^routes\//, ""), value, budget: budgetBytes });
}
if (overBudget > 0) {
  console.error(
    `${overBudget} route(s) ship more than ${budgetBytes} gzipped bytes of JavaScript (${path.relative(process.cwd(), publicDir)}).`,
  );
  process.exitCode = 1;
}
