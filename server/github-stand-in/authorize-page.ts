// The HTML of the stand-in's sign-in page. No scripts: plain forms that post back to the
// stand-in, which then redirects to the application like GitHub does.

/** The authorization request, carried through the page as hidden fields. */
export type AuthorizeRequest = {
  clientId: string;
  redirectUri: string;
  state: string;
  scope: string;
  codeChallenge: string;
  codeChallengeMethod: string;
};

export function escapeHtml(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

export function renderAuthorizePage(options: {
  request: AuthorizeRequest;
  knownLogins: string[];
  error?: string;
  login?: string;
}): string {
  const { request, knownLogins, error, login = "" } = options;
  const hidden = renderHiddenFields(request);
  const target = new URL(request.redirectUri);
  const known = knownLogins.map((name) => `<code>${escapeHtml(name)}</code>`).join(", ");
  return renderDocument(
    "Sign in to GitHub stand-in",
    `<p class="notice"><strong>This is a development stand-in, not GitHub.</strong>
It runs on this machine for local development and tests. Any login works; its first sign-in
sets its password, which later sign-ins must repeat. Nothing you enter here reaches github.com.</p>
<p>After you sign in you go back to <code>${escapeHtml(target.origin)}</code>${
      request.scope ? ` with the scopes <code>${escapeHtml(request.scope)}</code>` : ""
    }.</p>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ""}
${knownLogins.length > 0 ? `<p>Known logins: ${known}.</p>` : ""}
<form method="post" action="/login/oauth/authorize">${hidden}
<label for="login">GitHub login</label>
<input id="login" name="login" value="${escapeHtml(login)}" autocomplete="username" autocapitalize="none" spellcheck="false" required>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Authorize</button>
</form>`,
  );
}

export function renderErrorPage(title: string, message: string): string {
  return renderDocument(
    title,
    `<p class="notice"><strong>This is a development stand-in, not GitHub.</strong></p>
<p class="error" role="alert">${escapeHtml(message)}</p>`,
  );
}

function renderHiddenFields(request: AuthorizeRequest): string {
  const fields: [string, string][] = [
    ["client_id", request.clientId],
    ["redirect_uri", request.redirectUri],
    ["state", request.state],
    ["scope", request.scope],
    ["code_challenge", request.codeChallenge],
    ["code_challenge_method", request.codeChallengeMethod],
  ];
  return fields
    .filter(([, value]) => value !== "")
    .map(([name, value]) => `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`)
    .join("");
}

function renderDocument(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(title)}</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 32rem; margin: 3rem auto; padding: 0 1rem; }
.notice { background: #fff8c5; border: 1px solid #d4a72c; padding: 0.75rem; border-radius: 6px; }
.error { color: #cf222e; }
form { margin: 0.5rem 0; }
input[name="login"]:not([type="hidden"]), input[name="password"] { display: block; margin: 0.25rem 0 0.5rem; padding: 0.3rem; width: 100%; }
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
${body}
</body>
</html>
`;
}
