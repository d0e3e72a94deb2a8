/**
 * Loads an optional peer dependency at the moment a feature that needs it is
 * configured, never at import: an app that does not use the feature does not
 * install the package, and `import 'sockpass'` does not load it.
 *
 * Synchronous (`require`), so that a factory such as `handshakeLimits()` can
 * fail at startup with a message naming the package. The `require` is made
 * relative to this file, so the package resolves from where sockpass is
 * installed, in both builds (the CommonJS one gets `import.meta.url` from
 * tsup's shims; the bundler's own `require` stand-in in the ESM one throws).
 *
 * @module
 */
import { createRequire } from 'node:module';

/**
 * `require(name)` for `feature`; a TypeError naming the package and how to
 * install it when it is missing. Any other failure of the package propagates.
 */
export function loadOptionalPeer<T>(name: string, feature: string): T {
  const load = createRequire(import.meta.url);
  try {
    return load(name) as T;
  } catch (err) {
    const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
    if (code === 'MODULE_NOT_FOUND' && typeof message === 'string' && message.includes(`'${name}'`)) {
      throw new TypeError(`sockpass: ${feature} needs the package ${name}, an optional peer dependency: npm install ${name}`);
    }
    throw err;
  }
}
