// @dalm/cli public API: the command tree (for embedding the CLI in other tools and for tests).
export { buildProgram } from './program';
export { addOptions, readOptions, type OptionSpec, type OptionKind } from './options';
