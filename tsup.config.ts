// Builds the published package: ESM + CommonJS + type declarations for every
// entry of the exports map, and one browser bundle of the client helpers
// (socket.io-client included) that only the example pages load: `files` in
// package.json leaves dist/browser out of the package (docs/client.md).
// No source maps in the package: its code is unminified and keeps its names,
// so a stack trace already points at readable lines, while a map would point
// at src/ files the package does not ship (or, with their text embedded,
// double its size).
import { defineConfig } from 'tsup';

export default defineConfig([
  {
    entry: {
      index: 'src/index.ts',
      client: 'src/client/index.ts',
      'compat/socketio-jwt': 'src/compat/socketio-jwt.ts',
      'compat/passport.socketio': 'src/compat/passport.socketio.ts',
      nest: 'src/nest/index.ts',
    },
    format: ['esm', 'cjs'],
    dts: true,
    clean: true,
    sourcemap: false,
    target: 'node20',
    // One copy of the core at run time: every entry (sockpass, sockpass/client, sockpass/compat/*) imports the
    // shared chunks, so AuthError and a registry's guarantees are the same whichever entry an app loads.
    splitting: true,
    // import.meta.url in the CommonJS build (optional peers are required relative to sockpass's own file).
    shims: true,
    // The app's own copies: a bundled Passport would be a second singleton without the app's serializers.
    // Nest's packages are the app's: its DI container and exception filters must see the same classes.
    external: ['socket.io', 'socket.io-client', 'passport', 'cookie-parser', 'express-session', /^@nestjs\//],
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
