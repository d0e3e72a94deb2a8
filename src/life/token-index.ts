/**
 * This node's sockets by the token id (a JWT's `jti`) of the credential each
 * holds now, so `revoke({ token })` finds them in one lookup instead of
 * walking every socket. One per Lifecycle, which files a socket when its
 * credential is recorded or replaced (start, refresh, upgrade, recovery),
 * moves it when a new credential carries another id, and takes it out at
 * disconnect. Only sockets whose credential has a token id are in it.
 *
 * Most tokens are held by one socket, so an id maps to that holder itself,
 * and to a Set only while two or more sockets share the token (tabs of one
 * browser): a Set per socket would be most of what the index costs.
 *
 * @module
 */

export class TokenIndex<T extends object> {
  readonly #byToken = new Map<string, T | Set<T>>();

  /** Files `holder` under `tokenId`. */
  add(tokenId: string, holder: T): void {
    const held = this.#byToken.get(tokenId);
    if (held === undefined) this.#byToken.set(tokenId, holder);
    else if (held instanceof Set) held.add(holder);
    else if (held !== holder) this.#byToken.set(tokenId, new Set([held, holder]));
  }

  /** Takes `holder` out of `tokenId`'s entry; the entry goes with its last holder. */
  delete(tokenId: string, holder: T): void {
    const held = this.#byToken.get(tokenId);
    if (held === holder) this.#byToken.delete(tokenId);
    else if (held instanceof Set && held.delete(holder)) {
      if (held.size === 1) this.#byToken.set(tokenId, held.values().next().value!);
    }
  }

  /** The holders of `tokenId`, as a copy: cutting a socket takes it out of the index meanwhile. */
  holders(tokenId: string): T[] {
    const held = this.#byToken.get(tokenId);
    if (held === undefined) return [];
    return held instanceof Set ? [...held] : [held];
  }

  /** How many token ids have a holder on this node. */
  get size(): number {
    return this.#byToken.size;
  }
}
