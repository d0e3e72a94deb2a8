// Tests run against the TypeScript sources (aliased to the package's public
// names, as an app would import them); test/package/ checks the built dist.
import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

const src = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  resolve: {
    alias: [
      { find: /^sockpass\/client$/, replacement: src('./src/client/index.ts') },
      { find: /^sockpass\/nest$/, replacement: src('./src/nest/index.ts') },
      { find: /^sockpass\/compat\/socketio-jwt$/, replacement: src('./src/compat/socketio-jwt.ts') },
      { find: /^sockpass\/compat\/passport\.socketio$/, replacement: src('./src/compat/passport.socketio.ts') },
      { find: /^sockpass$/, replacement: src('./src/index.ts') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
  },
});
