/** General tensor ops (namespace `ops`). */
export { logSumExp, logSumExpAsync, type LogSumExpOptions } from '../ops/log_sum_exp';
export { linear, linearAsync, type LinearOptions } from '../ops/linear';
