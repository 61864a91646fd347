import type { Octokit } from "@octokit/core";

// GitHub's list endpoints page with the `Link` header (RFC 8288): each page names the next
// one with rel="next" until the last. Pages are read one after another, as GitHub asks of
// clients ("make requests serially instead of concurrently"), and at most `maxPages` of them,
// so a user with thousands of repositories still gets an answer in a few requests.

/** The targets of a `Link` header by relation (next, prev, first, last). */
export function parseLinkHeader(header: string | undefined): Record<string, string> {
  const links: Record<string, string> = {};
  for (const part of (header ?? "").split(",")) {
    const match = /^\s*<([^>]+)>\s*;(.*)$/.exec(part);
    if (!match?.[1]) continue;
    const rel = /\brel="?([^";]+)"?/.exec(match[2] ?? "")?.[1];
    for (const name of rel?.split(/\s+/) ?? []) links[name] = match[1];
  }
  return links;
}

export type PagedList<T> = {
  items: T[];
  /** True when GitHub had more pages than `maxPages` allowed reading. */
  truncated: boolean;
};

/**
 * Every item of a GitHub list, following rel="next" from `route` with `parameters` (which
 * should set per_page=100, the most GitHub gives), for at most `maxPages` pages.
 */
export async function listAllPages<T>(
  octokit: Octokit,
  route: string,
  parameters: Record<string, string | number>,
  maxPages: number,
): Promise<PagedList<T>> {
  const items: T[] = [];
  let answer = await octokit.request(route, parameters);
  for (let page = 1; ; page += 1) {
    items.push(...(answer.data as T[]));
    const next = parseLinkHeader(answer.headers.link).next;
    if (!next) return { items, truncated: false };
    if (page >= maxPages) return { items, truncated: true };
    // The next page's URL carries every parameter already; it is GitHub's own link.
    answer = await octokit.request({ method: "GET", url: next });
  }
}
