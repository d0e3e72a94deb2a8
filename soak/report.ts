/**
 * The soak's figures: each scenario records what it measured with the bound it
 * must meet; the orchestrator prints one figure per line as it is recorded and
 * exits non-zero when any falls short. A scenario that cannot run (a piece of
 * sockpass not there yet) records a SKIPPED line naming what is missing.
 *
 * @module
 */

export type Bound =
  | { op: '<='; limit: number }
  | { op: '>='; limit: number }
  | { op: '=='; limit: number }
  /** Reported for context, not judged. */
  | { op: 'info' };

export interface Figure {
  scenario: string;
  name: string;
  value: number;
  unit: string;
  bound: Bound;
  ok: boolean;
  note?: string;
}

export interface Skip {
  scenario: string;
  reason: string;
}

const figures: Figure[] = [];
const skips: Skip[] = [];

function meets(value: number, bound: Bound): boolean {
  if (!Number.isFinite(value)) return bound.op === 'info';
  switch (bound.op) {
    case '<=':
      return value <= bound.limit;
    case '>=':
      return value >= bound.limit;
    case '==':
      return value === bound.limit;
    case 'info':
      return true;
  }
}

function format(value: number): string {
  if (Number.isInteger(value)) return String(value);
  return Math.abs(value) >= 100 ? value.toFixed(0) : value.toFixed(2);
}

/** What one scenario uses to record its figures. */
export interface Recorder {
  figure(name: string, value: number, unit: string, bound: Bound, note?: string): boolean;
  skip(reason: string): void;
}

export function recorder(scenario: string): Recorder {
  return {
    figure(name, value, unit, bound, note) {
      const ok = meets(value, bound);
      const f: Figure = { scenario, name, value, unit, bound, ok, note };
      figures.push(f);
      const limit = bound.op === 'info' ? '(info)' : `(bound ${bound.op} ${format(bound.limit)})`;
      const status = bound.op === 'info' ? 'INFO' : ok ? 'PASS' : 'FAIL';
      const tail = note ? `  — ${note}` : '';
      console.log(`${status.padEnd(4)}  ${`${scenario}.${name}`.padEnd(44)} ${`${format(value)} ${unit}`.padStart(16)}  ${limit}${tail}`);
      return ok;
    },
    skip(reason) {
      skips.push({ scenario, reason });
      console.log(`SKIPPED  ${scenario}: ${reason}`);
    },
  };
}

export function summary(): { figures: readonly Figure[]; skips: readonly Skip[]; failed: readonly Figure[] } {
  return { figures, skips, failed: figures.filter((f) => !f.ok) };
}

/** What changed between two counts by kind (handles, listeners…): only the kinds that differ. */
export function delta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const d = (after[key] ?? 0) - (before[key] ?? 0);
    if (d !== 0) out[key] = d;
  }
  return out;
}

/** The size of a delta, whichever way each kind moved. */
export const sumAbs = (d: Record<string, number>): number => Object.values(d).reduce((n, v) => n + Math.abs(v), 0);
