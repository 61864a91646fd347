import net from "node:net";
import { controlAnswerMaxBytes, type ControlRequest } from "./control-protocol.ts";

// The CLI's end of the control socket: one request line, one answer line. Errors say what to
// do, since the person reading them is at a shell (or an AI agent reading its hook's output).

export class ControlError extends Error {}

/** Sends `request` to the agent at `socketPath`; answers the parsed JSON answer. */
export function askAgent(
  socketPath: string,
  request: ControlRequest,
  timeoutMs = 15_000,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const connection = net.createConnection(socketPath);
    const chunks: Buffer[] = [];
    let size = 0;
    connection.setTimeout(timeoutMs, () =>
      connection.destroy(new ControlError(`The agent did not answer in ${timeoutMs / 1000} s.`)),
    );
    connection.on("connect", () => connection.write(`${JSON.stringify(request)}\n`));
    connection.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > controlAnswerMaxBytes)
        connection.destroy(new ControlError("The agent's answer is too large."));
      else chunks.push(chunk);
    });
    connection.on("error", (error: NodeJS.ErrnoException) => reject(describe(error, socketPath)));
    connection.on("end", () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      } catch {
        reject(new ControlError("The agent's answer was not JSON; is it the same version?"));
      }
    });
  });
}

function describe(error: NodeJS.ErrnoException, socketPath: string): Error {
  if (error instanceof ControlError) return error;
  if (error.code === "ENOENT" || error.code === "ECONNREFUSED")
    return new ControlError(
      `No workspace agent is listening at ${socketPath}: run this in a terminal of the ` +
        "workspace (its shells set CAW_CONTROL_SOCKET), or wait until the agent has started.",
    );
  if (error.code === "EACCES")
    return new ControlError(
      `${socketPath}: permission denied; only the workspace's own user can talk to its agent.`,
    );
  return new ControlError(`Could not reach the workspace agent at ${socketPath}: ${error.message}`);
}
