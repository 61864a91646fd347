import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { gzipSync } from "node:zlib";

// What a browser downloads to show each page: the Remix entry, the root route, the page's
// route module and every shared chunk they import, measured gzipped from public/build.

type ManifestRoute = { id: string; parentId?: string; module: string; imports?: string[] };
type Manifest = {
  entry: { module: string; imports?: string[] };
  routes: Record<string, ManifestRoute>;
};

export async function readRemixManifest(publicDir: string): Promise<Manifest> {
  const buildDir = path.join(publicDir, "build");
  const file = (await readdir(buildDir)).find((name) => /^manifest-.*\.js$/.test(name));
  if (!file) throw new Error(`No Remix manifest in ${buildDir}: run npm run build first.`);
  const text = await readFile(path.join(buildDir, file), "utf8");
  return JSON.parse(text.replace(/^window\.__remixManifest=/, "").replace(/;\s*$/, "")) as Manifest;
}

/** Gzipped bytes of every distinct file in `files` (URLs under /build/). */
export async function gzippedSize(publicDir: string, files: Iterable<string>): Promise<number> {
  let total = 0;
  for (const url of new Set(files))
    total += gzipSync(await readFile(path.join(publicDir, url))).length;
  return total;
}

/** The module URLs a page needs: entry, its route chain up to root, and their imports. */
export function filesOfRoute(manifest: Manifest, routeId: string): string[] {
  const files = [manifest.entry.module, ...(manifest.entry.imports ?? [])];
  for (
    let route = manifest.routes[routeId];
    route;
    route = route.parentId ? manifest.routes[route.parentId] : undefined
  )
    files.push(route.module, ...(route.imports ?? []));
  return files;
}
