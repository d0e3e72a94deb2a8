// The socketio-jwt 4.6 README's client flows, run unchanged (real socket.io-client)
// against sockpass/compat/socketio-jwt; and the handshake refusals compared
// byte for byte with the original socketio-jwt on the same server.
import { generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import jwtLib from 'jsonwebtoken';
import { afterEach, describe, expect, it } from 'vitest';
import type { Server, Socket as ServerSocket } from 'socket.io';
import * as io from 'socket.io-client';
import * as socketioJwt from 'sockpass/compat/socketio-jwt';
import { codeOf, once, sleep, startServer, type TestServer } from '../helpers/server.js';
import { rawHandshake } from '../helpers/raw-client.js';
import { SECRET, forgeHs256, hs256, rs256, rsa, unsigned } from '../helpers/tokens.js';

const original = createRequire(import.meta.url)('socketio-jwt') as {
  authorize(options: Record<string, unknown>): (socket: unknown, next?: (err?: Error) => void) => void;
};

let server: TestServer;
const clients: io.Socket[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  await server?.close();
});

/** The README's `io.connect(url, options)`; forceNew only so tests do not share a connection. */
function connect(options: Partial<io.ManagerOptions & io.SocketOptions> = {}) {
  const socket = io.connect(server.url, { forceNew: true, reconnection: false, ...options });
  clients.push(socket);
  return socket;
}

type DecodedSocket = ServerSocket & { decoded_token: { name: string; sub: string }; encoded_token: string };

interface UnauthorizedMsg {
  message: string;
  data: { message: string; code: string; type: string };
}

