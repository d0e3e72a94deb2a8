/**
 * A real JWKS endpoint on a free loopback port (node:http), with OpenID
 * discovery, a key set the test can rotate, a request counter, and the two
 * outages a test needs: down (connection refused) and hanging (never answers).
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import jwt from 'jsonwebtoken';
import { edDsa } from './tokens.js';

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  jwk: Record<string, unknown>;
}

/** A fresh key pair exported as a public JWK with `kid` (and `alg` when given). */
export function signingKey(kid: string, type: 'rsa' | 'ec' | 'ed25519' = 'rsa', extra: Record<string, unknown> = {}): SigningKey {
  const { privateKey, publicKey } =
    type === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : type === 'ec'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : generateKeyPairSync('ed25519');
  return { kid, privateKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid, use: 'sig', ...extra } };
}

/** Signs a token with `key`, naming its kid (or `kid` when given, `null` for none). */
export function signWith(key: SigningKey, claims: Record<string, unknown> = {}, algorithm: jwt.Algorithm | 'EdDSA' = 'RS256', kid: string | null = key.kid): string {
  if (algorithm === 'EdDSA') return edDsa(claims, { privateKey: key.privateKey, header: kid === null ? {} : { kid } });
  return jwt.sign({ sub: 'alice', ...claims }, key.privateKey, { algorithm, expiresIn: 60, ...(kid === null ? {} : { keyid: kid }) });
}

export interface JwksServer {
  url: string;
  /** The issuer URL whose discovery document names this server's JWKS. */
  issuer: string;
  jwksUri: string;
  /** Requests to the JWKS document so far. */
  readonly fetches: number;
  keys: SigningKey[];
  /** `up` answers, `down` refuses connections, `hang` accepts and never answers. */
  setMode(mode: 'up' | 'down' | 'hang'): Promise<void>;
  close(): Promise<void>;
}

export async function startJwksServer(keys: SigningKey[]): Promise<JwksServer> {
  let fetches = 0;
  let mode: 'up' | 'hang' = 'up';
  let port = 0;
  const make = (): Server =>
    createServer((req, res) => {
      if (mode === 'hang') return; // held open until close
      const base = `http://127.0.0.1:${port}`;
      if (req.url === '/issuer/.well-known/openid-configuration') {
        res.setHeader('content-type', 'application/json');
        return res.end(JSON.stringify({ issuer: `${base}/issuer`, jwks_uri: `${base}/jwks.json` }));
      }
      if (req.url === '/impostor/.well-known/openid-configuration') {
        // Names a real JWKS but another issuer: discovery must not use it.
        res.setHeader('content-type', 'application/json');
        return res.end(JSON.stringify({ issuer: `${base}/issuer`, jwks_uri: `${base}/jwks.json` }));
      }
      if (req.url === '/jwks.json') {
        fetches++;
        res.setHeader('content-type', 'application/json');
        return res.end(JSON.stringify({ keys: state.keys.map((k) => k.jwk) }));
      }
      res.statusCode = 404;
      res.end();
    });
  let server = make();
  const listen = (s: Server, p: number) => new Promise<void>((resolve) => s.listen(p, '127.0.0.1', resolve));
  const shut = (s: Server) =>
    new Promise<void>((resolve) => {
      s.closeAllConnections();
      s.close(() => resolve());
    });
  await listen(server, 0);
  port = (server.address() as AddressInfo).port;
  let listening = true;
  const state: JwksServer = {
    url: `http://127.0.0.1:${port}`,
    issuer: `http://127.0.0.1:${port}/issuer`,
    jwksUri: `http://127.0.0.1:${port}/jwks.json`,
    get fetches() {
      return fetches;
    },
    keys,
    async setMode(next) {
      if (next === 'down') {
        if (listening) await shut(server);
        listening = false;
        return;
      }
      mode = next;
      if (!listening) {
        server = make();
        await listen(server, port);
        listening = true;
      }
    },
    async close() {
      if (listening) await shut(server);
      listening = false;
    },
  };
  return state;
}
