/**
 * One copy of the core at run time: the build shares its chunks between the
 * entry points, so an AuthError raised through `sockpass/compat/*` is
 * `instanceof` the AuthError of `sockpass`, in ESM and in CommonJS. Separate
 * Node processes load dist/ through package.json (the self-reference), as an
 * app does. `npm test` builds dist/ first (pretest).
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url).pathname;

/** A refusal from passport.socketio's `authorize()` (no session cookie), and socketio-jwt's AuthError, checked against sockpass's. */
const body = `
const socket = {
  handshake: { query: {}, auth: {}, headers: {}, address: '127.0.0.1', secure: false },
  request: { headers: {}, url: '/socket.io/' },
  nsp: { name: '/' },
};
const store = { get: (sid, cb) => cb(null, null) };
const refusal = await new Promise((resolve) =>
  passportSocketIo.authorize({ store, secret: 's3cret', cookieParser, passport, allowedOrigins: 'any' })(socket, resolve),
);
const made = new socketioJwt.AuthError('forbidden', 'no');
console.log(JSON.stringify({
  refusalIsAuthError: refusal instanceof sockpass.AuthError,
  code: refusal && refusal.code,
  socketioJwtIsAuthError: made instanceof sockpass.AuthError,
  sameClass: socketioJwt.AuthError === sockpass.AuthError && passportSocketIo.AuthError === sockpass.AuthError,
}));
`;

const esm = `
import * as sockpass from 'sockpass';
import * as socketioJwt from 'sockpass/compat/socketio-jwt';
import * as passportSocketIo from 'sockpass/compat/passport.socketio';
import cookieParser from 'cookie-parser';
import passport from 'passport';
${body}`;

const cjs = `
const sockpass = require('sockpass');
const socketioJwt = require('sockpass/compat/socketio-jwt');
const passportSocketIo = require('sockpass/compat/passport.socketio');
const cookieParser = require('cookie-parser');
const passport = require('passport');
(async () => {
${body}
})();`;

function run(args: string[]): unknown {
  return JSON.parse(execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' }));
}

const expected = { refusalIsAuthError: true, code: 'credentials_required', socketioJwtIsAuthError: true, sameClass: true };

describe('one core across the entry points', () => {
  it('gives the compat modules the AuthError of sockpass, in ESM', () => {
    expect(run(['--input-type=module', '-e', esm])).toEqual(expected);
  });

  it('gives the compat modules the AuthError of sockpass, in CommonJS', () => {
    expect(run(['-e', cjs])).toEqual(expected);
  });
});