describe('two round trips: the authenticate event', () => {
  async function serveReadme(options: Partial<socketioJwt.AuthorizeOptions> = {}) {
    const hello: string[] = [];
    server = await startServer((ioServer) => {
      ioServer.sockets
        .on('connection', socketioJwt.authorize({ secret: SECRET, timeout: 15000, ...options }))
        .on('authenticated', (socket: DecodedSocket) => {
          // this socket is authenticated, we are good to handle more events from it.
          hello.push(`hello! ${socket.decoded_token.name}`);
          socket.on('echo', (text: string, ack: (r: unknown) => void) => ack({ text, encoded: socket.encoded_token }));
        });
    });
    return hello;
  }

  it('runs the README client: authenticate, then authenticated; the server sees decoded_token', async () => {
    const hello = await serveReadme();
    const jwt = hs256({ name: 'Alice' });
    const socket = connect();
    const authenticated = new Promise<void>((resolve, reject) => {
      socket.on('connect', () => {
        socket
          .emit('authenticate', { token: jwt }) //send the jwt
          .on('authenticated', () => {
            //do other things
            resolve();
          })
          .on('unauthorized', (msg: UnauthorizedMsg) => {
            reject(new Error(`unauthorized: ${JSON.stringify(msg.data)}`));
          });
      });
    });
    await authenticated;
    await sleep(50);
    expect(hello).toEqual(['hello! Alice']);
    expect(await socket.timeout(2000).emitWithAck('echo', 'hi')).toEqual({ text: 'hi', encoded: jwt });
  });

  it('runs the README "invalid token" client: unauthorized with data.type, callback(), and the server disconnects', async () => {
    await serveReadme({ callback: 15000 });
    const socket = connect();
    const seen: UnauthorizedMsg[] = [];
    let called = false;
    socket.on('connect', () => socket.emit('authenticate', { token: hs256({}, {}, 'not-the-secret-not-the-secret-not!') }));
    socket.on('unauthorized', (error: UnauthorizedMsg, callback: () => void) => {
      if (error.data.type == 'UnauthorizedError' || error.data.code == 'invalid_token') {
        // redirect user to login page perhaps or execute callback:
        seen.push(error);
        callback();
        called = true;
      }
    });
    const reason = await once<string>(socket, 'disconnect');
    expect(called).toBe(true);
    expect(seen).toEqual([
      { message: 'invalid signature', data: { message: 'invalid signature', code: 'invalid_token', type: 'UnauthorizedError' } },
    ]);
    expect(reason).toBe('io server disconnect');
  });

  it('disconnects right after unauthorized, without waiting for the client callback (callback: 15000 ignored)', async () => {
    await serveReadme({ callback: 15000 });
    const socket = connect();
    let unauthorizedAt = 0;
    socket.on('connect', () => socket.emit('authenticate', { token: 'not-a-jwt' }));
    socket.on('unauthorized', () => (unauthorizedAt = Date.now())); // never calls back
    await once(socket, 'disconnect', 5000);
    expect(unauthorizedAt).toBeGreaterThan(0);
    expect(Date.now() - unauthorizedAt).toBeLessThan(1000);
  });

  it('runs the README "token expiration" client: error.data.code is invalid_token, message jwt expired', async () => {
    await serveReadme();
    const socket = connect();
    const expired = hs256({ name: 'Alice', exp: Math.floor(Date.now() / 1000) - 60 });
    const logged: string[] = [];
    socket.on('connect', () => socket.emit('authenticate', { token: expired }));
    socket.on('unauthorized', (error: UnauthorizedMsg) => {
      if (error.data.type == 'UnauthorizedError' || error.data.code == 'invalid_token') {
        // redirect user to login page perhaps?
        logged.push(`User token has expired: ${error.data.code} / ${error.message}`);
      }
    });
    await once(socket, 'disconnect');
    expect(logged).toEqual(['User token has expired: invalid_token / jwt expired']);
  });

  it('answers a missing or non-string token as socketio-jwt did: invalid_token, "invalid token datatype"', async () => {
    await serveReadme();
    for (const payload of [{}, { token: 42 }, undefined]) {
      const socket = connect();
      socket.on('connect', () => socket.emit('authenticate', payload));
      const msg = await once<UnauthorizedMsg>(socket, 'unauthorized');
      expect(msg.data).toEqual({ message: 'invalid token datatype', code: 'invalid_token', type: 'UnauthorizedError' });
    }
  });

  it('disconnects a socket that does not authenticate within timeout, telling it authentication_timeout', async () => {
    await serveReadme({ timeout: 300 });
    // Measured where the timeout runs: from the server's `connection` to the server's `disconnect`.
    const lifetime = new Promise<number>((resolve) =>
      server!.io.on('connection', (s) => {
        const at = performance.now();
        s.on('disconnect', () => resolve(performance.now() - at));
      }),
    );
    const socket = connect();
    await once(socket, 'connect');
    const disconnected = once<string>(socket, 'disconnect', 5000);
    const msg = await once<UnauthorizedMsg>(socket, 'unauthorized', 5000);
    expect(msg.data.code).toBe('authentication_timeout');
    expect(await disconnected).toBe('io server disconnect');
    // A timer may fire up to 1 ms early; the listener above starts a moment after the timeout's.
    expect(await lifetime).toBeGreaterThanOrEqual(295);
  });

  it('quarantines the socket until it authenticates: no broadcast, no handler', async () => {
    const handled: string[] = [];
    server = await startServer((ioServer) => {
      ioServer.sockets.on('connection', socketioJwt.authorize({ secret: SECRET }));
      ioServer.on('connection', (socket) => socket.on('chat', (t: string) => handled.push(t)));
    });
    const socket = connect();
    const got: string[] = [];
    socket.on('news', (n: string) => got.push(n));
    await once(socket, 'connect');
    socket.emit('chat', 'early');
    server.io.emit('news', 'early');
    await sleep(200);
    socket.emit('authenticate', { token: hs256() });
    await once(socket, 'authenticated');
    server.io.emit('news', 'late');
    socket.emit('chat', 'late');
    await sleep(200);
    expect(got).toEqual(['late']);
    expect(handled).toEqual(['late']);
  });

  it('supports customDecoded and decodedPropertyName, and io.on("authenticated") (README)', async () => {
    const seen: unknown[] = [];
    server = await startServer((ioServer: Server) => {
      ioServer.on(
        'connection',
        socketioJwt.authorize({
          customDecoded: (decoded) => {
            return 'new decoded token';
          },
          secret: SECRET,
          decodedPropertyName: 'my_decoded_token',
        }),
      );
      ioServer.on('authenticated', (socket: ServerSocket & { my_decoded_token: string }) => {
        seen.push(socket.my_decoded_token); // new decoded token
      });
    });
    const socket = connect();
    socket.on('connect', () => socket.emit('authenticate', { token: hs256() }));
    await once(socket, 'authenticated');
    await sleep(50);
    expect(seen).toEqual(['new decoded token']);
  });

  it('runs additional_auth and sends its code and message', async () => {
    await serveReadme({
      additional_auth: (decoded, onSuccess, onError) => (decoded.name === 'Admin' ? onSuccess() : onError('admins only', 'not_admin')),
    });
    const refused = connect();
    refused.on('connect', () => refused.emit('authenticate', { token: hs256({ name: 'Bob' }) }));
    expect((await once<UnauthorizedMsg>(refused, 'unauthorized')).data).toEqual({ message: 'admins only', code: 'not_admin', type: 'UnauthorizedError' });
    const admitted = connect();
    admitted.on('connect', () => admitted.emit('authenticate', { token: hs256({ name: 'Admin' }) }));
    await once(admitted, 'authenticated');
  });

  it('gets the secret from a callback (request, decodedToken, callback), with an algorithms allowlist', async () => {
    const SECRETS: Record<string, string> = { user1: 'secret one secret one secret one!', user2: 'secret two secret two secret two!' };
    server = await startServer((ioServer) => {
      ioServer.use(
        socketioJwt.authorize({
          secret: (request: unknown, decodedToken: { userId?: string }, callback: (err: unknown, secret?: string) => void) => {
            callback(null, SECRETS[decodedToken.userId!]);
          },
          algorithms: ['HS256'],
          handshake: true,
        }),
      );
    });
    const good = connect({ query: `token=${hs256({ userId: 'user2' }, {}, SECRETS.user2)}` } as never);
    await once(good, 'connect');
    const swapped = connect({ query: `token=${hs256({ userId: 'user1' }, {}, SECRETS.user2)}` } as never);
    const err = await once<Error & { data: UnauthorizedMsg['data'] }>(swapped, 'connect_error');
    expect(err.data).toEqual({ message: 'invalid signature', code: 'invalid_token', type: 'UnauthorizedError' });
    const unknown = connect({ query: `token=${hs256({ userId: 'nobody' })}` } as never);
    expect((await once<Error & { data: UnauthorizedMsg['data'] }>(unknown, 'connect_error')).data.code).toBe('invalid_secret');
  });
});

