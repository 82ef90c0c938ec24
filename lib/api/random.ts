/** Namespace `random` (see README). Filled in by its issue; empty until then. */
export {};
