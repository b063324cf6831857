import type { Command } from 'commander';

/**
 * Registers a command on `program`. `words` are the command-line words after
 * the command's name: a command with subcommands may load only the one they
 * name (see registerNeeded).
 */
export type Register = (program: Command, words: readonly string[]) => void | Promise<void>;

/** A command by name and how to load the module that registers it. */
export interface CommandEntry {
  name: string;
  load: () => Promise<Register>;
}

/**
 * Every top-level command, in help order. A new command is one file in
 * commands/ exporting `register(program)` plus a line here. Modules load
 * when their command runs (or for the full help), so a command's start-up
 * does not pay for every other command's imports.
 */
export const commands: CommandEntry[] = [
  { name: 'demo', load: async () => (await import('./commands/demo.js')).registerDemo },
  { name: 'info', load: async () => (await import('./commands/info.js')).registerInfo },
  { name: 'poison', load: async () => (await import('./commands/poison.js')).registerPoison },
  { name: 'shift', load: async () => (await import('./commands/shift.js')).registerShift },
  { name: 'eval', load: async () => (await import('./commands/eval.js')).registerEval },
  { name: 'model', load: async () => (await import('./commands/model.js')).registerModel },
  { name: 'inspect', load: async () => (await import('./commands/inspect.js')).registerInspect },
  { name: 'generate', load: async () => (await import('./commands/generate.js')).registerGenerate },
  { name: 'train', load: async () => (await import('./commands/train.js')).registerTrain },
  { name: 'run', load: async () => (await import('./commands/run.js')).registerRun },
  { name: 'report', load: async () => (await import('./commands/report.js')).registerReport },
  { name: 'defend', load: async () => (await import('./commands/defend.js')).registerDefend },
  { name: 'detect', load: async () => (await import('./commands/detect.js')).registerDetect },
  { name: 'attack', load: async () => (await import('./commands/attack.js')).registerAttack },
  { name: 'world', load: async () => (await import('./commands/world.js')).registerWorld },
  { name: 'study', load: async () => (await import('./commands/study.js')).registerStudy },
];

/**
 * Registers the entries `words[0]` needs on `parent`: only the one it names,
 * or all of them (help, a flag, a typo: the full list is what the answer
 * needs). The registered command gets the words after its name.
 */
export async function registerNeeded(parent: Command, entries: readonly CommandEntry[], words: readonly string[]): Promise<void> {
  const named = entries.find((e) => e.name === words[0]);
  const chosen = named ? [named] : entries;
  // loaded concurrently, registered in list order (the help order)
  const registers = await Promise.all(chosen.map((e) => e.load()));
  for (const register of registers) await register(parent, named ? words.slice(1) : []);
}
