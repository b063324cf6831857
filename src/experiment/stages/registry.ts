import type { AnyStageKind, Json, StageKind } from './types.js';

/**
 * Stage kinds by name. Each kind is one file in this folder that registers
 * itself; stages/index.ts imports them all. A spec may name stages this build
 * lacks (a defense or evaluation from a later release): the plan keeps them,
 * `--dry-run` marks them "not available in this build", and a run refuses to
 * start unless told to skip them.
 */
const kinds = new Map<string, AnyStageKind>();

export function registerStage<P, O extends Json>(s: StageKind<P, O>): StageKind<P, O> {
  if (s.kind !== s.kind.toLowerCase()) throw new Error(`stage kinds are lower case: ${s.kind}`);
  if (kinds.has(s.kind)) throw new Error(`stage kind ${s.kind} registered twice`);
  kinds.set(s.kind, s as unknown as AnyStageKind);
  return s;
}

export function stageKind(kind: string): AnyStageKind | undefined {
  return kinds.get(kind);
}

export function stageKinds(): string[] {
  return [...kinds.keys()].sort();
}
