import { request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";
import { WebSocket } from "ws";

// The browser's side of a workspace terminal, pointed at one machine: the agent's hostname
// (ws-{id}.BASE_DOMAIN, as Cloudflare would ask for it) resolves to the machine's address,
// and with TLS only the given CA is trusted, with the hostname as SNI.

export type TerminalTarget = { agentUrl: string; address: string; port: number; ca?: string };

function connectionOptions(target: TerminalTarget) {
  const lookup: LookupFunction = (_hostname, options, callback) => {
    if (options.all) callback(null, [{ address: target.address, family: 4 }]);
    else callback(null, target.address, 4);
  };
  return { lookup, ca: target.ca, servername: new URL(target.agentUrl).hostname };
}

function originOf(target: TerminalTarget) {
  const url = new URL(target.agentUrl);
  url.port = String(target.port);
  return url;
}

/** Follows a terminal link (`?token=`) and returns the cookie the agent sets. */
export async function enterTerminal(target: TerminalTarget, link: string): Promise<string> {
  const url = originOf(target);
  url.search = new URL(link).search;
  const options = connectionOptions(target);
  const response = await new Promise<{ status: number; cookies: string[] }>((resolve, reject) => {
    const onResponse = (res: IncomingMessage) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, cookies: res.headers["set-cookie"] ?? [] });
    };
    const request =
      url.protocol === "https:"
        ? httpsRequest(url, { ...options, agent: new HttpsAgent(options) }, onResponse)
        : httpRequest(url, { lookup: options.lookup }, onResponse);
    request.once("error", reject);
    request.end();
  });
  if (response.status !== 200) throw new Error(`the terminal link answered ${response.status}`);
  return response.cookies.map((cookie) => cookie.split(";")[0]).join("; ");
}

/**
 * Types `command` into a terminal session (a new one, or the named one, created if missing) and
 * returns what it printed up to `marker` (the replayed scrollback included), which the command
 * prints but must not contain literally (the terminal echoes what is typed).
 */
export async function runInTerminal(
  target: TerminalTarget,
  cookie: string,
  command: string,
  marker: string,
  options: { timeoutMs?: number; session?: string } = {},
): Promise<string> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const url = originOf(target);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.pathname = "/ws";
  if (options.session) url.searchParams.set("session", options.session);
  const ws = new WebSocket(url, {
    ...connectionOptions(target),
    headers: { cookie },
    origin: originOf(target).origin,
  });
  let output = "";
  try {
    return await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no ${marker} in the terminal within ${timeoutMs} ms:\n${output}`)),
        timeoutMs,
      );
      ws.on("message", (data, binary) => {
        if (!binary) {
          const message = JSON.parse(data.toString()) as { type: string };
          if (message.type === "session") ws.send(Buffer.from(`${command}\r`), { binary: true });
          return;
        }
        output += data.toString();
        if (output.includes(marker)) {
          clearTimeout(timer);
          resolve(output);
        }
      });
      ws.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  } finally {
    ws.close();
  }
}
