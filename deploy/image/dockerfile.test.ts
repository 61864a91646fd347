import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { serverNodeFlags } from "../../server/process/node-flags.ts";

// The Dockerfile's rules, checked on its parsed instructions. (dockerfilelint 1.8 was tried
// and refused: it flags `FROM ${BASE_IMAGE}` as untagged and HEALTHCHECK's --start-period as
// invalid, the two things this file most needs.)

type Instruction = { keyword: string; args: string; line: number };

const root = new URL("../../", import.meta.url);
const dockerfile = await readFile(new URL("Dockerfile", root), "utf8");
const dockerignore = await readFile(new URL(".dockerignore", root), "utf8");

/** Instructions with continuation lines joined and comments dropped. */
function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending = "";
  let start = 0;
  text.split("\n").forEach((raw, index) => {
    const line = raw.trim();
    if (!pending && (line === "" || line.startsWith("#"))) return;
    if (pending && line.startsWith("#")) return;
    if (!pending) start = index + 1;
    pending += (pending ? " " : "") + line.replace(/\\$/, "").trim();
    if (line.endsWith("\\")) return;
    const [keyword = "", ...rest] = pending.split(/\s+/);
    instructions.push({ keyword: keyword.toUpperCase(), args: rest.join(" "), line: start });
    pending = "";
  });
  return instructions;
}

/** The instructions of each stage, keyed by its name (or its index). */
function stages(instructions: Instruction[]): Map<string, Instruction[]> {
  const byStage = new Map<string, Instruction[]>();
  let current: Instruction[] | null = null;
  for (const instruction of instructions) {
    if (instruction.keyword === "FROM") {
      const name = /\bAS\s+(\S+)$/i.exec(instruction.args)?.[1] ?? String(byStage.size);
      current = [];
      byStage.set(name, current);
    }
    current?.push(instruction);
  }
  return byStage;
}

function isExecForm(args: string): boolean {
  try {
    const parsed: unknown = JSON.parse(args);
    return Array.isArray(parsed) && parsed.every((part) => typeof part === "string");
  } catch {
    return false;
  }
}

const instructions = parseDockerfile(dockerfile);
const byStage = stages(instructions);
const runtime = [...byStage.values()].at(-1)!;

describe("Dockerfile", () => {
  it("builds in one stage and runs from another that copies only built output", () => {
    expect([...byStage.keys()]).toEqual(["build", "runtime"]);
    const build = byStage.get("build")!;
    const runs = build.filter((i) => i.keyword === "RUN").map((i) => i.args);
    expect(runs.some((args) => args.includes("npm ci"))).toBe(true);
    expect(runs.some((args) => /npm run build && npm prune --omit=dev/.test(args))).toBe(true);
    const copies = runtime.filter((i) => i.keyword === "COPY");
    expect(copies.length).toBeGreaterThan(0);
    expect(copies.filter((i) => !i.args.startsWith("--from=build"))).toEqual([]);
    expect(copies.map((i) => i.args)).toEqual(
      expect.arrayContaining([expect.stringContaining("/src/dist ./dist")]),
    );
  });

  it("pins its base image to one Node release, never latest", () => {
    const arg = instructions.find((i) => i.keyword === "ARG" && i.args.startsWith("BASE_IMAGE="));
    expect(arg?.args).toMatch(/^BASE_IMAGE=node:20\.\d+\.\d+-bookworm-slim$/);
    for (const from of instructions.filter((i) => i.keyword === "FROM"))
      expect(from.args).toMatch(/^\$\{BASE_IMAGE\} AS \w+$/);
    expect(dockerfile).not.toMatch(/:latest\b/);
  });

  it("runs as a numeric non-root user, stops on SIGTERM and checks /healthz", () => {
    const users = runtime.filter((i) => i.keyword === "USER").map((i) => i.args);
    expect(users.at(-1)).toMatch(/^[1-9]\d{3,}:[1-9]\d{3,}$/);
    expect(runtime.find((i) => i.keyword === "STOPSIGNAL")?.args).toBe("SIGTERM");
    const healthcheck = runtime.find((i) => i.keyword === "HEALTHCHECK")?.args ?? "";
    const command = /\bCMD\s+(\[.*\])$/.exec(healthcheck)?.[1] ?? "";
    expect(isExecForm(command)).toBe(true);
    expect(JSON.parse(command)).toEqual(["node", "deploy/image/healthcheck.mjs"]);
  });

  it("starts node itself, in exec form, so SIGTERM reaches the program", () => {
    const entries = runtime.filter((i) => i.keyword === "CMD" || i.keyword === "ENTRYPOINT");
    expect(entries.map((i) => i.keyword)).toEqual(["CMD"]);
    expect(isExecForm(entries[0]!.args)).toBe(true);
    expect(JSON.parse(entries[0]!.args)).toEqual(["node", "build/server/web.js"]);
  });

  it("runs both programs with the Node flags npm start and the bench use", () => {
    const env = runtime.filter((i) => i.keyword === "ENV").map((i) => i.args);
    const options = env.join(" ").match(/\bNODE_OPTIONS="([^"]*)"/)?.[1];
    expect(options?.split(" ")).toEqual(serverNodeFlags);
  });

  it("installs Debian packages without recommends and leaves no package lists", () => {
    for (const run of instructions.filter((i) => i.args.includes("apt-get install"))) {
      expect(run.args).toContain("--no-install-recommends");
      expect(run.args).toContain("-y");
      expect(run.args).toContain("rm -rf /var/lib/apt/lists/*");
    }
  });

  it("sets no secret in the image and fetches nothing with ADD", () => {
    const env = instructions.filter((i) => i.keyword === "ENV" || i.keyword === "ARG");
    expect(env.filter((i) => /KEY|SECRET|TOKEN|PASSWORD|DATABASE_URL/i.test(i.args))).toEqual([]);
    expect(instructions.filter((i) => i.keyword === "ADD")).toEqual([]);
  });

  it("has patches/ in place before npm ci, whose postinstall patches postgres.js (ADR 0025)", () => {
    const build = [...byStage.values()][0]!;
    const install = build.findIndex((i) => i.keyword === "RUN" && /\bnpm ci\b/.test(i.args));
    const patches = build.findIndex((i) => i.keyword === "COPY" && /(^|\s)patches\b/.test(i.args));
    expect(install).toBeGreaterThan(-1);
    expect(patches).toBeGreaterThan(-1);
    expect(patches).toBeLessThan(install);
    expect(build.some((i) => /--ignore-scripts/.test(i.args))).toBe(false);
  });

  it("keeps this machine's builds, caches and secrets out of the build context", () => {
    const ignored = dockerignore.split("\n").map((line) => line.trim());
    for (const entry of ["node_modules", "build", "dist", ".cache", ".data", ".git", ".env"])
      expect(ignored).toContain(entry);
  });
});

describe("the Dockerfile parser", () => {
  it("joins continuation lines and finds a shell-form CMD, so the rules above can fail", () => {
    const parsed = parseDockerfile(
      "FROM x AS a\n# c\nRUN a \\\n  && b\nCMD node web.js\nUSER root\n",
    );
    expect(parsed.map((i) => [i.keyword, i.args])).toEqual([
      ["FROM", "x AS a"],
      ["RUN", "a && b"],
      ["CMD", "node web.js"],
      ["USER", "root"],
    ]);
    expect(isExecForm(parsed[2]!.args)).toBe(false);
  });
});
