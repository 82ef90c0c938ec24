/** float64 references for embedding and embeddingBackward (written from native/cpp/ops/embedding.h). */

/** rows of table [V, D] for tokens [N] -> [N, D] */
export function embeddingRef(table: ArrayLike<number>, tokens: ArrayLike<number | bigint>, D: number): Float64Array {
  const y = new Float64Array(tokens.length * D);
  for (let i = 0; i < tokens.length; i++) for (let d = 0; d < D; d++) y[i * D + d] = table[Number(tokens[i]) * D + d]!;
  return y;
}

/** dTable [V, D] = init (or 0) + sum over rows i with tokens[i] == v of dy[i] */
export function embeddingBackwardRef(dy: ArrayLike<number>, tokens: ArrayLike<number | bigint>, V: number, D: number, init?: ArrayLike<number>): Float64Array {
  const g = init ? Float64Array.from(init) : new Float64Array(V * D);
  for (let i = 0; i < tokens.length; i++) for (let d = 0; d < D; d++) g[Number(tokens[i]) * D + d]! += dy[i * D + d]!;
  return g;
}
