import { open } from "node:fs/promises";
import { agentTargets, type AgentTarget } from "./agent-targets.ts";

// The ELF header says which CPU a binary is for (e_machine). The build checks every
// executable and addon it produces against its target, so a wrong compiler or runtime
// fails the build here instead of on a server.

export type ElfHeader = { bits: 32 | 64; littleEndian: boolean; machine: number };

const machineNames: Record<number, string> = { 62: "x86-64", 183: "AArch64" };

/** The class, byte order and e_machine of an ELF file; throws for anything else. */
export async function readElfHeader(file: string): Promise<ElfHeader> {
  const handle = await open(file, "r");
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(20), 0, 20, 0);
    if (bytesRead < 20 || buffer.readUInt32BE(0) !== 0x7f454c46)
      throw new Error(`${file} is not an ELF file.`);
    const littleEndian = buffer[5] === 1;
    // e_machine sits at offset 18 in both the 32- and the 64-bit header.
    const machine = littleEndian ? buffer.readUInt16LE(18) : buffer.readUInt16BE(18);
    return { bits: buffer[4] === 2 ? 64 : 32, littleEndian, machine };
  } finally {
    await handle.close();
  }
}

export async function assertElfMachine(file: string, target: AgentTarget): Promise<void> {
  const expected = agentTargets[target].elfMachine;
  const { machine, bits } = await readElfHeader(file);
  if (machine === expected && bits === 64) return;
  const name = (value: number) => machineNames[value] ?? `e_machine ${value}`;
  throw new Error(
    `${file} is a ${bits}-bit ${name(machine)} file, but ${target} needs 64-bit ` +
      `${name(expected)}: the build used the wrong compiler or Node runtime.`,
  );
}
