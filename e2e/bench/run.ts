import { spawn } from "node:child_process";
import { readdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

// `npm run bench`: runs every e2e/bench/*.ts (but this file) as its own program, one after
// another so they do not disturb each other's figures. Each prints one JSON line per figure.

const benchDir = path.dirname(fileURLToPath(import.meta.url));

function runBenchProgram(file: string): Promise<number | null> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(benchDir, file)], {
    stdio: ["ignore", "inherit", "inherit"],
  });
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

const benches = (await readdir(benchDir))
  .filter((file) => file.endsWith(".ts") && file !== "run.ts")
  .sort();
let failed = 0;
for (const file of benches) {
  const code = await runBenchProgram(file);
  if (code !== 0) {
    failed++;
    console.error(`bench ${file} failed (exit ${code})`);
  }
}
process.exitCode = failed > 0 ? 1 : 0;
