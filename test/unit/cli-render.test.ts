/**
 * The TTY renderer (listr2) driven directly with a fake terminal: event orders the Reporter
 * contract allows and some it does not (advance after done, an id started twice, events of ids that
 * never started, interleaved and nested tasks, log lines anywhere, fail) never throw, never write
 * once the list has ended, and the final screen shows every stage's title. Issue 15: listr2 throws
 * on `task.output =` once a task has finished, which `build` hit in every terminal.
 */
import test from 'ava';
import { createRenderer, type Stage } from '../../src/cli/render.ts';
import type { ProgressEvent, Reporter } from '../../src/progress.ts';

const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;
const TERMINAL = { columns: 100, rows: 40 };
const STAGES: Stage[] = [
  { id: 'read', title: 'Reading the image' },
  { id: 'measure', title: 'Measuring the enclave' },
  { id: 'sign', title: 'Signing it' },
  { id: 'write', title: 'Writing the image' },
];

/** Lets listr2 render (it redraws on every task state change and on a 100 ms spinner). */
const tick = (ms = 15) => new Promise((resolve) => setTimeout(resolve, ms));

/** A fake TTY on stderr: collects what is written; `screen()` is the text without ANSI codes. */
function fakeTerminal() {
  const chunks: string[] = [];
  return { write: (t: string) => void chunks.push(t), chunks, screen: () => chunks.join('').replace(ANSI, '') };
}

/**
 * Runs `events` through a TTY renderer once the list is on screen, pausing at each 'tick'; `fail`
 * makes the work throw at the end. Returns the terminal and the reporter, which the test then calls after the end.
 */
async function drive(events: Array<ProgressEvent | 'tick'>, fail?: Error) {
  const term = fakeTerminal();
  const renderer = createRenderer('tty', STAGES, term.write, false, TERMINAL);
  const work = async (report: Reporter) => {
    while (!term.screen().includes(STAGES[0]!.title)) await tick(5); // listr2 is loaded and drawing
    for (const e of events) {
      if (e === 'tick') await tick();
      else report(e);
    }
    await tick();
    if (fail) throw fail;
    return 'result';
  };
  return { term, renderer, outcome: renderer.run(work) };
}

const start = (id: string, title = `task ${id}`, total?: number): ProgressEvent => (total === undefined ? { type: 'start', id, title } : { type: 'start', id, title, total });
const advance = (id: string, amount = 1024): ProgressEvent => ({ type: 'advance', id, amount });
const done = (id: string, summary?: string): ProgressEvent => (summary ? { type: 'done', id, summary } : { type: 'done', id });
const log = (message: string, level: 'info' | 'warn' = 'info'): ProgressEvent => ({ type: 'log', level, message });

/** Every stage title shows on the final screen, checked off (✔) or for `failed` crossed (✖). */
function assertTitles(t: import('ava').ExecutionContext, screen: string, failed?: string) {
  const last = screen.slice(screen.lastIndexOf(STAGES[0]!.title) - 2);
  for (const s of STAGES) t.true(screen.includes(s.title), `${s.title} missing from:\n${screen}`);
  if (failed) t.regex(last, new RegExp(`✖ ${failed}`));
  else for (const s of STAGES) t.regex(last, new RegExp(`✔ ${s.title}`), last);
}

/** After the run, events write nothing; log lines still go out. */
function assertQuietAfterEnd(t: import('ava').ExecutionContext, term: ReturnType<typeof fakeTerminal>, report: Reporter) {
  const before = term.chunks.length;
  for (const e of [start('late'), advance('late'), done('late'), advance('read'), start('read'), done('read'), { type: 'fail', id: 'write', error: new Error('late') } as ProgressEvent]) {
    t.notThrows(() => report(e));
  }
  t.is(term.chunks.length, before, 'no write after the list ended');
  report(log('after the end'));
  t.is(term.chunks.slice(before).join(''), 'cconv: after the end\n');
}

