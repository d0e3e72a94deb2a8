/**
 * A jwt-auth app pays nothing for the features it does not configure: loading
 * the built `sockpass` (dist/, made by `npm test`'s pretest) and admitting
 * through `jwtAuth` loads none of the optional features' packages — the
 * rate limiter, OpenTelemetry, Nest, Fastify, Redis — and none of the
 * libraries sockpass no longer depends on (jwks-rsa, passport-jwt, jose).
 * Checked in a fresh CommonJS process, whose `require.cache` lists every
 * file that was loaded.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = resolve(new URL('../../', import.meta.url).pathname);
const run = promisify(execFile);
const NOT_LOADED = [
  'rate-limiter-flexible',
  '@opentelemetry/api',
  '@nestjs/common',
  '@nestjs/core',
  'fastify',
  'redis',
  '@redis/client',
  'jwks-rsa',
  'passport-jwt',
  'jose',
];

const script = `
  const { SockPass, jwtAuth } = require('./dist/index.cjs');
  const auth = new SockPass().use('jwt', jwtAuth({ secret: 'a-secret-of-enough-length-for-hs256', algorithms: ['HS256'] }));
  auth.middleware('jwt');
  const loaded = new Set();
  for (const file of Object.keys(require.cache)) {
    const m = /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(file.slice(file.lastIndexOf('node_modules/')));
    if (m) loaded.add(m[1]);
  }
  console.log(JSON.stringify([...loaded]));
`;

describe('what importing sockpass loads', () => {
  it('loads none of the optional features\u2019 packages for a jwt-auth app', async () => {
    expect(existsSync(resolve(root, 'dist/index.cjs')), 'dist/ is missing: npm run build').toBe(true);
    const { stdout } = await run(process.execPath, ['-e', script], { cwd: root });
    const loaded = JSON.parse(stdout) as string[];
    expect(loaded).toContain('jsonwebtoken');
    for (const name of NOT_LOADED) expect(loaded, name).not.toContain(name);
  });
});
