/** A bounded number of generations at once, a bounded queue behind them; full means refused (429). */

/** Thrown by `acquire` when the queue is full. */
export class QueueFullError extends Error {
  readonly statusCode = 429;
}

export class GenerationGate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly maxConcurrent: number,
    readonly maxQueue: number,
  ) {}

  /** Generations running and waiting now. */
  get load(): { running: number; queued: number } {
    return { running: this.running, queued: this.waiting.length };
  }

  /** Waits for a slot; returns the function that frees it (call it exactly once). */
  async acquire(): Promise<() => void> {
    if (this.running >= this.maxConcurrent) {
      if (this.waiting.length >= this.maxQueue)
        throw new QueueFullError(
          `busy: ${this.running} generations running and ${this.waiting.length} queued (the limit); retry later`,
        );
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else this.running++;
    let freed = false;
    return () => {
      if (freed) return;
      freed = true;
      const next = this.waiting.shift();
      if (next)
        next(); // the slot passes straight to the next waiter
      else this.running--;
    };
  }
}
