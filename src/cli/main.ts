import { Command, CommanderError, Help, type Option } from './commander.js';
import { commands, registerNeeded } from './registry.js';
import { reasonOf } from './output.js';

/**
 * Builds the `bdlab` program; each command registers itself from
 * src/cli/commands/. Given the command line, only the command it names is
 * loaded; without one, every command.
 */
export async function program(argv: readonly string[] = []): Promise<Command> {
  const p = new Command('bdlab')
    .description('backdoor-lab: poison instruction data, train victims, measure and remove backdoors in LLMs and VLMs')
    .version('0.1.0')
    // usage errors are one line, like every other failure (design.md); subcommands inherit this
    .configureOutput({ outputError: (msg, write) => write(`bdlab: ${msg.trim().replace(/^error: /, '')} (see --help)\n`) })
    .configureHelp({
      // a list flag's empty start value means "none given", not a default worth printing
      optionDescription(this: Help, option: Option): string {
        return Help.prototype.optionDescription.call(this, option).replace(/ \(default: \[\]\)$/, '');
      },
    })
    .exitOverride();
  await registerNeeded(p, commands, argv);
  return p;
}

/**
 * The first leading word that names no command where one is expected, or null.
 * Commander answers `bdlab nosuch --help` with the top-level help and exit 0;
 * a typo must be an error whatever flags follow it.
 */
function unknownCommand(p: Command, argv: readonly string[]): string | null {
  let cmd = p;
  for (const word of argv) {
    if (word.startsWith('-')) return null;
    if (cmd.commands.length === 0) return null;
    const next = cmd.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (!next) return cmd === p ? `unknown command '${word}'` : `unknown command '${cmd.name()} ${word}'`;
    cmd = next;
  }
  return null;
}

/** Runs the command line and returns the exit code; failures print one line on stderr. */
export async function main(argv: string[]): Promise<number> {
  const p = await program(argv);
  const unknown = unknownCommand(p, argv);
  if (unknown) {
    process.stderr.write(`bdlab: ${unknown} (see bdlab --help)\n`);
    return 1;
  }
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