describe('one round trip: handshake: true', () => {
  async function serveHandshake(options: Partial<socketioJwt.AuthorizeOptions> = {}) {
    const hello: string[] = [];
    server = await startServer((ioServer) => {
      ioServer.use(socketioJwt.authorize({ secret: SECRET, handshake: true, ...options }));
      ioServer.on('connection', (socket) => {
        hello.push(`hello! ${(socket as DecodedSocket).decoded_token.name}`);
        socket.emit('me', { name: (socket as DecodedSocket).decoded_token.name, encoded: (socket as DecodedSocket).encoded_token !== undefined, auth: socket.data.auth?.strategy });
      });
    });
    return hello;
  }

  it("runs the README client with query: 'token=' + jwt", async () => {
    const hello = await serveHandshake();
    const your_jwt = hs256({ name: 'Alice' });
    const socket = connect({
      query: `token=${your_jwt}`,
    } as never);
    expect(await once(socket, 'me')).toEqual({ name: 'Alice', encoded: true, auth: 'socketio-jwt' });
    expect(hello).toEqual(['hello! Alice']);
  });

  it('runs the README client with an Authorization Bearer header', async () => {
    await serveHandshake();
    const socket = connect({ extraHeaders: { Authorization: `Bearer ${hs256({ name: 'Bob' })}` } });
    expect(await once(socket, 'me')).toMatchObject({ name: 'Bob' });
  });

  it('surfaces an expired token as connect_error with err.data.code', async () => {
    await serveHandshake();
    const socket = connect({ query: `token=${hs256({ exp: Math.floor(Date.now() / 1000) - 60 })}` } as never);
    const err = await once<Error & { data: UnauthorizedMsg['data'] }>(socket, 'connect_error');
    expect(err.message).toBe('jwt expired');
    expect(err.data).toEqual({ message: 'jwt expired', code: 'invalid_token', type: 'UnauthorizedError' });
  });

  it('with auth_header_required, the header wins: a query token cannot override it', async () => {
    await serveHandshake({ auth_header_required: true });
    const both = connect({
      query: `token=${hs256({ name: 'Mallory' })}`,
      extraHeaders: { Authorization: `Bearer ${hs256({ name: 'Alice' })}` },
    } as never);
    expect(await once(both, 'me')).toMatchObject({ name: 'Alice' });
    const queryOnly = connect({ query: `token=${hs256({ name: 'Mallory' })}` } as never);
    const err = await once<Error & { data: UnauthorizedMsg['data'] }>(queryOnly, 'connect_error');
    expect(err.data).toEqual({ message: 'Server requires Authorization Header', code: 'missing_authorization_header', type: 'UnauthorizedError' });
  });

  it('refuses a token signed with an algorithm outside the allowlist (HS256 by default)', async () => {
    await serveHandshake({ secret: rsa.publicKey });
    // Derived from the key: RS256 only.
    const ok = connect({ query: `token=${rs256({ name: 'Alice' })}` } as never);
    expect(await once(ok, 'me')).toMatchObject({ name: 'Alice' });
    const confused = connect({ query: `token=${hs256({ name: 'Eve' }, {}, rsa.publicKey)}` } as never);
    expect((await once<Error & { data: UnauthorizedMsg['data'] }>(confused, 'connect_error')).data.code).toBe('invalid_token');
  });

  it('checks its options at startup', () => {
    expect(() => socketioJwt.authorize({ secret: '' })).toThrow(/secret/);
    expect(() => socketioJwt.authorize({ secret: SECRET, ignoreExpiration: true } as never)).toThrow(/ignoreExpiration/);
    expect(() => socketioJwt.authorize({ secret: SECRET, algorithms: ['none' as never] })).toThrow(/not allowed/);
  });
});

