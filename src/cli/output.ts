import { UserError } from '../util/errors.js';

/** Prints the command's result: exactly one JSON object on stdout with --json, else readable text. */
export function emit(json: boolean, value: object, human: () => string): void {
  if (json) process.stdout.write(JSON.stringify(value) + '\n');
  else process.stdout.write(human() + '\n');
}

/** The one-line reason printed on stderr when a command fails. */
export function reasonOf(e: unknown): string {
  if (e instanceof UserError) return e.message;
  const sys = systemReason(e);
  if (sys) return sys;
  if (e instanceof Error) return e.message.split('\n')[0] ?? String(e);
  return String(e);
}

const SYSTEM_REASONS: Record<string, string> = {
  ENOENT: 'no such file or folder',
  EISDIR: 'is a folder, not a file',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EEXIST: 'already exists',
  ENOSPC: 'no space left on the device',
  EROFS: 'read-only file system',
};

/** A file-system error in words, naming the path ("out/x: a part of the path is a file, not a folder"). */
function systemReason(e: unknown): string | null {
  if (!(e instanceof Error)) return null;
  const { code, path, syscall } = e as NodeJS.ErrnoException;
  const why = code ? SYSTEM_REASONS[code] : undefined;
  if (!why) return null;
  return `${path ?? '(file)'}: ${why}${syscall ? ` (${syscall})` : ''}`;
}
