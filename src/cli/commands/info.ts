import type { Command } from 'commander';
import { emit } from '../output.js';

/** `bdlab info`: the engine's libtorch, threads and devices. */
export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('show the tensor engine: libtorch version, threads, CUDA devices')
    .option('--json', 'print one JSON object')
    .action(async (o: { json?: boolean }) => {
      const T = await import('../../engine/index.js');
      const native = (await import('../../engine/native.js')).native();
      const info = {
        libtorch: T.libtorchVersion(),
        threads: T.getNumThreads(),
        cuda: T.cudaAvailable(),
        cudaDevices: native.cudaDeviceCount(),
        defaultDevice: T.defaultDevice(),
      };
      emit(Boolean(o.json), info, () =>
        [
          `libtorch  ${info.libtorch}`,
          `threads   ${info.threads}`,
          `cuda      ${info.cuda ? `yes (${info.cudaDevices} device${info.cudaDevices === 1 ? '' : 's'})` : 'no'}`,
          `device    ${info.defaultDevice}`,
        ].join('\n'),
      );
    });
}