test('the same stage id started twice after done (build: runtime image, then source image)', async (t) => {
  const { term, renderer, outcome } = await drive([
    start('read', 'Flatten root filesystem'), 'tick', advance('read'), done('read'), 'tick', 'tick',
    log('the runtime image says nothing', 'warn'), 'tick',
    start('read', 'Flatten root filesystem'), 'tick', advance('read', 4 << 20), 'tick', done('read'), 'tick',
    start('measure', 'Measuring'), 'tick', done('measure'), 'tick', 'tick',
    start('write', 'Writing'), advance('write'), 'tick', done('write', '3 blobs'),
  ]);
  t.is(await outcome, 'result');
  const screen = term.screen();
  assertTitles(t, screen);
  t.true(screen.includes('Writing the image (3 blobs)'));
  t.is(screen.split('cconv: warning: the runtime image says nothing').length, 2, 'the warning is written once, after the list');
  t.true(screen.lastIndexOf('✔ Writing the image') < screen.indexOf('cconv: warning'));
  assertQuietAfterEnd(t, term, renderer.report);
});

test('done before advance, advance after done, events of ids that never started', async (t) => {
  const { term, renderer, outcome } = await drive([
    done('nobody'), advance('nobody'), 'tick',
    start('read', 'Reading', 10), done('read'), advance('read'), 'tick', advance('read'), 'tick', 'tick', advance('read'),
    done('measure'), advance('measure'), 'tick', start('measure'), 'tick', advance('measure'), done('measure'), done('measure'), 'tick',
    { type: 'fail', id: 'ghost', error: new Error('not a task') }, 'tick',
  ]);
  t.is(await outcome, 'result');
  assertTitles(t, term.screen());
  assertQuietAfterEnd(t, term, renderer.report);
});

test('two stages interleaved, nested tasks and log lines during and between tasks', async (t) => {
  const { term, renderer, outcome } = await drive([
    start('read'), log('during read'), 'tick', start('measure'), advance('read'), 'tick', advance('measure'),
    start('copy:a', 'Copying blob a', 2048), 'tick', advance('copy:a'), start('copy:b', 'Copying blob b'), 'tick',
    done('measure'), 'tick', advance('copy:b'), advance('read'), 'tick', done('copy:a'), done('read'), 'tick',
    log('between tasks'), 'tick', 'tick', done('copy:b'), 'tick',
    start('write'), start('sign'), 'tick', log('during write', 'warn'), advance('write'), done('sign'), 'tick', done('write'),
  ]);
  t.is(await outcome, 'result');
  const screen = term.screen();
  assertTitles(t, screen);
  for (const line of ['cconv: during read', 'cconv: between tasks', 'cconv: warning: during write']) t.true(screen.includes(line), line);
  assertQuietAfterEnd(t, term, renderer.report);
});

test('a stage that fails: the run rejects with the work error and the list shows which stage', async (t) => {
  const error = new Error('the signer said no');
  const { term, renderer, outcome } = await drive(
    [start('read'), 'tick', done('read'), 'tick', start('measure'), 'tick', { type: 'fail', id: 'measure', error }, 'tick', advance('measure'), start('write'), advance('write'), log('cleaning up')],
    error,
  );
  t.is(await t.throwsAsync(outcome), error);
  const screen = term.screen();
  assertTitles(t, screen, 'Measuring the enclave');
  t.true(screen.includes('✔ Reading the image'));
  t.true(screen.includes('cconv: cleaning up'));
  assertQuietAfterEnd(t, term, renderer.report);
});

test('work that throws without a fail event fails the stage at work; done stages stay done', async (t) => {
  const error = new Error('disk full');
  const { term, outcome } = await drive([start('read'), 'tick', done('read'), start('measure'), advance('measure'), done('measure'), 'tick'], error);
  t.is(await t.throwsAsync(outcome), error);
  const screen = term.screen();
  assertTitles(t, screen, 'Signing it');
  t.true(screen.includes('✔ Measuring the enclave'));
});

test('work that ends before listr2 has drawn anything, and work with no events at all', async (t) => {
  for (const events of [[start('read'), done('read'), start('write'), advance('write'), done('write')], []]) {
    const term = fakeTerminal();
    const renderer = createRenderer('tty', STAGES, term.write, false, TERMINAL);
    t.is(await renderer.run(async (report) => (events.forEach((e) => report(e)), 7)), 7);
    assertTitles(t, term.screen());
  }
});

test('a terminal that reports no width gets plain lines', async (t) => {
  const term = fakeTerminal();
  const renderer = createRenderer('tty', STAGES, term.write, false, { columns: 0, rows: 0 });
  await renderer.run(async (report) => {
    report(start('read', 'Reading'));
    report(done('read'));
  });
  t.regex(term.screen(), /^\[cconv\] Reading\.\.\.\n\[cconv\] Reading: done in [\d.]+s\n$/);
});
