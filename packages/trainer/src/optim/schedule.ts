/** Learning-rate schedules: linear warmup, then a decay to `minRatio · peak`. */

export interface ScheduleConfig {
  /** Peak learning rate, reached at the end of warmup. */
  learningRate: number;
  /** Steps of linear warmup from 0 to the peak. */
  warmupSteps: number;
  /** Total optimizer steps (the decay ends here). */
  totalSteps: number;
  /** Shape after warmup. */
  decay: 'linear' | 'cosine' | 'constant';
  /** Floor of the decay as a share of the peak (0..1). */
  minRatio: number;
}

export const SCHEDULE_DECAYS = ['linear', 'cosine', 'constant'] as const;

/** Learning rate for optimizer step `step` (0-based: the first update uses step 0). */
export function learningRateAt(step: number, c: ScheduleConfig): number {
  if (c.warmupSteps > 0 && step < c.warmupSteps) return (c.learningRate * (step + 1)) / c.warmupSteps;
  if (c.decay === 'constant') return c.learningRate;
  const span = Math.max(1, c.totalSteps - c.warmupSteps);
  const progress = Math.min(1, (step - c.warmupSteps) / span);
  const shape = c.decay === 'linear' ? 1 - progress : 0.5 * (1 + Math.cos(Math.PI * progress));
  return c.learningRate * (c.minRatio + (1 - c.minRatio) * shape);
}
