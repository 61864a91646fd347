// What the agent sends the control plane from git's or the devcontainer CLI's output must not
// carry a credential: the control plane redacts again before it stores anything.

/**
 * Text with every secret we know the shape of replaced by [token]: GitHub's tokens (ghp_, gho_,
 * ghs_, ghu_, ghr_, github_pat_), ours (caw?_) and a user:password in a URL.
 */
export function redactSecrets(text: string): string {
  return text
    .replace(/\b(?:gh[opsur]_|github_pat_)[A-Za-z0-9_]+/g, "[token]")
    .replace(/\bcaw[a-z]_[A-Za-z0-9_-]+/g, "[token]")
    .replace(/\/\/[^/@\s:]+:[^/@\s]+@/g, "//[token]@");
}
