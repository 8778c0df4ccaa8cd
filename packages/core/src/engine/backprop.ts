/**
 * A backward pass that frees what it no longer needs, installed in place of tfjs' `engine.gradients`.
 *
 * tfjs 4.22 keeps, until the whole backward pass ends, (1) the gradient of every intermediate tensor
 * and (2) the tensors every op saved for its gradient, even ops off the path from the variables to the
 * loss (dropout's random draws). A transformer's backward therefore peaks near twice its forward tape.
 * This version computes the same gradients in the same order, but disposes an op's saved tensors and
 * its outputs' gradients as soon as that op has been differentiated, and the saved tensors of ops off
 * the path before it starts. Higher-order gradients (a gradient taken while another tape records) use
 * the stock pass.
 */
import * as tf from '@tensorflow/tfjs';

interface TapeNode {
  id: number;
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  saved?: tf.Tensor[];
  gradient?: (dys: Array<tf.Tensor | null>) => Record<string, () => tf.Tensor>;
}

type GradientsFn = (
  f: () => tf.Tensor,
  xs: tf.Tensor[],
  dy?: tf.Tensor,
  allowNoGradients?: boolean,
) => { value: tf.Tensor; grads: tf.Tensor[] };

interface EngineInternals {
  state: { gradientDepth: number; activeTape: TapeNode[] | null };
  gradients: GradientsFn;
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  startTape(): void;
  endTape(): void;
  tidy<T extends tf.TensorContainer>(nameOrFn: string | (() => T), fn?: () => T): T;
  dalmStockGradients?: GradientsFn;
}

/** Replaces the engine's backward pass with the frugal one (idempotent); `uninstall` restores tfjs'. */
export function installFrugalBackprop(on = true): void {
  const engine = tf.engine() as unknown as EngineInternals;
  if (on && engine.dalmStockGradients == null) {
    const stock = engine.gradients.bind(engine);
    engine.dalmStockGradients = engine.gradients;
    engine.gradients = (f, xs, dy, allowNoGradients = false) =>
      engine.state.gradientDepth > 0
        ? stock(f, xs, dy, allowNoGradients)
        : frugalGradients(engine, f, xs, dy, allowNoGradients);
  } else if (!on && engine.dalmStockGradients != null) {
    engine.gradients = engine.dalmStockGradients;
    delete engine.dalmStockGradients;
  }
}

/** Whether the frugal backward pass is installed. */
export function frugalBackpropInstalled(): boolean {
  return (tf.engine() as unknown as EngineInternals).dalmStockGradients != null;
}

