import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build, type BuildFailure, type Plugin } from "esbuild";

// esbuild step of the agent binary: one CommonJS file (a Node single executable runs only
// CommonJS) with every dependency inside, and node-pty taught to load its addon from the
// executable's assets instead of from node_modules.

const require = createRequire(import.meta.url);
const nativeLoader = fileURLToPath(new URL("./native-addon.ts", import.meta.url));

/** node-pty's addon for this machine, looked up in the order node-pty itself uses. */
export function findPtyAddon(): string {
  const root = path.dirname(require.resolve("node-pty/package.json"));
  const folders = ["build/Release", "build/Debug", `prebuilds/${process.platform}-${process.arch}`];
  const found = folders.map((folder) => path.join(root, folder, "pty.node")).find(existsSync);
  if (!found)
    throw new Error(`node-pty has no pty.node for ${process.platform}-${process.arch}: run npm ci.`);
  return found;
}

/** Bundles `entry` into CommonJS source; outside the SEA it loads pty.node from `ptyAddon`. */
export async function bundleAgent(entry: string, ptyAddon: string): Promise<Buffer> {
  const result = await build({
    entryPoints: [entry],
    outfile: "agent.cjs",
    write: false,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    metafile: true,
    logLevel: "silent",
    // CommonJS has no import.meta; modules that locate themselves get the executable's URL.
    define: { "import.meta.url": "__agentModuleUrl" },
    banner: { js: 'var __agentModuleUrl = require("node:url").pathToFileURL(__filename).href;' },
    plugins: [createSingleExecutablePlugin(path.dirname(ptyAddon))],
  }).catch((error: unknown) => {
    throw new Error(describeBuildFailure(error as BuildFailure), { cause: error });
  });
  const inputs = Object.keys(result.metafile.inputs);
  // esbuild's API spawns its own native binary, which cannot work from inside the agent.
  const esbuildInput = inputs.find((input) => input.includes("node_modules/esbuild/"));
  if (esbuildInput) throw new Error(`The agent bundle must not contain esbuild (${esbuildInput}).`);
  return Buffer.from(result.outputFiles[0]!.contents);
}

function createSingleExecutablePlugin(ptyAddonDir: string): Plugin {
  return {
    name: "agent-single-executable",
    setup(build) {
      build.onLoad({ filter: /[\\/]node-pty[\\/]lib[\\/]utils\.js$/ }, () => ({
        contents: ptyUtilsSource(ptyAddonDir),
        loader: "js",
      }));
      // ws uses these optional native helpers when present and plain JavaScript otherwise;
      // a module that throws on load makes it take the JavaScript path in and out of the SEA.
      build.onResolve({ filter: /^(bufferutil|utf-8-validate)$/ }, (args) => ({
        path: args.path,
        namespace: "agent-absent",
      }));
      build.onLoad({ filter: /.*/, namespace: "agent-absent" }, (args) => ({
        contents: `throw new Error(${JSON.stringify(`${args.path} is not in the agent binary`)});`,
        loader: "js",
      }));
      // The terminal page is bundled at build time and embedded; its bundler (esbuild) is not.
      build.onResolve({ filter: /[\\/]bundle-client(\.ts)?$/ }, (args) => ({
        path: args.path,
        namespace: "agent-embedded-page",
      }));
      build.onLoad({ filter: /.*/, namespace: "agent-embedded-page" }, () => ({
        contents:
          "export async function bundleTerminalClient() {\n" +
          '  throw new Error("The agent binary serves its embedded terminal page.");\n}\n',
        loader: "js",
      }));
    },
  };
}

// Stands in for node-pty's lib/utils.js: the same two exports, the addon from native-addon.ts.
function ptyUtilsSource(ptyAddonDir: string): string {
  return [
    '"use strict";',
    "exports.assign = function (target, ...sources) {",
    "  for (const source of sources) for (const key of Object.keys(source)) target[key] = source[key];",
    "  return target;",
    "};",
    `exports.loadNativeModule = require(${JSON.stringify(nativeLoader)})`,
    `  .createNativeModuleLoader(${JSON.stringify(ptyAddonDir)});`,
  ].join("\n");
}

function describeBuildFailure(failure: BuildFailure): string {
  const messages = (failure.errors ?? []).map((error) => {
    const where = error.location ? `${error.location.file}:${error.location.line}: ` : "";
    return `${where}${error.text}`;
  });
  const text = messages.join("\n") || String(failure);
  const hint = /top-level await/i.test(text)
    ? "\nThe agent's entry must not use top-level await (a Node single executable runs " +
      "CommonJS): start it from an async main() instead."
    : "";
  return `Bundling the agent failed:\n${text}${hint}`;
}
