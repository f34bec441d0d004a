/**
 * `execute` and stop signals, with a fake SignalIo (the real ones: test/integration/interrupt.test.ts):
 * a cancellable command's reporter carries a signal that the first SIGINT/SIGTERM/SIGHUP aborts; a
 * failure after it is E_ABORTED with status 128+N (also in the --json error); the same signal
 * again exits at once, another kind does not; a run that succeeds anyway exits 0 and says so;
 * the handlers go when the command ends; other commands never trap (signals keep their defaults).
 */
import test from 'ava';
import type { CliIo, SignalIo } from '../../src/cli/command.ts';
import { execute } from '../../src/cli/command.ts';
import type { StopSignal } from '../../src/cli/exit.ts';
import { CconvError } from '../../src/errors.ts';
import { runTask, type Reporter } from '../../src/progress.ts';

/** A SignalIo whose signals the test sends; `exit` records the status and throws (a real one never returns). */
function fakeSignals() {
  let handler: ((s: StopSignal) => void) | undefined;
  const state = { traps: 0, untraps: 0, exited: undefined as number | undefined };
  const signals: SignalIo = {
    trap(onSignal) {
      state.traps++;
      handler = onSignal;
      return () => {
        state.untraps++;
        handler = undefined;
      };
    },
    exit(status) {
      state.exited = status;
      throw new Error(`exit ${status}`);
    },
  };
  const send = (s: StopSignal): void => {
    if (handler === undefined) throw new Error('no handler installed');
    handler(s);
  };
  return { signals, send, state };
}

function capture(signals: SignalIo) {
  const out = { stdout: '', stderr: '' };
  const io: CliIo = {
    stdout: (s) => void (out.stdout += s),
    stderr: (s) => void (out.stderr += s),
    isTTY: false,
    env: { CI: 'true' },
    readStdin: async () => Buffer.alloc(0),
    signals,
  };
  return { io, out };
}

const args = (json = false) => ({ json, quiet: false, verbose: false });

/** A command whose run waits in task `work` until its signal aborts, then fails the way stopped work does. */
function waitingCommand(onStart: (report: Reporter) => void, cancellable = true) {
  return {
    command: 'x',
    describe: 'x',
    builder: (y: never) => y,
    cancellable,
    run: (_a: unknown, report: Reporter) =>
      runTask(report, 'work', 'Working', () => new Promise<never>((_resolve, reject) => {
        report.signal?.addEventListener('abort', () => reject(new CconvError('E_IO', 'a stream was destroyed')));
        onStart(report);
      })),
    human: () => '',
  };
}

test('SIGTERM aborts the reporter\'s signal; the failure it causes is E_ABORTED, exit 143, in the --json error too; the handlers go', async (t) => {
  const { signals, send, state } = fakeSignals();
  const { io, out } = capture(signals);
  let seen: AbortSignal | undefined;
  const status = await execute(waitingCommand((report) => {
    seen = report.signal;
    send('SIGTERM');
  }) as never, args(true) as never, io);
  t.is(status, 143);
  t.true(seen?.aborted);
  const error = (JSON.parse(out.stdout) as { error: { code: string; message: string; exitStatus: number } }).error;
  t.deepEqual(error, { code: 'E_ABORTED', message: 'interrupted by SIGTERM', hint: 'what this run had written was removed', exitStatus: 143 });
  t.regex(out.stderr, /cconv: warning: SIGTERM: stopping, and removing what this run wrote/);
  t.regex(out.stderr, /cconv: error E_ABORTED: interrupted by SIGTERM\n/);
  t.deepEqual({ traps: state.traps, untraps: state.untraps, exited: state.exited }, { traps: 1, untraps: 1, exited: undefined });
});

test('SIGINT gives 130 and SIGHUP 129; with --verbose the error the abort surfaced as is the cause', async (t) => {
  for (const [signal, expected] of [['SIGINT', 130], ['SIGHUP', 129]] as const) {
    const { signals, send } = fakeSignals();
    const { io, out } = capture(signals);
    const status = await execute(waitingCommand(() => send(signal)) as never, { ...args(), verbose: true } as never, io);
    t.is(status, expected);
    t.regex(out.stderr, new RegExp(`cconv: error E_ABORTED: interrupted by ${signal}\\n`));
    t.regex(out.stderr, /cause: CconvError: a stream was destroyed/);
  }
});

test('the same signal again exits at once with 128+N; another kind while stopping does not', async (t) => {
  const { signals, send, state } = fakeSignals();
  const { io, out } = capture(signals);
  const spec = {
    ...waitingCommand(() => {}),
    run: (_a: unknown, report: Reporter) =>
      runTask(report, 'work', 'Working', async () => {
        send('SIGINT');
        send('SIGTERM'); // ignored: already stopping
        t.is(state.exited, undefined);
        t.throws(() => send('SIGINT'), { message: 'exit 130' });
        throw new CconvError('E_IO', 'stopped');
      }),
  };
  await execute(spec as never, args() as never, io);
  t.is(state.exited, 130);
  t.regex(out.stderr, /cconv: SIGINT again: quitting now/);
});

test('a run that completes after the signal exits 0 with its result, and says the signal came too late', async (t) => {
  const { signals, send } = fakeSignals();
  const { io, out } = capture(signals);
  const spec = { ...waitingCommand(() => {}), run: async () => (send('SIGINT'), { done: true }), human: () => 'done' };
  t.is(await execute(spec as never, args() as never, io), 0);
  t.is(out.stdout, 'done\n');
  t.regex(out.stderr, /the SIGINT came after the work was done: it was kept/);
});

test('a command that is not cancellable installs no handlers and its reporter carries no signal', async (t) => {
  const { signals, state } = fakeSignals();
  const { io } = capture(signals);
  let carried: AbortSignal | undefined;
  const spec = { ...waitingCommand(() => {}, false), run: async (_a: unknown, report: Reporter) => ((carried = report.signal), 1), human: () => '' };
  t.is(await execute(spec as never, args() as never, io), 0);
  t.is(state.traps, 0);
  t.is(carried, undefined);
});

test('runTask does not start a task once the reporter\'s signal is aborted', async (t) => {
  const stop = new AbortController();
  const events: string[] = [];
  const report: Reporter = Object.assign((e: { type: string }) => void events.push(e.type), { signal: stop.signal });
  stop.abort(new CconvError('E_ABORTED', 'interrupted by SIGINT'));
  let ran = false;
  await t.throwsAsync(runTask(report, 'x', 'X', async () => void (ran = true)), { code: 'E_ABORTED', message: 'interrupted by SIGINT' } as never);
  t.false(ran);
  t.deepEqual(events, []);
});
