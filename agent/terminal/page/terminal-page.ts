// The terminal page: a shell of HTML around the bundled client (client.ts). No inline
// script, so the policy can forbid them.

/**
 * `'self'` covers same-origin ws:/wss: in current browsers. xterm.js injects <style>
 * elements for its theme and cell sizes, hence inline styles (never scripts).
 */
export const terminalPageCsp =
  "default-src 'self'; connect-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'none'";

/** Names under `assetPrefix` that the page loads; the server serves them from the bundle. */
export const terminalAssetNames = { script: "terminal.js", stylesheet: "terminal.css" } as const;

export function renderTerminalPage(options: { title: string; assetPrefix: string }): string {
  const prefix = options.assetPrefix.replace(/\/+$/, "");
  const title = escapeHtml(options.title);
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <meta http-equiv="Content-Security-Policy" content="${terminalPageCsp}" />
    <meta name="referrer" content="no-referrer" />
    <title>${title}</title>
    <link rel="icon" href="data:," />
    <link rel="stylesheet" href="${escapeHtml(`${prefix}/${terminalAssetNames.stylesheet}`)}" />
    <script defer src="${escapeHtml(`${prefix}/${terminalAssetNames.script}`)}"></script>
  </head>
  <body>
    <main id="terminal" class="terminal" data-status="connecting" aria-label="${title}"></main>
    <div id="terminal-status" class="terminal-status" role="status" aria-live="polite"></div>
    <noscript>The terminal needs JavaScript.</noscript>
  </body>
</html>
`;
}

function escapeHtml(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}
