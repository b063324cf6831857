import { Command, CommanderError } from 'commander';
import { commands } from './registry.js';
import { reasonOf } from './output.js';

/** Builds the `bdlab` program; each command registers itself from src/cli/commands/. */
export function program(): Command {
  const p = new Command('bdlab')
    .description('backdoor-lab: poison instruction data, train victims, measure and remove backdoors in LLMs and VLMs')
    .version('0.1.0')
    // usage errors are one line, like every other failure (design.md); subcommands inherit this
    .configureOutput({ outputError: (msg, write) => write(`bdlab: ${msg.trim().replace(/^error: /, '')} (see --help)\n`) })
    .exitOverride();
  for (const register of commands) register(p);
  return p;
}

/** Runs the command line and returns the exit code; failures print one line on stderr. */
export async function main(argv: string[]): Promise<number> {
  const p = program();
  try {
    await p.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // commander already printed help or its own message
      return e.exitCode;
    }
    process.stderr.write(`bdlab: ${reasonOf(e)}\n`);
    if (process.env.BDLAB_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    return 1;
  }
}
