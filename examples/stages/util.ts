/** Small helpers for demo stages. */
export function ms(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

export function section(title: string): void {
  console.log(`\n== ${title}`);
}

/** Runs fn and returns [result, milliseconds]. */
export async function timed<T>(fn: () => T | Promise<T>): Promise<[T, number]> {
  const t0 = process.hrtime.bigint();
  const r = await fn();
  return [r, ms(t0)];
}
