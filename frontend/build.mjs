// Builds the panel's one ES module and one stylesheet into the Python package (kfp_notebook/view/static/),
// each headed by the SHA-256 of the sources it came from (kfp_notebook/view/front_end.py checks it).
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { build } from 'esbuild';

const files = {};
for (const folder of ['src', 'style']) {
  for (const name of readdirSync(folder)) {
    files[`${folder}/${name}`] = readFileSync(`${folder}/${name}`);
  }
}
files['package-lock.json'] = readFileSync('package-lock.json');
const digest = createHash('sha256');
for (const name of Object.keys(files).sort()) {
  digest.update(Buffer.concat([Buffer.from(`${name}\0`), files[name], Buffer.from('\0')]));
}
const header = `/* kfp-notebook panel · sources sha256:${digest.digest('hex')} · built by frontend/build.mjs */`;
const out = '../kfp_notebook/view/static';
await build({
  entryPoints: ['src/index.ts'], bundle: true, format: 'esm', target: 'es2020', minify: true,
  legalComments: 'none', banner: { js: header }, outfile: `${out}/panel.js`, logLevel: 'warning'
});
await build({
  entryPoints: ['style/panel.css'], bundle: true, minify: true, banner: { css: header },
  outfile: `${out}/panel.css`, logLevel: 'warning'
});
