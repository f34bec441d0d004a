/**
 * Checks a CI file (GitHub Actions or Azure Pipelines YAML) that runs cconv, for
 * test/unit/ci-examples.test.ts: it must parse without error or warning; every `cconv` invocation
 * in its shell steps must name a real command and only that command's declared options (read
 * from the yargs definitions in src/cli/usage/); every file cconv is given to read must be written
 * earlier in the same job, private keys from a named secret into a 0600 file; every Docker daemon
 * image must be built, pulled or tagged earlier in the job; nothing may run the unrelated npm
 * package `cconv`. `checkCi` returns the problems found.
 *
 * The shell reader knows what these files use: quotes, `\` line continuations, comments, `$(...)`
 * and `${...}` (kept in their word verbatim; a command substitution is read as commands too),
 * `| || && ; &`, and redirections. It refuses here-documents and backquotes rather than misread them.
 */
import yargs from 'yargs';
import { parseAllDocuments } from 'yaml';
import { COMMANDS } from '../../src/cli/usage/index.ts';
import { cli } from './cli.ts';

/** Options of one command as yargs declares them (long names, aliases), the global ones included. */
export interface CommandOptions {
  names: Set<string>;
  booleans: Set<string>;
}

/** A simple command: its words (quotes removed, expansions left as written) and the files its redirections write. */
export interface ShellCommand {
  words: string[];
  writes: string[];
}

interface Step {
  script?: string;
  /** The step's environment (GitHub: workflow, job and step `env:`). */
  env: Record<string, string>;
  /** Azure Pipelines variables, expanded as `$(name)` macros before the shell runs. */
  macros: Record<string, string>;
  /** The `name` of a DownloadSecureFile task: `$(name.secureFilePath)` is that secure file. */
  secureFile?: string;
}

/**
 * What cconv reads from the file given to each flag, by command: 'secret' (a private key: from a
 * named secret, into a 0600 file) or 'file'. A command missing here is reported, not skipped.
 */
export const FILE_FLAGS: Record<string, Record<string, 'secret' | 'file'>> = {
  build: { key: 'secret', 'attest-key': 'secret', 'data-key': 'secret', 'signer-pubkey': 'file', 'broker-key': 'file', 'cert-file': 'file', config: 'file', manifest: 'file', policy: 'file' },
  sign: { key: 'secret', 'signer-pubkey': 'file', 'cert-file': 'file', config: 'file', manifest: 'file', policy: 'file' },
  measure: { 'cert-file': 'file', config: 'file', manifest: 'file', policy: 'file' },
  verify: { 'attest-key': 'file', 'cert-file': 'file' },
  copy: { 'cert-file': 'file' },
  inspect: { 'cert-file': 'file' },
  'attest sign': { key: 'secret', 'cert-file': 'file' },
  'attest verify': { key: 'file', 'trusted-root': 'file', 'cert-file': 'file' },
  keygen: {},
  'attest keygen': {},
};

