// Builds dist/ from src/ with esbuild: the operators' map (MapLibre GL JS
// bundled as an ES module, its worker copied beside it) and the public
// indicators page (vanilla JS). Run with `npm run build` after `npm ci`.
import * as esbuild from 'esbuild';
import { cp, mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';

const dist = 'dist';

// Empty dist/ but keep the committed README.txt that go:embed needs.
for (const name of await readdir(dist).catch(() => [])) {
  if (name !== 'README.txt') await rm(path.join(dist, name), { recursive: true, force: true });
}
await mkdir(path.join(dist, 'map'), { recursive: true });
await mkdir(path.join(dist, 'indicators'), { recursive: true });

const common = { bundle: true, minify: true, sourcemap: false, target: ['es2022'], legalComments: 'linked', logLevel: 'info' };

await esbuild.build({ ...common, entryPoints: ['src/map/app.js'], outfile: 'dist/map/app.js', format: 'esm' });
await esbuild.build({ ...common, entryPoints: ['src/map/app.css'], outfile: 'dist/map/app.css' });
await esbuild.build({ ...common, entryPoints: ['src/indicators/app.js'], outfile: 'dist/indicators/app.js', format: 'iife' });
await esbuild.build({ ...common, entryPoints: ['src/indicators/app.css'], outfile: 'dist/indicators/app.css' });

// MapLibre 6 starts its worker from maplibre-gl-worker.mjs next to the
// bundle (resolved from import.meta.url); ship it unchanged.
await cp('node_modules/maplibre-gl/dist/maplibre-gl-worker.mjs', 'dist/map/maplibre-gl-worker.mjs');
await cp('node_modules/maplibre-gl/LICENSE.txt', 'dist/map/maplibre-gl-LICENSE.txt');
await cp('src/map/index.html', 'dist/map/index.html');
await cp('src/indicators/index.html', 'dist/indicators/index.html');
