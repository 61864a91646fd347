// The server names the field at fault in `data.issues` (zod's issues, and an AppError's field
// in the same shape: server/trpc/init.ts), so a form can put each message beside its field.

type Issue = { path?: unknown[]; message?: unknown };

/** The first message for each top-level field of a failed mutation; empty when none. */
export function fieldErrorsOf(error: unknown): Record<string, string> {
  const data = (error as { data?: { issues?: unknown } } | null)?.data;
  const issues = Array.isArray(data?.issues) ? (data.issues as Issue[]) : [];
  const errors: Record<string, string> = {};
  for (const issue of issues) {
    const field = issue.path?.[0];
    if (typeof field !== "string" || typeof issue.message !== "string") continue;
    errors[field] ??= asSentence(issue.message);
  }
  return errors;
}

/**
 * zod's messages are fragments ("name a branch, e.g. main"); beside a field, a sentence. Only
 * a leading plain word is capitalised: a message that starts with a name ("stand-in/sample has
 * no branch …") keeps the name as it is spelled.
 */
function asSentence(message: string): string {
  return /^[a-z]+\b(?![/.\-_])/.test(message)
    ? message.charAt(0).toUpperCase() + message.slice(1)
    : message;
}
