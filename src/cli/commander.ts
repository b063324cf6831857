/**
 * commander, loaded with require(). It is a CommonJS package: imported as an
 * ES module it goes through Node's ES-module wrapper, which first scans the
 * package's source for its export names; require() skips that, about 5 ms of
 * every command's start-up. Types come from the package as usual.
 */
import { createRequire } from 'node:module';
import type * as commander from 'commander';

const loaded = createRequire(import.meta.url)('commander') as typeof commander;

export const Command = loaded.Command;
export type Command = commander.Command;
export const CommanderError = loaded.CommanderError;
export type CommanderError = commander.CommanderError;
export const Help = loaded.Help;
export type Help = commander.Help;
export const Option = loaded.Option;
export type Option = commander.Option;
