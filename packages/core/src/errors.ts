/** An error the user can fix: the CLI prints its message (problem + way out) and exits with code 2. */
export class UserError extends Error {
  override name = "UserError";
  constructor(message: string, readonly hint?: string) {
    super(hint ? `${message}\n  -> ${hint}` : message);
  }
}

/** Edit distance (Levenshtein) between two short names. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

/** ' (did you mean "mamba"?)' for a misspelt name close to a known one (at most a third of it edited), else ''. */
export function didYouMean(name: string, known: readonly string[]): string {
  const scored = known.map((k) => ({ k, d: editDistance(name.toLowerCase(), k.toLowerCase()) })).sort((x, y) => x.d - y.d || x.k.localeCompare(y.k));
  const best = scored[0];
  return best && best.k !== name && best.d <= Math.max(1, Math.floor(best.k.length / 3)) ? ` (did you mean "${best.k}"?)` : "";
}
