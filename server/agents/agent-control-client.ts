import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";
import type { z } from "zod";
import { AppError } from "../errors.ts";

// SPEC §14: the control plane's calls to a workspace agent's session API (docs/adr/0015), at
// the workspace's agentUrl with a short-lived JWT the agent checks against our JWKS. In the
// one-machine mode the agent answers at `http://ws-{id}.localhost:{port}`: browsers resolve
// `*.localhost` to loopback by themselves, Node does not, so those names are looked up here.

export type AgentCall = {
  agentUrl: string;
  token: string;
  method: "GET" | "POST" | "PATCH" | "DELETE";
  path: string;
  body?: unknown;
  timeoutMs?: number;
};

const defaultTimeoutMs = 15_000;
const maxAnswerBytes = 1024 * 1024;

/** Calls the agent and parses its JSON answer with `schema`; failures become AppErrors. */
export async function callAgent<Schema extends z.ZodType>(
  call: AgentCall,
  schema: Schema,
): Promise<z.output<Schema>> {
  const { status, text } = await send(call).catch((error: unknown) => {
    throw new AppError(
      "SERVICE_UNAVAILABLE",
      `The workspace's agent did not answer (${describe(error)}). If the workspace just started, try again in a moment; otherwise stop and start it.`,
    );
  });
  const answer = parseJson(text);
  if (status >= 200 && status < 300) {
    const parsed = schema.safeParse(answer);
    if (parsed.success) return parsed.data;
    throw new AppError(
      "SERVICE_UNAVAILABLE",
      "The workspace's agent answered in a form this control plane does not know. Stop and start the workspace to get the current agent.",
    );
  }
  const message = errorMessageOf(answer) ?? `answered ${status}`;
  throw new AppError(codeFor(status), `The workspace's agent: ${message}`);
}

function send(call: AgentCall): Promise<{ status: number; text: string }> {
  const url = new URL(call.path, call.agentUrl);
  const body = call.body === undefined ? undefined : JSON.stringify(call.body);
  const options = {
    method: call.method,
    headers: {
      authorization: `Bearer ${call.token}`,
      accept: "application/json",
      ...(body === undefined
        ? {}
        : { "content-type": "application/json", "content-length": Buffer.byteLength(body) }),
    },
    timeout: call.timeoutMs ?? defaultTimeoutMs,
    ...(url.hostname.endsWith(".localhost") ? { lookup: loopbackLookup } : {}),
  };
  return new Promise((resolve, reject) => {
    const onResponse = (response: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxAnswerBytes) response.destroy(new Error("the answer is too large"));
        else chunks.push(chunk);
      });
      response.once("error", reject);
      response.once("end", () =>
        resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }),
      );
    };
    const request =
      url.protocol === "https:"
        ? httpsRequest(url, options, onResponse)
        : httpRequest(url, options, onResponse);
    request.once("timeout", () => request.destroy(new Error("timed out")));
    request.once("error", reject);
    request.end(body);
  });
}

const loopbackLookup: LookupFunction = (_hostname, options, callback) => {
  if (options.all) callback(null, [{ address: "127.0.0.1", family: 4 }]);
  else callback(null, "127.0.0.1", 4);
};

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function errorMessageOf(answer: unknown): string | null {
  if (answer && typeof answer === "object" && "error" in answer) {
    const { error } = answer as { error: unknown };
    if (typeof error === "string") return error.slice(0, 500);
  }
  return null;
}

function codeFor(status: number): AppError["code"] {
  if (status === 400 || status === 422) return "BAD_REQUEST";
  if (status === 404) return "NOT_FOUND";
  if (status === 409) return "CONFLICT";
  if (status === 429) return "TOO_MANY_REQUESTS";
  // 401/403: our own token was refused, which the user cannot fix by signing in again.
  return "SERVICE_UNAVAILABLE";
}

function describe(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? code : error instanceof Error ? error.message : String(error);
}
