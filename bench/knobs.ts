/**
 * Reading the benchmark's knobs (environment variables): a positive integer
 * or its default, and a clear error for anything else.
 *
 * @module
 */

export function env(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`bench: ${name} must be a positive integer`);
  return value;
}
