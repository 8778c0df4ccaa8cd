/**
 * Gradient summation through one SharedArrayBuffer: the building block for data-parallel training
 * across `worker_threads` (issue 11). Each of N replicas owns one slot of `size` floats; after all
 * replicas have written their gradients, every replica reads the same reduced sum. The sum is taken
 * in a fixed order (slot 0, 1, ..., N-1) so every replica gets bit-identical results and the order
 * does not depend on which worker finished first.
 *
 * Not yet wired into packages/trainer's loop (see the README's "Data-parallel training" note).
 */

/** Layout of one shared gradient buffer. */
export interface SharedGradLayout {
  /** Number of replicas (slots). */
  replicas: number;
  /** Floats per slot (total gradient length of one replica). */
  size: number;
}

/** Validates a layout; throws a one-line error naming the bad field. */
export function validateSharedGradLayout(layout: SharedGradLayout): void {
  if (!Number.isInteger(layout.replicas) || layout.replicas < 1) {
    throw new Error(`SharedGradLayout: replicas=${String(layout.replicas)} must be a positive integer`);
  }
  if (!Number.isInteger(layout.size) || layout.size < 0) {
    throw new Error(`SharedGradLayout: size=${String(layout.size)} must be a non-negative integer`);
  }
}

/** Allocates the shared buffer: `replicas` gradient slots plus one Int32 barrier counter. */
export function allocSharedGrads(layout: SharedGradLayout): SharedArrayBuffer {
  validateSharedGradLayout(layout);
  return new SharedArrayBuffer(8 + layout.replicas * layout.size * 4);
}

/** This replica's slot (write its gradients here). */
export function gradSlot(sab: SharedArrayBuffer, layout: SharedGradLayout, replica: number): Float32Array {
  if (!Number.isInteger(replica) || replica < 0 || replica >= layout.replicas) {
    throw new Error(`gradSlot: replica=${String(replica)} must be in 0..${layout.replicas - 1}`);
  }
  return new Float32Array(sab, 8 + replica * layout.size * 4, layout.size);
}

/**
 * Barrier: blocks (Atomics.wait) until all replicas of this `generation` arrived. Generation g
 * (0, 1, 2, ...) makes the barrier reusable step after step without a reset race.
 */
export function sharedBarrier(sab: SharedArrayBuffer, layout: SharedGradLayout, generation: number): void {
  const counter = new Int32Array(sab, 0, 2);
  const target = (generation + 1) * layout.replicas;
  const arrived = Atomics.add(counter, 0, 1) + 1;
  if (arrived === target) {
    Atomics.store(counter, 1, generation + 1);
    Atomics.notify(counter, 1);
    return;
  }
  while (Atomics.load(counter, 1) < generation + 1) Atomics.wait(counter, 1, generation, 60_000);
}

/** Sums all slots in slot order into `out` (length `size`); call after the barrier. */
export function sumSharedGrads(sab: SharedArrayBuffer, layout: SharedGradLayout, out: Float32Array): Float32Array {
  if (out.length !== layout.size)
    throw new Error(`sumSharedGrads: out has ${out.length} floats, layout.size=${layout.size}`);
  out.set(gradSlot(sab, layout, 0));
  for (let r = 1; r < layout.replicas; r++) {
    const s = gradSlot(sab, layout, r);
    for (let i = 0; i < layout.size; i++) out[i] = (out[i] as number) + (s[i] as number);
  }
  return out;
}
