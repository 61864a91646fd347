// Where a sign-in may send the browser back to. Only a path on this site: anything a browser
// could read as another origin ("//evil", "/\evil", "https://evil", tabs or newlines it strips)
// is an open redirect, so it falls back to the start page.

const maxLength = 2_000;
const base = "http://control-plane.invalid";

/** `value` as a same-origin relative path (path, query, hash), or `fallback` when it is not one. */
export function safeRedirectTarget(value: unknown, fallback = "/"): string {
  if (typeof value !== "string" || value.length === 0 || value.length > maxLength) return fallback;
  // Browsers drop tabs and newlines inside URLs and read "\" as "/": "/\t/evil" is "//evil".
  // eslint-disable-next-line no-control-regex -- control characters are exactly what we refuse
  if (!value.startsWith("/") || /[\\\u0000-\u001f\u007f]/.test(value)) return fallback;
  let url: URL;
  try {
    url = new URL(value, base);
  } catch {
    return fallback;
  }
  const target = `${url.pathname}${url.search}${url.hash}`;
  // Normalizing can make "//" again ("/.//evil"); and a return to sign-in itself would loop.
  if (url.origin !== base || target.startsWith("//")) return fallback;
  if (target === "/login" || target.startsWith("/login?") || target.startsWith("/auth/"))
    return fallback;
  return target;
}
