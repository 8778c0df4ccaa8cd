#!/usr/bin/env python3
"""
Reference values for packages/core/test/stats.test.ts (bootstrap intervals and paired tests).

Computes, independently of the TypeScript code:
  * exact two-sided sign-flip (paired permutation) p-values, by enumerating all 2^m sign
    vectors of the non-zero differences: p = #{|sum(s*d)| >= |sum(d)|} / 2^m
    (what scipy.stats.permutation_test(..., permutation_type='samples') computes exactly);
  * percentile bootstrap 95 % intervals of the mean with 200,000 resamples (linear-interpolated
    quantiles, numpy's default), precise enough that the TypeScript 1,000-resample interval must
    agree within Monte-Carlo error (the test allows 0.02);
  * paired bootstrap intervals of the mean difference, likewise.

Packages: the Python standard library only (tested with CPython 3.10–3.12); no numpy/scipy needed.
Output: $DALM_REFERENCE_DIR/stats.json (default ~/.cache/dalm/reference/stats.json).
Run:    python3 scripts/reference/stats_reference.py
"""
import itertools
import json
import math
import os
import random

def lcg_values(n, seed, kind):
    """Deterministic test vectors (the TypeScript test builds the same ones with the same formula)."""
    out = []
    x = seed
    for _ in range(n):
        x = (48271 * x) % 2147483647  # MINSTD: products stay below 2^53, exact in JavaScript too
        u = x / 2147483647
        out.append(1.0 if (kind == 'binary' and u < 0.6) else (0.0 if kind == 'binary' else round(u, 6)))
    return out

def exact_sign_flip(d):
    nz = [x for x in d if x != 0]
    m = len(nz)
    if m == 0:
        return 1.0
    obs = abs(sum(nz))
    scale = sum(abs(x) for x in nz)
    count = 0
    for signs in itertools.product((1, -1), repeat=m):
        s = sum(a * b for a, b in zip(signs, nz))
        if abs(s) >= obs - 1e-12 * scale:
            count += 1
    return count / 2 ** m

def quantile(sorted_xs, q):
    h = (len(sorted_xs) - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, len(sorted_xs) - 1)
    return sorted_xs[lo] + (h - lo) * (sorted_xs[hi] - sorted_xs[lo])

def bootstrap_ci(xs, resamples=200_000, seed=12345):
    rng = random.Random(seed)
    n = len(xs)
    means = sorted(sum(xs[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples))
    return [quantile(means, 0.025), quantile(means, 0.975)]

def main():
    cases = {
        'sign_flip': [
            {'d': [1, 1, 1], 'p': None},
            {'d': [1, -1, 2, 0, 0.5], 'p': None},
            {'d': [0.3, 0.1, -0.2, 0.4, 0.05, -0.05, 0.2, 0.1, 0.15, -0.1], 'p': None},
            {'d': [1] * 12, 'p': None},
        ],
        'bootstrap': [],
        'paired': [],
    }
    for c in cases['sign_flip']:
        c['p'] = exact_sign_flip(c['d'])
    for kind, n, seed in (('binary', 50, 7), ('uniform', 80, 11)):
        xs = lcg_values(n, seed, kind)
        cases['bootstrap'].append({'kind': kind, 'n': n, 'seed': seed, 'mean': sum(xs) / n, 'ci95': bootstrap_ci(xs)})
    a = lcg_values(60, 3, 'uniform')
    b = lcg_values(60, 5, 'uniform')
    d = [y - x for x, y in zip(a, b)]
    cases['paired'].append({'a_seed': 3, 'b_seed': 5, 'n': 60, 'delta': sum(d) / len(d), 'ci95': bootstrap_ci(d)})
    out_dir = os.environ.get('DALM_REFERENCE_DIR', os.path.join(os.path.expanduser('~'), '.cache', 'dalm', 'reference'))
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, 'stats.json')
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(cases, f, indent=2)
    os.replace(tmp, path)
    print(f'wrote {path}')

if __name__ == '__main__':
    main()
