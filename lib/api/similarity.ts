/** Namespace `similarity`: cosine similarities, the BDHS near-duplicate filter and sentence-embedding pooling. */
export { cosine, cosineAsync, filter, filterAsync, type CosineOptions, type FilterOptions } from '../ops/cosine';
export { meanPoolNormalize, meanPoolNormalizeAsync, type MeanPoolNormalizeOptions } from '../ops/mean_pool_normalize';