describe('same handshake refusals as socketio-jwt 4.6', () => {
  const cases: Array<[string, Partial<io.ManagerOptions & io.SocketOptions>]> = [
    ['no token', {}],
    ['an expired token', { query: { token: hs256({ exp: Math.floor(Date.now() / 1000) - 60 }) } }],
    ['a badly signed token', { query: { token: hs256({}, {}, 'not-the-secret-not-the-secret-not!') } }],
    ['a malformed token', { query: { token: 'abc.def' } }],
    ['a header in the wrong format', { extraHeaders: { Authorization: 'Bearer a b' } }],
  ];

  it.each(cases)('%s gives the same err.message and err.data', async (_label, options) => {
    const answers: unknown[] = [];
    for (const authorize of [original.authorize, socketioJwt.authorize as unknown as typeof original.authorize]) {
      server = await startServer((ioServer) => ioServer.use(authorize({ secret: SECRET, handshake: true }) as never));
      const socket = connect(options);
      const err = await once<Error & { data: unknown }>(socket, 'connect_error');
      answers.push({ message: err.message, data: err.data });
      socket.disconnect();
      await server.close();
    }
    expect(answers).toHaveLength(2);
    expect((answers[0] as { data: { type: string } }).data.type).toBe('UnauthorizedError');
    expect(answers[1]).toEqual(answers[0]);
  });

  it('exports UnauthorizedError with socketio-jwt’s shape', () => {
    const err = new socketioJwt.UnauthorizedError('invalid_token', { message: 'jwt expired' });
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toBe('jwt expired');
    expect(err.inner).toEqual({ message: 'jwt expired' });
    expect(err.data).toEqual({ message: 'jwt expired', code: 'invalid_token', type: 'UnauthorizedError' });
  });
});

