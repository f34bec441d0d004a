/**
 * What `cconv --help` lists: every command's name, description and options, without the code that
 * runs it (each usage's `load` imports that). Importing this loads no part of the library.
 */
import type { CommandGroup, CommandUsage } from '../main.ts';
import { attestUsage } from './attest.ts';
import { buildUsage } from './build.ts';
import { copyUsage } from './copy.ts';
import { gramineUsage } from './gramine-sign.ts';
import { inspectUsage } from './inspect.ts';
import { kbsUsage } from './kbs.ts';
import { keygenUsage } from './keygen.ts';
import { keysUsage } from './keys.ts';
import { measureUsage } from './measure.ts';
import { pfUsage } from './pf.ts';
import { policyUsage } from './policy.ts';
import { signUsage } from './sign.ts';
import { sigstructUsage } from './sigstruct.ts';
import { verifyUsage } from './verify.ts';

/** Every command, in the order `--help` lists them. */
export const COMMANDS: Array<CommandUsage | CommandGroup> = [buildUsage, verifyUsage, inspectUsage, copyUsage, measureUsage, signUsage, gramineUsage, sigstructUsage, keygenUsage, pfUsage, keysUsage, policyUsage, attestUsage, kbsUsage];
