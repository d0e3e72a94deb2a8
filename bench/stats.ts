/**
 * The few statistics the benchmark table needs: medians over rounds,
 * percentiles of one round's latencies, and number formatting.
 *
 * @module
 */

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Nearest-rank percentile, `p` in 0..100. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

/** Median of per-round ratios a[i] / b[i]: each round pairs two runs made minutes apart at most. */
export function pairedRatio(a: readonly number[], b: readonly number[]): number {
  return median(ratios(a, b));
}

/** Per-round ratios a[i] / b[i]. */
export function ratios(a: readonly number[], b: readonly number[]): number[] {
  return Array.from({ length: Math.min(a.length, b.length) }, (_, i) => a[i]! / b[i]!);
}

/** P(X ≤ k) for X ~ Binomial(n, 1/2). */
function binomialHalfCdf(n: number, k: number): number {
  let term = 0.5 ** n;
  let sum = term;
  for (let i = 1; i <= k; i++) {
    term = (term * (n - i + 1)) / i;
    sum += term;
  }
  return sum;
}

/**
 * A distribution-free confidence interval for the median: the k-th smallest
 * and k-th largest of `values`, with the largest k whose coverage
 * (1 − 2·P(Binomial(n, ½) < k)) is still at least `confidence`. It assumes
 * only that the values are independent draws, which a new server process per
 * round makes true of per-round ratios. NaN bounds below 5 values (even the
 * extremes cover less than 90% then).
 */
export function medianInterval(values: readonly number[], confidence = 0.9): { low: number; high: number; coverage: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  let k = 0;
  while (k + 1 <= n / 2 && 1 - 2 * binomialHalfCdf(n, k) >= confidence) k++;
  if (k === 0) return { low: Number.NaN, high: Number.NaN, coverage: Number.NaN };
  return { low: sorted[k - 1]!, high: sorted[n - k]!, coverage: 1 - 2 * binomialHalfCdf(n, k - 1) };
}

/** Per-round differences a[i] - b[i]. */
export function diffs(a: readonly number[], b: readonly number[]): number[] {
  return Array.from({ length: Math.min(a.length, b.length) }, (_, i) => a[i]! - b[i]!);
}

/** Median of per-round differences a[i] - b[i]. */
export function pairedDiff(a: readonly number[], b: readonly number[]): number {
  return median(diffs(a, b));
}

export function fmt(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return '–';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function ratio(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(2)} ×` : '–';
}

/** A GitHub-flavoured Markdown table. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map((_, i) => (i === 0 ? '---' : '---:'))), ...rows.map(line)].join('\n');
}
