import { randomBytes } from "node:crypto";
import type { ServerResponse } from "node:http";

// Response headers that make a browser refuse what we never meant to serve (SPEC §4).

/** For anything that is not one of our pages (JSON, problem details, files): nothing runs. */
const strictPolicy = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

/**
 * For our pages: scripts only from our origin or carrying this response's nonce (Remix's
 * inline hydration scripts), never inline otherwise. No avatars or other images from
 * elsewhere are shown, so images are ours (or data: URLs). Sign-in starts with a link,
 * not a form, so form-action needs no GitHub origin; sign-out posts to ourselves.
 */
export function pageContentSecurityPolicy(nonce: string): string {
  return [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}'`,
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/** A fresh nonce for one page's inline scripts: 128 random bits. */
export function createCspNonce(): string {
  return randomBytes(16).toString("base64");
}

/** Headers every response carries; HSTS only when PUBLIC_URL is https (it pins https). */
export function setSecurityHeaders(res: ServerResponse, options: { hsts: boolean }): void {
  res.setHeader("x-content-type-options", "nosniff");
  res.setHeader("referrer-policy", "same-origin");
  res.setHeader("x-frame-options", "DENY");
  res.setHeader("content-security-policy", strictPolicy);
  if (options.hsts)
    res.setHeader("strict-transport-security", "max-age=31536000; includeSubDomains");
}

/** Our HTML pages get the page policy with their nonce; every other answer keeps the strict one. */
export function applyPagePolicy(res: ServerResponse, response: Response, nonce: string): void {
  if (response.headers.get("content-type")?.startsWith("text/html")) {
    res.setHeader("content-security-policy", pageContentSecurityPolicy(nonce));
  }
}
