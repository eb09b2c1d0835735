import type { Command } from '../command';
import { sampleDataCommand } from './sample-data';

/**
 * Every `fgl` command, in the order `fgl --help` lists them. Each lives in its own file in this
 * folder and is registered here, the one place the CLI learns about it.
 */
export const commands: readonly Command[] = [sampleDataCommand];
