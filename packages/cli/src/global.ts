/** Options every command takes. */
import { BACKEND_CHOICES, type BackendChoice } from '@dalm/core';

export interface GlobalOptions {
  backend?: string;
  quiet?: boolean;
}

/** The --backend value, checked against the engine's choices. */
export function engineOption(g: GlobalOptions): BackendChoice | undefined {
  if (g.backend === undefined) return undefined;
  if (!(BACKEND_CHOICES as readonly string[]).includes(g.backend)) {
    throw new Error(`--backend must be one of ${BACKEND_CHOICES.join(', ')}, got "${g.backend}"`);
  }
  return g.backend as BackendChoice;
}
