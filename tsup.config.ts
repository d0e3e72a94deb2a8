// Builds the published package: ESM + CommonJS + type declarations for every
// entry of the exports map, and one browser bundle of the client helpers
// (socket.io-client included) that the example pages load.
import { defineConfig } from 'tsup';

export default defineConfig([
  {
    entry: {
      index: 'src/index.ts',
      client: 'src/client/index.ts',
      'compat/socketio-jwt': 'src/compat/socketio-jwt.ts',
      'compat/passport.socketio': 'src/compat/passport.socketio.ts',
    },
    format: ['esm', 'cjs'],
    dts: true,
    clean: true,
    sourcemap: true,
    target: 'node20',
    splitting: false,
    // import.meta.url in the CommonJS build (optional peers are required relative to sockpass's own file).
    shims: true,
    // The app's own copies: a bundled Passport would be a second singleton without the app's serializers.
    external: ['socket.io', 'socket.io-client', 'passport', 'cookie-parser', 'express-session'],
  },
  {
    entry: { 'browser/sockpass-client': 'src/client/index.ts' },
    format: ['esm'],
    platform: 'browser',
    target: 'es2020',
    noExternal: ['socket.io-client'],
    minify: false,
    sourcemap: true,
    clean: false,
  },
]);
