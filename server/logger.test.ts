import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { projectRoot } from "./testing/program.ts";

const run = promisify(execFile);

// Standard output is written asynchronously (ADR 0026): a line logged just before the
// process exits, on purpose or in a crash, must still come out.
describe("the logger on standard output", () => {
  it("writes out every line logged before process.exit", async () => {
    const script = `
      const { createLogger } = await import("./server/logger.ts");
      const logger = createLogger({ level: "info", service: "test" });
      for (let i = 0; i < 2000; i++) logger.info({ i }, "line");
      logger.fatal("last words");
      process.exit(3);`;
    const result = await run(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "-e", script],
      {
        cwd: projectRoot,
        maxBuffer: 64 * 1024 * 1024,
      },
    ).catch((error: { code: number; stdout: string }) => error);
    expect("code" in result ? result.code : 0).toBe(3);
    const lines = result.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { msg: string });
    expect(lines).toHaveLength(2001);
    expect(lines.at(-1)).toMatchObject({ msg: "last words", level: "fatal" });
  });
});

describe("the logger on standard output, when traffic is light", () => {
  it("writes a lone line out soon, while the process keeps running", async () => {
    // Lines are gathered into batches (ADR 0028); a line nothing follows must not wait for
    // the batch to fill or the process to end.
    const script = `
      const { createLogger } = await import("./server/logger.ts");
      createLogger({ level: "info", service: "test" }).info("alone");
      setTimeout(() => {}, 60_000);`;
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "-e", script],
      {
        cwd: projectRoot,
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    try {
      const [firstLine] = (await once(createInterface({ input: child.stdout }), "line")) as [
        string,
      ];
      expect(JSON.parse(firstLine)).toMatchObject({ msg: "alone" });
      expect(child.exitCode).toBeNull();
    } finally {
      child.kill();
    }
  });
});
