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
      const info = {
        libtorch: T.libtorchVersion(),
        threads: T.getNumThreads(),
        cuda: T.cudaAvailable(),
        cuda_devices: T.cudaDeviceCount(),
        default_device: T.defaultDevice(),
      };
      emit(Boolean(o.json), info, () =>
        [
          `libtorch  ${info.libtorch}`,
          `threads   ${info.threads}`,
          `cuda      ${info.cuda ? `yes (${info.cuda_devices} device${info.cuda_devices === 1 ? '' : 's'})` : 'no'}`,
          `device    ${info.default_device}`,
        ].join('\n'),
      );
    });
}
