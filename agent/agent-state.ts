/* eslint-disable security/detect-non-literal-fs-filename -- the state folder is the agent's STATE_DIR setting, never a request value */
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { bootstrapResponseSchema, type BootstrapResponse } from "../protocol/agent-protocol.ts";
import { z } from "zod";

// What the agent must remember across restarts (systemd restarts it; the bootstrap token
// works only once): its bootstrap answer, with the agent token, and its cookie secret.
// One JSON file, mode 0600, in a mode-0700 folder.

const stateSchema = z.object({
  controlPlaneUrl: z.string(),
  bootstrap: bootstrapResponseSchema,
  cookieSecret: z.string(),
});
export type AgentState = z.infer<typeof stateSchema>;

export const stateFileOf = (stateDir: string) => path.join(stateDir, "agent.json");

export async function readAgentState(stateDir: string): Promise<AgentState | null> {
  try {
    return stateSchema.parse(JSON.parse(await readFile(stateFileOf(stateDir), "utf8")));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

export async function saveAgentState(
  stateDir: string,
  controlPlaneUrl: string,
  bootstrap: BootstrapResponse,
): Promise<AgentState> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const state: AgentState = {
    controlPlaneUrl,
    bootstrap,
    cookieSecret: randomBytes(32).toString("base64url"),
  };
  // Written aside and renamed, so a crash never leaves half a file.
  const file = stateFileOf(stateDir);
  await writeFile(`${file}.tmp`, JSON.stringify(state), { mode: 0o600 });
  await rename(`${file}.tmp`, file);
  return state;
}
