/** Namespace `similarity` (see README). Filled in by its issue; empty until then. */
export {};