describe('the cookie option: no cross-site WebSocket hijacking', () => {
  async function serveCookie(options: Partial<socketioJwt.AuthorizeOptions> = {}) {
    server = await startServer((ioServer) => {
      ioServer.sockets.on('connection', socketioJwt.authorize({ secret: SECRET, cookie: 'jwt', ...options }));
    });
  }
  /** A browser on `origin` opening a socket to the server: its cookie rides along, the page sends `authenticate {}`. */
  async function cookieOutcome(origin: string | undefined, host?: string) {
    const headers: Record<string, string> = { cookie: `jwt=${hs256({ name: 'Victim' })}` };
    if (origin !== undefined) headers.origin = origin;
    if (host !== undefined) headers.host = host;
    const socket = connect({ transports: ['websocket'], extraHeaders: headers });
    socket.on('connect', () => socket.emit('authenticate', {}));
    return new Promise<string>((resolve) => {
      socket.on('authenticated', () => resolve('authenticated'));
      socket.on('unauthorized', (msg: UnauthorizedMsg) => resolve(msg.data.code));
    });
  }

  it('refuses a cookie-borne token from a foreign Origin with origin_not_allowed', async () => {
    await serveCookie();
    expect(await cookieOutcome('https://evil.example')).toBe('origin_not_allowed');
  });

  it('keeps same-origin pages and non-browser clients working unchanged', async () => {
    await serveCookie();
    expect(await cookieOutcome(server.url)).toBe('authenticated');
    expect(await cookieOutcome(undefined)).toBe('authenticated');
  });

  it('accepts the origins listed in allowedOrigins, and only those', async () => {
    await serveCookie({ allowedOrigins: ['https://app.example'] });
    expect(await cookieOutcome('https://app.example')).toBe('authenticated');
    expect(await cookieOutcome('https://evil.example')).toBe('origin_not_allowed');
    expect(await cookieOutcome(server.url)).toBe('origin_not_allowed');
  });
});

