/** The fingerprint an export on first use records, to know whether the weights changed since. */
import { createHash } from 'node:crypto';
import type { HostTensor } from '../../layers/params';

/**
 * SHA-256 (hex) of weights: each name, shape and the float32 values, in name order, so the same
 * weights hash alike whatever file layout they came from (one file, shards, half precision).
 */
export function weightsHash(weights: Map<string, HostTensor>): string {
  const hash = createHash('sha256');
  for (const name of [...weights.keys()].sort()) {
    const t = weights.get(name)!;
    hash.update(`${name}[${t.shape.join(',')}]`);
    hash.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return hash.digest('hex');
}
