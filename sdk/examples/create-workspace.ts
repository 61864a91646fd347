// Creates a workspace from stand-in/sample, waits until it runs, and prints its terminal URL.
//
//   CAW_URL=http://localhost:3000 CAW_TOKEN=caw_… node --import tsx sdk/examples/create-workspace.ts [name]
import { createClient, createWorkspace, waitForWorkspace } from "cloud-ai-workspaces/sdk";

// An example script is the one place outside server/env.ts allowed to read process.env: it is
// a client of the API, not part of the server, and takes its settings from the shell.
const baseUrl = process.env.CAW_URL;
const token = process.env.CAW_TOKEN;
if (!baseUrl || !token) {
  console.error("Set CAW_URL (e.g. http://localhost:3000) and CAW_TOKEN (caw_…, from Settings).");
  process.exit(64);
}

// 1–40 lowercase letters, digits and dashes, e.g. sdk-20250102-150405.
const stamp = new Date().toISOString().slice(0, 19).replace(/[-:]/g, "").replace("T", "-");
const name = process.argv[2] ?? `sdk-${stamp}`;

try {
  const client = createClient({ baseUrl, token });
  // Keyed and retried while the control plane is briefly away: never two workspaces.
  const workspace = await createWorkspace(client, {
    name,
    repository: "stand-in/sample",
    branch: "main",
  });
  console.error(`Created workspace ${workspace.name} (${workspace.id}); waiting for it to run…`);
  await waitForWorkspace(client, workspace.id, "running");
  const { url } = await client.terminal.token.mutate({ workspaceId: workspace.id });
  // The URL alone on stdout, so a shell can capture it: open "$(node … create-workspace.ts)".
  process.stdout.write(`${url}\n`);
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
}
