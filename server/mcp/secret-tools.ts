import { z } from "zod";
import { secretNameSchema, secretValueSchema } from "../../protocol/agent-sessions.ts";
import type { RegisterTool } from "./mcp-tool.ts";

// SPEC §14: the user's secrets through MCP. Values go in and never come out: answers are the
// API's (names and dates), and the audit entry names the tool only.

export function registerSecretTools(register: RegisterTool): void {
  register({
    name: "list_secrets",
    title: "List secrets",
    description: "Your secrets' names and dates (values are write-only).",
    input: z.object({}),
    readOnly: true,
    run: (caller) => caller.secrets.list(),
  });
  register({
    name: "set_secret",
    title: "Set a secret",
    description:
      "Creates or replaces a secret; new shells of your workspaces get it as the environment variable `name`.",
    input: z.object({ name: secretNameSchema, value: secretValueSchema }),
    run: (caller, input) => caller.secrets.set(input),
  });
  register({
    name: "delete_secret",
    title: "Delete a secret",
    description: "Deletes a secret; shells opened later no longer get it.",
    input: z.object({ name: secretNameSchema }),
    destructive: true,
    run: (caller, input) => caller.secrets.delete(input),
  });
}
