/**
 * Which pieces of sockpass this checkout has. The soak was written while the
 * event strategy, the session strategy, the lifecycle and the client helpers
 * were being built; a scenario that needs a missing piece says SKIPPED and
 * names it, instead of failing or silently shrinking.
 *
 * @module
 */
import * as sockpass from 'sockpass';
import * as client from 'sockpass/client';

/** The Origin the soak's browser-like clients send, and the one the session strategy allows. */
export const SOAK_ORIGIN = 'https://app.soak.example';

/** An export of `sockpass`, or undefined while it has not landed. */
export function findExport<T>(name: string): T | undefined {
  const value = (sockpass as unknown as Record<string, unknown>)[name];
  return typeof value === 'function' ? (value as T) : undefined;
}

/** An export of `sockpass/client`, or undefined while it has not landed. */
export function findClientExport<T>(name: string): T | undefined {
  const value = (client as unknown as Record<string, unknown>)[name];
  return typeof value === 'function' ? (value as T) : undefined;
}

/** A method of `SockPass` (revoke, guard), or undefined while it has not landed. */
export function hasRegistryMethod(name: string): boolean {
  return typeof (sockpass.SockPass.prototype as unknown as Record<string, unknown>)[name] === 'function';
}
