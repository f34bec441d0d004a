// Preload (`node --import ./test/helpers/record-loads.mjs ...`) that appends every module the
// process loads to the file named by $CCONV_RECORD_LOADS, one file: URL or node: name a line:
// ES modules through a resolve hook (record-loads-hooks.mjs, run by Node on its loader thread) and
// CommonJS modules, which Node 20 loads without those hooks, from require.cache at exit.
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { pathToFileURL } from 'node:url';

const file = process.env.CCONV_RECORD_LOADS;
if (file) {
  register('./record-loads-hooks.mjs', import.meta.url, { data: { file } });
  const cache = createRequire(import.meta.url).cache;
  process.on('exit', () => {
    const urls = Object.keys(cache).map((p) => pathToFileURL(p).href);
    if (urls.length > 0) appendFileSync(file, `${urls.join('\n')}\n`);
  });
}
