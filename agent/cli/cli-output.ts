import type { SessionInfo } from "../../protocol/agent-sessions.ts";

// What `caw sessions` and `caw env` print.

/** `export NAME='value'` lines, for `eval "$(caw env)"`; names that are not safe are skipped. */
export function exportLines(secrets: Record<string, string>): { text: string; skipped: string[] } {
  const lines: string[] = [];
  const skipped: string[] = [];
  for (const [name, value] of Object.entries(secrets).sort(([a], [b]) => a.localeCompare(b))) {
    // The control plane checks names too; here a bad one would be shell code run by eval.
    if (/^[A-Z_][A-Z0-9_]{0,63}$/.test(name) && !name.startsWith("CAW_") && !value.includes("\0"))
      lines.push(`export ${name}=${quoteForShell(value)}\n`);
    else skipped.push(name.slice(0, 64));
  }
  return { text: lines.join(""), skipped };
}

/** Single quotes, each `'` as `'\''`: nothing inside is expanded, newlines included. */
export const quoteForShell = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;

/** A table of the sessions, times relative to `now`. */
export function sessionsTable(sessions: readonly SessionInfo[], now = Date.now()): string {
  if (sessions.length === 0) return "No sessions.\n";
  const rows = [
    ["NAME", "STARTED", "LAST OUTPUT", "STATUS", "MESSAGE"],
    ...sessions.map((session) => [
      session.name,
      ago(session.startedAt, now),
      session.lastOutputAt ? ago(session.lastOutputAt, now) : "-",
      session.status ?? "-",
      (session.statusMessage ?? "").replace(/\s+/g, " "),
    ]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n")
    .concat("\n");
}

function ago(iso: string, now: number): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h ago`;
  return `${Math.floor(seconds / 86_400)}d ago`;
}
