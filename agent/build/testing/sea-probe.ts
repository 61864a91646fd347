import { isSea } from "node:sea";
import { spawn } from "node-pty";
import { readAgentAsset } from "../assets.ts";

// A stand-in agent entry for build-agent.test.ts: runs a command in a PTY (so node-pty's
// addon must load) and reads embedded assets, then prints one JSON line of what it saw.

function runProbe(): void {
  const terminal = spawn("/bin/sh", ["-c", "echo sea-ok"], {
    name: "xterm-256color",
    cols: 80,
    rows: 24,
    cwd: process.cwd(),
    env: { PATH: "/usr/bin:/bin" },
  });
  let output = "";
  terminal.onData((data) => {
    output += data;
  });
  terminal.onExit(({ exitCode }) => {
    const sea = isSea();
    const report = {
      sea,
      pty: output.trim(),
      exitCode,
      css: sea ? readAgentAsset("terminal.css")?.toString("utf8") : null,
      js: sea ? readAgentAsset("terminal.js")?.toString("utf8") : null,
      missing: sea ? readAgentAsset("no-such-asset") : null,
      addon: sea ? readAgentAsset("pty.node") : null,
    };
    process.stdout.write(`${JSON.stringify(report)}\n`);
  });
}

runProbe();
