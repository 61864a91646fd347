import { getAsset, isSea } from "node:sea";

// The files the agent's terminal page loads. In the single executable they are SEA assets
// (embedded by build-agent.ts); running from source, the page is bundled on demand instead,
// which is asynchronous, hence loadAgentAssets() before the first read. pty.node is an asset
// too, but it is native-addon.ts's business and never served, so it is not readable here.

export type AgentAssetName = "terminal.js" | "terminal.css";

const assetNames: ReadonlySet<string> = new Set<AgentAssetName>(["terminal.js", "terminal.css"]);
const cache = new Map<string, Buffer>();
let loading: Promise<void> | undefined;
let loaded = false;

/** An asset's bytes (the same Buffer every time), or null when there is no such asset. */
export function readAgentAsset(name: AgentAssetName | (string & {})): Buffer | null {
  if (!assetNames.has(name)) return null;
  if (isSea()) return readSeaAsset(name);
  if (!loaded)
    throw new Error("Running from source: await loadAgentAssets() before readAgentAsset().");
  return cache.get(name) ?? null;
}

/** Makes the assets readable: nothing to do in the SEA, a terminal page bundle from source. */
export function loadAgentAssets(): Promise<void> {
  if (isSea()) return Promise.resolve();
  loading ??= bundleFromSource().catch((error: unknown) => {
    loading = undefined;
    throw error;
  });
  return loading;
}

async function bundleFromSource(): Promise<void> {
  // Replaced by a stub in the agent bundle, so esbuild never ends up inside the binary.
  const { bundleTerminalClient } = await import("../terminal/page/bundle-client.ts");
  const { js, css } = await bundleTerminalClient();
  cache.set("terminal.js", Buffer.from(js));
  cache.set("terminal.css", Buffer.from(css));
  loaded = true;
}

function readSeaAsset(name: string): Buffer | null {
  let bytes = cache.get(name);
  if (bytes) return bytes;
  try {
    bytes = Buffer.from(getAsset(name));
  } catch {
    return null;
  }
  cache.set(name, bytes);
  return bytes;
}
