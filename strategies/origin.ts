/**
 * Which `Origin` a cookie-borne credential may come from. Browsers attach
 * cookies to cross-site WebSocket handshakes, so any strategy that trusts a
 * cookie must check the page that opened the socket (cross-site WebSocket
 * hijacking): the session strategy, the passport.socketio drop-in, and the
 * socketio-jwt drop-in's `cookie` option.
 *
 * @module
 */

/**
 * Origins a cookie handshake may come from: exact origins
 * (`'https://app.example'`), a predicate, or `'any'` to opt out of the
 * cross-site WebSocket hijacking check on purpose.
 */
export type AllowedOrigins = readonly string[] | ((origin: string) => boolean) | 'any';

/** Turns `allowedOrigins` into a predicate once, at configuration; throws on an entry that is not an origin. */
export function prepareOrigins(allowed: AllowedOrigins | undefined): (origin: string) => boolean {
  if (allowed === 'any') return () => true;
  if (typeof allowed === 'function') return allowed;
  if (!Array.isArray(allowed)) {
    throw new TypeError(
      'sockpass: cookie authentication needs `allowedOrigins` (the origins of your web app, e.g. ["https://app.example"]), ' +
        'or `allowedOrigins: "any"` to opt out of the cross-site WebSocket hijacking check',
    );
  }
  if (allowed.length === 0) throw new TypeError('sockpass: `allowedOrigins` is empty; list your web app origins, or pass "any"');
  const origins = new Set(
    allowed.map((entry) => {
      const origin = normalizeOrigin(entry);
      if (origin === undefined) throw new TypeError(`sockpass: ${JSON.stringify(entry)} is not an origin (scheme://host[:port])`);
      return origin;
    }),
  );
  return (origin) => {
    const normalized = normalizeOrigin(origin);
    return normalized !== undefined && origins.has(normalized);
  };
}

/**
 * True when the page's `Origin` names the host the handshake was sent to
 * (its `Host` header), the default when the app listed no origins. Only host
 * and port are compared: behind a TLS-terminating proxy the server cannot
 * tell the scheme, and the port is what `Host` carries for it.
 */
export function isSameOrigin(origin: string, host: string | undefined): boolean {
  const page = normalizeOrigin(origin);
  if (page === undefined || typeof host !== 'string' || host.length === 0) return false;
  try {
    const url = new URL(page);
    // Read the Host header with the page's scheme, so a default port is dropped on both sides alike.
    const target = new URL(`${url.protocol}//${host}`);
    return target.host === url.host && target.pathname === '/' && target.username === '' && target.password === '';
  } catch {
    return false;
  }
}

/** `scheme://host[:port]` with default ports dropped and the host lower-cased; undefined for `null` or garbage. */
function normalizeOrigin(value: string): string | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    const origin = new URL(value).origin;
    return origin === 'null' ? undefined : origin;
  } catch {
    return undefined;
  }
}