describe('a secret callback without algorithms, as socketio-jwt’s README "Getting the secret dynamically"', () => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const ed = generateKeyPairSync('ed25519');
  const KEYS: Record<string, KeyObject | string> = { hs: SECRET, rs: rsa.publicKey, ec: ec.publicKey, ed: ed.publicKey };

  async function serveDynamic(flow: 'handshake' | 'event') {
    const secret = (_request: unknown, decoded: { kid?: string }, callback: (err: unknown, secret?: unknown) => void) => {
      callback(null, KEYS[decoded.kid ?? 'hs']);
    };
    server = await startServer((ioServer) => {
      if (flow === 'handshake') ioServer.use(socketioJwt.authorize({ secret: secret as never, handshake: true }) as never);
      else ioServer.sockets.on('connection', socketioJwt.authorize({ secret: secret as never }));
    });
  }
  async function handshakeAnswer(token: string): Promise<{ connected: true } | UnauthorizedMsg['data']> {
    const socket = connect({ query: `token=${token}` } as never);
    return new Promise((resolve) => {
      socket.on('connect', () => resolve({ connected: true }));
      socket.on('connect_error', (err: Error & { data?: UnauthorizedMsg['data'] }) => resolve(err.data!));
    });
  }

  it('derives the allowed algorithms from the key it returns: HS*, RS*/PS*, the curve’s ES*', async () => {
    await serveDynamic('handshake');
    const sign = (kid: string, key: string | KeyObject, algorithm: import('jsonwebtoken').Algorithm) =>
      jwtLib.sign({ sub: 'alice', kid }, key, { algorithm, expiresIn: 60 });
    expect(await handshakeAnswer(sign('hs', SECRET, 'HS384'))).toEqual({ connected: true });
    expect(await handshakeAnswer(sign('rs', rsa.privateKey, 'PS256'))).toEqual({ connected: true });
    expect(await handshakeAnswer(sign('ec', ec.privateKey, 'ES384'))).toEqual({ connected: true });
    // Another curve's ES* is not the key's algorithm.
    const es256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(await handshakeAnswer(sign('ec', es256.privateKey, 'ES256'))).toMatchObject({ code: 'invalid_token', message: 'invalid algorithm' });
  });

  it('verifies EdDSA for an Ed25519 key (socketio-jwt on jsonwebtoken 9 refused every one), and refuses a forged one', async () => {
    await serveDynamic('handshake');
    const header = Buffer.from(JSON.stringify({ alg: 'EdDSA', typ: 'JWT' })).toString('base64url');
    const body = Buffer.from(JSON.stringify({ sub: 'alice', kid: 'ed', exp: Math.floor(Date.now() / 1000) + 60 })).toString('base64url');
    const signature = cryptoSign(null, Buffer.from(`${header}.${body}`), ed.privateKey).toString('base64url');
    expect(await handshakeAnswer(`${header}.${body}.${signature}`)).toEqual({ connected: true });
    const forged = Buffer.from(JSON.stringify({ sub: 'admin', kid: 'ed', exp: Math.floor(Date.now() / 1000) + 60 })).toString('base64url');
    expect(await handshakeAnswer(`${header}.${forged}.${signature}`)).toMatchObject({ code: 'invalid_token' });
  });

  it('never lets a key serve another family: algorithm confusion and alg none stay closed', async () => {
    await serveDynamic('handshake');
    // HS256 signed with the RSA public key's PEM, the classic confusion.
    expect(await handshakeAnswer(forgeHs256({ kid: 'rs' }, rsa.publicKey))).toMatchObject({ code: 'invalid_token' });
    expect(await handshakeAnswer(unsigned({ kid: 'hs' }))).toMatchObject({ code: 'invalid_token' });
  });

  const WORDING_CASES = { 'two parts': 'abc.def', 'alg none, no signature': unsigned({}), 'not JSON': 'a.b.c', 'wrong key': hs256({}, {}, 'not-the-secret-not-the-secret-not!') };
  const fromCallback = (_r: unknown, _d: unknown, cb: (e: unknown, s?: string) => void) => cb(null, SECRET);

  it('refuses with jsonwebtoken’s wording in the handshake, as socketio-jwt 4.6 does', async () => {
    const answers: Array<Record<string, unknown>> = [];
    for (const authorize of [original.authorize, socketioJwt.authorize as unknown as typeof original.authorize]) {
      server = await startServer((ioServer) => ioServer.use(authorize({ secret: fromCallback, handshake: true }) as never));
      const seen: Record<string, unknown> = {};
      for (const [label, token] of Object.entries(WORDING_CASES)) seen[label] = await handshakeAnswer(token);
      answers.push(seen);
      await server.close();
    }
    expect(answers[1]).toEqual(answers[0]);
    expect(answers[1]!['two parts']).toMatchObject({ message: 'jwt malformed', code: 'invalid_token' });
    expect(answers[1]!['alg none, no signature']).toMatchObject({ message: 'jwt signature is required' });
  });

  // socketio-jwt wraps an error from the app's secret callback as UnauthorizedError(err.code || 'invalid_secret', err):
  // the app's own words reach the client (a suspended tenant, say), not a generic "no secret".
  const SECRET_ERRORS = {
    'an Error': () => new Error('tenant suspended'),
    'an Error with a code': () => Object.assign(new Error('tenant gone'), { code: 'tenant_gone' }),
  };
  it('passes an error from the secret callback through, in the handshake, as socketio-jwt 4.6 does', async () => {
    const answers: Array<Record<string, unknown>> = [];
    for (const authorize of [original.authorize, socketioJwt.authorize as unknown as typeof original.authorize]) {
      const seen: Record<string, unknown> = {};
      for (const [label, error] of Object.entries(SECRET_ERRORS)) {
        const failing = (_r: unknown, _d: unknown, cb: (e: unknown, s?: string) => void) => cb(error());
        server = await startServer((ioServer) => ioServer.use(authorize({ secret: failing, handshake: true }) as never));
        seen[label] = await handshakeAnswer(hs256({ sub: 'alice' }));
        await server.close();
      }
      answers.push(seen);
    }
    expect(answers[1]).toEqual(answers[0]);
    expect(answers[1]!['an Error']).toEqual({ message: 'tenant suspended', code: 'invalid_secret', type: 'UnauthorizedError' });
  });

  it('passes an error from the secret callback through after the authenticate event, with code invalid_secret', async () => {
    // socketio-jwt's event flow says invalid_secret whatever the error's own code.
    const failing = (_r: unknown, _d: unknown, cb: (e: unknown, s?: string) => void) => cb(Object.assign(new Error('tenant suspended'), { code: 'tenant_gone' }));
    server = await startServer((ioServer) => ioServer.sockets.on('connection', socketioJwt.authorize({ secret: failing as never })));
    const socket = connect();
    socket.on('connect', () => socket.emit('authenticate', { token: hs256({ sub: 'alice' }) }));
    expect((await once<UnauthorizedMsg>(socket, 'unauthorized')).data).toEqual({ message: 'tenant suspended', code: 'invalid_secret', type: 'UnauthorizedError' });
  });

  it('still says "no secret for this token" when the callback finds no key or never answers', async () => {
    const none = (_r: unknown, _d: unknown, cb: (e: unknown, s?: string) => void) => cb(null, undefined);
    server = await startServer((ioServer) => ioServer.use(socketioJwt.authorize({ secret: none as never, handshake: true }) as never));
    expect(await handshakeAnswer(hs256({ sub: 'alice' }))).toEqual({ message: 'no secret for this token', code: 'invalid_secret', type: 'UnauthorizedError' });
    await server.close();
    const silent = () => {};
    server = await startServer((ioServer) => ioServer.use(socketioJwt.authorize({ secret: silent as never, handshake: true, keyResolverTimeout: 200 }) as never));
    expect(await handshakeAnswer(hs256({ sub: 'alice' }))).toEqual({ message: 'no secret for this token', code: 'invalid_secret', type: 'UnauthorizedError' });
  });

  it('refuses with the same words after the authenticate event (socketio-jwt’s event flow cannot run on Socket.IO 4)', async () => {
    server = await startServer((ioServer) => ioServer.use(original.authorize({ secret: fromCallback, handshake: true }) as never));
    const expected: Record<string, unknown> = {};
    for (const [label, token] of Object.entries(WORDING_CASES)) expected[label] = ((await handshakeAnswer(token)) as UnauthorizedMsg['data']).message;
    await server.close();
    await serveDynamic('event');
    const seen: Record<string, unknown> = {};
    for (const [label, token] of Object.entries(WORDING_CASES)) {
      const socket = connect();
      socket.on('connect', () => socket.emit('authenticate', { token }));
      seen[label] = (await once<UnauthorizedMsg>(socket, 'unauthorized')).data.message;
    }
    expect(seen).toEqual(expected);
  });
});

