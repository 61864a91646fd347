import { createHash } from "node:crypto";
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { getAsset, isSea } from "node:sea";

// Inside the agent bundle this replaces node-pty's loadNativeModule (see bundle-agent.ts).
// A single executable can only `require` built-in modules, so the addon travels as a SEA
// asset, is written once to a private folder and loaded with process.dlopen.

export type NativeModule = { dir: string; module: unknown };

/** node-pty's `loadNativeModule(name)`; `devDir` holds the addons when not in the SEA. */
export function createNativeModuleLoader(devDir: string): (name: string) => NativeModule {
  return (name) => {
    const file = isSea() ? extractSeaAddon(`${name}.node`) : path.join(devDir, `${name}.node`);
    const module = { exports: {} };
    process.dlopen(module, file);
    return { dir: path.dirname(file), module: module.exports };
  };
}

/** Writes the asset under a name made of its SHA-256, so later starts reuse the same file. */
function extractSeaAddon(assetName: string): string {
  const bytes = Buffer.from(getAsset(assetName));
  const digest = createHash("sha256").update(bytes).digest("hex");
  const file = path.join(openPrivateFolder(), `${digest}-${assetName}`);
  if (hashFile(file) === digest) return file;
  // Written aside and renamed so a concurrent start never loads a half-written library.
  const partial = `${file}.${process.pid}.partial`;
  writeFileSync(partial, bytes, { mode: 0o700 });
  renameSync(partial, file);
  return file;
}

function openPrivateFolder(): string {
  const uid = process.getuid?.() ?? -1;
  const folder = path.join(tmpdir(), `cloud-ai-workspaces-agent-${uid}`);
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  const stat = lstatSync(folder);
  // Another user may have created the shared name first to plant a library we would load:
  // then use a fresh folder of our own instead (no reuse, but safe).
  if (!stat.isDirectory() || stat.uid !== uid)
    return mkdtempSync(path.join(tmpdir(), "cloud-ai-workspaces-agent-"));
  if ((stat.mode & 0o077) !== 0) chmodSync(folder, 0o700);
  return folder;
}

function hashFile(file: string): string | null {
  try {
    return createHash("sha256").update(readFileSync(file)).digest("hex");
  } catch {
    return null;
  }
}
