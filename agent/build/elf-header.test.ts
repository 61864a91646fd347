import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { findPtyAddon } from "./bundle-agent.ts";
import { assertElfMachine, readElfHeader } from "./elf-header.ts";

// These machines are linux-x64 (the build test covers AArch64 files it made itself).
describe("the ELF header check", () => {
  it("reads this machine's Node and pty.node as 64-bit little-endian x86-64", async () => {
    const x64 = { bits: 64, littleEndian: true, machine: 62 };
    expect(await readElfHeader(process.execPath)).toEqual(x64);
    expect(await readElfHeader(findPtyAddon())).toEqual(x64);
  });

  it("refuses a file built for another target, naming both machines", async () => {
    await expect(assertElfMachine(findPtyAddon(), "linux-x64")).resolves.toBeUndefined();
    await expect(assertElfMachine(findPtyAddon(), "linux-arm64")).rejects.toThrow(
      /is a 64-bit x86-64 file, but linux-arm64 needs 64-bit AArch64/,
    );
  });

  it("refuses what is not an ELF file", async () => {
    const folder = await mkdtemp(path.join(tmpdir(), "elf-header-"));
    try {
      const script = path.join(folder, "script.sh");
      await writeFile(script, "#!/bin/sh\necho this is a script, not a binary\n");
      await expect(readElfHeader(script)).rejects.toThrow("is not an ELF file");
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});
