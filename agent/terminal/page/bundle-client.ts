/* eslint-disable security/detect-non-literal-fs-filename -- files of our own package, resolved at build time */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

// Builds the terminal page's assets at build time; the agent embeds the result and never
// runs esbuild itself.

export interface TerminalClientBundle {
  js: string;
  css: string;
}

export async function bundleTerminalClient(): Promise<TerminalClientBundle> {
  const result = await build({
    entryPoints: [fileURLToPath(new URL("./client.ts", import.meta.url))],
    bundle: true,
    format: "iife",
    platform: "browser",
    target: ["chrome110", "firefox110", "safari16"],
    minify: true,
    legalComments: "none",
    write: false,
    logLevel: "silent",
  });
  const js = result.outputFiles[0]?.text;
  if (!js) throw new Error("esbuild produced no output for the terminal client.");
  const require = createRequire(import.meta.url);
  const [xtermCss, pageCss] = await Promise.all([
    readFile(require.resolve("@xterm/xterm/css/xterm.css"), "utf8"),
    readFile(new URL("./terminal-page.css", import.meta.url), "utf8"),
  ]);
  return { js, css: `${xtermCss}\n${pageCss}` };
}