/** Every cconv command and subcommand ('build', 'attest sign', ...) with its options; '' holds the global ones. */
export async function declaredCommands(): Promise<Map<string, CommandOptions>> {
  const help = await cli(['--help']);
  const global: CommandOptions = { names: new Set(), booleans: new Set() };
  for (const m of help.stdout.matchAll(/^ +(?:-(\w), )?--([\w-]+) .*\[boolean\]/gm)) {
    for (const name of [m[1], m[2]]) {
      if (name === undefined) continue;
      global.names.add(name);
      global.booleans.add(name);
    }
  }
  const commands = new Map<string, CommandOptions>([['', global]]);
  for (const entry of COMMANDS) {
    const usages = 'subcommands' in entry ? entry.subcommands.map((u) => ({ ...u, command: `${entry.command} ${u.command}` })) : [entry];
    for (const usage of usages) {
      const words = usage.command.split(' ');
      const positional = new Set(words.filter((w) => /^[<[]/.test(w)).map((w) => w.slice(1, -1)));
      const parser = (await usage.builder(yargs())) as unknown as { getOptions(): { key: Record<string, unknown>; alias: Record<string, string[]>; boolean: string[] } };
      const o = parser.getOptions();
      const names = new Set([...global.names, ...Object.keys(o.key).filter((k) => !positional.has(k) && k !== 'version' && k !== 'help'), ...Object.values(o.alias).flat()]);
      commands.set(words.filter((w) => !/^[<[]/.test(w)).join(' '), { names, booleans: new Set([...global.booleans, ...o.boolean]) });
    }
  }
  return commands;
}

/** Index of the bracket closing the one at `open`, skipping quoted text. */
function closing(s: string, open: number): number {
  const close = s[open] === '(' ? ')' : '}';
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    const c = s[i]!;
    if (c === "'" || c === '"') i = s.indexOf(c, i + 1);
    else if (c === s[open]) depth++;
    else if (c === close && --depth === 0) return i;
    if (i < 0) break;
  }
  throw new Error(`unclosed ${s[open]} in: ${s.slice(open - 1, open + 40)}`);
}

/** The simple commands of a shell script, in the order they run (a command substitution before its command). */
export function shellCommands(script: string): ShellCommand[] {
  const s = script.replace(/\\\n/g, '');
  const out: ShellCommand[] = [];
  let cmd: ShellCommand = { words: [], writes: [] };
  let word: string | undefined;
  let redirect: 'write' | 'skip' | undefined;
  const flush = () => {
    if (word === undefined) return;
    if (redirect === 'write') cmd.writes.push(word);
    else if (redirect === undefined) cmd.words.push(word);
    word = undefined;
    redirect = undefined;
  };
  const end = () => {
    flush();
    if (cmd.words.length > 0) out.push(cmd);
    cmd = { words: [], writes: [] };
  };
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    const expansion = c === '$' && (s[i + 1] === '(' || s[i + 1] === '{');
    if (c === ' ' || c === '\t') flush();
    else if (c === '#' && word === undefined) i = s.indexOf('\n', i) < 0 ? s.length : s.indexOf('\n', i) - 1;
    else if (c === '\n' || c === ';' || c === '|' || c === '&' && s[i + 1] !== '>') end();
    else if (c === '<' && s[i + 1] === '<') throw new Error('here-documents are not read by this checker');
    else if (c === '`') throw new Error('backquotes are not read by this checker: use $(...)');
    else if (c === '>' || c === '<' || c === '&') {
      if (word !== undefined && !/^\d+$/.test(word)) flush();
      word = undefined;
      const op = /^(&>>|&>|>>|>&|>\||<&|>|<)/.exec(s.slice(i))![1]!;
      redirect = op.includes('&') && !op.startsWith('&') || op === '<' ? 'skip' : 'write';
      i += op.length - 1;
    } else if (c === "'") {
      const close = s.indexOf("'", i + 1);
      if (close < 0) throw new Error('unterminated quote');
      word = (word ?? '') + s.slice(i + 1, close);
      i = close;
    } else if (c === '"') {
      word ??= '';
      for (i++; s[i] !== '"'; i++) {
        if (i >= s.length) throw new Error('unterminated quote');
        if (s[i] === '`') throw new Error('backquotes are not read by this checker: use $(...)');
        if (s[i] === '\\' && '"\\$`'.includes(s[i + 1] ?? '')) word += s[++i];
        else if (s[i] === '$' && (s[i + 1] === '(' || s[i + 1] === '{')) {
          const close = closing(s, i + 1);
          if (s[i + 1] === '(') out.push(...shellCommands(s.slice(i + 2, close)));
          word += s.slice(i, close + 1);
          i = close;
        } else word += s[i];
      }
    } else if (expansion) {
      const close = closing(s, i + 1);
      if (s[i + 1] === '(') out.push(...shellCommands(s.slice(i + 2, close)));
      word = (word ?? '') + s.slice(i, close + 1);
      i = close;
    } else if (c === '\\') word = (word ?? '') + (s[++i] ?? '');
    else word = (word ?? '') + c;
  }
  end();
  return out;
}

/** The jobs of a parsed CI document (GitHub `jobs:` mapping, Azure `stages:`/`jobs:` lists or a bare `steps:`), each a list of steps. */
function jobsOf(doc: Record<string, any>): Array<{ name: string; steps: Step[] }> {
  const vars = doc.variables ?? {};
  const macros: Record<string, string> = Array.isArray(vars) ? Object.fromEntries(vars.filter((v) => v.name !== undefined).map((v) => [v.name, String(v.value)])) : vars;
  const stepsOf = (steps: any[] | undefined, env: Record<string, string>): Step[] =>
    (steps ?? []).map((step) => {
      const task = typeof step.task === 'string' ? step.task : '';
      const script = step.run ?? step.script ?? step.bash ?? (/^(AzureCLI|Bash)@/.test(task) ? step.inputs?.inlineScript ?? step.inputs?.script : undefined);
      return { script, env: { ...env, ...step.env }, macros, ...(task.startsWith('DownloadSecureFile@') ? { secureFile: step.name } : {}) };
    });
  if (doc.jobs !== undefined && !Array.isArray(doc.jobs)) {
    return Object.entries(doc.jobs as Record<string, any>).map(([name, job]) => ({ name, steps: stepsOf(job.steps, { ...doc.env, ...job.env }) }));
  }
  const jobs: any[] = doc.stages ? doc.stages.flatMap((s: any) => s.jobs ?? []) : doc.jobs ?? [{ job: 'steps', steps: doc.steps }];
  return jobs.map((job) => ({ name: job.job ?? job.deployment, steps: stepsOf(job.steps, {}) }));
}

