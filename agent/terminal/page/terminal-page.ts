import type { TerminalPageConfig } from "../../../protocol/terminal-status.ts";

// The terminal page: a shell of HTML around the bundled client (client.ts). No inline
// script, so the policy can forbid them. What the client needs to know about its workspace
// (ADR 0022) rides in data attributes of #terminal.

/**
 * `'self'` covers same-origin ws:/wss: in current browsers; the control plane's origin is
 * where the page asks why its socket closed. xterm.js injects <style> elements for its theme
 * and cell sizes, hence inline styles (never scripts).
 */
export function terminalPageCspFor(controlPlaneUrl?: string): string {
  const controlPlane = controlPlaneUrl ? ` ${new URL(controlPlaneUrl).origin}` : "";
  return `default-src 'self'; connect-src 'self'${controlPlane}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'none'`;
}

/** The policy of a page that knows no control plane (tests of the terminal server). */
export const terminalPageCsp = terminalPageCspFor();

/** Names under `assetPrefix` that the page loads; the server serves them from the bundle. */
export const terminalAssetNames = { script: "terminal.js", stylesheet: "terminal.css" } as const;

export function renderTerminalPage(options: {
  title: string;
  assetPrefix: string;
  config?: TerminalPageConfig;
}): string {
  const prefix = options.assetPrefix.replace(/\/+$/, "");
  const title = escapeHtml(options.title);
  const csp = terminalPageCspFor(options.config?.controlPlaneUrl);
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <meta http-equiv="Content-Security-Policy" content="${csp}" />
    <meta name="referrer" content="no-referrer" />
    <title>${title}</title>
    <link rel="icon" href="data:," />
    <link rel="stylesheet" href="${escapeHtml(`${prefix}/${terminalAssetNames.stylesheet}`)}" />
    <script defer src="${escapeHtml(`${prefix}/${terminalAssetNames.script}`)}"></script>
  </head>
  <body>
    <main id="terminal" class="terminal" data-status="connecting" aria-label="${title}"${configAttributes(options.config)}></main>
    <div id="terminal-keys" class="terminal-keys" role="toolbar" aria-label="Keys a touch keyboard lacks">
      <button type="button" data-key="escape">Esc</button>
      <button type="button" data-key="tab">Tab</button>
      <button type="button" data-key="ctrl" aria-pressed="false">Ctrl</button>
      <button type="button" data-key="left" aria-label="Left">←</button>
      <button type="button" data-key="up" aria-label="Up">↑</button>
      <button type="button" data-key="down" aria-label="Down">↓</button>
      <button type="button" data-key="right" aria-label="Right">→</button>
    </div>
    <section id="terminal-workspace" class="terminal-workspace" aria-live="polite" hidden>
      <p id="terminal-workspace-message"></p>
      <p class="terminal-workspace-actions">
        <button type="button" id="terminal-start" hidden>Start</button>
        <a id="terminal-back" href="#">Workspace page</a>
      </p>
    </section>
    <div id="terminal-refused" class="terminal-refused" role="alert" hidden></div>
    <div id="terminal-status" class="terminal-status" role="status" aria-live="polite"></div>
    <noscript>The terminal needs JavaScript.</noscript>
  </body>
</html>
`;
}

function configAttributes(config: TerminalPageConfig | undefined): string {
  if (!config) return "";
  const attributes = [
    ["data-control-plane", config.controlPlaneUrl],
    ["data-workspace", config.workspaceId],
    ["data-grant", config.grantId ?? ""],
  ];
  return attributes.map(([name, value]) => ` ${name}="${escapeHtml(value!)}"`).join("");
}

function escapeHtml(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}
