// Builds the explorer into dist/ with fixed file names: the modelda binary
// embeds dist/index.html, dist/assets/app.js and dist/assets/app.css by name
// (api/src/explorer.rs), and CI rebuilds them and fails when they differ from
// the committed ones. The same build puts GraphiQL in dist/graphiql/ (see
// `graphiql` below).
import { readFileSync } from 'node:fs';
import type { Plugin } from 'vite';
import { defineConfig } from 'vitest/config';

/**
 * GraphiQL for `GET /graphql`, served by the binary from this origin like
 * the explorer (api/src/graphiql.rs), so that it works without internet:
 * the page, its bootstrap and style from graphiql/, and the UMD builds of
 * React, ReactDOM and GraphiQL copied byte for byte from node_modules
 * (package-lock.json pins their versions), with their licenses.
 */
const GRAPHIQL: ReadonlyArray<readonly [string, string]> = [
  ['index.html', 'graphiql/index.html'],
  ['start.js', 'graphiql/start.js'],
  ['page.css', 'graphiql/page.css'],
  ['react.production.min.js', 'node_modules/react/umd/react.production.min.js'],
  ['react-dom.production.min.js', 'node_modules/react-dom/umd/react-dom.production.min.js'],
  ['graphiql.min.js', 'node_modules/graphiql/graphiql.min.js'],
  ['graphiql.min.css', 'node_modules/graphiql/graphiql.min.css'],
];
const LICENSES: ReadonlyArray<string> = ['graphiql', 'react', 'react-dom'];

function graphiql(): Plugin {
  const read = (path: string) => readFileSync(new URL(path, import.meta.url));
  return {
    name: 'modelda-graphiql',
    apply: 'build',
    generateBundle() {
      for (const [name, from] of GRAPHIQL) {
        this.emitFile({ type: 'asset', fileName: `graphiql/${name}`, source: read(from) });
      }
      const licenses = LICENSES.map((pkg) => {
        const { version } = JSON.parse(read(`node_modules/${pkg}/package.json`).toString()) as {
          version: string;
        };
        return `${pkg} ${version}\n\n${read(`node_modules/${pkg}/LICENSE`).toString().trim()}\n`;
      });
      this.emitFile({
        type: 'asset',
        fileName: 'graphiql/LICENSES.txt',
        source: licenses.join('\n' + '-'.repeat(72) + '\n\n'),
      });
    },
  };
}

export default defineConfig({
  base: '/',
  plugins: [graphiql()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    modulePreload: false,
    cssCodeSplit: false,
    sourcemap: false,
    target: 'es2022',
    rolldownOptions: {
      output: {
        entryFileNames: 'assets/app.js',
        chunkFileNames: 'assets/[name].js',
        assetFileNames: (info) =>
          (info.names ?? []).some((n) => n.endsWith('.css')) ? 'assets/app.css' : 'assets/[name][extname]',
      },
    },
  },
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
  },
});
