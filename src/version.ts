// hvsim's version, as package.json gives it (a test keeps the two equal). Traces record it.
export const HVSIM_VERSION = '0.1.0';
