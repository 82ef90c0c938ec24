/**
 * Loads the addon and types its raw surface. Only lib/ops/* and lib core files call it.
 *
 * Resolution (node-gyp-build): build/Release, build/Debug, then prebuilds/<platform>-<arch>/.
 * MMPREF_ADDON_PATH overrides it (the sanitizer build in build-asan/ uses this).
 * Each op file types its own entry points by augmenting {@link NativeAddon}
 * (`declare module '../native' { interface NativeAddon { ... } }`), next to its wrapper.
 */
import fs from 'node:fs';
import path from 'node:path';
import { envThreads } from './env';
import { MmprefError } from './errors';

/** Opaque CUDA memory handle (a type-tagged native External). */
export type DeviceStore = { readonly __deviceStore: unique symbol };

export interface NativeBackendInfo {
  version: string;
  compiledWithCuda: boolean;
  cpu: { threads: number; simd: string };
  cuda: {
    available: boolean;
    reason: string | null;
    runtimeVersion: number;
    driverVersion: number;
    devices: { index: number; name: string; computeCapability: string; totalMemory: number; multiProcessors: number }[];
  };
}

export interface NativeAddon {
  init(errorCtor: typeof MmprefError): void;
  backendInfo(): NativeBackendInfo;
  setNumThreads(n: number): number;
  numThreads(): number;
  deviceFree(store: DeviceStore): void;
  deviceAlloc?(device: number, bytes: number): DeviceStore;
  copyHostToDevice?(dst: DeviceStore, src: ArrayBufferView): void;
  copyDeviceToHost?(dst: ArrayBufferView, src: DeviceStore): void;
  /** The whole buffer, or `bytes` from srcOffset to dstOffset (disjoint ranges of one buffer). */
  copyDeviceToDevice?(dst: DeviceStore, src: DeviceStore, dstOffset?: number, srcOffset?: number, bytes?: number): void;
  /** The whole buffer, or `bytes` from `offset`. */
  deviceMemset?(dst: DeviceStore, byte: number, offset?: number, bytes?: number): void;
  deviceMemInfo?(device: number): { free: number; total: number; allocated: number; cached: number };
  deviceEmptyCache?(): void;
}

/** The package root (holds package.json): works from lib/ (tests) and dist/lib/ (published). */
export function packageRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj)) {
      try {
        if (JSON.parse(fs.readFileSync(pj, 'utf8')).name === 'mmpref') return dir;
      } catch {
        /* keep looking */
      }
    }
    dir = path.dirname(dir);
  }
  return path.join(__dirname, '..');
}

function load(): { addon: NativeAddon; path: string } {
  const tried: string[] = [];
  const override = process.env.MMPREF_ADDON_PATH;
  if (override) {
    const p = path.resolve(override);
    try {
      return { addon: require(p) as NativeAddon, path: p };
    } catch (e) {
      tried.push(`${p} (MMPREF_ADDON_PATH): ${(e as Error).message}`);
    }
  } else {
    const root = packageRoot();
    try {
      const ngb = require('node-gyp-build') as ((dir: string) => unknown) & { resolve(dir: string): string };
      const p = ngb.resolve(root);
      return { addon: require(p) as NativeAddon, path: p };
    } catch (e) {
      tried.push(`node-gyp-build in ${root} (build/Release, build/Debug, prebuilds/${process.platform}-${process.arch}): ${(e as Error).message.split('\n')[0]}`);
    }
  }
  throw new MmprefError(
    [
      'mmpref: could not load the native addon.',
      ...tried.map((t) => `  tried ${t}`),
      `This is ${process.platform}-${process.arch}, ${libcDescription()}, Node ${process.versions.node}. ` +
        'Prebuilt binaries ship for linux-x64 and linux-arm64 with glibc >= 2.28.',
      'Possible solutions:',
      '  - build from source inside the installed package: npx mmpref-build-native (add --cpu to skip CUDA;',
      '    needs a C++17 compiler and CMake >= 3.19, or Python 3 for node-gyp)',
      '  - in a checkout: npm run build:native (CUDA when nvcc is found) or npm run build:native:cpu',
    ].join('\n'),
    'ERR_DEVICE',
  );
}

/** "glibc 2.36", "musl or another libc", for the load error. */
function libcDescription(): string {
  if (process.platform !== 'linux') return 'not Linux';
  try {
    const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
    return header?.glibcVersionRuntime ? `glibc ${header.glibcVersionRuntime}` : 'musl or another non-glibc libc';
  } catch {
    return 'unknown libc';
  }
}

const loaded = load();
loaded.addon.init(MmprefError);
{
  // The native pool read MMPREF_NUM_THREADS leniently at load; apply the strict reading (lib/env.ts).
  const threads = envThreads();
  if (threads !== undefined && threads !== loaded.addon.numThreads()) loaded.addon.setNumThreads(threads);
}

/** The raw binding. */
export const native: NativeAddon = loaded.addon;
/** Absolute path of the loaded .node file. */
export const addonPath: string = loaded.path;

/**
 * Awaits a native promise and, on failure, gives the error the caller's stack (native rejections
 * come from the event loop and carry none).
 */
export async function withCallerStack<T>(p: Promise<T>, stack: string | undefined): Promise<T> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof Error && stack) e.stack = `${e.name}: ${e.message}\n${stack.split('\n').slice(2).join('\n')}`;
    throw e;
  }
}
