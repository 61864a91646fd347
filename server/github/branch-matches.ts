// Which of a repository's branches a mistyped name probably meant: the create form's error
// lists them ("pick one of …"). Pure: names in, names out.

/** The most names a refusal lists: enough to spot the right one, short enough to read. */
export const maxBranchSuggestions = 5;

/** Edit distance (insert, delete, replace: one each), two rows at a time. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const replace = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, replace));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * How far `name` is from what was `wanted` (edit distance, ignoring case), or null when it is
 * no match at all: a match is near in edits (a third of the longer name, at least 2: "mian"
 * finds "main"), or one name starts with the other, or contains it ("login" in "feat/login").
 */
function closeness(wanted: string, name: string): number | null {
  const [a, b] = [wanted.toLowerCase(), name.toLowerCase()];
  const distance = editDistance(a, b);
  if (distance <= Math.max(2, Math.floor(Math.max(a.length, b.length) / 3))) return distance;
  if (b.startsWith(a) || a.startsWith(b)) return distance;
  if (a.length >= 3 && b.includes(a)) return distance;
  return null;
}

/** The branches closest to `wanted`, nearest first (ties by name), at most `limit`. */
export function suggestBranches(
  wanted: string,
  names: readonly string[],
  limit = maxBranchSuggestions,
): string[] {
  return names
    .map((name) => ({ name, score: closeness(wanted, name) }))
    .filter((match): match is { name: string; score: number } => match.score !== null)
    .sort((x, y) => x.score - y.score || (x.name < y.name ? -1 : x.name > y.name ? 1 : 0))
    .slice(0, limit)
    .map((match) => match.name);
}
