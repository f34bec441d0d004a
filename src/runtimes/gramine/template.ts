/**
 * The manifest template: a TOML file of static keys whose strings may hold the placeholders
 * @pkglibdir@ and @runtimedir@. No Jinja: substitution is plain, typed and total (an unknown
 * @name@ is an error), and applies to string values only, never to keys.
 */
import { readFile } from 'node:fs/promises';
import { parse, TomlError } from 'smol-toml';
import { CconvError, wrapIoError } from '../../errors.ts';
import type { ManifestTable, ManifestValue } from './types.ts';

/** The bundled template (runtimes/gramine/manifest.template.toml). */
export const GRAMINE_TEMPLATE_URL = new URL('../../../runtimes/gramine/manifest.template.toml', import.meta.url);

/** Values for the template placeholders. */
export interface TemplateVars {
  pkglibdir: string;
  runtimedir: string;
}

const PLACEHOLDER = /@([A-Za-z_][A-Za-z0-9_]*)@/g;

/** Parses template TOML (integers as bigint). Throws E_MANIFEST_TEMPLATE. */
export function parseTemplate(text: string, source = 'template'): ManifestTable {
  try {
    return parse(text, { integersAsBigInt: true }) as ManifestTable;
  } catch (err) {
    const msg = err instanceof TomlError ? err.message.split('\n')[0] : String(err);
    throw new CconvError('E_MANIFEST_TEMPLATE', `${source} is not valid TOML: ${msg}`, { cause: err });
  }
}

/** Reads and parses a template file (default: the bundled one). */
export async function loadTemplate(file: string | URL = GRAMINE_TEMPLATE_URL): Promise<ManifestTable> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw wrapIoError(err, 'reading the Gramine manifest template');
  }
  return parseTemplate(text, typeof file === 'string' ? file : file.pathname);
}

function isTable(v: ManifestValue): v is ManifestTable {
  return typeof v === 'object' && !Array.isArray(v);
}

/** A deep copy of `template` with placeholders replaced. Throws E_MANIFEST_TEMPLATE on an unknown one. */
export function substitute(template: ManifestTable, vars: TemplateVars): ManifestTable {
  const lookup = vars as unknown as Record<string, string>;
  const visit = (v: ManifestValue, key: string): ManifestValue => {
    if (typeof v === 'string') {
      return v.replace(PLACEHOLDER, (_m, name: string) => {
        if (!Object.hasOwn(lookup, name)) {
          throw new CconvError('E_MANIFEST_TEMPLATE', `template key ${key}: unknown placeholder @${name}@`, {
            hint: `known placeholders: ${Object.keys(vars).map((n) => `@${n}@`).join(', ')}`,
          });
        }
        return lookup[name]!;
      });
    }
    if (Array.isArray(v)) return v.map((item, i) => visit(item, `${key}[${i}]`));
    if (isTable(v)) {
      const out: ManifestTable = {};
      for (const [k, child] of Object.entries(v)) out[k] = visit(child, key === '' ? k : `${key}.${k}`);
      return out;
    }
    return v;
  };
  return visit(template, '') as ManifestTable;
}