function frugalGradients(
  engine: EngineInternals,
  f: () => tf.Tensor,
  xs: tf.Tensor[],
  dy: tf.Tensor | undefined,
  allowNoGradients: boolean,
): { value: tf.Tensor; grads: tf.Tensor[] } {
  tf.util.assert(xs.length > 0, () => 'gradients() received an empty list of xs.');
  if (dy != null && dy.dtype !== 'float32') throw new Error(`dy must have 'float32' dtype, but has '${dy.dtype}'`);
  // A gradient taken inside another backward pass (checkpoint.ts) must leave that pass's tape in place.
  const outerTape = engine.state.activeTape;
  try {
    const y = engine.scopedRun(
      () => engine.startTape(),
      () => engine.endTape(),
      () => engine.tidy('forward', f),
    );
    tf.util.assert(y instanceof tf.Tensor, () => 'The result y returned by f() must be a tensor.');
    const tape = engine.state.activeTape ?? [];
    const filtered = filterTape(tape, xs, y);
    if (!allowNoGradients && filtered.length === 0 && xs.length > 0) {
      throw new Error(
        'Cannot compute gradient of y=f(x) with respect to x. Make sure that the f you passed encloses all operations that lead from x to y.',
      );
    }
    const onPath = new Set(filtered.map((n) => n.id));
    for (const node of tape) if (!onPath.has(node.id)) for (const t of node.saved ?? []) t.dispose();
    return engine.tidy('backward', () => {
      const grads = new Map<number, tf.Tensor>(); // tensor id -> its gradient so far
      const holders = new Map<tf.Tensor, number>(); // gradient tensor -> entries of `grads` holding it
      const keep = new Set(xs.map((x) => x.id));
      const userDy = dy ?? null;
      const hold = (id: number, t: tf.Tensor) => {
        grads.set(id, t);
        holders.set(t, (holders.get(t) ?? 0) + 1);
      };
      const release = (id: number) => {
        const t = grads.get(id);
        if (t == null) return;
        grads.delete(id);
        const n = holders.get(t)! - 1;
        if (n > 0) holders.set(t, n);
        else {
          holders.delete(t);
          if (t !== userDy) t.dispose();
        }
      };
      hold(y.id, userDy ?? tf.ones(y.shape));
      for (let i = filtered.length - 1; i >= 0; i--) {
        const node = filtered[i]!;
        const dys = node.outputs.map((o) => grads.get(o.id) ?? null);
        if (node.gradient == null)
          throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
        const inputGradients = node.gradient(dys);
        for (const inputName in node.inputs) {
          if (!(inputName in inputGradients)) {
            throw new Error(
              `Cannot backprop through input ${inputName}. Available gradients found: ${Object.keys(inputGradients)}.`,
            );
          }
          const dx = engine.tidy(() => inputGradients[inputName]!());
          const x = node.inputs[inputName]!;
          if (dx.dtype !== 'float32') {
            throw new Error(
              `Error in gradient for op ${node.kernelName}. The gradient of input ${inputName} must have 'float32' dtype, but has '${dx.dtype}'`,
            );
          }
          if (!tf.util.arraysEqual(dx.shape, x.shape)) {
            throw new Error(
              `Error in gradient for op ${node.kernelName}. The gradient of input '${inputName}' has shape '${dx.shape}', which does not match the shape of the input '${x.shape}'`,
            );
          }
          const cur = grads.get(x.id);
          if (cur == null) hold(x.id, dx);
          else {
            const sum = tf.add(cur, dx);
            release(x.id);
            hold(x.id, sum);
            if (!holders.has(dx) && dx !== userDy) dx.dispose();
          }
        }
        for (const o of node.outputs) if (!keep.has(o.id)) release(o.id);
        for (const t of node.saved ?? []) t.dispose();
      }
      return { value: y, grads: xs.map((x) => grads.get(x.id)!) };
    });
  } finally {
    for (const node of engine.state.activeTape ?? []) for (const t of node.saved ?? []) t.dispose();
    engine.state.activeTape = outerTape;
  }
}

/** The ops on a path from one of `xs` to `y`, with inputs that do not depend on `xs` pruned (tfjs' own filter). */
function filterTape(tape: TapeNode[], xs: tf.Tensor[], y: tf.Tensor): TapeNode[] {
  const fromX = new Set(xs.map((x) => x.id));
  const nodesFromX = new Set<number>();
  for (const node of tape) {
    for (const name in node.inputs) {
      if (fromX.has(node.inputs[name]!.id)) {
        for (const o of node.outputs) fromX.add(o.id);
        nodesFromX.add(node.id);
        break;
      }
    }
  }
  const leadToY = new Set([y.id]);
  const nodesToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i]!;
    if (node.outputs.some((o) => leadToY.has(o.id))) {
      for (const name in node.inputs) leadToY.add(node.inputs[name]!.id);
      nodesToY.add(node.id);
    }
  }
  const out: TapeNode[] = [];
  for (const node of tape) {
    if (!nodesFromX.has(node.id) || !nodesToY.has(node.id)) continue;
    const inputs: Record<string, tf.Tensor> = {};
    for (const name in node.inputs) if (fromX.has(node.inputs[name]!.id)) inputs[name] = node.inputs[name]!;
    out.push({ ...node, inputs });
  }
  return out;
}
