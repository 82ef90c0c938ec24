/** What this process can run on: CPU SIMD level and threads, CUDA devices, or why not. */
import { envDevice, warn } from './env';
import { MmprefError } from './errors';
import { addonPath, native, type NativeBackendInfo } from './native';

export interface CudaDevice {
  index: number;
  name: string;
  computeCapability: string;
  totalMemory: number;
  multiProcessors: number;
}

export interface BackendReport {
  /** Package version. */
  version: string;
  /** Path of the loaded native binary. */
  addon: string;
  /** Where ops on new tensors run by default ('cuda' when available, unless MMPREF_DEVICE=cpu). */
  defaultDevice: 'cpu' | 'cuda';
  cpu: { threads: number; simd: string };
  cuda: {
    compiled: boolean;
    available: boolean;
    /** Why CUDA is unavailable, in words (null when available). */
    reason: string | null;
    runtimeVersion: string | null;
    driverVersion: string | null;
    devices: CudaDevice[];
  };
}

const envDeviceChoice = envDevice();
const forcedCpu = envDeviceChoice === 'cpu';
let cached: NativeBackendInfo | undefined;

function info(): NativeBackendInfo {
  cached ??= native.backendInfo();
  return cached;
}

function cudaVersion(v: number): string | null {
  return v ? `${Math.floor(v / 1000)}.${Math.floor((v % 1000) / 10)}` : null;
}

if (envDeviceChoice === 'cuda' && !info().cuda.available)
  warn(`MMPREF_DEVICE=cuda but CUDA is not available (${info().cuda.reason ?? 'unknown'}); using the cpu`);

/** True when CUDA tensors can be created (compiled in, driver and device present, not forced off). */
export function cudaAvailable(): boolean {
  return !forcedCpu && info().cuda.available;
}

/** Why CUDA cannot be used, in words; null when it can. */
export function cudaUnavailableReason(): string | null {
  if (forcedCpu) return 'disabled by MMPREF_DEVICE=cpu';
  const i = info();
  return i.cuda.available ? null : i.cuda.reason ?? 'unknown';
}

/** The backend report (`mmpref info` prints it). */
export function backend(): BackendReport {
  const i = info();
  return {
    version: i.version,
    addon: addonPath,
    defaultDevice: cudaAvailable() ? 'cuda' : 'cpu',
    cpu: { threads: native.numThreads(), simd: i.cpu.simd },
    cuda: {
      compiled: i.compiledWithCuda,
      available: cudaAvailable(),
      reason: cudaUnavailableReason(),
      runtimeVersion: cudaVersion(i.cuda.runtimeVersion),
      driverVersion: cudaVersion(i.cuda.driverVersion),
      devices: forcedCpu ? [] : i.cuda.devices,
    },
  };
}

/** Size of the shared CPU thread pool (initially MMPREF_NUM_THREADS or the usable CPUs). */
export function numThreads(): number {
  return native.numThreads();
}

/** Resizes the shared CPU thread pool; results of every op are identical for any size. */
export function setNumThreads(n: number): number {
  return native.setNumThreads(n);
}

export interface CudaMemoryInfo {
  /** free device memory reported by the driver, bytes */
  free: number;
  total: number;
  /** bytes held by live mmpref tensors (rounded to the allocator's size classes) */
  allocated: number;
  /** bytes mmpref's caching allocator keeps for reuse */
  cached: number;
}

/** Memory of a CUDA device, including mmpref's caching allocator (ERR_DEVICE without CUDA). */
export function cudaMemoryInfo(device = 0): CudaMemoryInfo {
  if (!cudaAvailable() || !native.deviceMemInfo) throw new MmprefError(`cudaMemoryInfo: CUDA is not available: ${cudaUnavailableReason()}`, 'ERR_DEVICE');
  return native.deviceMemInfo(device);
}

/** Returns the CUDA memory that mmpref's caching allocator keeps for reuse to the driver. */
export function emptyCudaCache(): void {
  if (cudaAvailable()) native.deviceEmptyCache?.();
}
