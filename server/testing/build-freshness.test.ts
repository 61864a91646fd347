import { mkdir, mkdtemp, rm, utimes, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  buildOutputs,
  checkAndRebuild,
  checkOutput,
  decideFreshness,
  hashSources,
  isBuildInput,
  writeStamp,
} from "./build-freshness.ts";

// The guard that keeps tests off a build older than its sources (build-freshness.ts).

const roots: string[] = [];
afterEach(async () => {
  for (const root of roots.splice(0)) await rm(root, { recursive: true, force: true });
});

/** A project with both outputs' folders and one source file each. */
async function makeProject(): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), "caw-freshness-"));
  roots.push(root);
  for (const folder of ["app/routes", "agent", "build", "dist/agent", "public/build"])
    await mkdir(path.join(root, folder), { recursive: true });
  await writeFile(path.join(root, "app/routes/_index.tsx"), "export default () => null;\n");
  await writeFile(path.join(root, "agent/main.ts"), "console.log('agent');\n");
  await writeFile(path.join(root, "build/index.js"), "");
  await writeFile(path.join(root, "dist/agent/manifest.json"), "{}");
  return root;
}

describe("decideFreshness", () => {
  it("is fresh only when the stamp holds the sources' hash now", () => {
    expect(decideFreshness("abc\n", "abc")).toBe("fresh");
    expect(decideFreshness("abc", "abd")).toBe("stale");
    expect(decideFreshness(null, "abc")).toBe("missing");
    expect(decideFreshness("abc", "abc", false)).toBe("missing");
  });
});

describe("isBuildInput", () => {
  it("leaves out tests, test helpers, notes, dependencies and the browser build", () => {
    expect(isBuildInput("app/routes/_index.tsx")).toBe(true);
    expect(isBuildInput("agent/build/build-agent.ts")).toBe(true);
    expect(isBuildInput("server/env.test.ts")).toBe(false);
    expect(isBuildInput("e2e/login.spec.ts")).toBe(false);
    expect(isBuildInput("server/testing/program.ts")).toBe(false);
    expect(isBuildInput("cloud-init/README.md")).toBe(false);
    expect(isBuildInput("agent/node_modules/x/index.js")).toBe(false);
    expect(isBuildInput("public/build/entry.client-X.js")).toBe(false);
  });
});

describe("hashSources", () => {
  it("changes with a source's content or name, not with its mtime or a test beside it", async () => {
    const root = await makeProject();
    const hash = () => hashSources(["app"], root);
    const first = await hash();
    const source = path.join(root, "app/routes/_index.tsx");
    await utimes(source, new Date(2001, 0, 1), new Date(2001, 0, 1)); // a fresh checkout
    await writeFile(path.join(root, "app/routes/_index.test.tsx"), "test");
    expect(await hash()).toBe(first);
    await writeFile(source, "export default () => 'changed';\n");
    const changed = await hash();
    expect(changed).not.toBe(first);
    await writeFile(path.join(root, "app/routes/other.tsx"), "export default () => 'changed';\n");
    expect(await hash()).not.toBe(changed);
  });
});

describe("checkAndRebuild", () => {
  it("rebuilds a stale Remix build once, then finds it fresh", async () => {
    const root = await makeProject();
    await writeStamp(buildOutputs.agent, root);
    const rebuilds: string[] = [];
    const lines: string[] = [];
    const check = () =>
      checkAndRebuild({
        root,
        rebuildRemix: async () => void rebuilds.push("remix build"),
        log: (line) => lines.push(line),
      });
    await check();
    expect(rebuilds).toEqual(["remix build"]);
    expect(lines.join("\n")).toContain("the Remix build (build/) is missing, in part or whole");
    await check();
    expect(rebuilds).toHaveLength(1);

    await writeFile(path.join(root, "app/routes/_index.tsx"), "export default () => 1;\n");
    await check();
    expect(rebuilds).toHaveLength(2);
    expect(lines.at(-1)).toContain("is older than its sources");

    // A checkout copied without public/build (the browser's half) is rebuilt too.
    await rm(path.join(root, "public/build"), { recursive: true });
    await check();
    expect(rebuilds).toHaveLength(3);
  });

  it("refuses a stale agent, naming the command that rebuilds it", async () => {
    const root = await makeProject();
    await writeStamp(buildOutputs.remix, root);
    await writeStamp(buildOutputs.agent, root);
    await writeFile(path.join(root, "agent/main.ts"), "console.log('new agent');\n");
    const rebuildRemix = async () => {
      throw new Error("the Remix build was fresh");
    };
    await expect(checkAndRebuild({ root, rebuildRemix, allowStaleAgent: false })).rejects.toThrow(
      "the agent build (dist/agent/) is older than its sources (they changed since it was built), so tests would run old code. Run `npm run build`, then the tests again.",
    );
    const lines: string[] = [];
    await checkAndRebuild({ root, rebuildRemix, allowStaleAgent: true, log: (l) => lines.push(l) });
    expect(lines.join("\n")).toContain("ALLOW_STALE_AGENT_BUILD=1: going on");
  });
});

describe("this checkout", () => {
  it("runs its tests on builds made from its sources (the global setup saw to it)", async () => {
    expect((await checkOutput(buildOutputs.remix)).freshness).toBe("fresh");
    if (process.env.ALLOW_STALE_AGENT_BUILD !== "1")
      expect((await checkOutput(buildOutputs.agent)).freshness).toBe("fresh");
  });
});
