import { describe, it, expect } from 'vitest';
import { normalizeAnswer, exactMatch, tokenF1, scoreAnswers } from '../src/answer-metrics';

describe('SQuAD answer metrics', () => {
  it('normalises case, punctuation, articles and spaces', () => {
    expect(normalizeAnswer('  The  Spike-protein, (S1)!')).toBe('spike protein s1');
  });
  it('exact match takes the best reference', () => {
    expect(exactMatch('the ACE2 receptor', ['ACE-2', 'ACE2 receptor'])).toBe(1);
    expect(exactMatch('ACE2', ['ACE2 receptor'])).toBe(0);
  });
  it('token F1 on a hand case', () => {
    // pred {5, days, incubation}, ref {incubation, period, 5, days}: common 3, P 3/3, R 3/4 -> F1 6/7
    expect(tokenF1('incubation 5 days', ['the incubation period: 5 days'])).toBeCloseTo(6 / 7, 10);
    expect(tokenF1('nothing alike', ['5 days'])).toBe(0);
    // duplicates count once each: pred [a1, a1], ref [a1] -> common 1, P 1/2, R 1 -> 2/3
    expect(tokenF1('virus virus', ['virus'])).toBeCloseTo(2 / 3, 10);
  });
  it('averages over examples', () => {
    expect(
      scoreAnswers([
        { prediction: '5 days', references: ['5 days'] },
        { prediction: 'x', references: ['y'] },
      ]),
    ).toEqual({ exact_match: 0.5, f1: 0.5, count: 2 });
  });
});
