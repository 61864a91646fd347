import type { AgentConfig } from "../config.ts";

export type CawCommand = {
  /** The folder with `caw` in it (prepend it to PATH); readable by the workspace user. */
  binDir: string;
  /** `<binDir>/caw`: absolute, for hooks and the shell launcher. */
  caw: string;
  /** How to run caw as argv. */
  program: string[];
};

/** Makes `<binDir>/caw` (a symlink to the single executable, or an sh wrapper from source). */
export async function prepareCawCommand(config: AgentConfig): Promise<CawCommand> {
  void config;
  throw new Error("not implemented yet");
}