/** `word` with the literal values of `$VAR`, `${VAR}` (from env) and `$(name)` (Azure macros) put in. */
function expand(word: string, step: Step): string {
  return word.replace(/\$\((\w+)\)|\$\{?(\w+)\}?/g, (all, macro?: string, env?: string) => {
    const value = macro !== undefined ? step.macros[macro] : step.env[env!];
    return value === undefined || /\$[{(]/.test(value) ? all : value;
  });
}

/** The named secret a word draws on: a secret-valued variable, `${{ secrets.X }}`, or `$(X.secureFilePath)` of a secure file. */
function secretIn(text: string, env: Record<string, string>, secureFiles: Set<string>): string | undefined {
  for (const m of text.matchAll(/\$\{\{\s*secrets\.(\w+)\s*\}\}|\$\((\w+)\.secureFilePath\)|\$\{?(\w+)\}?/g)) {
    if (m[1] !== undefined) return m[1];
    if (m[2] !== undefined && secureFiles.has(m[2])) return m[2];
    const fromEnv = m[3] !== undefined ? /\$\{\{\s*secrets\.(\w+)\s*\}\}/.exec(env[m[3]] ?? '') : null;
    if (fromEnv) return fromEnv[1];
  }
  return undefined;
}

/** Splits a cconv invocation into its command and flags, reporting unknown ones. */
function parseInvocation(words: string[], commands: Map<string, CommandOptions>, problems: string[]) {
  const global = commands.get('')!;
  let i = 1;
  while (i < words.length && words[i]!.startsWith('-')) if (!global.names.has(words[i++]!.replace(/^--?/, ''))) problems.push(`cconv ${words[i - 1]}: not a global option`);
  const two = words.slice(i, i + 2).join(' ');
  const name = i === words.length ? '' : commands.has(two) ? two : words[i]!;
  const options = commands.get(name);
  if (options === undefined) {
    problems.push(`cconv ${name}: no such command`);
    return undefined;
  }
  const flags: Array<[string, string | undefined]> = [];
  const positionals: string[] = [];
  for (i += name === '' ? 0 : name.split(' ').length; i < words.length; i++) {
    const w = words[i]!;
    if (w === '--') {
      positionals.push(...words.slice(i + 1));
      break;
    }
    if (!w.startsWith('-') || w === '-') {
      positionals.push(w);
      continue;
    }
    const [flag, inline] = w.startsWith('--') ? [w.slice(2).split('=')[0]!, w.includes('=') ? w.slice(w.indexOf('=') + 1) : undefined] : [w.slice(1), undefined];
    const negated = flag.startsWith('no-') && options.booleans.has(flag.slice(3));
    if (!options.names.has(flag) && !negated) problems.push(`cconv ${name} ${w}: not an option of cconv ${name}`);
    const value = inline ?? (options.booleans.has(flag) || negated ? undefined : words[++i]);
    flags.push([flag, value]);
  }
  return { name, flags, positionals };
}

/** What a job has made so far: files (with the secret they were written from, and whether they were made 0600 first), daemon images, secure files. */
interface JobState {
  job: string;
  files: Map<string, { secret?: string; private: boolean }>;
  images: Set<string>;
  secureFiles: Set<string>;
  umask077: boolean;
}

/** Records what a command writes: redirections, install/cp destinations, docker build/pull/tag names. */
function recordWrites(words: string[], writes: string[], secret: string | undefined, step: Step, state: JobState): void {
  const { files, images } = state;
  for (const path of writes) files.set(path, { ...(secret ? { secret } : {}), private: files.get(path)?.private === true || state.umask077 });
  const args = words.filter((w) => !w.startsWith('-'));
  if (words[0] === 'umask') state.umask077 = /^0?077$/.test(words[1] ?? '');
  if ((words[0] === 'install' || words[0] === 'cp') && !words.includes('-d')) {
    const source = args.length > 2 ? args[args.length - 2]! : '/dev/null';
    const sourceSecret = files.get(source)?.secret ?? secretIn(source, step.env, state.secureFiles);
    const mode = words[0] === 'install' ? /(?:^| )(?:-m ?|--mode[= ])(\S+)/.exec(words.join(' '))?.[1] : undefined;
    files.set(args[args.length - 1]!, { ...(sourceSecret ? { secret: sourceSecret } : {}), private: /^0?600$/.test(mode ?? '') || state.umask077 });
  }
  if (words[0] === 'docker' && words[1] === 'build') words.forEach((w, j) => (w === '-t' || w === '--tag') && images.add(words[j + 1]!));
  if (words[0] === 'docker' && (words[1] === 'pull' || words[1] === 'tag')) images.add(args[args.length - 1]!);
}

/**
 * Checks the files and daemon images a cconv call reads against what the job made before it, and
 * records the keys `cconv keygen` and `cconv attest keygen` write (0600, but from no secret).
 */
function checkCall(call: { name: string; flags: Array<[string, string | undefined]>; positionals: string[] }, state: JobState, problems: string[]): void {
  if (/^(keygen|attest keygen)$/.test(call.name)) {
    const path = call.positionals[0] ?? '';
    for (const p of [path, `${path}.pub`]) state.files.set(p, { private: true });
    return;
  }
  const rules = FILE_FLAGS[call.name];
  if (rules === undefined) {
    problems.push(`cconv ${call.name}: FILE_FLAGS has no rules for it (add them)`);
    return;
  }
  const at = `cconv ${call.name} in job ${state.job}`;
  for (const [flag, value] of call.flags) {
    const rule = rules[flag];
    if (rule === undefined || value === undefined) continue;
    const secureFile = /^\$\((\w+)\.secureFilePath\)$/.exec(value);
    if (secureFile && state.secureFiles.has(secureFile[1]!)) continue;
    const file = state.files.get(value);
    if (file === undefined) problems.push(`${at}: --${flag} ${value}: no earlier command in the job writes it, and no named secret gives it`);
    else if (rule === 'secret' && (file.secret === undefined || !file.private)) {
      problems.push(`${at}: --${flag} ${value}: a private key must be written from a named secret into a file made 0600 first`);
    }
  }
  const daemonImages = [...call.flags.filter(([f]) => f === 'runtime-image').map(([, v]) => v ?? ''), ...(/^(build|measure|sign)$/.test(call.name) ? call.positionals.slice(0, 1) : [])];
  for (const ref of daemonImages) {
    if (/^(docker|oci|docker-archive):/.test(ref) || state.images.has(ref.replace(/^docker-daemon:/, ''))) continue;
    problems.push(`${at}: ${ref} is a Docker daemon image (no docker:// prefix) that no earlier docker build, pull or tag makes`);
  }
}

/** What `checkCi` found: the problems (none means the file passes) and the cconv commands it runs, in order. */
export interface CiCheck {
  problems: string[];
  calls: string[];
}

/** Checks a CI file's text against the declared commands. */
export function checkCi(text: string, commands: Map<string, CommandOptions>): CiCheck {
  const problems = foreignCconv(text).map((line) => `runs the unrelated npm package cconv: ${line.trim()}`);
  const calls: string[] = [];
  const docs = [...parseAllDocuments(text)];
  for (const doc of docs) {
    for (const e of [...doc.errors, ...doc.warnings]) problems.push(`YAML: ${e.message.split('\n')[0]}`);
  }
  if (docs.length === 0) problems.push('YAML: no document');
  if (problems.some((p) => p.startsWith('YAML: '))) return { problems, calls };
  for (const job of docs.flatMap((d) => jobsOf(d.toJS() as Record<string, any>))) {
    const state: JobState = { job: job.name, files: new Map(), images: new Set(), secureFiles: new Set(), umask077: false };
    for (const step of job.steps) {
      if (step.secureFile !== undefined) state.secureFiles.add(step.secureFile);
      if (typeof step.script !== 'string') continue;
      state.umask077 = false;
      for (const command of shellCommands(step.script)) {
        const words = command.words.map((w) => expand(w, step));
        recordWrites(words, command.writes.map((w) => expand(w, step)), secretIn(command.words.join(' '), step.env, state.secureFiles), step, state);
        if (words[0] !== 'cconv') continue;
        const call = parseInvocation(words, commands, problems);
        if (call === undefined || call.name === '') continue;
        calls.push(`cconv ${call.name}`);
        checkCall(call, state, problems);
      }
    }
  }
  return { problems, calls };
}

/** Lines that run the unrelated npm package `cconv`: through npx, or installed by its bare name. */
export function foreignCconv(text: string): string[] {
  return text.split('\n').filter((l) => /\bnpx\b[^\n]*?(?<![\w@/.-])cconv(?![\w.-])/.test(l) || /\bnpm\s+(install|i|add)\b[^\n]*?(?<![\w@/.-])cconv(?![\w./-])/.test(l));
}
