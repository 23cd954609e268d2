/**
 * Commands load the parts they drive only when one of them runs: `truc --help` and a command's `--help`
 * then read nothing but the commander definitions, and `truc verify` does not pay for the lab register or
 * the HTTP server. A command module keeps its definitions cheap (static imports of types and small
 * modules only) and names, with `loadBefore`, what its actions need.
 */
import type { Command } from 'commander';

/** Runs `load` once, before the action of `cmd` or of any command under it. */
export function loadBefore(cmd: Command, load: () => Promise<void>): Command {
  let loaded: Promise<void> | undefined;
  return cmd.hook('preAction', () => (loaded ??= load()));
}
