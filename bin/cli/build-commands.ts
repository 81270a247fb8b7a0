import type { Command } from 'commander';
import type { GlobalOptions } from './context.ts';

export function registerBuildCommands(
  _program: Command,
  _globals: () => GlobalOptions,
  _action: <A extends unknown[]>(fn: (...args: A) => Promise<number | undefined>) => (...args: A) => Promise<void>,
): void {}
