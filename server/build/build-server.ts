import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build, type Plugin } from "esbuild";

// `npm run build` step for the two server programs (SPEC §15): build/server/web.js and
// build/server/worker.js, which the container image runs as PID 1 (`node build/server/…`),
// so SIGTERM reaches the program and nothing compiles TypeScript at run time. Packages stay
// in node_modules; only our modules are bundled.

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
export const serverOutDir = path.join(repoRoot, "build", "server");

export const serverEntries = {
  web: path.join(repoRoot, "server", "main.ts"),
  worker: path.join(repoRoot, "server", "worker", "main.ts"),
};

/**
 * Modules that find files beside themselves (db/migrate.ts its migrations, process/version.ts
 * package.json) do so from `import.meta.url`. Bundled, that URL is the bundle's: each module's
 * use of it becomes its own source file's URL, reached from the bundle's, so the same paths
 * work under tsx and from build/server/ (the image keeps the source tree's layout).
 */
function keepModuleUrls(outDir: string): Plugin {
  return {
    name: "keep-module-urls",
    setup(esbuild) {
      esbuild.onLoad({ filter: /\.ts$/ }, async (args) => {
        if (args.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
        // The path is one esbuild resolved from our own imports.
        // eslint-disable-next-line security/detect-non-literal-fs-filename
        const source = await readFile(args.path, "utf8");
        if (!source.includes("import.meta.url")) return undefined;
        const relative = path.relative(outDir, args.path).split(path.sep).join("/");
        const moduleUrl = `new URL(${JSON.stringify(relative)}, import.meta.url).href`;
        return { contents: source.replaceAll("import.meta.url", moduleUrl), loader: "ts" };
      });
    },
  };
}

/** Bundles both programs; fails when a bundle needs a package that is only a devDependency. */
export async function buildServer(outDir = serverOutDir): Promise<string[]> {
  const result = await build({
    entryPoints: serverEntries,
    outdir: outDir,
    bundle: true,
    packages: "external",
    platform: "node",
    target: "node20",
    format: "esm",
    sourcemap: true,
    metafile: true,
    logLevel: "warning",
    plugins: [keepModuleUrls(outDir)],
  });
  const imported = Object.values(result.metafile.outputs).flatMap((output) =>
    output.imports.filter((entry) => entry.external).map((entry) => entry.path),
  );
  await checkRuntimePackages(imported);
  return Object.keys(result.metafile.outputs).filter((file) => file.endsWith(".js"));
}

/** An image installs `dependencies` only: a bundle that imports anything else would not start. */
async function checkRuntimePackages(specifiers: string[]): Promise<void> {
  // Our own package.json, beside this folder.
  // eslint-disable-next-line security/detect-non-literal-fs-filename
  const manifest = JSON.parse(await readFile(path.join(repoRoot, "package.json"), "utf8")) as {
    dependencies: Record<string, string>;
    optionalDependencies?: Record<string, string>;
  };
  const installed = new Set([
    ...Object.keys(manifest.dependencies),
    ...Object.keys(manifest.optionalDependencies ?? {}),
  ]);
  const packages = new Set(
    specifiers
      .filter((specifier) => !specifier.startsWith("node:") && !specifier.startsWith("."))
      .map((specifier) => specifier.split("/").slice(0, specifier.startsWith("@") ? 2 : 1).join("/")),
  );
  const missing = [...packages].filter((name) => !installed.has(name));
  if (missing.length > 0)
    throw new Error(
      `The server bundles import ${missing.join(", ")}, which package.json lists only as devDependencies (or not at all): ` +
        "move them to dependencies, or keep the server code that needs them out of server/main.ts and server/worker/main.ts.",
    );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const files = await buildServer();
  process.stdout.write(`server programs built: ${files.join(", ")}\n`);
}