/**
 * Found by the soak's hostile handshakes: the handshake flow meant to refuse a
 * repeated `token` query parameter but looked for an array in
 * `handshake.query`, and Engine.IO keeps only the last of repeated
 * parameters, so `?token=<anything>&token=<valid>` was admitted on the last
 * one (HTTP parameter pollution: a proxy that inspects the first copy sees
 * another credential than the server uses).
 */
describe('handshake flow: a repeated token query parameter', () => {
  const serveHandshake = async () => {
    server = await startServer((ioServer) => ioServer.use(socketioJwt.authorize({ secret: SECRET, handshake: true }) as Parameters<typeof ioServer.use>[0]));
  };

  it.each([
    ['a forged token, then a valid one', () => `token=forged&token=${hs256()}`],
    ['a valid token, then a forged one', () => `token=${hs256()}&token=forged`],
    ['the same valid token twice', () => {
      const t = hs256();
      return `token=${t}&token=${t}`;
    }],
  ])('refuses it with credentials_bad_format: %s', async (_label, query) => {
    await serveHandshake();
    expect(await rawHandshake(server.url, { query: query() })).toMatchObject({ kind: 'refused', code: 'credentials_bad_format' });
  });

  it('still admits one token in the query', async () => {
    await serveHandshake();
    expect(await codeOf(server.client('/', { query: { token: hs256() } }))).toBe('connected');
  });
});
