// The tensor engine: a TypeScript API over libtorch (see docs/engine.md).
export { Tensor, isDevice, callOp, type Device, type Shape, type Dims, type TensorOrScalar, type ValuesIndices } from './tensor.js';
export { DTYPES, ITEM_SIZE, isFloating, type DType } from './dtype.js';
export { scope, keep } from './scope.js';
export * from './creation.js';
export * from './functional.js';
export { grad, noGrad, enableGrad, isGradEnabled, type GradOptions } from './autograd.js';
export { manualSeed } from './random.js';
export { setNumThreads, getNumThreads, cudaAvailable, cudaDeviceCount, defaultDevice, resolveDevice, synchronize, memoryStats, libtorchVersion, type MemoryStats } from './runtime.js';
export * from './safetensors.js';
export * as optim from './optim/index.js';
