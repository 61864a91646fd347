import { chmod, cp, mkdir, readdir, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { hashFile } from "./hash-file.ts";

// The folder the workspace toolchain archive holds, as a VM unpacks it into
// /opt/cloud-ai-workspaces/toolchain (cloud-init/toolchain-script.ts links the tools):
//
//   node/bin/node                  Node's official binary (npm node-linux-<arch>)
//   node/bin/npm, node/bin/npx     links into node/lib/node_modules/npm, as in Node's own tarball
//   node/etc/npmrc                 prefix=/usr/local: `sudo npm install -g` lands on PATH
//   devcontainer/                  the @devcontainers/cli package (one bundled script)
//   bin/devcontainer               runs it with the toolchain's Node, wherever it is unpacked
//   manifest.json, SHA256SUMS      versions; every file's SHA-256, for `sha256sum -c`

export type ToolchainVersions = { node: string; npm: string; devcontainerCli: string };

export type ToolchainSources = {
  /** The extracted node-linux-<arch> package. */
  nodeFolder: string;
  /** The extracted npm package. */
  npmFolder: string;
  /** The @devcontainers/cli package. */
  devcontainerCliFolder: string;
  versions: ToolchainVersions;
  arch: string;
};

const launcher = `#!/bin/sh
# The devcontainer CLI with the toolchain's own Node (installed by Cloud AI Workspaces).
here=$(dirname "$(readlink -f "$0")")
exec "$here/../node/bin/node" "$here/../devcontainer/devcontainer.js" "$@"
`;

// What fetchPinnedPackage leaves in its folders, and Node's headers and docs: node-gyp fetches
// headers itself when a package needs them, and the docs are on nodejs.org.
const leftOut = new Set([".pinned-integrity"]);

export async function writeToolchainTree(tree: string, sources: ToolchainSources): Promise<void> {
  const keep = (source: string) => !leftOut.has(path.basename(source));
  await mkdir(path.join(tree, "node", "bin"), { recursive: true });
  await cp(path.join(sources.nodeFolder, "bin", "node"), path.join(tree, "node", "bin", "node"));
  await cp(path.join(sources.nodeFolder, "LICENSE"), path.join(tree, "node", "LICENSE"));
  const npm = path.join(tree, "node", "lib", "node_modules", "npm");
  await cp(sources.npmFolder, npm, { recursive: true, filter: keep, verbatimSymlinks: true });
  for (const tool of ["npm", "npx"])
    await symlink(
      `../lib/node_modules/npm/bin/${tool}-cli.js`,
      path.join(tree, "node", "bin", tool),
    );
  await mkdir(path.join(tree, "node", "etc"));
  await writeFile(path.join(tree, "node", "etc", "npmrc"), "prefix=/usr/local\n");
  await cp(sources.devcontainerCliFolder, path.join(tree, "devcontainer"), {
    recursive: true,
    filter: keep,
  });
  await mkdir(path.join(tree, "bin"));
  await writeFile(path.join(tree, "bin", "devcontainer"), launcher);
  for (const executable of ["node/bin/node", "bin/devcontainer"])
    await chmod(path.join(tree, executable), 0o755);
  const manifest = { ...sources.versions, arch: sources.arch };
  await writeFile(path.join(tree, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  await writeChecksums(tree);
}

/** SHA256SUMS in sha256sum's format, for every regular file, sorted by path. */
async function writeChecksums(tree: string): Promise<void> {
  const entries = await readdir(tree, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(tree, path.join(entry.parentPath, entry.name)))
    .sort();
  const lines: string[] = [];
  for (const file of files) lines.push(`${await hashFile(path.join(tree, file))}  ${file}\n`);
  await writeFile(path.join(tree, "SHA256SUMS"), lines.join(""));
}
