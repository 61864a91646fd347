import type { Database } from "../../db/client.ts";
import type { Keyring } from "../crypto/envelope.ts";
import type { Owner } from "./owner.ts";
import type { AgentWorkspace } from "./agents.ts";

// SPEC §14 secrets. STUB: signatures fixed by the integrator; the secrets helper implements them.

export type SecretSummary = { name: string; createdAt: Date; updatedAt: Date };

/** The owner's secrets, names and dates only (values are write-only). */
export async function listSecrets(_db: Database, _owner: Owner): Promise<SecretSummary[]> {
  throw new Error("not implemented");
}

/** Creates or replaces a secret (audited); answers its summary. */
export async function setSecret(
  _db: Database,
  _keyring: Keyring,
  _owner: Owner,
  _input: { name: string; value: string },
): Promise<SecretSummary> {
  throw new Error("not implemented");
}

/** Deletes a secret (audited); NOT_FOUND when there is none of that name. */
export async function deleteSecret(
  _db: Database,
  _owner: Owner,
  _name: string,
): Promise<{ name: string }> {
  throw new Error("not implemented");
}

/** The decrypted secrets the workspace gets (all, or its chosen names), for its agent only. */
export async function readWorkspaceSecrets(
  _db: Database,
  _keyring: Keyring,
  _workspace: AgentWorkspace,
): Promise<Record<string, string>> {
  throw new Error("not implemented");
}
