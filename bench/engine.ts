/**
 * `pnpm bench engine`: ms per training step of a small transformer LM on each backend.
 * The bench itself lives in packages/core/bench/engine.ts, where @tensorflow/tfjs resolves (the root
 * package has no dependencies of its own).
 */
export { main } from '../packages/core/bench/engine';
