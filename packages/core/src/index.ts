// @dalm/core public API

// --- layers ---
export * from './layers/index';
